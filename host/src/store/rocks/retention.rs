//! Retention: deleting events older than their bus's retention.
//!
//! Events are appended in receive order, so the expired events of a bus are
//! a prefix of its log. Retention scans that prefix on a blocking thread
//! (reading only each value's receive time, and its id and source where its
//! id-index entry is deleted on its own), then asks the writer to delete it
//! in one range delete, with the id index's finished epochs in another
//! (`keys::epoch_id_prefix`). It works in chunks of [`CHUNK`] events so
//! that each trim is a small write queued between appends: ingest never
//! waits behind a large delete.
//!
//! It never deletes an event at or after the oldest one a queued delivery
//! holds: deliveries of an unchanged event refer to the log instead of
//! keeping a copy, so a target that is down for longer than the retention
//! keeps the log from its oldest pending delivery on (and
//! `signalbox_store_size_bytes` grows), rather than losing what it owes.

use rocksdb::{Direction, IteratorMode, ReadOptions};

use super::codec;
use super::{RocksStore as Store, columns, keys};
use crate::event::time::now_micros;
use crate::store::StoreError;

/// Events deleted per writer command.
const CHUNK: usize = 10_000;

pub(super) async fn enforce(store: &Store) -> Result<u64, StoreError> {
    let mut total = 0;
    for bus in store.buses() {
        let retention_micros = i64::try_from(bus.config.retention_secs)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000);
        let cutoff = now_micros().saturating_sub(retention_micros);
        loop {
            let s = store.clone();
            let bus_id = bus.id;
            let chunk = tokio::task::spawn_blocking(move || {
                // Queued deliveries may refer to logged events: the log is
                // kept from the oldest of them on, however old it is.
                let floor = s.oldest_queued(bus_id)?;
                expired_chunk(&s, bus_id, cutoff, floor)
            })
            .await
            .map_err(|_| StoreError::Closed)??;
            let Some(chunk) = chunk else {
                break;
            };
            let n = chunk.events as u64;
            store
                .inner
                .writer
                .trim(bus.id, chunk.upto, chunk.id_keys)
                .await?;
            total += n;
            if (n as usize) < CHUNK {
                break;
            }
        }
        // Dead letters live as long as the events they hold would have.
        let s = store.clone();
        let bus_id = bus.id;
        let purged =
            tokio::task::spawn_blocking(move || s.purge_dead_letters_before(bus_id, cutoff))
                .await
                .map_err(|_| StoreError::Closed)??;
        if purged > 0 {
            tracing::info!(bus = %bus.name, purged, "Retention deleted expired dead letters.");
        }
    }
    Ok(total)
}

/// A run of expired events at the start of a bus.
struct ExpiredChunk {
    /// The last one's sequence number.
    upto: keys::Seq,
    /// How many.
    events: usize,
    /// Their id-index keys that are deleted one by one.
    id_keys: Vec<Vec<u8>>,
}

/// Finds up to [`CHUNK`] expired events at the start of a bus, below
/// `floor` (the oldest seq a queued delivery holds); `None` when no event
/// has expired.
fn expired_chunk(
    store: &Store,
    bus: keys::BusId,
    cutoff: i64,
    floor: Option<keys::Seq>,
) -> Result<Option<ExpiredChunk>, StoreError> {
    let mut opts = ReadOptions::default();
    opts.set_iterate_upper_bound(keys::bus_end(bus).to_vec());
    let iter = store.inner.db.iterator_cf_opt(
        store.log_cf(bus),
        opts,
        IteratorMode::From(&keys::bus_start(bus), Direction::Forward),
    );
    // Entries of seq epochs go with their epoch (`writer::trim`); only
    // those of the first format and of buses with duplicate suppression are
    // deleted one by one, and looked for only where the bus has any.
    let ids_cf = store.cf(columns::EVENT_IDS);
    let db = &store.inner.db;
    let legacy = super::writer::has_legacy_ids(db, bus)?;
    let dedup = super::writer::any_key(
        db,
        ids_cf,
        &keys::epoch_start(bus, keys::DEDUP_EPOCH),
        &keys::epoch_start(bus, keys::DEDUP_EPOCH + 1),
    )?;
    let mut upto = None;
    let mut events = 0;
    let mut id_keys = Vec::new();
    for item in iter.take(CHUNK) {
        let (k, v) = item?;
        if codec::event_received_at(&v)? >= cutoff {
            break;
        }
        let (_, seq) = keys::decode_event(&k).ok_or(codec::DecodeError("bad event key"))?;
        if floor.is_some_and(|f| seq >= f) {
            break;
        }
        if legacy || dedup {
            let (id, source) = codec::event_id_and_source(&v)?;
            if legacy {
                id_keys.push(keys::event_id(bus, id, source, seq));
            }
            if dedup {
                id_keys.push(keys::epoch_event_id(
                    bus,
                    keys::DEDUP_EPOCH,
                    id,
                    source,
                    seq,
                ));
            }
        }
        upto = Some(seq);
        events += 1;
    }
    Ok(upto.map(|upto| ExpiredChunk {
        upto,
        events,
        id_keys,
    }))
}
