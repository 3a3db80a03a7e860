//! Schema validation of exchange files as `omshub validate` runs it: every sample of
//! `fixtures/xml` judged as xmllint judges it (schemas.rs checks those expectations against
//! xmllint itself), coded refusals of unknown versions and encodings, a file where every record
//! is wrong, and the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use omshub::validate::schema::Limits;
use omshub::validate::{FileReport, Validator};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> Validator {
    Validator::new(omshub::xml::schemas::ALL).unwrap()
}

fn check(path: &Path) -> FileReport {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    validator()
        .check_file(&name, std::fs::File::open(path).unwrap(), Limits::default())
        .unwrap()
}

fn check_bytes(name: &str, bytes: &[u8]) -> FileReport {
    validator()
        .check_file(name, bytes, Limits::default())
        .unwrap()
}

fn samples(invalid: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("fixtures/xml")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // Classifier and register packets are checked by their importers.
                if !path.ends_with("nsi") {
                    dirs.push(path);
                }
            } else if path.components().any(|c| c.as_os_str() == "invalid") == invalid {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_valid_sample_is_accepted() {
    let list = samples(false);
    assert!(list.len() >= 20);
    for path in list {
        let report = check(&path);
        assert!(
            report.accepted,
            "{}: {:#?}",
            path.display(),
            report.findings
        );
        assert!(report.schema.is_some());
    }
}

#[test]
fn every_invalid_sample_has_exactly_its_one_finding() {
    for path in samples(true) {
        let report = check(&path);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(!report.accepted, "{name}");
        assert_eq!(report.findings.len(), 1, "{name}: {:#?}", report.findings);
        let parts: Vec<&str> = name.splitn(4, '_').collect();
        let (code, what) = (parts[2], parts[3]);
        assert_eq!(report.findings[0].code.to_string(), code, "{name}");
        assert_eq!(report.refused_records, 1, "{name}");
        let element = if code == "905" {
            what
        } else {
            what.split_once('_').unwrap().1
        };
        if code != "901" {
            assert_eq!(report.findings[0].element, element, "{name}");
        }
        insta::assert_json_snapshot!(format!("validate_{name}"), report);
    }
}

#[test]
fn one_thread_and_two_threads_judge_every_sample_alike() {
    for path in samples(false).into_iter().chain(samples(true)) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let run = |pipelined| {
            let limits = Limits {
                pipelined,
                ..Limits::default()
            };
            validator()
                .check_file(&name, std::fs::File::open(&path).unwrap(), limits)
                .unwrap()
        };
        let (one, two) = (run(false), run(true));
        assert_eq!(one.findings, two.findings, "{name}");
        assert_eq!(one.records, two.records, "{name}");
    }
}

