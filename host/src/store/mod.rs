//! The state seam: everything Signalbox keeps, behind narrow typed
//! interfaces that a storage engine implements.
//!
//! | interface | what it holds | who uses it |
//! |---|---|---|
//! | [`BusLog`] | buses, and per bus an append-only log of events numbered 1, 2, 3, …: append a batch, read from a position, follow the head, look up by id, retention | ingest, dispatchers, rule workers catching up, replays, the read API |
//! | [`RuleProgress`] | each rule's position in its bus, committed **atomically** with the deliveries and trace steps it produced ([`Batch`]) | rule workers, replays |
//! | [`DeliveryQueue`] | per (rule, target) the deliveries to make, in bus order, and the dead letters | target workers, redrive, the dead-letter API |
//! | [`Traces`] | what happened to each event, step by step | everyone writes (in a [`Batch`]); the trace API reads |
//! | [`Catalogue`] | the definitions: rules, plugins and their bytes, tokens, schemas, replays, settings — typed records ([`catalogue::Record`]), each with a format version | the rule catalogue, plugin registry, tokens, schema registry, replays |
//!
//! Writes that must happen together — a rule's new position, the
//! deliveries for the events it passed and their trace steps; a delivery's
//! outcome and its trace step — go into one [`Batch`] and are applied by
//! [`RuleProgress::commit`] all or nothing. A [`Batch`] is plain data (a list
//! of [`queue::Op`]s), so each engine applies it its own way.
//!
//! [`Store`] is the handle the rest of the host holds: cheap to clone, an
//! engine behind it. Today the one engine is [`rocks`], an embedded RocksDB
//! (see `docs/storage.md`), the default; the other is [`nats`], NATS
//! JetStream shared by several nodes (see `docs/cluster.md`). Both
//! implement the same five traits ([`Backend`]); the rest of the host does
//! not know which it runs on, except that in a cluster each node runs only
//! the rules and sources it owns ([`Backend::owns`]).

pub mod catalogue;
pub mod nats;
pub mod queue;
pub mod recorder;
pub mod rocks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::watch;

pub use crate::bus::{BusConfig, RateLimit};
use crate::event::CloudEvent;
pub use catalogue::{Catalogue, Collection, Record};
pub use queue::{Batch, DeadLetterPage, Delivery, DeliveryKey, RuleGaps, TraceStep};
pub use rocks::{DecodeError, RocksStore, StoreOptions, SyncMode};

/// Per-bus event sequence number. The first event of a bus is 1; 0 means
/// "before the first event".
pub type Seq = u64;

/// A bus's numeric id, assigned when it is created and never reused, so a
/// deleted and re-created bus never sees the old bus's events.
pub type BusId = u32;

/// The bus that always exists.
pub const DEFAULT_BUS: &str = "default";

/// Stored bytes after which one [`BusLog::read`] stops, whatever its count:
/// a page of large events stays a few MiB however large the page asked for.
/// Callers go on from the last seq.
pub const READ_BYTES: usize = 8 << 20;

