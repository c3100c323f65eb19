use super::*;
use crate::event::time::now_micros;
use crate::event::{Data, ExtensionValue};

fn event(id: &str, source: &str) -> CloudEvent {
    CloudEvent {
        id: id.into(),
        source: source.into(),
        ty: "t".into(),
        datacontenttype: Some("application/json".into()),
        dataschema: None,
        subject: None,
        time: None,
        extensions: vec![("k".into(), ExtensionValue::Integer(1))],
        data: Some(Data::Json(format!(r#"{{"id":"{id}"}}"#).into())),
    }
}

fn open(dir: &Path) -> RocksStore {
    RocksStore::open(dir, StoreOptions::default()).unwrap()
}

/// Writes every id entry held in memory to the index, and the index's
/// memtable to a file.
fn flush_ids(store: &RocksStore) {
    store.inner.recent.write_all();
    let ids_cf = store.inner.db.cf_handle(columns::EVENT_IDS).unwrap();
    store.inner.db.flush_cf(ids_cf).unwrap();
}

/// The sources of an id more than one source used, sorted.
fn sources(lookup: Lookup) -> Vec<String> {
    match lookup {
        Lookup::Ambiguous(mut s) => {
            s.sort();
            s
        }
        other => panic!("expected several sources, got {other:?}"),
    }
}

/// A bus named `dedup` whose duplicate suppression looks back `secs`.
async fn dedup_bus(store: &RocksStore, secs: u64) -> Arc<Bus> {
    let config = BusConfig {
        dedup_window_secs: Some(secs),
        ..BusConfig::default()
    };
    store.put_bus("dedup", config).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let events: Vec<_> = (0..5).map(|i| event(&i.to_string(), "/s")).collect();
    let first = store.append(&bus, &events, 42).await.unwrap().first;
    assert_eq!(first, 1);
    assert_eq!(bus.last_seq(), 5);
    let read = store.read_blocking(&bus, 0, 100).unwrap();
    assert_eq!(read.len(), 5);
    assert_eq!(read[2].seq, 3);
    assert_eq!(read[2].event, events[2]);
    assert_eq!(read[2].received_at, 42);
    assert_eq!(store.read_blocking(&bus, 3, 100).unwrap().len(), 2);
    assert_eq!(store.read_blocking(&bus, 0, 2).unwrap().len(), 2);
    assert_eq!(store.first_seq_blocking(&bus).unwrap(), Some(1));
    store.close_blocking().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_distinct_gapless_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = store.clone();
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            let mut firsts = Vec::new();
            for i in 0..50 {
                let evs = vec![
                    event(&format!("{t}-{i}-a"), "/s"),
                    event(&format!("{t}-{i}-b"), "/s"),
                ];
                firsts.push(store.append(&bus, &evs, 1).await.unwrap().first);
            }
            firsts
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let expected: Vec<Seq> = (0..800).map(|i| 1 + 2 * i).collect();
    assert_eq!(all, expected);
    let read = store.read_blocking(&bus, 0, 10_000).unwrap();
    assert_eq!(read.len(), 1600);
    // Both events of one request are adjacent.
    for pair in read.chunks(2) {
        assert_eq!(
            pair[0].event.id.trim_end_matches("-a"),
            pair[1].event.id.trim_end_matches("-b")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbering_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let bus = store.bus(DEFAULT_BUS).unwrap();
        store
            .append(&bus, &[event("a", "/s"), event("b", "/s")], 1)
            .await
            .unwrap();
        store.close_blocking().unwrap();
    }
    let store = tokio::task::spawn_blocking({
        let p = dir.path().to_owned();
        move || open(&p)
    })
    .await
    .unwrap();
    let bus = store.bus(DEFAULT_BUS).unwrap();
    assert_eq!(bus.last_seq(), 2);
    assert_eq!(
        store
            .append(&bus, &[event("c", "/s")], 1)
            .await
            .unwrap()
            .first,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    store
        .append(
            &bus,
            &[
                event("x", "/a"),
                event("x", "/b"),
                event("y", "/a"),
                event("xy", "/a"),
            ],
            1,
        )
        .await
        .unwrap();
    match store.get_by_id_blocking(&bus, "y", None).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sources(store.get_by_id_blocking(&bus, "x", None).unwrap()),
        vec!["/a", "/b"]
    );
    match store.get_by_id_blocking(&bus, "x", Some("/b")).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.get_by_id_blocking(&bus, "z", None).unwrap(),
        Lookup::NotFound
    ));
    assert!(matches!(
        store.get_by_id_blocking(&bus, "x", Some("/c")).unwrap(),
        Lookup::NotFound
    ));
    // A duplicate (same source and id) finds the newest copy.
    store.append(&bus, &[event("y", "/a")], 1).await.unwrap();
    match store.get_by_id_blocking(&bus, "y", None).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 5),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buses_are_isolated_and_deletable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        description: "orders".into(),
        retention_secs: 60,
        max_event_bytes: Some(1000),
        ..BusConfig::default()
    };
    let (orders, created) = store.put_bus("orders", config.clone()).await.unwrap();
    assert!(created);
    let (_, created) = store.put_bus("orders", config.clone()).await.unwrap();
    assert!(!created);
    store.append(&orders, &[event("a", "/s")], 1).await.unwrap();
    let default = store.bus(DEFAULT_BUS).unwrap();
    assert_eq!(store.read_blocking(&default, 0, 10).unwrap().len(), 0);
    assert!(store.delete_bus("orders").await.unwrap());
    assert!(!store.delete_bus("orders").await.unwrap());
    assert!(matches!(
        store.append(&orders, &[event("b", "/s")], 1).await,
        Err(StoreError::BusNotFound(_))
    ));
    assert!(matches!(
        store.delete_bus(DEFAULT_BUS).await,
        Err(StoreError::ProtectedBus)
    ));
    // A re-created bus starts empty, with a new id.
    let (again, _) = store.put_bus("orders", config).await.unwrap();
    assert_ne!(again.id, orders.id);
    assert_eq!(store.read_blocking(&again, 0, 10).unwrap().len(), 0);
    assert_eq!(
        store
            .append(&again, &[event("c", "/s")], 1)
            .await
            .unwrap()
            .first,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_only_expired_events_and_keeps_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        description: String::new(),
        retention_secs: 3600,
        max_event_bytes: None,
        ..BusConfig::default()
    };
    let (bus, _) = store.put_bus("short", config).await.unwrap();
    let old = now_micros() - 2 * 3600 * 1_000_000;
    let old_events: Vec<_> = (0..25_000)
        .map(|i| event(&format!("old{i}"), "/s"))
        .collect();
    store.append(&bus, &old_events, old).await.unwrap();
    store
        .append(&bus, &[event("new", "/s")], now_micros())
        .await
        .unwrap();
    assert_eq!(store.enforce_retention().await.unwrap(), 25_000);
    let left = store.read_blocking(&bus, 0, 100).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].seq, 25_001);
    assert!(matches!(
        store.get_by_id_blocking(&bus, "old7", None).unwrap(),
        Lookup::NotFound
    ));
    assert!(matches!(
        store.get_by_id_blocking(&bus, "new", None).unwrap(),
        Lookup::Found(_)
    ));

    // Empty the bus entirely: numbering must continue after a restart.
    let (bus, _) = store
        .put_bus(
            "short",
            BusConfig {
                description: String::new(),
                retention_secs: 0,
                max_event_bytes: None,
                ..BusConfig::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.enforce_retention().await.unwrap(), 1);
    assert!(store.read_blocking(&bus, 0, 10).unwrap().is_empty());
    store.close_blocking().unwrap();
    drop(store);
    let p = dir.path().to_owned();
    let store = tokio::task::spawn_blocking(move || open(&p)).await.unwrap();
    let bus = store.bus("short").unwrap();
    assert_eq!(bus.last_seq(), 25_001);
    assert_eq!(
        store
            .append(&bus, &[event("later", "/s")], now_micros())
            .await
            .unwrap()
            .first,
        25_002
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_store_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    store.close_blocking().unwrap();
    assert!(matches!(
        store.append(&bus, &[event("a", "/s")], 1).await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_within_the_window_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = dedup_bus(&store, 60).await;
    let now = now_micros();
    let a = store
        .append(
            &bus,
            &[event("1", "/s"), event("2", "/s"), event("1", "/s")],
            now,
        )
        .await
        .unwrap();
    assert_eq!(a.first, 1);
    assert_eq!(a.duplicates, vec![(2, 1)], "a duplicate inside one request");
    assert_eq!(a.seqs(3), vec![(1, false), (2, false), (1, true)]);
    let b = store
        .append(
            &bus,
            &[event("2", "/s"), event("2", "/other"), event("3", "/s")],
            now + 1,
        )
        .await
        .unwrap();
    assert_eq!(
        b.seqs(3),
        vec![(2, true), (3, false), (4, false)],
        "same id from another source is not a duplicate"
    );
    assert_eq!(store.read_blocking(&bus, 0, 100).unwrap().len(), 4);
    // Outside the window the same event is stored again.
    let c = store
        .append(&bus, &[event("1", "/s")], now + 61_000_000)
        .await
        .unwrap();
    assert_eq!(c.seqs(1), vec![(5, false)]);
    // Buses without a window store everything.
    let d = store.bus(DEFAULT_BUS).unwrap();
    let e = store
        .append(&d, &[event("1", "/s"), event("1", "/s")], now)
        .await
        .unwrap();
    assert!(e.duplicates.is_empty());
}

/// Once the event-id index is in files with Bloom filters on each event's
/// identity (id and source), duplicates are still found in every file and
/// level, the newest copy of an event is the one a duplicate repeats, a
/// look-up by id alone, which the filters cannot answer, still finds every
/// source, and look-ups with a source do ask the filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_filtered_files_are_found_by_duplicate_checks_and_look_ups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = dedup_bus(&store, 600).await;
    let ids_cf = store.inner.db.cf_handle(columns::EVENT_IDS).unwrap();
    let now = now_micros();
    // Three files, each with 200 ids of its own and the id "shared" from a
    // source of its own.
    let mut shared_seqs = Vec::new();
    for file in 0..3 {
        let mut events: Vec<_> = (0..200)
            .map(|i| event(&format!("f{file}-{i}"), "/s"))
            .collect();
        events.push(event("shared", &format!("/src{file}")));
        let a = store.append(&bus, &events, now).await.unwrap();
        assert!(a.duplicates.is_empty());
        shared_seqs.push(a.first + 200);
        flush_ids(&store);
    }
    let properties = store
        .inner
        .db
        .property_value_cf(ids_cf, "rocksdb.aggregated-table-properties")
        .unwrap()
        .unwrap();
    let filter_bytes: u64 = properties
        .split(';')
        .find_map(|p| p.trim().strip_prefix("filter block size="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        filter_bytes > 0,
        "the index files have no filters: {properties}"
    );

    // Events from each file again, among new ones: each old one is a
    // duplicate of the event it repeats, and the new ones are stored.
    let batch = [
        event("f0-0", "/s"),
        event("new-1", "/s"),
        event("f1-123", "/s"),
        event("f2-199", "/s"),
        event("f1-123", "/other"),
        event("shared", "/src1"),
        event("shared", "/src3"),
    ];
    let b = store.append(&bus, &batch, now + 1).await.unwrap();
    let first = 3 * 201 + 1;
    assert_eq!(
        b.seqs(batch.len()),
        vec![
            (1, true),
            (first, false),
            (201 + 124, true),
            (2 * 201 + 200, true),
            (first + 1, false),
            (shared_seqs[1], true),
            (first + 2, false),
        ]
    );
    flush_ids(&store);

    // By id alone: every source, whichever file it is in.
    assert_eq!(
        sources(store.get_by_id_blocking(&bus, "shared", None).unwrap()),
        vec!["/src0", "/src1", "/src2", "/src3"]
    );
    // By id and source: through the filters.
    for (file, seq) in shared_seqs.iter().enumerate() {
        match store
            .get_by_id_blocking(&bus, "shared", Some(&format!("/src{file}")))
            .unwrap()
        {
            Lookup::Found(e) => assert_eq!(e.seq, *seq),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        sources(store.get_by_id_blocking(&bus, "f1-123", None).unwrap()),
        vec!["/other", "/s"]
    );
    assert!(matches!(
        store
            .get_by_id_blocking(&bus, "f1-200", Some("/s"))
            .unwrap(),
        Lookup::NotFound
    ));

    // Most of the index moves to the bottom level, which has no filters,
    // and new files come above it: duplicates are found in both.
    store
        .inner
        .db
        .compact_range_cf(ids_cf, None::<&[u8]>, None::<&[u8]>);
    let c = store
        .append(&bus, &[event("f0-1", "/s"), event("late", "/s")], now + 2)
        .await
        .unwrap();
    assert_eq!(c.seqs(2), vec![(2, true), (first + 3, false)]);
    flush_ids(&store);
    // Back after the window, an event is stored again; a third copy is a
    // duplicate of the newest one, not of the first.
    let window = 600 * 1_000_000;
    let d = store
        .append(&bus, &[event("late", "/s")], now + 2 + window + 1)
        .await
        .unwrap();
    assert_eq!(d.seqs(1), vec![(first + 4, false)]);
    flush_ids(&store);
    let e = store
        .append(
            &bus,
            &[event("late", "/s"), event("f2-5", "/s")],
            now + 2 + window + 2,
        )
        .await
        .unwrap();
    assert_eq!(e.seqs(2), vec![(first + 4, true), (first + 5, false)]);

    // A look-up with a source asks the filters, which rule out an identity
    // the index does not hold (RocksDB counts that, per thread).
    use rocksdb::perf::{PerfContext, PerfMetric, PerfStatsLevel, set_perf_stats};
    set_perf_stats(PerfStatsLevel::EnableCount);
    let mut perf = PerfContext::default();
    perf.reset();
    let missing = store.get_by_id_blocking(&bus, "f1-5", Some("/nowhere"));
    let ruled_out = perf.metric(PerfMetric::BloomMemtableMissCount)
        + perf.metric(PerfMetric::BloomSstMissCount);
    set_perf_stats(PerfStatsLevel::Disable);
    assert!(matches!(missing.unwrap(), Lookup::NotFound));
    assert!(ruled_out > 0, "no Bloom filter was asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_earlier_releases_move_on_open() {
    use crate::store::catalogue::{Catalogue, Collection, Scope};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = store.bus(DEFAULT_BUS).unwrap().id;
    {
        let db = &store.inner.db;
        db.put_cf(db.cf_handle(columns::META).unwrap(), b"auth/enforced", b"1")
            .unwrap();
        let mut old = keys::bus_start(id).to_vec();
        old.extend_from_slice(b"replay/rp-1");
        db.put_cf(
            db.cf_handle(columns::SCHEMAS).unwrap(),
            &old,
            br#"{"id":"rp-1"}"#,
        )
        .unwrap();
    }
    store.close_blocking().unwrap();
    drop(store);

    let store = open(dir.path());
    let setting = store
        .get_raw(Collection::Settings, Scope::Server, "auth")
        .await
        .unwrap()
        .unwrap();
    let setting: serde_json::Value = serde_json::from_slice(&setting).unwrap();
    assert_eq!(setting["enforced"], true);
    let replay = store
        .get_raw(Collection::Replays, Scope::Bus(id), "rp-1")
        .await
        .unwrap();
    assert_eq!(replay.as_deref(), Some(&br#"{"id":"rp-1"}"#[..]));
    let db = &store.inner.db;
    assert!(
        db.get_cf(db.cf_handle(columns::META).unwrap(), b"auth/enforced")
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_raw(Collection::Schemas, Scope::Bus(id))
            .await
            .unwrap()
            .is_empty(),
        "the replay no longer shows among the bus's schemas"
    );
    store.close_blocking().unwrap();
}

/// A first delivery, for rule `r`, of logged event `seq` (1-based into
/// `events`, as appended).
fn logged_delivery(
    bus: crate::store::BusId,
    target: &str,
    seq: u64,
    events: &[crate::event::CloudEvent],
) -> crate::store::queue::Delivery {
    crate::store::queue::Delivery {
        key: crate::store::queue::DeliveryKey {
            bus,
            rule: "r".into(),
            target: target.into(),
            seq,
            sub: 0,
        },
        attempts: 0,
        next_attempt_at: 0,
        enqueued_at: 0,
        last_status: None,
        last_error: None,
        event: events[seq as usize - 1].clone(),
        logged: true,
        body: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_events_that_queued_deliveries_refer_to() {
    use crate::store::queue::{Batch, DeliveryKey};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        retention_secs: 3600,
        ..BusConfig::default()
    };
    let (bus, _) = store.put_bus("short", config).await.unwrap();
    let old = now_micros() - 2 * 3600 * 1_000_000;
    let events: Vec<_> = (0..10).map(|i| event(&format!("e{i}"), "/s")).collect();
    store.append(&bus, &events, old).await.unwrap();
    // Two targets owe events 4 and 7, by reference to the log.
    let mut b = Batch::default();
    for (target, seq) in [("a", 7), ("b", 4)] {
        b.put_delivery(logged_delivery(bus.id, target, seq, &events));
    }
    store.commit_blocking(b).unwrap();
    assert_eq!(store.oldest_queued(bus.id).unwrap(), Some(4));
    assert_eq!(
        store.enforce_retention().await.unwrap(),
        3,
        "events 1 to 3 go"
    );
    let (queued, _) = store
        .deliveries(bus.id, "r", "b", None, 10, 1 << 20)
        .unwrap();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].logged);
    assert_eq!(queued[0].event, events[3]);
    // Once delivered, retention takes the rest.
    let mut b = Batch::default();
    for (target, seq) in [("a", 7), ("b", 4)] {
        b.remove_delivery(DeliveryKey {
            bus: bus.id,
            rule: "r".into(),
            target: target.into(),
            seq,
            sub: 0,
        });
    }
    store.commit_blocking(b).unwrap();
    assert_eq!(store.oldest_queued(bus.id).unwrap(), None);
    assert_eq!(store.enforce_retention().await.unwrap(), 7);
    store.close_blocking().unwrap();
}

/// A queue that refers to the log with gaps, runs and a missing event reads
/// back the right event for each delivery (the reader steps forward through
/// the log and seeks across gaps), and a reference to an event that is gone
/// is an error, not another event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_read_their_logged_events_across_gaps() {
    use crate::store::queue::Batch;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let events: Vec<_> = (0..60).map(|i| event(&format!("e{i}"), "/s")).collect();
    store.append(&bus, &events, now_micros()).await.unwrap();
    let delivery = |seq: u64| logged_delivery(bus.id, "t", seq, &events);
    // Adjacent, a gap of two, a gap longer than the reader steps, adjacent
    // again, then the last event.
    let seqs = [1, 2, 3, 6, 40, 41, 42, 60];
    let mut b = Batch::default();
    for seq in seqs {
        b.put_delivery(delivery(seq));
    }
    store.commit_blocking(b).unwrap();
    let (queued, _) = store
        .deliveries(bus.id, "r", "t", None, 100, 1 << 20)
        .unwrap();
    let got: Vec<(u64, String)> = queued
        .iter()
        .map(|d| (d.key.seq, d.event.id.clone()))
        .collect();
    let want: Vec<(u64, String)> = seqs.iter().map(|s| (*s, format!("e{}", s - 1))).collect();
    assert_eq!(got, want);
    // Starting in the middle of the queue.
    let (queued, _) = store
        .deliveries(bus.id, "r", "t", Some((6, 0)), 100, 1 << 20)
        .unwrap();
    assert_eq!(queued.first().map(|d| d.event.id.as_str()), Some("e39"));
    // A delivery whose event is not in the log (seq 61 was never stored).
    let mut b = Batch::default();
    let mut orphan = delivery(60);
    orphan.key.seq = 61;
    b.put_delivery(orphan);
    store.commit_blocking(b).unwrap();
    let read = store.deliveries(bus.id, "r", "t", Some((60, 0)), 100, 1 << 20);
    assert!(read.is_err(), "a missing logged event is reported");
}

/// The table options each column family is opened with, as RocksDB records
/// them in the folder's `OPTIONS-*` file: `(section, option) -> value`.
fn recorded_table_options(dir: &Path) -> std::collections::HashMap<(String, String), String> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("OPTIONS-") && newest.as_ref().is_none_or(|n: &String| name > *n) {
            newest = Some(name);
        }
    }
    let text = std::fs::read_to_string(dir.join(newest.expect("an OPTIONS file"))).unwrap();
    let mut out = std::collections::HashMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert((section.clone(), k.to_owned()), v.to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_written_in_larger_blocks_and_faster_lz4_than_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    // RocksDB records the options when it opens the folder.
    let _store = open(dir.path());
    let options = recorded_table_options(dir.path());
    let block = |cf: &str| {
        options
            .get(&(
                format!("TableOptions/BlockBasedTable \"{cf}\""),
                "block_size".to_owned(),
            ))
            .cloned()
    };
    // RocksDB records `compression_opts` as `{…;level=N;…}`.
    let level = |cf: &str| {
        let opts = options
            .get(&(format!("CFOptions \"{cf}\""), "compression_opts".to_owned()))
            .cloned()
            .unwrap_or_default();
        opts.split(['{', ';', '}'])
            .find_map(|kv| kv.strip_prefix("level=").map(str::to_owned))
    };
    let acceleration = (-columns::LOG_LZ4_ACCELERATION).to_string();
    let bulk = columns::LOG_LANES
        .iter()
        .chain(&[columns::DEAD_LETTERS, columns::TRACES]);
    for &cf in bulk {
        assert_eq!(block(cf).as_deref(), Some("65536"), "{cf}");
        assert_eq!(level(cf).as_deref(), Some(acceleration.as_str()), "{cf}");
    }
    for cf in [columns::EVENT_IDS, columns::DELIVERIES, columns::RULES] {
        assert_eq!(block(cf).as_deref(), Some("4096"), "{cf}");
        // RocksDB's default level, which LZ4 takes as acceleration 1.
        assert_eq!(level(cf).as_deref(), Some("32767"), "{cf}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_index_is_compacted_in_larger_steps_than_the_delivery_queues() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    let options = recorded_table_options(dir.path());
    let cf = |cf: &str, name: &str| {
        options
            .get(&(format!("CFOptions \"{cf}\""), name.to_owned()))
            .cloned()
    };
    let trigger = columns::ID_INDEX_L0_COMPACTION_TRIGGER.to_string();
    let ids = columns::EVENT_IDS;
    assert_eq!(cf(ids, "write_buffer_size").as_deref(), Some("67108864"));
    assert_eq!(
        cf(ids, "level0_file_num_compaction_trigger").as_deref(),
        Some(trigger.as_str())
    );
    assert_eq!(
        cf(ids, "level0_slowdown_writes_trigger").as_deref(),
        Some("40")
    );
    assert_eq!(cf(ids, "level0_stop_writes_trigger").as_deref(), Some("60"));
    // The delivery queues are read all the time, through their tombstones:
    // they keep RocksDB's level-0 limits and smaller memtables.
    let queues = columns::DELIVERIES;
    assert_eq!(cf(queues, "write_buffer_size").as_deref(), Some("33554432"));
    assert_eq!(
        cf(queues, "level0_file_num_compaction_trigger").as_deref(),
        Some("4")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_is_given_eight_background_jobs_a_quarter_of_them_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    let options = recorded_table_options(dir.path());
    let db = |name: &str| {
        options
            .get(&("DBOptions".to_owned(), name.to_owned()))
            .cloned()
    };
    // Eight jobs, a quarter of them flushes; the per-kind limits are left
    // to RocksDB (setting either would override that split).
    assert_eq!(db("max_background_jobs").as_deref(), Some("8"));
    assert_eq!(db("max_background_flushes").as_deref(), Some("-1"));
    assert_eq!(db("max_background_compactions").as_deref(), Some("-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_bypass_the_page_cache_where_the_folder_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let direct = supports_direct_io(dir.path());
    let store = open(dir.path());
    assert!(
        !dir.path().join("direct-io-probe").exists(),
        "the probe file is removed"
    );
    let options = recorded_table_options(dir.path());
    assert_eq!(
        options
            .get(&(
                "DBOptions".to_owned(),
                "use_direct_io_for_flush_and_compaction".to_owned()
            ))
            .map(String::as_str),
        Some(if direct { "true" } else { "false" })
    );
    // A flush writes a table file the way the folder allows, and the events
    // read back from it after a restart.
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let events: Vec<_> = (0..50).map(|i| event(&i.to_string(), "/s")).collect();
    store.append(&bus, &events, 1).await.unwrap();
    store.inner.db.flush_cf(store.log_cf(bus.id)).unwrap();
    store.close_blocking().unwrap();
    drop(store);
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let read = store.read_blocking(&bus, 0, 100).unwrap();
    assert_eq!(read.len(), 50);
    assert_eq!(read[49].event, events[49]);
    store.close_blocking().unwrap();
}

#[test]
fn the_direct_io_probe_fails_where_no_file_can_be_made() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!supports_direct_io(&dir.path().join("missing")));
}

/// The event-id index in epochs (16 events each in unit tests): look-ups
/// find events in every epoch, the newest copy of an event and every
/// source of an id; retention deletes finished epochs in one range, and
/// look-ups skip what is left of an epoch it deleted only part of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_ups_cross_the_id_epochs_and_retention_drops_finished_ones() {
    assert_eq!(
        keys::ID_EPOCH_BITS,
        4,
        "the test's seqs assume 16 per epoch"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        retention_secs: 3600,
        ..BusConfig::default()
    };
    let (bus, _) = store.put_bus("epochs", config).await.unwrap();
    // Seqs 1..=40 (epochs 1, 2 and 3): "e<seq>" from /s, but for "twice"
    // at seqs 5 and 30 and "shared" from /a at 18 and from /b at 35.
    let mut events: Vec<_> = (1..=40).map(|s| event(&format!("e{s}"), "/s")).collect();
    events[4] = event("twice", "/s");
    events[29] = event("twice", "/s");
    events[17] = event("shared", "/a");
    events[34] = event("shared", "/b");
    let old = now_micros() - 2 * 3600 * 1_000_000;
    store.append(&bus, &events[..20], old).await.unwrap();
    store
        .append(&bus, &events[20..], now_micros())
        .await
        .unwrap();
    store.inner.recent.write_all();
    let seq_of = |id: &str, source: Option<&str>| match store
        .get_by_id_blocking(&bus, id, source)
        .unwrap()
    {
        Lookup::Found(e) => Some(e.seq),
        Lookup::NotFound => None,
        other => panic!("{id}: {other:?}"),
    };
    for seq in [1, 15, 16, 17, 31, 32, 40] {
        let id = format!("e{seq}");
        assert_eq!(seq_of(&id, None), Some(seq), "{id}");
        assert_eq!(seq_of(&id, Some("/s")), Some(seq), "{id}");
        assert_eq!(seq_of(&id, Some("/t")), None, "{id}");
    }
    assert_eq!(seq_of("twice", Some("/s")), Some(30));
    assert_eq!(seq_of("twice", None), Some(30));
    assert_eq!(seq_of("shared", Some("/a")), Some(18));
    assert_eq!(seq_of("shared", Some("/b")), Some(35));
    assert_eq!(
        sources(store.get_by_id_blocking(&bus, "shared", None).unwrap()),
        vec!["/a", "/b"]
    );
    assert_eq!(seq_of("e41", None), None);

    // Seqs 1..=20 expire: epoch 1 (up to seq 15) is finished and goes in
    // one range; epoch 2 (16..=31) keeps its entries, which now point below
    // the bus's first event.
    assert_eq!(store.enforce_retention().await.unwrap(), 20);
    let db = &store.inner.db;
    let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
    let in_epoch = |epoch: u32| {
        writer::any_key(
            db,
            ids_cf,
            &keys::epoch_start(bus.id, epoch),
            &keys::epoch_start(bus.id, epoch + 1),
        )
        .unwrap()
    };
    assert!(!in_epoch(1));
    assert!(in_epoch(2));
    assert!(in_epoch(3));
    assert_eq!(seq_of("e1", None), None);
    assert_eq!(seq_of("e17", Some("/s")), None);
    assert_eq!(seq_of("e17", None), None);
    assert_eq!(seq_of("e21", None), Some(21));
    assert_eq!(seq_of("twice", None), Some(30));
    // The deleted copy from /a no longer makes the id ambiguous.
    assert_eq!(seq_of("shared", None), Some(35));

    // Everything expires: the next trim finishes epoch 2 (from the last
    // trim's floor on), and epoch 3's entries outlive their events.
    let (bus, _) = store
        .put_bus(
            "epochs",
            BusConfig {
                retention_secs: 0,
                ..BusConfig::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.enforce_retention().await.unwrap(), 20);
    assert!(!in_epoch(2));
    assert!(in_epoch(3));
    for id in ["e21", "e33", "twice", "shared"] {
        assert!(matches!(
            store.get_by_id_blocking(&bus, id, None).unwrap(),
            Lookup::NotFound
        ));
    }
}

/// Keys of the id index's first format, without an epoch, as earlier
/// releases wrote them: look-ups and duplicate checks still find them, and
/// retention deletes them with their events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_keys_of_the_first_format_are_still_found_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        retention_secs: 3600,
        dedup_window_secs: Some(24 * 3600),
        ..BusConfig::default()
    };
    let (bus, _) = store.put_bus("legacy", config).await.unwrap();
    let old = now_micros() - 2 * 3600 * 1_000_000;
    let ids = ["a", "b", "c"];
    let olds: Vec<_> = ids.iter().map(|id| event(id, "/s")).collect();
    store.append(&bus, &olds, old).await.unwrap();
    store.inner.recent.write_all();
    // What an earlier release would have written for them.
    {
        let db = &store.inner.db;
        let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
        for (i, id) in ids.iter().enumerate() {
            let seq = i as u64 + 1;
            let epoch_key = keys::epoch_event_id(bus.id, keys::DEDUP_EPOCH, id, "/s", seq);
            assert!(db.get_cf(ids_cf, &epoch_key).unwrap().is_some());
            db.delete_cf(ids_cf, &epoch_key).unwrap();
            db.put_cf(ids_cf, keys::event_id(bus.id, id, "/s", seq), [])
                .unwrap();
        }
        assert!(writer::has_legacy_ids(db, bus.id).unwrap());
    }
    store.close_blocking().unwrap();
    drop(store);
    let p = dir.path().to_owned();
    let store = tokio::task::spawn_blocking(move || open(&p)).await.unwrap();
    let bus = store.bus("legacy").unwrap();

    match store.get_by_id_blocking(&bus, "b", None).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 2),
        other => panic!("{other:?}"),
    }
    match store.get_by_id_blocking(&bus, "c", Some("/s")).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 3),
        other => panic!("{other:?}"),
    }
    let again = store
        .append(&bus, &[event("b", "/s"), event("d", "/s")], now_micros())
        .await
        .unwrap();
    assert_eq!(again.duplicates, vec![(0, 2)]);
    assert_eq!(again.first, 4);

    assert_eq!(store.enforce_retention().await.unwrap(), 3);
    assert!(!writer::has_legacy_ids(&store.inner.db, bus.id).unwrap());
    assert!(matches!(
        store.get_by_id_blocking(&bus, "b", None).unwrap(),
        Lookup::NotFound
    ));
    match store.get_by_id_blocking(&bus, "d", None).unwrap() {
        Lookup::Found(e) => assert_eq!(e.seq, 4),
        other => panic!("{other:?}"),
    }
}

/// The seq a look-up finds, `None` if none; panics on an ambiguous id.
fn found_seq(store: &RocksStore, bus: &Bus, id: &str, source: Option<&str>) -> Option<Seq> {
    match store.get_by_id_blocking(bus, id, source).unwrap() {
        Lookup::Found(e) => Some(e.seq),
        Lookup::NotFound => None,
        other => panic!("{id}: {other:?}"),
    }
}

/// Whether the index on disk has an entry of `bus`.
fn bus_has_id_keys(store: &RocksStore, bus: BusId) -> bool {
    let db = &store.inner.db;
    let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
    writer::any_key(db, ids_cf, &keys::bus_start(bus), &keys::bus_end(bus)).unwrap()
}

/// The newest id entries live in memory (tables of at most 20 entries,
/// epochs of 16, in unit tests) and reach the index when their table is
/// sealed: look-ups find an
/// event wherever its entry is, and a clean close leaves none behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_entries_are_found_in_memory_and_on_disk_and_all_reach_the_index_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    // "twice" from /a at seq 1 and 22, and from /b at seq 23.
    let mut events: Vec<_> = (1..=21).map(|n| event(&format!("e{n}"), "/a")).collect();
    events[0] = event("twice", "/a");
    store.append(&bus, &events, 1).await.unwrap();
    store.inner.recent.write_all();
    store
        .append(&bus, &[event("twice", "/a"), event("twice", "/b")], 1)
        .await
        .unwrap();
    assert_eq!(store.inner.recent.pending(), 2);
    assert!(bus_has_id_keys(&store, bus.id));

    for n in 2..=21 {
        let id = format!("e{n}");
        assert_eq!(found_seq(&store, &bus, &id, None), Some(n), "{id}");
        assert_eq!(found_seq(&store, &bus, &id, Some("/a")), Some(n), "{id}");
        assert_eq!(found_seq(&store, &bus, &id, Some("/b")), None, "{id}");
    }
    // The newest copy is in memory, the older one on disk.
    assert_eq!(found_seq(&store, &bus, "twice", Some("/a")), Some(22));
    assert_eq!(found_seq(&store, &bus, "twice", Some("/b")), Some(23));
    assert_eq!(
        sources(store.get_by_id_blocking(&bus, "twice", None).unwrap()),
        vec!["/a", "/b"]
    );

    store.close_blocking().unwrap();
    assert_eq!(store.inner.recent.pending(), 0);
    let done = store
        .inner
        .db
        .get_cf(
            store.inner.db.cf_handle(columns::META).unwrap(),
            recent_ids::done_key(bus.id),
        )
        .unwrap()
        .unwrap();
    assert_eq!(done, 23u64.to_be_bytes());
    drop(store);
    let p = dir.path().to_owned();
    let store = tokio::task::spawn_blocking(move || open(&p)).await.unwrap();
    let bus = store.bus(DEFAULT_BUS).unwrap();
    assert_eq!(store.inner.recent.pending(), 0);
    assert_eq!(found_seq(&store, &bus, "twice", Some("/a")), Some(22));
    assert_eq!(found_seq(&store, &bus, "e21", None), Some(21));
}

