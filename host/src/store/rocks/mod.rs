//! The embedded engine: every interface of [`crate::store`] on one RocksDB
//! in the data folder.
//!
//! It holds the **bus log** — per bus, an append-only sequence of events
//! numbered 1, 2, 3, … — and, in other column families, everything else that
//! must survive a restart (see [`columns`] and `docs/storage.md`).
//!
//! # Durability
//!
//! [`RocksStore::append`] resolves only once its events are in RocksDB's
//! write-ahead log. All log writes go through one writer thread that takes
//! every request waiting at that moment and commits them as a single
//! `WriteBatch` (group commit), so concurrent producers share one WAL write,
//! and, in [`SyncMode::Always`], one `fsync`. The writer also assigns
//! sequence numbers, which is what keeps them gap-free and in commit order.
//!
//! The RocksDB handle never leaves this module.

mod backend;
mod catalogue;
pub mod codec;
pub mod columns;
pub mod keys;
mod queue;
mod recent_ids;
mod retention;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rocksdb::{ColumnFamilyDescriptor, DB, Direction, IteratorMode, ReadOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use super::{
    Appended, Bus, BusConfig, BusId, DEFAULT_BUS, Lookup, READ_BYTES, Seq, StoreError, StoredEvent,
};
use crate::event::CloudEvent;
pub use codec::DecodeError;
pub(crate) use queue::{decode_delivery_inline, encode_delivery_inline};

/// The folder, inside the data folder, where the index thread writes the
/// files of newest event-id entries before RocksDB takes them
/// ([`recent_ids`]).
const ID_INGEST_DIR: &str = "id-index-ingest";

/// What every memtable together may hold (RocksDB's write buffer manager).
const MEMTABLE_BUDGET: usize = 1 << 30;

/// The `meta` key of the first bus id whose log has a lane of its own
/// ([`columns::log_column`]).
const LANES_FROM_KEY: &[u8] = b"log_lanes_from";

/// How hard an acknowledged write is pushed towards the disk.
///
/// Every mode writes the WAL before an append resolves, so an acknowledged
/// event survives the Signalbox process being killed (`kill -9`, OOM, panic).
/// The modes differ in what survives the *machine* losing power or the kernel
/// crashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// `fsync` the WAL before acknowledging. Concurrent requests share one
    /// `fsync` (group commit). Survives power loss.
    Always,
    /// Acknowledge once the WAL is written; a background thread `fsync`s it
    /// every `sync_interval` (default 50 ms). Power loss can lose at most the
    /// last interval of acknowledged events. The default.
    #[default]
    Batch,
    /// Acknowledge once the WAL is written; never `fsync` explicitly and let
    /// the operating system write back (typically within 30 s).
    Os,
}

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Durability of acknowledged writes.
    pub sync: SyncMode,
    /// WAL `fsync` period in [`SyncMode::Batch`].
    pub sync_interval: Duration,
    /// Retention of the `default` bus and of buses created without one.
    pub default_retention: Duration,
    /// How often retention looks for expired events.
    pub retention_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync: SyncMode::Batch,
            sync_interval: Duration::from_millis(50),
            default_retention: Duration::from_secs(7 * 24 * 3600),
            retention_interval: Duration::from_secs(60),
        }
    }
}

/// A bus as stored in the `buses` column family.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BusRecord {
    v: u8,
    id: BusId,
    name: String,
    created_at: i64,
    updated_at: i64,
    config: BusConfig,
}

/// The open RocksDB store. Cheap to clone.
#[derive(Clone)]
pub struct RocksStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<DB>,
    recent: Arc<recent_ids::RecentIds>,
    buses: Arc<RwLock<HashMap<String, Arc<Bus>>>>,
    writer: writer::Handle,
    options: StoreOptions,
    path: PathBuf,
    /// The first bus whose log has a lane of its own
    /// ([`columns::log_column`]).
    laned_from: BusId,
}

