//! The writer thread: group commit and sequence numbers.
//!
//! Every change to the event log goes through one thread. It blocks for a
//! command, then drains every append already waiting into the same
//! `WriteBatch` (up to [`MAX_GROUP_BYTES`]) and writes it once. While that
//! write (and, in `always` mode, its `fsync`) is in progress, new requests
//! queue up and form the next group, so the number of syncs per second stays
//! bounded however many producers there are, and each producer waits at most
//! about two sync times.
//!
//! Rule progress and delivery records are not sent here: the task that
//! commits them writes them itself (`queue.rs`), because handing them to a
//! thread costs a wake-up that, on a busy machine, is as long as a whole
//! delivery (measured in `docs/benchmarks.md`, "Delivery with default
//! settings, many rounds"). Successful deliveries, which nobody waits for,
//! are grouped on the runtime instead (`store::recorder`).
//!
//! Bus changes and retention trims go through the same thread so they are
//! ordered with appends: an append can never land in a bus after it was
//! deleted, and sequence numbers never repeat.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot, watch};

use super::recent_ids::{Keys, RecentIds, Table};
use super::{BusRecord, call, codec, columns, keys};
use crate::event::time::now_micros;
use crate::store::{Bus, BusConfig, BusId, Seq, StoreError};

/// Largest group committed in one write; bounds latency for the first
/// request in a group.
const MAX_GROUP_BYTES: usize = 8 << 20;

/// Commands queued before producers wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;

/// The events of one append, ready to write: per event its encoded value
/// and its `event_ids` key without the sequence number, all in one buffer.
///
/// Why one buffer: the request's thread builds it and the writer thread
/// frees it, and with a buffer per value and per key the allocator's
/// hand-back of those blocks between threads grew to several percent of
/// ingest (docs/benchmarks.md).
pub(super) struct Entries {
    buf: Vec<u8>,
    /// per event: where its value ends and where its id prefix ends in `buf`
    ends: Vec<(usize, usize)>,
    received_at: i64,
}

impl Entries {
    /// Room for `events` events of about `bytes` bytes in all.
    pub fn with_capacity(events: usize, bytes: usize, received_at: i64) -> Entries {
        Entries {
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(events),
            received_at,
        }
    }

    /// Adds an event: `value` writes its encoded value into the buffer,
    /// `id_prefix` its `event_ids` key prefix after it.
    pub fn push(&mut self, value: impl FnOnce(&mut Vec<u8>), id_prefix: impl FnOnce(&mut Vec<u8>)) {
        value(&mut self.buf);
        let value_end = self.buf.len();
        id_prefix(&mut self.buf);
        self.ends.push((value_end, self.buf.len()));
    }

    /// Each event's value and id prefix, in order.
    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.ends.iter().map(move |&(value_end, end)| {
            let item = (&self.buf[start..value_end], &self.buf[value_end..end]);
            start = end;
            item
        })
    }
}

