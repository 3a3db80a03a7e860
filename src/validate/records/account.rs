//! Typed records of the account files `ZL_LIST` (реестр счетов): H 3.1 and 3.2, T (ВМП),
//! C (ЗНО) and D (диспансеризация) 3.1, formats.md 1.2 and 1.3, as `schemas/zl_list` has them.
//!
//! One set of types serves every variant: an element a variant lacks is `None` or an empty
//! list there (`USL_OK` and RSLT in D files, `RSLT_D` outside them, ENP before 3.2, the oncology
//! blocks outside C and T, …). Every element of every `ZL_LIST` schema has a typed field; field
//! names are the element names in lower case, except `pacient` (PACIENT), `case` (`Z_SL`),
//! `episodes` (SL), `services` (USL) and `reference` (REF). [`AccountBuilder`] builds them as
//! the check streams past.

use chrono::NaiveDate;

use super::Personal;
use super::tree::{Builder, Cx, El, Family};
use crate::domain::{Decimal, Money, Period, PeriodError};

/// Заголовок файла (ZGLV) of an account file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountHeader {
    /// VERSION, `3.1` or `3.2`.
    pub version: String,
    /// DATA, the file's date.
    pub data: NaiveDate,
    /// FILENAME, without extension.
    pub filename: String,
    /// `SD_Z`, the number of records the file says it has.
    pub sd_z: u64,
    /// Values no field took (see [`Zap::other`]).
    pub other: Vec<(&'static str, String)>,
}

/// Счёт (SCHET).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Line of the `<SCHET>` tag.
    pub line: u64,
    /// CODE, the account's record code.
    pub code: u64,
    /// `CODE_MO`, the billing clinic (F003).
    pub code_mo: String,
    /// YEAR.
    pub year: u16,
    /// MONTH, 1–12.
    pub month: u8,
    /// NSCHET, the account number.
    pub nschet: String,
    /// DSCHET, the account date.
    pub dschet: NaiveDate,
    /// PLAT, the payer (insurer or fund code).
    pub plat: Option<String>,
    /// SUMMAV, the amount billed (= Σ `Z_SL/SUMV`, a business rule).
    pub summav: Money,
    /// COMENTS.
    pub coments: Option<String>,
    /// SUMMAP, the amount accepted.
    pub summap: Option<Money>,
    /// `SANK_MEK`, sanctions of the МЭК.
    pub sank_mek: Option<Money>,
    /// `SANK_MEE`, sanctions of the МЭЭ.
    pub sank_mee: Option<Money>,
    /// `SANK_EKMP`, sanctions of the ЭКМП.
    pub sank_ekmp: Option<Money>,
    /// REF, the original account of a corrected one.
    pub reference: Option<AccountRef>,
    /// DISP, the screening type (V016; D files).
    pub disp: Option<String>,
    /// Values no field took (see [`Zap::other`]).
    pub other: Vec<(&'static str, String)>,
}

impl Account {
    /// The reporting period YEAR/MONTH (a year outside 1900–2999 is refused by [`Period`]).
    pub fn period(&self) -> Result<Period, PeriodError> {
        Period::new(i32::from(self.year), u32::from(self.month))
    }
}

/// Ссылка на исходный счёт (REF).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRef {
    /// `FIRST_CODE`.
    pub first_code: u64,
    /// `FIRST_YEAR`.
    pub first_year: u16,
    /// `FIRST_MONTH`.
    pub first_month: u8,
}

/// Запись (ZAP): one patient and one completed case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zap {
    /// Line of the `<ZAP>` tag.
    pub line: u64,
    /// `N_ZAP`.
    pub n_zap: u64,
    /// `PR_NOV`: resubmission of a record refused before.
    pub pr_nov: bool,
    /// PACIENT.
    pub pacient: Patient,
    /// `Z_SL`.
    pub case: Case,
    /// Values no typed field took, with their element names, as written: empty for every file
    /// the current schemas accept; a value lands here only if a schema grew an element these
    /// types do not know, so that nothing is dropped silently.
    pub other: Vec<(&'static str, String)>,
}

/// Пациент (PACIENT): the patient's insurance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    /// `ID_PAC`, the key of the patient's PERS in the L file.
    pub id_pac: String,
    /// VPOLIS, the policy kind (F008).
    pub vpolis: u8,
    /// SPOLIS, the series of an old-style policy.
    pub spolis: Option<Personal<String>>,
    /// NPOLIS, the policy number (the ENP in 3.1 when VPOLIS is 3).
    pub npolis: Option<Personal<String>>,
    /// ENP (3.2, D): 16 digits as written; the check digit is a business rule.
    pub enp: Option<Personal<String>>,
    /// `ST_OKATO`, the insuring territory.
    pub st_okato: Option<String>,
    /// SMO, the insurer (F002).
    pub smo: Option<String>,
    /// `SMO_OGRN` (3.1).
    pub smo_ogrn: Option<String>,
    /// `SMO_OK` (3.1).
    pub smo_ok: Option<String>,
    /// `SMO_NAM`.
    pub smo_nam: Option<String>,
    /// INV, disability group 0–4.
    pub inv: Option<u8>,
    /// MSE = 1: referred to medical-social expertise.
    pub mse: bool,
    /// NOVOR: `0`, or the newborn's sex, birth date and order.
    pub novor: Personal<String>,
    /// `VNOV_D`, a newborn's weight in grams.
    pub vnov_d: Option<u16>,
}

/// Законченный случай (`Z_SL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Case {
    /// Line of the `<Z_SL>` tag.
    pub line: u64,
    /// IDCASE.
    pub idcase: u64,
    /// `FIRST_IDCASE`.
    pub first_idcase: Option<u64>,
    /// `USL_OK`, care setting (V006; not in D files).
    pub usl_ok: Option<u8>,
    /// VIDPOM, kind of care (V008).
    pub vidpom: u16,
    /// `FOR_POM`, form of care (V014; not in D files).
    pub for_pom: Option<u16>,
    /// `NPR_MO`, the referring clinic.
    pub npr_mo: Option<String>,
    /// `NPR_DATE`, the referral date.
    pub npr_date: Option<NaiveDate>,
    /// LPU, the clinic (F003).
    pub lpu: String,
    /// VBR, mobile team (D files).
    pub vbr: Option<bool>,
    /// `DATE_Z_1`, start.
    pub date_z_1: NaiveDate,
    /// `DATE_Z_2`, end.
    pub date_z_2: NaiveDate,
    /// `P_OTK`, refusal (D files).
    pub p_otk: Option<bool>,
    /// `KD_Z`, bed-days.
    pub kd_z: Option<u16>,
    /// `VNOV_M`, newborns' weights.
    pub vnov_m: Vec<u16>,
    /// RSLT, result (V009; not in D files).
    pub rslt: Option<u16>,
    /// `RSLT_D`, screening result (D files).
    pub rslt_d: Option<u8>,
    /// ISHOD, outcome (V012; not in D files).
    pub ishod: Option<u16>,
    /// `OS_SLUCH`, special-case flags.
    pub os_sluch: Vec<u8>,
    /// `VB_P`, in-hospital transfer.
    pub vb_p: Option<u8>,
    /// SL, the episodes (at least one).
    pub episodes: Vec<Episode>,
    /// IDSP, payment method (V010).
    pub idsp: u8,
    /// SUMV, amount billed.
    pub sumv: Money,
    /// OPLATA, payment decision 0–3.
    pub oplata: Option<u8>,
    /// SUMP, amount accepted.
    pub sump: Option<Money>,
    /// SANK, sanctions.
    pub sank: Vec<Sanction>,
    /// `SANK_IT`, total of sanctions.
    pub sank_it: Option<Money>,
}

