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