enum Command {
    Append {
        bus: BusId,
        name: String,
        entries: Entries,
        reply: oneshot::Sender<Result<crate::store::Appended, StoreError>>,
    },
    PutBus {
        name: String,
        config: BusConfig,
        reply: oneshot::Sender<Result<(Arc<Bus>, bool), StoreError>>,
    },
    DeleteBus {
        name: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Trim {
        bus: BusId,
        upto: Seq,
        id_keys: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A `WriteBatch`'s own header: sequence number and count.
const BATCH_HEADER_BYTES: usize = 12;

/// What one event adds to a `WriteBatch` besides its value and id prefix:
/// the event key (12 bytes), the seq that ends the id key (8), and per
/// record a tag, a column family id and two lengths (up to 11 each).
const BATCH_BYTES_PER_EVENT: usize = 12 + 8 + 2 * 11;

/// The bytes appending `entries` adds to a `WriteBatch`.
fn batch_bytes(entries: &Entries) -> usize {
    entries.buf.len() + entries.ends.len() * BATCH_BYTES_PER_EVENT
}

/// The sending side, owned by the [`super::Store`].
pub(super) struct Handle {
    tx: RwLock<Option<mpsc::Sender<Command>>>,
    recent: Arc<RecentIds>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    syncer: std::sync::Mutex<Option<(JoinHandle<()>, std::sync::mpsc::Sender<()>)>>,
}

fn dedup_micros(config: &BusConfig) -> i64 {
    config.dedup_window_secs.map_or(0, |s| {
        i64::try_from(s)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
    })
}

/// Duplicate suppression's look-ups for one group of appends: the ids the
/// group has staged so far, then the event-id index.
///
/// The index is read through one RocksDB iterator for the whole group, made
/// when the group's first look-up needs it. Making an iterator (one child
/// per memtable and level-0 file) cost more than the search itself when
/// every event made its own (docs/benchmarks.md, "Duplicate suppression:
/// one iterator per group, and Bloom filters"). Reusing it is exact because
/// only this thread writes the index: nothing is added between the group's
/// start and its write, and what the group itself adds is in `staged`.
struct Duplicates<'a> {
    db: &'a DB,
    /// Where the buses' logs are ([`columns::log_column`]).
    laned_from: BusId,
    recent: &'a RecentIds,
    /// The sealed tables of [`RecentIds`] when the group started, taken
    /// before the iterator: an entry that leaves them is in the iterator.
    sealed: Vec<Arc<Table>>,
    it: Option<rocksdb::DBRawIteratorWithThreadMode<'a, DB>>,
    /// The id prefixes this group stores, with their seqs.
    staged: HashMap<Vec<u8>, Seq>,
}

impl<'a> Duplicates<'a> {
    fn new(db: &'a DB, recent: &'a RecentIds, laned_from: BusId) -> Duplicates<'a> {
        Duplicates {
            db,
            laned_from,
            recent,
            sealed: recent.sealed(),
            it: None,
            staged: HashMap::new(),
        }
    }

    /// The seq of the event this one repeats, if it is a duplicate: one
    /// with this `bus | id | source` prefix staged earlier in the group, or
    /// stored and received after `since` (µs).
    ///
    /// Stored events are looked for among the newest entries, in memory
    /// ([`RecentIds`]), then in [`keys::DEDUP_EPOCH`], where a bus with
    /// duplicate suppression puts its entries, and, if `legacy`, among the
    /// keys of the first format too.
    fn original(
        &mut self,
        bus: BusId,
        id_prefix: &[u8],
        since: i64,
        legacy: bool,
    ) -> Result<Option<Seq>, StoreError> {
        if let Some(seq) = self.staged.get(id_prefix) {
            return Ok(Some(*seq));
        }
        // The epoch key with a seq of 0, which parses as a whole key.
        let mut key = Vec::with_capacity(id_prefix.len() + 12);
        keys::push_epoch_key(&mut key, id_prefix, keys::DEDUP_EPOCH);
        key.extend_from_slice(&[0; 8]);
        if let Some((_, id, source, _)) = keys::split_epoch_event_id(&key) {
            let mut newest = None;
            self.recent
                .find_in(&self.sealed, bus, id, Some(source), |_, seq| {
                    newest = newest.max(Some(seq));
                });
            // The entries in memory are newer than any on disk: if the
            // newest copy is outside the window, so is every other.
            if let Some(seq) = newest {
                return self.received_since(bus, seq, since);
            }
        }
        key.truncate(key.len() - 8);
        match self.recent_original(bus, &key, since)? {
            // First-format keys are older than any epoch key.
            None if legacy => self.recent_original(bus, id_prefix, since),
            found => Ok(found),
        }
    }

    /// Notes that this group stores an event with this id prefix.
    fn stage(&mut self, id_prefix: &[u8], seq: Seq) {
        self.staged.insert(id_prefix.to_vec(), seq);
    }

    /// Forgets the ids staged on `bus` with seqs from `first` on: those of
    /// an append that is given up (the group's earlier appends on the bus
    /// have lower seqs). Id prefixes start with the bus id.
    fn unstage_from(&mut self, bus: BusId, first: Seq) {
        let bus = bus.to_be_bytes();
        self.staged
            .retain(|prefix, seq| *seq < first || !prefix.starts_with(&bus));
    }

    /// The seq of the newest stored event whose `event_ids` key starts with
    /// this identity (`id_prefix`, ending in the source) if it was received
    /// after `since` (µs).
    ///
    /// A forward seek to the prefix, staying within it, rather than one
    /// backwards from its end: going forwards, RocksDB asks every level's
    /// Bloom filter about the prefix; going backwards, a level whose file
    /// the filter rules out steps to the file before it and reads a block
    /// there. An identity has one entry, or a few when an event came back
    /// after the window.
    fn recent_original(
        &mut self,
        bus: BusId,
        id_prefix: &[u8],
        since: i64,
    ) -> Result<Option<Seq>, StoreError> {
        let db = self.db;
        let it = self.it.get_or_insert_with(|| {
            let mut opts = rocksdb::ReadOptions::default();
            opts.set_prefix_same_as_start(true);
            db.raw_iterator_cf_opt(
                db.cf_handle(columns::EVENT_IDS).expect("event_ids column"),
                opts,
            )
        });
        let mut newest = None;
        it.seek(id_prefix);
        while let Some(key) = it.key() {
            if key.len() != id_prefix.len() + 8 || !key.starts_with(id_prefix) {
                break;
            }
            newest = Some(Seq::from_be_bytes(
                key[id_prefix.len()..].try_into().expect("8 bytes"),
            ));
            it.next();
        }
        it.status()?;
        let Some(seq) = newest else { return Ok(None) };
        self.received_since(bus, seq, since)
    }

    /// `Some(seq)` if the event stored at `seq` was received after `since`.
    fn received_since(&self, bus: BusId, seq: Seq, since: i64) -> Result<Option<Seq>, StoreError> {
        let log = columns::log_column(bus, self.laned_from);
        let log_cf = self.db.cf_handle(log).expect("log lane");
        match self.db.get_pinned_cf(log_cf, keys::event(bus, seq))? {
            Some(v) if codec::event_received_at(&v)? >= since => Ok(Some(seq)),
            _ => Ok(None),
        }
    }
}

/// The epoch of the id entry of an event stored at `seq` on a bus with
/// (`dedup`) or without duplicate suppression.
fn entry_epoch(dedup: bool, seq: Seq) -> u32 {
    if dedup {
        keys::DEDUP_EPOCH
    } else {
        keys::id_epoch(seq)
    }
}

pub(super) fn floor_key(bus: BusId) -> Vec<u8> {
    let mut k = b"bus_floor/".to_vec();
    k.extend_from_slice(&bus.to_be_bytes());
    k
}

struct BusState {
    next: Seq,
    committed: watch::Sender<Seq>,
    /// Duplicate-suppression window in µs (0: off).
    dedup_us: i64,
    /// Whether the bus may hold `event_ids` keys of the first format
    /// (written by a release before the epochs), which duplicate checks
    /// then search too. Known at open; stays set until the next open.
    legacy_ids: bool,
}

/// Whether `cf` holds a key in `[from, to)`.
pub(super) fn any_key(
    db: &DB,
    cf: &rocksdb::ColumnFamily,
    from: &[u8],
    to: &[u8],
) -> Result<bool, StoreError> {
    let mut opts = rocksdb::ReadOptions::default();
    opts.set_iterate_upper_bound(to.to_vec());
    opts.set_total_order_seek(true);
    let mut it = db.raw_iterator_cf_opt(cf, opts);
    it.seek(from);
    let found = it.valid();
    it.status()?;
    Ok(found)
}

/// Whether a bus has `event_ids` keys of the first format.
pub(super) fn has_legacy_ids(db: &DB, bus: BusId) -> Result<bool, StoreError> {
    let cf = db.cf_handle(columns::EVENT_IDS).expect("event_ids column");
    any_key(db, cf, &keys::bus_start(bus), &keys::epoch_start(bus, 0))
}

struct Writer {
    db: Arc<DB>,
    recent: Arc<RecentIds>,
    buses: Arc<RwLock<HashMap<String, Arc<Bus>>>>,
    state: HashMap<BusId, BusState>,
    next_bus_id: BusId,
    /// The first bus whose log has a lane of its own
    /// ([`columns::log_column`]).
    laned_from: BusId,
    write_opts: WriteOptions,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn start(
    db: Arc<DB>,
    recent: Arc<RecentIds>,
    buses: Arc<RwLock<HashMap<String, Arc<Bus>>>>,
    records: Vec<(BusRecord, Seq)>,
    next_bus_id: BusId,
    laned_from: BusId,
    sync: super::SyncMode,
    sync_interval: Duration,
    default_bus: (&str, BusConfig),
) -> Result<Handle, StoreError> {
    let mut write_opts = WriteOptions::default();
    write_opts.set_sync(sync == super::SyncMode::Always);
    let mut writer = Writer {
        db: db.clone(),
        recent: recent.clone(),
        buses,
        state: HashMap::new(),
        next_bus_id,
        laned_from,
        write_opts,
    };
    for (record, last) in records {
        writer.install(record, last)?;
    }
    let exists = writer
        .buses
        .read()
        .expect("bus map poisoned")
        .contains_key(default_bus.0);
    if !exists {
        writer.put_bus(default_bus.0.to_owned(), default_bus.1)?;
    }
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let thread = std::thread::Builder::new()
        .name("signalbox-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| StoreError::Open {
            path: db.path().to_owned(),
            reason: format!("cannot start the writer thread: {e}"),
        })?;
    let syncer = (sync == super::SyncMode::Batch).then(|| {
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let db = db.clone();
        let t = std::thread::Builder::new()
            .name("signalbox-wal-sync".into())
            .spawn(move || {
                // `recv_timeout` doubles as the sleep and the stop signal.
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(sync_interval)
                {
                    if let Err(error) = db.flush_wal(true) {
                        tracing::error!(%error, "Syncing the write-ahead log failed.");
                    }
                }
            })
            .expect("spawn the WAL sync thread");
        (t, stop_tx)
    });
    Ok(Handle {
        tx: RwLock::new(Some(tx)),
        recent,
        thread: std::sync::Mutex::new(Some(thread)),
        syncer: std::sync::Mutex::new(syncer),
    })
}

impl Handle {
    fn sender(&self) -> Result<mpsc::Sender<Command>, StoreError> {
        self.tx
            .read()
            .expect("writer handle poisoned")
            .clone()
            .ok_or(StoreError::Closed)
    }

