//! The fund-to-insurer H file (formats.md 1.3): the account as the clinic sent it, each case
//! with the hub's decision (OPLATA, SUMP, SANK, `SANK_IT`) and the account with SUMMAP and
//! `SANK_MEK`. The original file is streamed a second time and copied event by event in its
//! own encoding; only the decision elements are replaced, so nothing of the clinic's data is
//! rewritten. One ZAP is buffered at a time: a ZAP the rules never saw (refused by the schema
//! check) is left out, and SUMMAV and `SD_Z` then count the cases exported.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use quick_xml::events::Event;
use quick_xml::{Reader, Writer};

use super::{CaseDecision, Outcome};
use crate::validate::records::Account;
use crate::xml::reader::{DecodingReader, declared_encoding};

/// The name of the fund-to-insurer file (formats.md 1.1): `H` + `T<fund>` + the payer
/// (`S<insurer>`, or `T<fund>` for another territory's fund) + `_` + `YYMM` + `package`.
/// The fund is the territory of the billing clinic. `None` without a payer.
#[must_use]
pub fn insurer_file_name(account: &Account, package: u32) -> Option<String> {
    let fund = account.code_mo.get(..2)?;
    let plat = account.plat.as_deref()?;
    let payer = match plat.len() {
        5 => format!("S{plat}"),
        2 => format!("T{plat}"),
        _ => return None,
    };
    Some(format!(
        "HT{fund}{payer}_{:02}{:02}{package}",
        account.year % 100,
        account.month
    ))
}

/// What was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// ZAPs written.
    pub records: u64,
    /// ZAPs of the source left out (no decision).
    pub left_out: u64,
}

