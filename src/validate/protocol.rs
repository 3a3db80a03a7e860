//! The FLK protocol (`FLK_P`, formats.md 2.1) of one checked file: `V` + the source name, one
//! `PR` per finding with its F012 code, element, value, parent and record keys, in
//! windows-1251, valid against `schemas/flk_p/1.0/FLK_P.xsd`.
//!
//! Business-rule findings follow the schema findings with their rule id as OSHIB
//! ([`write_flk_with_rules`]). Where findings went beyond the cap (`max_findings`), a summary
//! `PR` with OSHIB `OMSH.00.0001` and the count of the others follows those listed.
//!
//! Written by `omshub validate --format flk` and, later, by intake for every package; the
//! protocols of a ZIP package are put together by `package::PackageReport::protocols`.

use std::fmt::Write as _;

use super::rules::catalogue::FINDINGS_CAPPED;
use super::rules::{RuleFinding, Severity};
use super::{FileReport, Finding};

/// The protocol's file name: `V` + the source file name without its extension.
#[must_use]
pub fn protocol_name(source_file: &str) -> String {
    format!("V{}", stem(source_file))
}

fn stem(file: &str) -> &str {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// The F012 description of a code, as the protocol's COMMENT starts (F012, formats.md 2.2).
#[must_use]
pub fn f012_text(code: u16) -> &'static str {
    match code {
        901 => "Нарушен порядок элементов или отсутствует обязательный элемент",
        902 => "Не заполнено обязательное поле",
        903 => "Неверный тип или формат данных",
        904 => "Недопустимое значение",
        905 => "Повторяющийся ключевой идентификатор в файле",
        801 => "Пакет не является ZIP-архивом",
        802 => "Имя пакета не соответствует правилам",
        803 => "В пакете отсутствует файл",
        804 => "Неверное значение элемента",
        805 => "Пакет с таким именем уже зарегистрирован",
        _ => "Ошибка форматно-логического контроля",
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` collapsed and cut to `max` characters; `None` when nothing is left.
fn fit(text: &str, max: usize) -> Option<String> {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        None
    } else {
        Some(collapsed.chars().take(max).collect())
    }
}

fn element(out: &mut String, indent: &str, name: &str, value: Option<String>) {
    if let Some(v) = value {
        let _ = writeln!(out, "{indent}<{name}>{}</{name}>", escape(&v));
    }
}

fn pr(out: &mut String, f: &Finding, nschet: Option<&str>) {
    pr_as(out, f, nschet, &f.code.to_string(), f012_text(f.code));
}

/// One PR with `oshib` as its code and `title` opening its comment.
fn pr_as(out: &mut String, f: &Finding, nschet: Option<&str>, oshib: &str, title: &str) {
    out.push_str("  <PR>\n");
    element(out, "    ", "OSHIB", Some(oshib.to_owned()));
    element(out, "    ", "IM_POL", fit(&f.element, 20));
    element(
        out,
        "    ",
        "ZN_POL",
        f.value.as_deref().and_then(|v| fit(v, 100)),
    );
    element(out, "    ", "NSCHET", nschet.and_then(|n| fit(n, 15)));
    element(
        out,
        "    ",
        "BAS_EL",
        f.parent.as_deref().and_then(|p| fit(p, 20)),
    );
    element(out, "    ", "N_ZAP", f.context.n_zap.map(|n| n.to_string()));
    element(
        out,
        "    ",
        "ID_PAC",
        f.context.id_pac.as_deref().and_then(|v| fit(v, 36)),
    );
    element(
        out,
        "    ",
        "IDCASE",
        f.context.idcase.map(|n| n.to_string()),
    );
    element(
        out,
        "    ",
        "SL_ID",
        f.context.sl_id.as_deref().and_then(|v| fit(v, 36)),
    );
    element(
        out,
        "    ",
        "IDSERV",
        f.context.idserv.as_deref().and_then(|v| fit(v, 36)),
    );
    let comment = if f.line == 0 {
        // A finding of a package, not inside a file.
        format!("{title}: {}", f.message)
    } else if f.element.is_empty() {
        format!("{title} (строка {}): {}", f.line, f.message)
    } else {
        format!("{title}: {} (строка {}): {}", f.element, f.line, f.message)
    };
    element(out, "    ", "COMMENT", fit(&comment, 250));
    out.push_str("  </PR>\n");
}

/// The protocol of `report` as windows-1251 bytes. Characters windows-1251 lacks are written
/// as character references, so the text survives.
#[must_use]
pub fn write_flk(report: &FileReport) -> Vec<u8> {
    write_flk_with_rules(report, &[])
}

/// The protocol of `report` followed by the findings of the business rules in that file
/// (`rules`, in their order): OSHIB is the rule id (`003K.00.0410`); a warning has no `BAS_EL`,
/// so the receiver does not read it as a refusal (formats.md 2.1).
#[must_use]
pub fn write_flk_with_rules(report: &FileReport, rules: &[RuleFinding]) -> Vec<u8> {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<FLK_P>\n");
    let source = stem(&report.file);
    element(
        &mut xml,
        "  ",
        "FNAME",
        fit(&protocol_name(&report.file), 30),
    );
    element(&mut xml, "  ", "FNAME_I", fit(source, 30));
    for f in &report.findings {
        pr(&mut xml, f, report.nschet.as_deref());
    }
    if report.findings_dropped > 0 {
        // The schema check's cap, stated as the rules state theirs: a summary, no BAS_EL.
        let summary = Finding {
            code: 0,
            element: String::new(),
            parent: None,
            value: Some(report.findings_dropped.to_string()),
            context: super::Context::default(),
            line: 0,
            column: 0,
            message: format!(
                "{} more findings of the schema check in this file are not listed",
                report.findings_dropped
            ),
            reason: None,
        };
        pr_as(
            &mut xml,
            &summary,
            report.nschet.as_deref(),
            FINDINGS_CAPPED.id,
            "Предупреждение: не все ошибки перечислены",
        );
    }
    for r in rules {
        let mut f = r.finding.clone();
        if r.rule.severity == Severity::Warning {
            f.parent = None;
        }
        let title = match r.rule.severity {
            _ if r.rule.id == FINDINGS_CAPPED.id => "Предупреждение: не все ошибки перечислены",
            Severity::File => "Счёт отклонён (МЭК)",
            Severity::Record => "Случай отклонён (МЭК)",
            Severity::Warning => "Предупреждение (МЭК)",
        };
        pr_as(&mut xml, &f, report.nschet.as_deref(), r.rule.id, title);
    }
    xml.push_str("</FLK_P>\n");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&xml);
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fitting() {
        assert_eq!(
            protocol_name("HM750096T75_2601001.xml"),
            "VHM750096T75_2601001"
        );
        assert_eq!(
            protocol_name("/in/LM750096T75_2601001.XML"),
            "VLM750096T75_2601001"
        );
        assert_eq!(fit("  a \n b  ", 10).as_deref(), Some("a b"));
        assert_eq!(fit("   ", 10), None);
        assert_eq!(fit("абвгд", 3).as_deref(), Some("абв"));
        assert_eq!(escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }

    #[test]
    fn findings_beyond_the_cap_are_stated_in_one_summary() {
        let report = FileReport {
            file: "HM750096T75_2601001.xml".into(),
            kind: "H".into(),
            version: "3.2".into(),
            schema: None,
            nschet: None,
            accepted: false,
            records: 10,
            refused_records: 10,
            findings_dropped: 7,
            findings: Vec::new(),
        };
        let bytes = write_flk(&report);
        let (xml, _, _) = encoding_rs::WINDOWS_1251.decode(&bytes);
        assert_eq!(xml.matches("<PR>").count(), 1, "{xml}");
        assert!(
            xml.contains("<OSHIB>OMSH.00.0001</OSHIB>\n    <ZN_POL>7</ZN_POL>"),
            "{xml}"
        );
        assert!(
            !xml.contains("<BAS_EL>"),
            "a summary refuses nothing: {xml}"
        );
        let quiet = FileReport {
            findings_dropped: 0,
            ..report
        };
        assert!(!String::from_utf8_lossy(&write_flk(&quiet)).contains("<PR>"));
    }
}