    pub(super) async fn append(
        &self,
        bus: BusId,
        name: &str,
        entries: Entries,
    ) -> Result<crate::store::Appended, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Command::Append {
                bus,
                name: name.to_owned(),
                entries,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        call(rx).await
    }

    pub(super) async fn put_bus(
        &self,
        name: String,
        config: BusConfig,
    ) -> Result<(Arc<Bus>, bool), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Command::PutBus {
                name,
                config,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        call(rx).await
    }

    pub(super) async fn delete_bus(&self, name: String) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Command::DeleteBus { name, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        call(rx).await
    }

    pub(super) async fn trim(
        &self,
        bus: BusId,
        upto: Seq,
        id_keys: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Command::Trim {
                bus,
                upto,
                id_keys,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        call(rx).await
    }

    /// Whether the writer thread is alive and accepting commands.
    pub(super) fn running(&self) -> bool {
        self.tx.read().expect("writer handle poisoned").is_some()
            && self
                .thread
                .lock()
                .expect("writer thread poisoned")
                .as_ref()
                .is_some_and(|t| !t.is_finished())
    }

    /// Stops accepting commands, lets the writer finish what is queued and
    /// waits for it. Idempotent.
    pub(super) fn shutdown(&self) {
        self.tx.write().expect("writer handle poisoned").take();
        if let Some(t) = self.thread.lock().expect("writer thread poisoned").take() {
            let _ = t.join();
        }
        // The writer closed it as it stopped: this waits for the last
        // tables to reach the index.
        self.recent.close();
        self.recent.join();
        if let Some((t, stop)) = self.syncer.lock().expect("syncer poisoned").take() {
            drop(stop);
            let _ = t.join();
        }
    }
}

/// What a group of appends writes.
struct Staged {
    /// The events, in one batch.
    batch: WriteBatch,
    /// Their id entries, for [`RecentIds`] once the batch is written.
    ids: Keys,
    /// Per append, its bus and the seq the bus returns to if the write
    /// fails.
    rollback: Vec<(BusId, Seq)>,
}

type AppendReply = (
    oneshot::Sender<Result<crate::store::Appended, StoreError>>,
    Result<crate::store::Appended, StoreError>,
);

impl Writer {
    fn install(&mut self, record: BusRecord, last: Seq) -> Result<(), StoreError> {
        self.rebuild_recent_ids(record.id, last, dedup_micros(&record.config) > 0)?;
        let (tx, rx) = watch::channel(last);
        // A new bus has no keys; if the check fails, searching them costs
        // one more seek per checked event, while skipping them could miss a
        // duplicate.
        let legacy_ids = last > 0 && has_legacy_ids(&self.db, record.id).unwrap_or(true);
        self.state.insert(
            record.id,
            BusState {
                next: last + 1,
                committed: tx,
                dedup_us: dedup_micros(&record.config),
                legacy_ids,
            },
        );
        let bus = Arc::new(Bus::new(
            record.name.clone(),
            record.id,
            record.created_at,
            record.updated_at,
            record.config,
            rx,
        ));
        self.buses
            .write()
            .expect("bus map poisoned")
            .insert(record.name, bus);
        Ok(())
    }

