//! ZIP packages as `omshub validate` and intake see them: the H + L pair of `fixtures/xml`
//! zipped at test time (no binary fixtures), each refusal of docs/VALIDATION.md "Packages" with
//! its F012 code (801 archive, 802 names, 803 pair), the limits against zip bombs and forged
//! headers, and a generated package through the binary end to end.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use omshub::validate::Validator;
use omshub::validate::package::{PackageLimits, PackageReport, check_package};
use omshub::validate::schema::Limits;
use zip::write::SimpleFileOptions;

const H: &str = "HM750096T75_2601001.xml";
const L: &str = "LM750096T75_2601001.xml";
const PACKAGE: &str = "HM750096T75_2601001.zip";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn h_bytes() -> Vec<u8> {
    std::fs::read(root().join("fixtures/xml/zl_list/3.2").join(H)).unwrap()
}

fn l_bytes() -> Vec<u8> {
    std::fs::read(root().join("fixtures/xml/pers_list/3.2").join(L)).unwrap()
}

/// The H file with `PR_NOV` 2 (904) in its first `n` records.
fn h_with_pr_nov_2(n: usize) -> Vec<u8> {
    let text = encoding_rs::WINDOWS_1251.decode(&h_bytes()).0.into_owned();
    let bad = text.replacen("<PR_NOV>0</PR_NOV>", "<PR_NOV>2</PR_NOV>", n);
    encoding_rs::WINDOWS_1251.encode(&bad).0.into_owned()
}

/// A ZIP of `entries` (name, bytes), deflated; a name ending in `/` is a folder.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        if name.ends_with('/') {
            zip.add_directory(*name, options).unwrap();
        } else {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

fn pair() -> Vec<(String, Vec<u8>)> {
    vec![(H.to_owned(), h_bytes()), (L.to_owned(), l_bytes())]
}

fn zip_owned(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let borrowed: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip_of(&borrowed)
}

fn check_with(name: &str, bytes: &[u8], limits: &PackageLimits) -> PackageReport {
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap();
    check_package(&validator, name, Cursor::new(bytes), limits).unwrap()
}

fn check(name: &str, bytes: &[u8]) -> PackageReport {
    check_with(name, bytes, &PackageLimits::default())
}

/// The package-level findings as (code, message).
fn findings(report: &PackageReport) -> Vec<(u16, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.code, f.message.clone()))
        .collect()
}

/// Asserts exactly one package finding, with `code` and a message containing `part`.
fn assert_one(report: &PackageReport, code: u16, part: &str) {
    let found = findings(report);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, code, "{found:#?}");
    assert!(found[0].1.contains(part), "{}", found[0].1);
    assert!(!report.accepted);
}

/// The offsets of the two headers of entry `name` plus `local` (local header field) and
/// `central` (central directory field).
fn fields(bytes: &[u8], name: &str, local: usize, central: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for at in 0..bytes.len().saturating_sub(46) {
        let (field, name_at) = match &bytes[at..at + 4] {
            b"PK\x03\x04" => (local, 30),
            b"PK\x01\x02" => (central, 46),
            _ => continue,
        };
        if bytes[at + name_at..].starts_with(name.as_bytes()) {
            out.push(at + field);
        }
    }
    assert_eq!(out.len(), 2, "local and central header of {name}");
    out
}

