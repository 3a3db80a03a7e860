//! Bytes to disk while they arrive: an upload is written to `incoming/<uuid>.part` through a
//! buffer, hashed (SHA-256) and counted on the way, refused past the size limit, and on
//! success synced and moved to `packages/<id>.zip`. Memory is the buffer, whatever the size.
//! A spool dropped before [`Spool::keep`] removes its part file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Storage;

/// Bytes buffered before a write to the file.
const BUFFER: usize = 256 * 1024;

/// Why an upload was not kept.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// More bytes than the limit.
    #[error("the package is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The disk refused.
    #[error("cannot store the package: {0}")]
    Io(#[from] io::Error),
}

/// An upload being written.
#[derive(Debug)]
pub struct Spool {
    file: Option<BufWriter<File>>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// An upload written completely.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Bytes written.
    pub size: u64,
}

impl Spool {
    /// A new part file under `storage`'s `incoming/`, refusing more than `limit` bytes.
    pub fn create(storage: &Storage, limit: u64) -> io::Result<Self> {
        let path = storage
            .incoming()
            .join(format!("{}.part", uuid::Uuid::new_v4()));
        let file = File::create_new(&path)?;
        Ok(Self {
            file: Some(BufWriter::with_capacity(BUFFER, file)),
            path,
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    /// Appends `chunk`.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        if self.size.saturating_add(len) > self.limit {
            return Err(SpoolError::TooLarge { limit: self.limit });
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the spool is closed"))?;
        file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.size += len;
        Ok(())
    }

    /// Flushes and syncs the file: every byte is on disk.
    pub fn finish(mut self) -> io::Result<Spooled> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the spool is closed"))?;
        let file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        let sha256 = hex(&self.hasher.clone().finalize());
        let path = std::mem::take(&mut self.path);
        Ok(Spooled {
            path,
            sha256,
            size: self.size,
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Spooled {
    /// Moves the bytes to `packages/<id>.zip` (synced with their folder).
    pub fn keep(self, storage: &Storage, id: &str) -> io::Result<PathBuf> {
        let target = storage.package_file(id);
        std::fs::rename(&self.path, &target)?;
        sync_dir(&storage.packages())?;
        Ok(target)
    }

    /// Drops the bytes (a repeat of a package the hub holds).
    pub fn discard(self) -> io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

/// Syncs a folder, so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Lower-case hex of `bytes`.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_hashes_counts_and_keeps_or_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let mut spool = Spool::create(&storage, 10).unwrap();
        spool.write(b"hello").unwrap();
        spool.write(b"world").unwrap();
        assert!(matches!(
            spool.write(b"!"),
            Err(SpoolError::TooLarge { limit: 10 })
        ));
        let done = spool.finish().unwrap();
        assert_eq!(done.size, 10);
        assert_eq!(
            done.sha256,
            "936a185caaa266bb9cbe981e9e05cb78cd732b0b3280eb944412bb6f8f8f07af"
        );
        let kept = done.keep(&storage, "p1").unwrap();
        assert_eq!(std::fs::read(kept).unwrap(), b"helloworld");
        // A spool dropped half-way leaves nothing behind.
        let mut half = Spool::create(&storage, 10).unwrap();
        half.write(b"abc").unwrap();
        drop(half);
        assert_eq!(std::fs::read_dir(storage.incoming()).unwrap().count(), 0);
    }
}