/// A busy bus's table is sealed where its epoch ends, and the epoch's
/// entries become one file that overlaps no other, which RocksDB puts
/// straight into the bottom level: nothing is left for compaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_epoch_of_a_busy_bus_reaches_the_bottom_level_as_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    // Seqs 1..=47 fill epochs 1 (seqs 1–15), 2 (16–31) and 3 (32–47), in
    // groups of five that straddle the epochs' ends.
    let seqs: Vec<u64> = (1..=47).collect();
    for group in seqs.chunks(5) {
        let events: Vec<_> = group
            .iter()
            .map(|n| event(&format!("e{n}"), "/s"))
            .collect();
        store.append(&bus, &events, 1).await.unwrap();
    }
    store.inner.recent.write_all();
    let files: Vec<(i32, u64)> = store
        .inner
        .db
        .live_files()
        .unwrap()
        .into_iter()
        .filter(|f| f.column_family_name == columns::EVENT_IDS)
        .map(|f| (f.level, f.num_entries))
        .collect();
    // The last of RocksDB's default seven levels.
    let bottom = 6;
    let mut entries: Vec<u64> = files.iter().map(|&(_, n)| n).collect();
    entries.sort();
    assert_eq!(entries, vec![15, 16, 16], "{files:?}");
    assert!(files.iter().all(|&(level, _)| level == bottom), "{files:?}");
    for n in [1, 15, 16, 47] {
        assert_eq!(
            found_seq(&store, &bus, &format!("e{n}"), Some("/s")),
            Some(n)
        );
    }
}