fn decision_xml(d: &CaseDecision) -> String {
    use std::fmt::Write as _;
    let mut x = String::new();
    let _ = write!(x, "<OPLATA>{}</OPLATA><SUMP>{}</SUMP>", d.oplata, d.sump);
    let mut total = crate::domain::Money::ZERO;
    for s in &d.sanctions {
        let _ = write!(
            x,
            "<SANK><S_CODE>{}</S_CODE><S_SUM>{}</S_SUM><S_TIP>{}</S_TIP>",
            s.s_code, s.s_sum, s.s_tip
        );
        for sl in &s.sl_id {
            let _ = write!(x, "<SL_ID>{}</SL_ID>", escape(sl));
        }
        let _ = write!(
            x,
            "<S_OSN>{}</S_OSN><DATE_ACT>{}</DATE_ACT><NUM_ACT>{}</NUM_ACT><S_COM>{}</S_COM>\
             <S_IST>{}</S_IST></SANK>",
            s.s_osn,
            s.date_act,
            escape(&s.num_act),
            escape(&s.s_com),
            s.s_ist
        );
        total = total.checked_add(s.s_sum).unwrap_or(total);
    }
    if !d.sanctions.is_empty() {
        let _ = write!(x, "<SANK_IT>{total}</SANK_IT>");
    }
    x
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

fn io_error(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Where the copy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    No,
    /// Inside an element being replaced, at this depth.
    Until(usize),
}

/// Text written in the source's encoding.
struct Out<W> {
    inner: W,
    encoding: &'static encoding_rs::Encoding,
}

impl<W: Write> Out<W> {
    fn write_utf8(&mut self, utf8: &[u8]) -> io::Result<()> {
        let text = std::str::from_utf8(utf8).map_err(io_error)?;
        let (bytes, _, _) = self.encoding.encode(text);
        self.inner.write_all(&bytes)
    }
}

/// Copies the H file `source` to `out` with the decisions of `outcome`, under the file name
/// `file_name` (`ZGLV/FILENAME`), in the source's declared encoding. `source` must be the file
/// `outcome` was checked from.
#[expect(clippy::too_many_lines, reason = "one pass of a small state machine")]
pub fn write_insurer_file<R: Read, W: Write>(
    source: R,
    out: W,
    outcome: &Outcome,
    file_name: &str,
) -> io::Result<Exported> {
    let mut source = source;
    let mut prefix = vec![0; 64 * 1024];
    let mut filled = 0;
    while filled < prefix.len() {
        let n = source.read(&mut prefix[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    prefix.truncate(filled);
    let encoding = declared_encoding(&prefix).map_err(|label| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("encoding {label} is not supported"),
        )
    })?;
    let decoded = DecodingReader::new(io::Cursor::new(prefix).chain(source), encoding);
    let by_n_zap: HashMap<u64, &CaseDecision> =
        outcome.decisions.iter().map(|d| (d.n_zap, d)).collect();
    let mut reader = Reader::from_reader(decoded);
    reader.config_mut().trim_text(false);
    let mut out = Out {
        inner: out,
        encoding,
    };
    // UTF-8 of what is not written yet: the current ZAP, or the text before it.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut skip = Skip::No;
    let mut decision: Option<&CaseDecision> = None;
    let mut schet_done = false;
    let mut exported = Exported {
        records: 0,
        left_out: 0,
    };
    let totals = &outcome.totals;
    let schet_xml = format!(
        "<SUMMAP>{}</SUMMAP><SANK_MEK>{}</SANK_MEK>",
        totals.summap, totals.sank_mek
    );
    loop {
        let event = reader.read_event_into(&mut buf).map_err(io_error)?;
        if matches!(&event, Event::Start(e) if path.len() == 1 && e.name().0 == "ZAP") {
            out.write_utf8(&pending)?;
            pending.clear();
        }
        match &event {
            Event::Eof => break,
            Event::Start(e) => {
                let name = e.name().0.to_owned();
                let depth = path.len() + 1;
                if skip == Skip::No {
                    let replaced = match path.last().map(String::as_str) {
                        Some("Z_SL") if path.len() == 3 => {
                            matches!(name.as_str(), "OPLATA" | "SUMP" | "SANK" | "SANK_IT")
                        }
                        Some("SCHET") => {
                            if !schet_done
                                && matches!(
                                    name.as_str(),
                                    "SANK_MEE" | "SANK_EKMP" | "REF" | "DISP"
                                )
                            {
                                pending.extend_from_slice(schet_xml.as_bytes());
                                schet_done = true;
                            }
                            matches!(name.as_str(), "SUMMAP" | "SANK_MEK")
                        }
                        _ => false,
                    };
                    if replaced {
                        skip = Skip::Until(depth);
                    } else {
                        Writer::new(&mut pending).write_event(event.borrow())?;
                    }
                }
                path.push(name);
            }
            Event::End(_) => {
                let depth = path.len();
                let name = path.pop().unwrap_or_default();
                match skip {
                    Skip::Until(d) if d == depth => skip = Skip::No,
                    Skip::Until(_) => {}
                    Skip::No => {
                        if name == "SCHET" && !schet_done {
                            pending.extend_from_slice(schet_xml.as_bytes());
                            schet_done = true;
                        }
                        Writer::new(&mut pending).write_event(event.borrow())?;
                        if name == "SUMV"
                            && path.len() == 3
                            && let Some(d) = decision
                        {
                            pending.extend_from_slice(decision_xml(d).as_bytes());
                        }
                        if name == "ZAP" && path.len() == 1 {
                            if decision.take().is_some() {
                                out.write_utf8(&pending)?;
                                exported.records += 1;
                            } else {
                                exported.left_out += 1;
                            }
                            pending.clear();
                        }
                    }
                }
            }
            Event::Text(t) if skip == Skip::No => {
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                let replacement = match at[..] {
                    ["ZL_LIST", "ZGLV", "FILENAME"] => Some(file_name.to_owned()),
                    ["ZL_LIST", "ZGLV", "SD_Z"] => Some(outcome.decisions.len().to_string()),
                    ["ZL_LIST", "SCHET", "SUMMAV"] => Some(totals.sumv.to_string()),
                    ["ZL_LIST", "ZAP", "N_ZAP"] => {
                        decision = t
                            .trim()
                            .parse::<u64>()
                            .ok()
                            .and_then(|n| by_n_zap.get(&n).copied());
                        None
                    }
                    _ => None,
                };
                match replacement {
                    Some(text) => pending.extend_from_slice(escape(&text).as_bytes()),
                    None => Writer::new(&mut pending).write_event(event.borrow())?,
                }
            }
            _ if skip == Skip::No => Writer::new(&mut pending).write_event(event.borrow())?,
            _ => {}
        }
        buf.clear();
    }
    out.write_utf8(&pending)?;
    out.inner.flush()?;
    Ok(exported)
}
