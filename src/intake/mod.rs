//! Package intake: the hub's front door (issue 6). A package (a ZIP of exchange files) arrives
//! by the API or an inbox folder, is written to disk and recorded in the database before its
//! receipt is sent, and then a worker checks it (`validate::package`), writes its `FLK_P`
//! protocols, and ends it in one transaction with the cases of its accepted records — so a
//! package is finished exactly once, whatever moment the process is killed at.
//!
//! - [`store`]: the `package` and `package_case` tables;
//! - [`spool`]: bytes to disk while they arrive, with their SHA-256 and a size limit;
//! - [`files`]: the atomic write of protocols, receipts and signatures (no temporary file
//!   left behind on a failure);
//! - [`pipeline`]: the check of one package and its protocols;
//! - [`signatures`]: the signatures of a package, against the sender's registered certificates;
//! - [`worker`]: the pool that takes received packages in order;
//! - [`inbox`]: the file-exchange channel (inbox and outbox folders per sender);
//! - [`notices`]: the e-mail notices of finished packages, kept until sent.
//!
//! See docs/INTAKE.md.

pub mod files;
pub mod inbox;
pub mod notices;
pub mod pipeline;
pub mod signatures;
pub mod spool;
pub mod store;
pub mod worker;

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Serialize;

/// Where a package is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded and on disk, waiting for a worker.
    Received,
    /// A worker is checking it.
    Checking,
    /// Every file and record accepted.
    Accepted,
    /// Some records refused, the others accepted.
    PartlyAccepted,
    /// Refused as a whole (package findings, or no record accepted).
    Rejected,
}

impl Status {
    /// The value stored in `package.status`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Checking => "checking",
            Self::Accepted => "accepted",
            Self::PartlyAccepted => "partly_accepted",
            Self::Rejected => "rejected",
        }
    }

    /// Reads a stored value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => Self::Received,
            "checking" => Self::Checking,
            "accepted" => Self::Accepted,
            "partly_accepted" => Self::PartlyAccepted,
            "rejected" => Self::Rejected,
            _ => return None,
        })
    }

    /// Whether the package is finished.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Accepted | Self::PartlyAccepted | Self::Rejected)
    }
}

/// How a package came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `POST /api/v1/packages`.
    Api,
    /// A file dropped into the sender's inbox folder.
    Inbox,
}

impl Channel {
    /// The value stored in `package.channel`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Inbox => "inbox",
        }
    }
}

/// What the sender gets at once: proof that the hub holds these bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The package id.
    pub id: String,
    /// The package name as sent.
    pub file_name: String,
    /// Who sent it.
    pub sender: String,
    /// SHA-256 of the bytes received, hex.
    pub sha256: String,
    /// Bytes received.
    pub size_bytes: u64,
    /// When the hub recorded it (UTC).
    pub received_at: NaiveDateTime,
}

/// The folders under `intake.storage_dir`.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// The layout under `root`; creates the folders.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let storage = Self {
            root: root.to_owned(),
        };
        for dir in [
            storage.incoming(),
            storage.packages(),
            storage.protocols(),
            storage.signatures(),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(storage)
    }

    /// Uploads still arriving (`<uuid>.part`).
    #[must_use]
    pub fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }

    /// Received packages, `<id>.zip`.
    #[must_use]
    pub fn packages(&self) -> PathBuf {
        self.root.join("packages")
    }

    /// Protocols, `<id>/V<name>.xml`.
    #[must_use]
    pub fn protocols(&self) -> PathBuf {
        self.root.join("protocols")
    }

    /// The stored bytes of package `id`.
    #[must_use]
    pub fn package_file(&self, id: &str) -> PathBuf {
        self.packages().join(format!("{id}.zip"))
    }

    /// The protocol folder of package `id`.
    #[must_use]
    pub fn protocol_dir(&self, id: &str) -> PathBuf {
        self.protocols().join(id)
    }

    /// Detached signatures sent beside packages, `<id>/<name>`.
    #[must_use]
    pub fn signatures(&self) -> PathBuf {
        self.root.join("signatures")
    }

    /// The folder of the signatures sent beside package `id`.
    #[must_use]
    pub fn signature_dir(&self, id: &str) -> PathBuf {
        self.signatures().join(id)
    }

    /// What is inside package `id` when it came as an enveloping signature (the ZIP, or an
    /// OPLIST's XML), once verified.
    #[must_use]
    pub fn content_file(&self, id: &str) -> PathBuf {
        self.packages().join(format!("{id}.content.zip"))
    }
}