    /// Whether the index on disk has the entry of the bus's event at `last`
    /// in any place it can be: then it has every entry before it too,
    /// since tables reach the index in order and releases before them
    /// wrote each entry with its event.
    fn newest_is_indexed(&self, bus: BusId, last: Seq) -> Result<bool, StoreError> {
        let Some(value) = self.db.get_cf(self.log_cf(bus), keys::event(bus, last))? else {
            return Ok(false);
        };
        let (id, source) = codec::event_id_and_source(&value)?;
        let ids_cf = self.cf(columns::EVENT_IDS);
        for key in [
            keys::event_id(bus, id, source, last),
            keys::epoch_event_id(bus, keys::DEDUP_EPOCH, id, source, last),
            keys::epoch_event_id(bus, keys::id_epoch(last), id, source, last),
        ] {
            if self.db.get_cf(ids_cf, key)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Makes again the id entries of the bus's events the index on disk
    /// does not have yet (those after its `ids_done` mark, which a crash
    /// left in memory only), as [`RecentIds`] entries. A bus without the
    /// mark was written by a release that indexed every event as it
    /// stored it, or has just been created: it gets the mark at `last`.
    fn rebuild_recent_ids(&self, bus: BusId, last: Seq, dedup: bool) -> Result<(), StoreError> {
        let meta = self.cf(columns::META);
        let done_key = super::recent_ids::done_key(bus);
        let read = |key: &[u8]| -> Result<Option<Seq>, StoreError> {
            Ok(self
                .db
                .get_cf(meta, key)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                .map(Seq::from_be_bytes))
        };
        let Some(done) = read(&done_key)? else {
            self.db.put_cf(meta, &done_key, last.to_be_bytes())?;
            return Ok(());
        };
        let from = done.max(read(&floor_key(bus))?.unwrap_or(0)) + 1;
        if from > last {
            return Ok(());
        }
        if self.newest_is_indexed(bus, last)? {
            // An earlier release, run on this folder after this one, wrote
            // every entry with its event and left the mark behind.
            self.db.put_cf(meta, &done_key, last.to_be_bytes())?;
            return Ok(());
        }
        let mut opts = rocksdb::ReadOptions::default();
        opts.set_iterate_upper_bound(keys::bus_end(bus).to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.log_cf(bus), opts);
        it.seek(keys::event(bus, from));
        let mut rebuilt = 0u64;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let (_, seq) = keys::decode_event(k).ok_or(codec::DecodeError("bad event key"))?;
            let (id, source) = codec::event_id_and_source(v)?;
            let key = keys::epoch_event_id(bus, entry_epoch(dedup, seq), id, source, seq);
            self.recent.add_one(&key);
            rebuilt += 1;
            it.next();
        }
        it.status()?;
        tracing::info!(
            bus,
            rebuilt,
            "Made the newest event-id entries again from the log."
        );
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("known column family")
    }

    /// The column family holding the log of `bus`.
    fn log_cf(&self, bus: BusId) -> &rocksdb::ColumnFamily {
        self.cf(columns::log_column(bus, self.laned_from))
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut stashed: Option<Command> = None;
        loop {
            let Some(first) = stashed.take().or_else(|| rx.blocking_recv()) else {
                self.recent.close();
                return;
            };
            let Command::Append { .. } = first else {
                self.apply(first);
                continue;
            };
            // Group commit: take every append that is already waiting, then
            // stage them into one batch sized for all of them (a batch that
            // grows copies itself each time it doubles: 2% of ingest).
            let mut group = Vec::new();
            let mut pending = 0;
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Append {
                        bus,
                        name,
                        entries,
                        reply,
                    } => {
                        pending += batch_bytes(&entries);
                        group.push((bus, name, entries, reply));
                    }
                    other => {
                        stashed = Some(other);
                        break;
                    }
                }
                if pending < MAX_GROUP_BYTES {
                    next = rx.try_recv().ok();
                }
            }
            let mut staged = Staged {
                batch: WriteBatch::with_capacity_bytes(pending + BATCH_HEADER_BYTES),
                ids: Keys::default(),
                rollback: Vec::new(),
            };
            let mut replies: Vec<AppendReply> = Vec::with_capacity(group.len());
            let mut touched: Vec<BusId> = Vec::new();
            let db = self.db.clone();
            let recent = self.recent.clone();
            let mut duplicates = Duplicates::new(&db, &recent, self.laned_from);
            for (bus, name, entries, reply) in group {
                let result = self.stage(bus, &name, entries, &mut staged, &mut duplicates);
                if result.is_ok() && !touched.contains(&bus) {
                    touched.push(bus);
                }
                replies.push((reply, result));
            }
            // Its iterator's hold on the memtables ends here.
            drop(duplicates);
            let Staged {
                batch,
                ids,
                rollback,
            } = staged;
            let outcome = if batch.is_empty() {
                Ok(())
            } else {
                self.db.write_opt(batch, &self.write_opts)
            };
            match outcome {
                Ok(()) => {
                    self.recent.add(&ids);
                    for bus in touched {
                        if let Some(s) = self.state.get(&bus) {
                            s.committed.send_replace(s.next - 1);
                        }
                    }
                    for (reply, result) in replies {
                        let _ = reply.send(result);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "Writing to the event log failed.");
                    // Undo sequence numbers handed out to the failed group,
                    // newest first so each bus returns to its first value.
                    for (bus, next) in rollback.into_iter().rev() {
                        if let Some(s) = self.state.get_mut(&bus) {
                            s.next = next;
                        }
                    }
                    for (reply, result) in replies {
                        let _ = reply.send(result.and(Err(StoreError::Rocks(e.clone()))));
                    }
                }
            }
        }
    }

