//! Settlement of accounts, as far as issue 7 takes it: the business-rule checker built from
//! the database ([`open_checker`]: the classifier and register snapshots of `Lookups`, and the
//! index of the cases accepted in earlier packages, read once from `package_case`), for intake
//! and the CLI. `validate::rules` holds the rules themselves and never touches the database;
//! this module is the edge that reads it. `validate_command` is `omshub validate` with the
//! database opened when the rules run. The tables read here belong to intake (`package`,
//! `package_case`); nothing here writes.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::DbConn;
use crate::db::schema::{package, package_case};
use crate::lookups::Lookups;
use crate::registers::lookup::RegisterLookup;
use crate::validate::cli::{RulesSetup, ValidateArgs};
use crate::validate::rules::{
    CaseKey, Checker, Options, PersonKey, PriorCase, PriorCaseIndex, Sources,
};

/// Which earlier cases to index.
#[derive(Debug, Clone, Default)]
pub struct PriorFilter {
    /// Only cases of this clinic (`package_case.code_mo`, the case's LPU).
    pub code_mo: Option<String>,
    /// Only cases ending on or after this day.
    pub since: Option<NaiveDate>,
    /// Leave this package out (the package being checked, when it is checked again).
    pub exclude_package: Option<String>,
}

/// Package ids queried at once (under every backend's parameter limit).
const CHUNK: usize = 500;

/// Reads the cases of the packages that ended `accepted` or `partly_accepted` (only the rows
/// of each package's final attempt) into an index, once.
pub fn load_prior_cases(conn: &mut DbConn, filter: &PriorFilter) -> QueryResult<PriorCaseIndex> {
    let packages: Vec<(String, i32)> = package::table
        .filter(package::status.eq_any(["accepted", "partly_accepted"]))
        .select((package::id, package::attempts))
        .order(package::seq)
        .load(conn)?;
    let attempts: HashMap<String, i32> = packages
        .into_iter()
        .filter(|(id, _)| filter.exclude_package.as_deref() != Some(id.as_str()))
        .collect();
    let mut ids: Vec<&String> = attempts.keys().collect();
    ids.sort();
    let mut index = PriorCaseIndex::default();
    for chunk in ids.chunks(CHUNK) {
        let mut query = package_case::table
            .filter(package_case::package_id.eq_any(chunk.iter().copied()))
            .into_boxed();
        if let Some(code_mo) = &filter.code_mo {
            query = query.filter(package_case::code_mo.eq(code_mo.clone()));
        }
        if let Some(since) = filter.since {
            query = query.filter(package_case::date_2.ge(since));
        }
        #[expect(clippy::type_complexity, reason = "the selected columns, once")]
        let rows: Vec<(
            String,
            i32,
            i64,
            i64,
            String,
            Option<String>,
            String,
            NaiveDate,
            NaiveDate,
            Option<i32>,
        )> = query
            .select((
                package_case::package_id,
                package_case::attempt,
                package_case::n_zap,
                package_case::idcase,
                package_case::id_pac,
                package_case::enp,
                package_case::code_mo,
                package_case::date_1,
                package_case::date_2,
                package_case::usl_ok,
            ))
            .order((package_case::package_id, package_case::n_zap))
            .load(conn)?;
        for (package_id, attempt, n_zap, idcase, id_pac, enp, code_mo, date_1, date_2, usl_ok) in
            rows
        {
            if attempts.get(&package_id) != Some(&attempt) {
                continue;
            }
            index.add(
                CaseKey {
                    person: PersonKey::of(enp.as_deref(), &id_pac),
                    code_mo,
                    date_1,
                    date_2,
                    usl_ok: usl_ok.and_then(|u| u8::try_from(u).ok()),
                },
                PriorCase {
                    package_id,
                    n_zap: u64::try_from(n_zap).unwrap_or(0),
                    idcase: u64::try_from(idcase).unwrap_or(0),
                },
            );
        }
    }
    Ok(index)
}

/// The checker intake (and `omshub validate`) runs over a package: the snapshots of `lookups`
/// as they are now, and the earlier accepted cases ending from 1 January of the year before
/// the check's date (`options.as_of`, else `options.today`), of the sender's clinic when the
/// sender is one (6 digits), without `exclude_package`. No ERZ yet (issue 8): the insurance
/// rules that need it are skipped.
pub fn open_checker(
    conn: &mut DbConn,
    lookups: &Lookups,
    options: Options,
    exclude_package: Option<&str>,
) -> anyhow::Result<Checker> {
    let on = options.as_of.unwrap_or(options.today);
    let since = NaiveDate::from_ymd_opt(on.year() - 1, 1, 1);
    let code_mo = options
        .sender
        .clone()
        .filter(|s| s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()));
    let prior = load_prior_cases(
        conn,
        &PriorFilter {
            code_mo,
            since,
            exclude_package: exclude_package.map(str::to_owned),
        },
    )
    .context("cannot read the earlier accepted cases")?;
    Ok(Checker::new(sources(lookups, prior), options))
}

/// The sources of a check: the snapshots of `lookups` (the registers only when one of them
/// holds an entry: an empty register is "not loaded", and its rules are skipped), the earlier
/// cases, no ERZ (issue 8).
fn sources(lookups: &Lookups, prior: PriorCaseIndex) -> Sources {
    let registers = lookups.registers();
    let loaded = registers.counts().iter().any(|(_, n)| *n > 0);
    Sources {
        classifiers: lookups.nsi(),
        registers: loaded.then_some(registers as Arc<dyn RegisterLookup>),
        prior: Some(Arc::new(prior)),
        policies: None,
    }
}

/// `omshub validate`: with `--rules` or `--rules-as-of`, reads the look-ups from the
/// configured database (migrated, with the baseline classifiers) first; then runs
/// `validate::cli::run`. Returns the exit status.
pub fn validate_command(args: &ValidateArgs, settings: &Settings) -> anyhow::Result<u8> {
    if !args.wants_rules() {
        return crate::validate::cli::run(args, None);
    }
    let (db, _) = crate::db::migrate(&settings.database).context("cannot open the database")?;
    crate::nsi::prepare(&db, &settings.nsi).context("cannot load the baseline classifiers")?;
    let lookups = Lookups::default();
    lookups.refresh(&db, true)?;
    let today = chrono::Utc::now().date_naive();
    let on = args.rules_as_of.unwrap_or(today);
    let mut conn = db.conn()?;
    let prior = load_prior_cases(
        &mut conn,
        &PriorFilter {
            since: NaiveDate::from_ymd_opt(on.year() - 1, 1, 1),
            ..PriorFilter::default()
        },
    )?;
    let setup = RulesSetup {
        sources: sources(&lookups, prior),
        today,
    };
    crate::validate::cli::run(args, Some(&setup))
}
