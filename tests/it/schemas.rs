//! The XSDs of `schemas/` against the samples of `fixtures/`, checked with xmllint (Debian's
//! libxml2-utils, the peer the hub's own validator will be measured against): every valid
//! sample passes, every sample under an `invalid/` folder fails with exactly one validity error,
//! of the kind its name announces (901–905), and the classifier and register packets the hub
//! ships or exports follow the packet schemas.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(xml_files(&path));
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"))
        {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The schema a sample is checked against, from its folder and file-name prefix, as the hub
/// picks it (schemas/README.md).
fn schema_for(sample: &Path) -> PathBuf {
    let rel = sample
        .strip_prefix(root().join("fixtures/xml"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let name = sample.file_name().unwrap().to_string_lossy().into_owned();
    let schema = match rel.split('/').take(2).collect::<Vec<_>>()[..] {
        ["zl_list", "3.2"] => "zl_list/3.2/H.xsd",
        ["zl_list", "3.1"] => match name.as_bytes()[0] {
            b'T' => "zl_list/3.1/T.xsd",
            b'C' => "zl_list/3.1/C.xsd",
            b'D' => "zl_list/3.1/D.xsd",
            _ => "zl_list/3.1/H.xsd",
        },
        ["pers_list", v] => return root().join(format!("schemas/pers_list/{v}/L.xsd")),
        ["flk_p", v] => return root().join(format!("schemas/flk_p/{v}/FLK_P.xsd")),
        ["erz", "1.0"] => match name.as_bytes()[0] {
            b'i' => "erz/1.0/OPLIST.xsd",
            b'p' => "erz/1.0/REPLIST.xsd",
            b'r' => "erz/1.0/RECLIST.xsd",
            b's' => "erz/1.0/STOPLIST.xsd",
            b'c' => "erz/1.0/CONFLICTLIST.xsd",
            _ => panic!("no ERZ list for {rel}"),
        },
        ["nsi", "1.0"] if name.starts_with("F003") => "nsi/1.0/register-packet.xsd",
        ["nsi", "1.0"] => "nsi/1.0/packet.xsd",
        _ => panic!("no schema rule for {rel}"),
    };
    root().join("schemas").join(schema)
}

/// Runs xmllint and returns (exit status, validity-error lines).
fn xmllint(schema: &Path, file: &Path) -> (i32, Vec<String>) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is needed (Debian: apt-get install libxml2-utils; .ci/test installs it): {e}")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = stderr
        .lines()
        .filter(|l| l.contains("validity error"))
        .map(str::to_owned)
        .collect();
    (out.status.code().unwrap_or(-1), errors)
}

#[test]
fn every_valid_sample_passes_its_schema() {
    let samples: Vec<PathBuf> = xml_files(&root().join("fixtures/xml"))
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "invalid"))
        .collect();
    assert!(
        samples.len() >= 20,
        "samples are missing: {}",
        samples.len()
    );
    for sample in samples {
        let (rc, errors) = xmllint(&schema_for(&sample), &sample);
        assert!(
            rc == 0 && errors.is_empty(),
            "{}: rc {rc} {errors:#?}",
            sample.display()
        );
    }
}

#[test]
fn every_invalid_sample_fails_once_for_its_announced_reason() {
    let samples: Vec<PathBuf> = xml_files(&root().join("fixtures/xml"))
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "invalid"))
        .collect();
    assert!(samples.len() >= 12, "invalid samples are missing");
    for sample in samples {
        let name = sample.file_stem().unwrap().to_string_lossy().into_owned();
        let (rc, errors) = xmllint(&schema_for(&sample), &sample);
        assert_ne!(rc, 0, "{name} must fail");
        assert_eq!(errors.len(), 1, "{name}: {errors:#?}");
        let error = &errors[0];
        // The F012 code in the name, and the element or constraint after it.
        // <file>_<date+seq>_<code>_<what>: for 905 <what> is the key element (N_ZAP), else
        // a word and the element (empty_NHISTORY).
        let parts: Vec<&str> = name.splitn(4, '_').collect();
        let (code, what) = (parts[2], parts[3]);
        let element = if code == "905" {
            what
        } else {
            what.split_once('_').unwrap().1
        };
        let expected_kind = match code {
            "901" => "not expected",
            "902" => "minLength",
            "903" => {
                if name.contains("fraction") {
                    "fractionDigits"
                } else {
                    "not a valid value"
                }
            }
            "904" => "enumeration",
            "905" => "Duplicate key-sequence",
            other => panic!("{name}: unknown F012 code {other}"),
        };
        assert!(error.contains(expected_kind), "{name}: {error}");
        if code == "905" {
            assert!(error.contains(&format!("uq_{element}")), "{name}: {error}");
        } else if code != "901" {
            assert!(error.contains(&format!("'{element}'")), "{name}: {error}");
        }
    }
}

#[test]
fn the_shipped_classifier_and_register_packets_follow_the_packet_schemas() {
    let packet = root().join("schemas/nsi/1.0/packet.xsd");
    for file in xml_files(&root().join("fixtures/nsi")) {
        let (rc, errors) = xmllint(&packet, &file);
        assert!(
            rc == 0 && errors.is_empty(),
            "{}: {errors:#?}",
            file.display()
        );
    }
    let register = root().join("schemas/nsi/1.0/register-packet.xsd");
    for file in xml_files(&root().join("fixtures/registers")) {
        if file.to_string_lossy().contains("broken") {
            continue; // a checksum error, which no XSD can see, is its whole point
        }
        let (rc, errors) = xmllint(&register, &file);
        assert!(
            rc == 0 && errors.is_empty(),
            "{}: {errors:#?}",
            file.display()
        );
    }
}

#[test]
fn an_exported_classifier_follows_the_packet_schema() {
    let app = crate::support::TestApp::spawn();
    let dir = tempfile::tempdir().unwrap();
    for id in ["V006", "V009", "F010"] {
        let packet = omshub::nsi::store::export(&mut app.conn(), id, None).unwrap();
        for encoding in [
            omshub::nsi::packet::OutputEncoding::Utf8,
            omshub::nsi::packet::OutputEncoding::Windows1251,
        ] {
            let path = dir.path().join(format!("{id}-{encoding:?}.xml"));
            std::fs::write(
                &path,
                omshub::nsi::packet::write_packet(&packet, encoding).unwrap(),
            )
            .unwrap();
            let (rc, errors) = xmllint(&root().join("schemas/nsi/1.0/packet.xsd"), &path);
            assert!(
                rc == 0 && errors.is_empty(),
                "{id} {encoding:?}: {errors:#?}"
            );
        }
    }
}