/// Sets a little-endian u32 field in both headers of entry `name`.
fn patch_headers(bytes: &mut [u8], name: &str, local: usize, central: usize, value: u32) {
    for at in fields(bytes, name, local, central) {
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
}

/// Changes a little-endian u16 field in both headers of entry `name`.
fn patch16(bytes: &mut [u8], name: &str, local: usize, central: usize, f: impl Fn(u16) -> u16) {
    for at in fields(bytes, name, local, central) {
        let old = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
        bytes[at..at + 2].copy_from_slice(&f(old).to_le_bytes());
    }
}

#[test]
fn a_valid_pair_is_accepted() {
    let report = check(PACKAGE, &zip_owned(&pair()));
    assert!(report.accepted, "{:#?}", report.findings);
    assert_eq!(report.entries, [H, L]);
    let files: Vec<(&str, &str, &str)> = report
        .files
        .iter()
        .map(|f| (f.file.as_str(), f.kind.as_str(), f.version.as_str()))
        .collect();
    assert_eq!(files, [(H, "H", "3.2"), (L, "L", "3.2")]);
    assert_eq!(report.files[0].records, 3);
    // The L file first in the archive: the data file is still checked first.
    let mut reversed = pair();
    reversed.reverse();
    let report = check(PACKAGE, &zip_owned(&reversed));
    assert!(report.accepted);
    assert_eq!(report.files[0].file, H);
}

#[test]
fn the_3_1_families_pair_by_their_derived_l_names() {
    for (data, personal) in [
        (
            "zl_list/3.1/TM750096T75_2104001.xml",
            "pers_list/3.1/LTM750096T75_2104001.xml",
        ),
        (
            "zl_list/3.1/CM750096T75_2104001.xml",
            "pers_list/3.1/LCM750096T75_2104001.xml",
        ),
        (
            "zl_list/3.1/DPM750096T75_2109001.xml",
            "pers_list/3.1/LPM750096T75_2109001.xml",
        ),
    ] {
        let file = |rel: &str| {
            let path = root().join("fixtures/xml").join(rel);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(path).unwrap())
        };
        let entries = vec![file(data), file(personal)];
        let package = entries[0].0.replace(".xml", ".zip");
        let report = check(&package, &zip_owned(&entries));
        assert!(report.accepted, "{package}: {:#?}", report.findings);
        assert_eq!(report.files.len(), 2);
    }
}

#[test]
fn f012_803_a_missing_l_file() {
    let report = check(PACKAGE, &zip_of(&[(H, &h_bytes())]));
    assert_one(
        &report,
        803,
        "lacks its personal-data file LM750096T75_2601001.xml",
    );
    // The H file present is still checked, so the sender gets every finding at once.
    assert_eq!(report.files.len(), 1);
    assert!(report.files[0].accepted);

    let report = check(PACKAGE, &zip_of(&[(L, &l_bytes())]));
    assert_one(&report, 803, "lacks its data file HM750096T75_2601001.xml");

    let report = check(PACKAGE, &zip_of(&[]));
    assert_eq!(
        findings(&report).iter().map(|f| f.0).collect::<Vec<_>>(),
        [803, 803]
    );
}

#[test]
fn f012_802_a_package_name_not_by_the_rules() {
    let bytes = zip_owned(&pair());
    for (name, part) in [
        ("package.zip", "no file kind at the start"),
        (
            "HM750096T75_2613001.zip",
            "the period YYMM with a month 01-12",
        ),
        ("HM75009T75_2601001.zip", "MO code: length is 5"),
        (
            "LM750096T75_2601001.zip",
            "not after the personal-data file",
        ),
        ("HM750096T75_2601001.rar", "a package is a .zip file"),
    ] {
        let report = check(name, &bytes);
        assert_one(&report, 802, part);
        assert_eq!(report.findings[0].value.as_deref(), Some(name));
        // The pair inside is found by its data file and checked all the same.
        assert_eq!(report.files.len(), 2, "{name}");
    }
    // Another valid name is another package: its files are not this one's.
    let report = check("HM750096T75_2601002.zip", &bytes);
    let found = findings(&report);
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        [802, 802, 803, 803],
        "{found:#?}"
    );
    assert!(
        found[0].1.contains("belongs to another package"),
        "{found:#?}"
    );
    assert!(found[2].1.contains("HM750096T75_2601002.xml"), "{found:#?}");
    assert!(report.files.is_empty());
}

#[test]
fn f012_802_inner_names_not_by_the_rules() {
    let cases: [(&str, &str); 5] = [
        ("readme.txt", "not a file a package holds"),
        (
            "HM750096T75_2601001_fixed.xml",
            "not by the rules of formats.md 1.1: the package number",
        ),
        (
            "HM750096T75_2601002.xml",
            "belongs to another package; this one holds HM750096T75_2601001.xml and \
             LM750096T75_2601001.xml",
        ),
        ("docs/", "a folder"),
        ("docs/HM750096T75_2601001.xml", "inside a folder"),
    ];
    for (extra, part) in cases {
        let mut entries = pair();
        entries.push((extra.to_owned(), b"<x/>".to_vec()));
        let report = check(PACKAGE, &zip_owned(&entries));
        assert_one(&report, 802, part);
        assert_eq!(report.findings[0].value.as_deref(), Some(extra));
        assert_eq!(report.files.len(), 2, "{extra}: the pair is still checked");
        assert!(report.files.iter().all(|f| f.accepted));
    }
    // An L file named wrongly: 802 for it, and the pair lacks its L file.
    let report = check(
        PACKAGE,
        &zip_of(&[(H, &h_bytes()), ("LXM750096T75_2601001.xml", &l_bytes())]),
    );
    let found = findings(&report);
    assert_eq!(
        found.iter().map(|f| f.0).collect::<Vec<_>>(),
        [802, 803],
        "{found:#?}"
    );
    // Names are case-sensitive, extensions are not.
    let report = check(
        PACKAGE,
        &zip_of(&[(H, &h_bytes()), ("LM750096T75_2601001.XML", &l_bytes())]),
    );
    assert!(report.accepted, "{:#?}", report.findings);
}