impl RocksStore {
    /// Opens (creating if needed) the database in `path` and starts the
    /// writer. Must be called outside an async context or in
    /// `spawn_blocking`: opening may replay the WAL.
    pub fn open(path: &Path, options: StoreOptions) -> Result<RocksStore, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| StoreError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut db_opts = rocksdb::Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        // RocksDB gives a quarter of its background jobs to flushes, so
        // eight jobs means two flushes at once. With one flush thread,
        // LZ4-compressing the log's memtables was the ceiling of batch
        // ingest: writes stalled on full memtables about once a second, held
        // to 16 MiB/s until the flush finished. Two flushes took batch ingest
        // up by about a tenth and removed the stalls (docs/benchmarks.md,
        // "Two flushes at once, again"). Compactions stay at one at a time
        // unless they fall behind (too many level-0 files, or writes
        // stalling); only then does RocksDB run more of them in parallel.
        db_opts.set_max_background_jobs(8);
        db_opts.set_enable_pipelined_write(true);
        db_opts.set_bytes_per_sync(1 << 20);
        // Flushes and compactions write around the page cache. Through it,
        // the kernel's copy of every flushed byte grew to 30% of the
        // server's CPU once a few GiB had gone by, and batch ingest fell by
        // a quarter to a third from the second 10-second round on one server
        // (docs/benchmarks.md, "Flushes around the page cache"). Reads stay
        // buffered. RocksDB fails the flush, and then every write, if a
        // direct open fails, so this is only asked for where a probe works.
        let direct = supports_direct_io(path);
        tracing::debug!(direct, "Direct I/O for flushes and compactions.");
        db_opts.set_use_direct_io_for_flush_and_compaction(direct);
        db_opts.set_keep_log_file_num(5);
        db_opts.set_max_total_wal_size(512 << 20);

        // One budget for every memtable: each of the log's 64 lanes could
        // otherwise hold 256 MiB. Past it RocksDB flushes the oldest
        // memtable early rather than holding writes back.
        let memtables =
            rocksdb::WriteBufferManager::new_write_buffer_manager(MEMTABLE_BUDGET, false);
        db_opts.set_write_buffer_manager(&memtables);

