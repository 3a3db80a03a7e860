//! Issue 21, the package path's money and file-system holes: copies of one account checked at
//! the same time by two workers are paid once; a package name is used once whatever form
//! carries it (bare or inside an enveloping signature); an inbox folder that is no participant
//! is refused and moved aside, and the sender rule runs for the participant's folder; a write
//! of a protocol that fails on a full disk leaves no temporary file; two workers claiming at
//! once on SQLite both get a package.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use actix_web::test::TestRequest;
use chrono::NaiveDate;
use diesel::prelude::*;
use omshub::db::schema::{case_decision, package, package_case};
use omshub::r#gen::{AccountsOptions, write_package};
use omshub::intake::store::{self, NewPackage, Recorded};
use omshub::intake::{Channel, Status};
use serde_json::Value;

use crate::intake_signatures::{Keys, account, clinic, upload, without_rules};
use crate::signature::test_pki::{ENVELOPING, pki, sign};
use crate::support::{READER_TOKEN, TestApp};

/// The generated account of `seed` (`cases` cases of clinic 750096) under package number
/// `number`: its name and bytes. The same seed gives the same cases whatever the number.
fn numbered_package(cases: u64, seed: u64, number: u32) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = AccountsOptions::new(cases, seed).unwrap();
    options.package = number;
    let written = write_package(dir.path(), &options).unwrap();
    let zip = &written.files[2].path;
    let name = zip.file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(zip).unwrap())
}

async fn upload_zip(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> String {
    let res = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/packages?name={name}"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", "application/zip"))
                .set_payload(bytes.to_vec()),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.text());
    res.json::<Value>()["id"].as_str().unwrap().to_owned()
}

/// The protocol of package `id`, decoded.
fn protocol_text(app: &TestApp, id: &str) -> String {
    let row = store::get(&mut app.conn(), id).unwrap().unwrap();
    let name = row
        .protocol_name
        .unwrap_or_else(|| panic!("{id}: no protocol"));
    let bytes = std::fs::read(app.state.intake.storage.protocol_dir(id).join(name)).unwrap();
    encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned()
}

/// The double-billing key of a stored case (as rule OMSH.00.0701 keys it).
type Key = (String, String, NaiveDate, NaiveDate, Option<i32>);

/// How many times each case key is paid (`case_decision.oplata = 1`) over every package.
fn paid_per_key(app: &TestApp) -> HashMap<Key, Vec<String>> {
    let mut conn = app.conn();
    let attempts: HashMap<String, i32> = package::table
        .select((package::id, package::attempts))
        .load::<(String, i32)>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    let paid: Vec<(String, i64)> = case_decision::table
        .filter(case_decision::oplata.eq(1))
        .select((case_decision::package_id, case_decision::n_zap))
        .load(&mut *conn)
        .unwrap();
    #[expect(clippy::type_complexity, reason = "the selected columns, once")]
    let cases: Vec<(
        String,
        i32,
        i64,
        Option<String>,
        String,
        String,
        NaiveDate,
        NaiveDate,
        Option<i32>,
    )> = package_case::table
        .select((
            package_case::package_id,
            package_case::attempt,
            package_case::n_zap,
            package_case::enp,
            package_case::id_pac,
            package_case::code_mo,
            package_case::date_1,
            package_case::date_2,
            package_case::usl_ok,
        ))
        .load(&mut *conn)
        .unwrap();
    let keys: HashMap<(String, i64), Key> = cases
        .into_iter()
        .filter(|c| attempts.get(&c.0) == Some(&c.1))
        .map(|(id, _, n_zap, enp, id_pac, mo, d1, d2, usl)| {
            ((id, n_zap), (enp.unwrap_or(id_pac), mo, d1, d2, usl))
        })
        .collect();
    let mut per_key = HashMap::new();
    for case in paid {
        let key = keys
            .get(&case)
            .unwrap_or_else(|| panic!("a paid case without its stored case: {case:?}"))
            .clone();
        per_key.entry(key).or_insert_with(Vec::new).push(case.0);
    }
    per_key
}

