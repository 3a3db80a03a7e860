//! The participants `omshub serve` authenticated, kept in memory for the policy status, the
//! route clinics call thousands of times a second (issue 8, point 5).
//!
//! Every other route looks the credential up in the database on each request
//! (`api::auth::Caller`). On the policy-status route that look-up cost a participant's request
//! more than the status itself (docs/PERFORMANCE.md, `policy_status`), so the route's extractor
//! (`api::auth::Provisional`) first asks this cache. An entry holds the principal a look-up
//! found, the **credential epoch** read *before* that look-up (`repo::credential_epoch`,
//! migration 000014: triggers move it in the same transaction as any change to a participant,
//! or to a token or certificate, that can change who authenticates), and the credential's end
//! of validity. A cached principal is only provisional: the handler reads the epoch again with
//! the request's own data (in the same blocking closure on SQLite, once per batch of the
//! batched reader on PostgreSQL), after the request arrived, and uses the principal only if
//! the epoch has not moved; otherwise it looks the credential up again ([`authenticate`]). So
//! a revocation committed before a request arrives refuses that request, as without a cache,
//! whichever process (the CLI, another server, a hand edit) made it.
//!
//! An entry is used until the credential expires and for at most [`MAX_AGE_SECS`] (the
//! resolution of `last_used_at`, which only a look-up writes); the cache holds at most
//! [`MAX_ENTRIES`] and is emptied when full.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Duration, NaiveDateTime};

use super::repo::{self, AuthFailure};
use super::{Principal, repo::credential_epoch};
use crate::db::DbConn;

/// Seconds an entry is used at most before the credential is looked up again.
pub const MAX_AGE_SECS: i64 = 60;
/// Entries at most; the cache is emptied when a new one would exceed it.
pub const MAX_ENTRIES: usize = 65_536;

/// What kind of credential a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A bearer token, by the SHA-256 of the token (lower-case hex).
    Token,
    /// A client certificate, by the SHA-256 of its DER encoding (lower-case hex).
    Certificate,
}

/// One authenticated credential.
#[derive(Debug, Clone)]
struct Entry {
    principal: Principal,
    /// The credential epoch read before the look-up that found it.
    epoch: i64,
    /// When the credential expires.
    until: NaiveDateTime,
    /// When the look-up ran.
    looked_up: NaiveDateTime,
}

/// A principal from the cache, with the epoch it must still be confirmed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// Who the credential authenticated.
    pub principal: Principal,
    /// The credential epoch read before that look-up.
    pub epoch: i64,
}

/// The credentials authenticated by look-ups, by kind and key.
#[derive(Debug, Default)]
pub struct CredentialCache {
    entries: Mutex<HashMap<(Credential, String), Entry>>,
}

impl CredentialCache {
    /// The principal of `key`, if a look-up found it less than [`MAX_AGE_SECS`] ago and the
    /// credential has not expired at `now`; to be confirmed against the epoch.
    #[must_use]
    pub fn get(&self, credential: Credential, key: &str, now: NaiveDateTime) -> Option<Cached> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&(credential, key.to_owned()))?;
        (now < entry.until && now - entry.looked_up < Duration::seconds(MAX_AGE_SECS)).then(|| {
            Cached {
                principal: entry.principal.clone(),
                epoch: entry.epoch,
            }
        })
    }

    fn put(&self, credential: Credential, key: &str, entry: Entry) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert((credential, key.to_owned()), entry);
        }
    }

    /// Drops the entry of `key`.
    pub fn forget(&self, credential: Credential, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(credential, key.to_owned()));
        }
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Looks `key` up in the database as `repo::authenticate_token` / `authenticate_certificate`
/// do, after reading the credential epoch, and keeps what it found in `cache` (unless the
/// epoch's row is missing).
///
/// # Errors
/// Why the credential does not authenticate, or the database failed.
pub fn authenticate(
    conn: &mut DbConn,
    cache: &CredentialCache,
    credential: Credential,
    key: &str,
    now: NaiveDateTime,
) -> Result<Principal, AuthFailure> {
    let epoch = credential_epoch(conn)?;
    let found = match credential {
        Credential::Token => repo::token_principal(conn, key, now),
        Credential::Certificate => repo::certificate_principal(conn, key, now),
    };
    let (principal, until) = match found {
        Ok(found) => found,
        Err(failure) => {
            cache.forget(credential, key);
            return Err(failure);
        }
    };
    if let Some(epoch) = epoch {
        let entry = Entry {
            principal: principal.clone(),
            epoch,
            until,
            looked_up: now,
        };
        cache.put(credential, key, entry);
    }
    Ok(principal)
}

/// Whether `cached` still holds: the epoch read now, after the request arrived, is the one
/// read before its look-up.
#[must_use]
pub fn holds(cached_epoch: i64, epoch_now: Option<i64>) -> bool {
    epoch_now == Some(cached_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::participants::{Kind, Roles};

    fn principal(id: i64) -> Principal {
        Principal {
            id,
            kind: Kind::Auditor,
            org_code: None,
            name: format!("auditor {id}"),
            roles: Roles::default(),
        }
    }

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(h, m, s))
            .unwrap_or_default()
    }

    fn entry(id: i64, epoch: i64, until: NaiveDateTime, looked_up: NaiveDateTime) -> Entry {
        Entry {
            principal: principal(id),
            epoch,
            until,
            looked_up,
        }
    }

    #[test]
    fn an_entry_is_used_until_the_credential_expires_and_for_a_minute_at_most() {
        let cache = CredentialCache::default();
        cache.put(
            Credential::Token,
            "a",
            entry(1, 7, at(12, 0, 30), at(12, 0, 0)),
        );
        cache.put(
            Credential::Token,
            "b",
            entry(2, 7, at(23, 0, 0), at(12, 0, 0)),
        );
        let hit = cache.get(Credential::Token, "a", at(12, 0, 29));
        assert_eq!(
            hit,
            Some(Cached {
                principal: principal(1),
                epoch: 7
            })
        );
        assert_eq!(cache.get(Credential::Token, "a", at(12, 0, 30)), None);
        assert!(cache.get(Credential::Token, "b", at(12, 0, 59)).is_some());
        assert_eq!(cache.get(Credential::Token, "b", at(12, 1, 0)), None);
        // A certificate with the same key is another credential.
        assert_eq!(cache.get(Credential::Certificate, "b", at(12, 0, 1)), None);
        cache.forget(Credential::Token, "b");
        assert_eq!(cache.get(Credential::Token, "b", at(12, 0, 1)), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_is_emptied_before_the_next_entry() {
        let cache = CredentialCache::default();
        for n in 0..MAX_ENTRIES {
            cache.put(
                Credential::Token,
                &n.to_string(),
                entry(1, 0, at(23, 0, 0), at(12, 0, 0)),
            );
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        cache.put(
            Credential::Token,
            "new",
            entry(2, 0, at(23, 0, 0), at(12, 0, 0)),
        );
        assert_eq!(cache.len(), 1);
        assert!(cache.get(Credential::Token, "new", at(12, 0, 1)).is_some());
    }

    #[test]
    fn a_cached_principal_holds_only_while_the_epoch_has_not_moved() {
        assert!(holds(7, Some(7)));
        assert!(!holds(7, Some(8)));
        assert!(!holds(7, None));
    }
}