/// The index's compactions cut their output per bus and epoch, so no file
/// spans two of them, and the options string that adds the partitioner
/// keeps the rest of the index's options.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compactions_of_the_id_index_keep_one_bus_epoch_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store.bus(DEFAULT_BUS).unwrap();
    let (b, _) = store.put_bus("b", BusConfig::default()).await.unwrap();
    // Bus a fills epochs 1 and 2 and starts 3; bus b has a few in epoch 1.
    for group in (1..=40u64).collect::<Vec<_>>().chunks(7) {
        let events: Vec<_> = group
            .iter()
            .map(|n| event(&format!("a{n}"), "/s"))
            .collect();
        store.append(&a, &events, 1).await.unwrap();
        store.append(&b, &events[..1], 1).await.unwrap();
    }
    store.inner.recent.write_all();
    let db = &store.inner.db;
    // Everything rewritten, the bottom level too: without the partitioner
    // the output would be one file.
    let mut compact = rocksdb::CompactOptions::default();
    compact.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
    db.compact_range_cf_opt(
        db.cf_handle(columns::EVENT_IDS).unwrap(),
        None::<&[u8]>,
        None::<&[u8]>,
        &compact,
    );
    let files: Vec<_> = db
        .live_files()
        .unwrap()
        .into_iter()
        .filter(|f| f.column_family_name == columns::EVENT_IDS)
        .collect();
    assert!(files.len() >= 4, "{} files", files.len());
    for f in &files {
        let (start, end) = (
            f.start_key.as_deref().unwrap(),
            f.end_key.as_deref().unwrap(),
        );
        assert_eq!(start[..8], end[..8], "{}", f.name);
    }
    for n in [1, 16, 40] {
        assert_eq!(found_seq(&store, &a, &format!("a{n}"), Some("/s")), Some(n));
    }

    let options = recorded_table_options(dir.path());
    let cf = |key: &str| {
        options
            .get(&(
                format!("CFOptions \"{}\"", columns::EVENT_IDS),
                key.to_owned(),
            ))
            .cloned()
    };
    let length = format!("length={}", keys::EPOCH_PREFIX_LEN);
    assert!(cf("sst_partitioner_factory").is_some_and(|v| v.contains(&length)));
    assert_eq!(
        cf("prefix_extractor").as_deref(),
        Some(columns::ID_INDEX_PREFIX_EXTRACTOR)
    );
    assert_eq!(
        cf("level0_file_num_compaction_trigger"),
        Some(columns::ID_INDEX_L0_COMPACTION_TRIGGER.to_string())
    );
}

