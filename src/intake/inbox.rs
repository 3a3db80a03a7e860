//! The file-exchange channel: regional practice is to drop files into a shared folder. With
//! `intake.inbox_dir` set, `serve` looks into `<inbox_dir>/<code>/` every
//! `intake.inbox_poll_secs`, where `<code>` is the register code of a participant (F001 fund,
//! F002 insurer, F003 clinic; docs/PARTICIPANTS.md); a `.zip` whose size and modification time
//! did not change since the previous look (so its writer has finished) is taken as a package of
//! that participant (`participant:<id>`, as if it had uploaded it): copied into the storage with
//! its SHA-256, recorded, then removed from the inbox. Its receipt is written to
//! `<outbox_dir>/<code>/<name>.receipt.json` at once, its protocols beside it when the check
//! ends, each with the hub's detached signature (`….sig`) when the hub has a key. A file in a
//! folder that names no active participant allowed to upload is not taken: it is moved aside to
//! `<inbox_dir>/.refused/<folder>/` with `<name>.refused.json` (`sender_unknown`).
//! Detached signatures of the whole package (`<name>.sig`, `<name>.BUH.SIG`…) lying beside the
//! `.zip` when it is taken go with it; write them before the ZIP (or put the signatures of
//! its files inside it).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::Channel;
use super::files::write_atomically;
use super::pipeline::Intake;
use super::spool::{Spool, SpoolError};
use super::store::Recorded;

/// What the watcher saw of a file at its previous look.
type Seen = HashMap<PathBuf, (u64, SystemTime)>;

/// Looks into the inbox folders; the packages it took.
#[derive(Debug, Default)]
pub struct Inbox {
    seen: Seen,
}

impl Inbox {
    /// One look into every sender's folder; takes the files that stood still since the last.
    pub fn poll(&mut self, intake: &Intake) -> anyhow::Result<usize> {
        let root = &intake.settings.inbox_dir;
        if root.as_os_str().is_empty() {
            return Ok(0);
        }
        std::fs::create_dir_all(root)?;
        let mut now_seen = Seen::new();
        let mut taken = 0;
        for sender_dir in std::fs::read_dir(root)? {
            let sender_dir = sender_dir?;
            let folder = sender_dir.file_name().to_string_lossy().into_owned();
            // `.refused/` and other hidden folders are the hub's, not a sender's.
            if !sender_dir.file_type()?.is_dir() || folder.starts_with('.') {
                continue;
            }
            // Who the folder stands for, looked up once per look when a file is ready.
            let mut sender: Option<Option<String>> = None;
            for entry in std::fs::read_dir(sender_dir.path())? {
                let entry = entry?;
                let path = entry.path();
                let is_zip = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
                let meta = entry.metadata()?;
                if !is_zip || !meta.is_file() {
                    continue;
                }
                let mark = (meta.len(), meta.modified()?);
                if self.seen.get(&path) != Some(&mark) {
                    now_seen.insert(path, mark);
                    continue;
                }
                let sender = match &sender {
                    Some(known) => known.clone(),
                    None => sender.insert(participant_of(intake, &folder)?).clone(),
                };
                let taken_or_refused = match &sender {
                    Some(sender) => take(intake, &folder, sender, &path).map(|()| 1),
                    None => refuse_unknown_sender(intake, &folder, &path).map(|()| 0),
                };
                match taken_or_refused {
                    Ok(n) => taken += n,
                    Err(e) => {
                        tracing::error!(file = %path.display(), error = %format!("{e:#}"), "inbox file not taken");
                    }
                }
            }
        }
        self.seen = now_seen;
        Ok(taken)
    }
}

/// The sender a folder of the inbox stands for: `participant:<id>` of the active participant
/// whose register code is the folder's name and who may upload; `None` for any other folder.
fn participant_of(intake: &Intake, folder: &str) -> anyhow::Result<Option<String>> {
    let mut conn = intake.db.conn()?;
    let participant = crate::participants::repo::active_by_org_code(&mut conn, folder)?;
    Ok(participant
        .filter(|p| p.roles.contains(crate::participants::Role::Upload))
        .map(|p| format!("participant:{}", p.id)))
}

