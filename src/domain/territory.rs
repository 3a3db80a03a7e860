//! The territories of the exchange: a static table pairing each 2-digit TFOMS (subject) code
//! with the 5-digit OKATO of the subject and its Russian name (formats.md 5.7, classifier
//! F010), and the look-ups in both directions.
//!
//! Used by intake and validation to translate `ST_OKATO` / `tf_okato` / HL7 `HD.1` (OKATO) into
//! the territory code of file names, ENP and insurer codes, and back. The authoritative F010
//! belongs to `nsi`; this table is the built-in fallback and the reference for tests.
//!
//! Provenance: the 83 subjects come from a non-OMS (tax) region directory whose "code" is
//! assumed to equal F010 `KOD_TF` (inferred). 91 Республика Крым = 35000 and 92 г. Севастополь =
//! 67000 are unverified domain knowledge. 99 Байконур has no OKATO in the source; 55000 (the
//! OKATO of г. Байконур) is unverified. The four subjects added in 2022–2023 are missing: their
//! codes could not be established.

use super::codes::{Okato, TfomsCode};

/// Территория (субъект) of the exchange: an entry of the F010-like table.
///
/// Obtained only from [`territory`], [`territory_by_okato`] and [`territories`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Territory {
    code: &'static str,
    okato: &'static str,
    name: &'static str,
}

impl Territory {
    /// The 2-digit TFOMS code (F010 `KOD_TF`).
    #[must_use]
    pub fn code(&self) -> TfomsCode {
        TfomsCode::from_checked(self.code)
    }

    /// The 5-digit OKATO of the subject (F010 `KOD_OKATO`).
    #[must_use]
    pub fn okato(&self) -> Okato {
        Okato::from_checked(self.okato)
    }

    /// The short Russian name, e.g. `Волгоградская обл.`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }
}

const fn t(code: &'static str, okato: &'static str, name: &'static str) -> Territory {
    Territory { code, okato, name }
}

/// All known territories, ordered by TFOMS code.
static TERRITORIES: [Territory; 86] = [
    t("01", "79000", "Адыгея"),
    t("02", "80000", "Башкортостан"),
    t("03", "81000", "Бурятия"),
    t("04", "84000", "Алтай (Респ.)"),
    t("05", "82000", "Дагестан"),
    t("06", "26000", "Ингушетия"),
    t("07", "83000", "Кабардино-Балкария"),
    t("08", "85000", "Калмыкия"),
    t("09", "91000", "Карачаево-Черкесия"),
    t("10", "86000", "Карелия"),
    t("11", "87000", "Коми"),
    t("12", "88000", "Марий Эл"),
    t("13", "89000", "Мордовия"),
    t("14", "98000", "Саха (Якутия)"),
    t("15", "90000", "Северная Осетия"),
    t("16", "92000", "Татарстан"),
    t("17", "93000", "Тыва"),
    t("18", "94000", "Удмуртия"),
    t("19", "95000", "Хакасия"),
    t("20", "96000", "Чечня"),
    t("21", "97000", "Чувашия"),
    t("22", "01000", "Алтайский край"),
    t("23", "03000", "Краснодарский край"),
    t("24", "04000", "Красноярский край"),
    t("25", "05000", "Приморский край"),
    t("26", "07000", "Ставропольский край"),
    t("27", "08000", "Хабаровский край"),
    t("28", "10000", "Амурская обл."),
    t("29", "11000", "Архангельская обл."),
    t("30", "12000", "Астраханская обл."),
    t("31", "14000", "Белгородская обл."),
    t("32", "15000", "Брянская обл."),
    t("33", "17000", "Владимирская обл."),
    t("34", "18000", "Волгоградская обл."),
    t("35", "19000", "Вологодская обл."),
    t("36", "20000", "Воронежская обл."),
    t("37", "24000", "Ивановская обл."),
    t("38", "25000", "Иркутская обл."),
    t("39", "27000", "Калининградская обл."),
    t("40", "29000", "Калужская обл."),
    t("41", "30000", "Камчатский край"),
    t("42", "32000", "Кемеровская обл."),
    t("43", "33000", "Кировская обл."),
    t("44", "34000", "Костромская обл."),
    t("45", "37000", "Курганская обл."),
    t("46", "38000", "Курская обл."),
    t("47", "41000", "Ленинградская обл."),
    t("48", "42000", "Липецкая обл."),
    t("49", "44000", "Магаданская обл."),
    t("50", "46000", "Московская обл."),
    t("51", "47000", "Мурманская обл."),
    t("52", "22000", "Нижегородская обл."),
    t("53", "49000", "Новгородская обл."),
    t("54", "50000", "Новосибирская обл."),
    t("55", "52000", "Омская обл."),
    t("56", "53000", "Оренбургская обл."),
    t("57", "54000", "Орловская обл."),
    t("58", "56000", "Пензенская обл."),
    t("59", "57000", "Пермский край"),
    t("60", "58000", "Псковская обл."),
    t("61", "60000", "Ростовская обл."),
    t("62", "61000", "Рязанская обл."),
    t("63", "36000", "Самарская обл."),
    t("64", "63000", "Саратовская обл."),
    t("65", "64000", "Сахалинская обл."),
    t("66", "65000", "Свердловская обл."),
    t("67", "66000", "Смоленская обл."),
    t("68", "68000", "Тамбовская обл."),
    t("69", "28000", "Тверская обл."),
    t("70", "69000", "Томская обл."),
    t("71", "70000", "Тульская обл."),
    t("72", "71000", "Тюменская обл."),
    t("73", "73000", "Ульяновская обл."),
    t("74", "75000", "Челябинская обл."),
    t("75", "76000", "Забайкальский край"),
    t("76", "78000", "Ярославская обл."),
    t("77", "45000", "г. Москва"),
    t("78", "40000", "г. Санкт-Петербург"),
    t("79", "99000", "Еврейская АО"),
    t("83", "11100", "Ненецкий АО"),
    t("86", "71100", "Ханты-Мансийский АО"),
    t("87", "77000", "Чукотский АО"),
    t("89", "71140", "Ямало-Ненецкий АО"),
    // Not in the source directory (unverified).
    t("91", "35000", "Республика Крым"),
    t("92", "67000", "г. Севастополь"),
    // In the source without an OKATO; 55000 is the OKATO of г. Байконур (unverified).
    t("99", "55000", "Байконур"),
];

