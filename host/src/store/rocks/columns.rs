//! Column families: what each one holds, its key, its value and how it is
//! kept bounded.
//!
//! All of them are created when the database is first opened, including the
//! ones later features fill, so adding those features never needs a
//! migration. Column families found on disk that this version does not know
//! (written by a newer Signalbox) are opened with default options and left
//! alone, so a downgrade does not fail to start.
//!
//! Adding a column family: add a constant and a row to [`ALL`], document key,
//! value and retention here and in `docs/storage.md`, and say who deletes its
//! entries so it cannot grow without bound.

/// Small facts about the database itself. Key: UTF-8 name. Values:
/// * `format` — the storage format version (`1`);
/// * `next_bus_id` — u32 big-endian, the id the next bus gets;
/// * `log_lanes_from` — u32 big-endian, the first bus id whose log lives in
///   its lane of [`LOG_LANES`] rather than in [`EVENTS`] ([`log_column`]);
/// * `bus_floor/<bus id>` — u64 big-endian, the highest sequence number
///   retention has deleted, so numbering continues after a bus is emptied;
/// * `token/<id>` — an API token (catalogue record, JSON);
/// * `setting/<name>` — a server-wide setting (catalogue record, JSON);
/// * `aws/<kind>/<name>` — the AWS front's connections, API destinations,
///   archives and replays (catalogue records, JSON; deleted through the AWS
///   API).
pub const META: &str = "meta";

/// Bus definitions. Key: bus name. Value: JSON `BusRecord` with a `v`
/// version member. Removed by `DELETE /v1/buses/{bus}`.
pub const BUSES: &str = "buses";

/// The bus log. Key: `bus_id | seq` ([`super::keys::event`]). Value: the
/// binary event encoding ([`super::codec`]). Trimmed by retention and
/// dropped with the bus.
///
/// The log is spread over [`LOG_LANES`] column families, this one first;
/// [`log_column`] says which holds a bus's events.
pub const EVENTS: &str = "events";

/// The column families of the bus log, each with the same keys and values
/// as [`EVENTS`], which is the first of them.
///
/// Why lanes: a bus's keys only grow, so a memtable holding one bus's
/// events flushes to a file that overlaps no other, and RocksDB moves it
/// down the levels without rewriting it. A memtable shared by several busy
/// buses flushes to files that each span all of their key ranges, which
/// RocksDB must merge: every event written once more, and with four buses
/// at full speed on two cores writes stalled on level-0 files for seconds
/// at a time (docs/benchmarks.md, "A log lane per bus"). 64 lanes give the
/// first 64 buses a memtable each; later buses share them. Idle lanes cost
/// little: opening a folder takes 20–50 ms more, and an idle server holds
/// about 8 MiB more memory.
pub const LOG_LANES: [&str; 64] = [
    EVENTS,
    "events.1",
    "events.2",
    "events.3",
    "events.4",
    "events.5",
    "events.6",
    "events.7",
    "events.8",
    "events.9",
    "events.10",
    "events.11",
    "events.12",
    "events.13",
    "events.14",
    "events.15",
    "events.16",
    "events.17",
    "events.18",
    "events.19",
    "events.20",
    "events.21",
    "events.22",
    "events.23",
    "events.24",
    "events.25",
    "events.26",
    "events.27",
    "events.28",
    "events.29",
    "events.30",
    "events.31",
    "events.32",
    "events.33",
    "events.34",
    "events.35",
    "events.36",
    "events.37",
    "events.38",
    "events.39",
    "events.40",
    "events.41",
    "events.42",
    "events.43",
    "events.44",
    "events.45",
    "events.46",
    "events.47",
    "events.48",
    "events.49",
    "events.50",
    "events.51",
    "events.52",
    "events.53",
    "events.54",
    "events.55",
    "events.56",
    "events.57",
    "events.58",
    "events.59",
    "events.60",
    "events.61",
    "events.62",
    "events.63",
];

