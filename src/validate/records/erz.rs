//! Typed records of the ERZ lists between an insurer and its territorial fund (formats.md
//! 4.1, `schemas/erz/1.0`): OPLIST (OP), REPLIST (REP), RECLIST (REC), STOPLIST (STOP) and
//! CONFLICTLIST (CONFLICT), with the shared blocks PERSON, `OLD_PERSON`, DOC, ADDRESS, VIZIT,
//! INSURANCE, POLIS, ORDERZ, PERSONB, ATTACHMENT and FCODE. [`ErzBuilder`] builds them as the
//! check streams past.
//!
//! The lists' header is a run of simple children of the root (VERS, FILENAME, SMOCOD, …);
//! it is handed on as one [`ErzHeader`] before the first record (or at the end of a list
//! without records). Dates of these lists may be date-times (`2026-01-15T10:42:07`): the
//! records keep the calendar date as written; the time of day is not kept.

use chrono::NaiveDate;

use super::Personal;
use super::tree::{Builder, Cx, El, Family};
use crate::domain::Sex;

/// Which ERZ list a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErzList {
    /// OPLIST, the insurer's changes (records OP).
    Oplist,
    /// REPLIST, the fund's reply (records REP).
    Replist,
    /// RECLIST, the fund's corrections for a period (records REC).
    Reclist,
    /// STOPLIST, persons removed from the register (records STOP).
    Stoplist,
    /// CONFLICTLIST, conflicting insurance (records CONFLICT).
    Conflictlist,
}

impl ErzList {
    /// The list a schema name (`erz/1.0/OPLIST`) is for.
    #[must_use]
    pub fn of_schema(schema: &str) -> Option<Self> {
        let root = schema.strip_prefix("erz/")?.rsplit('/').next()?;
        Some(match root {
            "OPLIST" => Self::Oplist,
            "REPLIST" => Self::Replist,
            "RECLIST" => Self::Reclist,
            "STOPLIST" => Self::Stoplist,
            "CONFLICTLIST" => Self::Conflictlist,
            _ => return None,
        })
    }

    /// The root element.
    #[must_use]
    pub fn root(self) -> &'static str {
        match self {
            Self::Oplist => "OPLIST",
            Self::Replist => "REPLIST",
            Self::Reclist => "RECLIST",
            Self::Stoplist => "STOPLIST",
            Self::Conflictlist => "CONFLICTLIST",
        }
    }

    /// The record element.
    #[must_use]
    pub fn record(self) -> &'static str {
        match self {
            Self::Oplist => "OP",
            Self::Replist => "REP",
            Self::Reclist => "REC",
            Self::Stoplist => "STOP",
            Self::Conflictlist => "CONFLICT",
        }
    }
}

/// The header of an ERZ list: the simple children of the root before the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErzHeader {
    /// Which list.
    pub list: ErzList,
    /// VERS (OPLIST, REPLIST, RECLIST).
    pub vers: Option<String>,
    /// FILENAME.
    pub filename: String,
    /// SMOCOD, the insurer.
    pub smocod: String,
    /// PRZCOD, the policy-issuing point (not in RECLIST).
    pub przcod: Option<String>,
    /// `START_DATE` (RECLIST).
    pub start_date: Option<NaiveDate>,
    /// `END_DATE` (RECLIST).
    pub end_date: Option<NaiveDate>,
    /// NRECORDS, the number of records the list says it has.
    pub nrecords: u64,
    /// NERR, records with FLK errors (REPLIST).
    pub nerr: Option<u64>,
    /// Values no field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

impl ErzHeader {
    fn new(list: ErzList) -> Self {
        Self {
            list,
            vers: None,
            filename: String::new(),
            smocod: String::new(),
            przcod: None,
            start_date: None,
            end_date: None,
            nrecords: 0,
            nerr: None,
            other: Vec::new(),
        }
    }
}

/// One record of an ERZ list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErzRecord {
    /// OP of an OPLIST.
    Op(Box<Operation>),
    /// REP of a REPLIST.
    Rep(Box<Reply>),
    /// REC of a RECLIST.
    Rec(Box<Correction>),
    /// STOP of a STOPLIST.
    Stop(Box<Deregistration>),
    /// CONFLICT of a CONFLICTLIST.
    Conflict(Box<Conflict>),
}

