//! The newest entries of the event-id index: held in memory, written to
//! RocksDB as sorted files.
//!
//! Event ids arrive in no order. Written with their events, each entry of
//! the `event_ids` index went into a memtable skip list of about a million
//! random keys, a search from its top for every event: with random ids a
//! quarter of the server's CPU at batch ingest, on the one writer thread
//! (docs/benchmarks.md, "The newest id entries in memory").
//!
//! Instead the writer hands the entries of every group it has committed to
//! [`RecentIds`]: an append-only [`Table`] in memory with a hash index on
//! bus and id. The table is sealed where a busy bus moves on to its next
//! epoch ([`keys::id_epoch`]), or once it holds [`SEAL_ENTRIES`] entries
//! (or [`SEAL_BYTES`]), and a thread of its own sorts it, writes it as SST
//! files and has RocksDB ingest them into the index: no WAL, no memtable,
//! no flush.
//!
//! # One file per epoch
//!
//! Ids within an epoch are random, so two files holding parts of the same
//! epoch overlap, and RocksDB must merge them in a compaction. A table
//! sealed where a busy bus's epoch ends holds that whole epoch (a table
//! has room for an epoch and a quarter), and each (bus, epoch) run of a
//! table gets a file of its own ([`file_starts`]). Such a file overlaps
//! nothing; RocksDB ingests it straight into the bottom level, and the
//! index of a busy bus is never compacted (docs/benchmarks.md, "Id tables
//! a whole epoch long").
//!
//! # Nothing is lost in a crash
//!
//! An entry is derived from its event, and the event is in the log before
//! the entry is made. Per bus, the `meta` key `ids_done/<bus>` holds the seq
//! up to which the index on disk has every entry; it is written after each
//! ingested file. At open the writer makes the entries of the bus's later
//! events again from the log ([`super::writer`]): at most a few tables'
//! worth (1.25 million entries, made again in about 1.5 s, after a crash
//! during batch ingest at full speed). A clean shutdown writes every table
//! first.
//!
//! # Readers
//!
//! Look-ups search the tables first, then RocksDB. A sealed table leaves
//! the set only after RocksDB has its file, so an entry a reader misses in
//! the tables is in the iterator it makes afterwards.
//!
//! # Retention
//!
//! Trims and bus deletions run under the ingest lock ([`RecentIds::exclusive`])
//! and record a floor per bus. A table written later leaves out the entries
//! at or below the floor: they belong to deleted events, and written after
//! the trim's range delete they would stay in the index for good.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rocksdb::{DB, IngestExternalFileOptions, SstFileWriter, WriteBatch};
use rustc_hash::FxBuildHasher;

use super::{columns, keys};
use crate::store::{BusId, Seq, StoreError};

/// Entries of one epoch of a bus ([`keys::ID_EPOCH_BITS`]).
const EPOCH_ENTRIES: usize = 1 << keys::ID_EPOCH_BITS;

/// Entries per table before it is sealed and written whatever their
/// epochs: an epoch and a quarter, so that a table holds a busy bus's whole
/// epoch (sealed at its end, [`EPOCH_SEAL_MIN`]) with room for other buses'
/// entries. About 80 MiB of keys with 36-byte ids.
pub(super) const SEAL_ENTRIES: usize = EPOCH_ENTRIES + EPOCH_ENTRIES / 4;

/// Key bytes per table before it is sealed, for long ids and sources.
pub(super) const SEAL_BYTES: usize = 128 << 20;

/// A table is sealed when a bus moves on to its next epoch and the table
/// holds at least this many of its entries in the epoch before: the bus is
/// busy, and sealing there writes its epoch as one file that overlaps no
/// other, which RocksDB ingests straight into the bottom level with no
/// compaction ever (docs/storage.md). A quiet bus crossing an epoch does
/// not seal a table that other buses fill.
const EPOCH_SEAL_MIN: u32 = (EPOCH_ENTRIES / 4) as u32;

/// Entries of a (bus, epoch) run in a sealed table that get a file of their
/// own; smaller neighbouring runs share one, so that many quiet buses do
/// not make many tiny files.
#[cfg(not(test))]
const OWN_FILE_MIN: usize = 1 << 14;
#[cfg(test)]
const OWN_FILE_MIN: usize = 3;

