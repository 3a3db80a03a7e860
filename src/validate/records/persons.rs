//! Typed records of the personal-data files `PERS_LIST` (L files, 3.1 and 3.2; formats.md 1.4):
//! the header and one [`Pers`] per patient, built by [`PersonsBuilder`] as the check streams
//! past. Field names are the element names in lower case; personal values are [`Personal`].

use chrono::NaiveDate;

use super::Personal;
use super::tree::{Builder, Cx, El, Family};
use crate::domain::Sex;

/// Заголовок файла (ZGLV) of a personal-data file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonsHeader {
    /// VERSION, `3.1` or `3.2`.
    pub version: String,
    /// DATA, the file's date.
    pub data: NaiveDate,
    /// FILENAME, without extension.
    pub filename: String,
    /// FILENAME1, the paired data file (H, T, C, D).
    pub filename1: String,
    /// Values no field took (see [`Pers::other`]).
    pub other: Vec<(&'static str, String)>,
}

/// Персональные данные (PERS) of one patient, and of the representative of a newborn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pers {
    /// Line of the `<PERS>` tag.
    pub line: u64,
    /// `ID_PAC`, the key `ZAP/PACIENT/ID_PAC` refers to.
    pub id_pac: String,
    /// FAM, surname.
    pub fam: Option<Personal<String>>,
    /// IM, given name.
    pub im: Option<Personal<String>>,
    /// OT, patronymic.
    pub ot: Option<Personal<String>>,
    /// W, sex (V005).
    pub w: Sex,
    /// DR, birth date.
    pub dr: Personal<NaiveDate>,
    /// DOST, reliability flags 1–6.
    pub dost: Vec<u8>,
    /// TEL.
    pub tel: Option<Personal<String>>,
    /// `FAM_P`, the representative's surname.
    pub fam_p: Option<Personal<String>>,
    /// `IM_P`.
    pub im_p: Option<Personal<String>>,
    /// `OT_P`.
    pub ot_p: Option<Personal<String>>,
    /// `W_P`.
    pub w_p: Option<Sex>,
    /// `DR_P`.
    pub dr_p: Option<Personal<NaiveDate>>,
    /// `DOST_P`.
    pub dost_p: Vec<u8>,
    /// MR, place of birth.
    pub mr: Option<Personal<String>>,
    /// DOCTYPE, identity document type (F011).
    pub doctype: Option<String>,
    /// DOCSER.
    pub docser: Option<Personal<String>>,
    /// DOCNUM.
    pub docnum: Option<Personal<String>>,
    /// DOCDATE (3.2).
    pub docdate: Option<Personal<NaiveDate>>,
    /// DOCORG (3.2), the issuer.
    pub docorg: Option<Personal<String>>,
    /// SNILS as written (`NNN-NNN-NNN NN` or 11 digits); the check number is a business rule.
    pub snils: Option<Personal<String>>,
    /// OKATOG, place of residence.
    pub okatog: Option<String>,
    /// OKATOP, place of stay.
    pub okatop: Option<String>,
    /// COMENTP.
    pub comentp: Option<Personal<String>>,
    /// Values no typed field took, as written: empty for every file the current schemas
    /// accept (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// One item of a personal-data file: the header, then the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonsItem {
    /// ZGLV.
    Header(PersonsHeader),
    /// One PERS without a finding.
    Record(Box<Pers>),
}

/// What a personal-data file makes of the children of its root (see [`PersonsBuilder`]).
#[derive(Debug, Default)]
pub struct Persons;

/// Builds the items of a personal-data file as the check streams past (a
/// [`Sink`](crate::validate::schema::Sink)).
pub type PersonsBuilder<'a> = Builder<'a, Persons>;

impl<'a> Builder<'a, Persons> {
    /// A builder handing each item to `on_item`.
    pub fn new(on_item: impl FnMut(PersonsItem) + Send + 'a) -> Self {
        Self::with_family(Persons, on_item)
    }
}

impl Family for Persons {
    type Item = PersonsItem;

    fn is_record(&self, name: &str) -> bool {
        name == "PERS"
    }

    fn build(&mut self, name: &'static str, root: El<'_>, cx: &mut Cx) -> Option<PersonsItem> {
        Some(match name {
            "ZGLV" => {
                let mut h = header(root, cx);
                h.other = std::mem::take(&mut cx.other);
                PersonsItem::Header(h)
            }
            "PERS" => {
                let mut p = pers(root, cx);
                p.other = std::mem::take(&mut cx.other);
                PersonsItem::Record(Box::new(p))
            }
            _ => return None,
        })
    }

