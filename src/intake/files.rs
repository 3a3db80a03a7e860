//! The one way intake writes a file others read: protocols and their signatures under
//! `protocols/<id>/`, copies in the outbox, receipts and refusals of the inbox channel, the
//! signature files sent beside a package and the content of an enveloping package. Each is
//! written to a temporary file beside its target (`.<name>.<random>.tmp`, tempfile's
//! `NamedTempFile`), synced and renamed over the target, so a reader never sees half a file;
//! on any failure (a full disk, a write refused halfway) the temporary file is removed, so a
//! failed write leaves nothing behind. Called by `pipeline` and `inbox`.

use std::io::{self, Write};
use std::path::Path;

use super::spool::sync_dir;

/// Writes `bytes` as `dir/name`, atomically (see the module doc); the folder is synced.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(dir, name, |out| out.write_all(bytes))
}

/// Writes `dir/name` with what `fill` writes into the temporary file, atomically: `fill`'s
/// error, or the sync's or the rename's, leaves no temporary file and no `name`.
pub fn write_atomically_with(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // As `std::fs::write` creates a file (less the umask), not tempfile's private 0600: the
    // outbox is read by the exchange's other side.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    // Dropped on every `?` below: the temporary file is removed.
    {
        let mut out = io::BufWriter::new(tmp.as_file_mut());
        fill(&mut out)?;
        out.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes `left` bytes, then fails as a full disk does.
    struct FailAfter<'a> {
        inner: &'a mut dyn Write,
        left: usize,
    }

    impl Write for FailAfter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }

        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_that_fails_halfway_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = vec![b'x'; 1 << 20];
        for after in [0, 1, 4096, 300_000, (1 << 20) - 1] {
            let err = write_atomically_with(dir.path(), "VHM750096T75_26011.xml", |out| {
                FailAfter {
                    inner: out,
                    left: after,
                }
                .write_all(&bytes)
            })
            .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(28), "after {after} bytes");
            assert!(
                names(dir.path()).is_empty(),
                "after {after} bytes: {:?}",
                names(dir.path())
            );
        }
    }

    #[test]
    fn a_write_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "a.xml", b"first").unwrap();
        write_atomically(dir.path(), "a.xml", b"second").unwrap();
        assert_eq!(names(dir.path()), ["a.xml"]);
        assert_eq!(std::fs::read(dir.path().join("a.xml")).unwrap(), b"second");
    }
}
