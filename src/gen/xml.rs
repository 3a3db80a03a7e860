//! Writing the package: the H and L files record by record in windows-1251, then the ZIP.
//!
//! Each record's text is built in one reused `String`, encoded and written through a
//! `BufWriter`; nothing else is kept per record. The values are fixed lists and digits, so no
//! XML escaping is needed.

use std::collections::BTreeMap;
use std::fmt::{Display, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use chrono::{Days, NaiveDate};

use super::model::{Case, Patient, years_between};
use super::rng::{DEFECTS, Rng};
use super::{AccountsOptions, Defect, Defects, Package, RuleDefect, WrittenFile, check, paths};
use crate::domain::{Enp, Money, Okato, Sex, Territory, territory};

/// An XML file being written: a reused text buffer over a windows-1251 byte stream.
struct XmlOut {
    out: BufWriter<File>,
    text: String,
    bytes: u64,
}

impl XmlOut {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self {
            out: BufWriter::with_capacity(256 * 1024, file),
            text: String::with_capacity(8 * 1024),
            bytes: 0,
        })
    }

    /// `<name>value</name>` on its own line at `depth`.
    fn el(&mut self, depth: usize, name: &str, value: impl Display) {
        self.indent(depth);
        let _ = writeln!(self.text, "<{name}>{value}</{name}>");
    }

    fn open(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        let _ = writeln!(self.text, "<{name}>");
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        let _ = writeln!(self.text, "</{name}>");
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.text.push_str("  ");
        }
    }

    /// Encodes the buffered text and writes it.
    fn flush_text(&mut self) -> anyhow::Result<()> {
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&self.text);
        anyhow::ensure!(!unmappable, "text not representable in windows-1251");
        self.out.write_all(&bytes)?;
        self.bytes += bytes.len() as u64;
        self.text.clear();
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        self.flush_text()?;
        self.out.flush()?;
        Ok(self.bytes)
    }
}

/// The records that carry a defect: distinct records, 905 never on the first.
fn plan(options: &AccountsOptions) -> BTreeMap<u64, Defect> {
    let mut r = Rng::stream(options.seed, DEFECTS, 0);
    let mut chosen = BTreeMap::new();
    // 905 first: it cannot use record 0, the others can take whatever is left.
    let order = [
        Defect::DuplicateKey,
        Defect::WrongOrder,
        Defect::EmptyMandatory,
        Defect::BadFormat,
        Defect::NotAllowed,
    ];
    for kind in order {
        let low = u64::from(kind == Defect::DuplicateKey);
        for _ in 0..options.defects.count(kind) {
            loop {
                let at = low + r.below(options.cases - low);
                if let std::collections::btree_map::Entry::Vacant(v) = chosen.entry(at) {
                    v.insert(kind);
                    break;
                }
            }
        }
    }
    chosen
}

/// What a record carries: a defect of the schema, a defect of the rules, or nothing on
/// purpose (the case a duplicate repeats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planned {
    Rule(RuleDefect),
    Keep,
}

/// The records that carry a rule defect, apart from `taken` (the schema defects): each kind on
/// records that fit it.
fn plan_rules(
    options: &AccountsOptions,
    taken: &BTreeMap<u64, Defect>,
) -> anyhow::Result<BTreeMap<u64, Planned>> {
    let mut r = Rng::stream(options.seed, DEFECTS, 1);
    let mut chosen: BTreeMap<u64, Planned> = BTreeMap::new();
    let free = |chosen: &BTreeMap<u64, Planned>, at: u64| {
        !taken.contains_key(&at) && !chosen.contains_key(&at)
    };
    for kind in RuleDefect::ALL {
        for _ in 0..options.rule_defects.count(kind) {
            let mut tries = 0u64;
            loop {
                tries += 1;
                anyhow::ensure!(
                    tries < 100_000,
                    "no record fits another rule defect {} among {} cases",
                    kind.name(),
                    options.cases
                );
                let at = r.below(options.cases);
                if !free(&chosen, at) {
                    continue;
                }
                let continuing = at > 0 && !Case::new_patient(options.seed, at);
                let fits = match kind {
                    RuleDefect::Duplicate => continuing && free(&chosen, at - 1),
                    RuleDefect::IdPac => continuing,
                    RuleDefect::Doctor => {
                        Case::episode_count(options.seed, at, options.period)? == 1
                    }
                    RuleDefect::Episode => {
                        Case::episode_count(options.seed, at, options.period)? >= 2
                    }
                    _ => true,
                };
                if fits {
                    chosen.insert(at, Planned::Rule(kind));
                    if kind == RuleDefect::Duplicate {
                        chosen.insert(at - 1, Planned::Keep);
                    }
                    break;
                }
            }
        }
    }
    Ok(chosen)
}

