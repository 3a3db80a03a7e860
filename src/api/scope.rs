//! Who reads which packages (docs/PARTICIPANTS.md, "Who sees which packages"): the rule the
//! package routes of `api::packages` apply to the list and to every route of one package.
//!
//! - the admin (token or role) and participants with `read_all` (auditors) see every package;
//! - every caller sees the packages it sent itself;
//! - a participant with `read_own` also sees, by its kind:
//!   - a **clinic**: the packages any participant of its organisation sent (the same F003 code,
//!     a revoked predecessor included) and the accounts billed in its name (`CODE_MO` of the
//!     account's decision);
//!   - an **insurer**: the packages of its organisation, and the accounts where it is the payer
//!     (`PLAT` of the account's decision, `account_decision.plat`);
//!   - a **fund**: the packages sent by every participant of its territory (clinics, insurers
//!     and funds whose register code starts with its F001 code) and the accounts of its
//!     territory (`account_decision.territory`, the first two digits of `CODE_MO`).
//!
//! The rule is one SQL condition on `package` (indexed sub-selects on `participants` and
//! `account_decision`, migration 000016), so the list pages in the database. Called by
//! `api::packages`.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::auth::{Caller, Role};
use crate::db::DbConn;
use crate::intake::store::PackageRow;
use crate::participants::{Kind, Role as ParticipantRole};

/// The packages a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PackageScope {
    /// Every package.
    All,
    /// The packages the condition of [`Limited`] selects.
    Limited(Limited),
}

/// What a caller that does not see everything sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limited {
    /// The caller's name: the `sender` of its own uploads.
    caller: String,
    /// Its organisation, when it is a participant with `read_own`.
    org: Option<(Kind, String)>,
}

impl PackageScope {
    /// The scope of `caller`.
    pub(crate) fn of(caller: &Caller) -> Self {
        if caller.role == Role::Admin {
            return Self::All;
        }
        let Some(p) = &caller.participant else {
            return Self::Limited(Limited {
                caller: caller.name.clone(),
                org: None,
            });
        };
        if p.roles.contains(ParticipantRole::ReadAll) {
            return Self::All;
        }
        let org = match (p.kind, &p.org_code) {
            (Kind::Clinic | Kind::Insurer | Kind::Fund, Some(code))
                if p.roles.contains(ParticipantRole::ReadOwn) =>
            {
                Some((p.kind, code.clone()))
            }
            _ => None,
        };
        Self::Limited(Limited {
            caller: caller.name.clone(),
            org,
        })
    }
}

/// The names (`participant:<id>`) of the participants a condition selects.
const PARTICIPANT_NAME: &str = "'participant:' || CAST(pt.id AS TEXT)";

