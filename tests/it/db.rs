//! The database layer on the backend under test: migrations round trip, PRAGMAs, the
//! connection enum, housekeeping.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use omshub::db::schema::territorial_fund;
use omshub::db::{self, Backend, Database, DbConn, migrations};

use crate::support::{TestBackend, TestDb, backend};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// User tables of the database, sorted (diesel's own bookkeeping table excluded).
fn tables(conn: &mut DbConn) -> Vec<String> {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name"
        }
        DbConn::Pg(_) => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
             ORDER BY table_name"
        }
    };
    diesel::sql_query(sql)
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

fn migration_dirs(dialect: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!(
        "{}/migrations/{dialect}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
    .collect();
    names.sort();
    names
}

#[test]
fn every_migration_runs_up_down_and_up_again() {
    let test_db = TestDb::new();
    let database = Database::open(&test_db.settings().database).unwrap();
    let mut conn = database.conn().unwrap();
    let all = migrations::pending(&mut conn).unwrap();
    assert_eq!(all.len(), migration_dirs("sqlite").len());

    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied, all);
    let after_up = tables(&mut conn);
    assert!(
        after_up.contains(&"territorial_fund".to_owned()),
        "{after_up:?}"
    );
    assert!(migrations::pending(&mut conn).unwrap().is_empty());

    let reverted = migrations::revert_all(&mut conn).unwrap();
    assert_eq!(reverted.len(), all.len());
    assert_eq!(
        tables(&mut conn),
        Vec::<String>::new(),
        "down.sql left tables behind"
    );

    let again = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(again, all);
    assert_eq!(tables(&mut conn), after_up);
    assert_eq!(migrations::applied(&mut conn).unwrap().len(), all.len());
}

#[test]
fn migrate_is_idempotent_and_reports_what_it_applied() {
    let test_db = TestDb::new();
    let settings = test_db.settings();
    let (_, first) = db::migrate(&settings.database).unwrap();
    assert_eq!(first.len(), migration_dirs("postgres").len());
    let (database, second) = db::migrate(&settings.database).unwrap();
    assert!(second.is_empty(), "{second:?}");
    let expected = match backend() {
        TestBackend::Sqlite => Backend::Sqlite,
        TestBackend::Postgres => Backend::Postgres,
    };
    assert_eq!(database.backend(), expected);
}

#[derive(Insertable, Queryable, Selectable, Debug, PartialEq)]
#[diesel(table_name = territorial_fund)]
struct Fund {
    code: String,
    okato: String,
    ogrn: Option<String>,
    name_full: String,
    name_short: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[test]
fn the_connection_enum_inserts_reads_and_enforces_constraints() {
    let test_db = TestDb::new();
    let (database, _) = db::migrate(&test_db.settings().database).unwrap();
    let mut conn = database.conn().unwrap();
    let now = Utc::now().naive_utc().with_nanosecond_truncated();
    let fund = Fund {
        code: "75".into(),
        okato: "76000".into(),
        ogrn: None,
        name_full: "Территориальный фонд ОМС Забайкальского края".into(),
        name_short: "ТФОМС Забайкальского края".into(),
        valid_from: NaiveDate::from_ymd_opt(2011, 1, 1).unwrap(),
        valid_to: None,
        created_at: now,
        updated_at: now,
    };
    let inserted = diesel::insert_into(territorial_fund::table)
        .values(&fund)
        .execute(&mut *conn)
        .unwrap();
    assert_eq!(inserted, 1);
    let back: Fund = territorial_fund::table
        .find("75")
        .select(Fund::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(back, fund);

    // The same code twice, and a malformed code, are refused by the schema on both backends.
    let dup = diesel::insert_into(territorial_fund::table)
        .values(&fund)
        .execute(&mut *conn);
    assert!(dup.is_err());
    let bad = Fund {
        code: "750".into(),
        okato: "76001".into(),
        ..fund
    };
    assert!(
        diesel::insert_into(territorial_fund::table)
            .values(&bad)
            .execute(&mut *conn)
            .is_err()
    );
    let count: i64 = territorial_fund::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(count, 1);
}

trait TruncateNanos {
    fn with_nanosecond_truncated(self) -> Self;
}

impl TruncateNanos for chrono::NaiveDateTime {
    /// PostgreSQL keeps microseconds; compare at that precision.
    fn with_nanosecond_truncated(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(self.nanosecond() / 1000 * 1000)
            .unwrap()
    }
}

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = Text)]
    value: String,
}

#[test]
fn sqlite_connections_carry_the_pragmas() {
    if backend() != TestBackend::Sqlite {
        return;
    }
    let test_db = TestDb::new();
    let database = Database::open(&test_db.settings().database).unwrap();
    let mut conn = database.conn().unwrap();
    let read = |conn: &mut DbConn, pragma: &str| -> String {
        // The table-valued pragma functions name their column after the pragma, except
        // busy_timeout, whose column is `timeout`.
        let column = if pragma == "busy_timeout" {
            "timeout"
        } else {
            pragma
        };
        diesel::sql_query(format!(
            "SELECT CAST({column} AS TEXT) AS value FROM pragma_{pragma}"
        ))
        .get_result::<Pragma>(conn)
        .unwrap()
        .value
    };
    assert_eq!(read(&mut conn, "foreign_keys"), "1");
    assert_eq!(read(&mut conn, "journal_mode"), "wal");
    assert_eq!(read(&mut conn, "busy_timeout"), "5000");
    assert_eq!(read(&mut conn, "synchronous"), "1", "NORMAL is 1");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[test]
fn maintenance_runs_on_the_backend() {
    let test_db = TestDb::new();
    let (database, _) = db::migrate(&test_db.settings().database).unwrap();
    database.maintenance().unwrap();
    // Still usable afterwards.
    let mut conn = database.conn().unwrap();
    let n = diesel::sql_query("SELECT COUNT(*) AS n FROM territorial_fund")
        .get_result::<Count>(&mut *conn)
        .unwrap()
        .n;
    assert_eq!(n, 0);
}

#[test]
fn migrate_creates_a_missing_postgres_database() {
    if backend() != TestBackend::Postgres {
        return;
    }
    let test_db = TestDb::new();
    // Point at a sibling database that does not exist yet; migrate must create it.
    let mut url = url::Url::parse(&test_db.url).unwrap();
    let name = format!("{}_new", url.path().trim_start_matches('/'));
    url.set_path(&format!("/{name}"));
    let mut settings = test_db.settings();
    settings.database.url = url.to_string();
    let (database, applied) = db::migrate(&settings.database).unwrap();
    assert!(!applied.is_empty());
    database.ping().unwrap();
    drop(database);
    // Clean up the extra database through the admin connection.
    let admin = std::env::var("OMSHUB_TEST_DATABASE_URL").unwrap();
    let mut conn = diesel::PgConnection::establish(&admin).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .unwrap();
}

#[test]
fn unknown_scheme_is_refused_before_connecting() {
    let mut settings = TestDb::new().settings();
    settings.database.url = "mysql://root@127.0.0.1/omshub".into();
    let err = Database::open(&settings.database).unwrap_err().to_string();
    assert!(err.contains("mysql"), "{err}");
}