/// The rule defect of record `index`, if any.
fn rule_at(rules: &BTreeMap<u64, Planned>, index: u64) -> Option<RuleDefect> {
    match rules.get(&index) {
        Some(Planned::Rule(kind)) => Some(*kind),
        _ => None,
    }
}

/// Generates the cases of `options` one at a time, with the patient of each.
struct Cases<'a> {
    options: &'a AccountsOptions,
    index: u64,
    patients: u64,
    patient: Option<Patient>,
    /// Dates and first profile of the current patient's cases.
    seen: Vec<(NaiveDate, NaiveDate, u16)>,
}

/// What makes two cases of one patient the same case to the rules (003K.00.0410).
fn case_key(case: &Case) -> (NaiveDate, NaiveDate, u16) {
    (
        case.begin,
        case.end,
        case.episodes.first().map_or(0, |e| e.profile.profil),
    )
}

impl<'a> Cases<'a> {
    fn new(options: &'a AccountsOptions) -> Self {
        Self {
            options,
            index: 0,
            patients: 0,
            patient: None,
            seen: Vec::new(),
        }
    }

    fn new_patient(&mut self) -> anyhow::Result<()> {
        let o = self.options;
        self.patient = Some(Patient::generate(o.seed, self.patients, &o.tf, o.period)?);
        self.patients += 1;
        self.seen.clear();
        Ok(())
    }

    /// The next case and whether its patient is new, or `None` after the last. A duplicate
    /// (`rules`) repeats the case before it; any other case that would repeat an earlier case
    /// of its patient goes to a new patient instead, so no duplicate is made by chance.
    fn next_case(
        &mut self,
        rules: &BTreeMap<u64, Planned>,
    ) -> anyhow::Result<Option<(Case, bool)>> {
        let o = self.options;
        if self.index >= o.cases {
            return Ok(None);
        }
        let mut new = Case::new_patient(o.seed, self.index);
        if new || self.patient.is_none() {
            self.new_patient()?;
        }
        let birth = self.patient.as_ref().map_or(NaiveDate::MIN, |p| p.birth);
        let duplicate = rule_at(rules, self.index) == Some(RuleDefect::Duplicate);
        let source = if duplicate {
            self.index - 1
        } else {
            self.index
        };
        let mut case = Case::generate(o.seed, source, o.period, birth)?;
        if !duplicate && self.seen.contains(&case_key(&case)) {
            self.new_patient()?;
            new = true;
            let birth = self.patient.as_ref().map_or(NaiveDate::MIN, |p| p.birth);
            case = Case::generate(o.seed, source, o.period, birth)?;
        }
        self.seen.push(case_key(&case));
        self.index += 1;
        Ok(Some((case, new)))
    }

    fn patient(&self) -> anyhow::Result<&Patient> {
        self.patient.as_ref().context("no patient yet")
    }
}