    /// Adds one append to the group; returns what was stored. `dups`
    /// knows the ids already in this group, so duplicates inside one group
    /// are caught before they reach the database.
    fn stage(
        &mut self,
        bus: BusId,
        name: &str,
        entries: Entries,
        staged: &mut Staged,
        dups: &mut Duplicates<'_>,
    ) -> Result<crate::store::Appended, StoreError> {
        let log = columns::log_column(bus, self.laned_from);
        let events_cf = self.db.cf_handle(log).expect("log lane");
        let Some(state) = self.state.get_mut(&bus) else {
            return Err(StoreError::BusNotFound(name.to_owned()));
        };
        staged.rollback.push((bus, state.next));
        let first = state.next;
        let dedup_us = state.dedup_us;
        let legacy = state.legacy_ids;
        let mut duplicates = Vec::new();
        if dedup_us > 0 {
            // Every look-up first, so that one failing leaves nothing of
            // this append in the group's batch: the producer is told it
            // failed, and none of it is stored.
            let mut next = first;
            for (i, (_, id_prefix)) in entries.iter().enumerate() {
                match dups.original(bus, id_prefix, entries.received_at - dedup_us, legacy) {
                    Ok(Some(seq)) => duplicates.push((i, seq)),
                    Ok(None) => {
                        dups.stage(id_prefix, next);
                        next += 1;
                    }
                    Err(e) => {
                        dups.unstage_from(bus, first);
                        return Err(e);
                    }
                }
            }
        }
        let state = self.state.get_mut(&bus).expect("checked above");
        let mut dup = duplicates.iter().map(|(i, _)| *i).peekable();
        for (i, (value, id_prefix)) in entries.iter().enumerate() {
            if dup.next_if_eq(&i).is_some() {
                continue;
            }
            let seq = state.next;
            state.next += 1;
            staged.batch.put_cf(events_cf, keys::event(bus, seq), value);
            let epoch = entry_epoch(dedup_us > 0, seq);
            // The entry goes to memory once the batch is written, and to
            // the index with its table (`recent_ids`).
            staged.ids.push(|key| {
                keys::push_epoch_key(key, id_prefix, epoch);
                key.extend_from_slice(&seq.to_be_bytes());
            });
        }
        Ok(crate::store::Appended {
            first,
            duplicates,
            exact: None,
        })
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Append { .. } => unreachable!("appends are grouped by run"),
            Command::PutBus {
                name,
                config,
                reply,
            } => {
                let _ = reply.send(self.put_bus(name, config));
            }
            Command::DeleteBus { name, reply } => {
                let _ = reply.send(self.delete_bus(&name));
            }
            Command::Trim {
                bus,
                upto,
                id_keys,
                reply,
            } => {
                let _ = reply.send(self.trim(bus, upto, id_keys));
            }
        }
    }