/// Sealed tables waiting for the index thread before the writer waits:
/// memory stays bounded if RocksDB is slower than ingest.
const QUEUED_TABLES: usize = 1;

/// Marks the end of a chain of entries in [`Table::prev`].
const NONE: u32 = u32::MAX;

/// The `meta` key that holds the seq up to which the index on disk has
/// every entry of a bus.
pub(super) fn done_key(bus: BusId) -> Vec<u8> {
    let mut k = b"ids_done/".to_vec();
    k.extend_from_slice(&bus.to_be_bytes());
    k
}

/// Full `event_ids` keys in append order, with a hash index on bus and id.
pub(super) struct Table {
    /// The keys back to back.
    keys: Vec<u8>,
    /// Where each key ends in `keys`.
    ends: Vec<u32>,
    /// Hash of bus and id → the newest entry with that hash.
    heads: Heads,
    /// Per entry, the entry before it with the same hash, or [`NONE`].
    prev: Vec<u32>,
    /// Per bus, the highest seq in the table.
    last: HashMap<BusId, Seq, FxBuildHasher>,
    /// Per bus, the [`keys::epoch_prefix`] of its newest entry and how
    /// many entries the table holds in that epoch.
    epochs: HashMap<BusId, (u64, u32), FxBuildHasher>,
}

/// What a table needs of a full epoch key, read from it once.
#[derive(Clone, Copy)]
struct Parsed {
    /// [`id_hash`] of its bus and id.
    hash: u64,
    bus: BusId,
    /// Its [`keys::epoch_prefix`].
    epoch: u64,
    seq: Seq,
}

impl Parsed {
    /// `None` for a key `keys::split_epoch_event_id` does not parse.
    fn of(key: &[u8]) -> Option<Parsed> {
        let (bus, id, _, seq) = keys::split_epoch_event_id(key)?;
        Some(Parsed {
            hash: id_hash(bus, id),
            bus,
            epoch: keys::epoch_prefix(key)?,
            seq,
        })
    }
}

fn id_hash(bus: BusId, id: &[u8]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write_u32(bus);
    h.write(id);
    h.finish()
}

/// How many entries ahead of the one it inserts the writer prefetches the
/// hash slot: enough to keep several cache misses in flight.
const PREFETCH_AHEAD: usize = 8;

/// A [`Table`]'s hash index: for each hash of bus and id, the newest entry
/// with that hash.
///
/// Open addressing with linear probing over a power-of-two array of
/// `tag << 32 | entry + 1` (0 is empty). The tag is the hash's high half,
/// and its top bits choose the home slot, so the array can be grown from
/// the slots alone. Ids whose hashes share a tag share a chain, which
/// [`Table::find`] filters by bus and id.
///
/// Hand-written rather than a `HashMap` because each insert into a table
/// of a million entries misses the cache, and the writer hides those
/// misses by prefetching the slots of the entries it inserts next, which a
/// `HashMap` has no way to do; the slots are also half the size
/// (docs/benchmarks.md, "Id tables a whole epoch long").
struct Heads {
    slots: Vec<u64>,
    /// log2 of `slots.len()`.
    bits: u32,
    /// Occupied slots.
    len: usize,
}

impl Heads {
    /// Room for `entries` distinct ids at a load of at most two thirds.
    fn with_capacity(entries: usize) -> Heads {
        Heads::with_slots((entries * 3 / 2).next_power_of_two().max(16))
    }

    /// `n` empty slots, a power of two.
    fn with_slots(n: usize) -> Heads {
        Heads {
            slots: vec![0; n],
            bits: n.trailing_zeros(),
            len: 0,
        }
    }

    fn home(&self, tag: u64) -> usize {
        (tag >> (32 - self.bits)) as usize
    }