#[test]
fn signature_files_are_allowed_and_listed_but_not_checked() {
    let mut entries = pair();
    for sig in [
        "HM750096T75_2601001.xml.sig",
        "HM750096T75_2601001.BUH.SIG",
        "LM750096T75_2601001.xml.DIR.SIG",
    ] {
        entries.push((sig.to_owned(), b"not a signature at all".to_vec()));
    }
    let report = check(PACKAGE, &zip_owned(&entries));
    assert!(report.accepted, "{:#?}", report.findings);
    assert_eq!(report.signatures.len(), 3);
    assert_eq!(report.files.len(), 2);

    let mut entries = pair();
    entries.push(("HM750096T75_2601002.xml.sig".to_owned(), Vec::new()));
    assert_one(
        &check(PACKAGE, &zip_owned(&entries)),
        802,
        "a signature of a file that is not in this package",
    );
}

/// The verify hook sees the pair and what each signature signs, reads entries, and its findings
/// stop the reading of the files; `skip_files` stops after the archive checks.
#[test]
fn the_verify_hook_sees_the_signatures_and_can_stop_the_reading() {
    use omshub::validate::package::{Hooks, check_package_with};
    let mut entries = pair();
    entries.push((
        "HM750096T75_2601001.XML.BUH.SIG".to_owned(),
        b"sig".to_vec(),
    ));
    let bytes = zip_owned(&entries);
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap();
    let run = |refuse: bool, skip_files: bool| {
        let mut seen = Vec::new();
        let mut verify = |view: &mut omshub::validate::package::PackageView<'_>| {
            seen.push(view.files.clone());
            let signature = view.signatures[0].clone();
            assert_eq!(signature.kind, "BUH");
            assert_eq!(signature.signs.as_deref(), Some(H));
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut view.open(&signature.name, 16).unwrap(), &mut content)
                .unwrap();
            assert_eq!(content, b"sig");
            assert!(view.open(H, 16).is_err(), "the bound on the size holds");
            let finding = omshub::validate::Finding {
                code: 807,
                element: String::new(),
                parent: None,
                value: None,
                context: omshub::validate::Context::default(),
                line: 0,
                column: 0,
                message: "refused by the hook".into(),
                reason: Some("test"),
            };
            if refuse { vec![finding] } else { Vec::new() }
        };
        let report = check_package_with(
            &validator,
            PACKAGE,
            Cursor::new(&bytes),
            &PackageLimits::default(),
            Hooks {
                on_item: None,
                verify: Some(&mut verify),
                skip_files,
            },
        )
        .unwrap();
        assert_eq!(seen, vec![vec![H.to_owned(), L.to_owned()]]);
        report
    };
    let read = run(false, false);
    assert!(read.accepted && read.files.len() == 2);
    let refused = run(true, false);
    assert!(!refused.accepted && refused.files.is_empty());
    assert_eq!(refused.findings[0].code, 807);
    let skipped = run(false, true);
    assert!(skipped.accepted && skipped.files.is_empty());
}

#[test]
fn f012_801_not_a_zip() {
    let report = check(PACKAGE, &h_bytes());
    assert_one(&report, 801, "not a ZIP archive");
    assert!(report.entries.is_empty() && report.files.is_empty());
    assert_one(&check(PACKAGE, b""), 801, "too short");
    // A ZIP cut short: its central directory is gone.
    let bytes = zip_owned(&pair());
    assert_one(&check(PACKAGE, &bytes[..bytes.len() / 2]), 801, "not a ZIP");
    // Something before the archive (a self-extractor, a polyglot file).
    let mut prefixed = b"MZ not a package".to_vec();
    prefixed.extend_from_slice(&bytes);
    assert_one(&check(PACKAGE, &prefixed), 801, "data before the archive");
}