/// Writes the H file, the L file and the ZIP of `options` into `dir` (created if missing).
pub fn write_package(dir: &Path, options: &AccountsOptions) -> anyhow::Result<Package> {
    check(options)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let defects = plan(options);
    let rules = plan_rules(options, &defects)?;
    // First pass: SUMMAV comes before the records, so add up the cases without writing.
    let mut total = Money::ZERO;
    let mut cases = Cases::new(options);
    let mut index = 0;
    while let Some((case, _)) = cases.next_case(&rules)? {
        total = total
            .checked_add(sumv(&case, rule_at(&rules, index)))
            .context("the account total overflows")?;
        index += 1;
    }
    let [h_path, l_path, zip_path] = paths(dir, options);
    let okato = territory(&options.tf)
        .map(Territory::okato)
        .with_context(|| format!("territory {} is unknown", options.tf))?;
    let issued = options.period.last_day() + Days::new(3);
    let mut h = XmlOut::create(&h_path)?;
    let mut l = XmlOut::create(&l_path)?;
    header_h(&mut h, options, issued, total);
    header_l(&mut l, options, issued);
    let mut cases = Cases::new(options);
    let mut persons = 0;
    let mut last_n_zap = 0;
    let mut index = 0;
    let mut rule_defects = Vec::new();
    while let Some((case, new)) = cases.next_case(&rules)? {
        let patient = cases.patient()?;
        let defect = defects.get(&index).copied();
        let rule = rule_at(&rules, index);
        let n_zap = if defect == Some(Defect::DuplicateKey) {
            last_n_zap
        } else {
            index + 1
        };
        last_n_zap = n_zap;
        if let Some(kind) = rule {
            rule_defects.push((n_zap, kind));
        }
        zap(
            &mut h,
            options,
            &okato,
            (n_zap, index + 1),
            patient,
            &case,
            (defect, rule),
        );
        h.flush_text()?;
        if new {
            pers(&mut l, patient, &okato);
            l.flush_text()?;
            persons += 1;
        }
        index += 1;
    }
    h.text.push_str("</ZL_LIST>\n");
    l.text.push_str("</PERS_LIST>\n");
    let h_bytes = h.finish()?;
    let l_bytes = l.finish()?;
    let zip_bytes = write_zip(&zip_path, &[&h_path, &l_path], issued)?;
    let mut counts = Defects::default();
    for kind in defects.values() {
        *counts.0.entry(*kind).or_insert(0) += 1;
    }
    Ok(Package {
        files: [
            WrittenFile {
                path: h_path,
                records: options.cases,
                bytes: h_bytes,
                defects: counts,
            },
            WrittenFile {
                path: l_path,
                records: persons,
                bytes: l_bytes,
                defects: Defects::default(),
            },
            WrittenFile {
                path: zip_path,
                records: 2,
                bytes: zip_bytes,
                defects: Defects::default(),
            },
        ],
        total,
        rule_defects,
    })
}

/// SUMV as written: one kopeck more for [`RuleDefect::Sumv`].
fn sumv(case: &Case, rule: Option<RuleDefect>) -> Money {
    let sum = case.sum();
    if rule == Some(RuleDefect::Sumv) {
        Money::from_kopecks(sum.kopecks() + 1)
    } else {
        sum
    }
}

/// The SNILS text with its check number changed.
fn broken_snils(snils: &str) -> String {
    let (body, check) = snils.split_at(snils.len() - 2);
    let check: u32 = check.parse().unwrap_or(0);
    format!("{body}{:02}", (check + 1) % 100)
}