    /// Asks the CPU to bring `hash`'s home slot into the cache.
    #[inline(always)]
    fn prefetch(&self, hash: u64) {
        let slot: *const u64 = &self.slots[self.home(hash >> 32)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint; it reads nothing the program
        // sees and cannot fault, and the address is in `slots` anyway.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(slot.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Makes `entry` the newest with `hash`; returns the one it follows in
    /// the chain, or [`NONE`].
    fn insert(&mut self, hash: u64, entry: u32) -> u32 {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let tag = hash >> 32;
        let value = tag << 32 | (u64::from(entry) + 1);
        let mask = self.slots.len() - 1;
        let mut i = self.home(tag);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                self.slots[i] = value;
                self.len += 1;
                return NONE;
            }
            if slot >> 32 == tag {
                self.slots[i] = value;
                return slot as u32 - 1;
            }
            i = (i + 1) & mask;
        }
    }

    fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
    }

    /// The newest entry with `hash`, or [`NONE`].
    fn get(&self, hash: u64) -> u32 {
        let tag = hash >> 32;
        let mask = self.slots.len() - 1;
        let mut i = self.home(tag);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return NONE;
            }
            if slot >> 32 == tag {
                return slot as u32 - 1;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the slots: only for a table that outgrew [`SEAL_ENTRIES`]
    /// (a group is added whole before the table is checked).
    fn grow(&mut self) {
        let old = std::mem::replace(self, Heads::with_slots(self.slots.len() * 2));
        let mask = self.slots.len() - 1;
        for slot in old.slots.into_iter().filter(|&s| s != 0) {
            let mut i = self.home(slot >> 32);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
            self.len += 1;
        }
    }
}

impl Default for Table {
    /// An empty table with room for a sealed table's entries, so that the
    /// writer seldom grows it while it holds the lock (the room is only
    /// address space until it is used).
    fn default() -> Table {
        let entries = SEAL_ENTRIES;
        Table {
            keys: Vec::with_capacity((entries * 80).min(SEAL_BYTES)),
            ends: Vec::with_capacity(entries),
            heads: Heads::with_capacity(entries),
            prev: Vec::with_capacity(entries),
            last: HashMap::default(),
            epochs: HashMap::default(),
        }
    }
}

impl Table {
    /// Adds a full epoch key (`keys::split_epoch_event_id` must parse it).
    #[cfg(test)]
    pub(super) fn push(&mut self, key: &[u8]) {
        self.push_parsed(key, &Parsed::of(key).expect("an epoch key"));
    }

    /// Adds a full epoch key, `parsed` being what [`Parsed::of`] read of it.
    fn push_parsed(&mut self, key: &[u8], parsed: &Parsed) {
        let at = self.ends.len() as u32;
        let prev = self.heads.insert(parsed.hash, at);
        self.prev.push(prev);
        self.keys.extend_from_slice(key);
        self.ends.push(self.keys.len() as u32);
        let last = self.last.entry(parsed.bus).or_default();
        *last = (*last).max(parsed.seq);
        let run = self.epochs.entry(parsed.bus).or_insert((parsed.epoch, 0));
        if run.0 != parsed.epoch {
            *run = (parsed.epoch, 0);
        }
        run.1 += 1;
    }

    /// Whether the key `parsed` starts a later epoch of a bus that has at
    /// least [`EPOCH_SEAL_MIN`] entries in its epoch before: the table
    /// should be sealed before the key goes in.
    fn ends_epoch(&self, parsed: &Parsed) -> bool {
        self.epochs
            .get(&parsed.bus)
            .is_some_and(|&(epoch, n)| parsed.epoch > epoch && n >= EPOCH_SEAL_MIN)
    }

    /// Empties the table, keeping its memory.
    fn clear(&mut self) {
        self.keys.clear();
        self.ends.clear();
        self.heads.clear();
        self.prev.clear();
        self.last.clear();
        self.epochs.clear();
    }