/// Случай (SL), one treatment episode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Episode {
    /// Line of the `<SL>` tag.
    pub line: u64,
    /// `SL_ID`.
    pub sl_id: String,
    /// `VID_HMP`, high-tech care kind (T files).
    pub vid_hmp: Option<String>,
    /// `METOD_HMP` (T files).
    pub metod_hmp: Option<u16>,
    /// `LPU_1`, the sub-unit.
    pub lpu_1: Option<String>,
    /// PODR, the department.
    pub podr: Option<u64>,
    /// PROFIL, care profile (V002; not in D files).
    pub profil: Option<u16>,
    /// `PROFIL_K`, bed profile.
    pub profil_k: Option<u16>,
    /// DET, children's profile (not in D files).
    pub det: Option<bool>,
    /// `TAL_D`, voucher date (T files).
    pub tal_d: Option<NaiveDate>,
    /// `TAL_NUM`, voucher number (T files).
    pub tal_num: Option<String>,
    /// `TAL_P`, planned hospitalisation date (T files).
    pub tal_p: Option<NaiveDate>,
    /// `P_CEL`, visit purpose (V025).
    pub p_cel: Option<String>,
    /// NHISTORY, case-history number.
    pub nhistory: String,
    /// `P_PER`, admission route 1–4.
    pub p_per: Option<u8>,
    /// `DATE_1`, start.
    pub date_1: NaiveDate,
    /// `DATE_2`, end.
    pub date_2: NaiveDate,
    /// KD, bed-days (N(3) in 3.1, N(4,1) in 3.2).
    pub kd: Option<Decimal>,
    /// WEI, body weight (3.2).
    pub wei: Option<Decimal>,
    /// DS0, primary diagnosis.
    pub ds0: Option<String>,
    /// DS1, main diagnosis (ICD-10).
    pub ds1: String,
    /// `DS1_PR` = 1: main diagnosis found for the first time (D files).
    pub ds1_pr: bool,
    /// DS2, concomitant diagnoses (empty ones left out).
    pub ds2: Vec<String>,
    /// DS3, complications (empty ones left out).
    pub ds3: Vec<String>,
    /// `C_ZAB`, character of the disease (V027).
    pub c_zab: Option<u8>,
    /// `DS_ONK`, suspected cancer (C, T, D files).
    pub ds_onk: Option<bool>,
    /// `PR_D_N`, dispensary observation 1–3 (D files).
    pub pr_d_n: Option<u8>,
    /// `DS2_N`, concomitant diagnoses of a screening (D files).
    pub ds2_n: Vec<ScreeningDiagnosis>,
    /// NAZ, prescriptions after a screening (D files).
    pub naz: Vec<Prescription>,
    /// DN, dispensary-observation status.
    pub dn: Option<u8>,
    /// `CODE_MES1`, care standards.
    pub code_mes1: Vec<String>,
    /// `CODE_MES2`.
    pub code_mes2: Option<String>,
    /// NAPR, referrals (C, T files).
    pub napr: Vec<Referral>,
    /// CONS, consilia (C, T files).
    pub cons: Vec<Consilium>,
    /// `ONK_SL`, the oncology details (C, T files).
    pub onk_sl: Option<Oncology>,
    /// `KSG_KPG`, the DRG block.
    pub ksg_kpg: Option<KsgKpg>,
    /// REAB = 1: rehabilitation.
    pub reab: bool,
    /// PRVS, the doctor's specialty (not in D files).
    pub prvs: Option<u16>,
    /// `VERS_SPEC`, the specialty classifier (not in D files).
    pub vers_spec: Option<String>,
    /// IDDOKT, the doctor (often the doctor's SNILS; not in D files).
    pub iddokt: Option<Personal<String>>,
    /// `ED_COL`, units of care.
    pub ed_col: Option<Decimal>,
    /// TARIF.
    pub tarif: Option<Money>,
    /// `SUM_M`, amount of the episode.
    pub sum_m: Money,
    /// `LEK_PR`, drugs given (3.2).
    pub lek_pr: Vec<Drug>,
    /// USL, the services (at least one).
    pub services: Vec<Service>,
    /// COMENTSL.
    pub comentsl: Option<String>,
}

/// Клинико-статистическая группа (`KSG_KPG`), the DRG block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KsgKpg {
    /// `N_KSG` (V023).
    pub n_ksg: String,
    /// `VER_KSG`.
    pub ver_ksg: u16,
    /// `KSG_PG`.
    pub ksg_pg: bool,
    /// `KOEF_Z`.
    pub koef_z: Decimal,
    /// `KOEF_UP`.
    pub koef_up: Decimal,
    /// BZTSZ, the base rate.
    pub bztsz: Money,
    /// `KOEF_D`.
    pub koef_d: Decimal,
    /// `KOEF_U`.
    pub koef_u: Decimal,
    /// CRIT (V024; empty ones left out).
    pub crit: Vec<String>,
    /// `SL_K`.
    pub sl_k: bool,
    /// `IT_SL`.
    pub it_sl: Option<Decimal>,
    /// `SL_KOEF`.
    pub sl_koef: Vec<KsgCoefficient>,
}

/// Коэффициент сложности лечения (`SL_KOEF`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KsgCoefficient {
    /// IDSL.
    pub idsl: u16,
    /// `Z_SL`, the coefficient's value.
    pub z_sl: Decimal,
}

/// Лекарственный препарат (`SL/LEK_PR`, 3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drug {
    /// `DATA_INJ`.
    pub data_inj: NaiveDate,
    /// `CODE_SH`.
    pub code_sh: String,
    /// REGNUM.
    pub regnum: Option<String>,
    /// `COD_MARK`.
    pub cod_mark: Option<String>,
    /// `LEK_DOSE`.
    pub lek_dose: Option<Dose>,
}

/// Доза (`LEK_DOSE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dose {
    /// `ED_IZM`.
    pub ed_izm: String,
    /// `DOSE_INJ`.
    pub dose_inj: Decimal,
    /// `METHOD_INJ`.
    pub method_inj: String,
    /// `COL_INJ`.
    pub col_inj: u32,
}

/// Услуга (USL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    /// Line of the `<USL>` tag.
    pub line: u64,
    /// IDSERV.
    pub idserv: String,
    /// LPU.
    pub lpu: String,
    /// `LPU_1`.
    pub lpu_1: Option<String>,
    /// PODR.
    pub podr: Option<u64>,
    /// PROFIL (not in D files).
    pub profil: Option<u16>,
    /// `VID_VME`, the service code (V001).
    pub vid_vme: Option<String>,
    /// DET (not in D files).
    pub det: Option<bool>,
    /// `DATE_IN`.
    pub date_in: NaiveDate,
    /// `DATE_OUT`.
    pub date_out: NaiveDate,
    /// `P_OTK`, refused (D files).
    pub p_otk: Option<bool>,
    /// DS (not in D files).
    pub ds: Option<String>,
    /// `CODE_USL`, the tariff code.
    pub code_usl: String,
    /// `KOL_USL` (not in D files).
    pub kol_usl: Option<Decimal>,
    /// TARIF.
    pub tarif: Money,
    /// `SUMV_USL`.
    pub sumv_usl: Money,
    /// `MED_DEV`, implanted devices (3.2).
    pub med_dev: Vec<MedicalDevice>,
    /// `MR_USL_N`, who performed it (3.2, D).
    pub mr_usl_n: Vec<Performer>,
    /// PRVS, the performer's specialty (3.1, and D files before 01.08.2021).
    pub prvs: Option<u16>,
    /// `CODE_MD`, the performer (3.1, and D files before 01.08.2021).
    pub code_md: Option<Personal<String>>,
    /// NPL, incomplete volume 1–4.
    pub npl: Option<u8>,
    /// COMENTU.
    pub comentu: Option<String>,
}

/// Медицинское изделие (`MED_DEV`, 3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MedicalDevice {
    /// `DATE_MED`.
    pub date_med: NaiveDate,
    /// `CODE_MEDDEV`.
    pub code_meddev: u32,
    /// `NUMBER_SER`.
    pub number_ser: String,
}

/// Медицинский работник (`MR_USL_N`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Performer {
    /// `MR_N`.
    pub mr_n: u16,
    /// PRVS.
    pub prvs: Option<u16>,
    /// `CODE_MD`.
    pub code_md: Option<Personal<String>>,
}

/// Санкция (SANK).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sanction {
    /// Line of the `<SANK>` tag.
    pub line: u64,
    /// `S_CODE`.
    pub s_code: String,
    /// `S_SUM`.
    pub s_sum: Money,
    /// `S_TIP`, control type (F006).
    pub s_tip: u8,
    /// `SL_ID`, the episodes it concerns.
    pub sl_id: Vec<String>,
    /// `S_OSN`, reason (F014).
    pub s_osn: Option<u16>,
    /// `DATE_ACT`.
    pub date_act: NaiveDate,
    /// `NUM_ACT`.
    pub num_act: String,
    /// `CODE_EXP`, experts (F004).
    pub code_exp: Vec<String>,
    /// `S_COM`.
    pub s_com: Option<String>,
    /// `S_IST`.
    pub s_ist: u8,
}