/// Stores events `e1`..`e20` from `/s` on the default bus of a new store in
/// `dir` and closes it cleanly; returns the bus's id.
async fn twenty_events_then_close(dir: &Path) -> BusId {
    let store = open(dir);
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let events: Vec<_> = (1..=20).map(|n| event(&format!("e{n}"), "/s")).collect();
    store.append(&bus, &events, 1).await.unwrap();
    store.close_blocking().unwrap();
    bus.id
}

/// The closed store in `dir` as a bare RocksDB, to change what a crash or
/// another release would have left.
fn open_raw(dir: &Path) -> DB {
    let names = DB::list_cf(&rocksdb::Options::default(), dir).unwrap();
    DB::open_cf(&rocksdb::Options::default(), dir, names).unwrap()
}

/// After a crash, the entries that were only in memory are made again from
/// the log at open: those of the events after the bus's `ids_done` mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_entries_lost_with_memory_are_made_again_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let bus_id = twenty_events_then_close(dir.path()).await;

    // What a crash leaves: the index has the entries up to seq 5 and the
    // mark says so; those after it were in memory.
    {
        let db = open_raw(dir.path());
        let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
        for n in 6..=20u64 {
            let key = keys::epoch_event_id(bus_id, keys::id_epoch(n), &format!("e{n}"), "/s", n);
            assert!(db.get_cf(ids_cf, &key).unwrap().is_some(), "e{n}");
            db.delete_cf(ids_cf, &key).unwrap();
        }
        let meta = db.cf_handle(columns::META).unwrap();
        db.put_cf(meta, recent_ids::done_key(bus_id), 5u64.to_be_bytes())
            .unwrap();
    }

    let p = dir.path().to_owned();
    let store = tokio::task::spawn_blocking(move || open(&p)).await.unwrap();
    let bus = store.bus(DEFAULT_BUS).unwrap();
    for n in 1..=20 {
        assert_eq!(
            found_seq(&store, &bus, &format!("e{n}"), Some("/s")),
            Some(n)
        );
    }
    // And they reach the index again.
    store.inner.recent.write_all();
    let db = &store.inner.db;
    let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
    for n in 6..=20u64 {
        let key = keys::epoch_event_id(bus.id, keys::id_epoch(n), &format!("e{n}"), "/s", n);
        assert!(db.get_cf(ids_cf, &key).unwrap().is_some(), "e{n}");
    }
}

