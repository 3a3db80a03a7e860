//! Package intake under load and its overhead (issue 6, "Targets, measured in bench/"): 20
//! clinics upload a signed ~100 MB package at once to the real `omshub serve`, and the intake
//! overhead before the schema check (receive, ZIP checks, signature) is measured part by part
//! beside `unzip` and `openssl cms -verify` on the same files.
//!
//! Run: `cargo bench --bench intake_throughput` (release). In one run it
//! 1. generates an account package with `omshub::r#gen` (`OMSHUB_BENCH_INTAKE_MB`, default
//!    100 MB of ZIP, deflated as generated), a PKI (the test PKI of `src/signature/test_pki.rs`
//!    plus one signer per participant), a detached CMS signature of the whole ZIP per signer,
//!    and a second form of the package with a `<file>.sig` entry beside each XML file;
//! 2. starts the release `omshub serve` on 127.0.0.1 with a temporary configuration (SQLite,
//!    storage, `[signature] trust_store` = the root, `H` and `L` need `sig`), imports the
//!    register fixtures and a bench-made F003 packet of clinics (the hub allows one active
//!    participant per organisation, and fixtures/registers/F003.xml has three), adds 21 clinic
//!    participants each with its own signer's certificate and a token, launches 20 `curl`
//!    uploads at once (multipart: the package and its `.sig`), samples the server's `VmRSS` and
//!    `VmHWM`, and waits until every package has its final status;
//! 3. times one more upload alone (time to the 202), then, with the server stopped, the ZIP
//!    checks and signature checks in-process (`check_package_with` with the intake's
//!    `SignatureCheck` as `Hooks::verify` and `skip_files`, after `verify_detached_file` of the
//!    package signature, as intake does), and the per-file form; and the peers `unzip -l`,
//!    `unzip -t`, `openssl cms -verify` and `unzip -p | openssl cms -verify` on the same files,
//!    each under `/usr/bin/time -f %M` (Debian package `time`);
//! 4. writes its table to docs/PERFORMANCE.md between the `intake_throughput` markers, with
//!    the CPU the machine gave two 3-second busy loops before and after the run.
//!
//! Everything is written to a temporary folder that is removed afterwards; nothing leaves
//! 127.0.0.1. Needs `curl`, `unzip` and `openssl` on the path.

#[path = "report.rs"]
mod report;

#[path = "../src/signature/test_pki.rs"]
#[expect(
    dead_code,
    clippy::unwrap_used,
    reason = "the test PKI of the signature tests, reused as it is: its unit tests use the rest"
)]
mod test_pki;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use omshub::config::Settings;
use omshub::domain::{Inn, Ogrn};
use omshub::intake::signatures::{PackageSignature, SignatureCheck};
use omshub::signature::{CertificateInfo, Fingerprint, VerifyPolicy, verify_detached_file};
use omshub::validate::Validator;
use omshub::validate::package::{Hooks, PackageLimits, PackageView, check_package_with};
use omshub::validate::schema::Limits;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder};
use test_pki::{DETACHED, Identity, KeyKind};

/// Concurrent uploads.
const UPLOADS: usize = 20;
/// Participants: one per concurrent upload and one for the upload timed alone.
const PARTICIPANTS: usize = UPLOADS + 1;
/// The server's resident memory must stay below this (issue 6).
const RSS_TARGET_MB: u64 = 256;
/// Intake overhead at least this (issue 6).
const OVERHEAD_TARGET_MBS: f64 = 150.0;
/// Runs of each in-process figure and peer; the median is reported.
const RUNS: usize = 3;

/// Panics with `what` and the error: a benchmark stops at the first thing that goes wrong.
trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> Must<T> for Result<T, E> {
    fn must(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

impl<T> Must<T> for Option<T> {
    fn must(self, what: &str) -> T {
        self.unwrap_or_else(|| panic!("{what}"))
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "rates for a report"
)]
fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

#[expect(
    clippy::cast_precision_loss,
    clippy::float_arithmetic,
    reason = "sizes for a report"
)]
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// A duration for the table: milliseconds below a second.
#[expect(clippy::float_arithmetic, reason = "units for a report")]
fn time(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1000.0)
    } else {
        format!("{seconds:.2} s")
    }
}

/// `kib` as MiB for the table (the throughputs are in MB of 10^6 bytes).
fn memory(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{} MiB", k / 1024))
}

fn met(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**not met**" }
}

/// CPU seconds two threads got while each spun for 3 s of wall time: how much of the two
/// cores the shared machine gives at the moment (6.0 s = both cores free).
fn busy_loops() -> [f64; 2] {
    let spin = || {
        let started = Instant::now();
        let mut x = 1u64;
        while started.elapsed() < Duration::from_secs(3) {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
        }
        std::hint::black_box(x);
        thread_cpu_seconds()
    };
    let a = std::thread::spawn(spin);
    let b = std::thread::spawn(spin);
    [a.join().unwrap_or(0.0), b.join().unwrap_or(0.0)]
}

/// CPU time of the calling thread (the first field of /proc/thread-self/schedstat, ns).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| Duration::from_nanos(ns).as_secs_f64())
}