#[test]
fn f012_801_a_path_that_leaves_the_archive() {
    for evil in ["../HM750096T75_2601001.xml", "/tmp/LM750096T75_2601001.xml"] {
        let mut entries = pair();
        entries.push((evil.to_owned(), h_bytes()));
        let report = check(PACKAGE, &zip_owned(&entries));
        assert_one(&report, 801, "a path that leaves the archive");
        assert!(report.files.is_empty(), "{evil}: nothing is read");
    }
}

#[test]
fn f012_801_a_nested_archive() {
    let inner = zip_owned(&pair());
    for nested in ["HM750096T75_2601001.zip", "old.rar", "data.xml.gz"] {
        let mut entries = pair();
        entries.push((nested.to_owned(), inner.clone()));
        let report = check(PACKAGE, &zip_owned(&entries));
        assert_one(&report, 801, "nested archives are not opened");
        assert!(report.files.is_empty());
    }
}

#[test]
fn f012_801_a_zip_bomb_is_refused_by_its_ratio_before_reading() {
    // 8 MiB of spaces after the H file's text: about 1000 times smaller deflated.
    let mut bomb = h_bytes();
    bomb.resize(bomb.len() + (8 << 20), b' ');
    let bytes = zip_of(&[(H, &bomb), (L, &l_bytes())]);
    assert!(bytes.len() < 1 << 20, "{}", bytes.len());
    let report = check(PACKAGE, &bytes);
    assert_one(&report, 801, "more than 200 times (a zip bomb?)");
    assert!(report.files.is_empty());
    // Within a raised ratio, the total uncompressed size still bounds it.
    let limits = PackageLimits {
        max_ratio: 10_000,
        max_uncompressed_bytes: 4 << 20,
        ..PackageLimits::default()
    };
    assert_one(
        &check_with(PACKAGE, &bytes, &limits),
        801,
        "uncompressed, more than the 4194304 a package may have",
    );
}

#[test]
fn f012_801_a_header_that_lies_about_the_size_stops_the_reading() {
    // The same bomb with headers declaring 20,000 bytes: it passes the checks made before
    // reading, and the reader stops one byte past what was declared.
    let mut bomb = h_bytes();
    bomb.resize(bomb.len() + (8 << 20), b' ');
    let mut bytes = zip_of(&[(H, &bomb), (L, &l_bytes())]);
    patch_headers(&mut bytes, H, 22, 24, 20_000);
    let report = check(PACKAGE, &bytes);
    assert_one(
        &report,
        801,
        "more than the 20000 bytes its header declares",
    );
    assert_eq!(report.findings[0].value.as_deref(), Some(H));
    // The L file is read and accepted; the H file is not.
    assert!(report.files.iter().all(|f| f.file != H || !f.accepted));
    assert!(report.files.iter().any(|f| f.file == L && f.accepted));
}

#[test]
fn f012_801_a_wrong_checksum() {
    let mut bytes = zip_owned(&pair());
    patch_headers(&mut bytes, L, 14, 16, 0xDEAD_BEEF);
    let report = check(PACKAGE, &bytes);
    assert_one(&report, 801, "LM750096T75_2601001.xml: cannot be read");
}

#[test]
fn f012_801_encrypted_entries_and_other_compression_methods() {
    // Bit 0 of the general purpose flags: encrypted.
    let mut bytes = zip_owned(&pair());
    patch16(&mut bytes, L, 6, 8, |flags| flags | 1);
    let report = check(PACKAGE, &bytes);
    assert_one(&report, 801, "encrypted");
    assert!(report.files.is_empty());
    // Method 12 (bzip2) instead of 8 (deflate).
    let mut bytes = zip_owned(&pair());
    patch16(&mut bytes, L, 8, 10, |_| 12);
    assert_one(&check(PACKAGE, &bytes), 801, "use Deflate");
}

