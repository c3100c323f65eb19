//! Rules: what turns stored events into deliveries.
//!
//! ```text
//!  bus log ──▶ dispatcher ──(matched events)──▶ rule worker ──▶ delivery queues ──▶ target workers
//!             one per bus,                       one per rule:    one per target     (crate::deliver)
//!             crate::matching                    crate::chain,
//!                                                cursor + trace
//! ```
//!
//! * [`rule`] — the rule definition and its compilation (every reference
//!   checked up front);
//! * [`dispatch`] — per bus, matches each event once against all rules;
//! * [`worker`] — per rule, runs the plugin chain and queues deliveries,
//!   recording progress and traces atomically with them;
//! * [`replay`] — sends a range of the log through chosen rules again;
//! * `catalogue` — rule definitions: checked, compiled, stored, loaded;
//! * `runtime` — starts and stops the dispatchers and workers above as
//!   rules come, change and go;
//! * `redrive` and `status` — dead letters back into queues; what the API
//!   and `/metrics` show of each rule.
//!
//! [`Rules`] is the facade the API holds. Rules are records in the store's
//! catalogue and take effect without a restart. Disabling a rule stops its
//! worker but keeps its cursor, so enabling it again resumes where it
//! stopped; queued deliveries keep draining either way. A new rule starts
//! at the head of the bus: it sees events published after it was created.
//!
//! Ordering: each target's queue is in bus order. Without an
//! `ordering_key`, sends run concurrently (up to the target's concurrency)
//! and retries can overtake; with one, deliveries sharing a key value are
//! sent one at a time in bus order, a failing delivery holding back only its
//! own key.

mod catalogue;
pub mod dispatch;
mod redrive;
pub mod replay;
pub mod rule;
mod runtime;
mod status;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use crate::deliver::worker::TargetHandle;
use crate::pattern::RuleId;
use crate::plugin::Registry;
use crate::store::{Bus, Store, StoreError};
pub use redrive::Redriven;
use rule::{CompiledRule, RuleError};

/// Errors from rule operations.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The rule is invalid.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// No such bus.
    #[error("bus '{0}' does not exist")]
    NoBus(String),
    /// No such rule.
    #[error("rule '{0}' does not exist")]
    NoRule(String),
    /// The bus already has its limit of rules.
    #[error(
        "bus '{bus}' has {limit} rules, the limit (limits.max_rules_per_bus); delete a rule first"
    )]
    LimitReached {
        /// The bus.
        bus: String,
        /// The limit.
        limit: usize,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What runs for one rule.
struct RuleState {
    id: RuleId,
    rule: Arc<CompiledRule>,
    created_at: i64,
    updated_at: i64,
    targets: Arc<Vec<TargetHandle>>,
    position: Arc<worker::Position>,
    worker: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
    /// Whether this node runs it (always, except in a cluster).
    owned: bool,
}

/// What runs for one bus: its dispatcher and its rules.
struct BusPipeline {
    bus: Arc<Bus>,
    dispatcher: mpsc::Sender<dispatch::Command>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    rules: HashMap<String, RuleState>,
}

/// Every bus's rules: their dispatchers, rule workers, target workers and
/// replays. The API's one handle on the data path after ingest.
pub struct Rules {
    store: Store,
    registry: Arc<Registry>,
    buses: tokio::sync::Mutex<HashMap<String, BusPipeline>>,
    next_id: Mutex<RuleId>,
    /// Plugin references in use, for the registry's delete check.
    uses: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// Replays by id.
    replays: Mutex<HashMap<String, Arc<replay::Replay>>>,
    /// Stops replay tasks at shutdown.
    stop_replays: watch::Sender<bool>,
    /// The number the next replay gets.
    next_replay: Mutex<u32>,
    /// Most rules on one bus; replacing an existing rule is always allowed.
    max_rules_per_bus: usize,
    /// The only folder `log` targets write to.
    log_dir: std::path::PathBuf,
    /// In a cluster: when this node first found itself the owner of a rule
    /// (see `runtime::HANDOVER`).
    acquired: Mutex<HashMap<String, std::time::Instant>>,
    /// Rules just created through this node, which no other node can be
    /// running yet.
    fresh: Mutex<std::collections::HashSet<String>>,
}