        let mut names: Vec<String> = columns::names().map(str::to_owned).collect();
        if let Ok(existing) = DB::list_cf(&db_opts, path) {
            for name in existing {
                if name != "default" && !names.contains(&name) {
                    tracing::warn!(column = %name, "Opening a column family this version does not know.");
                    names.push(name);
                }
            }
        }
        let descriptors = names
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(name, columns::options(columns::kind(name))));
        let db = Arc::new(DB::open_cf_descriptors(&db_opts, path, descriptors)?);

        let Loaded {
            records,
            next_bus_id,
            laned_from,
        } = load_buses(&db)?;
        let buses = Arc::new(RwLock::new(HashMap::new()));
        let recent = recent_ids::RecentIds::start(db.clone(), path.join(ID_INGEST_DIR))?;
        let writer = writer::start(
            db.clone(),
            recent.clone(),
            buses.clone(),
            records,
            next_bus_id,
            laned_from,
            options.sync,
            options.sync_interval,
            (
                DEFAULT_BUS,
                BusConfig {
                    description: "The bus that always exists.".into(),
                    retention_secs: options.default_retention.as_secs(),
                    ..BusConfig::default()
                },
            ),
        )?;
        catalogue::migrate(&db)?;
        let store = RocksStore {
            inner: Arc::new(Inner {
                db,
                recent,
                buses,
                writer,
                options,
                path: path.to_owned(),
                laned_from,
            }),
        };
        Ok(store)
    }

    /// The data folder.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// A bus by name.
    pub fn bus(&self, name: &str) -> Option<Arc<Bus>> {
        self.inner
            .buses
            .read()
            .expect("bus map poisoned")
            .get(name)
            .cloned()
    }

    /// All buses, sorted by name.
    pub fn buses(&self) -> Vec<Arc<Bus>> {
        let mut v: Vec<_> = self
            .inner
            .buses
            .read()
            .expect("bus map poisoned")
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Creates a bus or replaces its settings. Returns the bus and whether
    /// it was created.
    pub async fn put_bus(
        &self,
        name: &str,
        config: BusConfig,
    ) -> Result<(Arc<Bus>, bool), StoreError> {
        self.inner.writer.put_bus(name.to_owned(), config).await
    }

    /// Deletes a bus and everything stored under it. Returns false if it did
    /// not exist.
    pub async fn delete_bus(&self, name: &str) -> Result<bool, StoreError> {
        if name == DEFAULT_BUS {
            return Err(StoreError::ProtectedBus);
        }
        self.inner.writer.delete_bus(name.to_owned()).await
    }

    /// Appends events to a bus. Resolves once they are durable (per the sync
    /// mode) with the sequence number of the first; the rest follow
    /// consecutively.
    pub async fn append(
        &self,
        bus: &Bus,
        events: &[CloudEvent],
        received_at: i64,
    ) -> Result<Appended, StoreError> {
        // `encode_event` asks for the event's size and 32 bytes more; 64
        // leaves room for its framing, so the buffer is allocated once.
        let bytes = events
            .iter()
            .map(|e| e.size() + 64 + keys::event_id_prefix_len(&e.id, Some(&e.source)))
            .sum();
        let mut entries = writer::Entries::with_capacity(events.len(), bytes, received_at);
        for e in events {
            entries.push(
                |out| codec::encode_event(e, received_at, out),
                |out| keys::push_event_id_prefix(out, bus.id, &e.id, Some(&e.source)),
            );
        }
        self.inner.writer.append(bus.id, &bus.name, entries).await
    }

    /// Reads up to `limit` events with sequence numbers greater than `after`,
    /// and stops early once the events read hold [`READ_BYTES`] (a page of
    /// large events stays a few MiB however large `limit` is; callers go on
    /// from the last seq). Blocking: call from a blocking context for large
    /// reads.
    pub fn read_blocking(
        &self,
        bus: &Bus,
        after: Seq,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let cf = self.log_cf(bus.id);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::bus_end(bus.id).to_vec());
        let start = keys::event(bus.id, after.saturating_add(1));
        let iter =
            self.inner
                .db
                .iterator_cf_opt(cf, opts, IteratorMode::From(&start, Direction::Forward));
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut bytes = 0;
        for item in iter.take(limit) {
            if bytes >= READ_BYTES {
                break;
            }
            let (k, v) = item?;
            bytes += v.len();
            let (_, seq) = keys::decode_event(&k).ok_or(DecodeError("bad event key"))?;
            let (event, received_at) = codec::decode_event(&v)?;
            out.push(StoredEvent {
                seq,
                received_at,
                event,
            });
        }
        Ok(out)
    }

    /// The lowest sequence number still stored, if any.
    pub fn first_seq_blocking(&self, bus: &Bus) -> Result<Option<Seq>, StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::bus_end(bus.id).to_vec());
        let mut iter = self.inner.db.iterator_cf_opt(
            self.log_cf(bus.id),
            opts,
            IteratorMode::From(&keys::bus_start(bus.id), Direction::Forward),
        );
        match iter.next() {
            Some(item) => {
                let (k, _) = item?;
                Ok(keys::decode_event(&k).map(|(_, s)| s))
            }
            None => Ok(None),
        }
    }

    /// About how many bytes of flushed SST files the bus's events take.
    pub fn log_bytes_blocking(&self, bus: &Bus) -> u64 {
        let (start, end) = (keys::bus_start(bus.id), keys::bus_end(bus.id));
        self.inner
            .db
            .get_approximate_sizes_cf(self.log_cf(bus.id), &[rocksdb::Range::new(&start, &end)])
            .first()
            .copied()
            .unwrap_or(0)
    }

    /// The first seq received at or after `at` (µs since the epoch), or one
    /// past the head if none was: a binary search over the log, since
    /// seqs are assigned in receive order.
    pub fn seq_at_time_blocking(&self, bus: &Bus, at: i64) -> Result<Seq, StoreError> {
        let Some(mut lo) = self.first_seq_blocking(bus)? else {
            return Ok(bus.last_seq() + 1);
        };
        let mut hi = bus.last_seq() + 1;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = self
                .read_blocking(bus, mid - 1, 1)?
                .first()
                .map_or(i64::MAX, |e| e.received_at);
            if t < at {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Looks an event up by id, optionally narrowed to one source.
    ///
    /// The newest entries are in memory ([`recent_ids`]) and are searched
    /// first. The `event_ids` index is then searched in the places an entry
    /// can be ([`keys::epoch_id_prefix`]): the keys of the first format, the
    /// epoch of buses with duplicate suppression, then the bus's seq epochs
    /// from the newest to the one of its oldest stored event, one seek each.
    /// With a source, the search stops at the first place that has the
    /// event, which holds its newest copy; by id alone it visits every
    /// epoch, to find every source that used the id.
    pub fn get_by_id_blocking(
        &self,
        bus: &Bus,
        id: &str,
        source: Option<&str>,
    ) -> Result<Lookup, StoreError> {
        let Some(first) = self.first_seq_blocking(bus)? else {
            return Ok(Lookup::NotFound);
        };
        // (source, seq) of every entry found; entries below `first` belong
        // to deleted events of an epoch retention has not finished.
        let mut found: Vec<(String, Seq)> = Vec::new();
        // Before the iterator is made: an entry that leaves memory after
        // this search is on disk by then (`recent_ids`).
        self.inner.recent.find(
            bus.id,
            id.as_bytes(),
            source.map(str::as_bytes),
            |src, seq| {
                if seq >= first {
                    found.push((String::from_utf8_lossy(src).into_owned(), seq));
                }
            },
        );
        let in_memory = !found.is_empty();
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(keys::bus_end(bus.id).to_vec());
        // The index's Bloom filters know whole identities (id and source):
        // a look-up by id alone must not let them skip any file. With a
        // source, each seek stays within its own identity.
        if source.is_none() {
            opts.set_total_order_seek(true);
        } else {
            opts.set_prefix_same_as_start(true);
        }
        let mut it = self
            .inner
            .db
            .raw_iterator_cf_opt(self.cf(columns::EVENT_IDS), opts);
        let mut search =
            |prefix: &[u8], found: &mut Vec<(String, Seq)>| -> Result<bool, StoreError> {
                let before = found.len();
                it.seek(prefix);
                while let Some(k) = it.key() {
                    if !k.starts_with(prefix) {
                        break;
                    }
                    if let Some((src, seq)) = keys::decode_event_id(k)
                        && seq >= first
                    {
                        found.push((src, seq));
                    }
                    it.next();
                }
                it.status()?;
                Ok(found.len() > before)
            };
        // With a source, an entry in memory is the newest copy: nothing on
        // disk is newer. Seq epochs hold ever newer events: the first that
        // has the event holds its newest copy.
        if !(in_memory && source.is_some()) {
            search(&keys::event_id_prefix(bus.id, id, source), &mut found)?;
            search(
                &keys::epoch_id_prefix(bus.id, keys::DEDUP_EPOCH, id, source),
                &mut found,
            )?;
            let newest = keys::id_epoch(bus.last_seq().max(first));
            for epoch in (keys::id_epoch(first)..=newest).rev() {
                let hit = search(
                    &keys::epoch_id_prefix(bus.id, epoch, id, source),
                    &mut found,
                )?;
                if hit && source.is_some() {
                    break;
                }
            }
        }
        let mut sources: Vec<&str> = found.iter().map(|(s, _)| s.as_str()).collect();
        sources.sort_unstable();
        sources.dedup();
        if sources.len() > 1 {
            return Ok(Lookup::Ambiguous(
                sources.into_iter().map(str::to_owned).collect(),
            ));
        }
        let Some(seq) = found.iter().map(|(_, seq)| *seq).max() else {
            return Ok(Lookup::NotFound);
        };
        match self
            .inner
            .db
            .get_cf(self.log_cf(bus.id), keys::event(bus.id, seq))?
        {
            Some(v) => {
                let (event, received_at) = codec::decode_event(&v)?;
                Ok(Lookup::Found(Box::new(StoredEvent {
                    seq,
                    received_at,
                    event,
                })))
            }
            None => Ok(Lookup::NotFound),
        }
    }

    /// Deletes events older than each bus's retention. Returns how many were
    /// deleted. Runs in chunks so ingest is never blocked for long.
    pub async fn enforce_retention(&self) -> Result<u64, StoreError> {
        retention::enforce(self).await
    }

    /// Runs retention every `retention_interval` until `shutdown` fires.
    pub async fn run_retention(&self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(self.inner.options.retention_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            match self.enforce_retention().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "Retention deleted expired events."),
                Err(error) => tracing::error!(%error, "Retention failed."),
            }
        }
    }

    /// RocksDB health figures for metrics: (name, help, value).
    pub fn engine_stats(&self) -> Vec<(&'static str, &'static str, u64)> {
        let db = &self.inner.db;
        let each = |prop: &'static str| {
            columns::names().filter_map(move |name| {
                db.property_int_value_cf(self.cf(name), prop).ok().flatten()
            })
        };
        let sum = |prop| -> u64 { each(prop).sum() };
        let any = |prop| -> u64 { each(prop).max().unwrap_or(0) };
        vec![
            (
                "signalbox_store_size_bytes",
                "Size of the store's SST files.",
                sum("rocksdb.total-sst-files-size"),
            ),
            (
                "signalbox_store_memtable_bytes",
                "Memory held by memtables.",
                sum("rocksdb.cur-size-all-mem-tables"),
            ),
            (
                "signalbox_store_pending_compaction_bytes",
                "Bytes compaction still has to rewrite.",
                sum("rocksdb.estimate-pending-compaction-bytes"),
            ),
            (
                "signalbox_store_write_stopped",
                "1 while RocksDB stops writes (too many L0 files or memtables).",
                any("rocksdb.is-write-stopped"),
            ),
            (
                "signalbox_store_delayed_write_rate_bytes",
                "Write rate RocksDB throttles to while slowing writes down (0: not throttled).",
                any("rocksdb.actual-delayed-write-rate"),
            ),
            (
                "signalbox_store_id_entries_in_memory",
                "Event-id entries held in memory, not yet written to the index.",
                self.inner.recent.pending() as u64,
            ),
            (
                "signalbox_store_running_compactions",
                "Compactions running now.",
                any("rocksdb.num-running-compactions"),
            ),
        ]
    }

    /// Whether the store can take writes: its writer thread runs and RocksDB
    /// reports no background error (a failed flush or compaction, say from
    /// a full disk, stops all writes until the process restarts).
    pub fn health(&self) -> Result<(), String> {
        if !self.inner.writer.running() {
            return Err("the writer thread is not running".into());
        }
        if let Some(error) = self.inner.recent.failing() {
            return Err(format!(
                "writing event-id entries to the index fails ({error}); they are kept in memory, and appends wait once the next table fills"
            ));
        }
        match self
            .inner
            .db
            .property_int_value("rocksdb.background-errors")
        {
            Ok(Some(n)) if n > 0 => Err(format!(
                "RocksDB reported {n} background error(s): a flush or compaction failed (disk full or I/O errors?)"
            )),
            _ => Ok(()),
        }
    }

    /// Approximate size of the data folder's live data, in bytes.
    pub fn approximate_size(&self) -> u64 {
        columns::names()
            .filter_map(|name| {
                self.inner
                    .db
                    .property_int_value_cf(self.cf(name), "rocksdb.total-sst-files-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }

    /// Stops the writer, syncs the WAL, flushes memtables so the next start
    /// does not need to replay the log, and stops RocksDB's background
    /// compactions and flushes. Appends after this fail with
    /// [`StoreError::Closed`]. Blocking.
    pub fn close_blocking(&self) -> Result<(), StoreError> {
        self.inner.writer.shutdown();
        self.inner.db.flush_wal(true)?;
        for name in columns::names() {
            self.inner.db.flush_cf(self.cf(name))?;
        }
        // A handle some straggling task still holds must not leave RocksDB's
        // background threads running into the process's exit, where they
        // would lock mutexes that static destruction already tore down.
        self.inner.db.cancel_all_background_work(true);
        Ok(())
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.inner
            .db
            .cf_handle(name)
            .expect("every known column family is opened")
    }

    /// The column family holding the log of `bus` ([`columns::log_column`]).
    fn log_cf(&self, bus: BusId) -> &rocksdb::ColumnFamily {
        self.cf(columns::log_column(bus, self.inner.laned_from))
    }
}

impl Drop for Inner {
    /// Joins the writer and WAL-sync threads, which hold the database too,
    /// so the database closes here, on the thread that dropped the last
    /// handle. Left to the detached threads, the close could run after the
    /// process began to exit (a test binary's `main` returning) and abort
    /// with "pthread lock: Invalid argument" inside RocksDB.
    fn drop(&mut self) {
        self.writer.shutdown();
    }
}

/// The buses of a folder, as [`load_buses`] finds them.
struct Loaded {
    /// Each bus with the last seq of its log.
    records: Vec<(BusRecord, Seq)>,
    /// The id the next bus gets.
    next_bus_id: BusId,
    /// The first bus id whose log has a lane of its own
    /// ([`columns::log_column`]).
    laned_from: BusId,
}

/// Loads the stored buses. A folder that has no lanes entry yet (new, or
/// written by a release before the lanes) gets one here: the next bus id,
/// so the buses it already has keep their log in `events`.
fn load_buses(db: &DB) -> Result<Loaded, StoreError> {
    let buses_cf = db.cf_handle(columns::BUSES).expect("buses column");
    let meta_cf = db.cf_handle(columns::META).expect("meta column");
    let stored_lanes = db
        .get_cf(meta_cf, LANES_FROM_KEY)?
        .map(|v| {
            <[u8; 4]>::try_from(v.as_slice())
                .map(BusId::from_be_bytes)
                .map_err(|_| DecodeError("bad log_lanes_from"))
        })
        .transpose()?;
    let mut records = Vec::new();
    let mut max_id = 0;
    for item in db.iterator_cf(buses_cf, IteratorMode::Start) {
        let (_, v) = item?;
        let record: BusRecord =
            serde_json::from_slice(&v).map_err(|_| DecodeError("bad bus record"))?;
        max_id = max_id.max(record.id);
        // Numbering continues after the newest stored event, or after what
        // retention deleted if the bus is now empty.
        let mut last = 0;
        let log = columns::log_column(record.id, stored_lanes.unwrap_or(BusId::MAX));
        let mut iter = db.raw_iterator_cf(db.cf_handle(log).expect("log lane"));
        iter.seek_for_prev(keys::event(record.id, Seq::MAX));
        if iter.valid()
            && let Some((bus, seq)) = iter.key().and_then(keys::decode_event)
            && bus == record.id
        {
            last = seq;
        }
        iter.status()?;
        if let Some(floor) = db.get_cf(meta_cf, writer::floor_key(record.id))?
            && let Ok(b) = <[u8; 8]>::try_from(floor.as_slice())
        {
            last = last.max(Seq::from_be_bytes(b));
        }
        records.push((record, last));
    }
    let next = match db.get_cf(meta_cf, b"next_bus_id")? {
        Some(v) => <[u8; 4]>::try_from(v.as_slice())
            .map(BusId::from_be_bytes)
            .unwrap_or(max_id + 1),
        None => max_id + 1,
    };
    let next = next.max(max_id + 1);
    let laned_from = match stored_lanes {
        Some(from) => from,
        None => {
            db.put_cf(meta_cf, LANES_FROM_KEY, next.to_be_bytes())?;
            next
        }
    };
    Ok(Loaded {
        records,
        next_bus_id: next,
        laned_from,
    })
}

/// Whether files in `dir` can be written with `O_DIRECT`. Some file systems
/// refuse it at open (older tmpfs), others only at the first write, so the
/// probe writes one aligned block, as RocksDB would.
#[cfg(target_os = "linux")]
fn supports_direct_io(dir: &Path) -> bool {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    const BLOCK: usize = 4096;
    let probe = dir.join("direct-io-probe");
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe);
    // A safe way to an aligned buffer: find the aligned block inside a
    // buffer twice its size.
    let buf = vec![0u8; 2 * BLOCK];
    let at = buf.as_ptr().align_offset(BLOCK);
    let ok = opened.is_ok_and(|mut f| f.write_all(&buf[at..at + BLOCK]).is_ok());
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Direct I/O is only used where it was measured: on Linux.
#[cfg(not(target_os = "linux"))]
fn supports_direct_io(_dir: &Path) -> bool {
    false
}

/// Sends a command and waits for its reply.
async fn call<T>(rx: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    rx.await.unwrap_or(Err(StoreError::Closed))
}

#[cfg(test)]
mod tests;
