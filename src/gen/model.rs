//! The invented world the generator draws from: patients (ПАЦИЕНТ / PERS) and completed
//! outpatient cases (`Z_SL`) with their episodes (SL) and services (USL), all from small fixed
//! lists and the baseline classifier codes of `fixtures/nsi/` (`USL_OK` 3 with RSLT and ISHOD of
//! the 3xx group, VIDPOM, `FOR_POM`, IDSP of V008, V014, V010).

use chrono::{Datelike, Days, NaiveDate};

use super::rng::{CASES, PATIENTS, Rng};
use crate::domain::{Enp, Money, Period, Sex, Snils, TfomsCode};

/// Invented surnames, male form; the female form adds `а`.
const SURNAMES: &[&str] = &[
    "Снегирёв",
    "Ласточкин",
    "Берёзкин",
    "Полянов",
    "Ручейников",
    "Клёнов",
    "Журавлёв",
    "Пригорков",
    "Ольшанин",
    "Ветлугин",
    "Туманов",
    "Зорькин",
    "Камышов",
    "Рябинин",
    "Соснов",
    "Подгорнов",
];
const MALE_NAMES: &[&str] = &[
    "Пётр",
    "Матвей",
    "Иван",
    "Аркадий",
    "Глеб",
    "Семён",
    "Фёдор",
    "Тимофей",
    "Егор",
    "Лев",
];
const FEMALE_NAMES: &[&str] = &[
    "Вера",
    "Анна",
    "Дарья",
    "Мирослава",
    "Ульяна",
    "Зоя",
    "Алёна",
    "Таисия",
    "Нина",
    "Ксения",
];
/// Patronymics, male and female form.
const PATRONYMICS: &[(&str, &str)] = &[
    ("Аркадьевич", "Аркадьевна"),
    ("Игнатьевич", "Игнатьевна"),
    ("Петрович", "Петровна"),
    ("Иванович", "Ивановна"),
    ("Глебович", "Глебовна"),
    ("Семёнович", "Семёновна"),
    ("Фёдорович", "Фёдоровна"),
    ("Тимофеевич", "Тимофеевна"),
];
const BIRTHPLACES: &[&str] = &[
    "г. Тестовск",
    "с. Примерное",
    "г. Образцовск",
    "пос. Условный",
    "д. Выдуманка",
];

/// Outpatient results (V009, `DL_USLOV` 3) and outcomes (V012, `DL_USLOV` 3).
const RSLT: &[u16] = &[301, 301, 301, 302, 303, 304, 305, 306, 308, 313, 314, 315];
const ISHOD: &[u16] = &[301, 303, 303, 304, 305];
/// Purposes of a visit (`P_CEL`, V025), mostly a disease visit.
const P_CEL: &[&str] = &["1.0", "1.0", "1.1", "3.0", "2.1"];
/// Kinds of primary care (V008).
const VIDPOM: &[u16] = &[1, 11, 12, 12, 13, 13];
/// Forms of care (V014), mostly planned.
const FOR_POM: &[u16] = &[3, 3, 3, 3, 2, 1];
const DIAGNOSES_ADULT: &[&str] = &[
    "J06.9", "I11.9", "I10", "E11.9", "M54.5", "K29.7", "N39.0", "H52.1", "L30.9", "Z00.0",
    "J20.9", "M17.1",
];
const DIAGNOSES_CHILD: &[&str] = &[
    "J06.9", "J02.9", "J20.9", "H66.9", "A09.9", "L20.8", "Z00.1", "H52.1",
];

/// A service of a profile: its code in V001 (`VID_VME`), the regional code and the tariff.
pub(super) struct ServiceKind {
    pub vid_vme: &'static str,
    pub code_usl: &'static str,
    pub tarif: i64,
}

/// A medical profile (V002) with the doctor's speciality (V021) and its services.
pub(super) struct Profile {
    pub profil: u16,
    pub prvs: u16,
    pub children: bool,
    pub letter: &'static str,
    pub services: &'static [ServiceKind],
}

const fn s(vid_vme: &'static str, code_usl: &'static str, tarif: i64) -> ServiceKind {
    ServiceKind {
        vid_vme,
        code_usl,
        tarif,
    }
}