#[test]
fn f012_802_a_name_twice() {
    // The zip crate keeps one entry per name, so the check reads the central directory itself.
    let mut entries = pair();
    entries.push(("LM750096T75_2601001.xmX".to_owned(), b"<evil/>".to_vec()));
    let mut bytes = zip_owned(&entries);
    let (from, to) = (b"LM750096T75_2601001.xmX", b"LM750096T75_2601001.xml");
    let mut replaced = 0;
    for at in 0..bytes.len() - from.len() {
        if &bytes[at..at + from.len()] == from {
            bytes[at..at + to.len()].copy_from_slice(to);
            replaced += 1;
        }
    }
    assert_eq!(replaced, 2);
    let report = check(PACKAGE, &bytes);
    assert_one(&report, 802, "appears more than once");
    assert!(report.files.is_empty(), "which copy would be checked?");
    // The same name in another case is the same file on many systems.
    let mut entries = pair();
    entries.push(("LM750096T75_2601001.XML".to_owned(), l_bytes()));
    assert_one(
        &check(PACKAGE, &zip_owned(&entries)),
        802,
        "appears more than once",
    );
}

#[test]
fn f012_801_limits_of_size_and_entries() {
    let bytes = zip_owned(&pair());
    let small = PackageLimits {
        max_package_bytes: 1_000,
        ..PackageLimits::default()
    };
    assert_one(
        &check_with(PACKAGE, &bytes, &small),
        801,
        "more than the 1000",
    );
    let mut entries = pair();
    for i in 0..15 {
        entries.push((format!("HM750096T75_2601001.xml.{i}.sig"), Vec::new()));
    }
    let report = check(PACKAGE, &zip_owned(&entries));
    assert_one(&report, 801, "17 entries, more than the 16");
}

#[test]
fn a_zip64_end_record_is_read_for_the_count() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.set_zip64_comment(Some("zip64"));
    for (name, bytes) in pair() {
        zip.start_file(name, SimpleFileOptions::default()).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    let mut bytes = zip.finish().unwrap().into_inner();
    // The classic record defers to the ZIP64 one, as in a package of more than 4 GiB.
    let eocd = bytes.len() - 22;
    assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
    bytes[eocd + 8..eocd + 12].copy_from_slice(&[0xFF; 4]);
    bytes[eocd + 12..eocd + 20].copy_from_slice(&[0xFF; 8]);
    let report = check(PACKAGE, &bytes);
    assert!(report.accepted, "{:#?}", report.findings);
    assert_eq!(report.files.len(), 2);
    // The count comes from the ZIP64 record.
    let record = bytes.windows(4).position(|w| w == b"PK\x06\x06").unwrap();
    bytes[record + 24..record + 40].copy_from_slice(&[[17, 0, 0, 0, 0, 0, 0, 0]; 2].concat());
    assert_one(&check(PACKAGE, &bytes), 801, "17 entries");
}

#[test]
fn file_limits_reach_the_inner_files() {
    let bad = h_with_pr_nov_2(3);
    let bytes = zip_of(&[(H, &bad), (L, &l_bytes())]);
    let report = check(PACKAGE, &bytes);
    assert!(report.findings.is_empty());
    assert!(!report.accepted);
    assert_eq!(report.files[0].findings.len(), 3);
    let capped = PackageLimits {
        file: Limits {
            max_findings: 1,
            ..Limits::default()
        },
        ..PackageLimits::default()
    };
    let report = check_with(PACKAGE, &bytes, &capped);
    assert_eq!(
        (
            report.files[0].findings.len(),
            report.files[0].findings_dropped
        ),
        (1, 2)
    );
}

#[test]
fn the_protocol_of_a_package_holds_its_findings_and_its_data_file_s() {
    let bad = h_with_pr_nov_2(1);
    let report = check(PACKAGE, &zip_of(&[(H, &bad), ("readme.txt", b"hi")]));
    let protocols = report.protocols();
    assert_eq!(protocols.len(), 1);
    assert_eq!(protocols[0].name, "VHM750096T75_2601001.xml");
    assert_eq!(
        protocols[0].findings, 3,
        "802, 803 and the 904 of the H file"
    );
    let validator = Validator::new(omshub::xml::schemas::ALL).unwrap();
    let checked = validator
        .check_file(
            &protocols[0].name,
            &protocols[0].bytes[..],
            Limits::default(),
        )
        .unwrap();
    assert_eq!(checked.schema, Some("flk_p/1.0/FLK_P"));
    assert!(checked.accepted, "{:#?}", checked.findings);
    let text = encoding_rs::WINDOWS_1251
        .decode(&protocols[0].bytes)
        .0
        .into_owned();
    assert!(
        text.contains("<FNAME_I>HM750096T75_2601001</FNAME_I>"),
        "{text}"
    );
    assert!(text.contains("<OSHIB>803</OSHIB>"), "{text}");
    assert!(text.contains("<ZN_POL>readme.txt</ZN_POL>"), "{text}");
    assert!(
        text.contains("<COMMENT>В пакете отсутствует файл: the package lacks"),
        "{text}"
    );

    // An accepted package: one protocol without PR per file.
    let protocols = check(PACKAGE, &zip_owned(&pair())).protocols();
    let names: Vec<&str> = protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["VHM750096T75_2601001.xml", "VLM750096T75_2601001.xml"]
    );
    assert!(protocols.iter().all(|p| p.findings == 0));
}

