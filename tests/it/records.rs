//! Typed records from generated files: every accepted ZAP and PERS comes out typed, on the
//! two-thread path through many batches, the sums add up to SCHET/SUMMAV, every patient of H
//! has its PERS in L, and refused records are counted, not built.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::mpsc;

use omshub::domain::{Enp, Money};
use omshub::r#gen::{AccountsOptions, Defects, Package, write_package};
use omshub::validate::records::{self, AccountItem, Item, PersonsItem, Summary};
use omshub::validate::schema::Limits;
use omshub::validate::{FileReport, Validator};

fn generate(dir: &Path, cases: u64, seed: u64, defects: &str) -> Package {
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.defects = Defects::parse(defects).unwrap();
    write_package(dir, &options).unwrap()
}

fn read(path: &Path, on_item: impl FnMut(Item) + Send) -> (FileReport, Summary) {
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let file = std::fs::File::open(path).unwrap();
    records::read(&validator, &name, file, Limits::default(), on_item).unwrap()
}

#[test]
fn a_generated_package_yields_every_record_typed_and_the_sums_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 2_000, 7, "");
    let [h, l, _] = &package.files;

    let mut summav = None;
    let mut sumv = Money::ZERO;
    let mut patients = HashMap::new();
    let mut n_zap = Vec::new();
    let (report, summary) = read(&h.path, |item| match item {
        Item::Account(AccountItem::Account(a)) => summav = Some(a.summav),
        Item::Account(AccountItem::Record(z)) => {
            sumv = sumv.checked_add(z.case.sumv).unwrap();
            let episodes = Money::checked_sum(z.case.episodes.iter().map(|s| s.sum_m));
            assert_eq!(episodes, Some(z.case.sumv), "N_ZAP {}", z.n_zap);
            for sl in &z.case.episodes {
                let services = Money::checked_sum(sl.services.iter().map(|u| u.sumv_usl));
                assert_eq!(services, Some(sl.sum_m), "N_ZAP {}", z.n_zap);
            }
            assert!(z.other.is_empty());
            let enp = z.pacient.enp.as_ref().unwrap().as_str().to_owned();
            patients.insert(z.pacient.id_pac.clone(), enp);
            n_zap.push(z.n_zap);
        }
        _ => {}
    });
    assert!(report.accepted, "{:#?}", report.findings);
    assert_eq!(report.records, 2_000);
    assert_eq!(summary.records, report.records - report.refused_records);
    assert_eq!(
        (summary.refused, summary.headers_refused, summary.unplaced),
        (0, 0, 0)
    );
    assert_eq!(
        n_zap,
        (1..=2_000).collect::<Vec<u64>>(),
        "every record, in file order"
    );
    assert_eq!(Some(sumv), summav);
    assert_eq!(summav, Some(package.total));

    // The L file through a channel: the consumer on a thread of its own.
    let (tx, rx) = mpsc::sync_channel(64);
    let enps = patients.clone();
    let consumer = std::thread::spawn(move || {
        let mut ids = HashSet::new();
        for item in rx {
            if let Item::Persons(PersonsItem::Record(p)) = item {
                assert!(ids.insert(p.id_pac.clone()), "ID_PAC once");
                // A cross-file rule: the ENP of H agrees with birth date and sex of L.
                let enp = Enp::parse(&enps[&p.id_pac]).unwrap();
                enp.check_birth_and_sex(*p.dr, p.w).unwrap();
            }
        }
        ids
    });
    let (report, summary) = read(&l.path, move |item| {
        let _ = tx.send(item);
    });
    let in_l = consumer.join().unwrap();
    assert!(report.accepted);
    assert_eq!(summary.records, report.records);
    assert_eq!(
        in_l,
        patients.into_keys().collect::<HashSet<_>>(),
        "every patient of H has its PERS in L"
    );
}

#[test]
fn refused_records_of_a_generated_file_are_counted_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let package = generate(dir.path(), 2_000, 3, "901=5,902=5,903=5,904=5,905=5");
    let mut built = 0_u64;
    let (report, summary) = read(&package.files[0].path, |item| {
        if let Item::Account(AccountItem::Record(_)) = item {
            built += 1;
        }
    });
    assert_eq!(report.refused_records, 25);
    assert_eq!(summary.refused, 25);
    assert_eq!(built, summary.records);
    assert_eq!(built, report.records - report.refused_records);
}
