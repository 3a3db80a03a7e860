//! Table definitions for diesel, kept by hand in step with both migration directories
//! (portable column types only: `Text`, `Integer`, `BigInt`, `Date`, `Timestamp`).

diesel::table! {
    /// F001: territorial funds (ТФОМС). Extended by the registers.
    territorial_fund (code) {
        code -> Text,
        okato -> Text,
        ogrn -> Nullable<Text>,
        name_full -> Text,
        name_short -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        // Registers (migration 000003_registers): director, contacts, settlement details.
        postal_index -> Nullable<Text>,
        address -> Nullable<Text>,
        director_surname -> Nullable<Text>,
        director_first_name -> Nullable<Text>,
        director_patronymic -> Nullable<Text>,
        phone -> Nullable<Text>,
        fax -> Nullable<Text>,
        email -> Nullable<Text>,
        www -> Nullable<Text>,
        kf_tf -> Nullable<Text>,
        bank_bic -> Nullable<Text>,
        bank_inn -> Nullable<Text>,
        bank_kpp -> Nullable<Text>,
        bank_kbk -> Nullable<Text>,
        bank_oktmo -> Nullable<Text>,
        l_account_name -> Nullable<Text>,
        l_account_bank -> Nullable<Text>,
        l_account_number -> Nullable<Text>,
        t_account_name -> Nullable<Text>,
        t_account_bank -> Nullable<Text>,
        t_account_number -> Nullable<Text>,
        d_edit -> Nullable<Date>,
        status -> Text,
    }
}

// ---- registers (src/registers): current state and history of F001-F004 ----

diesel::table! {
    /// Every recorded state of a `territorial_fund` entry (registers; never updated or deleted).
    territorial_fund_version (id) {
        id -> BigInt,
        code -> Text,
        valid_from -> Date,
        recorded_at -> Timestamp,
        changed_by -> Text,
        change_kind -> Text,
        status -> Text,
        status_since -> Date,
        comment -> Nullable<Text>,
        record -> Text,
    }
}

