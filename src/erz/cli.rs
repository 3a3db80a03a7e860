//! `omshub erz …`: the register of insured persons from the command line. `apply FILE`
//! applies an insurer's OPLIST (see `erz::apply`) and writes the REPLIST and the `FLK_P` beside
//! it (or into `--out`). Exit status 0 when the file was applied (some records may be
//! refused: the REPLIST says which), 1 when it was refused as a whole or could not be read.
//! `export reclist|stoplist|conflictlist --insurer CODE --from DATE --to DATE` writes a list
//! for an insurer (see `erz::lists`) into `--out` (default: the current folder).
//! `match` finds duplicate persons (`erz::matching`); `review list|decide`, `merge` and
//! `unmerge` work the review queue and the merges (`erz::review`); their refusals exit 1 with
//! `[code] message`. `import FILE` bulk-loads persons from a CSV file or a RECLIST (see `erz::import`); exit
//! status 0 when every row was loaded or already present, 3 when some rows were refused (each
//! printed with its line and code), 1 when the file could not be imported.
//! `main.rs` parses [`ErzCommand`] and calls [`run`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;

use super::apply::{FileResult, apply_path};
use super::import::{DEFAULT_BATCH, DEFAULT_WRITERS, Format, ImportOptions, import_path};
use super::lists::{ListKind, ListRequest, produce};
use super::matching::{self, Options, Summary, Thresholds, share};
use super::review;
use crate::config::Settings;
use crate::imports::Progress;
use crate::validate::Validator;