/// Направление (NAPR; C, T files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Referral {
    /// `NAPR_DATE`.
    pub napr_date: NaiveDate,
    /// `NAPR_MO`.
    pub napr_mo: Option<String>,
    /// `NAPR_V`.
    pub napr_v: u8,
    /// `MET_ISSL`.
    pub met_issl: Option<u8>,
    /// `NAPR_USL`.
    pub napr_usl: Option<String>,
}

/// Консилиум (CONS; C, T files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consilium {
    /// `PR_CONS`.
    pub pr_cons: u8,
    /// `DT_CONS`.
    pub dt_cons: Option<NaiveDate>,
}

/// Сведения о случае лечения онкологического заболевания (`ONK_SL`; C, T files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Oncology {
    /// `DS1_T`.
    pub ds1_t: u8,
    /// STAD.
    pub stad: Option<u16>,
    /// `ONK_T`.
    pub onk_t: Option<u16>,
    /// `ONK_N`.
    pub onk_n: Option<u16>,
    /// `ONK_M`.
    pub onk_m: Option<u16>,
    /// MTSTZ = 1.
    pub mtstz: bool,
    /// SOD.
    pub sod: Option<Decimal>,
    /// `K_FR`.
    pub k_fr: Option<u8>,
    /// WEI.
    pub wei: Option<Decimal>,
    /// HEI.
    pub hei: Option<u16>,
    /// BSA.
    pub bsa: Option<Decimal>,
    /// `B_DIAG`.
    pub b_diag: Vec<OncologyDiagnostic>,
    /// `B_PROT`.
    pub b_prot: Vec<Contraindication>,
    /// `ONK_USL`.
    pub onk_usl: Vec<OncologyService>,
}

/// Диагностический блок (`B_DIAG`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OncologyDiagnostic {
    /// `DIAG_DATE`.
    pub diag_date: NaiveDate,
    /// `DIAG_TIP`, 1 or 2.
    pub diag_tip: u8,
    /// `DIAG_CODE`.
    pub diag_code: u16,
    /// `DIAG_RSLT`.
    pub diag_rslt: Option<u16>,
    /// `REC_RSLT` = 1.
    pub rec_rslt: bool,
}

/// Противопоказание или отказ (`B_PROT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contraindication {
    /// PROT.
    pub prot: u8,
    /// `D_PROT`.
    pub d_prot: NaiveDate,
}

/// Онкологическая услуга (`ONK_USL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OncologyService {
    /// `USL_TIP`.
    pub usl_tip: u8,
    /// `HIR_TIP`.
    pub hir_tip: Option<u8>,
    /// `LEK_TIP_L`.
    pub lek_tip_l: Option<u8>,
    /// `LEK_TIP_V`.
    pub lek_tip_v: Option<u8>,
    /// `LEK_PR`, antitumour drugs.
    pub lek_pr: Vec<OncologyDrug>,
    /// PPTR = 1.
    pub pptr: bool,
    /// `LUCH_TIP`.
    pub luch_tip: Option<u8>,
}

/// Противоопухолевый препарат (`ONK_USL/LEK_PR`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OncologyDrug {
    /// REGNUM.
    pub regnum: String,
    /// `CODE_SH`.
    pub code_sh: String,
    /// `DATE_INJ`, at least one.
    pub date_inj: Vec<NaiveDate>,
}

/// Сопутствующий диагноз диспансеризации (`DS2_N`; D files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreeningDiagnosis {
    /// DS2.
    pub ds2: String,
    /// `DS2_PR` = 1: found for the first time.
    pub ds2_pr: bool,
    /// `PR_DS2_N`, 1–3.
    pub pr_ds2_n: u8,
}

/// Назначение (NAZ; D files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prescription {
    /// `NAZ_N`.
    pub naz_n: u8,
    /// `NAZ_R`, 1–6.
    pub naz_r: u8,
    /// `NAZ_IDDOKT`, the prescribing doctor.
    pub naz_iddokt: Option<Personal<String>>,
    /// `NAZ_SP`.
    pub naz_sp: Option<u16>,
    /// `NAZ_V`.
    pub naz_v: Option<u8>,
    /// `NAZ_USL`.
    pub naz_usl: Option<String>,
    /// `NAPR_DATE`.
    pub napr_date: Option<NaiveDate>,
    /// `NAPR_MO`.
    pub napr_mo: Option<String>,
    /// `NAZ_PMP`.
    pub naz_pmp: Option<u16>,
    /// `NAZ_PK`.
    pub naz_pk: Option<u16>,
}

/// One item of an account file, in file order: the header, the account, then the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountItem {
    /// ZGLV.
    Header(AccountHeader),
    /// SCHET.
    Account(Account),
    /// One ZAP without a finding.
    Record(Box<Zap>),
    /// A ZAP the schema check refused: not built, only what says whose case it was.
    Refused(RefusedZap),
}

/// What is known of a ZAP the schema check refused: its keys, where they passed the check.
/// The business rules need no more (a patient whose only case was refused still has a case,
/// so its PERS is not "without a case").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefusedZap {
    /// Line of the ZAP start tag.
    pub line: u64,
    /// `N_ZAP`, if it passed the check.
    pub n_zap: Option<u64>,
    /// `PACIENT/ID_PAC`, if it passed the check.
    pub id_pac: Option<String>,
}

/// What an account file makes of the children of its root (see [`AccountBuilder`]).
#[derive(Debug, Default)]
pub struct Accounts;

/// Builds the items of an account file as the check streams past and hands each clean one to
/// its consumer (a [`Sink`](crate::validate::schema::Sink); see the module `records`).
pub type AccountBuilder<'a> = Builder<'a, Accounts>;

impl<'a> Builder<'a, Accounts> {
    /// A builder handing each item to `on_item`.
    pub fn new(on_item: impl FnMut(AccountItem) + Send + 'a) -> Self {
        Self::with_family(Accounts, on_item)
    }
}

impl Family for Accounts {
    type Item = AccountItem;

    fn is_record(&self, name: &str) -> bool {
        name == "ZAP"
    }

    fn build(&mut self, name: &'static str, root: El<'_>, cx: &mut Cx) -> Option<AccountItem> {
        Some(match name {
            "ZGLV" => {
                let mut h = header(root, cx);
                h.other = std::mem::take(&mut cx.other);
                AccountItem::Header(h)
            }
            "SCHET" => {
                let mut a = account(root, cx);
                a.other = std::mem::take(&mut cx.other);
                AccountItem::Account(a)
            }
            "ZAP" => {
                let mut z = zap(root, cx);
                z.other = std::mem::take(&mut cx.other);
                AccountItem::Record(Box::new(z))
            }
            _ => return None,
        })
    }

    fn unplaced(item: &AccountItem) -> usize {
        match item {
            AccountItem::Header(h) => h.other.len(),
            AccountItem::Account(a) => a.other.len(),
            AccountItem::Record(z) => z.other.len(),
            AccountItem::Refused(_) => 0,
        }
    }

    fn refused_record(&mut self, root: El<'_>, cx: &mut Cx) -> Option<AccountItem> {
        let mut r = RefusedZap {
            line: root.line(),
            ..RefusedZap::default()
        };
        for c in root.children() {
            match c.name() {
                "N_ZAP" => r.n_zap = cx.int(c),
                "PACIENT" => {
                    r.id_pac = c
                        .children()
                        .find(|p| p.name() == "ID_PAC")
                        .and_then(|p| cx.opt_text(p));
                }
                _ => {}
            }
        }
        Some(AccountItem::Refused(r))
    }
}

fn header(el: El<'_>, cx: &mut Cx) -> AccountHeader {
    let mut h = AccountHeader::default();
    for c in el.children() {
        match c.name() {
            "VERSION" => h.version = cx.text(c),
            "DATA" => h.data = cx.date(c).unwrap_or_default(),
            "FILENAME" => h.filename = cx.text(c),
            "SD_Z" => h.sd_z = cx.int(c).unwrap_or_default(),
            _ => cx.unplaced(c),
        }
    }
    h
}