/// A field of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples a process's `VmRSS` every 20 ms; `peak` is the largest sample since the last reset.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// The largest sample since the last call, then starts over.
    fn take(&self) -> u64 {
        self.peak.swap(0, Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `program args` under `/usr/bin/time -f %M`: (seconds, peak RSS in KiB, success).
fn run_timed(program: &str, args: &[&str]) -> (f64, Option<u64>, bool) {
    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .args(["-f", "MAXRSS %M", program])
        .args(args)
        .stdout(Stdio::null())
        .output();
    let seconds = started.elapsed().as_secs_f64();
    let Ok(output) = output else {
        return (seconds, None, false);
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rss = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("MAXRSS "))
        .next_back()
        .and_then(|v| v.trim().parse().ok());
    if !output.status.success() {
        eprintln!("{program} {args:?} failed: {stderr}");
    }
    (seconds, rss, output.status.success())
}

/// A timed peer: median time of [`RUNS`], largest peak memory, every run succeeded.
struct Timed {
    seconds: f64,
    rss_kib: Option<u64>,
    ok: bool,
}

fn peer(program: &str, args: &[&str]) -> Timed {
    let runs: Vec<_> = (0..RUNS).map(|_| run_timed(program, args)).collect();
    Timed {
        seconds: median(runs.iter().map(|r| r.0).collect()),
        rss_kib: runs.iter().filter_map(|r| r.1).max(),
        ok: runs.iter().all(|r| r.2),
    }
}

/// Resets this process's peak resident memory (`echo 5 > /proc/self/clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Times `f` [`RUNS`] times in this process: median seconds, peak RSS of the bench process
/// during the runs (when the kernel lets the peak be reset), and the last result.
fn in_process<T>(mut f: impl FnMut() -> T) -> (Timed, T) {
    let resettable = reset_peak();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = Some(f());
        times.push(started.elapsed().as_secs_f64());
    }
    let rss = if resettable {
        status_kib(std::process::id(), "VmHWM")
    } else {
        None
    };
    (
        Timed {
            seconds: median(times),
            rss_kib: rss,
            ok: true,
        },
        last.must("no run"),
    )
}

// ---------------------------------------------------------------------------------------------
// Data: the package, the PKI, the signatures

/// Generates the package: a calibration run of a few thousand cases gives the ZIP bytes per
/// case, then the package of `target_bytes` is written to `dir`.
fn generate(dir: &Path, target_bytes: u64) -> (omshub::r#gen::Package, u64, f64) {
    let sample_cases = 5_000;
    let sample_dir = dir.join("calibration");
    let sample = omshub::r#gen::write_package(
        &sample_dir,
        &omshub::r#gen::AccountsOptions::new(sample_cases, 1).must("options"),
    )
    .must("generate the calibration package");
    let per_case = sample.files[2].bytes.div_ceil(sample_cases).max(1);
    let _ = std::fs::remove_dir_all(&sample_dir);
    let cases = (target_bytes / per_case).max(1);
    let started = Instant::now();
    let options = omshub::r#gen::AccountsOptions::new(cases, 1).must("options");
    let package = omshub::r#gen::write_package(dir, &options).must("generate the package");
    (package, cases, started.elapsed().as_secs_f64())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// A signer certificate (ECDSA P-256) issued by the test PKI's intermediate CA, valid from
/// yesterday for 30 days.
fn issue_signer(n: u32) -> Identity {
    let ca = &test_pki::pki().intermediate;
    let key = test_pki::key(KeyKind::P256);
    let mut name = X509NameBuilder::new().must("name");
    name.append_entry_by_text("C", "RU").must("name");
    name.append_entry_by_text("O", "omshub bench").must("name");
    name.append_entry_by_text("CN", &format!("Bench clinic signer {n}"))
        .must("name");
    let name = name.build();
    let mut b = X509Builder::new().must("certificate");
    b.set_version(2).must("version");
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(10_000 + n).must("serial")).must("serial");
    b.set_serial_number(&serial).must("serial");
    b.set_subject_name(&name).must("subject");
    b.set_issuer_name(ca.cert.subject_name()).must("issuer");
    b.set_pubkey(&key).must("key");
    let day = 86_400;
    b.set_not_before(&Asn1Time::from_unix(unix_now() - day).must("time"))
        .must("not before");
    b.set_not_after(&Asn1Time::from_unix(unix_now() + 30 * day).must("time"))
        .must("not after");
    b.append_extension(BasicConstraints::new().build().must("extension"))
        .must("extension");
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .non_repudiation()
            .build()
            .must("extension"),
    )
    .must("extension");
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(Some(&ca.cert), None))
        .must("extension");
    b.append_extension(ski).must("extension");
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(&ca.cert), None))
        .must("extension");
    b.append_extension(aki).must("extension");
    b.sign(&ca.key, MessageDigest::sha256()).must("sign");
    Identity {
        cert: b.build(),
        key,
    }
}

/// Signs `file` with a detached CMS (DER) by `openssl cms -sign`, which streams the content:
/// the XML files of the package are too large to hold in memory for the `openssl` crate.
fn openssl_sign(file: &Path, out: &Path, pki_dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nosmimecap",
            "-outform",
            "DER",
            "-in",
        ])
        .arg(file)
        .arg("-signer")
        .arg(pki_dir.join("signer0.pem"))
        .arg("-inkey")
        .arg(pki_dir.join("signer0.key"))
        .arg("-certfile")
        .arg(pki_dir.join("intermediate.pem"))
        .arg("-out")
        .arg(out)
        .status()
        .must("run openssl cms -sign");
    assert!(
        status.success(),
        "openssl cms -sign {} failed",
        file.display()
    );
}

