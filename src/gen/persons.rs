//! Synthetic insured persons for the bulk load of the register (`omshub gen persons`): one CSV
//! row per person in the layout of `erz::import` (docs/ERZ.md, "Bulk load"), deterministic by
//! the seed. Each person is a patient of `model` (names, sex, birth date, document, insurer);
//! the ENP is rebuilt so that it is unique in the file: its serial is the next one of its
//! birth-date/sex facet (so the check digit and the facet agree with the person), and the SNILS
//! payload is a bijection of the person's number. Memory holds one counter per facet, not the
//! persons. Called by `gen::cli`, the integration tests and `bench/erz_bulk_load.rs`.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context as _;
use chrono::{Days, NaiveDate};

use super::model::Patient;
use super::rng::{PERSONS, Rng};
use crate::domain::{Enp, Period, Sex, Snils, TfomsCode};
use crate::erz::import::CSV_HEADER;

/// The month the persons' documents and policies are as of.
const AS_OF: &str = "2026-01";

/// Writes the header and `count` persons of `seed` for territory `tf`; returns the rows written.
pub fn write_persons_csv<W: Write>(
    out: &mut W,
    count: u64,
    seed: u64,
    tf: &TfomsCode,
) -> anyhow::Result<u64> {
    let period = Period::parse(AS_OF)?;
    let okato = tf
        .okato()
        .with_context(|| format!("territory {tf} has no OKATO"))?;
    let first_policy = NaiveDate::from_ymd_opt(2011, 5, 1).context("date")?;
    let mut serials: HashMap<(NaiveDate, Sex), u32> = HashMap::new();
    writeln!(out, "{CSV_HEADER}")?;
    for n in 0..count {
        let p = Patient::generate(seed, n, tf, period)?;
        let serial = serials.entry((p.birth, p.sex)).or_insert(0);
        *serial += 1;
        let enp = Enp::generate(tf, p.birth, p.sex, *serial)
            .with_context(|| format!("person {n}: ENP serials of a facet exhausted"))?;
        let payload = 2_000_000 + (n.wrapping_mul(7_919).wrapping_add(seed) % 997_000_000);
        let snils = Snils::from_payload(u32::try_from(payload)?)?;
        let mut r = Rng::stream(seed, PERSONS, n);
        let dbeg = p.birth.max(first_policy) + Days::new(r.below(365));
        let dstop = r
            .chance(3)
            .then(|| dbeg + Days::new(30 + r.below(2_000)))
            .map(|d| d.to_string())
            .unwrap_or_default();
        let vpolis = if r.chance(70) { "Э" } else { "П" };
        let sex = p.sex.code();
        let true_dr = 1;
        writeln!(
            out,
            "{enp};{snils};{fam};{im};{ot};{sex};{dr};{true_dr};RUS;{doctype};{docser};{docnum};{docdate};{smo};{vpolis};;;;{dbeg};;{dstop};{okato};{okato};ул. Вымышленная, д. {house};{lpu};1",
            snils = snils.digits(),
            fam = p.surname,
            im = p.name,
            ot = p.patronymic,
            dr = p.birth,
            doctype = p.doc.doctype,
            docser = p.doc.series,
            docnum = p.doc.number,
            docdate = p.doc.issued.max(p.birth),
            smo = p.smo,
            house = 1 + r.below(200),
            lpu = 1 + r.below(500),
        )?;
    }
    Ok(count)
}