impl ErzRecord {
    /// Values no typed field took (empty for every list the current schemas accept).
    #[must_use]
    pub fn other(&self) -> &[(&'static str, String)] {
        match self {
            Self::Op(r) => &r.other,
            Self::Rep(r) => &r.other,
            Self::Rec(r) => &r.other,
            Self::Stop(r) => &r.other,
            Self::Conflict(r) => &r.other,
        }
    }

    /// Line of the record's start tag.
    #[must_use]
    pub fn line(&self) -> u64 {
        match self {
            Self::Op(r) => r.line,
            Self::Rep(r) => r.line,
            Self::Rec(r) => r.line,
            Self::Stop(r) => r.line,
            Self::Conflict(r) => r.line,
        }
    }
}

/// Операция (OP): one change the insurer reports on one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Line of the `<OP>` tag.
    pub line: u64,
    /// `N_REC`, the record id replies refer to.
    pub n_rec: String,
    /// ID, the fund's history id.
    pub id: Option<u64>,
    /// `TIP_OP`: 1, 2, 4, 6, 7 or 8.
    pub tip_op: u8,
    /// `CHANGE_DATE`.
    pub change_date: NaiveDate,
    /// OPER, the operator.
    pub oper: Option<String>,
    /// PERSON.
    pub person: Person,
    /// `OLD_PERSON`, the data before a change.
    pub old_person: Vec<PreviousPerson>,
    /// DOC.
    pub doc: Document,
    /// `OLD_DOC`.
    pub old_doc: Vec<Document>,
    /// `ADDRES_G`, registration address.
    pub addres_g: Address,
    /// `ADDRES_P`, actual address.
    pub addres_p: Option<Address>,
    /// VIZIT.
    pub vizit: Visit,
    /// INSURANCE.
    pub insurance: Insurance,
    /// PERSONB.
    pub personb: Vec<Biometrics>,
    /// ATTACHMENT.
    pub attachment: Vec<Attachment>,
    /// Values no typed field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// Ответ (REP): the fund's answer to one OP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Line of the `<REP>` tag.
    pub line: u64,
    /// `N_REC` of the OP answered.
    pub n_rec: String,
    /// ID.
    pub id: Option<u64>,
    /// `CODE_ERP`: AA, AE or AR.
    pub code_erp: String,
    /// COMMENT.
    pub comment: Option<String>,
    /// INSURANCE, when accepted.
    pub insurance: Option<Insurance>,
    /// Values no typed field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// Исправленная запись (REC) of a RECLIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// Line of the `<REC>` tag.
    pub line: u64,
    /// ID.
    pub id: u64,
    /// `TIP_OP`.
    pub tip_op: u8,
    /// `IS_ACTIVE`: 0 inactive, 1 active, 2 buffer.
    pub is_active: u8,
    /// `CHANGE_DATE`.
    pub change_date: NaiveDate,
    /// `STATE_BEGIN_DATE`.
    pub state_begin_date: NaiveDate,
    /// `STATE_END_DATE`.
    pub state_end_date: Option<NaiveDate>,
    /// `ERR_CODE`.
    pub err_code: Option<String>,
    /// `ERR_DESC`.
    pub err_desc: Option<String>,
    /// OPER.
    pub oper: Option<String>,
    /// PERSON.
    pub person: Person,
    /// DOC.
    pub doc: Document,
    /// `ADDRES_G`.
    pub addres_g: Address,
    /// `ADDRES_P`.
    pub addres_p: Option<Address>,
    /// VIZIT.
    pub vizit: Option<Visit>,
    /// INSURANCE.
    pub insurance: Insurance,
    /// PERSONB.
    pub personb: Vec<Biometrics>,
    /// ATTACHMENT.
    pub attachment: Vec<Attachment>,
    /// FCODE, the central register's status.
    pub fcode: Option<FederalStatus>,
    /// Values no typed field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// Снятие с учёта (STOP): a person whose insurance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deregistration {
    /// Line of the `<STOP>` tag.
    pub line: u64,
    /// VERS.
    pub vers: Option<String>,
    /// ID.
    pub id: u64,
    /// REASON.
    pub reason: u16,
    /// ENP (empty: none).
    pub enp: Option<Personal<String>>,
    /// POLIS, with DSTOP.
    pub polis: Policy,
    /// INSURANCE.
    pub insurance: Option<Insurance>,
    /// PERSON, as registered.
    pub person: Person,
    /// DOC, as registered.
    pub doc: Document,
    /// `PERSON_CURR`, as current.
    pub person_curr: Person,
    /// `DOC_CURR`.
    pub doc_curr: Document,
    /// Values no typed field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// Конфликт страхования (CONFLICT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Line of the `<CONFLICT>` tag.
    pub line: u64,
    /// VERS.
    pub vers: Option<String>,
    /// ID.
    pub id: u64,
    /// REASON.
    pub reason: u16,
    /// PERSON, the insurer's data.
    pub person: Person,
    /// DOC.
    pub doc: Document,
    /// INSURANCE, the insurer's.
    pub insurance: Option<Insurance>,
    /// `PERSON_CURR`, the register's.
    pub person_curr: Person,
    /// `DOC_CURR`.
    pub doc_curr: Document,
    /// `INSURANCE_CURR`, the register's.
    pub insurance_curr: Option<Insurance>,
    /// Values no typed field took (see `Zap::other`).
    pub other: Vec<(&'static str, String)>,
}

/// Застрахованное лицо (PERSON, `PERSON_CURR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// FAM.
    pub fam: Personal<String>,
    /// IM.
    pub im: Option<Personal<String>>,
    /// OT.
    pub ot: Option<Personal<String>>,
    /// W.
    pub w: Sex,
    /// DR.
    pub dr: Personal<NaiveDate>,
    /// `TRUE_DR`: 1 exact, 2 month and year, 3 year.
    pub true_dr: Option<u8>,
    /// `C_OKSM`, citizenship.
    pub c_oksm: Option<String>,
    /// SS, SNILS as written.
    pub ss: Option<Personal<String>>,
    /// PHONE.
    pub phone: Option<Personal<String>>,
    /// `PHONE_WORK`.
    pub phone_work: Option<Personal<String>>,
    /// EMAIL.
    pub email: Option<Personal<String>>,
    /// FIOPR.
    pub fiopr: Option<Personal<String>>,
    /// CONTACT.
    pub contact: Option<Personal<String>>,
    /// PR, the representative.
    pub pr: Option<Representative>,
    /// DDEATH.
    pub ddeath: Option<NaiveDate>,
    /// `ID_HISTORY`.
    pub id_history: Option<u64>,
    /// `ID_HUMAN_TYPE`.
    pub id_human_type: Option<u64>,
}

/// Представитель (PERSON/PR).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Representative {
    /// FAM.
    pub fam: Option<Personal<String>>,
    /// IM.
    pub im: Option<Personal<String>>,
    /// OT.
    pub ot: Option<Personal<String>>,
    /// RELATION.
    pub relation: Option<String>,
    /// DOC.
    pub doc: Option<Document>,
    /// PHONE.
    pub phone: Option<Personal<String>>,
    /// `PHONE_WORK`.
    pub phone_work: Option<Personal<String>>,
}

/// Прежние данные (`OLD_PERSON`), with the previous ENP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousPerson {
    /// FAM.
    pub fam: Option<Personal<String>>,
    /// IM.
    pub im: Option<Personal<String>>,
    /// OT.
    pub ot: Option<Personal<String>>,
    /// W.
    pub w: Sex,
    /// DR.
    pub dr: Personal<NaiveDate>,
    /// `OLD_ENP` (empty: none).
    pub old_enp: Option<Personal<String>>,
    /// `TRUE_DR`.
    pub true_dr: Option<u8>,
}

