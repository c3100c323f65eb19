//! Writes that may wait a moment, grouped: the successful deliveries of
//! every target worker.
//!
//! A target worker records each successful send (the delivery removed, its
//! trace step) and goes on sending; it does not need the write to finish
//! first, because a lost success only means the delivery is sent again
//! after a crash, which at-least-once delivery allows.
//! [`Recorder::record`] therefore only queues the batch. Batches recorded
//! while a write is in progress are appended to one batch and committed
//! together by one task, in the order they were recorded.
//!
//! Why: with ten busy targets each committing its own successes, the
//! runtime threads wrote to RocksDB one small batch at a time — a WAL
//! `write` each, and RocksDB's writers waiting on each other's groups
//! (spinning, then `sched_yield`). In the `bench deliver --rules 10`
//! profile that was about a seventh of the server's CPU
//! (docs/benchmarks.md). A dedicated thread was tried for this before and
//! not kept: waking it costs as much as a delivery. The committer here is
//! a task on the runtime, started when there is something to write and
//! ending when there is not, so an idle server pays nothing and a busy one
//! rarely starts it.

use std::sync::Mutex;

use tokio::sync::oneshot;

use super::{Store, queue::Batch};

/// Groups batches that can wait, for one store.
#[derive(Default)]
pub struct Recorder {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// Everything recorded since the last write began.
    batch: Batch,
    /// Who wants to know when that is written, and what to run then.
    waiting: Vec<(oneshot::Sender<bool>, Option<Then>)>,
    /// A committer task is running (and will take `batch`).
    running: bool,
}

/// Resolves once a recorded batch is written (`true`) or failed to be
/// (`false`; the committer logs why).
pub type Recorded = oneshot::Receiver<bool>;

/// Runs once a recorded batch is written or failed to be (with `true` if
/// written), before the next group is taken: e.g. counting deliveries only
/// once what they changed can be read.
pub type Then = Box<dyn FnOnce(bool) + Send>;

impl Recorder {
    /// Queues `batch` to be committed after every batch recorded before it.
    /// Must be called inside a Tokio runtime. The result says when it was
    /// written; dropping it is fine.
    pub(super) fn record(&self, store: &Store, batch: Batch, then: Option<Then>) -> Recorded {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut p = self.pending.lock().expect("recorder poisoned");
            p.batch.append(batch);
            p.waiting.push((tx, then));
            !std::mem::replace(&mut p.running, true)
        };
        if start {
            tokio::spawn(commit_all(store.clone()));
        }
        rx
    }
}

/// Commits what is recorded until nothing is.
async fn commit_all(store: Store) {
    let recorder = &store.recorder;
    loop {
        let (batch, waiting) = {
            let mut p = recorder.pending.lock().expect("recorder poisoned");
            if p.batch.is_empty() && p.waiting.is_empty() {
                p.running = false;
                return;
            }
            (std::mem::take(&mut p.batch), std::mem::take(&mut p.waiting))
        };
        let result = store.commit(batch).await;
        if let Err(error) = &result {
            tracing::error!(%error, "Cannot record delivered events; those deliveries will be sent again after a restart.");
        }
        for (tx, then) in waiting {
            if let Some(then) = then {
                then(result.is_ok());
            }
            let _ = tx.send(result.is_ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DEFAULT_BUS, rocks::StoreOptions};

    /// Many batches recorded from several tasks at once are all written, and
    /// each task's batches land in the order it recorded them: the last
    /// position each task set is the one stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recorded_batches_are_all_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_rocks(dir.path(), StoreOptions::default()).unwrap();
        let bus = store.bus(DEFAULT_BUS).unwrap().id;
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for t in 0..4 {
            let store = store.clone();
            let written = written.clone();
            tasks.push(tokio::spawn(async move {
                let rule = format!("rule-{t}");
                let mut last = None;
                for seq in 1..=500 {
                    let mut b = store.batch();
                    b.set_cursor(bus, &rule, seq);
                    let written = written.clone();
                    let then: Then = Box::new(move |ok| {
                        if ok {
                            written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    });
                    last = Some(store.record(b, Some(then)));
                    if seq % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                last.unwrap().await.unwrap()
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap(), "the last batch was written");
        }
        // Each batch's follow-up ran, before its result was answered.
        assert_eq!(written.load(std::sync::atomic::Ordering::Relaxed), 2000);
        for t in 0..4 {
            let cursor = store.cursor(bus, &format!("rule-{t}")).await.unwrap();
            assert_eq!(cursor, Some(500));
        }
        // Nothing is left waiting, and the committer stops (it looks once
        // more after answering the last batch).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            {
                let p = store.recorder.pending.lock().unwrap();
                assert!(p.batch.is_empty() && p.waiting.is_empty());
                if !p.running {
                    break;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the committer keeps running"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}
