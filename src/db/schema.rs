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

diesel::joinable!(participant_tokens -> participants (participant_id));
diesel::joinable!(participant_certificates -> participants (participant_id));
diesel::allow_tables_to_appear_in_same_query!(
    participants,
    participant_tokens,
    participant_certificates
);

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
