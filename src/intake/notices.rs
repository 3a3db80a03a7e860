//! The e-mail notices of finished packages, kept until they are sent (issue 6 point 8): a notice
//! row is written in the transaction that ends its package, so no notice is lost to a crash or
//! to a mail server that is down; [`deliver_due`] sends what is due and, on failure, tries again
//! later with a growing wait, up to [`MAX_ATTEMPTS`].

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use super::store::now;
use crate::db::DbConn;
use crate::db::schema::notice;
use crate::notify::Mailer;

/// Attempts at one notice before the hub gives up on it (about 16 hours with the waits below).
pub const MAX_ATTEMPTS: i32 = 12;

/// The wait after the first failed attempt; it doubles with each failure, up to [`MAX_WAIT`].
const FIRST_WAIT_SECS: i64 = 60;
/// The longest wait between two attempts.
const MAX_WAIT_SECS: i64 = 4 * 3600;
/// While one worker sends a notice, the others leave it alone this long.
const LEASE_SECS: i64 = 300;

/// A notice to write with the end of its package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotice {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// One row of `notice`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
#[diesel(table_name = notice)]
pub struct NoticeRow {
    pub id: i64,
    pub package_id: String,
    pub recipient: String,
    pub subject: String,
    #[serde(skip)]
    pub body: String,
    pub created_at: NaiveDateTime,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// Writes the notice of package `package_id` (inside the caller's transaction); one per
/// package: a second is ignored.
pub fn insert(conn: &mut DbConn, package_id: &str, new: &NewNotice) -> QueryResult<()> {
    let exists: i64 = notice::table
        .filter(notice::package_id.eq(package_id))
        .count()
        .get_result(conn)?;
    if exists > 0 {
        return Ok(());
    }
    let at = now();
    diesel::insert_into(notice::table)
        .values((
            notice::package_id.eq(package_id),
            notice::recipient.eq(&new.recipient),
            notice::subject.eq(&new.subject),
            notice::body.eq(&new.body),
            notice::created_at.eq(at),
            notice::attempts.eq(0),
            notice::next_attempt_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The notice of package `package_id`, if it has one.
pub fn of_package(conn: &mut DbConn, package_id: &str) -> QueryResult<Option<NoticeRow>> {
    notice::table
        .filter(notice::package_id.eq(package_id))
        .select(NoticeRow::as_select())
        .first(conn)
        .optional()
}

/// The wait after `attempts` failed attempts.
fn wait_after(attempts: i32) -> Duration {
    let shift = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    Duration::seconds((FIRST_WAIT_SECS << shift).min(MAX_WAIT_SECS))
}

/// What one call of [`deliver_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub failed: usize,
}

/// Sends every notice that is due (unsent, fewer than [`MAX_ATTEMPTS`] attempts, its time
/// come), at most `limit`. Each is first leased (its next attempt moved [`LEASE_SECS`] ahead,
/// only if no one else did), so two workers never send one notice twice at once.
pub fn deliver_due(conn: &mut DbConn, mailer: &Mailer, limit: i64) -> QueryResult<Delivered> {
    let mut done = Delivered::default();
    if !mailer.is_on() {
        return Ok(done);
    }
    let at = now();
    let due: Vec<NoticeRow> = notice::table
        .filter(notice::sent_at.is_null())
        .filter(notice::attempts.lt(MAX_ATTEMPTS))
        .filter(notice::next_attempt_at.le(at))
        .order(notice::id.asc())
        .limit(limit)
        .select(NoticeRow::as_select())
        .load(conn)?;
    for row in due {
        let leased = diesel::update(
            notice::table
                .filter(notice::id.eq(row.id))
                .filter(notice::sent_at.is_null())
                .filter(notice::next_attempt_at.eq(row.next_attempt_at)),
        )
        .set(notice::next_attempt_at.eq(at + Duration::seconds(LEASE_SECS)))
        .execute(conn)?;
        if leased != 1 {
            continue;
        }
        let attempts = row.attempts + 1;
        match mailer.send(&row.recipient, &row.subject, &row.body) {
            Ok(()) => {
                diesel::update(notice::table.find(row.id))
                    .set((
                        notice::attempts.eq(attempts),
                        notice::sent_at.eq(Some(now())),
                        notice::last_error.eq(None::<String>),
                    ))
                    .execute(conn)?;
                tracing::info!(package = %row.package_id, to = %row.recipient, attempts, "notice sent");
                done.sent += 1;
            }
            Err(e) => {
                let error = format!("{e:#}");
                diesel::update(notice::table.find(row.id))
                    .set((
                        notice::attempts.eq(attempts),
                        notice::next_attempt_at.eq(now() + wait_after(attempts)),
                        notice::last_error.eq(Some(&error)),
                    ))
                    .execute(conn)?;
                if attempts >= MAX_ATTEMPTS {
                    tracing::error!(package = %row.package_id, to = %row.recipient, attempts, error = %error, "notice given up");
                } else {
                    tracing::warn!(package = %row.package_id, to = %row.recipient, attempts, error = %error, "notice not sent; will try again");
                }
                done.failed += 1;
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_four_hours() {
        assert_eq!(wait_after(1), Duration::seconds(60));
        assert_eq!(wait_after(2), Duration::seconds(120));
        assert_eq!(wait_after(5), Duration::seconds(960));
        assert_eq!(wait_after(9), Duration::seconds(4 * 3600));
        assert_eq!(wait_after(40), Duration::seconds(4 * 3600));
        // Twelve attempts span about sixteen hours.
        let total: i64 = (1..MAX_ATTEMPTS).map(|n| wait_after(n).num_seconds()).sum();
        assert!((15 * 3600..17 * 3600).contains(&total), "{total}");
    }
}
