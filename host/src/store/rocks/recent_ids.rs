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
//! bus and id. Once the table holds [`SEAL_ENTRIES`] entries (or
//! [`SEAL_BYTES`]), it is sealed and a thread of its own sorts it, writes it
//! as one SST file and has RocksDB ingest the file into the index: no WAL,
//! no memtable, no flush.
//!
//! # Nothing is lost in a crash
//!
//! An entry is derived from its event, and the event is in the log before
//! the entry is made. Per bus, the `meta` key `ids_done/<bus>` holds the seq
//! up to which the index on disk has every entry; it is written after each
//! ingested file. At open the writer makes the entries of the bus's later
//! events again from the log ([`super::writer`]): at most a few tables'
//! worth. A clean shutdown writes every table first.
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

/// Entries per table before it is sealed and written: half a million
/// (about 30 MiB of keys with 20-byte ids). Larger tables make larger files,
/// fewer for compaction to merge, but more to make again after a crash;
/// 2^18, 2^19 and 2^20 measured within noise of each other
/// (docs/benchmarks.md).
#[cfg(not(test))]
pub(super) const SEAL_ENTRIES: usize = 1 << 19;
#[cfg(test)]
pub(super) const SEAL_ENTRIES: usize = 8;

/// Key bytes per table before it is sealed, for long ids and sources.
pub(super) const SEAL_BYTES: usize = 32 << 20;

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
    heads: HashMap<u64, u32, FxBuildHasher>,
    /// Per entry, the entry before it with the same hash, or [`NONE`].
    prev: Vec<u32>,
    /// Per bus, the highest seq in the table.
    last: HashMap<BusId, Seq, FxBuildHasher>,
}

fn id_hash(bus: BusId, id: &[u8]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    h.write_u32(bus);
    h.write(id);
    h.finish()
}

impl Default for Table {
    /// An empty table with room for a sealed table's entries, so that the
    /// writer never grows it while it holds the lock.
    fn default() -> Table {
        let entries = SEAL_ENTRIES;
        Table {
            keys: Vec::with_capacity(entries * 48),
            ends: Vec::with_capacity(entries),
            heads: HashMap::with_capacity_and_hasher(entries, FxBuildHasher),
            prev: Vec::with_capacity(entries),
            last: HashMap::default(),
        }
    }
}

impl Table {
    /// Adds a full epoch key (`keys::split_epoch_event_id` must parse it).
    pub(super) fn push(&mut self, key: &[u8]) {
        let Some((bus, id, _, seq)) = keys::split_epoch_event_id(key) else {
            debug_assert!(false, "not an epoch key");
            return;
        };
        let at = self.ends.len() as u32;
        let prev = self.heads.insert(id_hash(bus, id), at).unwrap_or(NONE);
        self.prev.push(prev);
        self.keys.extend_from_slice(key);
        self.ends.push(self.keys.len() as u32);
        let last = self.last.entry(bus).or_default();
        *last = (*last).max(seq);
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
        let mut at = self.heads.get(&id_hash(bus, id)).copied().unwrap_or(NONE);
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

    /// Adds the entries of a committed group; seals the open table when it
    /// is full (waiting if the index thread is a table behind).
    pub(super) fn add(&self, group: &Keys) {
        self.push_then_seal(
            |open| {
                for key in group.iter() {
                    open.push(key);
                }
            },
            Table::full,
        );
    }

    /// Adds one entry outside a group (rebuilding after a restart).
    pub(super) fn add_one(&self, key: &[u8]) {
        self.push_then_seal(|open| open.push(key), Table::full);
    }

    /// Runs `push` on the open table, then seals it and hands it to the
    /// index thread if `seal_if` says so.
    fn push_then_seal(&self, push: impl FnOnce(&mut Table), seal_if: impl FnOnce(&Table) -> bool) {
        let sealed = {
            let mut t = self.tables.write().expect("recent ids poisoned");
            push(&mut t.open);
            seal_if(&t.open).then(|| {
                let table = Arc::new(std::mem::take(&mut t.open));
                t.sealed.push_back(table.clone());
                table
            })
        };
        if let Some(table) = sealed {
            self.send(table);
        }
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
        self.push_then_seal(|_| {}, |open| open.len() > 0);
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
        self.push_then_seal(|_| {}, |open| open.len() > 0);
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
    let mut files = 0u64;
    while let Ok(table) = rx.recv() {
        let sorted = table.sorted();
        loop {
            files += 1;
            let path = dir.join(format!("{files}.sst"));
            // The folder is made again if it went missing.
            let attempt = std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make {}: {e}", dir.display()))
                .and_then(|()| {
                    write(db, recent, &table, &sorted, &path).map_err(|e| e.to_string())
                });
            let mut failing = recent.failing.lock().expect("ids failure poisoned");
            match attempt {
                Ok(()) => {
                    *failing = None;
                    break;
                }
                Err(error) => {
                    let _ = std::fs::remove_file(&path);
                    tracing::error!(%error, "Writing event-id entries to the index failed; retrying in a second.");
                    *failing = Some(error);
                    drop(failing);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
        let mut t = recent.tables.write().expect("recent ids poisoned");
        if t.sealed.front().is_some_and(|s| Arc::ptr_eq(s, &table)) {
            t.sealed.pop_front();
        }
    }
}

/// Writes `table`'s entries (`sorted`) above their bus's floor as one
/// file, has RocksDB ingest it, then records per bus that the index has
/// every entry up to the table's last.
fn write(
    db: &DB,
    recent: &RecentIds,
    table: &Table,
    sorted: &Keys,
    path: &Path,
) -> Result<(), StoreError> {
    let floors = recent.lock_floors();
    let kept = sorted.iter().filter(|k| {
        floors.is_empty()
            || keys::split_epoch_event_id(k)
                .is_some_and(|(bus, _, _, seq)| floors.get(&bus).is_none_or(|&f| seq > f))
    });
    let cf = db.cf_handle(columns::EVENT_IDS).expect("event_ids column");
    let opts = columns::options(columns::Kind::IdIndex);
    let mut file = SstFileWriter::create(&opts);
    let mut any = false;
    for key in kept {
        if !any {
            file.open(path)?;
            any = true;
        }
        file.put(key, [])?;
    }
    if any {
        file.finish()?;
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        db.ingest_external_file_cf_opts(cf, &ingest, vec![path])?;
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
}