/// Документ, удостоверяющий личность (DOC, `OLD_DOC`, `DOC_CURR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// DOCTYPE (F011).
    pub doctype: u8,
    /// DOCSER.
    pub docser: Option<Personal<String>>,
    /// `DOCSER_R`.
    pub docser_r: Option<Personal<String>>,
    /// DOCNUM.
    pub docnum: Personal<String>,
    /// DOCDATE.
    pub docdate: Personal<NaiveDate>,
    /// DOCEXP.
    pub docexp: Option<Personal<NaiveDate>>,
    /// `NAME_VP`, the issuer.
    pub name_vp: Option<Personal<String>>,
    /// MR, place of birth.
    pub mr: Option<Personal<String>>,
}

/// Адрес (`ADDRES_G`, `ADDRES_P`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// BOMG, homeless.
    pub bomg: Option<bool>,
    /// SUBJ.
    pub subj: Option<String>,
    /// INDX, postcode.
    pub indx: Option<String>,
    /// OKATO.
    pub okato: Option<String>,
    /// RNNAME, district.
    pub rnname: Option<String>,
    /// NPNAME, settlement.
    pub npname: Option<String>,
    /// UL, street.
    pub ul: Option<Personal<String>>,
    /// DOM.
    pub dom: Option<Personal<String>>,
    /// KORP.
    pub korp: Option<Personal<String>>,
    /// KV.
    pub kv: Option<Personal<String>>,
    /// DREG, registration date.
    pub dreg: Option<NaiveDate>,
    /// `TYPE_ADRESS`: г, о, р, и.
    pub type_adress: Option<String>,
    /// `UNSTRUCT_ADDRESS`.
    pub unstruct_address: Option<Personal<String>>,
    /// `ID_HOUSE`.
    pub id_house: Option<u64>,
    /// `C_ADS`.
    pub c_ads: Option<String>,
    /// `REF_ADS`.
    pub ref_ads: Option<String>,
}

/// Обращение (VIZIT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    /// DVIZIT.
    pub dvizit: NaiveDate,
    /// METHOD, 1–4.
    pub method: u8,
    /// PETITION.
    pub petition: bool,
    /// RSMO, 1–4.
    pub rsmo: Option<u8>,
    /// RPOLIS, 1–6.
    pub rpolis: Option<u8>,
    /// FPOLIS: П, Э, К or 0–3.
    pub fpolis: Option<String>,
}

/// Страхование (INSURANCE, `INSURANCE_CURR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Insurance {
    /// `TER_ST`, OKATO of the territory.
    pub ter_st: Option<String>,
    /// ENP (empty: not yet assigned).
    pub enp: Option<Personal<String>>,
    /// OGRNSMO.
    pub ogrnsmo: Option<String>,
    /// POLIS.
    pub polis: Policy,
    /// ERP, registered in the central register.
    pub erp: Option<bool>,
    /// ORDERZ.
    pub orderz: Option<PolicyOrder>,
    /// EMPLOYMENT.
    pub employment: Option<bool>,
    /// PUNKT.
    pub punkt: Option<String>,
    /// OGRNMFC.
    pub ogrnmfc: Option<String>,
}

/// Полис (POLIS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `ID_POLIS`.
    pub id_polis: Option<String>,
    /// VPOLIS: С, В, П, Э or К.
    pub vpolis: String,
    /// NPOLIS.
    pub npolis: Option<Personal<String>>,
    /// SPOLIS.
    pub spolis: Option<Personal<String>>,
    /// DBEG.
    pub dbeg: NaiveDate,
    /// DEND.
    pub dend: Option<NaiveDate>,
    /// DSTOP, actual termination.
    pub dstop: Option<NaiveDate>,
}

/// Заказ полиса (ORDERZ).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOrder {
    /// NORDER.
    pub norder: String,
    /// DORDER.
    pub dorder: NaiveDate,
    /// PRORDER.
    pub prorder: Option<String>,
}

/// Биометрия (PERSONB).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Biometrics {
    /// TYPE.
    pub kind: Option<String>,
    /// PHOTO: the base64 text without whitespace.
    pub photo: Personal<String>,
}

/// Прикрепление (ATTACHMENT).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// `ID_LPU`.
    pub id_lpu: u64,
    /// `ID_ZTYPE`.
    pub id_ztype: u8,
}

/// Статус ЦС ЕРЗ (FCODE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FederalStatus {
    /// `FEDERAL_CODE`.
    pub federal_code: Option<String>,
    /// `FEDERAL_DESC`.
    pub federal_desc: Option<String>,
}

/// One item of an ERZ list: the header, then the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErzItem {
    /// The list's header fields.
    Header(ErzHeader),
    /// One record without a finding.
    Record(ErzRecord),
}

/// What an ERZ list makes of the children of its root (see [`ErzBuilder`]): the header
/// fields gathered into one [`ErzHeader`], handed on before the first record (or at the end of
/// a list without records) unless a field of it was refused.
#[derive(Debug)]
pub struct ErzLists {
    list: ErzList,
    header: Option<ErzHeader>,
    /// A header field had a finding: the header is not handed on.
    header_refused: bool,
}

/// Builds the items of an ERZ list as the check streams past (a
/// [`Sink`](crate::validate::schema::Sink)).
pub type ErzBuilder<'a> = Builder<'a, ErzLists>;

impl<'a> Builder<'a, ErzLists> {
    /// A builder for `list`, handing each item to `on_item`.
    pub fn new(list: ErzList, on_item: impl FnMut(ErzItem) + Send + 'a) -> Self {
        Self::with_family(
            ErzLists {
                list,
                header: Some(ErzHeader::new(list)),
                header_refused: false,
            },
            on_item,
        )
    }
}

impl ErzLists {
    /// The header, once, unless a field of it was refused.
    fn take_header(&mut self) -> Option<ErzItem> {
        let header = self.header.take()?;
        (!self.header_refused).then_some(ErzItem::Header(header))
    }
}

impl Family for ErzLists {
    type Item = ErzItem;