/// Every territory of the table (86 entries), ordered by TFOMS code.
#[must_use]
pub fn territories() -> &'static [Territory] {
    &TERRITORIES
}

/// The territory with TFOMS code `code`, if the table has it.
#[must_use]
pub fn territory(code: &TfomsCode) -> Option<&'static Territory> {
    TERRITORIES.iter().find(|t| t.code == code.as_str())
}

/// The territory whose 5-digit OKATO is `okato`, if the table has it.
#[must_use]
pub fn territory_by_okato(okato: &Okato) -> Option<&'static Territory> {
    TERRITORIES.iter().find(|t| t.okato == okato.as_str())
}

impl TfomsCode {
    /// The 5-digit OKATO of this territory, if the table has it.
    #[must_use]
    pub fn okato(&self) -> Option<Okato> {
        territory(self).map(Territory::okato)
    }
}

impl Okato {
    /// The TFOMS code of the territory with this 5-digit OKATO, if the table has it.
    #[must_use]
    pub fn tfoms_code(&self) -> Option<TfomsCode> {
        territory_by_okato(self).map(Territory::code)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{TERRITORIES, territories, territory, territory_by_okato};
    use crate::domain::{Okato, TfomsCode};

    #[test]
    fn table_has_86_unique_well_formed_entries() {
        assert_eq!(territories().len(), 86);
        let codes: HashSet<&str> = TERRITORIES.iter().map(|t| t.code).collect();
        let okatos: HashSet<&str> = TERRITORIES.iter().map(|t| t.okato).collect();
        assert_eq!(codes.len(), 86, "TFOMS codes are unique");
        assert_eq!(okatos.len(), 86, "OKATOs are unique");
        for t in territories() {
            // The unchecked constructors are only sound if every entry parses.
            assert_eq!(TfomsCode::parse(t.code).unwrap(), t.code());
            assert_eq!(Okato::parse(t.okato).unwrap(), t.okato());
            assert!(!t.name().is_empty());
        }
        assert!(
            TERRITORIES.windows(2).all(|w| w[0].code < w[1].code),
            "ordered by code"
        );
    }

    #[test]
    fn both_directions_round_trip() {
        for t in territories() {
            let code = t.code();
            let okato = t.okato();
            assert_eq!(code.okato().as_ref(), Some(&okato));
            assert_eq!(okato.tfoms_code().as_ref(), Some(&code));
            assert_eq!(territory(&code), Some(t));
            assert_eq!(territory_by_okato(&okato), Some(t));
        }
    }

    #[test]
    fn spot_checks() {
        for (code, okato, name) in [
            ("34", "18000", "Волгоградская обл."),
            ("75", "76000", "Забайкальский край"),
            ("77", "45000", "г. Москва"),
            ("54", "50000", "Новосибирская обл."),
            ("83", "11100", "Ненецкий АО"),
            ("07", "83000", "Кабардино-Балкария"),
            ("91", "35000", "Республика Крым"),
            ("92", "67000", "г. Севастополь"),
            ("99", "55000", "Байконур"),
        ] {
            let tf = TfomsCode::parse(code).unwrap();
            assert_eq!(tf.okato().unwrap().as_str(), okato, "{code}");
            let ok = Okato::parse(okato).unwrap();
            assert_eq!(ok.tfoms_code().unwrap().as_str(), code, "{okato}");
            assert_eq!(territory(&tf).unwrap().name(), name);
        }
    }

    #[test]
    fn unknown_codes_have_no_territory() {
        for code in ["80", "84", "85", "88", "90", "93", "98"] {
            assert_eq!(TfomsCode::parse(code).unwrap().okato(), None, "{code}");
        }
        assert_eq!(Okato::parse("00000").unwrap().tfoms_code(), None);
        assert_eq!(Okato::parse("45001").unwrap().tfoms_code(), None);
    }
}