    fn put_bus(&mut self, name: String, config: BusConfig) -> Result<(Arc<Bus>, bool), StoreError> {
        let existing = self
            .buses
            .read()
            .expect("bus map poisoned")
            .get(&name)
            .cloned();
        let now = now_micros();
        let mut batch = WriteBatch::default();
        let record = match &existing {
            Some(bus) => BusRecord {
                v: 1,
                id: bus.id,
                name: name.clone(),
                created_at: bus.created_at,
                updated_at: now,
                config,
            },
            None => {
                let id = self.next_bus_id;
                self.next_bus_id += 1;
                batch.put_cf(
                    self.cf(columns::META),
                    b"next_bus_id",
                    self.next_bus_id.to_be_bytes(),
                );
                // Every entry of the new bus is still to be written.
                batch.put_cf(
                    self.cf(columns::META),
                    super::recent_ids::done_key(id),
                    0u64.to_be_bytes(),
                );
                BusRecord {
                    v: 1,
                    id,
                    name: name.clone(),
                    created_at: now,
                    updated_at: now,
                    config,
                }
            }
        };
        let json = serde_json::to_vec(&record).expect("bus records serialize");
        batch.put_cf(self.cf(columns::BUSES), name.as_bytes(), json);
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        match existing {
            Some(old) => {
                if let Some(s) = self.state.get_mut(&record.id) {
                    s.dedup_us = dedup_micros(&record.config);
                }
                let bus = Arc::new(Bus::new(
                    record.name.clone(),
                    record.id,
                    record.created_at,
                    record.updated_at,
                    record.config,
                    old.subscribe(),
                ));
                self.buses
                    .write()
                    .expect("bus map poisoned")
                    .insert(name, bus.clone());
                Ok((bus, false))
            }
            None => {
                self.install(record, 0)?;
                let bus = self.buses.read().expect("bus map poisoned")[&name].clone();
                Ok((bus, true))
            }
        }
    }