/// The column family holding the log of `bus`. Buses numbered below
/// `laned_from` (the `log_lanes_from` entry of [`META`]: the first bus id
/// after the buses of releases before the lanes) keep their whole log in
/// [`EVENTS`], where those releases wrote it; later ones take lane
/// `bus % 64`. Bus ids are handed out in order, so consecutive buses get
/// different lanes.
pub fn log_column(bus: super::keys::BusId, laned_from: super::keys::BusId) -> &'static str {
    if bus < laned_from {
        EVENTS
    } else {
        LOG_LANES[bus as usize % LOG_LANES.len()]
    }
}

/// Look-up of events by id. Key: `bus_id | epoch | id | source | seq`
/// ([`super::keys::epoch_id_prefix`]; earlier releases wrote `bus_id | id
/// | source | seq`, which is still read). Value: empty. An epoch of a
/// million events is deleted in one range once retention has deleted all of
/// its events; the entries of buses with duplicate suppression, and those
/// of the first format, are deleted together with the event they point to.
pub const EVENT_IDS: &str = "event_ids";

/// Rules. Key: `bus_id | rule name`. Value: JSON rule definition (a
/// versioned catalogue record).
pub const RULES: &str = "rules";

/// Per-rule progress over the bus log. Key: `bus_id | rule name`. Value:
/// the last sequence number the rule has fully handled.
pub const CURSORS: &str = "cursors";

/// Per-target delivery queues. Key: `bus_id | rule | target | due time |
/// seq`. Value: the delivery (event reference, attempt count, last error).
/// Entries are deleted when delivered or moved to dead letters.
pub const DELIVERIES: &str = "deliveries";

/// Dead-letter queues. Key: `bus_id | rule | target | seq | attempt`.
/// Value: the event, the failure and timestamps. Purged by the API and by
/// retention.
pub const DEAD_LETTERS: &str = "dead_letters";

/// Event traces. Key: `bus_id | seq | step`. Value: what happened to the
/// event at that step. Trimmed with the events they describe.
pub const TRACES: &str = "traces";

/// Plugin registry. Key: `name | version`. Value: metadata and the
/// component's bytes. Removed by `DELETE /v1/plugins/...`.
pub const PLUGINS: &str = "plugins";

/// Schema registry. Key: `bus_id | schema/ | type \0 version`. Value:
/// JSON (a versioned catalogue record). Dropped with the bus.
pub const SCHEMAS: &str = "schemas";

/// Replays. Key: `bus_id | replay id`. Value: JSON (a versioned catalogue
/// record). Dropped with the bus. (Releases before 0.2 kept them in
/// `schemas`; opening such a folder moves them here.)
pub const REPLAYS: &str = "replays";

/// Event sources. Keys: `bus_id | def/ | name` (the definition) and
/// `bus_id | state/ | name` (its progress, e.g. a schedule's last firing).
/// Values: JSON (versioned catalogue records). Dropped with the bus.
pub const SOURCES: &str = "sources";

/// The tuning of the column family `name`: its row of [`ALL`], or
/// [`Kind::Bulk`] for the log's lanes, or [`Kind::Metadata`] for one this
/// version does not know.
pub fn kind(name: &str) -> Kind {
    if LOG_LANES.contains(&name) {
        return Kind::Bulk;
    }
    ALL.iter()
        .find(|(n, _)| *n == name)
        .map_or(Kind::Metadata, |(_, k)| *k)
}

/// The names of every column family this version knows: [`ALL`] and the
/// log's lanes.
pub fn names() -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .map(|(name, _)| *name)
        .chain(LOG_LANES[1..].iter().copied())
}

