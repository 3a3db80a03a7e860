//! Embedded schema migrations, one directory per dialect with identical names
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! `omshub migrate` applies them; `serve` applies them on SQLite and on PostgreSQL when
//! `database.migrate_on_start` is set, and otherwise refuses to start on an outdated schema.

use diesel::migration::MigrationVersion;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, DbError};

/// Migrations written for SQLite.
pub const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations written for PostgreSQL.
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn versions(list: Vec<MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}

fn migration_error(e: &(dyn std::error::Error + Send + Sync)) -> DbError {
    DbError::Migration(e.to_string())
}

/// Applies every pending migration and returns the versions applied, oldest first.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE),
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| migration_error(&*e))?;
    Ok(versions(applied))
}

/// Versions not yet applied to this database.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let list = match conn {
        DbConn::Sqlite(c) => c
            .pending_migrations(SQLITE)
            .map(|m| m.iter().map(|m| m.name().version().to_string()).collect()),
        DbConn::Pg(c) => c
            .pending_migrations(POSTGRES)
            .map(|m| m.iter().map(|m| m.name().version().to_string()).collect()),
    };
    list.map_err(|e| migration_error(&*e))
}

/// Versions applied to this database, newest first.
pub fn applied(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let list = match conn {
        DbConn::Sqlite(c) => c.applied_migrations(),
        DbConn::Pg(c) => c.applied_migrations(),
    }
    .map_err(|e| migration_error(&*e))?;
    Ok(versions(list))
}

/// Reverts every applied migration, newest first, and returns the versions reverted. Used by
/// the migration round-trip test; no command exposes it.
pub fn revert_all(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let reverted = match conn {
        DbConn::Sqlite(c) => c.revert_all_migrations(SQLITE),
        DbConn::Pg(c) => c.revert_all_migrations(POSTGRES),
    }
    .map_err(|e| migration_error(&*e))?;
    Ok(versions(reverted))
}