    fn is_record(&self, name: &str) -> bool {
        name == self.list.record()
    }

    fn starting(&mut self, name: &'static str) -> Option<ErzItem> {
        if self.is_record(name) {
            self.take_header()
        } else {
            None
        }
    }

    fn refused(&mut self, is_record: bool) {
        self.header_refused |= !is_record;
    }

    fn ending(&mut self) -> Option<ErzItem> {
        self.take_header()
    }

    fn build(&mut self, name: &'static str, root: El<'_>, cx: &mut Cx) -> Option<ErzItem> {
        if !self.is_record(name) {
            if let Some(header) = &mut self.header {
                header_field(root, header, cx);
                header.other.append(&mut cx.other);
            } else {
                // A header field after the records: no schema allows one; it stays in `cx`,
                // counted as unplaced.
                cx.unplaced(root);
            }
            return None;
        }
        let record = match self.list {
            ErzList::Oplist => ErzRecord::Op(Box::new(operation(root, cx))),
            ErzList::Replist => ErzRecord::Rep(Box::new(reply(root, cx))),
            ErzList::Reclist => ErzRecord::Rec(Box::new(correction(root, cx))),
            ErzList::Stoplist => ErzRecord::Stop(Box::new(deregistration(root, cx))),
            ErzList::Conflictlist => ErzRecord::Conflict(Box::new(conflict(root, cx))),
        };
        Some(ErzItem::Record(record))
    }

    fn unplaced(item: &ErzItem) -> usize {
        match item {
            ErzItem::Header(h) => h.other.len(),
            ErzItem::Record(r) => r.other().len(),
        }
    }
}

fn header_field(c: El<'_>, h: &mut ErzHeader, cx: &mut Cx) {
    match c.name() {
        "VERS" => h.vers = cx.opt_text(c),
        "FILENAME" => h.filename = cx.text(c),
        "SMOCOD" => h.smocod = cx.text(c),
        "PRZCOD" => h.przcod = cx.opt_text(c),
        "START_DATE" => h.start_date = cx.date(c),
        "END_DATE" => h.end_date = cx.date(c),
        "NRECORDS" => h.nrecords = cx.int(c).unwrap_or_default(),
        "NERR" => h.nerr = cx.int(c),
        _ => cx.unplaced(c),
    }
}

fn personal(cx: &mut Cx, c: El<'_>) -> Option<Personal<String>> {
    cx.opt_text(c).map(Personal::new)
}

/// The record's own `other` list: what `cx` kept while converting it.
fn kept(cx: &mut Cx) -> Vec<(&'static str, String)> {
    std::mem::take(&mut cx.other)
}

fn operation(el: El<'_>, cx: &mut Cx) -> Operation {
    let mut r = Operation {
        line: el.line(),
        n_rec: String::new(),
        id: None,
        tip_op: 0,
        change_date: NaiveDate::default(),
        oper: None,
        person: Person::placeholder(),
        old_person: Vec::new(),
        doc: Document::default(),
        old_doc: Vec::new(),
        addres_g: Address::default(),
        addres_p: None,
        vizit: Visit::default(),
        insurance: Insurance::default(),
        personb: Vec::new(),
        attachment: Vec::new(),
        other: Vec::new(),
    };
    for c in el.children() {
        match c.name() {
            "N_REC" => r.n_rec = cx.text(c),
            "ID" => r.id = cx.int(c),
            "TIP_OP" => r.tip_op = cx.int(c).unwrap_or_default(),
            "CHANGE_DATE" => r.change_date = cx.date(c).unwrap_or_default(),
            "OPER" => r.oper = cx.opt_text(c),
            "PERSON" => r.person = person(c, cx),
            "OLD_PERSON" => r.old_person.push(previous_person(c, cx)),
            "DOC" => r.doc = document(c, cx),
            "OLD_DOC" => r.old_doc.push(document(c, cx)),
            "ADDRES_G" => r.addres_g = address(c, cx),
            "ADDRES_P" => r.addres_p = Some(address(c, cx)),
            "VIZIT" => r.vizit = visit(c, cx),
            "INSURANCE" => r.insurance = insurance(c, cx),
            "PERSONB" => r.personb.push(biometrics(c, cx)),
            "ATTACHMENT" => r.attachment.push(attachment(c, cx)),
            _ => cx.unplaced(c),
        }
    }
    r.other = kept(cx);
    r
}

fn reply(el: El<'_>, cx: &mut Cx) -> Reply {
    let mut r = Reply {
        line: el.line(),
        ..Reply::default()
    };
    for c in el.children() {
        match c.name() {
            "N_REC" => r.n_rec = cx.text(c),
            "ID" => r.id = cx.int(c),
            "CODE_ERP" => r.code_erp = cx.text(c),
            "COMMENT" => r.comment = cx.opt_text(c),
            "INSURANCE" => r.insurance = Some(insurance(c, cx)),
            _ => cx.unplaced(c),
        }
    }
    r.other = kept(cx);
    r
}