/// Every column family this version knows, with whether it holds bulk data
/// (compressed, larger write buffers) or small metadata; the log's lanes
/// after the first ([`LOG_LANES`]) come on top of these.
pub const ALL: [(&str, Kind); 13] = [
    (META, Kind::Metadata),
    (BUSES, Kind::Metadata),
    (EVENTS, Kind::Bulk),
    (EVENT_IDS, Kind::IdIndex),
    (RULES, Kind::Metadata),
    (CURSORS, Kind::Metadata),
    (DELIVERIES, Kind::Index),
    (DEAD_LETTERS, Kind::Bulk),
    (TRACES, Kind::Bulk),
    (PLUGINS, Kind::Metadata),
    (SCHEMAS, Kind::Metadata),
    (REPLAYS, Kind::Metadata),
    (SOURCES, Kind::Metadata),
];

/// How a column family is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Few, small values, read often.
    Metadata,
    /// Many large values written in key order.
    Bulk,
    /// Many small keys in no particular order.
    Index,
    /// Many small keys in no particular order, written with every event
    /// (and read with every event only on buses with duplicate
    /// suppression): compacted in larger steps.
    IdIndex,
}

/// Level-0 files of the event-id index that start a compaction (RocksDB's
/// default is 4).
pub const ID_INDEX_L0_COMPACTION_TRIGGER: i32 = 8;

/// The name RocksDB records with the event-id index's files for the prefix
/// its Bloom filters are built on ([`super::keys::event_id_identity`]).
/// Files written without it (by earlier releases) or under another name are
/// read unfiltered, so changing the prefix means changing the name.
pub const ID_INDEX_PREFIX_EXTRACTOR: &str = "signalbox.event_id_identity.1";

/// Bits per event of the event-id index's Bloom filters: about 1% false
/// positives.
pub const ID_INDEX_BLOOM_BITS_PER_KEY: f64 = 10.0;

/// The share of an event-id index memtable given to its Bloom filter.
pub const ID_INDEX_MEMTABLE_BLOOM_RATIO: f64 = 0.02;

/// The prefix extractor's transform; RocksDB calls it only for keys
/// [`has_id_identity`] accepts.
fn id_identity(key: &[u8]) -> &[u8] {
    super::keys::event_id_identity(key).unwrap_or(key)
}

/// The prefix extractor's domain: keys that hold a whole identity.
fn has_id_identity(key: &[u8]) -> bool {
    super::keys::event_id_identity(key).is_some()
}

/// LZ4 acceleration for the log's column families: higher is faster and
/// compresses less (1 is LZ4's default).
pub const LOG_LZ4_ACCELERATION: i32 = 4;

/// `compression_opts.window_bits` only matters to zlib; RocksDB's default.
const LZ4_WINDOW_BITS_UNUSED: i32 = -14;