const PROFILES: &[Profile] = &[
    Profile {
        profil: 97,
        prvs: 76,
        children: false,
        letter: "А",
        services: &[
            s("B01.047.001", "1.97.001", 61_240),
            s("B01.047.002", "1.97.002", 45_890),
            s("A09.05.023", "4.05.023", 12_150),
            s("A05.10.006", "4.10.006", 45_890),
        ],
    },
    Profile {
        profil: 29,
        prvs: 23,
        children: false,
        letter: "К",
        services: &[
            s("B01.015.001", "1.29.001", 61_240),
            s("B01.015.002", "1.29.002", 45_890),
            s("A05.10.006", "4.10.006", 45_890),
            s("A04.10.002", "4.10.002", 98_320),
        ],
    },
    Profile {
        profil: 53,
        prvs: 53,
        children: false,
        letter: "Н",
        services: &[
            s("B01.023.001", "1.53.001", 58_700),
            s("B01.023.002", "1.53.002", 42_310),
        ],
    },
    Profile {
        profil: 65,
        prvs: 65,
        children: false,
        letter: "О",
        services: &[
            s("B01.029.001", "1.65.001", 55_420),
            s("A02.26.015", "4.26.015", 8_960),
            s("B01.029.002", "1.65.002", 40_100),
        ],
    },
    Profile {
        profil: 68,
        prvs: 49,
        children: true,
        letter: "Д",
        services: &[
            s("B01.031.001", "1.68.001", 54_000),
            s("B01.031.002", "1.68.002", 41_250),
            s("A09.05.023", "4.05.023", 12_150),
        ],
    },
    Profile {
        profil: 162,
        prvs: 31,
        children: false,
        letter: "Л",
        services: &[
            s("B01.028.001", "1.162.001", 57_330),
            s("A03.08.001", "4.08.001", 23_480),
        ],
    },
];

/// A patient: the PACIENT block of H and the PERS block of L.
pub(super) struct Patient {
    pub id: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    pub surname: String,
    pub name: &'static str,
    pub patronymic: &'static str,
    pub birthplace: &'static str,
    pub enp: Enp,
    pub snils: Snils,
    pub smo: String,
    pub doc: Document,
    pub phone: Option<String>,
}

/// An identity document (DOCTYPE of F011): a passport or a birth certificate.
pub(super) struct Document {
    pub doctype: u8,
    pub series: String,
    pub number: u32,
    pub issued: NaiveDate,
}

impl Patient {
    /// Patient number `n` of `seed`, born before the reporting `period`.
    pub(super) fn generate(
        seed: u64,
        n: u64,
        tf: &TfomsCode,
        period: Period,
    ) -> anyhow::Result<Self> {
        let mut r = Rng::stream(seed, PATIENTS, n);
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            r.next_u64() & 0xffff_ffff,
            r.next_u64() & 0xffff,
            r.next_u64() & 0xfff,
            0x8000 | (r.next_u64() & 0x3fff),
            r.next_u64() & 0xffff_ffff_ffff
        );
        let sex = if r.chance(50) { Sex::Male } else { Sex::Female };
        let low = date(1930, 1, 1)?;
        let high = date(2025, 12, 31)?.min(period.first_day().pred_opt().unwrap_or(low));
        let span = u64::try_from((high - low).num_days()).unwrap_or(0);
        let birth = low + Days::new(r.below(span + 1));
        let stem = *r.pick(SURNAMES);
        let (surname, name, patronymic) = {
            let (m, f) = *r.pick(PATRONYMICS);
            match sex {
                Sex::Male => (stem.to_owned(), *r.pick(MALE_NAMES), m),
                Sex::Female => (format!("{stem}а"), *r.pick(FEMALE_NAMES), f),
            }
        };
        let serial = u32::try_from(r.below(100_000)).unwrap_or(0);
        let enp = Enp::generate(tf, birth, sex, serial)?;
        let snils = Snils::from_payload(r.between(2_000_000, 999_999_999))?;
        let smo = format!("{tf}00{}", r.between(1, 3));
        let age_at_period = years_between(birth, period.first_day());
        let doc = if age_at_period >= 14 {
            let at = if age_at_period >= 45 {
                45
            } else if age_at_period >= 20 {
                20
            } else {
                14
            };
            let issued = add_years(birth, at).min(period.first_day());
            Document {
                doctype: 14,
                series: format!("{tf} {:02}", issued.year() % 100),
                number: r.between(100_000, 999_999),
                issued,
            }
        } else {
            Document {
                doctype: 3,
                series: "I-СП".to_owned(),
                number: r.between(100_000, 999_999),
                issued: birth + Days::new(u64::from(r.between(3, 30))),
            }
        };
        let phone = r
            .chance(40)
            .then(|| format!("+7 9{:02} {:07}", r.between(0, 99), r.between(0, 9_999_999)));
        let birthplace = *r.pick(BIRTHPLACES);
        Ok(Self {
            id,
            sex,
            birth,
            surname,
            name,
            patronymic,
            birthplace,
            enp,
            snils,
            smo,
            doc,
            phone,
        })
    }
}

