//! Settlement of accounts, as far as issue 7 takes it: the business-rule checker built from
//! the database ([`open_checker`]: the classifier and register snapshots of `Lookups`, and the
//! index of the cases accepted in earlier packages, read once from `package_case`), for intake
//! and the CLI. `validate::rules` holds the rules themselves and never touches the database;
//! this module is the edge that reads it. `validate_command` is `omshub validate` with the
//! database opened when the rules run. [`store_decisions`] keeps a check's decisions in
//! `account_decision` and `case_decision` (migration 000006), the only tables written here;
//! `package` and `package_case` belong to intake and are only read.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;

use crate::config::Settings;
use crate::db::DbConn;
use crate::db::schema::{account_decision, case_decision, package, package_case};
use crate::lookups::Lookups;
use crate::registers::lookup::RegisterLookup;
use crate::validate::cli::{RulesSetup, ValidateArgs};
use crate::validate::rules::{
    CaseKey, Checker, Options, Outcome, PersonKey, PolicyLookup, PriorCase, PriorCaseIndex, Sources,
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
/// of each package's final attempt) into an index, once. A case whose stored decision
/// (`case_decision`) refused it (OPLATA 2) was not paid and may come again: it is left out.
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
        let rows: Vec<CaseRow> = query
            .select(CASE_COLUMNS)
            .order((package_case::package_id, package_case::n_zap))
            .load(conn)?;
        let refused = refused_cases(conn, chunk)?;
        for row in rows {
            let (package_id, attempt, n_zap, idcase) = (&row.0, row.1, row.2, row.3);
            if attempts.get(package_id) != Some(&attempt)
                || refused.contains(&(package_id.clone(), n_zap))
            {
                continue;
            }
            index.add(
                case_key(&row),
                PriorCase {
                    package_id: package_id.clone(),
                    n_zap: u64::try_from(n_zap).unwrap_or(0),
                    idcase: u64::try_from(idcase).unwrap_or(0),
                },
            );
        }
    }
    Ok(index)
}

/// The namespace of the advisory locks that serialise the final duplicate check (rule
/// `OMSH.00.0701`), one lock per territory: `0701`.
const PAID_CASES_LOCK: i32 = 701;

/// A case of the package being finished that another package, accepted meanwhile, already
/// holds under the same double-billing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidElsewhere {
    /// `N_ZAP` of the case in the package being finished.
    pub n_zap: i64,
    /// The accepted package that holds it.
    pub package_id: String,
}