/// The ENP text with its check digit changed.
fn broken_enp(enp: &str) -> String {
    let (body, check) = enp.split_at(enp.len() - 1);
    let check: u32 = check.parse().unwrap_or(0);
    format!("{body}{}", (check + 1) % 10)
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n";

fn header_h(h: &mut XmlOut, o: &AccountsOptions, issued: NaiveDate, total: Money) {
    let (yy, mm) = (o.period.year() % 100, o.period.month());
    h.text.push_str(XML_DECLARATION);
    h.open(0, "ZL_LIST");
    h.open(1, "ZGLV");
    h.el(2, "VERSION", "3.2");
    h.el(2, "DATA", issued);
    h.el(2, "FILENAME", o.h_name());
    h.el(2, "SD_Z", o.cases);
    h.close(1, "ZGLV");
    h.open(1, "SCHET");
    h.el(
        2,
        "CODE",
        format_args!("{yy:02}{mm:02}{:04}", o.package % 10_000),
    );
    h.el(2, "CODE_MO", &o.mo);
    h.el(2, "YEAR", o.period.year());
    h.el(2, "MONTH", mm);
    h.el(
        2,
        "NSCHET",
        format_args!("{:04}-{mm:02}/{yy:02}", o.package % 10_000),
    );
    h.el(2, "DSCHET", issued);
    h.el(2, "PLAT", &o.tf);
    h.el(2, "SUMMAV", total);
    h.el(2, "COMENTS", "Синтетические данные omshub gen");
    h.close(1, "SCHET");
}

fn header_l(l: &mut XmlOut, o: &AccountsOptions, issued: NaiveDate) {
    l.text.push_str(XML_DECLARATION);
    l.open(0, "PERS_LIST");
    l.open(1, "ZGLV");
    l.el(2, "VERSION", "3.2");
    l.el(2, "DATA", issued);
    l.el(2, "FILENAME", o.l_name());
    l.el(2, "FILENAME1", o.h_name());
    l.close(1, "ZGLV");
}

#[expect(clippy::too_many_lines, reason = "one record, element by element")]
fn zap(
    h: &mut XmlOut,
    o: &AccountsOptions,
    okato: &Okato,
    (n_zap, idcase): (u64, u64),
    p: &Patient,
    case: &Case,
    (defect, rule): (Option<Defect>, Option<RuleDefect>),
) {
    h.open(1, "ZAP");
    h.el(2, "N_ZAP", n_zap);
    h.el(
        2,
        "PR_NOV",
        if defect == Some(Defect::NotAllowed) {
            2
        } else {
            0
        },
    );
    h.open(2, "PACIENT");
    if rule == Some(RuleDefect::IdPac) {
        h.el(
            3,
            "ID_PAC",
            format_args!("00000000-0000-4000-8000-{n_zap:012x}"),
        );
    } else {
        h.el(3, "ID_PAC", &p.id);
    }
    h.el(3, "VPOLIS", 3);
    match rule {
        Some(RuleDefect::EnpMissing) => {}
        Some(RuleDefect::EnpCheck) => h.el(3, "ENP", broken_enp(&p.enp.to_string())),
        Some(RuleDefect::EnpFacet) => {
            let other = match p.sex {
                Sex::Male => Sex::Female,
                Sex::Female => Sex::Male,
            };
            match Enp::generate(&o.tf, p.birth, other, p.enp.serial()) {
                Ok(enp) => h.el(3, "ENP", &enp),
                Err(_) => h.el(3, "ENP", &p.enp),
            }
        }
        _ => h.el(3, "ENP", &p.enp),
    }
    h.el(3, "ST_OKATO", okato);
    h.el(3, "SMO", &p.smo);
    if let Some(inv) = case.inv {
        h.el(3, "INV", inv);
    }
    h.el(3, "NOVOR", 0);
    h.close(2, "PACIENT");
    h.open(2, "Z_SL");
    h.el(3, "IDCASE", idcase);
    h.el(3, "USL_OK", 3);
    if rule == Some(RuleDefect::Vidpom) {
        h.el(3, "VIDPOM", 99);
    } else {
        h.el(3, "VIDPOM", case.vidpom);
    }
    h.el(3, "FOR_POM", case.for_pom);
    h.el(3, "LPU", &o.mo);
    if defect == Some(Defect::WrongOrder) {
        h.el(3, "DATE_Z_2", case.end);
        h.el(3, "DATE_Z_1", case.begin);
    } else if rule == Some(RuleDefect::AfterPeriod) {
        h.el(3, "DATE_Z_1", case.begin);
        h.el(3, "DATE_Z_2", o.period.last_day() + Days::new(1));
    } else {
        h.el(3, "DATE_Z_1", case.begin);
        h.el(3, "DATE_Z_2", case.end);
    }
    if rule == Some(RuleDefect::Setting) {
        h.el(3, "RSLT", 101);
    } else {
        h.el(3, "RSLT", case.rslt);
    }
    h.el(3, "ISHOD", case.ishod);
    let lpu_1 = format!("{}01", o.mo);
    for (i, e) in case.episodes.iter().enumerate() {
        let first = i == 0;
        let det = u8::from(years_between(p.birth, e.begin) < 18);
        let profile = e.profile;
        h.open(3, "SL");
        h.el(4, "SL_ID", i + 1);
        h.el(4, "LPU_1", &lpu_1);
        h.el(4, "PROFIL", profile.profil);
        h.el(4, "DET", det);
        h.el(4, "P_CEL", e.p_cel);
        if first && defect == Some(Defect::EmptyMandatory) {
            h.el(4, "NHISTORY", "");
        } else {
            h.el(
                4,
                "NHISTORY",
                format_args!("{}-{}-{:06}", profile.letter, o.period.year(), e.history),
            );
        }
        if first && defect == Some(Defect::BadFormat) {
            h.el(4, "DATE_1", format_args!("{}-02-30", o.period.year()));
        } else if i == 1 && rule == Some(RuleDefect::Episode) {
            h.el(4, "DATE_1", e.end + Days::new(1));
        } else {
            h.el(4, "DATE_1", e.begin);
        }
        h.el(4, "DATE_2", e.end);
        if first && rule == Some(RuleDefect::Sex) {
            h.el(4, "DS1", if p.sex == Sex::Male { "N95.1" } else { "N40" });
        } else {
            h.el(4, "DS1", e.ds1);
        }
        h.el(4, "PRVS", profile.prvs);
        h.el(4, "VERS_SPEC", "V021");
        if first && rule == Some(RuleDefect::Doctor) {
            h.el(4, "IDDOKT", broken_snils(&e.doctor.to_string()));
        } else {
            h.el(4, "IDDOKT", &e.doctor);
        }
        h.el(4, "SUM_M", e.sum());
        for (k, s) in e.services.iter().enumerate() {
            h.open(4, "USL");
            h.el(5, "IDSERV", k + 1);
            h.el(5, "LPU", &o.mo);
            h.el(5, "LPU_1", &lpu_1);
            h.el(5, "PROFIL", profile.profil);
            h.el(5, "VID_VME", s.kind.vid_vme);
            h.el(5, "DET", det);
            h.el(5, "DATE_IN", s.day);
            h.el(5, "DATE_OUT", s.day);
            h.el(5, "DS", e.ds1);
            h.el(5, "CODE_USL", s.kind.code_usl);
            h.el(5, "KOL_USL", format_args!("{}.00", s.count));
            h.el(5, "TARIF", Money::from_kopecks(s.kind.tarif));
            h.el(5, "SUMV_USL", s.sum());
            h.open(5, "MR_USL_N");
            h.el(6, "MR_N", 1);
            h.el(6, "PRVS", profile.prvs);
            h.el(6, "CODE_MD", &e.doctor);
            h.close(5, "MR_USL_N");
            h.close(4, "USL");
        }
        h.close(3, "SL");
    }
    h.el(3, "IDSP", case.idsp);
    h.el(3, "SUMV", sumv(case, rule));
    h.close(2, "Z_SL");
    h.close(1, "ZAP");
}

fn pers(l: &mut XmlOut, p: &Patient, okato: &Okato) {
    l.open(1, "PERS");
    l.el(2, "ID_PAC", &p.id);
    l.el(2, "FAM", &p.surname);
    l.el(2, "IM", p.name);
    l.el(2, "OT", p.patronymic);
    l.el(2, "W", p.sex.code());
    l.el(2, "DR", p.birth);
    if let Some(phone) = &p.phone {
        l.el(2, "TEL", phone);
    }
    l.el(2, "MR", p.birthplace);
    l.el(2, "DOCTYPE", p.doc.doctype);
    l.el(2, "DOCSER", &p.doc.series);
    l.el(2, "DOCNUM", p.doc.number);
    l.el(2, "DOCDATE", p.doc.issued);
    l.el(2, "SNILS", &p.snils);
    l.el(
        2,
        "OKATOG",
        format_args!("{}401000000", &okato.as_str()[..2]),
    );
    l.close(1, "PERS");
}

/// Writes the ZIP package holding `files`, stamped with `stamp` so that it is reproducible.
fn write_zip(path: &Path, files: &[&Path], stamp: NaiveDate) -> anyhow::Result<u64> {
    use chrono::Datelike as _;
    let out = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(out));
    let time = zip::DateTime::from_date_and_time(
        u16::try_from(stamp.year()).context("year out of range for ZIP")?,
        u8::try_from(stamp.month()).unwrap_or(1),
        u8::try_from(stamp.day()).unwrap_or(1),
        0,
        0,
        0,
    )
    .map_err(|e| anyhow::anyhow!("ZIP time: {e}"))?;
    for file in files {
        let name = file
            .file_name()
            .context("file without a name")?
            .to_string_lossy()
            .into_owned();
        let size = std::fs::metadata(file)?.len();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(time)
            .large_file(size > u64::from(u32::MAX));
        zip.start_file(name, options)?;
        std::io::copy(&mut File::open(file)?, &mut zip)?;
    }
    let mut out = zip.finish()?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}