#[test]
fn the_json_report_has_the_documented_fields() {
    let path =
        root().join("fixtures/xml/zl_list/3.2/invalid/HM750096T75_2601001_902_empty_NHISTORY.xml");
    let json = serde_json::to_value(check(&path)).unwrap();
    for key in ["file", "kind", "version", "accepted", "records", "findings"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let f = &json["findings"][0];
    assert_eq!(f["code"], "902");
    assert_eq!(f["element"], "NHISTORY");
    assert_eq!(f["parent"], "SL");
    assert_eq!(f["n_zap"], 2);
    assert_eq!(f["idcase"], 100_002);
    for key in ["id_pac", "sl_id", "idserv", "line", "column", "message"] {
        assert!(f.get(key).is_some(), "{key}");
    }
}

fn sample_h32() -> String {
    let bytes =
        std::fs::read(root().join("fixtures/xml/zl_list/3.2/HM750096T75_2601001.xml")).unwrap();
    encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned()
}

#[test]
fn an_unknown_version_is_a_coded_refusal() {
    let text = sample_h32().replace("<VERSION>3.2</VERSION>", "<VERSION>6.0</VERSION>");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
    let report = check_bytes("HM750096T75_2601001.xml", &bytes);
    assert_eq!(report.findings.len(), 1);
    let f = &report.findings[0];
    assert_eq!(
        (f.code, f.element.as_str(), f.parent.as_deref()),
        (904, "VERSION", Some("ZGLV"))
    );
    assert!(
        f.message.contains("6.0") && f.message.contains("3.1, 3.2"),
        "{}",
        f.message
    );
    assert!(report.schema.is_none());
    // 3.1 is fine for an H file, and a 3.2 T file is refused.
    let t = sample_h32();
    assert_eq!(
        check_bytes("TM750096T75_2601001.xml", t.as_bytes()).findings[0].code,
        904
    );
}

#[test]
fn bytes_that_contradict_the_declared_encoding_are_refused_with_their_position() {
    // Declared windows-1251 is the usual case; here UTF-8 declared over windows-1251 bytes.
    let text = sample_h32().replace("encoding=\"windows-1251\"", "encoding=\"UTF-8\"");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
    let report = check_bytes("HM750096T75_2601001.xml", &bytes);
    let last = report.findings.last().unwrap();
    assert!(last.message.contains("not valid UTF-8"), "{}", last.message);
    assert!(last.message.contains("byte offset"), "{}", last.message);
    // The same text correctly declared UTF-8 is accepted.
    assert!(check_bytes("HM750096T75_2601001.xml", text.as_bytes()).accepted);
    // An encoding the hub does not read is refused up front.
    let koi = text.replace("encoding=\"UTF-8\"", "encoding=\"koi8-r\"");
    let report = check_bytes("HM750096T75_2601001.xml", koi.as_bytes());
    assert!(report.findings[0].message.contains("koi8-r"));
}

/// An H 3.2 file of `n` records built from the sample's first ZAP, each with `PR_NOV` 2 (904).
fn every_record_wrong(n: usize) -> String {
    let text = sample_h32();
    let start = text.find("<ZAP>").unwrap();
    let end = text.find("</ZAP>").unwrap() + "</ZAP>".len();
    let zap = &text[start..end];
    let mut out = text[..start].replace("<SD_Z>3</SD_Z>", &format!("<SD_Z>{n}</SD_Z>"));
    for i in 1..=n {
        out.push_str(
            &zap.replace("<N_ZAP>1</N_ZAP>", &format!("<N_ZAP>{i}</N_ZAP>"))
                .replace(
                    "<IDCASE>100001</IDCASE>",
                    &format!("<IDCASE>{}</IDCASE>", 100_000 + i),
                )
                .replace("<PR_NOV>0</PR_NOV>", "<PR_NOV>2</PR_NOV>"),
        );
        out.push('\n');
    }
    out.push_str(&text[text.rfind("</ZAP>").unwrap() + "</ZAP>".len()..]);
    out.replace("encoding=\"windows-1251\"", "encoding=\"UTF-8\"")
}

#[test]
fn a_file_where_every_record_is_wrong_gets_a_complete_report() {
    let n = 3_000;
    let text = every_record_wrong(n);
    let report = check_bytes("HM750096T75_2601001.xml", text.as_bytes());
    assert_eq!(report.records, 3_000);
    assert_eq!(report.refused_records, 3_000);
    assert_eq!(report.findings.len(), 3_000);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.code == 904 && f.element == "PR_NOV")
    );
    assert_eq!(report.findings[2_999].context.n_zap, Some(3_000));
    // With a cap, the rest are counted.
    let capped = validator()
        .check_file(
            "HM750096T75_2601001.xml",
            text.as_bytes(),
            Limits {
                max_findings: 100,
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(
        (capped.findings.len(), capped.findings_dropped),
        (100, 2_900)
    );
}

#[test]
fn split_input_gives_the_same_report() {
    // The decoder and the parser see the file through small reads: same findings.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(7);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let bytes = std::fs::read(
        root().join("fixtures/xml/zl_list/3.2/invalid/HM750096T75_2601001_903_date_DATE_1.xml"),
    )
    .unwrap();
    let whole = check_bytes("HM750096T75_2601001.xml", &bytes);
    let trickled = validator()
        .check_file(
            "HM750096T75_2601001.xml",
            Trickle(&bytes),
            Limits::default(),
        )
        .unwrap();
    assert_eq!(whole.findings, trickled.findings);
    assert_eq!(whole.records, trickled.records);
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

#[test]
fn the_command_reports_each_file_and_exits_by_the_worst() {
    let good = root().join("fixtures/xml/zl_list/3.2/HM750096T75_2601001.xml");
    let bad =
        root().join("fixtures/xml/zl_list/3.2/invalid/HM750096T75_2601001_904_value_PR_NOV.xml");
    let (code, stdout, stderr) = omshub(&["validate", good.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("H 3.2 (zl_list/3.2/H), 3 records: accepted"),
        "{stdout}"
    );

    let (code, stdout, _) = omshub(&[
        "validate",
        "--format",
        "json",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one JSON object per file per line");
    assert_eq!(lines[0]["accepted"], true);
    assert_eq!(lines[1]["findings"][0]["code"], "904");

    let (code, stdout, _) = omshub(&["validate", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stdout.contains("[904] PR_NOV in ZAP (N_ZAP 1): PR_NOV = '2': not one of 0, 1"),
        "{stdout}"
    );

    let (code, _, stderr) = omshub(&["validate", "/nonexistent/HM1.xml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn the_protocol_of_every_invalid_sample_is_a_valid_flk_p_file() {
    let validator = validator();
    for path in samples(true) {
        let report = check(&path);
        let bytes = omshub::validate::protocol::write_flk(&report);
        let name = format!(
            "{}.xml",
            omshub::validate::protocol::protocol_name(&report.file)
        );
        let protocol = validator
            .check_file(&name, &bytes[..], Limits::default())
            .unwrap();
        assert_eq!(protocol.schema, Some("flk_p/1.0/FLK_P"), "{name}");
        assert!(protocol.accepted, "{name}: {:#?}", protocol.findings);
        assert_eq!(protocol.records, 1, "one PR per finding");
    }
    let path =
        root().join("fixtures/xml/zl_list/3.2/invalid/HM750096T75_2601001_903_date_DATE_1.xml");
    let bytes = omshub::validate::protocol::write_flk(&check(&path));
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"windows-1251\"?>"));
    let text = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
    insta::assert_snapshot!("flk_p_903_date", text);
}

#[test]
fn an_accepted_file_has_an_empty_protocol() {
    let path = root().join("fixtures/xml/zl_list/3.2/HM750096T75_2601001.xml");
    let bytes = omshub::validate::protocol::write_flk(&check(&path));
    let text = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
    assert!(
        text.contains("<FNAME>VHM750096T75_2601001</FNAME>"),
        "{text}"
    );
    assert!(!text.contains("<PR>"), "{text}");
}
