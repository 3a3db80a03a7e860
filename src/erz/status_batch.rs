//! The batched policy status of `omshub serve` on PostgreSQL: the common question (by ENP, as
//! known now) of concurrent requests is answered by one statement for all of them.
//!
//! On PostgreSQL each status is a round trip: the request's thread sends the statement, wakes
//! the server process, waits, and is woken with the answer. On a small machine the wake-ups and
//! the executor's start-up of each statement cost more than the five index reads themselves
//! (docs/PERFORMANCE.md, `policy_status`). So the handlers hand their ENP and date to a few
//! threads here instead; each takes every question queued while it was busy (up to
//! [`MAX_BATCH`]), reads them with `repo::status::status_by_enps_now` (one statement per date
//! asked), and hands each request its facts. Under light load a batch holds one question and
//! costs what a direct read costs; under load the batch grows with the queue, as a group commit
//! does. A batch is read after every question in it was asked, so an answer is as current as a
//! direct read. Errors reach every question of the batch. The statement also reads the
//! credential epoch; a question that asks for it (its caller was authenticated from
//! `participants::cache`) gets it with its facts, and the handler confirms its caller with it
//! (`api::auth::Provisional`).
//!
//! `api::server` starts it on PostgreSQL (`database.status_readers` threads, each with its own
//! connection besides the pool); on SQLite a read is in-process and a direct read is cheaper.
//! Called by `api::erz`.

use std::collections::HashMap;
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use chrono::NaiveDate;

use super::repo::status::{StatusFacts, status_by_enps_now};
use diesel::connection::SimpleConnection as _;
use diesel::r2d2::R2D2Connection as _;

use crate::db::{Database, DbConn};

/// Questions per statement at most.
pub const MAX_BATCH: usize = 64;

/// What a question gets: the facts of the person with the ENP (`None`: no person has it), or
/// why the batch could not be read.
pub type Facts = Result<Option<StatusFacts>, String>;

/// What a question gets back: its facts and, when it asked for it, the credential epoch read
/// with them (`None` also when its row is missing).
#[derive(Debug)]
pub struct Answer {
    /// The facts.
    pub facts: Facts,
    /// The credential epoch, when asked for.
    pub epoch: Option<i64>,
}

/// One question: an ENP (checked), a date, whether the credential epoch is wanted, where to
/// answer.
struct Ask {
    enp: String,
    on: NaiveDate,
    epoch: bool,
    reply: tokio::sync::oneshot::Sender<Answer>,
}

/// The queue of questions and the threads that answer them.
pub struct StatusBatcher {
    /// Read-locked by every request, write-locked once to close.
    tx: RwLock<Option<mpsc::Sender<Ask>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl StatusBatcher {
    /// Starts `threads` reading threads over `db`.
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn start(db: &Database, threads: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Ask>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for n in 0..threads.max(1) {
            let (db, rx) = (db.clone(), Arc::clone(&rx));
            handles.push(
                std::thread::Builder::new()
                    .name(format!("erz-status-{n}"))
                    .spawn(move || run(&db, &rx))?,
            );
        }
        Ok(Self {
            tx: RwLock::new(Some(tx)),
            threads: Mutex::new(handles),
        })
    }

    /// The facts of the person with `enp` on `on`, as known now, with the credential epoch
    /// the same statement read when `epoch`; `None` when the batcher is closed (the caller
    /// reads directly then).
    pub async fn ask(&self, enp: &str, on: NaiveDate, epoch: bool) -> Option<Answer> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let ask = Ask {
            enp: enp.to_owned(),
            on,
            epoch,
            reply,
        };
        {
            let guard = self.tx.read().ok()?;
            guard.as_ref()?.send(ask).ok()?;
        }
        answer.await.ok()
    }

    /// Closes the queue: the threads answer what is queued and stop.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.write() {
            tx.take();
        }
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a policy-status reading thread panicked");
            }
        }
    }
}

impl Drop for StatusBatcher {
    fn drop(&mut self) {
        self.close();
    }
}

/// A reading thread: waits for a question, takes every other one queued (up to
/// [`MAX_BATCH`]), reads them, answers; returns when the queue is closed and empty.
fn run(db: &Database, rx: &Mutex<mpsc::Receiver<Ask>>) {
    let mut conn = None;
    loop {
        let mut batch = Vec::new();
        {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => return,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(ask) => batch.push(ask),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
        }
        answer(db, &mut conn, batch);
    }
}

/// The thread's own connection, opened (again) when it has none. On PostgreSQL it always runs
/// the statement's generic plan: the planner would otherwise plan each batch afresh (it
/// guesses a custom plan for a short ENP array cheaper), which costs more than the reads.
fn connect(db: &Database) -> Result<DbConn, String> {
    let mut conn = db.dedicated().map_err(|e| e.to_string())?;
    if let DbConn::Pg(c) = &mut conn {
        c.batch_execute("SET plan_cache_mode = force_generic_plan")
            .map_err(|e| e.to_string())?;
    }
    Ok(conn)
}

/// Answers `ask` (the requester may have gone, a dropped connection: nothing to do then).
fn reply(ask: Ask, facts: Facts, epoch: Option<i64>) {
    let epoch = if ask.epoch { epoch } else { None };
    let _ = ask.reply.send(Answer { facts, epoch });
}

/// Reads a batch (one statement per date asked, each also reading the credential epoch) and
/// answers each question.
fn answer(db: &Database, conn: &mut Option<DbConn>, batch: Vec<Ask>) {
    let mut by_date: HashMap<NaiveDate, Vec<Ask>> = HashMap::new();
    for ask in batch {
        by_date.entry(ask.on).or_default().push(ask);
    }
    if conn.is_none() {
        match connect(db) {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                for ask in by_date.into_values().flatten() {
                    reply(ask, Err(e.clone()), None);
                }
                return;
            }
        }
    }
    let Some(c) = conn.as_mut() else { return };
    for (on, asks) in by_date {
        let enps: Vec<&str> = asks.iter().map(|a| a.enp.as_str()).collect();
        match status_by_enps_now(c, &enps, on) {
            Ok((found, epoch)) => {
                for ask in asks {
                    // (Two requests may ask for the same ENP.)
                    let facts = found.get(&ask.enp).cloned();
                    reply(ask, Ok(facts), epoch);
                }
            }
            Err(e) => {
                let e = e.to_string();
                if c.is_broken() {
                    *conn = None;
                    for ask in asks {
                        reply(ask, Err(e.clone()), None);
                    }
                    return;
                }
                for ask in asks {
                    reply(ask, Err(e.clone()), None);
                }
            }
        }
    }
}