fn account(el: El<'_>, cx: &mut Cx) -> Account {
    let mut a = Account {
        line: el.line(),
        ..Account::default()
    };
    for c in el.children() {
        match c.name() {
            "CODE" => a.code = cx.int(c).unwrap_or_default(),
            "CODE_MO" => a.code_mo = cx.text(c),
            "YEAR" => a.year = cx.int(c).unwrap_or_default(),
            "MONTH" => a.month = cx.int(c).unwrap_or_default(),
            "NSCHET" => a.nschet = cx.text(c),
            "DSCHET" => a.dschet = cx.date(c).unwrap_or_default(),
            "PLAT" => a.plat = cx.opt_text(c),
            "SUMMAV" => a.summav = cx.money(c).unwrap_or_default(),
            "COMENTS" => a.coments = cx.opt_text(c),
            "SUMMAP" => a.summap = cx.money(c),
            "SANK_MEK" => a.sank_mek = cx.money(c),
            "SANK_MEE" => a.sank_mee = cx.money(c),
            "SANK_EKMP" => a.sank_ekmp = cx.money(c),
            "REF" => a.reference = Some(reference(c, cx)),
            "DISP" => a.disp = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    a
}

fn reference(el: El<'_>, cx: &mut Cx) -> AccountRef {
    let mut r = AccountRef::default();
    for c in el.children() {
        match c.name() {
            "FIRST_CODE" => r.first_code = cx.int(c).unwrap_or_default(),
            "FIRST_YEAR" => r.first_year = cx.int(c).unwrap_or_default(),
            "FIRST_MONTH" => r.first_month = cx.int(c).unwrap_or_default(),
            _ => cx.unplaced(c),
        }
    }
    r
}

fn zap(el: El<'_>, cx: &mut Cx) -> Zap {
    let mut z = Zap {
        line: el.line(),
        ..Zap::default()
    };
    for c in el.children() {
        match c.name() {
            "N_ZAP" => z.n_zap = cx.int(c).unwrap_or_default(),
            "PR_NOV" => z.pr_nov = cx.flag(c).unwrap_or_default(),
            "PACIENT" => z.pacient = patient(c, cx),
            "Z_SL" => z.case = case(c, cx),
            _ => cx.unplaced(c),
        }
    }
    z
}

fn patient(el: El<'_>, cx: &mut Cx) -> Patient {
    let mut p = Patient::default();
    for c in el.children() {
        match c.name() {
            "ID_PAC" => p.id_pac = cx.text(c),
            "VPOLIS" => p.vpolis = cx.int(c).unwrap_or_default(),
            "SPOLIS" => p.spolis = cx.opt_text(c).map(Personal::new),
            "NPOLIS" => p.npolis = cx.opt_text(c).map(Personal::new),
            "ENP" => p.enp = cx.opt_text(c).map(Personal::new),
            "ST_OKATO" => p.st_okato = cx.opt_text(c),
            "SMO" => p.smo = cx.opt_text(c),
            "SMO_OGRN" => p.smo_ogrn = cx.opt_text(c),
            "SMO_OK" => p.smo_ok = cx.opt_text(c),
            "SMO_NAM" => p.smo_nam = cx.opt_text(c),
            "INV" => p.inv = cx.int(c),
            "MSE" => p.mse = cx.flag(c).unwrap_or_default(),
            "NOVOR" => p.novor = Personal::new(cx.text(c)),
            "VNOV_D" => p.vnov_d = cx.int(c),
            _ => cx.unplaced(c),
        }
    }
    p
}

fn case(el: El<'_>, cx: &mut Cx) -> Case {
    let mut z = Case {
        line: el.line(),
        ..Case::default()
    };
    for c in el.children() {
        match c.name() {
            "IDCASE" => z.idcase = cx.int(c).unwrap_or_default(),
            "FIRST_IDCASE" => z.first_idcase = cx.int(c),
            "USL_OK" => z.usl_ok = cx.int(c),
            "VIDPOM" => z.vidpom = cx.int(c).unwrap_or_default(),
            "FOR_POM" => z.for_pom = cx.int(c),
            "NPR_MO" => z.npr_mo = cx.opt_text(c),
            "NPR_DATE" => z.npr_date = cx.date(c),
            "LPU" => z.lpu = cx.text(c),
            "VBR" => z.vbr = cx.flag(c),
            "DATE_Z_1" => z.date_z_1 = cx.date(c).unwrap_or_default(),
            "DATE_Z_2" => z.date_z_2 = cx.date(c).unwrap_or_default(),
            "P_OTK" => z.p_otk = cx.flag(c),
            "KD_Z" => z.kd_z = cx.int(c),
            "VNOV_M" => z.vnov_m.extend(cx.int::<u16>(c)),
            "RSLT" => z.rslt = cx.int(c),
            "RSLT_D" => z.rslt_d = cx.int(c),
            "ISHOD" => z.ishod = cx.int(c),
            "OS_SLUCH" => z.os_sluch.extend(cx.int::<u8>(c)),
            "VB_P" => z.vb_p = cx.int(c),
            "SL" => z.episodes.push(episode(c, cx)),
            "IDSP" => z.idsp = cx.int(c).unwrap_or_default(),
            "SUMV" => z.sumv = cx.money(c).unwrap_or_default(),
            "OPLATA" => z.oplata = cx.int(c),
            "SUMP" => z.sump = cx.money(c),
            "SANK" => z.sank.push(sanction(c, cx)),
            "SANK_IT" => z.sank_it = cx.money(c),
            _ => cx.unplaced(c),
        }
    }
    z
}

fn episode(el: El<'_>, cx: &mut Cx) -> Episode {
    let mut s = Episode {
        line: el.line(),
        ..Episode::default()
    };
    for c in el.children() {
        match c.name() {
            "SL_ID" => s.sl_id = cx.text(c),
            "VID_HMP" => s.vid_hmp = cx.opt_text(c),
            "METOD_HMP" => s.metod_hmp = cx.int(c),
            "LPU_1" => s.lpu_1 = cx.opt_text(c),
            "PODR" => s.podr = cx.int(c),
            "PROFIL" => s.profil = cx.int(c),
            "PROFIL_K" => s.profil_k = cx.int(c),
            "DET" => s.det = cx.flag(c),
            "TAL_D" => s.tal_d = cx.date(c),
            "TAL_NUM" => s.tal_num = cx.opt_text(c),
            "TAL_P" => s.tal_p = cx.date(c),
            "P_CEL" => s.p_cel = cx.opt_text(c),
            "NHISTORY" => s.nhistory = cx.text(c),
            "P_PER" => s.p_per = cx.int(c),
            "DATE_1" => s.date_1 = cx.date(c).unwrap_or_default(),
            "DATE_2" => s.date_2 = cx.date(c).unwrap_or_default(),
            "KD" => s.kd = cx.decimal(c),
            "WEI" => s.wei = cx.decimal(c),
            "DS0" => s.ds0 = cx.opt_text(c),
            "DS1" => s.ds1 = cx.text(c),
            "DS1_PR" => s.ds1_pr = cx.flag(c).unwrap_or_default(),
            "DS2" => s.ds2.extend(cx.opt_text(c)),
            "DS3" => s.ds3.extend(cx.opt_text(c)),
            "C_ZAB" => s.c_zab = cx.int(c),
            "DS_ONK" => s.ds_onk = cx.flag(c),
            "PR_D_N" => s.pr_d_n = cx.int(c),
            "DS2_N" => s.ds2_n.push(screening_diagnosis(c, cx)),
            "NAZ" => s.naz.push(prescription(c, cx)),
            "DN" => s.dn = cx.int(c),
            "CODE_MES1" => s.code_mes1.extend(cx.opt_text(c)),
            "CODE_MES2" => s.code_mes2 = cx.opt_text(c),
            "NAPR" => s.napr.push(referral(c, cx)),
            "CONS" => s.cons.push(consilium(c, cx)),
            "ONK_SL" => s.onk_sl = Some(oncology(c, cx)),
            "KSG_KPG" => s.ksg_kpg = Some(ksg_kpg(c, cx)),
            "REAB" => s.reab = cx.flag(c).unwrap_or_default(),
            "PRVS" => s.prvs = cx.int(c),
            "VERS_SPEC" => s.vers_spec = cx.opt_text(c),
            "IDDOKT" => s.iddokt = cx.opt_text(c).map(Personal::new),
            "ED_COL" => s.ed_col = cx.decimal(c),
            "TARIF" => s.tarif = cx.money(c),
            "SUM_M" => s.sum_m = cx.money(c).unwrap_or_default(),
            "LEK_PR" => s.lek_pr.push(drug(c, cx)),
            "USL" => s.services.push(service(c, cx)),
            "COMENTSL" => s.comentsl = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    s
}

fn ksg_kpg(el: El<'_>, cx: &mut Cx) -> KsgKpg {
    let mut k = KsgKpg::default();
    for c in el.children() {
        match c.name() {
            "N_KSG" => k.n_ksg = cx.text(c),
            "VER_KSG" => k.ver_ksg = cx.int(c).unwrap_or_default(),
            "KSG_PG" => k.ksg_pg = cx.flag(c).unwrap_or_default(),
            "KOEF_Z" => k.koef_z = cx.decimal(c).unwrap_or_default(),
            "KOEF_UP" => k.koef_up = cx.decimal(c).unwrap_or_default(),
            "BZTSZ" => k.bztsz = cx.money(c).unwrap_or_default(),
            "KOEF_D" => k.koef_d = cx.decimal(c).unwrap_or_default(),
            "KOEF_U" => k.koef_u = cx.decimal(c).unwrap_or_default(),
            "CRIT" => k.crit.extend(cx.opt_text(c)),
            "SL_K" => k.sl_k = cx.flag(c).unwrap_or_default(),
            "IT_SL" => k.it_sl = cx.decimal(c),
            "SL_KOEF" => {
                let mut coefficient = KsgCoefficient::default();
                for g in c.children() {
                    match g.name() {
                        "IDSL" => coefficient.idsl = cx.int(g).unwrap_or_default(),
                        "Z_SL" => coefficient.z_sl = cx.decimal(g).unwrap_or_default(),
                        _ => cx.unplaced(g),
                    }
                }
                k.sl_koef.push(coefficient);
            }
            _ => cx.unplaced(c),
        }
    }
    k
}

fn drug(el: El<'_>, cx: &mut Cx) -> Drug {
    let mut d = Drug::default();
    for c in el.children() {
        match c.name() {
            "DATA_INJ" => d.data_inj = cx.date(c).unwrap_or_default(),
            "CODE_SH" => d.code_sh = cx.text(c),
            "REGNUM" => d.regnum = cx.opt_text(c),
            "COD_MARK" => d.cod_mark = cx.opt_text(c),
            "LEK_DOSE" => {
                let mut dose = Dose::default();
                for g in c.children() {
                    match g.name() {
                        "ED_IZM" => dose.ed_izm = cx.text(g),
                        "DOSE_INJ" => dose.dose_inj = cx.decimal(g).unwrap_or_default(),
                        "METHOD_INJ" => dose.method_inj = cx.text(g),
                        "COL_INJ" => dose.col_inj = cx.int(g).unwrap_or_default(),
                        _ => cx.unplaced(g),
                    }
                }
                d.lek_dose = Some(dose);
            }
            _ => cx.unplaced(c),
        }
    }
    d
}

fn service(el: El<'_>, cx: &mut Cx) -> Service {
    let mut u = Service {
        line: el.line(),
        ..Service::default()
    };
    for c in el.children() {
        match c.name() {
            "IDSERV" => u.idserv = cx.text(c),
            "LPU" => u.lpu = cx.text(c),
            "LPU_1" => u.lpu_1 = cx.opt_text(c),
            "PODR" => u.podr = cx.int(c),
            "PROFIL" => u.profil = cx.int(c),
            "VID_VME" => u.vid_vme = cx.opt_text(c),
            "DET" => u.det = cx.flag(c),
            "DATE_IN" => u.date_in = cx.date(c).unwrap_or_default(),
            "DATE_OUT" => u.date_out = cx.date(c).unwrap_or_default(),
            "P_OTK" => u.p_otk = cx.flag(c),
            "DS" => u.ds = cx.opt_text(c),
            "CODE_USL" => u.code_usl = cx.text(c),
            "KOL_USL" => u.kol_usl = cx.decimal(c),
            "TARIF" => u.tarif = cx.money(c).unwrap_or_default(),
            "SUMV_USL" => u.sumv_usl = cx.money(c).unwrap_or_default(),
            "MED_DEV" => {
                let mut device = MedicalDevice::default();
                for g in c.children() {
                    match g.name() {
                        "DATE_MED" => device.date_med = cx.date(g).unwrap_or_default(),
                        "CODE_MEDDEV" => device.code_meddev = cx.int(g).unwrap_or_default(),
                        "NUMBER_SER" => device.number_ser = cx.text(g),
                        _ => cx.unplaced(g),
                    }
                }
                u.med_dev.push(device);
            }
            "MR_USL_N" => {
                let mut performer = Performer::default();
                for g in c.children() {
                    match g.name() {
                        "MR_N" => performer.mr_n = cx.int(g).unwrap_or_default(),
                        "PRVS" => performer.prvs = cx.int(g),
                        "CODE_MD" => performer.code_md = cx.opt_text(g).map(Personal::new),
                        _ => cx.unplaced(g),
                    }
                }
                u.mr_usl_n.push(performer);
            }
            "PRVS" => u.prvs = cx.int(c),
            "CODE_MD" => u.code_md = cx.opt_text(c).map(Personal::new),
            "NPL" => u.npl = cx.int(c),
            "COMENTU" => u.comentu = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    u
}

fn sanction(el: El<'_>, cx: &mut Cx) -> Sanction {
    let mut s = Sanction {
        line: el.line(),
        ..Sanction::default()
    };
    for c in el.children() {
        match c.name() {
            "S_CODE" => s.s_code = cx.text(c),
            "S_SUM" => s.s_sum = cx.money(c).unwrap_or_default(),
            "S_TIP" => s.s_tip = cx.int(c).unwrap_or_default(),
            "SL_ID" => s.sl_id.push(cx.text(c)),
            "S_OSN" => s.s_osn = cx.int(c),
            "DATE_ACT" => s.date_act = cx.date(c).unwrap_or_default(),
            "NUM_ACT" => s.num_act = cx.text(c),
            "CODE_EXP" => s.code_exp.push(cx.text(c)),
            "S_COM" => s.s_com = cx.opt_text(c),
            "S_IST" => s.s_ist = cx.int(c).unwrap_or_default(),
            _ => cx.unplaced(c),
        }
    }
    s
}

fn referral(el: El<'_>, cx: &mut Cx) -> Referral {
    let mut r = Referral::default();
    for c in el.children() {
        match c.name() {
            "NAPR_DATE" => r.napr_date = cx.date(c).unwrap_or_default(),
            "NAPR_MO" => r.napr_mo = cx.opt_text(c),
            "NAPR_V" => r.napr_v = cx.int(c).unwrap_or_default(),
            "MET_ISSL" => r.met_issl = cx.int(c),
            "NAPR_USL" => r.napr_usl = cx.opt_text(c),
            _ => cx.unplaced(c),
        }
    }
    r
}

fn consilium(el: El<'_>, cx: &mut Cx) -> Consilium {
    let mut k = Consilium::default();
    for c in el.children() {
        match c.name() {
            "PR_CONS" => k.pr_cons = cx.int(c).unwrap_or_default(),
            "DT_CONS" => k.dt_cons = cx.date(c),
            _ => cx.unplaced(c),
        }
    }
    k
}

fn oncology(el: El<'_>, cx: &mut Cx) -> Oncology {
    let mut o = Oncology::default();
    for c in el.children() {
        match c.name() {
            "DS1_T" => o.ds1_t = cx.int(c).unwrap_or_default(),
            "STAD" => o.stad = cx.int(c),
            "ONK_T" => o.onk_t = cx.int(c),
            "ONK_N" => o.onk_n = cx.int(c),
            "ONK_M" => o.onk_m = cx.int(c),
            "MTSTZ" => o.mtstz = cx.flag(c).unwrap_or_default(),
            "SOD" => o.sod = cx.decimal(c),
            "K_FR" => o.k_fr = cx.int(c),
            "WEI" => o.wei = cx.decimal(c),
            "HEI" => o.hei = cx.int(c),
            "BSA" => o.bsa = cx.decimal(c),
            "B_DIAG" => {
                let mut d = OncologyDiagnostic::default();
                for g in c.children() {
                    match g.name() {
                        "DIAG_DATE" => d.diag_date = cx.date(g).unwrap_or_default(),
                        "DIAG_TIP" => d.diag_tip = cx.int(g).unwrap_or_default(),
                        "DIAG_CODE" => d.diag_code = cx.int(g).unwrap_or_default(),
                        "DIAG_RSLT" => d.diag_rslt = cx.int(g),
                        "REC_RSLT" => d.rec_rslt = cx.flag(g).unwrap_or_default(),
                        _ => cx.unplaced(g),
                    }
                }
                o.b_diag.push(d);
            }
            "B_PROT" => {
                let mut p = Contraindication::default();
                for g in c.children() {
                    match g.name() {
                        "PROT" => p.prot = cx.int(g).unwrap_or_default(),
                        "D_PROT" => p.d_prot = cx.date(g).unwrap_or_default(),
                        _ => cx.unplaced(g),
                    }
                }
                o.b_prot.push(p);
            }
            "ONK_USL" => o.onk_usl.push(oncology_service(c, cx)),
            _ => cx.unplaced(c),
        }
    }
    o
}

fn oncology_service(el: El<'_>, cx: &mut Cx) -> OncologyService {
    let mut u = OncologyService::default();
    for c in el.children() {
        match c.name() {
            "USL_TIP" => u.usl_tip = cx.int(c).unwrap_or_default(),
            "HIR_TIP" => u.hir_tip = cx.int(c),
            "LEK_TIP_L" => u.lek_tip_l = cx.int(c),
            "LEK_TIP_V" => u.lek_tip_v = cx.int(c),
            "LEK_PR" => {
                let mut d = OncologyDrug::default();
                for g in c.children() {
                    match g.name() {
                        "REGNUM" => d.regnum = cx.text(g),
                        "CODE_SH" => d.code_sh = cx.text(g),
                        "DATE_INJ" => d.date_inj.extend(cx.date(g)),
                        _ => cx.unplaced(g),
                    }
                }
                u.lek_pr.push(d);
            }
            "PPTR" => u.pptr = cx.flag(c).unwrap_or_default(),
            "LUCH_TIP" => u.luch_tip = cx.int(c),
            _ => cx.unplaced(c),
        }
    }
    u
}

fn screening_diagnosis(el: El<'_>, cx: &mut Cx) -> ScreeningDiagnosis {
    let mut d = ScreeningDiagnosis::default();
    for c in el.children() {
        match c.name() {
            "DS2" => d.ds2 = cx.text(c),
            "DS2_PR" => d.ds2_pr = cx.flag(c).unwrap_or_default(),
            "PR_DS2_N" => d.pr_ds2_n = cx.int(c).unwrap_or_default(),
            _ => cx.unplaced(c),
        }
    }
    d
}

fn prescription(el: El<'_>, cx: &mut Cx) -> Prescription {
    let mut n = Prescription::default();
    for c in el.children() {
        match c.name() {
            "NAZ_N" => n.naz_n = cx.int(c).unwrap_or_default(),
            "NAZ_R" => n.naz_r = cx.int(c).unwrap_or_default(),
            "NAZ_IDDOKT" => n.naz_iddokt = cx.opt_text(c).map(Personal::new),
            "NAZ_SP" => n.naz_sp = cx.int(c),
            "NAZ_V" => n.naz_v = cx.int(c),
            "NAZ_USL" => n.naz_usl = cx.opt_text(c),
            "NAPR_DATE" => n.napr_date = cx.date(c),
            "NAPR_MO" => n.napr_mo = cx.opt_text(c),
            "NAZ_PMP" => n.naz_pmp = cx.int(c),
            "NAZ_PK" => n.naz_pk = cx.int(c),
            _ => cx.unplaced(c),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::super::testing::{cp1251, fixture_text, read_bytes, read_fixture};
    use super::super::{Item, Summary};
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn kop(k: i64) -> Money {
        Money::from_kopecks(k)
    }

    fn dec(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn text(v: Option<&Personal<String>>) -> Option<&str> {
        v.map(Personal::as_str)
    }

    /// The header, the account and the records, checking they come in that order.
    fn split(items: Vec<Item>) -> (Option<AccountHeader>, Option<Account>, Vec<Zap>) {
        let (mut header, mut account, mut records) = (None, None, Vec::new());
        for item in items {
            match item {
                Item::Account(AccountItem::Header(h)) => {
                    assert!(account.is_none() && records.is_empty(), "ZGLV comes first");
                    header = Some(h);
                }
                Item::Account(AccountItem::Account(a)) => {
                    assert!(records.is_empty(), "SCHET comes before the records");
                    account = Some(a);
                }
                Item::Account(AccountItem::Record(z)) => records.push(*z),
                Item::Account(AccountItem::Refused(_)) => {}
                other => panic!("not an account item: {other:?}"),
            }
        }
        (header, account, records)
    }

    fn fixture(path: &str) -> (AccountHeader, Account, Vec<Zap>, Summary) {
        let (report, summary, items) = read_fixture(path);
        assert!(report.accepted, "{path}: {:#?}", report.findings);
        let (h, a, z) = split(items);
        (h.unwrap(), a.unwrap(), z, summary)
    }

    #[test]
    fn h_3_2_header_account_and_a_record_carry_the_values_of_the_file() {
        let (header, schet, zaps, summary) = fixture("zl_list/3.2/HM750096T75_2601001.xml");
        assert_eq!(summary.records, 3);
        assert_eq!(header.version, "3.2");
        assert_eq!(header.data, date(2026, 2, 3));
        assert_eq!(header.filename, "HM750096T75_2601001");
        assert_eq!(header.sd_z, 3);
        assert_eq!(schet.code, 26_010_001);
        assert_eq!(schet.code_mo, "750096");
        assert_eq!((schet.year, schet.month), (2026, 1));
        assert_eq!(schet.period().unwrap(), Period::new(2026, 1).unwrap());
        assert_eq!(schet.nschet, "0001-01/26");
        assert_eq!(schet.dschet, date(2026, 2, 3));
        assert_eq!(schet.plat.as_deref(), Some("75001"));
        assert_eq!(schet.summav, kop(268_260));
        assert_eq!(schet.coments.as_deref(), Some("Поликлиника, январь 2026"));
        assert_eq!(
            (schet.summap, schet.reference, schet.disp),
            (None, None, None)
        );
        assert_eq!(schet.line, 9);

        let zap = &zaps[0];
        assert_eq!((zap.n_zap, zap.pr_nov), (1, false));
        let patient = &zap.pacient;
        assert_eq!(patient.id_pac, "8f3c2a10-5b7e-4d21-9a64-1e0c7b5d3f21");
        assert_eq!(patient.vpolis, 3);
        assert_eq!(patient.spolis, None, "<SPOLIS></SPOLIS> is no value");
        assert_eq!(patient.npolis, None, "<NPOLIS/> is no value");
        assert_eq!(text(patient.enp.as_ref()), Some("7556510837000174"));
        assert_eq!(patient.st_okato.as_deref(), Some("76000"));
        assert_eq!(patient.smo.as_deref(), Some("75001"));
        assert_eq!(patient.novor.as_str(), "0");
        assert_eq!((patient.inv, patient.mse), (None, false));
        let case = &zap.case;
        assert_eq!(case.idcase, 100_001);
        assert_eq!(
            (case.usl_ok, case.vidpom, case.for_pom),
            (Some(3), 12, Some(3))
        );
        assert_eq!(case.lpu, "750096");
        assert_eq!(
            (case.date_z_1, case.date_z_2),
            (date(2026, 1, 12), date(2026, 1, 12))
        );
        assert_eq!(
            (case.rslt, case.ishod, case.rslt_d),
            (Some(301), Some(303), None)
        );
        assert_eq!((case.idsp, case.sumv), (29, kop(61_240)));
        assert_eq!((case.oplata, case.sump), (None, None));
        assert!(case.sank.is_empty());
        let [sl] = <[Episode; 1]>::try_from(case.episodes.clone()).unwrap();
        assert_eq!(sl.sl_id, "6d1b9e40-0c3a-4f7e-8b12-3a5c9e7d0a11");
        assert_eq!(sl.lpu_1.as_deref(), Some("75009601"));
        assert_eq!(
            (sl.podr, sl.profil, sl.det),
            (Some(101), Some(97), Some(false))
        );
        assert_eq!(sl.p_cel.as_deref(), Some("1.0"));
        assert_eq!(sl.nhistory, "А-2026-000125");
        assert_eq!(
            (sl.date_1, sl.date_2),
            (date(2026, 1, 12), date(2026, 1, 12))
        );
        assert_eq!(sl.ds1, "J06.9");
        assert!(sl.ds2.is_empty());
        assert_eq!(sl.c_zab, Some(1));
        assert_eq!((sl.prvs, sl.vers_spec.as_deref()), (Some(76), Some("V021")));
        assert_eq!(text(sl.iddokt.as_ref()), Some("789-123-456 44"));
        assert_eq!(sl.ed_col, Some(dec("1")));
        assert_eq!((sl.tarif, sl.sum_m), (Some(kop(61_240)), kop(61_240)));
        assert_eq!(sl.comentsl, None, "<COMENTSL/> is no value");
        let usl = &sl.services[0];
        assert_eq!((usl.idserv.as_str(), usl.lpu.as_str()), ("1", "750096"));
        assert_eq!(usl.vid_vme.as_deref(), Some("B01.047.001"));
        assert_eq!(
            (usl.date_in, usl.date_out),
            (date(2026, 1, 12), date(2026, 1, 12))
        );
        assert_eq!(
            (usl.ds.as_deref(), usl.code_usl.as_str()),
            (Some("J06.9"), "1.97.001")
        );
        assert_eq!(usl.kol_usl, Some(dec("1.00")));
        assert_eq!((usl.tarif, usl.sumv_usl), (kop(61_240), kop(61_240)));
        assert_eq!(usl.mr_usl_n.len(), 1);
        assert_eq!((usl.mr_usl_n[0].mr_n, usl.mr_usl_n[0].prvs), (1, Some(76)));
        assert_eq!(
            (usl.prvs, usl.code_md.clone()),
            (None, None),
            "3.2 has MR_USL_N instead"
        );
        assert!(
            !format!("{zap:?}").contains("7556510837000174"),
            "the ENP stays out of Debug"
        );
    }

    #[test]
    fn h_3_2_repeated_services_and_workers_and_the_sums() {
        let (_, schet, zaps, _) = fixture("zl_list/3.2/HM750096T75_2601001.xml");
        let [first, second, third] = <[Zap; 3]>::try_from(zaps).unwrap();
        // A three-visit episode, one service with two workers.
        assert_eq!(second.pacient.inv, Some(2));
        let sl = &second.case.episodes[0];
        assert_eq!(sl.dn, Some(1));
        let ids: Vec<&str> = sl.services.iter().map(|u| u.idserv.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        let workers = &sl.services[1].mr_usl_n;
        assert_eq!(workers.iter().map(|w| w.mr_n).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(text(workers[0].code_md.as_ref()), Some("852-963-741 50"));
        assert_eq!(workers[1].prvs, Some(23));
        assert_eq!(third.case.episodes[0].det, Some(true));
        // Sums as the business rules will add them.
        let zaps = [&first, &second, &third];
        let total = Money::checked_sum(zaps.map(|z| z.case.sumv)).unwrap();
        assert_eq!(total, schet.summav);
        for zap in zaps {
            let episodes = Money::checked_sum(zap.case.episodes.iter().map(|s| s.sum_m));
            assert_eq!(episodes, Some(zap.case.sumv));
        }
        assert!(first.line < second.line && second.line < third.line);
    }

    #[test]
    fn h_3_2_inpatient_case_with_drg_drugs_and_devices() {
        let (_, a, z, _) = fixture("zl_list/3.2/HM750096T75_2601002.xml");
        assert_eq!(a.summav, kop(4_394_108));
        let c = &z[0].case;
        assert_eq!(
            (c.npr_mo.as_deref(), c.npr_date),
            (Some("750052"), Some(date(2026, 1, 9)))
        );
        assert_eq!((c.kd_z, c.rslt, c.ishod), (Some(9), Some(101), Some(102)));
        let sl = &c.episodes[0];
        assert_eq!((sl.profil_k, sl.p_per), (Some(11), Some(1)));
        assert_eq!((sl.kd, sl.wei), (Some(dec("9")), Some(dec("81.5"))));
        assert_eq!(sl.ds2, ["I11.9", "E11.9"]);
        let k = sl.ksg_kpg.as_ref().unwrap();
        assert_eq!(
            (k.n_ksg.as_str(), k.ver_ksg, k.ksg_pg),
            ("st13.002", 2026, false)
        );
        assert_eq!((k.koef_z, k.koef_up), (dec("1.42"), dec("1")));
        assert_eq!(k.bztsz, kop(2_800_400));
        assert_eq!((k.koef_d, k.koef_u), (dec("1.105"), dec("1")));
        assert_eq!(
            (k.sl_k, k.it_sl, k.crit.len(), k.sl_koef.len()),
            (false, None, 0, 0)
        );
        let drug = &sl.lek_pr[0];
        assert_eq!(drug.data_inj, date(2026, 1, 14));
        assert_eq!(
            (drug.code_sh.as_str(), drug.regnum.as_deref()),
            ("sh0019", Some("001234"))
        );
        let dose = drug.lek_dose.as_ref().unwrap();
        assert_eq!(dose.ed_izm, "876");
        assert_eq!(
            (dose.dose_inj, dose.method_inj.as_str(), dose.col_inj),
            (dec("5"), "035", 1)
        );
        let usl = &sl.services[0];
        assert_eq!(usl.tarif, Money::ZERO);
        let device = &usl.med_dev[0];
        assert_eq!(
            (device.date_med, device.code_meddev),
            (date(2026, 1, 15), 216_580)
        );
        assert_eq!(device.number_ser, "SN-CS-2025-004417");
        assert_eq!(usl.mr_usl_n.len(), 2);
        assert_eq!(sl.services[1].kol_usl, Some(dec("9")));
        assert_eq!(
            (sl.services[1].date_in, sl.services[1].date_out),
            (date(2026, 1, 13), date(2026, 1, 22))
        );
    }

    #[test]
    fn h_3_1_has_the_enp_in_npolis_and_one_worker_per_service() {
        let (header, schet, zaps, _) = fixture("zl_list/3.1/HM750096T75_2104001.xml");
        assert_eq!(header.version, "3.1");
        assert_eq!(
            (schet.month, schet.plat.as_deref()),
            (4, Some("75")),
            "MONTH 04 is 4"
        );
        assert_eq!(schet.summav, kop(163_300));
        assert_eq!(zaps.len(), 2);
        let patient = &zaps[0].pacient;
        assert_eq!(text(patient.npolis.as_ref()), Some("2855420885005126"));
        assert_eq!((patient.enp.clone(), patient.spolis.clone()), (None, None));
        assert_eq!(
            (
                patient.smo.as_deref(),
                patient.smo_ogrn.clone(),
                patient.smo_ok.clone()
            ),
            (Some("28004"), None, None)
        );
        let sl = &zaps[0].case.episodes[0];
        assert_eq!(
            (sl.lpu_1.clone(), sl.podr, sl.profil),
            (None, Some(105), Some(100))
        );
        let usl = &sl.services[0];
        assert!(usl.mr_usl_n.is_empty());
        assert_eq!(usl.prvs, Some(93));
        assert!(usl.code_md.is_some());
        let total = Money::checked_sum(zaps.iter().map(|z| z.case.sumv)).unwrap();
        assert_eq!(total, schet.summav);
    }

    #[test]
    fn t_carries_the_high_tech_voucher() {
        let (_, a, z, _) = fixture("zl_list/3.1/TM750096T75_2104001.xml");
        assert_eq!(a.summav, z[0].case.sumv);
        let sl = &z[0].case.episodes[0];
        assert_eq!(sl.vid_hmp.as_deref(), Some("14.00.12.002"));
        assert_eq!(sl.metod_hmp, Some(478));
        assert_eq!(sl.tal_d, Some(date(2021, 3, 29)));
        assert_eq!(sl.tal_num.as_deref(), Some("75.0000.00417.021"));
        assert_eq!(sl.tal_p, Some(date(2021, 4, 5)));
        assert_eq!(
            (sl.ds_onk, sl.ds2.as_slice()),
            (Some(false), ["I11.9".to_owned()].as_slice())
        );
        assert_eq!(sl.sum_m, kop(19_586_200));
        assert_eq!(sl.ksg_kpg, None);
    }

    #[test]
    fn c_carries_the_oncology_blocks() {
        let (_, _, z, _) = fixture("zl_list/3.1/CM750096T75_2104001.xml");
        let sl = &z[0].case.episodes[0];
        assert_eq!(
            (sl.ds1.as_str(), sl.ds_onk, sl.dn),
            ("C50.4", Some(false), Some(1))
        );
        let [napr] = <[Referral; 1]>::try_from(sl.napr.clone()).unwrap();
        assert_eq!(napr.napr_date, date(2021, 4, 21));
        assert_eq!(
            (napr.napr_mo.as_deref(), napr.napr_v, napr.met_issl),
            (Some("750052"), 3, Some(2))
        );
        assert_eq!(napr.napr_usl.as_deref(), Some("A06.20.004"));
        assert_eq!(sl.cons.len(), 1);
        assert_eq!(
            (sl.cons[0].pr_cons, sl.cons[0].dt_cons),
            (1, Some(date(2021, 4, 21)))
        );
        let onk = sl.onk_sl.as_ref().unwrap();
        assert_eq!(
            (onk.ds1_t, onk.stad, onk.onk_t, onk.onk_n, onk.onk_m),
            (4, Some(12), Some(21), Some(35), Some(60))
        );
        assert!(!onk.mtstz && onk.onk_usl.is_empty() && onk.b_prot.is_empty());
        let d = &onk.b_diag[0];
        assert_eq!(
            (
                d.diag_date,
                d.diag_tip,
                d.diag_code,
                d.diag_rslt,
                d.rec_rslt
            ),
            (date(2020, 11, 10), 1, 10, Some(10), true)
        );
        assert_eq!(sl.services[0].kol_usl, Some(dec("1")));
    }

    #[test]
    fn d_carries_the_screening_fields() {
        let (_, a, z, _) = fixture("zl_list/3.1/DPM750096T75_2109001.xml");
        assert_eq!(a.disp.as_deref(), Some("ДВ4"));
        let p = &z[0].pacient;
        assert_eq!(
            (text(p.enp.as_ref()), p.npolis.clone(), p.smo_nam.clone()),
            (Some("7548240897002412"), None, None)
        );
        let c = &z[0].case;
        assert_eq!(
            (c.usl_ok, c.for_pom, c.rslt, c.ishod),
            (None, None, None, None)
        );
        assert_eq!(
            (c.vbr, c.p_otk, c.rslt_d),
            (Some(false), Some(false), Some(32))
        );
        let sl = &c.episodes[0];
        assert_eq!(
            (sl.profil, sl.det, sl.prvs, sl.iddokt.clone()),
            (None, None, None, None)
        );
        assert_eq!(
            (sl.ds_onk, sl.pr_d_n, sl.ds1_pr),
            (Some(false), Some(3), false)
        );
        assert_eq!(sl.ds2_n.len(), 1);
        assert_eq!(
            (
                sl.ds2_n[0].ds2.as_str(),
                sl.ds2_n[0].pr_ds2_n,
                sl.ds2_n[0].ds2_pr
            ),
            ("I11.9", 1, false)
        );
        let naz = &sl.naz[0];
        assert_eq!((naz.naz_n, naz.naz_r, naz.naz_v), (1, 3, Some(2)));
        assert_eq!(text(naz.naz_iddokt.as_ref()), Some("789-123-456 44"));
        assert_eq!(
            (
                naz.naz_usl.as_deref(),
                naz.napr_date,
                naz.napr_mo.as_deref()
            ),
            (
                Some("A04.12.005.003"),
                Some(date(2021, 9, 14)),
                Some("750096")
            )
        );
        assert_eq!(sl.services.len(), 4);
        let refused = &sl.services[2];
        assert_eq!((refused.p_otk, refused.sumv_usl), (Some(true), Money::ZERO));
        assert_eq!(
            (
                refused.mr_usl_n[0].mr_n,
                refused.mr_usl_n[0].prvs,
                refused.mr_usl_n[0].code_md.clone()
            ),
            (1, None, None)
        );
        assert_eq!(
            (refused.profil, refused.ds.clone(), refused.kol_usl),
            (None, None, None)
        );
        let sum = Money::checked_sum(sl.services.iter().map(|u| u.sumv_usl)).unwrap();
        assert_eq!(sum, sl.sum_m);
    }

    #[test]
    fn sanctions_repeat_with_their_lists() {
        let xml = fixture_text("zl_list/3.2/invalid/HM750096T75_2601001_905_S_CODE.xml")
            .replacen(
                "<S_CODE>MEK-2026-000017</S_CODE>",
                "<S_CODE>MEK-2026-000016</S_CODE>",
                1,
            )
            .replacen(
                "<NUM_ACT>МЭК-17/26</NUM_ACT>",
                "<NUM_ACT>МЭК-17/26</NUM_ACT><CODE_EXP>7500012</CODE_EXP><CODE_EXP>7500013</CODE_EXP><S_COM> проверка  МЭК </S_COM>",
                1,
            );
        let (report, _, items) = read_bytes("HM750096T75_2601001.xml", &cp1251(&xml));
        assert!(report.accepted, "{:#?}", report.findings);
        let (_, _, z) = split(items);
        let c = &z[0].case;
        assert_eq!(
            (c.oplata, c.sump, c.sank_it),
            (Some(3), Some(kop(48_992)), Some(kop(12_248)))
        );
        assert_eq!(c.sank.len(), 2);
        let [s1, s2] = [&c.sank[0], &c.sank[1]];
        assert_eq!(
            (s1.s_code.as_str(), s2.s_code.as_str()),
            ("MEK-2026-000016", "MEK-2026-000017")
        );
        assert_eq!(
            (s1.s_sum, s1.s_tip, s1.s_osn, s2.s_osn),
            (kop(6_124), 1, Some(53), Some(54))
        );
        assert_eq!(s1.sl_id, ["6d1b9e40-0c3a-4f7e-8b12-3a5c9e7d0a11"]);
        assert_eq!(
            (s1.date_act, s1.num_act.as_str(), s1.s_ist),
            (date(2026, 2, 10), "МЭК-17/26", 1)
        );
        assert_eq!(s1.code_exp, ["7500012", "7500013"]);
        assert_eq!(
            s1.s_com.as_deref(),
            Some("проверка МЭК"),
            "whitespace collapsed"
        );
        assert!(s2.code_exp.is_empty() && s2.s_com.is_none());
        assert!(s1.line < s2.line);
        let total = Money::checked_sum(c.sank.iter().map(|s| s.s_sum));
        assert_eq!(total, c.sank_it);
    }

    #[test]
    fn a_refused_record_is_counted_and_the_others_built() {
        for (path, refused_zap) in [
            ("HM750096T75_2601001_902_empty_NHISTORY.xml", 2),
            ("HM750096T75_2601001_901_order_DATE_Z.xml", 2),
            ("HM750096T75_2601001_903_date_DATE_1.xml", 3),
            ("HM750096T75_2601001_904_value_PR_NOV.xml", 1),
            ("HM750096T75_2601001_905_IDSERV.xml", 2),
        ] {
            let (report, summary, items) = read_fixture(&format!("zl_list/3.2/invalid/{path}"));
            assert_eq!((report.records, report.refused_records), (3, 1), "{path}");
            assert_eq!(
                (summary.records, summary.refused, summary.headers_refused),
                (2, 1, 0),
                "{path}"
            );
            let refused: Vec<RefusedZap> = items
                .iter()
                .filter_map(|i| match i {
                    Item::Account(AccountItem::Refused(r)) => Some(r.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                refused.len(),
                1,
                "{path}: the refused ZAP is handed on as such"
            );
            assert!(refused[0].id_pac.is_some(), "{path}: {refused:?}");
            let (h, a, z) = split(items);
            assert!(h.is_some() && a.is_some(), "{path}");
            let built: Vec<u64> = z.iter().map(|z| z.n_zap).collect();
            let expected: Vec<u64> = (1..=3).filter(|&n| n != refused_zap).collect();
            assert_eq!(built, expected, "{path}");
        }
    }

    #[test]
    fn every_invalid_sample_agrees_with_its_report() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/xml/zl_list/3.2/invalid");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let (report, summary, items) = read_fixture(&format!("zl_list/3.2/invalid/{name}"));
            assert!(!report.accepted, "{name}");
            assert_eq!(
                summary.records,
                report.records - report.refused_records,
                "{name}"
            );
            assert_eq!(summary.refused, report.refused_records, "{name}");
            let (_, _, z) = split(items);
            assert_eq!(u64::try_from(z.len()).unwrap(), summary.records, "{name}");
            seen += 1;
        }
        assert!(seen >= 10);
    }

    #[test]
    fn a_refused_account_is_not_handed_on_and_the_records_are() {
        let xml = fixture_text("zl_list/3.2/HM750096T75_2601001.xml")
            .replace("<SUMMAV>2682.60</SUMMAV>", "<SUMMAV>2682,60</SUMMAV>");
        let (report, summary, items) = read_bytes("HM750096T75_2601001.xml", &cp1251(&xml));
        assert_eq!(report.findings.len(), 1);
        assert_eq!(
            (summary.records, summary.refused, summary.headers_refused),
            (3, 0, 1)
        );
        let (h, a, z) = split(items);
        assert!(h.is_some());
        assert!(a.is_none(), "a SCHET with a finding is not built");
        assert_eq!(z.len(), 3);
    }
}