diesel::table! {
    /// F002: insurers (ЕРСМО), the newest state of each.
    insurer (code) {
        code -> Text,
        territory -> Text,
        okato -> Text,
        inn -> Text,
        ogrn -> Text,
        kpp -> Nullable<Text>,
        name_full -> Text,
        name_short -> Text,
        status -> Text,
        status_since -> Date,
        periods -> Text,
        valid_from -> Date,
        search -> Text,
        record -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Every recorded state of a `insurer` entry (registers; never updated or deleted).
    insurer_version (id) {
        id -> BigInt,
        code -> Text,
        valid_from -> Date,
        recorded_at -> Timestamp,
        changed_by -> Text,
        change_kind -> Text,
        status -> Text,
        status_since -> Date,
        comment -> Nullable<Text>,
        record -> Text,
    }
}

diesel::table! {
    /// F003: medical organisations, the newest state of each.
    medical_organisation (code) {
        code -> Text,
        territory -> Text,
        okato -> Text,
        inn -> Nullable<Text>,
        ogrn -> Nullable<Text>,
        kpp -> Nullable<Text>,
        regional_code -> Nullable<Text>,
        affiliation -> Nullable<Integer>,
        name_full -> Text,
        name_short -> Text,
        status -> Text,
        status_since -> Date,
        periods -> Text,
        valid_from -> Date,
        search -> Text,
        record -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Every recorded state of a `medical_organisation` entry (registers; never updated or deleted).
    medical_organisation_version (id) {
        id -> BigInt,
        code -> Text,
        valid_from -> Date,
        recorded_at -> Timestamp,
        changed_by -> Text,
        change_kind -> Text,
        status -> Text,
        status_since -> Date,
        comment -> Nullable<Text>,
        record -> Text,
    }
}

diesel::table! {
    /// F004: experts of quality of care, the newest state of each.
    expert (code) {
        code -> Text,
        territory -> Text,
        okato -> Text,
        snils -> Text,
        surname -> Text,
        first_name -> Text,
        patronymic -> Nullable<Text>,
        status -> Text,
        status_since -> Date,
        periods -> Text,
        valid_from -> Date,
        search -> Text,
        record -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Every recorded state of a `expert` entry (registers; never updated or deleted).
    expert_version (id) {
        id -> BigInt,
        code -> Text,
        valid_from -> Date,
        recorded_at -> Timestamp,
        changed_by -> Text,
        change_kind -> Text,
        status -> Text,
        status_since -> Date,
        comment -> Nullable<Text>,
        record -> Text,
    }
}

diesel::table! {
    /// One row: grows in every transaction that changes a register.
    register_revision (id) {
        id -> Integer,
        revision -> BigInt,
    }
}

diesel::table! {
    /// Classifiers known to the store (НСИ).
    nsi_classifier (id) {
        id -> Text,
        title -> Text,
        key_field -> Text,
        name_field -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// One import of one classifier packet.
    nsi_import (id) {
        id -> Text,
        classifier -> Text,
        version -> Nullable<Text>,
        packet_date -> Nullable<Date>,
        source -> Text,
        sha256 -> Text,
        imported_at -> Timestamp,
        imported_by -> Text,
        inserted -> Integer,
        updated -> Integer,
        unchanged -> Integer,
        rejected -> Integer,
    }
}

diesel::table! {
    /// Every version of every classifier entry; current while `superseded_at` is null.
    nsi_entry (id) {
        id -> BigInt,
        classifier -> Text,
        code -> Text,
        name -> Nullable<Text>,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        fields -> Text,
        import_id -> Text,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(nsi_entry -> nsi_classifier (classifier));
diesel::joinable!(nsi_import -> nsi_classifier (classifier));
diesel::allow_tables_to_appear_in_same_query!(nsi_classifier, nsi_import, nsi_entry);

// ---- package intake (src/intake) ----

diesel::table! {
    /// Every package received; written before its receipt is sent (intake).
    package (seq) {
        seq -> BigInt,
        id -> Text,
        sender -> Text,
        channel -> Text,
        file_name -> Text,
        sha256 -> Text,
        size_bytes -> BigInt,
        idempotency_key -> Nullable<Text>,
        received_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        records -> Nullable<BigInt>,
        refused_records -> Nullable<BigInt>,
        findings -> Nullable<BigInt>,
        refusal_code -> Nullable<Text>,
        protocol_name -> Nullable<Text>,
        message -> Nullable<Text>,
        signatures -> Text,
        refusal_reason -> Nullable<Text>,
    }
}

diesel::table! {
    /// One case of an accepted account file, by the attempt that wrote it (intake).
    package_case (package_id, attempt, n_zap) {
        package_id -> Text,
        attempt -> Integer,
        n_zap -> BigInt,
        idcase -> BigInt,
        id_pac -> Text,
        enp -> Nullable<Text>,
        code_mo -> Text,
        date_1 -> Date,
        date_2 -> Date,
        usl_ok -> Nullable<Integer>,
        sum_kopecks -> BigInt,
    }
}

diesel::table! {
    /// The e-mail notice of a finished package, kept until it is sent (intake).
    notice (id) {
        id -> BigInt,
        package_id -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

// ---- participants (src/participants): who may use the hub, and their credentials ----

diesel::table! {
    /// Participants of the exchange: funds, insurers and clinics of the registers (by their
    /// register code), federal auditors and administrators.
    participants (id) {
        id -> BigInt,
        kind -> Text,
        org_code -> Nullable<Text>,
        name -> Text,
        roles -> Text,
        contact_email -> Nullable<Text>,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Bearer tokens of participants, stored as the SHA-256 of the token (hex).
    participant_tokens (id) {
        id -> BigInt,
        participant_id -> BigInt,
        token_sha256 -> Text,
        label -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Client certificates registered to participants (mutual TLS), by the SHA-256 of the DER.
    participant_certificates (id) {
        id -> BigInt,
        participant_id -> BigInt,
        fingerprint_sha256 -> Text,
        subject -> Text,
        serial -> Text,
        not_after -> Timestamp,
        added_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The credential epoch (migration 000014): one row, moved by triggers on every change
    /// to a participant, a token or a certificate that can change who authenticates.
    credential_epoch (id) {
        id -> Integer,
        epoch -> BigInt,
    }
}

diesel::joinable!(participant_tokens -> participants (participant_id));
diesel::joinable!(participant_certificates -> participants (participant_id));
diesel::allow_tables_to_appear_in_same_query!(
    participants,
    participant_tokens,
    participant_certificates
);

// ---- ERZ, the register of insured persons (migration 000008_erz; written only by src/erz) ----

diesel::table! {
    /// OPLIST files applied or refused, with the REPLIST and FLK_P sent back.
    erz_file (id) {
        id -> BigInt,
        file_name -> Text,
        sha256 -> Text,
        smocod -> Nullable<Text>,
        received_at -> Timestamp,
        status -> Text,
        records -> BigInt,
        accepted -> BigInt,
        refused -> BigInt,
        reply_name -> Nullable<Text>,
        reply -> Nullable<Text>,
        protocol_name -> Text,
        protocol -> Text,
    }
}

diesel::table! {
    /// One OP of an applied file and its answer (AA, AE, AR).
    erz_op (id) {
        id -> BigInt,
        file_id -> BigInt,
        ordinal -> BigInt,
        n_rec -> Text,
        tip_op -> Nullable<Integer>,
        code_erp -> Text,
        reason -> Nullable<Text>,
        comment -> Nullable<Text>,
        person_id -> Nullable<BigInt>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    /// Insured persons by ENP.
    erz_person (id) {
        id -> BigInt,
        enp -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Personal data over valid time and record time.
    erz_person_version (id) {
        id -> BigInt,
        person_id -> BigInt,
        fam -> Text,
        im -> Nullable<Text>,
        ot -> Nullable<Text>,
        sex -> Integer,
        birth_date -> Date,
        birth_accuracy -> Integer,
        citizenship -> Nullable<Text>,
        snils -> Nullable<Text>,
        death_date -> Nullable<Date>,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        op_id -> BigInt,
    }
}

diesel::table! {
    /// Identity documents over valid time and record time.
    erz_document (id) {
        id -> BigInt,
        person_id -> BigInt,
        doctype -> Integer,
        docser -> Nullable<Text>,
        docnum -> Text,
        docdate -> Date,
        docexp -> Nullable<Date>,
        issuer -> Nullable<Text>,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        op_id -> BigInt,
    }
}

diesel::table! {
    /// Addresses over valid time and record time.
    erz_address (id) {
        id -> BigInt,
        person_id -> BigInt,
        kind -> Text,
        okato -> Nullable<Text>,
        postcode -> Nullable<Text>,
        text -> Nullable<Text>,
        homeless -> Integer,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        op_id -> BigInt,
    }
}

diesel::table! {
    /// Insurance episodes over valid time and record time.
    erz_insurance (id) {
        id -> BigInt,
        person_id -> BigInt,
        enp -> Text,
        insurer_code -> Text,
        policy_kind -> Text,
        policy_series -> Nullable<Text>,
        policy_number -> Nullable<Text>,
        policy_form -> Nullable<Text>,
        territory -> Nullable<Text>,
        start_date -> Date,
        planned_end -> Nullable<Date>,
        stop_date -> Nullable<Date>,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        op_id -> BigInt,
    }
}

diesel::table! {
    /// Attachments to clinics over valid time and record time.
    erz_attachment (id) {
        id -> BigInt,
        person_id -> BigInt,
        lpu_id -> BigInt,
        kind -> Integer,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        op_id -> BigInt,
    }
}

diesel::table! {
    /// The last ENP serial issued per territory and facet.
    erz_enp_counter (territory, facet) {
        territory -> Text,
        facet -> Text,
        last_serial -> Integer,
    }
}

diesel::table! {
    /// Audit of policy-status queries.
    erz_status_query (id) {
        id -> BigInt,
        asked_at -> Timestamp,
        caller -> Text,
        participant_id -> Nullable<BigInt>,
        by_key -> Text,
        subject -> Text,
        on_date -> Date,
        as_of -> Nullable<Timestamp>,
        person_id -> Nullable<BigInt>,
        outcome -> Text,
    }
}

diesel::table! {
    /// Lists produced for insurers: RECLIST, STOPLIST, CONFLICTLIST (migration 000011).
    erz_list_export (id) {
        id -> BigInt,
        kind -> Text,
        insurer -> Text,
        period_from -> Date,
        period_to -> Date,
        file_name -> Text,
        records -> BigInt,
        caller -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The journal of bulk loads (`omshub erz import`, migration 000010): one row per file
    /// content, advanced by each committed batch so a stopped load resumes.
    erz_import (id) {
        id -> BigInt,
        sha256 -> Text,
        file_name -> Text,
        format -> Text,
        file_id -> BigInt,
        status -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        batches -> BigInt,
        rows_committed -> BigInt,
        rows_present -> BigInt,
        rows_refused -> BigInt,
        last_line -> BigInt,
    }
}

diesel::table! {
    /// The indexes and foreign keys an initial bulk load set aside (migration 000012): each
    /// definition, and when it was built again.
    erz_import_deferred (id) {
        id -> BigInt,
        import_id -> BigInt,
        kind -> Text,
        table_name -> Text,
        name -> Text,
        definition -> Text,
        restored_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(erz_op -> erz_file (file_id));
diesel::joinable!(erz_person_version -> erz_person (person_id));
diesel::joinable!(erz_insurance -> erz_person (person_id));
diesel::allow_tables_to_appear_in_same_query!(
    erz_file,
    erz_op,
    erz_person,
    erz_person_version,
    erz_document,
    erz_address,
    erz_insurance,
    erz_attachment,
    erz_list_export,
    erz_match_pair,
    erz_match_decision,
    erz_merge_link,
    erz_import,
    erz_import_deferred,
);

// ---- ERZ duplicates and merges (migration 000009_erz_matching; written only by src/erz/repo/matching.rs) ----

diesel::table! {
    /// Candidate pairs of persons who may be one person, with their latest scoring.
    erz_match_pair (id) {
        id -> BigInt,
        person_a -> BigInt,
        person_b -> BigInt,
        score -> Integer,
        keys -> Text,
        fam_score -> Nullable<Integer>,
        im_score -> Nullable<Integer>,
        ot_score -> Nullable<Integer>,
        birth_score -> Nullable<Integer>,
        sex_score -> Nullable<Integer>,
        snils_score -> Nullable<Integer>,
        doc_score -> Nullable<Integer>,
        state -> Text,
        found_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    /// Reviewers' decisions on pairs (final).
    erz_match_decision (id) {
        id -> BigInt,
        pair_id -> BigInt,
        decision -> Text,
        decided_by -> Text,
        decided_at -> Timestamp,
        comment -> Nullable<Text>,
    }
}

diesel::table! {
    /// Merge links: the gone person answers as the kept one until superseded (unmerge).
    erz_merge_link (id) {
        id -> BigInt,
        gone_person -> BigInt,
        kept_person -> BigInt,
        pair_id -> Nullable<BigInt>,
        why -> Text,
        recorded_by -> Text,
        recorded_at -> Timestamp,
        comment -> Nullable<Text>,
        superseded_at -> Nullable<Timestamp>,
        superseded_by -> Nullable<Text>,
        superseded_why -> Nullable<Text>,
        superseded_comment -> Nullable<Text>,
    }
}

diesel::joinable!(erz_match_decision -> erz_match_pair (pair_id));
// ---- decisions (src/settlement): the business rules' decisions per account and per case ----

diesel::table! {
    /// The decision on one checked account (issue 7).
    account_decision (package_id) {
        package_id -> Text,
        territory -> Text,
        period -> Text,
        code_mo -> Text,
        plat -> Nullable<Text>,
        nschet -> Text,
        rules_as_of -> Date,
        decided_at -> Timestamp,
        accepted -> Integer,
        summav -> BigInt,
        summap -> BigInt,
        sank_mek -> BigInt,
        cases -> BigInt,
        paid -> BigInt,
        partly_paid -> BigInt,
        refused -> BigInt,
    }
}

diesel::table! {
    /// The decision on one case of a checked account: OPLATA, SUMP, the МЭК sanction.
    case_decision (package_id, n_zap) {
        package_id -> Text,
        territory -> Text,
        period -> Text,
        n_zap -> BigInt,
        idcase -> BigInt,
        oplata -> Integer,
        sumv -> BigInt,
        sump -> BigInt,
        sank -> BigInt,
        s_osn -> Nullable<Integer>,
        sl_ids -> Nullable<Text>,
        rules -> Nullable<Text>,
        mtr -> Integer,
    }
}