/// A boxed future, for the traits' asynchronous operations (the traits are
/// used as `dyn` objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors from the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// RocksDB failed (I/O error, corruption, …).
    #[error("storage error: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The bus does not exist (or was deleted while the request ran).
    #[error("bus '{0}' does not exist")]
    BusNotFound(String),
    /// The `default` bus cannot be deleted.
    #[error("the '{DEFAULT_BUS}' bus always exists and cannot be deleted")]
    ProtectedBus,
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// A blocking store task panicked or was cancelled.
    #[error("a storage task failed: {0}")]
    Task(String),
    /// A catalogue record cannot be used (its format version is newer than
    /// this release knows, or it does not parse).
    #[error("catalogue record {collection}/{key}: {reason}")]
    Record {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A blob (a plugin's component) could not be read or written.
    #[error("blob {path}: {reason}")]
    Blob {
        /// Where it is kept.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The cluster (NATS JetStream) failed or refused.
    #[error("cluster storage error: {0}")]
    Cluster(String),
    /// Opening the database failed for a reason other than RocksDB.
    #[error("cannot open the data folder {path}: {reason}")]
    Open {
        /// The data folder.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The sequence number of the first newly stored event; the others
    /// follow consecutively, skipping duplicates.
    pub first: Seq,
    /// Events that were duplicates: (index in the request, seq of the
    /// stored original).
    pub duplicates: Vec<(usize, Seq)>,
    /// Every event's seq and whether it was a duplicate, for engines whose
    /// batches are not numbered consecutively (in a cluster, other nodes'
    /// events interleave).
    pub exact: Option<Vec<(Seq, bool)>>,
}

impl Appended {
    /// The seq each input event ended up with, in input order, and whether
    /// it was a duplicate.
    pub fn seqs(&self, n: usize) -> Vec<(Seq, bool)> {
        if let Some(exact) = &self.exact {
            return exact.clone();
        }
        let mut out = Vec::with_capacity(n);
        let mut next = self.first;
        let mut dups = self.duplicates.iter().peekable();
        for i in 0..n {
            match dups.peek() {
                Some((idx, seq)) if *idx == i => {
                    out.push((*seq, true));
                    dups.next();
                }
                _ => {
                    out.push((next, false));
                    next += 1;
                }
            }
        }
        out
    }
}

/// A bus: its identity, settings and commit signal.
#[derive(Debug)]
pub struct Bus {
    /// The bus name.
    pub name: String,
    /// The numeric id used in keys.
    pub id: BusId,
    /// When the bus was created (µs since the epoch).
    pub created_at: i64,
    /// When its settings last changed (µs since the epoch).
    pub updated_at: i64,
    /// Its settings.
    pub config: BusConfig,
    committed: watch::Receiver<Seq>,
}

impl Bus {
    /// A bus as an engine loaded or created it; `committed` follows its
    /// highest committed seq.
    pub fn new(
        name: String,
        id: BusId,
        created_at: i64,
        updated_at: i64,
        config: BusConfig,
        committed: watch::Receiver<Seq>,
    ) -> Bus {
        Bus {
            name,
            id,
            created_at,
            updated_at,
            config,
            committed,
        }
    }

    /// The highest committed sequence number (0 when the bus is empty).
    pub fn last_seq(&self) -> Seq {
        *self.committed.borrow()
    }

    /// A receiver that changes whenever new events are committed: how
    /// followers, dispatchers and catching-up rules wait for the head.
    pub fn subscribe(&self) -> watch::Receiver<Seq> {
        self.committed.clone()
    }
}

/// An event as stored in the bus log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its position in the bus.
    pub seq: Seq,
    /// When it was received (µs since the epoch).
    pub received_at: i64,
    /// The event.
    pub event: CloudEvent,
}

impl AsRef<CloudEvent> for StoredEvent {
    fn as_ref(&self) -> &CloudEvent {
        &self.event
    }
}

/// The result of looking an event up by id.
#[derive(Debug)]
pub enum Lookup {
    /// Exactly one match (the newest, if the same source reused the id).
    Found(Box<StoredEvent>),
    /// No event has that id.
    NotFound,
    /// Several sources used that id; the caller must name one.
    Ambiguous(Vec<String>),
}

/// Buses and their logs.
pub trait BusLog: Send + Sync {
    /// A bus by name.
    fn bus(&self, name: &str) -> Option<Arc<Bus>>;
    /// A bus by name, including one created through another node that this
    /// node has not heard of yet (an engine whose buses are all local
    /// answers as [`BusLog::bus`] does).
    fn find_bus<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Bus>>, StoreError>> {
        Box::pin(async move { Ok(self.bus(name)) })
    }
    /// All buses, sorted by name.
    fn buses(&self) -> Vec<Arc<Bus>>;
    /// Retention of buses created without one.
    fn default_retention(&self) -> std::time::Duration;
    /// Creates a bus or replaces its settings; returns it and whether it was
    /// created.
    fn put_bus(
        &self,
        name: String,
        config: BusConfig,
    ) -> BoxFuture<'_, Result<(Arc<Bus>, bool), StoreError>>;
    /// Deletes a bus and everything stored under it (its log, rules'
    /// progress, queues, traces and per-bus records); false if there was
    /// none. The default bus cannot be deleted.
    fn delete_bus(&self, name: String) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Appends events, resolving once they are durable, with the seq of the
    /// first; the rest follow consecutively (duplicates within the bus's
    /// dedup window are acknowledged with the original's seq, not stored).
    fn append<'a>(
        &'a self,
        bus: &'a Bus,
        events: &'a [CloudEvent],
        received_at: i64,
    ) -> BoxFuture<'a, Result<Appended, StoreError>>;
    /// Up to `limit` events after `after`, in order (stopping at about
    /// [`READ_BYTES`]). Fewer than asked, or none, when retention deleted
    /// part of the range: callers compare with the bus's head.
    fn read<'a>(
        &'a self,
        bus: &'a Bus,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>>;
    /// As [`BusLog::read`], for a listing shown to a user: the answer is
    /// short only where retention deleted events, `limit` or about
    /// [`READ_BYTES`] end it, never because this node has not yet seen
    /// events up to the head it knows of. An engine whose reads always are
    /// (the embedded one) reads as `read` does.
    fn read_page<'a>(
        &'a self,
        bus: &'a Bus,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        self.read(bus, after, limit)
    }
    /// Catches this node's view of the bus's head up with the log and
    /// returns it, so that a read after this sees every event acknowledged
    /// before the call, through any node: read-your-writes behind a load
    /// balancer, for API reads. An engine whose head is always current (the
    /// embedded one) has nothing to do.
    fn sync_head<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Seq, StoreError>> {
        Box::pin(async move { Ok(bus.last_seq()) })
    }
    /// The lowest seq still stored.
    fn first_seq<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<Seq>, StoreError>>;
    /// The first seq received at or after `at` (µs); one past the head if
    /// none was.
    fn seq_at_time<'a>(&'a self, bus: &'a Bus, at: i64) -> BoxFuture<'a, Result<Seq, StoreError>>;
    /// About how many bytes the bus's log takes in storage (as stored, so
    /// after compression), for display; `None` when the engine cannot tell
    /// cheaply. An estimate: engines may leave out what is still in memory.
    fn log_bytes<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        let _ = bus;
        Box::pin(async { Ok(None) })
    }
    /// Looks an event up by id, optionally narrowed to one source.
    fn get_by_id<'a>(
        &'a self,
        bus: &'a Bus,
        id: &'a str,
        source: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Lookup, StoreError>>;
    /// Deletes what each bus's retention no longer keeps, every so often,
    /// until `shutdown` turns true.
    fn run_retention(&self, shutdown: watch::Receiver<bool>) -> BoxFuture<'_, ()>;
}

