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