fn correction(el: El<'_>, cx: &mut Cx) -> Correction {
    let mut r = Correction {
        line: el.line(),
        id: 0,
        tip_op: 0,
        is_active: 0,
        change_date: NaiveDate::default(),
        state_begin_date: NaiveDate::default(),
        state_end_date: None,
        err_code: None,
        err_desc: None,
        oper: None,
        person: Person::placeholder(),
        doc: Document::default(),
        addres_g: Address::default(),
        addres_p: None,
        vizit: None,
        insurance: Insurance::default(),
        personb: Vec::new(),
        attachment: Vec::new(),
        fcode: None,
        other: Vec::new(),
    };
    for c in el.children() {
        match c.name() {
            "ID" => r.id = cx.int(c).unwrap_or_default(),
            "TIP_OP" => r.tip_op = cx.int(c).unwrap_or_default(),
            "IS_ACTIVE" => r.is_active = cx.int(c).unwrap_or_default(),
            "CHANGE_DATE" => r.change_date = cx.date(c).unwrap_or_default(),
            "STATE_BEGIN_DATE" => r.state_begin_date = cx.date(c).unwrap_or_default(),
            "STATE_END_DATE" => r.state_end_date = cx.date(c),
            "ERR_CODE" => r.err_code = cx.opt_text(c),
            "ERR_DESC" => r.err_desc = cx.opt_text(c),
            "OPER" => r.oper = cx.opt_text(c),
            "PERSON" => r.person = person(c, cx),
            "DOC" => r.doc = document(c, cx),
            "ADDRES_G" => r.addres_g = address(c, cx),
            "ADDRES_P" => r.addres_p = Some(address(c, cx)),
            "VIZIT" => r.vizit = Some(visit(c, cx)),
            "INSURANCE" => r.insurance = insurance(c, cx),
            "PERSONB" => r.personb.push(biometrics(c, cx)),
            "ATTACHMENT" => r.attachment.push(attachment(c, cx)),
            "FCODE" => {
                let mut f = FederalStatus::default();
                for g in c.children() {
                    match g.name() {
                        "FEDERAL_CODE" => f.federal_code = cx.opt_text(g),
                        "FEDERAL_DESC" => f.federal_desc = cx.opt_text(g),
                        _ => cx.unplaced(g),
                    }
                }
                r.fcode = Some(f);
            }
            _ => cx.unplaced(c),
        }
    }
    r.other = kept(cx);
    r
}

fn deregistration(el: El<'_>, cx: &mut Cx) -> Deregistration {
    let mut r = Deregistration {
        line: el.line(),
        vers: None,
        id: 0,
        reason: 0,
        enp: None,
        polis: Policy::default(),
        insurance: None,
        person: Person::placeholder(),
        doc: Document::default(),
        person_curr: Person::placeholder(),
        doc_curr: Document::default(),
        other: Vec::new(),
    };
    for c in el.children() {
        match c.name() {
            "VERS" => r.vers = cx.opt_text(c),
            "ID" => r.id = cx.int(c).unwrap_or_default(),
            "REASON" => r.reason = cx.int(c).unwrap_or_default(),
            "ENP" => r.enp = personal(cx, c),
            "POLIS" => r.polis = policy(c, cx),
            "INSURANCE" => r.insurance = Some(insurance(c, cx)),
            "PERSON" => r.person = person(c, cx),
            "DOC" => r.doc = document(c, cx),
            "PERSON_CURR" => r.person_curr = person(c, cx),
            "DOC_CURR" => r.doc_curr = document(c, cx),
            _ => cx.unplaced(c),
        }
    }
    r.other = kept(cx);
    r
}

fn conflict(el: El<'_>, cx: &mut Cx) -> Conflict {
    let mut r = Conflict {
        line: el.line(),
        vers: None,
        id: 0,
        reason: 0,
        person: Person::placeholder(),
        doc: Document::default(),
        insurance: None,
        person_curr: Person::placeholder(),
        doc_curr: Document::default(),
        insurance_curr: None,
        other: Vec::new(),
    };
    for c in el.children() {
        match c.name() {
            "VERS" => r.vers = cx.opt_text(c),
            "ID" => r.id = cx.int(c).unwrap_or_default(),
            "REASON" => r.reason = cx.int(c).unwrap_or_default(),
            "PERSON" => r.person = person(c, cx),
            "DOC" => r.doc = document(c, cx),
            "INSURANCE" => r.insurance = Some(insurance(c, cx)),
            "PERSON_CURR" => r.person_curr = person(c, cx),
            "DOC_CURR" => r.doc_curr = document(c, cx),
            "INSURANCE_CURR" => r.insurance_curr = Some(insurance(c, cx)),
            _ => cx.unplaced(c),
        }
    }
    r.other = kept(cx);
    r
}

impl Person {
    /// A person before its elements are read. FAM, W and DR are mandatory, so a PERSON
    /// without a finding replaces every placeholder (a value that would not convert is kept
    /// in the record's `other`).
    fn placeholder() -> Self {
        Self {
            fam: Personal::default(),
            im: None,
            ot: None,
            w: Sex::Male,
            dr: Personal::default(),
            true_dr: None,
            c_oksm: None,
            ss: None,
            phone: None,
            phone_work: None,
            email: None,
            fiopr: None,
            contact: None,
            pr: None,
            ddeath: None,
            id_history: None,
            id_human_type: None,
        }
    }
}

fn person(el: El<'_>, cx: &mut Cx) -> Person {
    let mut p = Person::placeholder();
    for c in el.children() {
        match c.name() {
            "FAM" => p.fam = Personal::new(cx.text(c)),
            "IM" => p.im = personal(cx, c),
            "OT" => p.ot = personal(cx, c),
            "W" => p.w = cx.sex(c).unwrap_or(p.w),
            "DR" => p.dr = Personal::new(cx.date(c).unwrap_or_default()),
            "TRUE_DR" => p.true_dr = cx.int(c),
            "C_OKSM" => p.c_oksm = cx.opt_text(c),
            "SS" => p.ss = personal(cx, c),
            "PHONE" => p.phone = personal(cx, c),
            "PHONE_WORK" => p.phone_work = personal(cx, c),
            "EMAIL" => p.email = personal(cx, c),
            "FIOPR" => p.fiopr = personal(cx, c),
            "CONTACT" => p.contact = personal(cx, c),
            "PR" => p.pr = Some(representative(c, cx)),
            "DDEATH" => p.ddeath = cx.date(c),
            "ID_HISTORY" => p.id_history = cx.int(c),
            "ID_HUMAN_TYPE" => p.id_human_type = cx.int(c),
            _ => cx.unplaced(c),
        }
    }
    p
}

fn representative(el: El<'_>, cx: &mut Cx) -> Representative {
    let mut p = Representative::default();
    for c in el.children() {
        match c.name() {
            "FAM" => p.fam = personal(cx, c),
            "IM" => p.im = personal(cx, c),
            "OT" => p.ot = personal(cx, c),
            "RELATION" => p.relation = cx.opt_text(c),
            "DOC" => p.doc = Some(document(c, cx)),
            "PHONE" => p.phone = personal(cx, c),
            "PHONE_WORK" => p.phone_work = personal(cx, c),
            _ => cx.unplaced(c),
        }
    }
    p
}

