//! The files the hub sends back for an OPLIST (formats.md 4.1, 2.1): the REPLIST (one REP per
//! OP with AA / AE / AR and, when accepted, the resulting INSURANCE) and the ERZ `FLK_P` (one
//! PR per finding: the schema check's and each refused operation's). Both in UTF-8, valid
//! against `schemas/erz/1.0/REPLIST.xsd` and `schemas/flk_p/erz/FLK_P.xsd`. Called by
//! `erz::apply`.

use std::fmt::Write as _;

use chrono::NaiveDate;

/// The header of a REPLIST.
#[derive(Debug, Clone)]
pub struct ReplyHeader {
    /// FILENAME: the reply's name without extension (`p75001_75_01261`).
    pub file_name: String,
    /// SMOCOD of the sender.
    pub smocod: String,
    /// PRZCOD of the sender.
    pub przcod: String,
}

/// One REP.
#[derive(Clone)]
pub struct Rep {
    /// `N_REC` of the OP answered.
    pub n_rec: String,
    /// ID: the register's id of the person.
    pub id: Option<i64>,
    /// `CODE_ERP`: AA, AE or AR.
    pub code_erp: String,
    /// COMMENT.
    pub comment: Option<String>,
    /// INSURANCE, for an accepted operation that recorded an episode.
    pub insurance: Option<RepInsurance>,
}

/// INSURANCE of a REP.
#[derive(Clone)]
pub struct RepInsurance {
    /// `TER_ST`.
    pub ter_st: Option<String>,
    /// ENP.
    pub enp: String,
    /// OGRNSMO.
    pub ogrnsmo: Option<String>,
    /// VPOLIS.
    pub vpolis: String,
    /// NPOLIS.
    pub npolis: Option<String>,
    /// SPOLIS.
    pub spolis: Option<String>,
    /// DBEG.
    pub dbeg: NaiveDate,
    /// DEND.
    pub dend: Option<NaiveDate>,
    /// DSTOP.
    pub dstop: Option<NaiveDate>,
}