/// The final duplicate check of package `package_id`, run by intake inside the transaction that
/// ends it (`intake::store::finish_with`), after the rules decided with an index read when the
/// check started: takes the lock of each territory of its cases (PostgreSQL advisory locks in
/// territory order; on SQLite the transaction's write lock serialises every finisher), then
/// returns the cases of attempt `attempt` that the rules did not refuse (`outcome`) and that a
/// package accepted since holds under the same key ([`CaseKey`], as [`load_prior_cases`] builds
/// it). Empty: no case is paid twice, the decisions may be stored. Otherwise the caller rolls
/// back and checks the package again, and rule `OMSH.00.0701` then refuses those cases.
pub fn paid_elsewhere(
    conn: &mut DbConn,
    package_id: &str,
    attempt: i32,
    outcome: &Outcome,
) -> QueryResult<Vec<PaidElsewhere>> {
    let refused: std::collections::HashSet<i64> = outcome
        .decisions
        .iter()
        .filter(|d| d.oplata == 2)
        .map(|d| big(d.n_zap))
        .collect();
    let mine: Vec<CaseRow> = package_case::table
        .filter(package_case::package_id.eq(package_id))
        .filter(package_case::attempt.eq(attempt))
        .select(CASE_COLUMNS)
        .load(conn)?;
    let mine: Vec<CaseRow> = mine
        .into_iter()
        .filter(|c| !refused.contains(&c.2))
        .collect();
    let mut territories: Vec<i32> = mine.iter().map(|c| territory_lock_key(&c.6)).collect();
    territories.sort_unstable();
    territories.dedup();
    for territory in territories {
        crate::db::lock_in_transaction(conn, PAID_CASES_LOCK, territory)?;
    }
    let keys: HashMap<CaseKey, i64> = mine.iter().map(|c| (case_key(c), c.2)).collect();
    let mut found = Vec::new();
    for chunk in mine.chunks(CHUNK) {
        // The person of a key is the ENP (read by the index on `enp`) or, for a case without
        // a valid one, `ID_PAC` (rare: a separate query).
        let (mut enps, mut id_pacs) = (Vec::new(), Vec::new());
        for c in chunk {
            match PersonKey::of(c.5.as_deref(), &c.4) {
                PersonKey::Enp(_) => enps.extend(c.5.as_deref()),
                PersonKey::IdPac(_) => id_pacs.push(c.4.as_str()),
            }
        }
        let mut candidates: Vec<CaseRow> = package_case::table
            .filter(package_case::package_id.ne(package_id))
            .filter(package_case::enp.eq_any(enps))
            .select(CASE_COLUMNS)
            .load(conn)?;
        if !id_pacs.is_empty() {
            candidates.extend(
                package_case::table
                    .filter(package_case::package_id.ne(package_id))
                    .filter(package_case::id_pac.eq_any(id_pacs))
                    .select(CASE_COLUMNS)
                    .load::<CaseRow>(conn)?,
            );
        }
        let candidates: Vec<(CaseRow, i64)> = candidates
            .into_iter()
            .filter_map(|c| keys.get(&case_key(&c)).map(|n| (c, *n)))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let mut ids: Vec<&str> = candidates.iter().map(|(c, _)| c.0.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let accepted: HashMap<String, i32> = package::table
            .filter(package::id.eq_any(&ids))
            .filter(package::status.eq_any(["accepted", "partly_accepted"]))
            .select((package::id, package::attempts))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .collect();
        let not_paid = refused_cases(conn, &ids)?;
        for (other, n_zap) in candidates {
            if accepted.get(&other.0) == Some(&other.1)
                && !not_paid.contains(&(other.0.clone(), other.2))
            {
                found.push(PaidElsewhere {
                    n_zap,
                    package_id: other.0,
                });
            }
        }
    }
    found.sort_by(|a, b| (a.n_zap, &a.package_id).cmp(&(b.n_zap, &b.package_id)));
    found.dedup();
    Ok(found)
}

/// The cases of `packages` whose stored decision refused them (OPLATA 2), as
/// (package id, `N_ZAP`): not paid, so they may come again.
fn refused_cases<S: AsRef<str>>(
    conn: &mut DbConn,
    packages: &[S],
) -> QueryResult<std::collections::HashSet<(String, i64)>> {
    Ok(case_decision::table
        .filter(case_decision::package_id.eq_any(packages.iter().map(AsRef::as_ref)))
        .filter(case_decision::oplata.eq(2))
        .select((case_decision::package_id, case_decision::n_zap))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// The columns of `package_case` the duplicate rule reads ([`load_prior_cases`]) and the final
/// duplicate check ([`paid_elsewhere`]).
type CaseRow = (
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
);

const CASE_COLUMNS: (
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
) = (
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
);

/// The double-billing key of a stored case.
fn case_key(c: &CaseRow) -> CaseKey {
    CaseKey {
        person: PersonKey::of(c.5.as_deref(), &c.4),
        code_mo: c.6.clone(),
        date_1: c.7,
        date_2: c.8,
        usl_ok: c.9.and_then(|u| u8::try_from(u).ok()),
    }
}

/// The lock of the territory of clinic `code_mo` (its first two digits; 0 when they are not).
fn territory_lock_key(code_mo: &str) -> i32 {
    code_mo.get(..2).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// The checker intake (and `omshub validate`) runs over a package: the snapshots of `lookups`
/// as they are now, and the earlier accepted cases ending from 1 January of the year before
/// the check's date (`options.as_of`, else `options.today`), of the sender's clinic when the
/// sender is one (6 digits), without `exclude_package`; the register of insured persons from
/// the ERZ snapshot of `lookups` (its rules are skipped while the register is empty).
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

/// The sources of a check: the snapshots of `lookups` (the registers and the ERZ only when
/// they hold an entry: an empty register is "not loaded", and its rules are skipped), the
/// earlier cases.
fn sources(lookups: &Lookups, prior: PriorCaseIndex) -> Sources {
    let registers = lookups.registers();
    let loaded = registers.counts().iter().any(|(_, n)| *n > 0);
    let erz = lookups.erz();
    Sources {
        classifiers: lookups.nsi(),
        registers: loaded.then_some(registers as Arc<dyn RegisterLookup>),
        prior: Some(Arc::new(prior)),
        policies: (!erz.is_empty()).then_some(erz as Arc<dyn PolicyLookup>),
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
    lookups.refresh_erz(&db, true)?;
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

/// One row of `account_decision`.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = account_decision)]
#[diesel(treat_none_as_default_value = false)]
pub struct AccountDecisionRow {
    pub package_id: String,
    pub territory: String,
    pub period: String,
    pub code_mo: String,
    pub plat: Option<String>,
    pub nschet: String,
    pub rules_as_of: NaiveDate,
    pub decided_at: chrono::NaiveDateTime,
    pub accepted: i32,
    pub summav: i64,
    pub summap: i64,
    pub sank_mek: i64,
    pub cases: i64,
    pub paid: i64,
    pub partly_paid: i64,
    pub refused: i64,
}

/// One row of `case_decision`.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = case_decision)]
#[diesel(treat_none_as_default_value = false)]
pub struct CaseDecisionRow {
    pub package_id: String,
    pub territory: String,
    pub period: String,
    pub n_zap: i64,
    pub idcase: i64,
    pub oplata: i32,
    pub sumv: i64,
    pub sump: i64,
    pub sank: i64,
    pub s_osn: Option<i32>,
    pub sl_ids: Option<String>,
    pub rules: Option<String>,
    pub mtr: i32,
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Stores the decisions of `outcome` for package `package_id` (a row of `package`), replacing
/// any of an earlier check of it, in one transaction. `false` (nothing stored) when the rules
/// saw no account.
pub fn store_decisions(
    conn: &mut DbConn,
    package_id: &str,
    outcome: &Outcome,
    decided_at: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    let Some(account) = &outcome.account else {
        return Ok(false);
    };
    let territory = account.code_mo.get(..2).unwrap_or_default().to_owned();
    let period = format!("{:04}-{:02}", account.year, account.month);
    let t = &outcome.totals;
    let row = AccountDecisionRow {
        package_id: package_id.to_owned(),
        territory: territory.clone(),
        period: period.clone(),
        code_mo: account.code_mo.clone(),
        plat: account.plat.clone(),
        nschet: account.nschet.clone(),
        rules_as_of: outcome.rules_as_of,
        decided_at,
        accepted: i32::from(outcome.accepted),
        summav: t.summav.kopecks(),
        summap: t.summap.kopecks(),
        sank_mek: t.sank_mek.kopecks(),
        cases: big(t.cases),
        paid: big(t.paid),
        partly_paid: big(t.partly_paid),
        refused: big(t.refused),
    };
    let cases: Vec<CaseDecisionRow> = outcome
        .decisions
        .iter()
        .map(|d| {
            let sanction = d.sanctions.first();
            let words = |v: Vec<&str>| (!v.is_empty()).then(|| v.join(" "));
            CaseDecisionRow {
                package_id: package_id.to_owned(),
                territory: territory.clone(),
                period: period.clone(),
                n_zap: big(d.n_zap),
                idcase: big(d.idcase),
                oplata: i32::from(d.oplata),
                sumv: d.sumv.kopecks(),
                sump: d.sump.kopecks(),
                sank: d.sanctions.iter().map(|s| s.s_sum.kopecks()).sum(),
                s_osn: sanction.map(|s| i32::from(s.s_osn)),
                sl_ids: words(
                    d.sanctions
                        .iter()
                        .flat_map(|s| s.sl_id.iter().map(String::as_str))
                        .collect(),
                ),
                rules: sanction.and_then(|s| words(s.s_com.split(' ').collect())),
                mtr: i32::from(d.mtr),
            }
        })
        .collect();
    conn.transaction(|conn| {
        diesel::delete(case_decision::table.filter(case_decision::package_id.eq(package_id)))
            .execute(conn)?;
        diesel::delete(account_decision::table.filter(account_decision::package_id.eq(package_id)))
            .execute(conn)?;
        diesel::insert_into(account_decision::table)
            .values(&row)
            .execute(conn)?;
        for chunk in cases.chunks(1_000) {
            if chunk.is_empty() {
                continue;
            }
            crate::per_backend!(conn, |c| diesel::insert_into(case_decision::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(true)
    })
}

/// The stored decisions of package `package_id`: its account row and its cases by `N_ZAP`.
pub fn load_decisions(
    conn: &mut DbConn,
    package_id: &str,
) -> QueryResult<Option<(AccountDecisionRow, Vec<CaseDecisionRow>)>> {
    let Some(account) = account_decision::table
        .filter(account_decision::package_id.eq(package_id))
        .select(AccountDecisionRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let cases = case_decision::table
        .filter(case_decision::package_id.eq(package_id))
        .order(case_decision::n_zap)
        .select(CaseDecisionRow::as_select())
        .load(conn)?;
    Ok(Some((account, cases)))
}