impl Limited {
    /// The condition on `package` (written `package.`…) with its parameters, numbered from
    /// `$first`: all of them text.
    fn condition(&self, first: usize) -> (String, Vec<String>) {
        let own = format!("package.sender = ${first}");
        let Some((kind, code)) = &self.org else {
            return (format!("({own})"), vec![self.caller.clone()]);
        };
        let (k, c) = (first + 1, first + 2);
        let same_org = format!(
            "package.sender IN (SELECT {PARTICIPANT_NAME} FROM participants pt \
             WHERE pt.kind = ${k} AND pt.org_code = ${c})"
        );
        let wider = match kind {
            Kind::Clinic => format!(
                "package.id IN (SELECT d.package_id FROM account_decision d WHERE d.code_mo = ${c})"
            ),
            Kind::Insurer => format!(
                "package.id IN (SELECT d.package_id FROM account_decision d WHERE d.plat = ${c})"
            ),
            Kind::Fund => format!(
                "package.sender IN (SELECT {PARTICIPANT_NAME} FROM participants pt \
                 WHERE pt.kind IN ('clinic', 'insurer', 'fund') \
                 AND substr(pt.org_code, 1, 2) = ${c}) \
                 OR package.id IN (SELECT d.package_id FROM account_decision d \
                 WHERE d.territory = ${c})"
            ),
            Kind::Auditor | Kind::Admin => "1 = 0".to_owned(),
        };
        (
            format!("({own} OR {same_org} OR {wider})"),
            vec![self.caller.clone(), kind.as_str().to_owned(), code.clone()],
        )
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Runs `text` (with `$n` parameters) binding `texts` then `numbers`, on either backend.
fn load<T>(conn: &mut DbConn, text: &str, texts: &[String], numbers: &[i64]) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    match conn {
        DbConn::Pg(c) => {
            let mut q = diesel::sql_query(text).into_boxed::<diesel::pg::Pg>();
            for t in texts {
                q = q.bind::<Text, _>(t.clone());
            }
            for n in numbers {
                q = q.bind::<BigInt, _>(*n);
            }
            q.load(c)
        }
        DbConn::Sqlite(c) => {
            // SQLite reads `?NNN` as the parameter NNN, as PostgreSQL reads `$NNN`.
            let text = text.replace('$', "?");
            let mut q = diesel::sql_query(text).into_boxed::<diesel::sqlite::Sqlite>();
            for t in texts {
                q = q.bind::<Text, _>(t.clone());
            }
            for n in numbers {
                q = q.bind::<BigInt, _>(*n);
            }
            q.load(c)
        }
    }
}

/// Whether `scope` holds the package `id`.
pub(crate) fn sees(conn: &mut DbConn, scope: &PackageScope, id: &str) -> QueryResult<bool> {
    let PackageScope::Limited(limited) = scope else {
        return Ok(true);
    };
    let (condition, mut params) = limited.condition(2);
    params.insert(0, id.to_owned());
    let rows: Vec<Count> = load(
        conn,
        &format!("SELECT COUNT(*) AS n FROM package WHERE package.id = $1 AND {condition}"),
        &params,
        &[],
    )?;
    Ok(rows.first().is_some_and(|c| c.n > 0))
}

/// The packages of `scope`, newest first, `limit` from `offset`; and how many there are.
pub(crate) fn list(
    conn: &mut DbConn,
    scope: &PackageScope,
    limit: i64,
    offset: i64,
) -> QueryResult<(i64, Vec<PackageRow>)> {
    let PackageScope::Limited(limited) = scope else {
        return crate::intake::store::list(conn, None, limit, offset);
    };
    let (condition, params) = limited.condition(1);
    let count: Vec<Count> = load(
        conn,
        &format!("SELECT COUNT(*) AS n FROM package WHERE {condition}"),
        &params,
        &[],
    )?;
    let (l, o) = (params.len() + 1, params.len() + 2);
    let ids: Vec<Id> = load(
        conn,
        &format!(
            "SELECT package.id AS id FROM package WHERE {condition} \
             ORDER BY package.seq DESC LIMIT ${l} OFFSET ${o}"
        ),
        &params,
        &[limit, offset],
    )?;
    let ids: Vec<String> = ids.into_iter().map(|i| i.id).collect();
    let mut rows: Vec<PackageRow> = crate::db::schema::package::table
        .filter(crate::db::schema::package::id.eq_any(&ids))
        .select(PackageRow::as_select())
        .load(conn)?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.seq));
    Ok((count.first().map_or(0, |c| c.n), rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participants::{Principal, Roles};

    fn participant(kind: Kind, code: Option<&str>, roles: &[ParticipantRole]) -> Caller {
        let principal = Principal {
            id: 7,
            kind,
            org_code: code.map(str::to_owned),
            name: "x".into(),
            roles: Roles::of(roles),
        };
        Caller {
            role: Role::Reader,
            name: "participant:7".into(),
            participant: Some(principal),
        }
    }

    #[test]
    fn scopes_by_role() {
        let auditor = participant(Kind::Auditor, None, &[ParticipantRole::ReadAll]);
        assert_eq!(PackageScope::of(&auditor), PackageScope::All);
        let upload_only = participant(Kind::Clinic, Some("750096"), &[ParticipantRole::Upload]);
        assert_eq!(
            PackageScope::of(&upload_only),
            PackageScope::Limited(Limited {
                caller: "participant:7".into(),
                org: None
            })
        );
        let fund = participant(Kind::Fund, Some("75"), &[ParticipantRole::ReadOwn]);
        let PackageScope::Limited(limited) = PackageScope::of(&fund) else {
            panic!("a fund does not see all");
        };
        let (condition, params) = limited.condition(1);
        assert_eq!(params, ["participant:7", "fund", "75"]);
        assert!(condition.contains("d.territory = $3"), "{condition}");
    }
}