fn previous_person(el: El<'_>, cx: &mut Cx) -> PreviousPerson {
    // W and DR are mandatory: see `Person::placeholder`.
    let mut p = PreviousPerson {
        fam: None,
        im: None,
        ot: None,
        w: Sex::Male,
        dr: Personal::default(),
        old_enp: None,
        true_dr: None,
    };
    for c in el.children() {
        match c.name() {
            "FAM" => p.fam = personal(cx, c),
            "IM" => p.im = personal(cx, c),
            "OT" => p.ot = personal(cx, c),
            "W" => p.w = cx.sex(c).unwrap_or(p.w),
            "DR" => p.dr = Personal::new(cx.date(c).unwrap_or_default()),
            "OLD_ENP" => p.old_enp = personal(cx, c),
            "TRUE_DR" => p.true_dr = cx.int(c),
            _ => cx.unplaced(c),
        }
    }
    p
}

fn document(el: El<'_>, cx: &mut Cx) -> Document {
    let mut d = Document::default();
    for c in el.children() {
        match c.name() {
            "DOCTYPE" => d.doctype = cx.int(c).unwrap_or_default(),
            "DOCSER" => d.docser = personal(cx, c),
            "DOCSER_R" => d.docser_r = personal(cx, c),
            "DOCNUM" => d.docnum = Personal::new(cx.text(c)),
            "DOCDATE" => d.docdate = Personal::new(cx.date(c).unwrap_or_default()),
            "DOCEXP" => d.docexp = cx.date(c).map(Personal::new),
            "NAME_VP" => d.name_vp = personal(cx, c),
            "MR" => d.mr = personal(cx, c),
            _ => cx.unplaced(c),
        }
    }
    d
}