/// Entries still in memory when retention deletes their events, or when
/// their bus is deleted, never reach the index: written after the trim
/// they would stay there for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_entries_of_deleted_events_and_buses_do_not_reach_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let config = BusConfig {
        retention_secs: 0,
        ..BusConfig::default()
    };
    let (expiring, _) = store.put_bus("expiring", config).await.unwrap();
    let (deleted, _) = store
        .put_bus("deleted", BusConfig::default())
        .await
        .unwrap();
    let (kept, _) = store.put_bus("kept", BusConfig::default()).await.unwrap();
    let events: Vec<_> = (1..=5).map(|n| event(&format!("e{n}"), "/s")).collect();
    let old = now_micros() - 1_000_000;
    for bus in [&expiring, &deleted, &kept] {
        store.append(bus, &events, old).await.unwrap();
    }
    // The first ten filled a table; the last five are in the open one.
    assert!(store.inner.recent.pending() >= 5);
    store.inner.recent.write_all();
    assert!(bus_has_id_keys(&store, expiring.id));
    // Two more on each, six entries, all in the open table, then the
    // deletions.
    let more: Vec<_> = (6..=7).map(|n| event(&format!("e{n}"), "/s")).collect();
    for bus in [&expiring, &deleted, &kept] {
        store.append(bus, &more, old).await.unwrap();
    }
    assert_eq!(store.inner.recent.pending(), 6);
    assert_eq!(store.enforce_retention().await.unwrap(), 7);
    assert!(store.delete_bus("deleted").await.unwrap());
    store.inner.recent.write_all();

    // Epoch 1 (seqs up to 15) is only partly trimmed, so the entries
    // written before the trim stay; those held in memory never came.
    let db = &store.inner.db;
    let ids_cf = db.cf_handle(columns::EVENT_IDS).unwrap();
    for n in 1..=7u64 {
        let key =
            |bus: BusId| keys::epoch_event_id(bus, keys::id_epoch(n), &format!("e{n}"), "/s", n);
        assert_eq!(
            db.get_cf(ids_cf, key(expiring.id)).unwrap().is_some(),
            n <= 5,
            "e{n}"
        );
        assert!(db.get_cf(ids_cf, key(kept.id)).unwrap().is_some(), "e{n}");
    }
    assert!(!bus_has_id_keys(&store, deleted.id));
    let meta = db.cf_handle(columns::META).unwrap();
    assert!(
        db.get_cf(meta, recent_ids::done_key(deleted.id))
            .unwrap()
            .is_none()
    );
    for n in 1..=7 {
        assert_eq!(found_seq(&store, &expiring, &format!("e{n}"), None), None);
        assert_eq!(found_seq(&store, &kept, &format!("e{n}"), None), Some(n));
    }
}

