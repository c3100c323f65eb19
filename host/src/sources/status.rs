//! What a source reports: its state, counts, last event and last error.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use serde_json::{Value, json};

use crate::event::time::{format_rfc3339_micros, now_micros};

/// Where a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// Defined, about to run.
    #[default]
    Starting,
    /// Running (connected, for pull sources).
    Running,
    /// Trying to reach its broker again after an error.
    Reconnecting,
    /// Paused by the user, or `enabled: false`.
    Paused,
    /// A one-shot schedule that has fired.
    Finished,
    /// In a cluster: another node runs it (see `docs/cluster.md`).
    Standby,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Running => "running",
            State::Reconnecting => "reconnecting",
            State::Paused => "paused",
            State::Finished => "finished",
            State::Standby => "standby",
        }
    }
}

/// A source's live status (counts since the server started, except the
/// schedule counts, which are kept across restarts).
#[derive(Debug, Default)]
pub struct Status {
    state: Mutex<State>,
    received: AtomicU64,
    published: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    fired: AtomicU64,
    missed: AtomicU64,
    last_event_at: AtomicI64,
    next_at: AtomicI64,
    lag: AtomicU64,
    last_error: Mutex<Option<(i64, String)>>,
}

/// A copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Its state.
    pub state: State,
    /// Things received.
    pub received: u64,
    /// Events stored.
    pub published: u64,
    /// Things recognized as stored already.
    pub duplicates: u64,
    /// Things refused.
    pub failed: u64,
    /// Firings missed.
    pub missed: u64,
}

impl Status {
    /// Sets the state.
    pub fn set_state(&self, s: State) {
        *self.state.lock().expect("status lock") = s;
    }

    /// Counts things received.
    pub fn received(&self, n: u64) {
        self.received.fetch_add(n, Relaxed);
    }

    /// Counts events stored and duplicates recognized.
    pub fn published(&self, stored: u64, duplicates: u64) {
        self.published.fetch_add(stored, Relaxed);
        self.duplicates.fetch_add(duplicates, Relaxed);
        if stored + duplicates > 0 {
            self.last_event_at.store(now_micros(), Relaxed);
        }
    }

    /// Counts duplicates recognized before publishing.
    pub fn duplicate(&self) {
        self.duplicates.fetch_add(1, Relaxed);
    }

    /// Counts refused things and records why.
    pub fn failed(&self, n: u64, why: String) {
        self.failed.fetch_add(n, Relaxed);
        self.error(why);
    }

    /// Records an error.
    pub fn error(&self, why: String) {
        *self.last_error.lock().expect("status lock") = Some((now_micros(), why));
    }

    /// Forgets the last error (the definition changed).
    pub fn clear_error(&self) {
        *self.last_error.lock().expect("status lock") = None;
    }

    /// A schedule's counts (kept across restarts).
    pub fn set_counts(&self, fired: u64, missed: u64) {
        self.fired.store(fired, Relaxed);
        self.missed.store(missed, Relaxed);
    }

    /// A schedule's next firing (µs).
    pub fn set_next(&self, at: Option<i64>) {
        self.next_at.store(at.unwrap_or(0), Relaxed);
    }

    /// Messages waiting upstream, where the broker says.
    pub fn set_lag(&self, n: u64) {
        self.lag.store(n, Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: *self.state.lock().expect("status lock"),
            received: self.received.load(Relaxed),
            published: self.published.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            failed: self.failed.load(Relaxed),
            missed: self.missed.load(Relaxed),
        }
    }

    /// The status as the API shows it.
    pub fn to_json(&self) -> Value {
        let s = self.snapshot();
        let t = |v: i64| (v != 0).then(|| format_rfc3339_micros(v));
        let next = self.next_at.load(Relaxed);
        let last_error = self
            .last_error
            .lock()
            .expect("status lock")
            .as_ref()
            .map(|(at, e)| json!({"at": format_rfc3339_micros(*at), "message": e}));
        json!({
            "state": s.state.as_str(),
            "received": s.received,
            "published": s.published,
            "duplicates": s.duplicates,
            "failed": s.failed,
            "fired": self.fired.load(Relaxed),
            "missed": s.missed,
            "last_event_at": t(self.last_event_at.load(Relaxed)),
            "next_firing_at": t(next),
            "lag": self.lag.load(Relaxed),
            "last_error": last_error,
        })
    }
}