/// The per-file form: the entries of `zip` copied as they are (still deflated) and a
/// `<file>.sig` entry beside each, written to `out`.
fn per_file_package(zip: &Path, sigs: &[(String, PathBuf)], out: &Path) {
    let source = std::fs::File::open(zip).must("open the package");
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(source)).must("read the ZIP");
    let target = std::fs::File::create(out).must("create the per-file package");
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(target));
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).must("entry");
        writer.raw_copy_file(entry).must("copy the entry");
    }
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, path) in sigs {
        writer
            .start_file(name.as_str(), options)
            .must("signature entry");
        writer
            .write_all(&std::fs::read(path).must("read the signature"))
            .must("write the signature entry");
    }
    writer.finish().must("finish the per-file package");
}

/// A register packet F003 of `n` invented clinics of territory 34 (`3409NN`, from 340910),
/// each active since 2012, with check-digit-valid INN and OGRN: the hub allows one active
/// participant per organisation, so 21 participants need 21 clinics.
fn clinics_packet(n: usize) -> (String, Vec<String>) {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- omshub bench: invented clinics -->\n<packet version=\"omshub-bench\" date=\"15.01.2026\">\n",
    );
    let mut codes = Vec::new();
    for i in 0..n {
        let seq = u32::try_from(i).must("clinic number");
        let code = format!("3409{:02}", 10 + seq);
        let inn = Inn::legal_from_payload(344_591_000 + seq).must("INN");
        let ogrn = Ogrn::from_payload(113_340_091_000 + u64::from(seq)).must("OGRN");
        let _ = write!(
            xml,
            "  <medCompany>\n    <tf_okato>18000</tf_okato>\n    <mcod>{code}</mcod>\n    <nam_mop>Бюджетное учреждение «Тестовая поликлиника для нагрузки № {i}»</nam_mop>\n    <nam_mok>БУ «ТПН № {i}»</nam_mok>\n    <inn>{inn}</inn>\n    <Ogrn>{ogrn}</Ogrn>\n    <KPP>344501001</KPP>\n    <jurAddress>\n      <index_j>400010</index_j>\n      <addr_j>г. Тестоград, ул. Нагрузочная, д. {i}</addr_j>\n    </jurAddress>\n    <okopf>75203</okopf>\n    <vedpri>2</vedpri>\n    <org>1</org>\n    <medInclude>\n      <d_begin>01.01.2012</d_begin>\n    </medInclude>\n    <d_edit>10.01.2024</d_edit>\n  </medCompany>\n",
            inn = inn.as_str(),
            ogrn = ogrn.as_str(),
        );
        codes.push(code);
    }
    xml.push_str("</packet>\n");
    (xml, codes)
}

// ---------------------------------------------------------------------------------------------
// The server