/// A folder whose mark lags while the index has every entry (an earlier
/// release ran on it after this one, writing entries with their events) is
/// not made again from the log: only the mark moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_mark_over_a_complete_index_only_moves_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let bus_id = twenty_events_then_close(dir.path()).await;
    {
        let db = open_raw(dir.path());
        let meta = db.cf_handle(columns::META).unwrap();
        db.put_cf(meta, recent_ids::done_key(bus_id), 5u64.to_be_bytes())
            .unwrap();
    }
    let p = dir.path().to_owned();
    let store = tokio::task::spawn_blocking(move || open(&p)).await.unwrap();
    assert_eq!(store.inner.recent.pending(), 0);
    let db = &store.inner.db;
    let meta = db.cf_handle(columns::META).unwrap();
    assert_eq!(
        db.get_cf(meta, recent_ids::done_key(bus_id))
            .unwrap()
            .unwrap(),
        20u64.to_be_bytes()
    );
    let bus = store.bus(DEFAULT_BUS).unwrap();
    assert_eq!(found_seq(&store, &bus, "e20", Some("/s")), Some(20));
}

/// While tables cannot reach the index, readiness says why, the entries
/// stay searchable in memory, and the thread writes them once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_index_write_makes_the_store_unhealthy_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    // Where the files go is taken by a file, so they cannot be made.
    let ingest = dir.path().join(ID_INGEST_DIR);
    std::fs::remove_dir_all(&ingest).unwrap();
    std::fs::write(&ingest, b"in the way").unwrap();
    // The table is sealed where epoch 1 ends (seqs 1–15); seqs 16–20 stay
    // in the open one.
    let events: Vec<_> = (1..=20).map(|n| event(&format!("e{n}"), "/s")).collect();
    store.append(&bus, &events, 1).await.unwrap();
    wait_for(|| store.health().is_err()).await;
    let reason = store.health().unwrap_err();
    assert!(reason.contains("event-id entries"), "{reason}");
    assert_eq!(
        found_seq(&store, &bus, "e1", Some("/s")),
        Some(1),
        "searchable in memory"
    );
    std::fs::remove_file(&ingest).unwrap();
    wait_for(|| store.inner.recent.pending() == 5).await;
    assert_eq!(store.health(), Ok(()));
    assert!(bus_has_id_keys(&store, bus.id));
}