    /// How many entries the table holds.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    fn full(&self) -> bool {
        self.ends.len() >= SEAL_ENTRIES || self.keys.len() >= SEAL_BYTES
    }

    fn key(&self, i: u32) -> &[u8] {
        let start = match i {
            0 => 0,
            i => self.ends[i as usize - 1] as usize,
        };
        &self.keys[start..self.ends[i as usize] as usize]
    }

    /// Calls `f(source, seq)` for every entry of `id` on `bus` (from
    /// `source` only, if given), newest first.
    fn find(&self, bus: BusId, id: &[u8], source: Option<&[u8]>, f: &mut impl FnMut(&[u8], Seq)) {
        let mut at = self.heads.get(id_hash(bus, id));
        while at != NONE {
            if let Some((b, i, s, seq)) = keys::split_epoch_event_id(self.key(at))
                && b == bus
                && i == id
                && source.is_none_or(|want| want == s)
            {
                f(s, seq);
            }
            at = self.prev[at as usize];
        }
    }

    /// The entries' keys in key order, copied back to back.
    ///
    /// Sorted on each key's first 24 bytes as three integers (bus, epoch,
    /// the id's length and first 12 bytes), with the whole keys compared
    /// only where those are equal: comparing the keys themselves, through
    /// the table, took most of the index thread's time. The copy is made in
    /// one loop, whose reads of the scattered keys overlap, rather than key
    /// by key between the file writer's calls, where each waited for memory
    /// (half of the thread's time, `perf annotate`).
    fn sorted(&self) -> Keys {
        let mut order: Vec<(u64, u64, u64, u32, u32)> = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            let key = &self.keys[start as usize..end as usize];
            let mut b = [0u8; 24];
            let n = key.len().min(24);
            b[..n].copy_from_slice(&key[..n]);
            let word = |at: usize| u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
            // A key shorter than 24 bytes compares as if padded with
            // zeros, which never contradicts its byte order: ties are
            // settled on the whole keys.
            order.push((word(0), word(8), word(16), start, end));
            start = end;
        }
        let key = |e: &(u64, u64, u64, u32, u32)| &self.keys[e.3 as usize..e.4 as usize];
        order.sort_unstable_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then_with(|| key(a).cmp(key(b)))
        });
        let mut sorted = Keys::with_capacity(order.len(), self.keys.len());
        for e in &order {
            sorted.push(|out| out.extend_from_slice(key(e)));
        }
        sorted
    }
}