/// The reason code of a file refused because its folder is no participant's.
pub const SENDER_UNKNOWN: &str = "sender_unknown";

/// The folder under `inbox_dir` where refused files are moved (`.refused/<folder>/`).
pub const REFUSED_DIR: &str = ".refused";

/// Moves a file of folder `folder`, which names no participant, and the signatures beside it,
/// to `<inbox_dir>/.refused/<folder>/`, with `<name>.refused.json` saying why. Nothing is
/// recorded: the hub does not take packages from a sender it does not know.
fn refuse_unknown_sender(intake: &Intake, folder: &str, path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = intake.settings.inbox_dir.join(REFUSED_DIR).join(folder);
    std::fs::create_dir_all(&aside)?;
    let refusal = serde_json::json!({
        "file_name": name,
        "error": SENDER_UNKNOWN,
        "message": format!(
            "the inbox folder {folder} is not the register code of a participant that may \
             upload; the file was not taken"
        ),
    });
    write_atomically(
        &aside,
        &format!("{name}.refused.json"),
        &serde_json::to_vec_pretty(&refusal)?,
    )?;
    for (file, p) in signatures_beside(path, &name)? {
        std::fs::rename(p, aside.join(file))?;
    }
    std::fs::rename(path, aside.join(&name))?;
    tracing::warn!(folder, file = %name, "inbox file of an unknown sender moved aside");
    Ok(())
}

/// Takes one inbox file of folder `folder` as a package of `sender`.
fn take(intake: &Intake, folder: &str, sender: &str, path: &Path) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outbox = intake.settings.outbox_dir.join(folder);
    std::fs::create_dir_all(&outbox)?;
    let mut spool = Spool::create(&intake.storage, intake.settings.max_package_bytes)?;
    let mut file = File::open(path)?;
    let mut buf = vec![0; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        match spool.write(&buf[..n]) {
            Ok(()) => {}
            Err(SpoolError::TooLarge { limit }) => {
                let refusal = serde_json::json!({
                    "file_name": name,
                    "error": "payload_too_large",
                    "message": format!("the package is larger than {limit} bytes; it was not taken"),
                });
                write_atomically(
                    &outbox,
                    &format!("{name}.refused.json"),
                    &serde_json::to_vec_pretty(&refusal)?,
                )?;
                std::fs::remove_file(path)?;
                return Ok(());
            }
            Err(SpoolError::Io(e)) => return Err(e.into()),
        }
    }
    let spooled = spool.finish()?;
    let beside = signatures_beside(path, &name)?;
    let signatures: Vec<(String, Vec<u8>)> = beside
        .iter()
        .map(|(n, p)| Ok((n.clone(), std::fs::read(p)?)))
        .collect::<io::Result<_>>()?;
    let recorded = intake.accept(spooled, sender, Channel::Inbox, &name, None, &signatures)?;
    let (row, repeat) = match recorded {
        Recorded::New(row) => (row, false),
        Recorded::Repeat(row) => (row, true),
    };
    let mut receipt = serde_json::to_value(row.receipt())?;
    receipt["repeat"] = repeat.into();
    let bytes = serde_json::to_vec_pretty(&receipt)?;
    if let Some(der) = intake.sign(&bytes)? {
        write_atomically(&outbox, &format!("{name}.receipt.json.sig"), &der)?;
    }
    write_atomically(&outbox, &format!("{name}.receipt.json"), &bytes)?;
    remove(path)?;
    for (_, p) in &beside {
        remove(p)?;
    }
    Ok(())
}

/// The detached signatures of package `name` lying beside it (`<name>.sig`, `.BUH.SIG`…,
/// any case), by name.
fn signatures_beside(path: &Path, name: &str) -> io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let Some(dir) = path.parent() else {
        return Ok(found);
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(file) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let signs_package = crate::validate::package::signature_suffix(&file)
            .is_some_and(|(rest, _)| rest.eq_ignore_ascii_case(name));
        if signs_package && entry.metadata()?.is_file() {
            found.push((file, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn remove(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}