/// Polls `done` every 10 ms for up to 10 s.
async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not done within 10 s");
}

/// The keys of bus `bus` in the column family `cf`.
fn keys_of(store: &RocksStore, cf: &str, bus: BusId) -> usize {
    let cf = store.inner.db.cf_handle(cf).unwrap();
    store
        .inner
        .db
        .prefix_iterator_cf(cf, keys::bus_start(bus))
        .map(Result::unwrap)
        .take_while(|(k, _)| k.starts_with(&keys::bus_start(bus)))
        .count()
}

#[test]
fn buses_take_lanes_in_turn_and_older_buses_keep_the_shared_column() {
    assert_eq!(columns::log_column(3, 5), columns::EVENTS);
    assert_eq!(columns::log_column(5, 5), "events.5");
    assert_eq!(columns::log_column(6, 5), "events.6");
    // Bus 65 shares bus 1's lane.
    assert_eq!(columns::log_column(65, 1), "events.1");
    assert_eq!(columns::log_column(64, 1), columns::EVENTS);
    assert_eq!(columns::kind("events.63"), columns::Kind::Bulk);
    assert_eq!(columns::kind("events.64"), columns::Kind::Metadata);
}

/// A new folder gives every bus a lane of its own: each lane holds one
/// bus's events and nothing of another's, through a restart, and a deleted
/// bus leaves nothing in its lane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bus_of_a_new_folder_writes_its_log_in_its_own_lane() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut buses = vec![store.bus(DEFAULT_BUS).unwrap()];
    for name in ["a", "b"] {
        buses.push(store.put_bus(name, BusConfig::default()).await.unwrap().0);
    }
    let lanes: Vec<&str> = buses
        .iter()
        .map(|b| columns::log_column(b.id, store.inner.laned_from))
        .collect();
    assert!(!lanes.contains(&columns::EVENTS), "{lanes:?}");
    assert_eq!(
        lanes.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    for (i, bus) in buses.iter().enumerate() {
        let events: Vec<_> = (0..=i).map(|n| event(&format!("{i}-{n}"), "/s")).collect();
        store.append(bus, &events, 1).await.unwrap();
    }
    store.close_blocking().unwrap();
    drop(store);
    let store = open(dir.path());
    for (i, name) in [DEFAULT_BUS, "a", "b"].into_iter().enumerate() {
        let bus = store.bus(name).unwrap();
        assert_eq!(bus.last_seq(), i as Seq + 1, "{name}");
        assert_eq!(store.read_blocking(&bus, 0, 10).unwrap().len(), i + 1);
        for (j, other) in buses.iter().enumerate() {
            let expected = if other.id == bus.id { i + 1 } else { 0 };
            assert_eq!(keys_of(&store, lanes[i], other.id), expected, "{name} {j}");
        }
        let found = store
            .get_by_id_blocking(&bus, &format!("{i}-0"), None)
            .unwrap();
        assert!(matches!(found, Lookup::Found(e) if e.seq == 1), "{name}");
    }
    assert_eq!(
        store.first_seq_blocking(&store.bus("b").unwrap()).unwrap(),
        Some(1)
    );
    let b = store.bus("b").unwrap().id;
    assert!(store.delete_bus("b").await.unwrap());
    assert_eq!(keys_of(&store, lanes[2], b), 0);
    store.close_blocking().unwrap();
}