    fn delete_bus(&mut self, name: &str) -> Result<bool, StoreError> {
        let Some(bus) = self
            .buses
            .read()
            .expect("bus map poisoned")
            .get(name)
            .cloned()
        else {
            return Ok(false);
        };
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(columns::BUSES), name.as_bytes());
        batch.delete_cf(self.cf(columns::META), floor_key(bus.id));
        batch.delete_cf(self.cf(columns::META), super::recent_ids::done_key(bus.id));
        // Every per-bus column is keyed by bus id first.
        for cf in [
            columns::log_column(bus.id, self.laned_from),
            columns::EVENT_IDS,
            columns::RULES,
            columns::CURSORS,
            columns::DELIVERIES,
            columns::DEAD_LETTERS,
            columns::TRACES,
            columns::SCHEMAS,
            columns::REPLAYS,
            columns::SOURCES,
        ] {
            batch.delete_range_cf(self.cf(cf), keys::bus_start(bus.id), keys::bus_end(bus.id));
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        // No entry of the bus may reach the index after this.
        self.recent.exclusive(|floors| {
            floors.insert(bus.id, Seq::MAX);
            self.db.write_opt(batch, &opts)
        })?;
        self.state.remove(&bus.id);
        self.buses.write().expect("bus map poisoned").remove(name);
        Ok(true)
    }