/// Rules' positions, committed atomically with what they produced.
pub trait RuleProgress: Send + Sync {
    /// A rule's position: the last seq it fully handled.
    fn cursor<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<Option<Seq>, StoreError>>;
    /// What the rule missed because retention deleted events first.
    fn gaps<'a>(&'a self, bus: BusId, rule: &'a str)
    -> BoxFuture<'a, Result<RuleGaps, StoreError>>;
    /// Applies a batch atomically: every operation or none.
    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Deletes everything kept for a rule: position, gaps, queues and dead
    /// letters.
    fn delete_rule_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Delivery queues and dead letters.
pub trait DeliveryQueue: Send + Sync {
    /// Up to `limit` queued deliveries of one target in queue (seq) order,
    /// strictly after `after`, stopping at about `max_bytes` (past the
    /// first); also says whether it stopped for bytes.
    fn deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
        after: Option<(Seq, u32)>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(Vec<Delivery>, bool), StoreError>>;
    /// How many deliveries one target has queued.
    fn count_deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// A page of a rule's (or one target's) dead letters after `after`, at
    /// most `limit` and about `max_bytes`; also whether more follow. A
    /// letter that cannot be decoded comes back as an error in its place.
    #[allow(clippy::too_many_arguments, reason = "a page query, spelled out")]
    fn dead_letter_page<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
        after: Option<&'a DeliveryKey>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(DeadLetterPage, bool), StoreError>>;
    /// How many dead letters one target has.
    fn count_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Deletes a rule's (or one target's) dead letters; returns how many.
    fn purge_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Deletes a target's queue and dead letters (the target was removed).
    fn delete_target_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Event traces.
pub trait Traces: Send + Sync {
    /// Every recorded step of event `seq` of a bus, in time order.
    fn trace(&self, bus: BusId, seq: Seq) -> BoxFuture<'_, Result<Vec<TraceStep>, StoreError>>;
}

/// A storage engine: all five interfaces, plus its own lifecycle.
pub trait Backend: BusLog + RuleProgress + DeliveryQueue + Traces + Catalogue {
    /// Whether the engine can take writes now (for `/readyz`).
    fn health(&self) -> Result<(), String>;
    /// Engine figures for `/metrics`: (name, help, value).
    fn engine_stats(&self) -> Vec<(&'static str, &'static str, u64)>;
    /// Whether this node runs the work named `key` (a rule, a source). A
    /// single-node engine runs everything; a cluster spreads it.
    fn owns(&self, key: &str) -> bool {
        let _ = key;
        true
    }
    /// In a cluster, the node that runs the work named `key`.
    fn owner(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
    /// The cluster engine, when this is one.
    fn cluster(&self) -> Option<&nats::NatsStore> {
        None
    }
    /// Stops background work and makes everything durable; writes after
    /// this fail with [`StoreError::Closed`].
    fn close(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// The handle to the state the host holds: cheap to clone; the engine's
/// operations through [`std::ops::Deref`] (with the traits in scope).
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    recorder: Arc<recorder::Recorder>,
}

impl Store {
    /// A handle to `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Store {
        Store {
            backend,
            recorder: Arc::default(),
        }
    }

    /// Queues `batch` to be committed soon, together with other recorded
    /// batches and after every one recorded before it, instead of writing
    /// it now (see [`recorder`]). For writes whose loss in a crash is
    /// harmless, such as successful deliveries. `then` runs once it is
    /// written (or failed to be). Needs a Tokio runtime.
    pub fn record(&self, batch: Batch, then: Option<recorder::Then>) -> recorder::Recorded {
        self.recorder.record(self, batch, then)
    }

    /// The embedded engine: RocksDB in `path` (see [`rocks`]). Blocking.
    pub fn open_rocks(path: &std::path::Path, options: StoreOptions) -> Result<Store, StoreError> {
        Ok(Store::new(Arc::new(RocksStore::open(path, options)?)))
    }

    /// The cluster engine: NATS JetStream (see [`nats`]).
    pub async fn open_nats(options: nats::ClusterOptions) -> Result<Store, StoreError> {
        Ok(Store::new(Arc::new(nats::NatsStore::open(options).await?)))
    }

    /// A new, empty batch.
    pub fn batch(&self) -> Batch {
        Batch::default()
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}