/// A completed case (`Z_SL`) of one ZAP.
pub(super) struct Case {
    pub vidpom: u16,
    pub for_pom: u16,
    pub rslt: u16,
    pub ishod: u16,
    pub idsp: u16,
    pub inv: Option<u8>,
    pub begin: NaiveDate,
    pub end: NaiveDate,
    pub episodes: Vec<Episode>,
}

/// A treatment episode (SL).
pub(super) struct Episode {
    pub profile: &'static Profile,
    pub ds1: &'static str,
    pub begin: NaiveDate,
    pub end: NaiveDate,
    pub history: u32,
    pub doctor: Snils,
    pub p_cel: &'static str,
    pub services: Vec<Service>,
}

/// A service (USL).
pub(super) struct Service {
    pub kind: &'static ServiceKind,
    pub day: NaiveDate,
    pub count: i64,
}

impl Service {
    /// `SUMV_USL` = TARIF × `KOL_USL`.
    pub(super) fn sum(&self) -> Money {
        Money::from_kopecks(self.kind.tarif * self.count)
    }
}

impl Episode {
    /// `SUM_M` = Σ `SUMV_USL`.
    pub(super) fn sum(&self) -> Money {
        Money::from_kopecks(self.services.iter().map(|s| s.sum().kopecks()).sum())
    }
}

impl Case {
    /// Whether case `index` (0-based) of `seed` opens a new patient; otherwise it is another
    /// case of the previous record's patient (L lists each patient once).
    pub(super) fn new_patient(seed: u64, index: u64) -> bool {
        index == 0 || Rng::stream(seed, CASES ^ 0x100, index).chance(75)
    }

    /// Case `index` (0-based) of `seed` in `period` for a patient born on `birth`.
    pub(super) fn generate(
        seed: u64,
        index: u64,
        period: Period,
        birth: NaiveDate,
    ) -> anyhow::Result<Self> {
        let mut r = Rng::stream(seed, CASES, index);
        let last = period.last_day().day();
        let first_day = r.between(1, last);
        let length = if r.chance(60) {
            0
        } else {
            r.between(0, (last - first_day).min(20))
        };
        let begin = day(period, first_day)?;
        let end = day(period, first_day + length)?;
        let child = years_between(birth, begin) < 18;
        let n_episodes = match r.below(10) {
            0..=6 => 1,
            7 | 8 => 2,
            _ => 3,
        };
        let total_days = u64::from(length);
        let mut episodes = Vec::with_capacity(n_episodes);
        for e in 0..n_episodes {
            let from = begin + Days::new(total_days * e as u64 / n_episodes as u64);
            let to = if e + 1 == n_episodes {
                end
            } else {
                begin + Days::new(total_days * (e as u64 + 1) / n_episodes as u64)
            };
            let profile = loop {
                let p = r.pick(PROFILES);
                if !p.children || child {
                    break p;
                }
            };
            let ds1 = if child {
                *r.pick(DIAGNOSES_CHILD)
            } else {
                *r.pick(DIAGNOSES_ADULT)
            };
            let n_services = match r.below(10) {
                0..=4 => 1,
                5..=7 => 2,
                8 => 3,
                _ => 4,
            };
            let span = u64::try_from((to - from).num_days()).unwrap_or(0);
            let mut services = Vec::with_capacity(n_services);
            for k in 0..n_services {
                let kind = if k == 0 {
                    &profile.services[0]
                } else {
                    r.pick(profile.services)
                };
                let offset = if k == 0 { 0 } else { r.below(span + 1) };
                services.push(Service {
                    kind,
                    day: from + Days::new(offset),
                    count: if r.chance(10) { 2 } else { 1 },
                });
            }
            services.sort_by_key(|s| s.day);
            let doctor = Snils::from_payload(
                100_000_000 + u32::from(profile.profil) * 1000 + r.between(1, 4),
            )?;
            let p_cel = *r.pick(P_CEL);
            episodes.push(Episode {
                profile,
                ds1,
                begin: from,
                end: to,
                history: r.between(1, 999_999),
                doctor,
                p_cel,
                services,
            });
        }
        let many_services = episodes.len() > 1 || episodes[0].services.len() > 1;
        Ok(Self {
            vidpom: *r.pick(VIDPOM),
            for_pom: *r.pick(FOR_POM),
            rslt: *r.pick(RSLT),
            ishod: *r.pick(ISHOD),
            idsp: if many_services {
                30
            } else {
                *r.pick(&[28, 29])
            },
            inv: r.chance(5).then(|| *r.pick(&[1, 2, 3])),
            begin,
            end,
            episodes,
        })
    }