/// Full `event_ids` keys back to back: a group's, as the writer collects
/// them before it commits, or a sealed table's in key order.
#[derive(Default)]
pub(super) struct Keys {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Keys {
    fn with_capacity(keys: usize, bytes: usize) -> Keys {
        Keys {
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    /// Adds a full epoch key written by `key`.
    pub(super) fn push(&mut self, key: impl FnOnce(&mut Vec<u8>)) {
        key(&mut self.buf);
        self.ends.push(self.buf.len());
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let k = &self.buf[start..end];
            start = end;
            k
        })
    }
}

struct Tables {
    open: Table,
    /// Oldest first; the index thread writes them in this order.
    sealed: VecDeque<Arc<Table>>,
}

impl Tables {
    /// Moves the open table to the sealed ones, for the index thread, and
    /// opens `next` (a written table, emptied) or a new one.
    fn seal(&mut self, next: Option<Table>) -> Arc<Table> {
        let table = Arc::new(std::mem::replace(&mut self.open, next.unwrap_or_default()));
        self.sealed.push_back(table.clone());
        table
    }
}

/// The tables, the ingest lock and the index thread. Shared by the writer,
/// readers and the index thread.
pub(super) struct RecentIds {
    tables: RwLock<Tables>,
    /// Floors per bus: entries at or below are left out of tables written
    /// from now on ([`Seq::MAX`] for a deleted bus). Held while a table is
    /// written and ingested.
    floors: Mutex<HashMap<BusId, Seq>>,
    tx: Mutex<Option<SyncSender<Arc<Table>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Why the last attempt to write a table failed, until one succeeds.
    failing: Mutex<Option<String>>,
    /// A written table, emptied, for the writer to fill next: a new one's
    /// memory is fresh pages, and the kernel's zeroing them as the writer
    /// touched them cost about 3% of ingest's CPU (docs/benchmarks.md).
    spare: Mutex<Option<Table>>,
}

impl RecentIds {
    /// Starts the index thread; sealed tables' files are made in `dir`,
    /// which is emptied first (files left by a crash).
    pub(super) fn start(db: Arc<DB>, dir: PathBuf) -> Result<Arc<RecentIds>, StoreError> {
        let open_error = |path: &Path| {
            let path = path.to_owned();
            move |e: std::io::Error| StoreError::Open {
                path,
                reason: e.to_string(),
            }
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(open_error(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(open_error(&dir))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUED_TABLES);
        let recent = Arc::new(RecentIds {
            tables: RwLock::new(Tables {
                open: Table::default(),
                sealed: VecDeque::new(),
            }),
            floors: Mutex::new(HashMap::new()),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(None),
            failing: Mutex::new(None),
            spare: Mutex::new(None),
        });
        let shared = recent.clone();
        let error = open_error(&dir);
        let thread = std::thread::Builder::new()
            .name("signalbox-ids".into())
            .spawn(move || run(&db, &shared, &dir, rx))
            .map_err(error)?;
        *recent.thread.lock().expect("ids thread poisoned") = Some(thread);
        Ok(recent)
    }

    /// Adds the entries of a committed group; seals the open table where a
    /// busy bus's epoch ends and when it is full (waiting if the index
    /// thread is a table behind).
    pub(super) fn add(&self, group: &Keys) {
        let keys: Vec<&[u8]> = group.iter().collect();
        self.push(&keys);
    }

    /// Adds one entry outside a group (rebuilding after a restart).
    pub(super) fn add_one(&self, key: &[u8]) {
        self.push(&[key]);
    }

    fn push(&self, keys: &[&[u8]]) {
        // Read (and hashed) first, so that each slot can be prefetched a few
        // entries before it is written.
        let parsed: Vec<Option<Parsed>> = keys.iter().map(|k| Parsed::of(k)).collect();
        let hash = |i: usize| parsed.get(i).copied().flatten().map(|p| p.hash);
        let mut sealed = Vec::new();
        {
            let mut t = self.tables.write().expect("recent ids poisoned");
            for ahead in (0..PREFETCH_AHEAD).filter_map(hash) {
                t.open.heads.prefetch(ahead);
            }
            for (i, (key, p)) in keys.iter().zip(&parsed).enumerate() {
                if let Some(ahead) = hash(i + PREFETCH_AHEAD) {
                    t.open.heads.prefetch(ahead);
                }
                let Some(p) = p else {
                    debug_assert!(false, "not an epoch key");
                    continue;
                };
                if t.open.ends_epoch(p) {
                    sealed.push(t.seal(self.take_spare()));
                }
                t.open.push_parsed(key, p);
            }
            if t.open.full() {
                sealed.push(t.seal(self.take_spare()));
            }
        }
        // Sent outside the lock: sending waits while the thread is behind.
        for table in sealed {
            self.send(table);
        }
    }

    /// Seals the open table if it holds anything.
    fn seal_open(&self) {
        let sealed = {
            let mut t = self.tables.write().expect("recent ids poisoned");
            (t.open.len() > 0).then(|| t.seal(self.take_spare()))
        };
        if let Some(table) = sealed {
            self.send(table);
        }
    }

    fn take_spare(&self) -> Option<Table> {
        self.spare.lock().expect("spare table poisoned").take()
    }

    fn send(&self, table: Arc<Table>) {
        let tx = self.tx.lock().expect("ids sender poisoned").clone();
        match tx {
            Some(tx) => {
                // Fails only if the thread is gone; its tables stay
                // searchable and are made again at the next open.
                if tx.send(table).is_err() {
                    tracing::error!("The event-id index thread has stopped.");
                }
            }
            None => tracing::error!("An event-id table was sealed after shutdown."),
        }
    }

    /// The sealed tables not yet on disk. The writer takes them at the
    /// start of a group, before it makes its RocksDB iterator, so an entry
    /// that leaves them later is in the iterator.
    pub(super) fn sealed(&self) -> Vec<Arc<Table>> {
        let t = self.tables.read().expect("recent ids poisoned");
        t.sealed.iter().cloned().collect()
    }

    /// Calls `f(source, seq)` for every entry of `id` on `bus` (from
    /// `source` only, if given) in the open table and in `sealed`, newest
    /// first.
    pub(super) fn find_in(
        &self,
        sealed: &[Arc<Table>],
        bus: BusId,
        id: &[u8],
        source: Option<&[u8]>,
        f: impl FnMut(&[u8], Seq),
    ) {
        let t = self.tables.read().expect("recent ids poisoned");
        search(&t.open, sealed.iter(), bus, id, source, f);
    }

    /// Calls `f(source, seq)` for every entry of `id` on `bus` (from
    /// `source` only, if given) that is not yet on disk.
    ///
    /// The open and the sealed tables are read under one lock: read one
    /// after the other, a table sealed in between would be in neither.
    pub(super) fn find(
        &self,
        bus: BusId,
        id: &[u8],
        source: Option<&[u8]>,
        f: impl FnMut(&[u8], Seq),
    ) {
        let t = self.tables.read().expect("recent ids poisoned");
        search(&t.open, t.sealed.iter(), bus, id, source, f);
    }

    /// Runs `f` with the floors while no table is being written: for trims
    /// and bus deletions, which set a floor and write in `f`.
    pub(super) fn exclusive<T>(&self, f: impl FnOnce(&mut HashMap<BusId, Seq>) -> T) -> T {
        f(&mut self.lock_floors())
    }

    fn lock_floors(&self) -> MutexGuard<'_, HashMap<BusId, Seq>> {
        self.floors.lock().expect("ids floors poisoned")
    }

    /// Seals what is open and stops taking tables: the index thread writes
    /// every table, then ends. The writer calls it when it stops.
    pub(super) fn close(&self) {
        self.seal_open();
        self.tx.lock().expect("ids sender poisoned").take();
    }

    /// Waits for the index thread to end (after [`RecentIds::close`]).
    pub(super) fn join(&self) {
        if let Some(t) = self.thread.lock().expect("ids thread poisoned").take() {
            let _ = t.join();
        }
    }

    /// Seals what is open and waits until every table is on disk, for
    /// tests.
    #[cfg(test)]
    pub(super) fn write_all(&self) {
        self.seal_open();
        while !self
            .tables
            .read()
            .expect("recent ids poisoned")
            .sealed
            .is_empty()
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Why writing tables to the index fails, while it does.
    pub(super) fn failing(&self) -> Option<String> {
        self.failing.lock().expect("ids failure poisoned").clone()
    }

    /// How many entries are held in memory, not yet on disk.
    pub(super) fn pending(&self) -> usize {
        let t = self.tables.read().expect("recent ids poisoned");
        t.open.len() + t.sealed.iter().map(|s| s.len()).sum::<usize>()
    }
}

/// Searches `open`, then `sealed` from the newest, for the entries of `id`
/// on `bus` (from `source` only, if given).
fn search<'a>(
    open: &Table,
    sealed: impl DoubleEndedIterator<Item = &'a Arc<Table>>,
    bus: BusId,
    id: &[u8],
    source: Option<&[u8]>,
    mut f: impl FnMut(&[u8], Seq),
) {
    open.find(bus, id, source, &mut f);
    for table in sealed.rev() {
        table.find(bus, id, source, &mut f);
    }
}

/// The index thread: writes each sealed table, oldest first, and drops it
/// from the set once RocksDB has it. A failed write (a full disk, say) is
/// retried every second; the table stays searchable meanwhile, and the
/// writer waits once the next table is sealed too.
fn run(db: &DB, recent: &RecentIds, dir: &Path, rx: Receiver<Arc<Table>>) {
    let mut attempts = 0u64;
    while let Ok(table) = rx.recv() {
        let sorted = table.sorted();
        loop {
            attempts += 1;
            // The folder is made again if it went missing.
            let attempt = std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))
                .and_then(|()| {
                    write(db, recent, &table, &sorted, dir, attempts).map_err(|e| e.to_string())
                });
            let mut failing = recent.failing.lock().expect("ids failure poisoned");
            match attempt {
                Ok(()) => {
                    *failing = None;
                    break;
                }
                Err(error) => {
                    remove_attempt(dir, attempts);
                    tracing::error!(%error, "Writing event-id entries to the index failed; retrying in a second.");
                    *failing = Some(error);
                    drop(failing);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        {
            let mut t = recent.tables.write().expect("recent ids poisoned");
            if t.sealed.front().is_some_and(|s| Arc::ptr_eq(s, &table)) {
                t.sealed.pop_front();
            }
        }
        // Kept for the writer unless a reader still holds it.
        if let Ok(mut table) = Arc::try_unwrap(table) {
            table.clear();
            *recent.spare.lock().expect("spare table poisoned") = Some(table);
        }
    }
}

/// Removes the files a failed attempt left in `dir`.
fn remove_attempt(dir: &Path, stem: u64) {
    let prefix = format!("{stem}.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes `table`'s entries (`sorted`) above their bus's floor as files
/// named `<stem>.<n>.sst` in `dir`, has RocksDB ingest them together, then
/// records per bus that the index has every entry up to the table's last.
fn write(
    db: &DB,
    recent: &RecentIds,
    table: &Table,
    sorted: &Keys,
    dir: &Path,
    stem: u64,
) -> Result<(), StoreError> {
    let floors = recent.lock_floors();
    let keep = |k: &[u8]| {
        floors.is_empty()
            || keys::split_epoch_event_id(k)
                .is_some_and(|(bus, _, _, seq)| floors.get(&bus).is_none_or(|&f| seq > f))
    };
    let cf = db.cf_handle(columns::EVENT_IDS).expect("event_ids column");
    let opts = columns::options(columns::Kind::IdIndex);
    let starts = file_starts(sorted);
    let mut next = 1;
    let mut paths = Vec::new();
    let mut file: Option<SstFileWriter> = None;
    for (i, key) in sorted.iter().enumerate() {
        if starts.get(next) == Some(&i) {
            next += 1;
            if let Some(mut f) = file.take() {
                f.finish()?;
            }
        }
        if !keep(key) {
            continue;
        }
        let f = match &mut file {
            Some(f) => f,
            None => {
                let path = dir.join(format!("{stem}.{}.sst", paths.len()));
                let f = file.insert(SstFileWriter::create(&opts));
                f.open(&path)?;
                paths.push(path);
                f
            }
        };
        f.put(key, [])?;
    }
    if let Some(mut f) = file.take() {
        f.finish()?;
    }
    if !paths.is_empty() {
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        // One call: the files go in together or not at all.
        db.ingest_external_file_cf_opts(cf, &ingest, paths)?;
    }
    let meta = db.cf_handle(columns::META).expect("meta column");
    let mut batch = WriteBatch::default();
    for (&bus, &last) in &table.last {
        if floors.get(&bus) != Some(&Seq::MAX) {
            batch.put_cf(meta, done_key(bus), last.to_be_bytes());
        }
    }
    db.write(batch)?;
    Ok(())
}

/// Where, in sorted keys, each file written for them starts: each (bus,
/// epoch) run of at least [`OWN_FILE_MIN`] entries has a file of its own,
/// smaller neighbouring runs share one. A file of one run overlaps only
/// files of the same bus and epoch, so a whole epoch's file lands in the
/// bottom level without a compaction, and a partial one is merged only
/// with its epoch's other files.
fn file_starts(sorted: &Keys) -> Vec<usize> {
    // Each run's start and length.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut prefix = None;
    for (i, key) in sorted.iter().enumerate() {
        let p = keys::epoch_prefix(key);
        match runs.last_mut() {
            Some(run) if p == prefix => run.1 += 1,
            _ => runs.push((i, 1)),
        }
        prefix = p;
    }
    let mut starts = Vec::new();
    let mut file_len = 0;
    for (start, len) in runs {
        if starts.is_empty() || file_len >= OWN_FILE_MIN || len >= OWN_FILE_MIN {
            starts.push(start);
            file_len = 0;
        }
        file_len += len;
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bus: BusId, id: &str, source: &str, seq: Seq) -> Vec<u8> {
        keys::epoch_event_id(bus, keys::id_epoch(seq), id, source, seq)
    }

    fn found(table: &Table, bus: BusId, id: &str, source: Option<&str>) -> Vec<(String, Seq)> {
        let mut out = Vec::new();
        table.find(
            bus,
            id.as_bytes(),
            source.map(str::as_bytes),
            &mut |s, seq| out.push((String::from_utf8(s.to_vec()).unwrap(), seq)),
        );
        out
    }

    #[test]
    fn a_table_finds_every_entry_of_an_id_newest_first_and_sorts_its_keys() {
        let mut t = Table::default();
        let keys = [
            key(1, "b", "/x", 1),
            key(1, "a", "/x", 2),
            key(2, "a", "/x", 1),
            key(1, "a", "/y", 3),
            key(1, "ab", "/x", 4),
            key(1, "a", "/x", 5),
        ];
        for k in &keys {
            t.push(k);
        }
        assert_eq!(t.len(), 6);
        assert_eq!(
            found(&t, 1, "a", None),
            vec![("/x".into(), 5), ("/y".into(), 3), ("/x".into(), 2)]
        );
        assert_eq!(
            found(&t, 1, "a", Some("/x")),
            vec![("/x".into(), 5), ("/x".into(), 2)]
        );
        assert_eq!(found(&t, 2, "a", None), vec![("/x".into(), 1)]);
        assert_eq!(found(&t, 1, "c", None), vec![]);
        assert_eq!(found(&t, 3, "a", None), vec![]);
        let sorted = t.sorted();
        let sorted: Vec<&[u8]> = sorted.iter().collect();
        let mut expected: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        expected.sort();
        assert_eq!(sorted, expected);
        assert_eq!(t.last[&1], 5);
        assert_eq!(t.last[&2], 1);
    }

    #[test]
    fn a_table_is_full_at_its_entry_count() {
        let mut t = Table::default();
        for seq in 1..SEAL_ENTRIES as Seq {
            t.push(&key(1, &seq.to_string(), "/s", seq));
            assert!(!t.full());
        }
        t.push(&key(1, "last", "/s", SEAL_ENTRIES as Seq));
        assert!(t.full());
    }

    #[test]
    fn a_busy_bus_ends_a_table_at_its_next_epoch_and_a_quiet_one_does_not() {
        let mut t = Table::default();
        // Epoch 1 is seqs 0–15 in unit tests.
        for seq in 1..=15 {
            t.push(&key(1, &format!("a{seq}"), "/s", seq));
        }
        t.push(&key(2, "quiet", "/s", 15));
        let ends = |k: Vec<u8>| t.ends_epoch(&Parsed::of(&k).unwrap());
        assert!(ends(key(1, "next", "/s", 16)));
        assert!(!ends(key(1, "same", "/s", 14)));
        assert!(!ends(key(2, "next", "/s", 16)), "one entry is quiet");
        assert!(!ends(key(3, "new", "/s", 40)), "a bus not in the table");
    }

    #[test]
    fn files_are_cut_at_large_runs_and_small_runs_share_one() {
        let mut t = Table::default();
        let mut push = |bus, seqs: std::ops::RangeInclusive<Seq>| {
            for seq in seqs {
                t.push(&key(bus, &format!("{bus}-{seq}"), "/s", seq));
            }
        };
        push(1, 12..=16); // epoch 1: 4 entries (own file), epoch 2: 1
        push(2, 1..=1); // 1
        push(3, 1..=2); // 2
        push(4, 1..=3); // 3 (own file)
        push(5, 1..=1); // 1
        let sorted = t.sorted();
        assert_eq!(file_starts(&sorted), vec![0, 4, 8, 11]);
        assert_eq!(file_starts(&Keys::default()), Vec::<usize>::new());
    }

    #[test]
    fn heads_chain_entries_by_tag_and_keep_them_when_they_grow() {
        let mut h = Heads::with_slots(16);
        // Tags 1 and 2 share a home slot (the top bits are 0).
        let (a, b, c) = (1u64 << 32, 2u64 << 32, u64::MAX);
        assert_eq!(h.insert(a, 0), NONE);
        assert_eq!(h.insert(b, 1), NONE);
        assert_eq!(h.insert(a, 2), 0);
        assert_eq!(h.insert(c, 3), NONE);
        assert_eq!((h.get(a), h.get(b), h.get(c)), (2, 1, 3));
        assert_eq!(h.get(3 << 32), NONE);
        // Past three quarters full, the slots double.
        for tag in 10..30u64 {
            h.insert(tag << 32 | 7, tag as u32);
        }
        assert!(h.slots.len() > 16);
        assert_eq!((h.get(a), h.get(b), h.get(c)), (2, 1, 3));
        for tag in 10..30u64 {
            assert_eq!(h.get(tag << 32), tag as u32, "the low half is not the tag");
        }
        h.clear();
        assert_eq!(h.get(a), NONE);
    }
}