/// Waits until every package of `ids` is final (the workers run on their own threads).
fn wait_final(app: &TestApp, ids: &[String]) {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let pending = ids
            .iter()
            .filter(|id| {
                !store::get(&mut app.conn(), id)
                    .unwrap()
                    .unwrap()
                    .status()
                    .is_some_and(Status::is_final)
            })
            .count();
        if pending == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "{pending} packages never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Point 1: 20 accounts, each uploaded under two package numbers, checked by two workers at
/// once (each pair is next to each other in the queue, so the two workers take its two
/// copies together): every case is paid once, one copy of each pair is accepted and the other
/// refused with OMSH.00.0701 in its protocol.
#[actix_web::test]
async fn copies_of_an_account_checked_at_once_by_two_workers_are_paid_once() {
    const PAIRS: u32 = 20;
    const CASES: u64 = 50;
    let app = TestApp::spawn();
    let mut pairs = Vec::new();
    for pair in 0..PAIRS {
        let seed = 77 + u64::from(pair);
        let (a_name, a_bytes) = numbered_package(CASES, seed, 100 + 2 * pair);
        let (b_name, b_bytes) = numbered_package(CASES, seed, 101 + 2 * pair);
        assert_ne!(a_name, b_name);
        let a = upload_zip(&app, READER_TOKEN, &a_name, &a_bytes).await;
        let b = upload_zip(&app, READER_TOKEN, &b_name, &b_bytes).await;
        pairs.push((a, b));
    }
    let ids: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let workers = omshub::intake::worker::Workers::start(Arc::clone(&app.state.intake), 2).unwrap();
    let waited = std::thread::scope(|s| s.spawn(|| wait_final(&app, &ids)).join());
    workers.stop();
    if let Err(panic) = waited {
        std::panic::resume_unwind(panic);
    }

    // A key may be paid twice within one account (two cases of one day that the rules of the
    // account tell apart by profile); never by two packages.
    let paid = paid_per_key(&app);
    for (key, mut packages) in paid.clone() {
        packages.sort();
        packages.dedup();
        assert_eq!(packages.len(), 1, "case {key:?} paid by {packages:?}");
    }
    let cases: usize = paid.values().map(Vec::len).sum();
    assert_eq!(cases, usize::try_from(u64::from(PAIRS) * CASES).unwrap());
    for (a, b) in &pairs {
        let status = |id: &str| store::get(&mut app.conn(), id).unwrap().unwrap().status();
        let (winner, loser) = match (status(a), status(b)) {
            (Some(Status::Accepted), Some(Status::Rejected)) => (a, b),
            (Some(Status::Rejected), Some(Status::Accepted)) => (b, a),
            other => panic!("pair {a} {b}: {other:?}"),
        };
        let loser_row = store::get(&mut app.conn(), loser).unwrap().unwrap();
        assert_eq!(
            loser_row.refusal_reason.as_deref(),
            Some("OMSH.00.0701"),
            "{loser_row:?}"
        );
        let xml = protocol_text(&app, loser);
        assert_eq!(
            xml.matches("<OSHIB>OMSH.00.0701</OSHIB>").count(),
            usize::try_from(CASES).unwrap(),
            "{xml}"
        );
        assert!(
            xml.contains(winner.as_str()),
            "the protocol names the package paid"
        );
    }
}

/// Point 2: a package name accepted bare is 805 when the same ZIP comes again inside an
/// enveloping signature (`….zip.sig`), and the other way round.
#[actix_web::test]
async fn a_name_is_used_once_whatever_form_carries_it() {
    let keys = Keys::new();
    let app = TestApp::spawn_with(|s| without_rules(s, &keys));
    crate::participants::import_registers(&mut app.conn());
    let token = clinic(&app, "750901", &[&pki().rsa]);
    let drain = || while app.state.intake.process_next().unwrap() {};

    // Bare first, then enveloping.
    let a = account(6, 41).renumbered("26018");
    let bare = upload(&app, &token, &a.package, &a.signed_zip(&pki().rsa)).await;
    assert_eq!(bare.status, 202, "{}", bare.text());
    drain();
    let bare: Value = bare.json();
    let first = store::get(&mut app.conn(), bare["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), Some(Status::Accepted), "{first:?}");
    let enveloped = sign(&pki().rsa, &a.signed_zip(&pki().rsa), ENVELOPING);
    let again = upload(&app, &token, &format!("{}.sig", a.package), &enveloped).await;
    assert_eq!(again.status, 202, "{}", again.text());
    drain();
    let again: Value = again.json();
    let second = store::get(&mut app.conn(), again["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(second.status(), Some(Status::Rejected), "{second:?}");
    assert_eq!(second.refusal_code.as_deref(), Some("805"), "{second:?}");
    assert_eq!(
        second.refusal_reason.as_deref(),
        Some("name_already_used"),
        "{second:?}"
    );
    assert_eq!(store::case_count(&mut app.conn(), &second.id).unwrap(), 0);

    // Enveloping first, then bare (another case of the name: the same package).
    let b = account(6, 42).renumbered("26019");
    let enveloped = sign(&pki().rsa, &b.signed_zip(&pki().rsa), ENVELOPING);
    let first: Value = upload(&app, &token, &format!("{}.sig", b.package), &enveloped)
        .await
        .json();
    drain();
    let first = store::get(&mut app.conn(), first["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(first.status(), Some(Status::Accepted), "{first:?}");
    let bare: Value = upload(&app, &token, &b.package, &b.signed_zip(&pki().rsa))
        .await
        .json();
    drain();
    let second = store::get(&mut app.conn(), bare["id"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (second.status(), second.refusal_code.as_deref()),
        (Some(Status::Rejected), Some("805")),
        "{second:?}"
    );
}

/// Point 3: with `signature.required` unset, a file in an inbox folder that names no
/// participant (`evil/`, or a clinic's code without a participant) is not taken: it is moved
/// to `<inbox>/.refused/<folder>/` with its coded refusal, and nothing is recorded; a file in
/// a participant's folder is taken as that participant's and the sender rule OMSH.00.0201
/// runs over it (its clinic sends another clinic's account: rejected).
#[actix_web::test]
async fn an_inbox_folder_that_is_no_participant_is_refused_and_moved_aside() {
    let folders = tempfile::tempdir().unwrap();
    let (inbox_dir, outbox_dir) = (folders.path().join("in"), folders.path().join("out"));
    let app = TestApp::spawn_with(|s| {
        s.intake.inbox_dir.clone_from(&inbox_dir);
        s.intake.outbox_dir.clone_from(&outbox_dir);
        s.signature.required.clear();
    });
    crate::participants::import_registers(&mut app.conn());
    let clinic = omshub::participants::add(
        &mut app.conn(),
        &omshub::participants::NewParticipant {
            kind: omshub::participants::Kind::Clinic,
            org_code: Some("750901".into()),
            name: "Clinic 750901".into(),
            contact_email: None,
            roles: None,
        },
        omshub::participants::now(),
    )
    .unwrap();
    // The generator's account is clinic 750096's.
    let (name, bytes) = numbered_package(8, 9, 1);
    for folder in ["evil", "750096", "750901"] {
        let dir = inbox_dir.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&name), &bytes).unwrap();
    }
    let mut inbox = omshub::intake::inbox::Inbox::default();
    assert_eq!(inbox.poll(&app.state.intake).unwrap(), 0);
    assert_eq!(
        inbox.poll(&app.state.intake).unwrap(),
        1,
        "only the participant's"
    );

    for folder in ["evil", "750096"] {
        assert!(!inbox_dir.join(folder).join(&name).exists(), "{folder}");
        let aside = inbox_dir.join(".refused").join(folder);
        assert_eq!(std::fs::read(aside.join(&name)).unwrap(), bytes, "{folder}");
        let refusal: Value = serde_json::from_slice(
            &std::fs::read(aside.join(format!("{name}.refused.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(refusal["error"], "sender_unknown", "{refusal}");
    }
    // A third look takes nothing more (the refused files are no sender's).
    assert_eq!(inbox.poll(&app.state.intake).unwrap(), 0);
    let (total, rows) = store::list(&mut app.conn(), None, 10, 0).unwrap();
    assert_eq!(total, 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.sender, format!("participant:{}", clinic.id));
    assert_eq!(row.channel, "inbox");

    while app.state.intake.process_next().unwrap() {}
    let row = store::get(&mut app.conn(), &row.id).unwrap().unwrap();
    assert_eq!(row.status(), Some(Status::Rejected), "{row:?}");
    assert_eq!(
        row.refusal_reason.as_deref(),
        Some("OMSH.00.0201"),
        "{row:?}"
    );
    assert!(
        omshub::settlement::load_decisions(&mut app.conn(), &row.id)
            .unwrap()
            .is_none()
    );
    // The protocol reached the participant's folder of the outbox.
    let protocol = outbox_dir
        .join("750901")
        .join(format!("V{}.xml", name.trim_end_matches(".zip")));
    let protocol = std::fs::read(protocol).unwrap();
    let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&protocol);
    assert!(xml.contains("<OSHIB>OMSH.00.0201</OSHIB>"), "{xml}");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at a new folder; `None` (with the reason printed) when the
    /// test does not run as root.
    fn mount(size: &str) -> Option<(tempfile::TempDir, Self)> {
        let uid = std::process::Command::new("id").arg("-u").output().unwrap();
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            println!("skipped: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed");
        let path = dir.path().to_owned();
        Some((dir, Self(path)))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system of `dir` with a file of zeros.
fn fill(dir: &std::path::Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
}

/// Every `*.tmp` file under `dir`.
fn temporary_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(temporary_files(&path));
        } else if path.extension().is_some_and(|e| e == "tmp") {
            found.push(path);
        }
    }
    found
}

/// Point 7: the storage is a full tmpfs when the protocols are written: every attempt fails,
/// the package ends `rejected` `internal`, and no temporary file stays under `protocols/`.
#[actix_web::test]
async fn a_full_disk_leaves_no_temporary_file_behind() {
    let Some((_dir, tmpfs)) = Tmpfs::mount("4m") else {
        return;
    };
    let keys = Keys::new();
    let storage = tmpfs.0.clone();
    let app = TestApp::spawn_with(|s| {
        keys.apply(s);
        s.signature.required.clear();
        s.intake.storage_dir.clone_from(&storage);
    });
    let (name, bytes) = numbered_package(300, 5, 1);
    let id = upload_zip(&app, READER_TOKEN, &name, &bytes).await;
    fill(&storage);
    for _ in 0..omshub::intake::pipeline::MAX_ATTEMPTS {
        assert!(app.state.intake.process_next().is_err(), "the disk is full");
    }
    let row = store::get(&mut app.conn(), &id).unwrap().unwrap();
    assert_eq!(
        (row.status(), row.refusal_code.as_deref()),
        (Some(Status::Rejected), Some("internal")),
        "{row:?}"
    );
    let left = temporary_files(&storage);
    assert!(left.is_empty(), "temporary files left: {left:?}");
    drop(app);
    drop(tmpfs);
}

/// Point 11: two workers claiming at once (round after round) both get a package, and
/// neither fails with "database is locked" (SQLite: the claim waits on the write lock).
#[actix_web::test]
async fn two_workers_claiming_at_once_both_get_a_package() {
    let app = TestApp::spawn();
    for round in 0..100 {
        for n in 0..2 {
            let id = uuid::Uuid::new_v4().to_string();
            let sha = format!("{round:032}{n:032}");
            let recorded = store::record(
                &mut app.conn(),
                &NewPackage {
                    id: &id,
                    sender: "reader-1",
                    channel: Channel::Api,
                    file_name: &format!("HM750096T75_2601{round}{n}.zip"),
                    sha256: &sha,
                    size_bytes: 1,
                    idempotency_key: None,
                    signatures: "",
                },
            )
            .unwrap();
            assert!(matches!(recorded, Recorded::New(_)));
        }
        let barrier = Barrier::new(2);
        let claims: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let mut conn = app.state.db.conn().unwrap();
                        barrier.wait();
                        store::claim_next(&mut conn).map(|r| r.map(|r| r.id))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ids: Vec<String> = claims
            .into_iter()
            .map(|c| {
                c.unwrap_or_else(|e| panic!("round {round}: a claim failed: {e}"))
                    .unwrap_or_else(|| panic!("round {round}: a claim found nothing"))
            })
            .collect();
        assert_ne!(ids[0], ids[1], "round {round}: one package claimed twice");
    }
}