    fn unplaced(item: &PersonsItem) -> usize {
        match item {
            PersonsItem::Header(h) => h.other.len(),
            PersonsItem::Record(p) => p.other.len(),
        }
    }
}

fn header(el: El<'_>, cx: &mut Cx) -> PersonsHeader {
    let mut h = PersonsHeader::default();
    for c in el.children() {
        match c.name() {
            "VERSION" => h.version = cx.text(c),
            "DATA" => h.data = cx.date(c).unwrap_or_default(),
            "FILENAME" => h.filename = cx.text(c),
            "FILENAME1" => h.filename1 = cx.text(c),
            _ => cx.unplaced(c),
        }
    }
    h
}

fn pers(el: El<'_>, cx: &mut Cx) -> Pers {
    // W and DR are mandatory: a PERS without a finding has both, so the placeholders below
    // are always replaced (a value that would not convert is kept in `other`).
    let mut p = Pers {
        line: el.line(),
        id_pac: String::new(),
        fam: None,
        im: None,
        ot: None,
        w: Sex::Male,
        dr: Personal::default(),
        dost: Vec::new(),
        tel: None,
        fam_p: None,
        im_p: None,
        ot_p: None,
        w_p: None,
        dr_p: None,
        dost_p: Vec::new(),
        mr: None,
        doctype: None,
        docser: None,
        docnum: None,
        docdate: None,
        docorg: None,
        snils: None,
        okatog: None,
        okatop: None,
        comentp: None,
        other: Vec::new(),
    };
    let personal = |cx: &mut Cx, c: El<'_>| cx.opt_text(c).map(Personal::new);
    for c in el.children() {
        match c.name() {
            "ID_PAC" => p.id_pac = cx.text(c),
            "FAM" => p.fam = personal(cx, c),
            "IM" => p.im = personal(cx, c),
            "OT" => p.ot = personal(cx, c),
            "W" => p.w = cx.sex(c).unwrap_or(p.w),
            "DR" => p.dr = Personal::new(cx.date(c).unwrap_or_default()),
            "DOST" => p.dost.extend(cx.int::<u8>(c)),
            "TEL" => p.tel = personal(cx, c),
            "FAM_P" => p.fam_p = personal(cx, c),
            "IM_P" => p.im_p = personal(cx, c),
            "OT_P" => p.ot_p = personal(cx, c),
            "W_P" => p.w_p = cx.sex(c),
            "DR_P" => p.dr_p = cx.date(c).map(Personal::new),
            "DOST_P" => p.dost_p.extend(cx.int::<u8>(c)),
            "MR" => p.mr = personal(cx, c),
            "DOCTYPE" => p.doctype = cx.opt_text(c),
            "DOCSER" => p.docser = personal(cx, c),
            "DOCNUM" => p.docnum = personal(cx, c),
            "DOCDATE" => p.docdate = cx.date(c).map(Personal::new),
            "DOCORG" => p.docorg = personal(cx, c),
            "SNILS" => p.snils = personal(cx, c),
            "OKATOG" => p.okatog = cx.opt_text(c),
            "OKATOP" => p.okatop = cx.opt_text(c),
            "COMENTP" => p.comentp = personal(cx, c),
            _ => cx.unplaced(c),
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::testing::{cp1251, fixture_text, read_bytes, read_fixture};
    use super::super::{Item, PersonsItem};
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn split(items: Vec<Item>) -> (PersonsHeader, Vec<Pers>) {
        let mut header = None;
        let mut records = Vec::new();
        for item in items {
            match item {
                Item::Persons(PersonsItem::Header(h)) => {
                    assert!(
                        header.is_none() && records.is_empty(),
                        "the header comes first"
                    );
                    header = Some(h);
                }
                Item::Persons(PersonsItem::Record(p)) => records.push(*p),
                other => panic!("not a persons item: {other:?}"),
            }
        }
        (header.unwrap(), records)
    }

    fn text(v: Option<&Personal<String>>) -> Option<&str> {
        v.map(Personal::as_str)
    }

    #[test]
    fn l_3_2_carries_the_values_of_the_file() {
        let (report, summary, items) = read_fixture("pers_list/3.2/LM750096T75_2601001.xml");
        assert!(report.accepted);
        assert_eq!(summary.records, 3);
        let (h, p) = split(items);
        assert_eq!(h.version, "3.2");
        assert_eq!(h.data, date(2026, 2, 3));
        assert_eq!(h.filename, "LM750096T75_2601001");
        assert_eq!(h.filename1, "HM750096T75_2601001");
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].id_pac, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21");
        assert_eq!(text(p[0].fam.as_ref()), Some("Снегирёв"));
        assert_eq!(text(p[0].im.as_ref()), Some("Пётр"));
        assert_eq!(text(p[0].ot.as_ref()), Some("Аркадьевич"));
        assert_eq!(p[0].w, Sex::Male);
        assert_eq!(*p[0].dr, date(1984, 3, 12));
        assert_eq!(p[0].doctype.as_deref(), Some("14"));
        assert_eq!(text(p[0].docser.as_ref()), Some("76 04"));
        assert_eq!(
            p[0].docdate.map(Personal::into_inner),
            Some(date(2004, 4, 2))
        );
        assert_eq!(
            text(p[0].docorg.as_ref()),
            Some("Отделом внутренних дел Тестового района г. Читы")
        );
        assert_eq!(text(p[0].snils.as_ref()), Some("345-678-912 26"));
        assert_eq!(p[0].okatog.as_deref(), Some("76401000000"));
        assert!(p[0].line > 1);
        // Empty optional elements read as absent.
        assert_eq!(p[1].w, Sex::Female);
        assert_eq!(p[1].tel, None);
        assert_eq!(p[1].docorg, None);
        assert_eq!(p[1].okatop, None);
        assert_eq!(text(p[2].docser.as_ref()), Some("I-СП"));
        assert_eq!(*p[2].dr, date(2019, 6, 30));
        assert!(format!("{:?}", p[0]).contains("Personal(***)"));
        assert!(
            !format!("{:?}", p[0]).contains("Снегирёв"),
            "names stay out of Debug"
        );
    }

    #[test]
    fn l_3_1_has_no_document_date() {
        let (_, _, items) = read_fixture("pers_list/3.1/LM750096T75_2104001.xml");
        let (h, p) = split(items);
        assert_eq!(h.version, "3.1");
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.docdate.is_none() && p.docorg.is_none()));
        let bare = p.iter().find(|p| p.ot.is_none()).unwrap();
        assert_eq!(bare.dost, [1]);
        assert_eq!(bare.mr, None);
        assert!(
            bare.snils.as_ref().unwrap().len() == 11,
            "SNILS as 11 bare digits, as written"
        );
    }

    #[test]
    fn a_refused_pers_is_counted_not_built() {
        let (report, summary, items) =
            read_fixture("pers_list/3.2/invalid/LM750096T75_2601001_905_ID_PAC.xml");
        assert!(!report.accepted);
        assert_eq!(report.refused_records, 1);
        assert_eq!((summary.records, summary.refused), (report.records - 1, 1));
        let (_, p) = split(items);
        assert_eq!(u64::try_from(p.len()).unwrap(), summary.records);
    }

    #[test]
    fn a_representative_and_dost_lists() {
        let xml = fixture_text("pers_list/3.2/LM750096T75_2601002.xml")
            .replace("<TEL>", "<DOST>1</DOST><DOST>3</DOST><TEL>")
            .replace(
                "<MR>",
                "<FAM_P>Снегирёва</FAM_P><IM_P>Ольга</IM_P><W_P>2</W_P>\
                 <DR_P>1990-05-06</DR_P><DOST_P>2</DOST_P><MR>",
            );
        let (report, _, items) = read_bytes("LM750096T75_2601002.xml", &cp1251(&xml));
        assert!(report.accepted, "{:#?}", report.findings);
        let (_, p) = split(items);
        assert_eq!(p[0].dost, [1, 3]);
        assert_eq!(text(p[0].fam_p.as_ref()), Some("Снегирёва"));
        assert_eq!(text(p[0].tel.as_ref()), Some("+7 000 000-75-46"));
        assert_eq!(p[0].w_p, Some(Sex::Female));
        assert_eq!(p[0].dr_p.map(Personal::into_inner), Some(date(1990, 5, 6)));
        assert_eq!(p[0].dost_p, [2]);
    }
}