    fn trim(&mut self, bus: BusId, upto: Seq, id_keys: Vec<Vec<u8>>) -> Result<(), StoreError> {
        if !self.state.contains_key(&bus) {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.log_cf(bus),
            keys::event(bus, 0),
            keys::event(bus, upto + 1),
        );
        // Traces are keyed `bus | seq | …`, so event keys bound them too.
        batch.delete_range_cf(
            self.cf(columns::TRACES),
            keys::event(bus, 0),
            keys::event(bus, upto + 1),
        );
        let ids_cf = self.cf(columns::EVENT_IDS);
        for k in &id_keys {
            batch.delete_cf(ids_cf, k);
        }
        // The epochs this trim finishes (every event deleted), in one range:
        // from the one holding the first event left by the last trim to
        // the one holding the first event this trim leaves. The entries of
        // a partly deleted epoch stay until it is finished; look-ups skip
        // them, as they point below the bus's oldest event.
        let floor = self
            .db
            .get_cf(self.cf(columns::META), floor_key(bus))?
            .and_then(|v| v.as_slice().try_into().ok().map(Seq::from_be_bytes))
            .unwrap_or(0);
        let (from, to) = (
            keys::id_epoch(floor.saturating_add(1)),
            keys::id_epoch(upto.saturating_add(1)),
        );
        if to > from {
            batch.delete_range_cf(
                ids_cf,
                keys::epoch_start(bus, from),
                keys::epoch_start(bus, to),
            );
        }
        batch.put_cf(self.cf(columns::META), floor_key(bus), upto.to_be_bytes());
        // Entries of the deleted events that are still in memory must not
        // reach the index after this write: they would land in epochs it
        // has already dropped.
        self.recent.exclusive(|floors| {
            let floor = floors.entry(bus).or_default();
            *floor = (*floor).max(upto);
            self.db.write_opt(batch, &self.write_opts)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Giving up an append forgets only its own staged ids: not those of
    /// the group's earlier appends on the bus, nor another bus's with the
    /// same seqs.
    #[test]
    fn an_append_given_up_unstages_only_its_own_ids() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(DB::open_default(dir.path().join("db")).unwrap());
        let recent = RecentIds::start(db.clone(), dir.path().join("ids")).unwrap();
        let mut dups = Duplicates::new(&db, &recent, 0);
        let prefix = |bus: BusId, id: &str| keys::event_id_prefix(bus, id, Some("/s"));
        dups.stage(&prefix(1, "earlier"), 4);
        dups.stage(&prefix(1, "given-up-a"), 5);
        dups.stage(&prefix(1, "given-up-b"), 6);
        dups.stage(&prefix(2, "other-bus"), 5);
        dups.unstage_from(1, 5);
        let mut left: Vec<(Vec<u8>, Seq)> = dups.staged.into_iter().collect();
        left.sort();
        assert_eq!(
            left,
            vec![(prefix(1, "earlier"), 4), (prefix(2, "other-bus"), 5)]
        );
        recent.close();
        recent.join();
    }

    #[test]
    fn entries_give_back_each_value_and_id_prefix() {
        let mut e = Entries::with_capacity(3, 4, 7);
        for (value, prefix) in [(&b"first"[..], &b"p1"[..]), (b"", b"p2"), (b"third", b"")] {
            e.push(
                |out| out.extend_from_slice(value),
                |out| out.extend_from_slice(prefix),
            );
        }
        let got: Vec<_> = e.iter().collect();
        assert_eq!(
            got,
            vec![
                (&b"first"[..], &b"p1"[..]),
                (&b""[..], &b"p2"[..]),
                (&b"third"[..], &b""[..])
            ]
        );
        assert_eq!(
            batch_bytes(&e),
            "firstp1p2third".len() + 3 * BATCH_BYTES_PER_EVENT
        );
    }
}
