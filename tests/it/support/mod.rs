//! Test harness: a fresh database per test on the backend that `OMSHUB_TEST_BACKEND` picks
//! (`sqlite`, the default, or `postgres` with `OMSHUB_TEST_DATABASE_URL`), and [`TestApp`], the
//! real app driven in-process.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web::Bytes;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use omshub::api::{self, AppState, ErrorBody};
use omshub::config::Settings;
use omshub::db::{self, Database};

/// The admin bearer token every test app accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// A reader bearer token every test app accepts.
pub const READER_TOKEN: &str = "test-reader-token-0123456789";

/// The backend this test run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub fn backend() -> TestBackend {
    match std::env::var("OMSHUB_TEST_BACKEND").as_deref() {
        Ok("postgres") => TestBackend::Postgres,
        Ok("sqlite") | Err(_) => TestBackend::Sqlite,
        Ok(other) => panic!("OMSHUB_TEST_BACKEND={other}: use sqlite or postgres"),
    }
}

fn postgres_admin_url() -> String {
    std::env::var("OMSHUB_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "OMSHUB_TEST_BACKEND=postgres needs OMSHUB_TEST_DATABASE_URL \
             (the README's test command sets it)"
        )
    })
}

/// A database that exists for one test only: a SQLite file in a temporary directory, or a
/// PostgreSQL database with a unique name, dropped when the value is dropped.
pub struct TestDb {
    pub url: String,
    /// The intake's storage folder (packages, protocols) of this test.
    pub storage: tempfile::TempDir,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> Self {
        match backend() {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = dir.path().join("data/omshub.sqlite3").display().to_string();
                Self {
                    url,
                    storage: tempfile::tempdir().unwrap(),
                    _dir: Some(dir),
                    pg: None,
                }
            }
            TestBackend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("omshub_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap();
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    storage: tempfile::tempdir().unwrap(),
                    _dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    /// Settings for this database: the defaults (no environment), a short connect timeout.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::load_without_env(None).unwrap();
        settings.database.url.clone_from(&self.url);
        settings.database.connect_timeout_secs = 2;
        settings.database.pool_max_size = 4;
        settings.auth.admin_token = ADMIN_TOKEN.into();
        settings.auth.reader_tokens = vec![READER_TOKEN.into()];
        settings.intake.storage_dir = self.storage.path().to_owned();
        settings.mail.file_dir = self.storage.path().join("mail");
        settings
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take()
            && let Ok(mut conn) = PgConnection::establish(&admin)
        {
            {
                let _ =
                    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// The answer to one request.
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not the expected JSON ({e}): {}", self.text()))
    }

    /// The error envelope; fails the test if the body is not one.
    pub fn error(&self) -> ErrorBody {
        self.json()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// The real application, in-process, on a fresh migrated database.
pub struct TestApp {
    pub state: AppState,
    _db: TestDb,
}

impl TestApp {
    /// A migrated fresh database with the baseline classifiers, and the app around it with
    /// its look-up snapshot built, as `serve` prepares them.
    pub fn spawn() -> Self {
        Self::spawn_with(|_| {})
    }

    /// As [`TestApp::spawn`], with the settings changed by `change` first.
    pub fn spawn_with(change: impl FnOnce(&mut omshub::config::Settings)) -> Self {
        let db = TestDb::new();
        let mut settings = db.settings();
        change(&mut settings);
        let (database, _) = db::migrate(&settings.database).unwrap();
        omshub::nsi::prepare(&database, &settings.nsi).unwrap();
        let state = AppState::new(settings, database).unwrap();
        state.lookups.refresh(&state.db, true).unwrap();
        Self { state, _db: db }
    }

    /// The app around a database that does not answer: a SQLite file whose directory was
    /// removed after the pool opened, or a PostgreSQL port nobody listens on.
    pub fn with_unreachable_database() -> Self {
        let db = TestDb::new();
        let mut settings = db.settings();
        let database = match backend() {
            TestBackend::Sqlite => {
                let database = Database::open(&settings.database).unwrap();
                std::fs::remove_dir_all(std::path::Path::new(&db.url).parent().unwrap()).unwrap();
                database
            }
            TestBackend::Postgres => {
                settings.database.url = "postgres://postgres@127.0.0.1:1/omshub".into();
                Database::open(&settings.database).unwrap()
            }
        };
        let state = AppState::new(settings, database).unwrap();
        Self { state, _db: db }
    }

    pub async fn call(&self, req: TestRequest) -> TestResponse {
        let app = test::init_service(api::app(self.state.clone())).await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.call(TestRequest::get().uri(path)).await
    }

    /// GET with the reader token.
    pub async fn read(&self, path: &str) -> TestResponse {
        self.call(
            TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {READER_TOKEN}"))),
        )
        .await
    }

    /// A database connection of the app's pool.
    pub fn conn(&self) -> omshub::db::PooledConn {
        self.state.db.conn().unwrap()
    }
}
