//! The batched writer of the policy-status audit: `omshub serve` hands each query's audit row to
//! a channel instead of writing it inside the request, and one thread commits what arrived every
//! 50 ms (`api::server`) in one transaction (multi-row INSERTs of 1,000 rows) through `erz::repo::audit`. So a status
//! query costs a read, not a write transaction, and SQLite's single writer is taken once per
//! batch instead of once per request.
//!
//! No row is dropped: a row that cannot be queued (the writer closed) is written by the
//! caller itself; a batch that fails is kept and tried again; [`AuditWriter::close`], called
//! when the server stops, ends the channel and waits until every queued row is committed. A
//! process killed outright loses at most the rows of its last 50 ms. Created by
//! `api::server`; used by `api::erz` through `erz::status::policy_status_with`.

use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::repo::NewStatusQuery;
use super::repo::audit::insert_status_queries;
use crate::db::{Database, DbConn};

/// Tries of the last batch when the writer closes and the database keeps failing.
const CLOSING_TRIES: u32 = 50;

/// The queue of audit rows and the thread that commits them.
pub struct AuditWriter {
    /// Read-locked by every request (senders send concurrently), write-locked once to close.
    tx: RwLock<Option<mpsc::Sender<NewStatusQuery>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl AuditWriter {
    /// Starts the writer thread over `db`, committing every `every`.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn start(db: Database, every: Duration) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("erz-audit".into())
            .spawn(move || run(&db, &rx, every))?;
        Ok(Self {
            tx: RwLock::new(Some(tx)),
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues one row; gives it back when the writer is closed.
    #[must_use]
    pub fn submit(&self, row: NewStatusQuery) -> Option<NewStatusQuery> {
        let Ok(guard) = self.tx.read() else {
            return Some(row);
        };
        match guard.as_ref() {
            Some(tx) => tx.send(row).err().map(|e| e.0),
            None => Some(row),
        }
    }

    /// Writes `row` through the queue, or directly on `conn` when the queue is closed.
    ///
    /// # Errors
    /// The direct write failed.
    pub fn write(&self, conn: &mut DbConn, row: NewStatusQuery) -> diesel::QueryResult<()> {
        match self.submit(row) {
            None => Ok(()),
            Some(row) => insert_status_queries(conn, &[row]),
        }
    }

    /// Closes the queue and waits until every queued row is committed.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.write() {
            tx.take();
        }
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker
            && worker.join().is_err()
        {
            tracing::error!("the audit writer thread panicked");
        }
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread: waits for a first row, lets rows gather for `every` (senders do not wake
/// it meanwhile), commits everything queued, and on the channel's end commits the rest and
/// returns.
fn run(db: &Database, rx: &mpsc::Receiver<NewStatusQuery>, every: Duration) {
    let mut pending: Vec<NewStatusQuery> = Vec::new();
    let mut failures = 0_u32;
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(row) => pending.push(row),
                Err(_) => return,
            }
        }
        std::thread::sleep(every);
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(row) => pending.push(row),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let written = db.conn().map_err(|e| e.to_string()).and_then(|mut conn| {
            insert_status_queries(&mut conn, &pending).map_err(|e| e.to_string())
        });
        match written {
            Ok(()) => {
                pending.clear();
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                tracing::error!(rows = pending.len(), error = %e, "audit rows not written yet; retrying");
                if closed && failures >= CLOSING_TRIES {
                    tracing::error!(
                        rows = pending.len(),
                        "audit rows lost: the database kept failing at shutdown"
                    );
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if closed && pending.is_empty() {
            return;
        }
    }
}
