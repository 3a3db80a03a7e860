//! The worker pool inside `serve`: `intake.workers` threads, each taking the oldest received
//! package, checking it, and waiting for a new one (or a second) when the queue is empty.
//! Every 30 s a worker also sends the e-mail notices whose retry is due. Stopping lets each
//! worker finish the package in hand; a package cut off by a kill is taken
//! again at the next start ([`Intake::recover`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::inbox::Inbox;
use super::pipeline::Intake;

/// How long an idle worker waits before it looks at the queue again on its own.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How often a worker looks for e-mail notices due again.
const NOTICE_LOOK: Duration = Duration::from_secs(30);

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    intake: Arc<Intake>,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Recovers interrupted packages, then starts `count` workers.
    pub fn start(intake: Arc<Intake>, count: usize) -> anyhow::Result<Self> {
        let requeued = intake.recover()?;
        if requeued > 0 {
            tracing::info!(
                requeued,
                "packages interrupted by the last stop are queued again"
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(count + 1);
        if !intake.settings.inbox_dir.as_os_str().is_empty() {
            let (intake, stop) = (Arc::clone(&intake), Arc::clone(&stop));
            handles.push(
                std::thread::Builder::new()
                    .name("omshub-inbox".into())
                    .spawn(move || watch(&intake, &stop))?,
            );
        }
        for n in 0..count {
            let (intake, stop) = (Arc::clone(&intake), Arc::clone(&stop));
            handles.push(
                std::thread::Builder::new()
                    .name(format!("omshub-intake-{n}"))
                    .spawn(move || run(&intake, &stop))?,
            );
        }
        Ok(Self {
            intake,
            stop,
            handles,
        })
    }

    /// Lets each worker finish its package, then joins them.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.intake.notify_all();
        for handle in self.handles {
            let _ = handle.join();
        }
    }
}

fn watch(intake: &Intake, stop: &AtomicBool) {
    let mut inbox = Inbox::default();
    let every = Duration::from_secs(intake.settings.inbox_poll_secs);
    while !stop.load(Ordering::SeqCst) {
        if let Err(e) = inbox.poll(intake) {
            tracing::error!(error = %format!("{e:#}"), "inbox");
        }
        let until = std::time::Instant::now() + every;
        while !stop.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200).min(every));
        }
    }
}

fn run(intake: &Intake, stop: &AtomicBool) {
    let mut last_delivery = std::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        // Notices whose sending failed are tried again when their time comes.
        if last_delivery.elapsed() >= NOTICE_LOOK {
            intake.deliver_notices();
            last_delivery = std::time::Instant::now();
        }
        match intake.process_next() {
            Ok(true) => {}
            Ok(false) => intake.wait(IDLE_WAIT),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "intake worker");
                intake.wait(IDLE_WAIT);
            }
        }
    }
}