/// The `erz` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ErzCommand {
    /// Apply an insurer's OPLIST (i….xml): each OP applied or refused, a REPLIST (p….xml) and
    /// an FLK_P (f….xml) written back. The same file again changes nothing.
    Apply {
        /// The OPLIST file.
        file: PathBuf,
        /// Folder for the REPLIST and the FLK_P (default: the file's folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Bulk-load persons (an initial register) from a CSV file (layout in docs/ERZ.md) or a
    /// RECLIST. Resumes a stopped load of the same file after its last committed batch; the
    /// same file again imports nothing.
    Import {
        /// The file.
        file: PathBuf,
        /// The file's format.
        #[arg(long, value_enum, default_value = "csv")]
        format: ImportFormat,
        /// Rows per committed batch (one transaction each).
        #[arg(long, default_value_t = DEFAULT_BATCH)]
        batch_size: usize,
        /// PostgreSQL: connections writing batches at once while the file is read (each batch
        /// still commits in file order); 1 = one connection. SQLite always writes on one.
        #[arg(long, default_value_t = DEFAULT_WRITERS)]
        writers: usize,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a list for an insurer: RECLIST (r….xml, the changes of the period that concern
    /// it), STOPLIST (s….xml, its insured whose insurance ended) or CONFLICTLIST (c….xml).
    Export {
        /// Which list.
        #[arg(value_enum)]
        list: ExportList,
        /// The insurer (F002 code).
        #[arg(long, value_name = "CODE")]
        insurer: String,
        /// First day of the period (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: NaiveDate,
        /// Last day of the period (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        to: NaiveDate,
        /// Folder for the file (default: the current folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Find duplicate persons: pairs sharing a blocking key are scored; a sure pair is merged
    /// automatically, a possible one goes to the review queue. Pairs a reviewer decided are
    /// left as they are.
    Match {
        /// Score from which a pair that shares a SNILS or a document is merged.
        #[arg(long, value_name = "SHARE", default_value = "0.90", value_parser = super::matching::parse_share)]
        sure: u16,
        /// Score from which a pair goes to the review queue.
        #[arg(long, value_name = "SHARE", default_value = "0.85", value_parser = super::matching::parse_share)]
        possible: u16,
        /// Blocks larger than this are skipped (and counted).
        #[arg(long, value_name = "N", default_value_t = super::matching::DEFAULT_MAX_BLOCK)]
        max_block: usize,
    },
    /// The review queue of possible duplicates.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Merge a person into another by hand: `GONE_ENP` answers as `KEEP_ENP` from now on.
    Merge {
        /// The ENP that stays.
        keep_enp: String,
        /// The ENP merged away.
        gone_enp: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        /// Who: recorded as `cli:NAME`.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Undo the merge of `GONE_ENP`: it answers for itself again (the link stays on record).
    Unmerge {
        /// The ENP merged away.
        gone_enp: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        /// Who: recorded as `cli:NAME`.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

/// `omshub erz review …`.
#[derive(Debug, clap::Subcommand)]
pub enum ReviewCommand {
    /// The undecided pairs, best score first.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decide a pair: `duplicate` merges the two, `distinct` keeps them apart for good.
    Decide {
        /// The pair id (from `review list`).
        pair_id: i64,
        /// `duplicate` or `distinct`.
        #[arg(value_parser = ["duplicate", "distinct"])]
        decision: String,
        /// Why.
        #[arg(long)]
        comment: Option<String>,
        /// Who: recorded as `cli:NAME`.
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
}

/// The lists `erz export` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportList {
    /// RECLIST.
    Reclist,
    /// STOPLIST.
    Stoplist,
    /// CONFLICTLIST.
    Conflictlist,
}

impl From<ExportList> for ListKind {
    fn from(l: ExportList) -> Self {
        match l {
            ExportList::Reclist => Self::Reclist,
            ExportList::Stoplist => Self::Stoplist,
            ExportList::Conflictlist => Self::Conflictlist,
        }
    }
}

/// The formats of `erz import`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportFormat {
    /// `;`-separated, with the header line of docs/ERZ.md.
    Csv,
    /// A RECLIST of formats.md 4.1.
    Reclist,
}

/// Runs one `erz` subcommand.
pub fn run(command: &ErzCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match command {
        ErzCommand::Apply { file, out } => {
            let database = crate::db::open_ready(&settings.database)?;
            let mut conn = database.conn()?;
            let validator = Validator::new(crate::xml::schemas::ALL)?;
            let now = crate::participants::now();
            let result = apply_path(&mut conn, &validator, file, now)
                .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))
                .with_context(|| format!("applying {}", file.display()))?;
            let dir = out
                .clone()
                .or_else(|| file.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            write_answers(&dir, &result)?;
            print!("{}", summary(&result));
            Ok(if result.status == "applied" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        ErzCommand::Export {
            list,
            insurer,
            from,
            to,
            out,
        } => run_export(settings, *list, insurer, *from, *to, out.as_deref()),
        ErzCommand::Match {
            sure,
            possible,
            max_block,
        } => run_match(settings, *sure, *possible, *max_block),
        ErzCommand::Review { command } => run_review(command, settings),
        ErzCommand::Merge {
            keep_enp,
            gone_enp,
            comment,
            by,
        } => {
            let mut conn = crate::db::open_ready(&settings.database)?.conn()?;
            let now = crate::participants::now();
            let link = review::merge(
                &mut conn,
                keep_enp,
                gone_enp,
                &who(by.as_deref()),
                comment.as_deref(),
                now,
            )
            .map_err(|e| coded(&e))?;
            println!(
                "merged: link {} ({} -> {})",
                link.id, link.gone_enp, link.kept_enp
            );
            Ok(ExitCode::SUCCESS)
        }
        ErzCommand::Unmerge {
            gone_enp,
            comment,
            by,
        } => {
            let mut conn = crate::db::open_ready(&settings.database)?.conn()?;
            let now = crate::participants::now();
            let link = review::unmerge(
                &mut conn,
                gone_enp,
                &who(by.as_deref()),
                comment.as_deref(),
                now,
            )
            .map_err(|e| coded(&e))?;
            println!(
                "unmerged: link {} ({} -> {}) superseded",
                link.id, link.gone_enp, link.kept_enp
            );
            Ok(ExitCode::SUCCESS)
        }
        ErzCommand::Import {
            file,
            format,
            batch_size,
            writers,
            json,
        } => run_import(
            settings,
            file,
            ImportOptions {
                format: match format {
                    ImportFormat::Csv => Format::Csv,
                    ImportFormat::Reclist => Format::Reclist,
                },
                batch_size: *batch_size,
                progress: !*json,
                writers: *writers,
            },
            *json,
        ),
    }
}

/// `erz export`: one list for an insurer, written into `out` (default: the current folder).
fn run_export(
    settings: &Settings,
    list: ExportList,
    insurer: &str,
    from: NaiveDate,
    to: NaiveDate,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let database = crate::db::open_ready(&settings.database)?;
    let mut conn = database.conn()?;
    let now = crate::participants::now();
    let dir = out.map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let asked = ListRequest {
        kind: list.into(),
        insurer,
        from,
        to,
    };
    let file = produce(&mut conn, asked, "cli", now, &dir)
        .map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
    let path = file.path;
    println!(
        "{}: {} records, written to {}",
        file.name,
        file.records,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `erz import`: a bulk load, resumed where a stopped load of the same file ended.
fn run_import(
    settings: &Settings,
    file: &Path,
    options: ImportOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let database = crate::db::open_ready(&settings.database)?;
    let validator = Validator::new(crate::xml::schemas::ALL)?;
    let name = file.display().to_string();
    let result = match import_path(
        &database,
        &validator,
        file,
        options,
        crate::participants::now(),
    ) {
        Ok(outcome) => {
            if !json {
                if outcome.already_done {
                    println!("{name}: imported before: nothing to do");
                } else if let Some(line) = outcome.resumed_after {
                    println!("{name}: resumed after line {line}");
                }
            }
            crate::imports::FileResult::Imported(outcome.summary)
        }
        Err(e) => crate::imports::FileResult::Refused {
            file: name,
            code: e.code(),
            message: e.to_string(),
        },
    };
    let status = crate::imports::report(&[result], json)?;
    Ok(ExitCode::from(status))
}

/// Who acts from the command line: `cli`, or `cli:NAME` with `--by NAME`.
fn who(by: Option<&str>) -> String {
    match by.map(str::trim).filter(|b| !b.is_empty()) {
        Some(name) => format!("cli:{name}"),
        None => "cli".to_owned(),
    }
}

fn coded(e: &review::ReviewError) -> anyhow::Error {
    anyhow::anyhow!("[{}] {e}", e.code())
}

fn run_match(
    settings: &Settings,
    sure: u16,
    possible: u16,
    max_block: usize,
) -> anyhow::Result<ExitCode> {
    let thresholds = Thresholds::new(sure, possible).map_err(anyhow::Error::msg)?;
    let mut conn = crate::db::open_ready(&settings.database)?.conn()?;
    let progress = Progress::new(0, "matching");
    let options = Options {
        thresholds,
        max_block: max_block.max(2),
        now: crate::participants::now(),
        progress: Some(&progress),
    };
    let result = matching::run(&mut conn, &options);
    progress.finish();
    let s = result.context("matching the register of insured persons")?;
    print!("{}", match_summary(&s));
    Ok(ExitCode::SUCCESS)
}

/// What `erz match` prints.
#[must_use]
pub fn match_summary(s: &Summary) -> String {
    let skipped = if s.oversized_blocks > 0 {
        format!(
            "; {} blocks over --max-block skipped (nothing marked dropped)",
            s.oversized_blocks
        )
    } else {
        String::new()
    };
    format!(
        "persons: {}, blocks: {}, comparisons: {}{skipped}\n\
         pairs: {} new, {} possible (review queue), {} sure, {} linked automatically, \
         {} decided by a reviewer (unchanged), {} dropped\n",
        s.persons,
        s.blocks,
        s.comparisons,
        s.new_pairs,
        s.possible,
        s.sure,
        s.linked,
        s.decided,
        s.dropped
    )
}

fn run_review(command: &ReviewCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let mut conn = crate::db::open_ready(&settings.database)?.conn()?;
    match command {
        ReviewCommand::List { limit, json } => {
            let (items, total) =
                review::queue(&mut conn, 0, i64::from(*limit)).map_err(|e| coded(&e))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("{total} pairs to review");
            for p in &items {
                println!(
                    "pair {}: {} score {} keys {}",
                    p.id,
                    p.state,
                    share(u16::try_from(p.score).unwrap_or(0)),
                    p.keys.join(",")
                );
                for person in [&p.a, &p.b] {
                    println!("  {}", person_line(person));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ReviewCommand::Decide {
            pair_id,
            decision,
            comment,
            by,
        } => {
            let decision = review::Decision::parse(decision).map_err(|e| coded(&e))?;
            let now = crate::participants::now();
            let d = review::decide(
                &mut conn,
                *pair_id,
                decision,
                &who(by.as_deref()),
                comment.as_deref(),
                now,
            )
            .map_err(|e| coded(&e))?;
            let effect = match (&d.linked, &d.unlinked) {
                (Some(l), _) => format!("; merged: {} -> {}", l.gone_enp, l.kept_enp),
                (_, Some(l)) => format!("; unmerged: {} -> {}", l.gone_enp, l.kept_enp),
                _ => String::new(),
            };
            println!("pair {}: {}{effect}", d.pair_id, d.decision);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn person_line(p: &review::PersonView) -> String {
    let text = |x: &Option<String>| x.clone().unwrap_or_default();
    format!(
        "{} {} {} {} born {} sex {} SNILS {} doc {}",
        p.enp,
        text(&p.fam),
        text(&p.im),
        text(&p.ot),
        p.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        p.sex.map(|s| s.to_string()).unwrap_or_default(),
        p.snils.as_deref().unwrap_or("-"),
        p.document.as_deref().unwrap_or("-"),
    )
}

fn write_answers(dir: &Path, result: &FileResult) -> anyhow::Result<()> {
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let (Some(name), Some(reply)) = (&result.reply_name, &result.reply) {
        let path = dir.join(name);
        std::fs::write(&path, reply).with_context(|| format!("writing {}", path.display()))?;
    }
    let path = dir.join(&result.protocol_name);
    std::fs::write(&path, &result.protocol)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What the command prints.
#[must_use]
pub fn summary(r: &FileResult) -> String {
    let repeat = if r.repeated {
        "repeat of a file already applied: nothing changed\n"
    } else {
        ""
    };
    let matched = match &r.matching {
        None => String::new(),
        Some(Ok(m)) => format!(
            "matching of the {} persons touched: {} pairs compared, {} new, {} possible (review queue), {} sure, {} linked\n",
            m.persons, m.comparisons, m.new_pairs, m.possible, m.sure, m.linked
        ),
        Some(Err(e)) => {
            format!("matching of the persons touched failed ({e}); the nightly run catches up\n")
        }
    };
    match &r.reply_name {
        Some(reply) => format!(
            "{repeat}applied: {} records, {} accepted (AA), {} refused (AE/AR); reply {reply}, protocol {}\n{matched}",
            r.records, r.accepted, r.refused, r.protocol_name
        ),
        None => format!(
            "{repeat}refused as a whole: see protocol {}\n",
            r.protocol_name
        ),
    }
}