    /// The number of episodes of case `index` (it does not depend on the patient).
    pub(super) fn episode_count(seed: u64, index: u64, period: Period) -> anyhow::Result<usize> {
        let birth = date(1980, 1, 1)?;
        Ok(Self::generate(seed, index, period, birth)?.episodes.len())
    }

    /// SUMV = Σ `SUM_M`.
    pub(super) fn sum(&self) -> Money {
        Money::from_kopecks(self.episodes.iter().map(|e| e.sum().kopecks()).sum())
    }
}

fn date(y: i32, m: u32, d: u32) -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| anyhow::anyhow!("no date {y}-{m}-{d}"))
}

fn day(period: Period, d: u32) -> anyhow::Result<NaiveDate> {
    date(period.year(), period.month(), d)
}

/// Full years from `birth` to `on`.
pub(super) fn years_between(birth: NaiveDate, on: NaiveDate) -> i32 {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// `birth` plus `years` years (29 February becomes 28 February).
fn add_years(birth: NaiveDate, years: i32) -> NaiveDate {
    let y = birth.year() + years;
    NaiveDate::from_ymd_opt(y, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, birth.month(), 28))
        .unwrap_or(birth)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Case, Patient, years_between};
    use crate::domain::{Period, TfomsCode};

    #[test]
    fn patients_are_consistent() {
        let tf = TfomsCode::parse("75").unwrap();
        let period = Period::new(2026, 1).unwrap();
        for n in 0..500 {
            let p = Patient::generate(9, n, &tf, period).unwrap();
            p.enp.check_birth_and_sex(p.birth, p.sex).unwrap();
            assert!(p.birth < period.first_day());
            assert!(p.birth >= NaiveDate::from_ymd_opt(1930, 1, 1).unwrap());
            assert_eq!(p.id.len(), 36);
        }
    }

    #[test]
    fn cases_stay_in_the_period_and_add_up() {
        let period = Period::new(2026, 2).unwrap();
        let birth = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
        for i in 0..500 {
            let c = Case::generate(3, i, period, birth).unwrap();
            assert!(period.contains(c.begin) && period.contains(c.end) && c.begin <= c.end);
            let mut total = 0;
            for e in &c.episodes {
                assert!(c.begin <= e.begin && e.begin <= e.end && e.end <= c.end);
                assert!((1..=4).contains(&e.services.len()));
                for s in &e.services {
                    assert!(e.begin <= s.day && s.day <= e.end);
                    total += s.kind.tarif * s.count;
                }
            }
            assert_eq!(c.sum().kopecks(), total);
            assert!((1..=3).contains(&c.episodes.len()));
        }
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(years_between(d(2000, 2, 29), d(2018, 2, 28)), 17);
        assert_eq!(years_between(d(2000, 2, 29), d(2018, 3, 1)), 18);
    }
}