/// A folder written by a release before the lanes: its log is in
/// `events` and it has no `log_lanes_from`. Its buses keep reading and
/// writing there; buses created after the upgrade take lanes; the mark
/// stays where the first open put it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buses_of_a_folder_from_before_the_lanes_keep_their_log_in_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let old = store.put_bus("old", BusConfig::default()).await.unwrap().0;
    let events: Vec<_> = (0..20).map(|i| event(&i.to_string(), "/s")).collect();
    store.append(&old, &events, 1).await.unwrap();
    let default_id = store.bus(DEFAULT_BUS).unwrap().id;
    store.close_blocking().unwrap();
    drop(store);
    // Make the folder look as the earlier release left it.
    {
        let db = open_raw(dir.path());
        let meta = db.cf_handle(columns::META).unwrap();
        let events_cf = db.cf_handle(columns::EVENTS).unwrap();
        for id in [default_id, old.id] {
            let lane = db.cf_handle(columns::log_column(id, 0)).unwrap();
            let moved: Vec<_> = db
                .prefix_iterator_cf(lane, keys::bus_start(id))
                .map(Result::unwrap)
                .take_while(|(k, _)| k.starts_with(&keys::bus_start(id)))
                .collect();
            for (k, v) in moved {
                db.put_cf(events_cf, &k, &v).unwrap();
                db.delete_cf(lane, &k).unwrap();
            }
        }
        db.delete_cf(meta, LANES_FROM_KEY).unwrap();
    }
    let store = open(dir.path());
    let laned_from = store.inner.laned_from;
    assert!(laned_from > old.id, "{laned_from}");
    let old = store.bus("old").unwrap();
    assert_eq!(old.last_seq(), 20);
    assert_eq!(store.read_blocking(&old, 0, 100).unwrap().len(), 20);
    assert!(matches!(
        store.get_by_id_blocking(&old, "7", None).unwrap(),
        Lookup::Found(e) if e.seq == 8
    ));
    store.append(&old, &[event("20", "/s")], 1).await.unwrap();
    assert_eq!(keys_of(&store, columns::EVENTS, old.id), 21);
    let new = store.put_bus("new", BusConfig::default()).await.unwrap().0;
    store.append(&new, &[event("n", "/s")], 1).await.unwrap();
    let lane = columns::log_column(new.id, laned_from);
    assert_ne!(lane, columns::EVENTS);
    assert_eq!(keys_of(&store, lane, new.id), 1);
    assert_eq!(keys_of(&store, columns::EVENTS, new.id), 0);
    store.close_blocking().unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.inner.laned_from, laned_from);
    assert_eq!(store.bus("old").unwrap().last_seq(), 21);
    assert_eq!(store.bus("new").unwrap().last_seq(), 1);
    assert!(store.delete_bus("old").await.unwrap());
    assert_eq!(keys_of(&store, columns::EVENTS, old.id), 0);
    store.close_blocking().unwrap();
}

/// The store's size, its metrics and its clean close cover the log's lanes
/// as much as the other column families.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_metrics_and_close_cover_every_lane() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let bus = store.bus(DEFAULT_BUS).unwrap();
    let lane = columns::log_column(bus.id, store.inner.laned_from);
    assert_ne!(lane, columns::EVENTS);
    let events: Vec<_> = (0..200).map(|i| event(&i.to_string(), "/s")).collect();
    store.append(&bus, &events, 1).await.unwrap();
    let stat = |store: &RocksStore, name: &str| {
        store
            .engine_stats()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .unwrap()
            .2
    };
    assert!(stat(&store, "signalbox_store_memtable_bytes") > 0);
    let lane_cf = store.inner.db.cf_handle(lane).unwrap();
    let in_memtable = |store: &RocksStore| {
        store
            .inner
            .db
            .property_int_value_cf(lane_cf, "rocksdb.num-entries-active-mem-table")
            .unwrap()
            .unwrap()
    };
    assert_eq!(in_memtable(&store), 200);
    store.close_blocking().unwrap();
    // The close flushed the lane: its events are in a file the size counts.
    assert_eq!(in_memtable(&store), 0);
    let lane_files = store
        .inner
        .db
        .property_int_value_cf(lane_cf, "rocksdb.total-sst-files-size")
        .unwrap()
        .unwrap();
    assert!(lane_files > 0);
    assert!(store.approximate_size() >= lane_files);
    assert!(stat(&store, "signalbox_store_size_bytes") >= lane_files);
}