fn omshub(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omshub"))
        .args(args)
        .env_remove("OMSHUB__DATABASE__URL")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_generated_package_is_accepted_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = omshub(&["gen", "accounts", "--cases", "200", "--out", out]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let package = dir.path().join("HM750096T75_26011.zip");
    let package = package.to_str().unwrap();

    let (code, stdout, stderr) = omshub(&["validate", package]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "HM750096T75_26011.zip: ZIP package, 2 files checked: accepted"
    );
    assert!(
        lines[1].starts_with("  HM750096T75_26011.xml: H 3.2 (zl_list/3.2/H), 200 records"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("  LM750096T75_26011.xml: L 3.2"),
        "{stdout}"
    );

    let (code, stdout, _) = omshub(&["validate", "--format", "json", package]);
    assert_eq!(code, Some(0));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "the package, then each file");
    assert_eq!(lines[0]["kind"], "ZIP");
    assert_eq!(lines[0]["accepted"], true);
    assert!(lines[0].get("files").is_none());
    assert_eq!(lines[1]["file"], "HM750096T75_26011.xml");
    assert_eq!(lines[1]["package"], "HM750096T75_26011.zip");
    assert_eq!(lines[1]["records"], 200);
    assert_eq!(lines[2]["kind"], "L");

    let flk = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = omshub(&[
        "validate",
        "--format",
        "flk",
        "--out",
        flk.path().to_str().unwrap(),
        package,
    ]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for name in ["VHM750096T75_26011.xml", "VLM750096T75_26011.xml"] {
        assert!(flk.path().join(name).is_file(), "{name}: {stdout}");
    }

    // With defects, the package is refused by its H file's findings.
    let (code, _, _) = omshub(&[
        "gen",
        "accounts",
        "--cases",
        "50",
        "--defects",
        "905=1",
        "--package",
        "2",
        "--out",
        out,
    ]);
    assert_eq!(code, Some(0));
    let (code, stdout, _) = omshub(&[
        "validate",
        dir.path().join("HM750096T75_26012.zip").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("ZIP package, 2 files checked: refused, 0 package findings"),
        "{stdout}"
    );
    assert!(stdout.contains("[905]"), "{stdout}");
}

#[test]
fn the_command_refuses_packages_and_exits_by_the_worst() {
    let dir = tempfile::tempdir().unwrap();
    let not_zip = write(dir.path(), PACKAGE, &h_bytes());
    let (code, stdout, stderr) = omshub(&["validate", &not_zip]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(
            "HM750096T75_2601001.zip: ZIP package, 0 files checked: refused, 1 package finding\n  [801] the package is not a ZIP archive"
        ),
        "{stdout}"
    );
    let missing = dir.path().join("nothing/HM750096T75_2601001.zip");
    let (code, _, stderr) = omshub(&["validate", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    // A good XML file and an unreadable package: 2 wins.
    let good = root().join("fixtures/xml/zl_list/3.2").join(H);
    let (code, _, _) = omshub(&[
        "validate",
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
}

#[test]
fn the_json_of_a_refused_package() {
    let dir = tempfile::tempdir().unwrap();
    let mut entries = pair();
    entries.pop();
    entries.push(("HM750096T75_2601001.xml.sig".to_owned(), Vec::new()));
    entries.push(("notes.txt".to_owned(), b"hi".to_vec()));
    let path = write(dir.path(), PACKAGE, &zip_owned(&entries));
    let (code, stdout, _) = omshub(&["validate", "--format", "json", &path]);
    assert_eq!(code, Some(1));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    insta::assert_json_snapshot!("package_refused_json", lines);
}