fn address(el: El<'_>, cx: &mut Cx) -> Address {
    let mut a = Address::default();
    for c in el.children() {
        match c.name() {
            "BOMG" => a.bomg = cx.flag(c),
            "SUBJ" => a.subj = cx.opt_text(c),
            "INDX" => a.indx = cx.opt_text(c),
            "OKATO" => a.okato = cx.opt_text(c),
            "RNNAME" => a.rnname = cx.opt_text(c),
            "NPNAME" => a.npname = cx.opt_text(c),
            "UL" => a.ul = personal(cx, c),
            "DOM" => a.dom = personal(cx, c),
            "KORP" => a.korp = personal(cx, c),
            "KV" => a.kv = personal(cx, c),
            "DREG" => a.dreg = cx.date(c),
            "TYPE_ADRESS" => a.type_adress = cx.opt_text(c),
            "UNSTRUCT_ADDRESS" => a.unstruct_address = personal(cx, c),
            "ID_HOUSE" => a.id_house = cx.int(c),
            "C_ADS" => a.c_ads = cx.opt_text(c),
            "REF_ADS" => a.ref_ads = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    a
}

fn visit(el: El<'_>, cx: &mut Cx) -> Visit {
    let mut v = Visit::default();
    for c in el.children() {
        match c.name() {
            "DVIZIT" => v.dvizit = cx.date(c).unwrap_or_default(),
            "METHOD" => v.method = cx.int(c).unwrap_or_default(),
            "PETITION" => v.petition = cx.flag(c).unwrap_or_default(),
            "RSMO" => v.rsmo = cx.int(c),
            "RPOLIS" => v.rpolis = cx.int(c),
            "FPOLIS" => v.fpolis = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    v
}

fn insurance(el: El<'_>, cx: &mut Cx) -> Insurance {
    let mut i = Insurance::default();
    for c in el.children() {
        match c.name() {
            "TER_ST" => i.ter_st = cx.opt_text(c),
            "ENP" => i.enp = personal(cx, c),
            "OGRNSMO" => i.ogrnsmo = cx.opt_text(c),
            "POLIS" => i.polis = policy(c, cx),
            "ERP" => i.erp = cx.flag(c),
            "ORDERZ" => {
                let mut o = PolicyOrder::default();
                for g in c.children() {
                    match g.name() {
                        "NORDER" => o.norder = cx.text(g),
                        "DORDER" => o.dorder = cx.date(g).unwrap_or_default(),
                        "PRORDER" => o.prorder = cx.opt_text(g),
                        _ => cx.unplaced(g),
                    }
                }
                i.orderz = Some(o);
            }
            "EMPLOYMENT" => i.employment = cx.flag(c),
            "PUNKT" => i.punkt = cx.opt_text(c),
            "OGRNMFC" => i.ogrnmfc = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    i
}

fn policy(el: El<'_>, cx: &mut Cx) -> Policy {
    let mut p = Policy::default();
    for c in el.children() {
        match c.name() {
            "ID_POLIS" => p.id_polis = cx.opt_text(c),
            "VPOLIS" => p.vpolis = cx.text(c),
            "NPOLIS" => p.npolis = personal(cx, c),
            "SPOLIS" => p.spolis = personal(cx, c),
            "DBEG" => p.dbeg = cx.date(c).unwrap_or_default(),
            "DEND" => p.dend = cx.date(c),
            "DSTOP" => p.dstop = cx.date(c),
            _ => cx.unplaced(c),
        }
    }
    p
}

fn biometrics(el: El<'_>, cx: &mut Cx) -> Biometrics {
    let mut b = Biometrics::default();
    for c in el.children() {
        match c.name() {
            "TYPE" => b.kind = cx.opt_text(c),
            "PHOTO" => {
                let mut photo = cx.text(c);
                photo.retain(|ch| !ch.is_ascii_whitespace());
                b.photo = Personal::new(photo);
            }
            _ => cx.unplaced(c),
        }
    }
    b
}

fn attachment(el: El<'_>, cx: &mut Cx) -> Attachment {
    let mut a = Attachment::default();
    for c in el.children() {
        match c.name() {
            "ID_LPU" => a.id_lpu = cx.int(c).unwrap_or_default(),
            "ID_ZTYPE" => a.id_ztype = cx.int(c).unwrap_or_default(),
            _ => cx.unplaced(c),
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::testing::{read_bytes, read_fixture};
    use super::super::{Item, Summary};
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn text(v: Option<&Personal<String>>) -> Option<&str> {
        v.map(Personal::as_str)
    }

    fn split(items: Vec<Item>) -> (Option<ErzHeader>, Vec<ErzRecord>) {
        let (mut header, mut records) = (None, Vec::new());
        for item in items {
            match item {
                Item::Erz(ErzItem::Header(h)) => {
                    assert!(
                        header.is_none() && records.is_empty(),
                        "the header comes first"
                    );
                    header = Some(h);
                }
                Item::Erz(ErzItem::Record(r)) => records.push(r),
                other => panic!("not an ERZ item: {other:?}"),
            }
        }
        (header, records)
    }

    fn fixture(path: &str) -> (ErzHeader, Vec<ErzRecord>) {
        let (report, summary, items) = read_fixture(path);
        assert!(report.accepted, "{path}: {:#?}", report.findings);
        assert_eq!(summary.unplaced, 0);
        let (h, r) = split(items);
        (h.unwrap(), r)
    }

    fn operations() -> (ErzHeader, Vec<Operation>) {
        let (header, records) = fixture("erz/1.0/i75001_75_01261.xml");
        let ops = records
            .into_iter()
            .map(|r| match r {
                ErzRecord::Op(op) => *op,
                other => panic!("{other:?}"),
            })
            .collect();
        (header, ops)
    }

    #[test]
    fn oplist_header_and_a_new_person() {
        let (header, ops) = operations();
        assert_eq!(header.list, ErzList::Oplist);
        assert_eq!(header.vers.as_deref(), Some("2.0"));
        assert_eq!(
            (header.filename.as_str(), header.smocod.as_str()),
            ("i75001_75_01261", "75001")
        );
        assert_eq!(
            (header.przcod.as_deref(), header.nrecords, header.nerr),
            (Some("7500101"), 2, None)
        );
        assert_eq!(ops.len(), 2);
        let op = &ops[0];
        assert_eq!((op.n_rec.as_str(), op.id, op.tip_op), ("1", None, 1));
        assert_eq!(op.change_date, date(2026, 1, 15), "the date of a date-time");
        assert_eq!(op.oper.as_deref(), Some("Оператор ПВП 01"));
        let person = &op.person;
        assert_eq!(person.fam.as_str(), "Щеглова");
        assert_eq!(text(person.ot.as_ref()), Some("Руслановна"));
        assert_eq!(
            (person.w, *person.dr, person.true_dr),
            (Sex::Female, date(2001, 2, 17), Some(1))
        );
        assert_eq!(
            (person.c_oksm.as_deref(), text(person.ss.as_ref())),
            (Some("RUS"), Some("369-258-147 23"))
        );
        assert_eq!(person.email, None);
        assert_eq!(
            (
                op.doc.doctype,
                text(op.doc.docser.as_ref()),
                op.doc.docnum.as_str()
            ),
            (14, Some("76 21"), "407719")
        );
        assert_eq!(*op.doc.docdate, date(2021, 3, 2));
        let address = &op.addres_g;
        assert_eq!(
            (
                address.bomg,
                address.indx.as_deref(),
                address.okato.as_deref()
            ),
            (Some(false), Some("672000"), Some("76401000000"))
        );
        assert_eq!(
            (text(address.kv.as_ref()), address.type_adress.as_deref()),
            (Some("34"), Some("р"))
        );
        assert_eq!(op.addres_p, None);
        let vizit = &op.vizit;
        assert_eq!(
            (
                vizit.dvizit,
                vizit.method,
                vizit.petition,
                vizit.rsmo,
                vizit.rpolis
            ),
            (date(2026, 1, 15), 1, false, Some(1), Some(1))
        );
        assert_eq!(vizit.fpolis.as_deref(), Some("Э"));
        let insurance = &op.insurance;
        assert_eq!(
            (
                insurance.ter_st.as_deref(),
                insurance.enp.clone(),
                insurance.ogrnsmo.as_deref()
            ),
            (Some("76000"), None, Some("1027500000010"))
        );
        assert_eq!(
            (
                insurance.polis.vpolis.as_str(),
                text(insurance.polis.npolis.as_ref())
            ),
            ("В", Some("750100123456"))
        );
        assert_eq!(
            (insurance.polis.dbeg, insurance.polis.dend),
            (date(2026, 1, 15), Some(date(2026, 2, 14)))
        );
        assert_eq!(
            (insurance.erp, insurance.punkt.as_deref()),
            (Some(false), Some("7500101"))
        );
    }

    #[test]
    fn oplist_a_changed_person_with_the_old_data() {
        let (_, ops) = operations();
        let op = &ops[1];
        assert_eq!(
            (op.id, op.tip_op, op.person.id_history),
            (Some(4_100_772), 4, Some(4_100_772))
        );
        assert_eq!(op.old_person.len(), 1);
        assert_eq!(text(op.old_person[0].fam.as_ref()), Some("Клёстова"));
        assert_eq!(
            text(op.old_person[0].old_enp.as_ref()),
            Some("7551700874012035")
        );
        assert_eq!(op.old_doc.len(), 1);
        assert_eq!(op.old_doc[0].docnum.as_str(), "660318");
        assert_eq!(op.vizit.rsmo, None);
        assert!(
            !format!("{op:?}").contains("Журавлёва"),
            "names stay out of Debug"
        );
    }

    #[test]
    fn replist_replies() {
        let (header, records) = fixture("erz/1.0/p75001_75_01261.xml");
        assert_eq!(
            (header.list, header.nrecords, header.nerr),
            (ErzList::Replist, 2, Some(1))
        );
        let [ErzRecord::Rep(a), ErzRecord::Rep(b)] = <[ErzRecord; 2]>::try_from(records).unwrap()
        else {
            panic!("two REP");
        };
        assert_eq!(
            (a.n_rec.as_str(), a.id, a.code_erp.as_str()),
            ("1", Some(4_100_913), "AA")
        );
        let insurance = a.insurance.as_ref().unwrap();
        assert_eq!(text(insurance.enp.as_ref()), Some("7597899782000128"));
        assert_eq!(insurance.erp, Some(true));
        assert_eq!((b.code_erp.as_str(), b.insurance.clone()), ("AE", None));
        assert!(
            b.comment
                .as_deref()
                .unwrap()
                .starts_with("Запись не принята")
        );
    }

    #[test]
    fn reclist_corrections() {
        let (h, r) = fixture("erz/1.0/r75001_75_01261.xml");
        assert_eq!(h.list, ErzList::Reclist);
        assert_eq!(
            (h.start_date, h.end_date),
            (Some(date(2026, 1, 1)), Some(date(2026, 1, 31)))
        );
        assert_eq!(h.przcod, None);
        let [ErzRecord::Rec(rec)] = <[ErzRecord; 1]>::try_from(r).unwrap() else {
            panic!("one REC");
        };
        assert_eq!((rec.id, rec.tip_op, rec.is_active), (3_988_140, 4, 1));
        assert_eq!(
            (rec.change_date, rec.state_begin_date, rec.state_end_date),
            (date(2026, 1, 21), date(2026, 1, 21), None)
        );
        assert_eq!(rec.oper.as_deref(), Some("ТФОМС, отдел ЕРЗ"));
        assert_eq!(
            (rec.person.w, *rec.person.dr),
            (Sex::Male, date(1946, 1, 9))
        );
        assert_eq!(rec.vizit, None);
        assert_eq!(rec.insurance.polis.vpolis, "П");
        let f = rec.fcode.as_ref().unwrap();
        assert_eq!(
            (f.federal_code.as_deref(), f.federal_desc.as_deref()),
            (Some("AA"), Some("Запись принята ЦС ЕРЗ"))
        );
    }

    #[test]
    fn stoplist_and_conflictlist() {
        let (h, r) = fixture("erz/1.0/s75001_75_01261.xml");
        assert_eq!((h.list, h.vers.clone()), (ErzList::Stoplist, None));
        let [ErzRecord::Stop(s)] = <[ErzRecord; 1]>::try_from(r).unwrap() else {
            panic!("one STOP");
        };
        assert_eq!(
            (s.id, s.reason, text(s.enp.as_ref())),
            (3_991_207, 1, Some("7578350840000778"))
        );
        assert_eq!(s.polis.dstop, Some(date(2026, 1, 25)));
        assert_eq!(
            (s.person.ddeath, s.person_curr.ddeath),
            (Some(date(2026, 1, 25)), Some(date(2026, 1, 25)))
        );
        assert_eq!(s.doc_curr.docnum.as_str(), "204455");
        assert_eq!(s.insurance, None);

        let (h, r) = fixture("erz/1.0/c75001_75_01261.xml");
        assert_eq!(h.list, ErzList::Conflictlist);
        let [ErzRecord::Conflict(c)] = <[ErzRecord; 1]>::try_from(r).unwrap() else {
            panic!("one CONFLICT");
        };
        assert_eq!((c.id, c.reason), (4_003_318, 2));
        let (mine, theirs) = (
            c.insurance.as_ref().unwrap(),
            c.insurance_curr.as_ref().unwrap(),
        );
        assert_eq!(
            (mine.ter_st.as_deref(), theirs.ter_st.as_deref()),
            (Some("76000"), Some("10000"))
        );
        assert_eq!(mine.enp, theirs.enp);
        assert_eq!((mine.erp, theirs.erp), (None, Some(true)));
    }

    #[test]
    fn a_list_without_records_still_has_its_header() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<STOPLIST><FILENAME>s75001_75_02261</FILENAME>\
                   <SMOCOD>75001</SMOCOD><PRZCOD>7500101</PRZCOD><NRECORDS>0</NRECORDS></STOPLIST>";
        let (report, summary, items) = read_bytes("s75001_75_02261.xml", xml.as_bytes());
        assert!(report.accepted, "{:#?}", report.findings);
        assert_eq!(summary, Summary::default());
        let (h, r) = split(items);
        assert_eq!((h.unwrap().nrecords, r.len()), (0, 0));
    }

    #[test]
    fn a_refused_header_field_withholds_the_header_not_the_records() {
        let xml = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/xml/erz/1.0/i75001_75_01261.xml"),
        )
        .unwrap()
        .replace("<SMOCOD>75001</SMOCOD>", "<SMOCOD>7500X</SMOCOD>")
        .replace("<TIP_OP>4</TIP_OP>", "<TIP_OP>5</TIP_OP>");
        let (report, summary, items) = read_bytes("i75001_75_01261.xml", xml.as_bytes());
        assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);
        assert_eq!(
            (summary.records, summary.refused, summary.headers_refused),
            (1, 1, 1)
        );
        let (h, r) = split(items);
        assert!(h.is_none());
        assert_eq!(r.len(), 1);
        assert!(matches!(&r[0], ErzRecord::Op(op) if op.n_rec == "1"));
    }

    #[test]
    fn lists_follow_their_schema_names() {
        assert_eq!(
            ErzList::of_schema("erz/1.0/RECLIST"),
            Some(ErzList::Reclist)
        );
        assert_eq!(ErzList::of_schema("flk_p/erz/FLK_P"), None);
        assert_eq!(ErzList::of_schema("erz/1.0/NOPE"), None);
        for list in [
            ErzList::Oplist,
            ErzList::Replist,
            ErzList::Reclist,
            ErzList::Stoplist,
            ErzList::Conflictlist,
        ] {
            assert_eq!(
                ErzList::of_schema(&format!("erz/1.0/{}", list.root())),
                Some(list)
            );
        }
        assert_eq!(ErzList::Conflictlist.record(), "CONFLICT");
    }
}