/// `omshub ARGS --config CONFIG`: its standard output; panics on failure (exit 3, "some
/// entries rejected", is accepted for `registers import`).
fn omshub(config: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .must("run omshub");
    let code = output.status.code();
    let allowed = code == Some(0) || (args.first() == Some(&"registers") && code == Some(3));
    assert!(
        allowed,
        "omshub {args:?} failed ({code:?}): {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A free port on 127.0.0.1 (asked of the kernel, then released for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .must("a free port")
}

/// `GET path` with a bearer token: (status, body).
fn http_get(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// The running `omshub serve`; stopped (SIGTERM, then SIGKILL after 15 s) when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(config: &Path, log: &Path, port: u16) -> Self {
        let log_file = std::fs::File::create(log).must("create the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_omshub"))
            .args(["serve", "--no-jobs", "--config"])
            .arg(config)
            .stdout(log_file.try_clone().must("log"))
            .stderr(log_file)
            .spawn()
            .must("start omshub serve");
        let server = Self { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        while http_get(port, "/health", "").is_none_or(|(s, _)| s != 200) {
            assert!(
                Instant::now() < deadline,
                "omshub serve did not answer /health in 120 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// One participant: its id, token, and the signature of the package by its signer.
struct Participant {
    token: String,
    signature: PathBuf,
}

/// What one `curl` upload reported.
struct Upload {
    http: u16,
    seconds: f64,
    id: Option<String>,
    body: String,
}

/// Starts `curl` uploading `zip` (multipart: `package` and the `signature` part) as `p`.
fn start_upload(port: u16, zip: &Path, sig_name: &str, p: &Participant, out: &Path) -> Child {
    Command::new("curl")
        .args(["-sS", "--noproxy", "*", "-o"])
        .arg(out)
        .args(["-w", "%{http_code} %{time_total}", "-H"])
        .arg(format!("Authorization: Bearer {}", p.token))
        .arg("-F")
        .arg(format!("package=@{};type=application/zip", zip.display()))
        .arg("-F")
        .arg(format!(
            "signature=@{};filename={sig_name};type=application/pkcs7-signature",
            p.signature.display()
        ))
        .arg(format!("http://127.0.0.1:{port}/api/v1/packages"))
        .stdout(Stdio::piped())
        .spawn()
        .must("start curl")
}

fn finish_upload(child: Child, out: &Path) -> Upload {
    let output = child.wait_with_output().must("wait for curl");
    let written = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut parts = written.split_whitespace();
    let http = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let seconds = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let body = std::fs::read_to_string(out).unwrap_or_default();
    let id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    Upload {
        http,
        seconds,
        id,
        body,
    }
}

/// The final state of one package (`GET /api/v1/packages/{id}`).
struct Final {
    status: String,
    records: i64,
    refusal: Option<String>,
    check_seconds: Option<f64>,
}

fn is_final(status: &str) -> bool {
    matches!(status, "accepted" | "partly_accepted" | "rejected")
}

/// Polls every package until each has a final status or `limit` passes; returns them and the
/// time the last one was seen final (from `since`).
fn wait_processed(
    port: u16,
    uploads: &[(String, &Participant)],
    since: Instant,
    limit: Duration,
) -> (Vec<Option<Final>>, Option<f64>) {
    let mut done: Vec<Option<Final>> = uploads.iter().map(|_| None).collect();
    let mut last = None;
    while done.iter().any(Option::is_none) && since.elapsed() < limit {
        for (slot, (id, p)) in done.iter_mut().zip(uploads) {
            if slot.is_some() {
                continue;
            }
            let Some((200, body)) = http_get(port, &format!("/api/v1/packages/{id}"), &p.token)
            else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                continue;
            };
            let status = v["status"].as_str().unwrap_or_default().to_owned();
            if is_final(&status) {
                let time = |k: &str| {
                    v[k].as_str().and_then(|t| {
                        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok()
                    })
                };
                let check_seconds = match (time("started_at"), time("finished_at")) {
                    (Some(a), Some(b)) => (b - a).to_std().ok().map(|d| d.as_secs_f64()),
                    _ => None,
                };
                *slot = Some(Final {
                    status,
                    records: v["records"].as_i64().unwrap_or(0),
                    refusal: v["refusal_code"].as_str().map(|c| {
                        format!("{c} {}", v["refusal_reason"].as_str().unwrap_or_default())
                    }),
                    check_seconds,
                });
                last = Some(since.elapsed().as_secs_f64());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    (done, last)
}

// ---------------------------------------------------------------------------------------------

/// Everything the run measured, for the report.
struct Figures {
    cpu_before: [f64; 2],
    cpu_after: [f64; 2],
    loadavg: String,
    cases: u64,
    generated_s: f64,
    zip_bytes: u64,
    xml_bytes: u64,
    per_file_bytes: u64,
    signature_bytes: u64,
    // 20 concurrent uploads
    idle_rss_kib: Option<u64>,
    answers: BTreeMap<u16, usize>,
    upload_wall_s: f64,
    upload_times: Vec<f64>,
    rss_upload_kib: u64,
    hwm_after_uploads_kib: Option<u64>,
    finals: Vec<Option<Final>>,
    processed_s: Option<f64>,
    rss_processing_kib: u64,
    hwm_after_processing_kib: Option<u64>,
    // one upload alone
    alone_http: u16,
    alone_s: f64,
    hwm_end_kib: Option<u64>,
    // in-process
    signature: Timed,
    zip_checks: Timed,
    combined: Timed,
    per_file: Timed,
    package_findings: usize,
    per_file_findings: usize,
    // peers
    unzip_l: Timed,
    unzip_t: Timed,
    openssl_verify: Timed,
    per_file_peer: Timed,
}

#[expect(clippy::too_many_lines, reason = "the run, step by step")]
fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: never run there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("intake_throughput runs only under `cargo bench --bench intake_throughput`");
        return;
    }
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", loadavg.trim());
    let cpu_before = busy_loops();
    println!(
        "CPU of two 3-second busy loops: {:.2} s + {:.2} s",
        cpu_before[0], cpu_before[1]
    );
    let target_mb = std::env::var("OMSHUB_BENCH_INTAKE_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(100);
    let process_limit = Duration::from_secs(
        std::env::var("OMSHUB_BENCH_PROCESS_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3_600),
    );
    let tmp = tempfile::tempdir().must("temporary folder");
    let root = tmp.path();

    // 1. The package, the PKI, the signatures.
    println!("generating a package of about {target_mb} MB…");
    let (package, cases, generated_s) = generate(&root.join("gen"), target_mb * 1_000_000);
    let [h, l, zip_file] = &package.files;
    let zip_path = zip_file.path.clone();
    let zip_name = zip_path
        .file_name()
        .must("package name")
        .to_string_lossy()
        .into_owned();
    let sig_name = format!("{zip_name}.sig");
    let zip_bytes = zip_file.bytes;
    let xml_bytes = h.bytes + l.bytes;
    println!(
        "{zip_name}: {cases} cases, {} MB of XML in {} MB of ZIP, generated in {generated_s:.0} s",
        h.bytes / 1_000_000 + l.bytes / 1_000_000,
        zip_bytes / 1_000_000
    );

    let pki_dir = root.join("pki");
    std::fs::create_dir_all(&pki_dir).must("pki folder");
    let pki = test_pki::pki();
    let root_pem = pki_dir.join("root.pem");
    std::fs::write(&root_pem, pki.root.cert.to_pem().must("PEM")).must("write root.pem");
    std::fs::write(
        pki_dir.join("intermediate.pem"),
        pki.intermediate.cert.to_pem().must("PEM"),
    )
    .must("write intermediate.pem");
    let signers: Vec<Identity> = (0..PARTICIPANTS)
        .map(|n| issue_signer(u32::try_from(n).must("signer number")))
        .collect();
    for (n, s) in signers.iter().enumerate() {
        std::fs::write(
            pki_dir.join(format!("signer{n}.pem")),
            s.cert.to_pem().must("PEM"),
        )
        .must("write a signer certificate");
    }
    std::fs::write(
        pki_dir.join("signer0.key"),
        signers[0].key.private_key_to_pem_pkcs8().must("key"),
    )
    .must("write the signer key");
    let sig_dir = root.join("sigs");
    let mut signature_paths = Vec::new();
    {
        let content = std::fs::read(&zip_path).must("read the package");
        for (n, s) in signers.iter().enumerate() {
            let dir = sig_dir.join(n.to_string());
            std::fs::create_dir_all(&dir).must("signature folder");
            let path = dir.join(&sig_name);
            std::fs::write(&path, test_pki::sign(s, &content, DETACHED)).must("write .sig");
            signature_paths.push(path);
        }
    }
    let signature_bytes = std::fs::metadata(&signature_paths[0]).map_or(0, |m| m.len());
    // The per-file form, signed by signer 0.
    let mut inner_sigs = Vec::new();
    for file in [&h.path, &l.path] {
        let name = format!("{}.sig", file.file_name().must("name").to_string_lossy());
        let out = root.join("perfile-sigs").join(&name);
        std::fs::create_dir_all(out.parent().must("parent")).must("folder");
        openssl_sign(file, &out, &pki_dir);
        inner_sigs.push((name, out));
    }
    let per_file_zip = root.join("perfile").join(&zip_name);
    std::fs::create_dir_all(per_file_zip.parent().must("parent")).must("folder");
    per_file_package(&zip_path, &inner_sigs, &per_file_zip);
    let per_file_bytes = std::fs::metadata(&per_file_zip).map_or(0, |m| m.len());
    // The XML files are in the ZIPs; free the disk and page cache they hold.
    let _ = std::fs::remove_file(&h.path);
    let _ = std::fs::remove_file(&l.path);

    // 2. The server and its participants.
    let port = free_port();
    let config = root.join("omshub.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\n\n[database]\nurl = \"{db}\"\n\n[log]\nlevel = \"warn\"\n\n[intake]\nstorage_dir = \"{store}\"\n\n[mail]\nfile_dir = \"{mail}\"\n\n[jobs]\nenabled = false\n\n[signature]\ntrust_store = \"{trust}\"\n\n[signature.required]\nH = [\"sig\"]\nL = [\"sig\"]\n",
            db = root.join("db").join("omshub.sqlite3").display(),
            store = root.join("store").display(),
            mail = root.join("mail").display(),
            trust = root_pem.display(),
        ),
    )
    .must("write the configuration");
    omshub(&config, &["migrate"]);
    let (packet, codes) = clinics_packet(PARTICIPANTS);
    let packet_path = root.join("F003_bench.xml");
    std::fs::write(&packet_path, packet).must("write the clinics packet");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/registers");
    let registers = [
        format!("{fixtures}/F001.xml"),
        format!("{fixtures}/F002.xml"),
        format!("{fixtures}/F003.xml"),
        packet_path.display().to_string(),
    ];
    let mut import = vec!["registers", "import"];
    import.extend(registers.iter().map(String::as_str));
    omshub(&config, &import);
    let mut participants = Vec::new();
    for (n, code) in codes.iter().enumerate() {
        let added = omshub(
            &config,
            &[
                "participants",
                "add",
                "--kind",
                "clinic",
                "--org",
                code,
                "--name",
                &format!("Тестовая поликлиника для нагрузки № {n}"),
                "--email",
                &format!("bench{n}@example.invalid"),
                "--format",
                "json",
            ],
        );
        let id = serde_json::from_str::<serde_json::Value>(&added)
            .ok()
            .and_then(|v| v["id"].as_i64())
            .must("participant id in the JSON of participants add")
            .to_string();
        omshub(
            &config,
            &[
                "participants",
                "cert",
                "add",
                &id,
                &pki_dir.join(format!("signer{n}.pem")).display().to_string(),
            ],
        );
        let token = omshub(&config, &["tokens", "issue", &id, "--label", "bench"])
            .trim()
            .to_owned();
        participants.push(Participant {
            token,
            signature: signature_paths[n].clone(),
        });
    }
    let mut server = Server::start(&config, &root.join("serve.log"), port);
    let pid = server.pid();
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss_kib = status_kib(pid, "VmRSS");
    let sampler = RssSampler::start(pid);

    println!("{UPLOADS} uploads at once…");
    let answers_dir = root.join("answers");
    std::fs::create_dir_all(&answers_dir).must("answers folder");
    let started = Instant::now();
    let children: Vec<_> = participants[..UPLOADS]
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let out = answers_dir.join(format!("{n}.json"));
            (start_upload(port, &zip_path, &sig_name, p, &out), out)
        })
        .collect();
    let uploads: Vec<Upload> = children
        .into_iter()
        .map(|(child, out)| finish_upload(child, &out))
        .collect();
    let upload_wall_s = started.elapsed().as_secs_f64();
    let rss_upload_kib = sampler.take();
    let hwm_after_uploads_kib = status_kib(pid, "VmHWM");
    let mut answers = BTreeMap::new();
    for u in &uploads {
        *answers.entry(u.http).or_insert(0) += 1;
        if u.http != 202 {
            eprintln!("an upload answered {}: {}", u.http, u.body);
        }
    }
    println!(
        "answers {answers:?} in {upload_wall_s:.1} s; server peak VmRSS {} MB",
        rss_upload_kib / 1024
    );

    println!("waiting until every package is processed…");
    let ids: Vec<(String, &Participant)> = uploads
        .iter()
        .zip(&participants)
        .filter_map(|(u, p)| Some((u.id.clone()?, p)))
        .collect();
    let (finals, processed_s) = wait_processed(port, &ids, started, process_limit);
    let rss_processing_kib = sampler.take();
    let hwm_after_processing_kib = status_kib(pid, "VmHWM");
    println!(
        "processed in {processed_s:?} s; server peak VmRSS while processing {} MB",
        rss_processing_kib / 1024
    );

    // 3a. One upload alone: the time to the 202.
    let alone_out = answers_dir.join("alone.json");
    let alone = finish_upload(
        start_upload(
            port,
            &zip_path,
            &sig_name,
            &participants[UPLOADS],
            &alone_out,
        ),
        &alone_out,
    );
    let hwm_end_kib = status_kib(pid, "VmHWM");
    drop(sampler);
    server.stop();
    println!("one upload alone: {} in {:.2} s", alone.http, alone.seconds);

    // 3b. ZIP checks and signatures in-process, as intake does them, on the same files.
    let settings =
        Settings::load_without_env(Some(config.as_path())).must("read the configuration");
    let policy = VerifyPolicy::from_settings(&settings.signature).must("the trust store");
    let validator = Validator::new(omshub::xml::schemas::ALL).must("validator");
    let intake = &settings.intake;
    let limits = PackageLimits {
        max_package_bytes: intake.max_package_bytes,
        max_entries: intake.max_entries,
        max_uncompressed_bytes: intake.max_uncompressed_bytes,
        max_ratio: intake.max_ratio,
        file: Limits {
            max_findings: intake.max_findings,
            ..Limits::default()
        },
        ..PackageLimits::default()
    };
    let registered: Vec<Fingerprint> = vec![
        CertificateInfo::of(&signers[0].cert)
            .must("fingerprint")
            .fingerprint,
    ];
    let package_sig = std::fs::read(&signature_paths[0]).must("read the signature");
    let verify_package = || PackageSignature {
        kind: "sig",
        name: sig_name.clone(),
        verified: verify_detached_file(&zip_path, &package_sig, &policy)
            .must("the package signature verifies"),
    };
    let check_zip = |path: &Path, signatures: &[PackageSignature]| {
        let check = SignatureCheck {
            policy: Some(&policy),
            settings: &settings.signature,
            registered: &registered,
            package: &zip_name,
            external: &[],
            package_signatures: signatures,
        };
        let mut verify = |view: &mut PackageView<'_>| check.check(view);
        let file = std::fs::File::open(path).must("open the package");
        let report = check_package_with(
            &validator,
            &zip_name,
            std::io::BufReader::with_capacity(256 * 1024, file),
            &limits,
            Hooks {
                on_item: None,
                verify: Some(&mut verify),
                skip_files: true,
            },
        )
        .must("check the package");
        for f in &report.findings {
            eprintln!("finding {} {:?}: {}", f.code, f.reason, f.message);
        }
        report.findings.len()
    };
    println!("in-process checks…");
    let (signature, verified) = in_process(&verify_package);
    let (zip_checks, _) = in_process(|| check_zip(&zip_path, std::slice::from_ref(&verified)));
    let (combined, package_findings) = in_process(|| {
        let verified = verify_package();
        check_zip(&zip_path, std::slice::from_ref(&verified))
    });
    let (per_file, per_file_findings) = in_process(|| check_zip(&per_file_zip, &[]));

    // Peers on the same files.
    println!("peers…");
    let zip_arg = zip_path.display().to_string();
    let unzip_l = peer("unzip", &["-l", &zip_arg]);
    let unzip_t = peer("unzip", &["-tq", &zip_arg]);
    let sig_arg = signature_paths[0].display().to_string();
    let root_arg = root_pem.display().to_string();
    let openssl_verify = peer(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &sig_arg,
            "-content",
            &zip_arg,
            "-CAfile",
            &root_arg,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    let per_file_arg = per_file_zip.display().to_string();
    let script: Vec<String> = inner_sigs
        .iter()
        .map(|(name, sig)| {
            format!(
                "unzip -p '{per_file_arg}' '{entry}' | openssl cms -verify -binary -inform DER -in '{sig}' -content /dev/stdin -CAfile '{root_arg}' -purpose any -out /dev/null",
                entry = name.trim_end_matches(".sig"),
                sig = sig.display(),
            )
        })
        .collect();
    let per_file_peer = peer("sh", &["-ec", &script.join(" && ")]);

    let cpu_after = busy_loops();
    let figures = Figures {
        cpu_before,
        cpu_after,
        loadavg: loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        cases,
        generated_s,
        zip_bytes,
        xml_bytes,
        per_file_bytes,
        signature_bytes,
        idle_rss_kib,
        answers,
        upload_wall_s,
        upload_times: uploads.iter().map(|u| u.seconds).collect(),
        rss_upload_kib,
        hwm_after_uploads_kib,
        finals,
        processed_s,
        rss_processing_kib,
        hwm_after_processing_kib,
        alone_http: alone.http,
        alone_s: alone.seconds,
        hwm_end_kib,
        signature,
        zip_checks,
        combined,
        per_file,
        package_findings,
        per_file_findings,
        unzip_l,
        unzip_t,
        openssl_verify,
        per_file_peer,
    };
    let text = write_report(&figures, &zip_name);
    println!("{text}");
    report::write_section("intake_throughput", &text);
    drop(tmp);
}

#[expect(
    clippy::too_many_lines,
    clippy::float_arithmetic,
    reason = "one table, figure by figure"
)]
fn write_report(f: &Figures, zip_name: &str) -> String {
    let today = chrono::Utc::now().date_naive();
    let mut r = String::new();
    let _ = writeln!(
        r,
        "### Package intake: 20 concurrent uploads and the intake overhead (`cargo bench --bench intake_throughput`), {today}\n"
    );
    let _ = writeln!(
        r,
        "Machine: {}; load average at the start {}; two 3-second busy loops got {:.2} s + {:.2} s of CPU before the run and {:.2} s + {:.2} s after it (6 s = both cores free).\n",
        report::machine(),
        f.loadavg,
        f.cpu_before[0],
        f.cpu_before[1],
        f.cpu_after[0],
        f.cpu_after[1]
    );
    let _ = writeln!(
        r,
        "Data: `{zip_name}` made by `omshub::r#gen` as `omshub gen accounts --cases {} --seed 1` makes it (in {:.0} s): {:.1} MB of ZIP (deflated as generated) holding {:.0} MB of XML (H + L); a detached CMS signature of the whole ZIP per participant ({} bytes, ECDSA P-256 / SHA-256, with the intermediate CA) sent as a multipart `signature` part `{zip_name}.sig`; the per-file form is the same entries plus `<file>.sig` entries, {:.1} MB. Server: the release `omshub serve` on 127.0.0.1, SQLite, `intake.workers = 2`, `[signature] trust_store` = the test root, `H` and `L` need `sig`; 21 clinic participants, each with its own signer's certificate and a bearer token.\n",
        f.cases,
        f.generated_s,
        mb(f.zip_bytes),
        mb(f.xml_bytes),
        f.signature_bytes,
        mb(f.per_file_bytes)
    );

    // Concurrent uploads.
    let receipted = f.answers.get(&202).copied().unwrap_or(0);
    let answers: Vec<String> = f
        .answers
        .iter()
        .map(|(code, n)| format!("{n} × {code}"))
        .collect();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for s in &f.finals {
        let key = s.as_ref().map_or_else(
            || "not finished".to_owned(),
            |s| match &s.refusal {
                Some(refusal) => format!("{} ({refusal})", s.status),
                None => s.status.clone(),
            },
        );
        *statuses.entry(key).or_insert(0) += 1;
    }
    let statuses: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} × {s}")).collect();
    let checks: Vec<f64> = f
        .finals
        .iter()
        .filter_map(|s| s.as_ref()?.check_seconds)
        .collect();
    let records: Vec<i64> = f
        .finals
        .iter()
        .filter_map(|s| Some(s.as_ref()?.records))
        .collect();
    let peak_rss = f.rss_upload_kib.max(f.rss_processing_kib);
    let hwm = f.hwm_end_kib.or(f.hwm_after_processing_kib);
    let rss_ok = hwm.unwrap_or(peak_rss).max(peak_rss) < RSS_TARGET_MB * 1024;
    let total_bytes = f.zip_bytes * UPLOADS as u64;
    let _ = writeln!(
        r,
        "**{UPLOADS} concurrent uploads** (20 `curl -F package=@… -F signature=@…` started at once, each from its own participant):\n"
    );
    let _ = writeln!(r, "| figure | value |\n|---|---|");
    let _ = writeln!(
        r,
        "| answers | {} ({receipted} of {UPLOADS} receipted) |",
        answers.join(", ")
    );
    let _ = writeln!(
        r,
        "| wall time, first start to last answer | {:.1} s |",
        f.upload_wall_s
    );
    let _ = writeln!(
        r,
        "| aggregate throughput | {:.0} MB/s ({:.0} MB in all) |",
        mb_per_s(total_bytes, f.upload_wall_s),
        mb(total_bytes)
    );
    let fastest = f.upload_times.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = f.upload_times.iter().copied().fold(0.0, f64::max);
    let _ = writeln!(
        r,
        "| one upload's time to its answer (curl `time_total`) | {fastest:.1} s to {slowest:.1} s, median {:.1} s |",
        median(f.upload_times.clone())
    );
    let _ = writeln!(
        r,
        "| server resident memory: idle after start / peak VmRSS sampled every 20 ms while receiving / VmHWM after the answers | {} / {} / {} |",
        memory(f.idle_rss_kib),
        memory(Some(f.rss_upload_kib)),
        memory(f.hwm_after_uploads_kib)
    );
    let _ = writeln!(
        r,
        "| statuses once processed (`GET /api/v1/packages/{{id}}`) | {} |",
        statuses.join(", ")
    );
    let _ = writeln!(
        r,
        "| records per package | {} |",
        records
            .first()
            .map_or_else(|| "–".to_owned(), ToString::to_string)
    );
    let _ = writeln!(
        r,
        "| all {UPLOADS} processed, from the first upload's start | {} |",
        f.processed_s
            .map_or_else(|| "not finished".to_owned(), |s| format!("{s:.0} s"))
    );
    if !checks.is_empty() {
        let _ = writeln!(
            r,
            "| one package's check (`started_at` to `finished_at`), schema check and case storage included | median {:.0} s ({:.0} MB/s of ZIP, {:.0} MB/s of XML per worker) |",
            median(checks.clone()),
            mb_per_s(f.zip_bytes, median(checks.clone())),
            mb_per_s(f.xml_bytes, median(checks.clone()))
        );
    }
    let _ = writeln!(
        r,
        "| server resident memory: peak VmRSS sampled while processing / VmHWM after all processed / VmHWM at the end | {} / {} / {} |",
        memory(Some(f.rss_processing_kib)),
        memory(f.hwm_after_processing_kib),
        memory(f.hwm_end_kib)
    );

    // Overhead.
    let overhead_s = f.alone_s + f.combined.seconds;
    let overhead = mb_per_s(f.zip_bytes, overhead_s);
    let _ = writeln!(
        r,
        "\n**Intake overhead** on the same package (MB/s of package bytes; in-process figures and peers: median of {RUNS} runs, file in the page cache; peak memory of the in-process figures is the bench process's VmHWM, reset before them):\n"
    );
    let _ = writeln!(
        r,
        "| part | how | time | throughput | peak memory | result |\n|---|---|---|---|---|---|"
    );
    let _ = writeln!(
        r,
        "| receive | one more upload alone (multipart, package + `.sig`) to the idle server, curl `time_total` to the answer | {} | {:.0} MB/s | (server, above) | {} |",
        time(f.alone_s),
        mb_per_s(f.zip_bytes, f.alone_s),
        f.alone_http
    );
    let _ = writeln!(
        r,
        "| signature | `verify_detached_file` of `{zip_name}.sig` over the ZIP | {} | {:.0} MB/s | {} | verified |",
        time(f.signature.seconds),
        mb_per_s(f.zip_bytes, f.signature.seconds),
        memory(f.signature.rss_kib)
    );
    let _ = writeln!(
        r,
        "| ZIP checks | `check_package_with`, `Hooks {{ verify: SignatureCheck::check, skip_files: true }}` (names, limits, central directory, the package signature counted for H and L) | {} | {:.0} MB/s | {} | {} findings |",
        time(f.zip_checks.seconds),
        mb_per_s(f.zip_bytes, f.zip_checks.seconds),
        memory(f.zip_checks.rss_kib),
        f.package_findings
    );
    let _ = writeln!(
        r,
        "| ZIP checks + signature | the two above, one after the other, as intake runs them | {} | {:.0} MB/s | {} | {} findings |",
        time(f.combined.seconds),
        mb_per_s(f.zip_bytes, f.combined.seconds),
        memory(f.combined.rss_kib),
        f.package_findings
    );
    let _ = writeln!(
        r,
        "| **receive + ZIP checks + signature** | the sum | {} | **{overhead:.0} MB/s** | – | – |",
        time(overhead_s)
    );
    let _ = writeln!(
        r,
        "| per-file form: ZIP checks + signatures inside | `check_package_with` with `SignatureCheck::check` on the per-file package: each `<file>.sig` verified over its entry, decompressed | {} | {:.0} MB/s | {} | {} findings |",
        time(f.per_file.seconds),
        mb_per_s(f.per_file_bytes, f.per_file.seconds),
        memory(f.per_file.rss_kib),
        f.per_file_findings
    );
    let peers = [
        (
            "peer: `unzip -l pkg.zip` (central directory only)",
            &f.unzip_l,
            f.zip_bytes,
        ),
        (
            "peer: `unzip -tq pkg.zip` (inflates and CRC-checks every entry)",
            &f.unzip_t,
            f.zip_bytes,
        ),
        (
            "peer: `openssl cms -verify -binary -inform DER -in pkg.zip.sig -content pkg.zip -CAfile root.pem -purpose any -out /dev/null`",
            &f.openssl_verify,
            f.zip_bytes,
        ),
        (
            "peer, per-file form: `unzip -p pkg.zip H….xml \\| openssl cms -verify … -content /dev/stdin`, then the same for L",
            &f.per_file_peer,
            f.per_file_bytes,
        ),
    ];
    for (what, t, bytes) in peers {
        let _ = writeln!(
            r,
            "| {what} | system tool, same file | {} | {:.0} MB/s | {} | {} |",
            time(t.seconds),
            mb_per_s(bytes, t.seconds),
            memory(t.rss_kib),
            if t.ok { "ok" } else { "failed" }
        );
    }
    let _ = writeln!(
        r,
        "\nTargets (issue 6): {UPLOADS} concurrent uploads of a {:.0} MB package all receipted: {} ({receipted}/{UPLOADS} answered 202); server resident memory under {RSS_TARGET_MB} MiB: {} (largest VmRSS sample {} MiB, VmHWM {}); intake overhead (receive + ZIP checks + signature) at least {OVERHEAD_TARGET_MBS:.0} MB/s: {} ({overhead:.0} MB/s; without the receive, the in-process checks alone run at {:.0} MB/s; the per-file form, which inflates every entry to hash it, at {:.0} MB/s, {:.0} MB/s for `unzip -p | openssl cms -verify`).",
        mb(f.zip_bytes),
        met(receipted == UPLOADS),
        met(rss_ok),
        peak_rss / 1024,
        memory(hwm),
        met(overhead >= OVERHEAD_TARGET_MBS),
        mb_per_s(f.zip_bytes, f.combined.seconds),
        mb_per_s(f.per_file_bytes, f.per_file.seconds),
        mb_per_s(f.per_file_bytes, f.per_file_peer.seconds),
    );
    r
}