/// One PR of the ERZ `FLK_P`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlkPr {
    /// OSHIB: the ERZ channel's code (formats.md 2.4).
    pub oshib: String,
    /// `IM_POL`.
    pub im_pol: String,
    /// `BAS_EL`.
    pub bas_el: String,
    /// `N_REC` (empty for the file).
    pub n_rec: String,
    /// COMMENT.
    pub comment: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` with whitespace collapsed and cut to `max` characters.
#[must_use]
pub fn fit(text: &str, max: usize) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

fn el(out: &mut String, indent: &str, name: &str, value: &str) {
    let _ = writeln!(out, "{indent}<{name}>{}</{name}>", escape(value));
}

fn opt(out: &mut String, indent: &str, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        el(out, indent, name, v);
    }
}

/// The REPLIST answering `reps` (at least one, as the schema asks).
#[must_use]
pub fn write_replist(header: &ReplyHeader, reps: &[Rep]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLIST>\n");
    el(&mut x, "  ", "VERS", "2.0");
    el(&mut x, "  ", "FILENAME", &fit(&header.file_name, 100));
    el(&mut x, "  ", "SMOCOD", &header.smocod);
    el(&mut x, "  ", "PRZCOD", &fit(&header.przcod, 10));
    el(&mut x, "  ", "NRECORDS", &reps.len().to_string());
    let nerr = reps.iter().filter(|r| r.code_erp != "AA").count();
    el(&mut x, "  ", "NERR", &nerr.to_string());
    for r in reps {
        x.push_str("  <REP>\n");
        el(&mut x, "    ", "N_REC", &fit(&r.n_rec, 36));
        opt(&mut x, "    ", "ID", r.id.map(|i| i.to_string()).as_deref());
        el(&mut x, "    ", "CODE_ERP", &r.code_erp);
        opt(
            &mut x,
            "    ",
            "COMMENT",
            r.comment.as_deref().map(|c| fit(c, 250)).as_deref(),
        );
        if let Some(i) = &r.insurance {
            x.push_str("    <INSURANCE>\n");
            el(
                &mut x,
                "      ",
                "TER_ST",
                i.ter_st.as_deref().unwrap_or(""),
            );
            el(&mut x, "      ", "ENP", &i.enp);
            el(
                &mut x,
                "      ",
                "OGRNSMO",
                i.ogrnsmo.as_deref().unwrap_or(""),
            );
            x.push_str("      <POLIS>\n");
            el(&mut x, "        ", "VPOLIS", &i.vpolis);
            el(
                &mut x,
                "        ",
                "NPOLIS",
                &fit(i.npolis.as_deref().unwrap_or(""), 20),
            );
            opt(
                &mut x,
                "        ",
                "SPOLIS",
                i.spolis.as_deref().map(|s| fit(s, 10)).as_deref(),
            );
            el(&mut x, "        ", "DBEG", &i.dbeg.to_string());
            opt(
                &mut x,
                "        ",
                "DEND",
                i.dend.map(|d| d.to_string()).as_deref(),
            );
            opt(
                &mut x,
                "        ",
                "DSTOP",
                i.dstop.map(|d| d.to_string()).as_deref(),
            );
            x.push_str("      </POLIS>\n");
            x.push_str("    </INSURANCE>\n");
        }
        x.push_str("  </REP>\n");
    }
    x.push_str("</REPLIST>\n");
    x
}

/// The ERZ `FLK_P` named `fname` about the list `fname_i` (both without extension).
#[must_use]
pub fn write_flk(fname: &str, fname_i: &str, prs: &[FlkPr]) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FLK_P>\n");
    el(&mut x, "  ", "VERS", "2.0");
    el(&mut x, "  ", "FNAME", &fit(fname, 100));
    el(&mut x, "  ", "FNAME_I", &fit(fname_i, 100));
    for p in prs {
        x.push_str("  <PR>\n");
        el(&mut x, "    ", "OSHIB", &fit(&p.oshib, 12));
        el(&mut x, "    ", "IM_POL", &fit(&p.im_pol, 50));
        el(&mut x, "    ", "BAS_EL", &fit(&p.bas_el, 50));
        el(&mut x, "    ", "N_REC", &fit(&p.n_rec, 36));
        el(&mut x, "    ", "COMMENT", &fit(&p.comment, 250));
        x.push_str("  </PR>\n");
    }
    x.push_str("</FLK_P>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::records::testing::read_bytes;

    #[test]
    fn replist_and_flk_are_valid_against_their_schemas() {
        let header = ReplyHeader {
            file_name: "p34901_34_06241".into(),
            smocod: "34901".into(),
            przcod: "3490101".into(),
        };
        let reps = vec![
            Rep {
                n_rec: "1".into(),
                id: Some(7),
                code_erp: "AA".into(),
                comment: None,
                insurance: Some(RepInsurance {
                    ter_st: Some("18000".into()),
                    enp: "5054910832000016".into(),
                    ogrnsmo: Some("1123400901018".into()),
                    vpolis: "Э".into(),
                    npolis: None,
                    spolis: None,
                    dbeg: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
                    dend: None,
                    dstop: Some(NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()),
                }),
            },
            Rep {
                n_rec: "2".into(),
                id: None,
                code_erp: "AE".into(),
                comment: Some("snils_invalid: SNILS <& check".into()),
                insurance: None,
            },
        ];
        let text = write_replist(&header, &reps);
        let (report, _, _) = read_bytes("p34901_34_06241.xml", text.as_bytes());
        assert!(report.accepted, "{:#?}\n{text}", report.findings);
        assert!(text.contains("<NERR>1</NERR>"));
        assert!(text.contains("SNILS &lt;&amp; check"));

        let flk = write_flk(
            "f34901_34_06241",
            "i34901_34_06241",
            &[FlkPr {
                oshib: "102".into(),
                im_pol: "SS".into(),
                bas_el: "PERSON".into(),
                n_rec: "2".into(),
                comment: "x ".repeat(300),
            }],
        );
        let (report, _, _) = read_bytes("f34901_34_06241.xml", flk.as_bytes());
        assert!(report.accepted, "{:#?}\n{flk}", report.findings);
    }
}