/// RocksDB options for a column family of the given kind.
pub fn options(kind: Kind) -> rocksdb::Options {
    let mut o = rocksdb::Options::default();
    match kind {
        Kind::Metadata => {
            o.set_write_buffer_size(4 << 20);
        }
        Kind::Bulk => {
            o.set_write_buffer_size(64 << 20);
            o.set_max_write_buffer_number(4);
            o.set_target_file_size_base(64 << 20);
            // LZ4 at every level, so data is compressed once, when a memtable
            // is flushed. The log's keys only grow, so its files then move
            // down the levels without being rewritten; a level with another
            // compression than the one above forces RocksDB to decompress
            // and recompress every file that crosses it. Measured with
            // `scripts/bench-vs-jetstream`: uncompressed upper levels cost
            // 15–20% of batch ingest (docs/benchmarks.md).
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            // 64 KiB blocks, and LZ4 with acceleration 4 (RocksDB passes a
            // negative level to LZ4 as its acceleration). The larger block
            // lets LZ4 see more of the similar neighbouring events, which
            // wins back the ratio the faster setting gives up: order
            // documents take about as much disk as with 16 KiB blocks at
            // LZ4's default, for about 6% less CPU per ingested event; the
            // flush's LZ4 had been the largest single cost of ingest
            // (docs/benchmarks.md, "Faster LZ4 on larger blocks"). The log
            // is read in runs of adjacent events, which a larger block
            // serves in one read; a lookup of a single event not in the
            // block cache decompresses 64 KiB (tens of microseconds).
            o.set_compression_options(LZ4_WINDOW_BITS_UNUSED, -LOG_LZ4_ACCELERATION, 0, 0);
            let mut t = rocksdb::BlockBasedOptions::default();
            t.set_block_size(64 << 10);
            o.set_block_based_table_factory(&t);
        }
        Kind::Index => {
            o.set_write_buffer_size(32 << 20);
            o.set_max_write_buffer_number(4);
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
        }
        Kind::IdIndex => {
            // Event ids arrive in no order, so every compaction from level 0
            // rewrites most of level 1: its cost is level 1's size over the
            // bytes each compaction brings in. Larger memtables and eight
            // level-0 files per compaction (against 32 MiB and RocksDB's
            // four) bring in four times as much each time, which took the
            // index's compaction CPU from 1.5–3.5 s to 0.7–1.0 s per
            // 20-second batch-ingest run and the server's CPU per event down
            // by about 7% (docs/benchmarks.md, "The event-id index, compacted
            // in larger steps"). Look-ups by id search up to that many more
            // level-0 files; on a bus with duplicate suppression that is one
            // look-up per event, and its ingest did not slow down in the
            // same measurement. The stall triggers move up
            // with the compaction trigger so that writes are not slowed
            // before compaction has had a chance to run.
            o.set_write_buffer_size(64 << 20);
            o.set_max_write_buffer_number(4);
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            o.set_level_zero_file_num_compaction_trigger(ID_INDEX_L0_COMPACTION_TRIGGER);
            o.set_level_zero_slowdown_writes_trigger(40);
            o.set_level_zero_stop_writes_trigger(60);
            // Bloom filters on each event's identity (id and source, without
            // the seq), so that duplicate suppression's look-up for an event
            // never seen before, nearly every one, skips the memtables and
            // files that do not hold it instead of searching each of them
            // (docs/benchmarks.md, "Duplicate suppression: one iterator per
            // group, and Bloom filters"). The bottom level, most of the index, goes without:
            // a look-up reads one block there, and the filters kept in
            // memory stay a small fraction of the index.
            o.set_prefix_extractor(rocksdb::SliceTransform::create(
                ID_INDEX_PREFIX_EXTRACTOR,
                id_identity,
                Some(has_id_identity),
            ));
            o.set_memtable_prefix_bloom_ratio(ID_INDEX_MEMTABLE_BLOOM_RATIO);
            o.set_optimize_filters_for_hits(true);
            let mut t = rocksdb::BlockBasedOptions::default();
            t.set_bloom_filter(ID_INDEX_BLOOM_BITS_PER_KEY, false);
            t.set_whole_key_filtering(false);
            o.set_block_based_table_factory(&t);
            return with_id_partitions(o);
        }
    }
    o
}

/// `o` with RocksDB's fixed-prefix SST partitioner: the index's
/// compactions cut their output wherever a key's
/// [`super::keys::EPOCH_PREFIX_LEN`] bytes (`bus_id | epoch word`) change.
/// Every file the index's compactions
/// write then holds one bus's epoch, as the files the index thread writes
/// do ([`super::recent_ids`]): a later file of a few quiet buses overlaps
/// only their epochs' files, not a busy bus's whole history that lies
/// between them in key order, and retention's dropped epochs are whole
/// files. (rust-rocksdb does not wrap the partitioner; RocksDB's options
/// string reaches it, and keeps everything else `o` sets.)
fn with_id_partitions(mut o: rocksdb::Options) -> rocksdb::Options {
    let partitioner = format!(
        "sst_partitioner_factory={{id=SstPartitionerFixedPrefixFactory;length={}}}",
        super::keys::EPOCH_PREFIX_LEN
    );
    match o.get_options_from_string(partitioner) {
        Ok(partitioned) => partitioned,
        Err(error) => {
            tracing::warn!(%error, "RocksDB refused the event-id index's SST partitioner; compactions will not cut files per epoch.");
            o
        }
    }
}
