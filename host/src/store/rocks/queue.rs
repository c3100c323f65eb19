//! Rule progress, delivery queues, dead letters and traces on RocksDB.
//!
//! Key layouts (all numbers big-endian):
//!
//! * `cursors`: `bus_id | rule` → `seq` (u64), the last event the rule has
//!   fully handled; `bus_id | rule \0 gaps` → its [`RuleGaps`] (JSON);
//! * `deliveries`: `bus_id | len16 rule | rule | len16 target | target | seq |
//!   sub` → [`Delivery`] (binary, version byte first); `sub` numbers the
//!   events a transform made from one source event;
//! * `dead_letters`: the same key → [`DeadLetter`] (JSON);
//! * `traces`: `bus_id | seq | time µs | nonce` → [`TraceStep`] (JSON).
//!
//! A [`Batch`] becomes one `WriteBatch`: all of it or none.

use bytes::Bytes;
use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use super::codec::{self, DecodeError, Reader, put_bytes, put_varint};
use super::{RocksStore, columns};
use crate::event::CloudEvent;
use crate::store::queue::{
    Batch, DeadLetter, DeadLetterPage, Delivery, DeliveryKey, Op, PreparedBody, RuleGaps, TraceStep,
};
use crate::store::{BusId, Seq, StoreError};

/// A delivery holding a copy of its event.
const DELIVERY_V1: u8 = 1;
/// A delivery of the logged event unchanged: the event is read from the
/// `events` column family when the delivery is loaded, so a delivery costs
/// its header, not a copy of the event per target.
const DELIVERY_LOGGED: u8 = 2;

fn rule_prefix(bus: BusId, rule: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(6 + rule.len());
    k.extend_from_slice(&bus.to_be_bytes());
    k.extend_from_slice(&(rule.len() as u16).to_be_bytes());
    k.extend_from_slice(rule.as_bytes());
    k
}

fn target_prefix(bus: BusId, rule: &str, target: &str) -> Vec<u8> {
    let mut k = rule_prefix(bus, rule);
    k.extend_from_slice(&(target.len() as u16).to_be_bytes());
    k.extend_from_slice(target.as_bytes());
    k
}

fn delivery_key(key: &DeliveryKey) -> Vec<u8> {
    let mut k = target_prefix(key.bus, &key.rule, &key.target);
    k.extend_from_slice(&key.seq.to_be_bytes());
    k.extend_from_slice(&key.sub.to_be_bytes());
    k
}

fn decode_delivery_key(k: &[u8]) -> Option<DeliveryKey> {
    let bus = BusId::from_be_bytes(k.get(..4)?.try_into().ok()?);
    let mut pos = 4;
    let mut part = || -> Option<String> {
        let len = u16::from_be_bytes(k.get(pos..pos + 2)?.try_into().ok()?) as usize;
        let s = std::str::from_utf8(k.get(pos + 2..pos + 2 + len)?)
            .ok()?
            .to_owned();
        pos += 2 + len;
        Some(s)
    };
    let rule = part()?;
    let target = part()?;
    let seq = Seq::from_be_bytes(k.get(pos..pos + 8)?.try_into().ok()?);
    let sub = u32::from_be_bytes(k.get(pos + 8..pos + 12)?.try_into().ok()?);
    (pos + 12 == k.len()).then_some(DeliveryKey {
        bus,
        rule,
        target,
        seq,
        sub,
    })
}

/// The exclusive upper bound of all keys starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

/// A delivery with its event inline, whatever `logged` says: for engines
/// that keep no reference from a queue into the log.
pub(crate) fn encode_delivery_inline(d: &Delivery, out: &mut Vec<u8>) {
    encode_delivery_into(d, false, out);
}

/// Decodes what [`encode_delivery_inline`] wrote.
pub(crate) fn decode_delivery_inline(key: DeliveryKey, v: &[u8]) -> Result<Delivery, DecodeError> {
    decode_delivery(key, v, |_| Err(DecodeError("a delivery without its event")))
}

fn encode_delivery(d: &Delivery) -> Vec<u8> {
    let mut out = Vec::with_capacity(if d.logged { 64 } else { d.event.size() + 64 });
    encode_delivery_into(d, d.logged, &mut out);
    out
}

fn encode_delivery_into(d: &Delivery, logged: bool, out: &mut Vec<u8>) {
    out.push(if logged { DELIVERY_LOGGED } else { DELIVERY_V1 });
    put_varint(out, u64::from(d.attempts));
    out.extend_from_slice(&d.next_attempt_at.to_be_bytes());
    out.extend_from_slice(&d.enqueued_at.to_be_bytes());
    out.extend_from_slice(&d.last_status.unwrap_or(0).to_be_bytes());
    put_bytes(out, d.last_error.as_deref().unwrap_or("").as_bytes());
    match &d.body {
        Some(b) => {
            out.push(1);
            put_bytes(out, b.content_type.as_bytes());
            put_bytes(out, &b.bytes);
        }
        None => out.push(0),
    }
    if !logged {
        codec::encode_event(&d.event, d.enqueued_at, out);
    }
}

/// Decodes a delivery; `logged` reads the event of one that refers to the
/// log.
fn decode_delivery(
    key: DeliveryKey,
    v: &[u8],
    logged: impl FnOnce(&DeliveryKey) -> Result<CloudEvent, DecodeError>,
) -> Result<Delivery, DecodeError> {
    let format = v.first().copied();
    if format != Some(DELIVERY_V1) && format != Some(DELIVERY_LOGGED) {
        return Err(DecodeError("unknown delivery format"));
    }
    let mut r = Reader { buf: v, pos: 1 };
    let attempts = u32::try_from(r.varint()?).map_err(|_| DecodeError("attempts"))?;
    let next_attempt_at = i64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
    let enqueued_at = i64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
    let status = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes"));
    let error = r.string()?;
    let body = match r.byte()? {
        0 => None,
        _ => {
            let content_type = r.string()?;
            let bytes = Bytes::copy_from_slice(r.bytes()?);
            Some(PreparedBody {
                bytes,
                content_type,
            })
        }
    };
    let is_logged = format == Some(DELIVERY_LOGGED);
    let event = if is_logged {
        logged(&key)?
    } else {
        codec::decode_event(&v[r.pos..])?.0
    };
    Ok(Delivery {
        key,
        attempts,
        next_attempt_at,
        enqueued_at,
        last_status: (status != 0).then_some(status),
        last_error: (!error.is_empty()).then_some(error),
        event,
        logged: is_logged,
        body,
    })
}

fn trace_key(bus: BusId, seq: Seq, at: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    k.extend_from_slice(&bus.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(&at.to_be_bytes());
    k.extend_from_slice(&fastrand::u32(..).to_be_bytes());
    k
}

fn cursor_key(bus: BusId, rule: &str) -> Vec<u8> {
    let mut k = bus.to_be_bytes().to_vec();
    k.extend_from_slice(rule.as_bytes());
    k
}

/// Where a rule's [`RuleGaps`] are kept: beside its cursor, under a key no
/// rule name can produce (names never hold a NUL byte).
fn gaps_key(bus: BusId, rule: &str) -> Vec<u8> {
    let mut k = cursor_key(bus, rule);
    k.extend_from_slice(b"\0gaps");
    k
}

/// Reads the logged events a run of deliveries refers to. They come in seq
/// order and are mostly adjacent in the log, so one iterator that steps
/// forward replaces a point lookup per delivery (each a search of every
/// memtable and level); it seeks only across a gap.
struct LogCursor<'a> {
    /// Not valid until the first seek, so the first read seeks.
    it: rocksdb::DBRawIteratorWithThreadMode<'a, rocksdb::DB>,
}

impl<'a> LogCursor<'a> {
    /// Steps tried before seeking instead.
    const MAX_STEPS: usize = 4;

    /// A cursor over the log of `bus`, where all of one queue's events are.
    fn new(store: &'a RocksStore, bus: BusId) -> LogCursor<'a> {
        LogCursor {
            it: store.inner.db.raw_iterator_cf(store.log_cf(bus)),
        }
    }

    /// The logged event a delivery refers to. Retention keeps every event a
    /// queued delivery refers to ([`RocksStore::oldest_queued`]), so it is
    /// there unless the data folder was damaged.
    fn event(&mut self, bus: BusId, seq: Seq) -> Result<CloudEvent, DecodeError> {
        let want = super::keys::event(bus, seq);
        let mut steps = 0;
        while self.it.valid()
            && steps < Self::MAX_STEPS
            && self.it.key().is_some_and(|k| k < want.as_slice())
        {
            self.it.next();
            steps += 1;
        }
        if !(self.it.valid() && self.it.key() == Some(want.as_slice())) {
            self.it.seek(&want[..]);
        }
        if self.it.status().is_err() {
            return Err(DecodeError("cannot read the logged event of a delivery"));
        }
        match (self.it.key(), self.it.value()) {
            (Some(k), Some(v)) if k == want.as_slice() => Ok(codec::decode_event(v)?.0),
            _ => Err(DecodeError("the logged event of a delivery is missing")),
        }
    }
}

impl RocksStore {
    fn cfh(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.inner.db.cf_handle(name).expect("known column family")
    }

    /// Applies a batch atomically (WAL-logged; synced per the store's mode
    /// by the background syncer).
    pub fn commit_blocking(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut wb = WriteBatch::default();
        for op in batch.into_ops() {
            match op {
                Op::SetCursor { bus, rule, seq } => wb.put_cf(
                    self.cfh(columns::CURSORS),
                    cursor_key(bus, &rule),
                    seq.to_be_bytes(),
                ),
                Op::SetGaps { bus, rule, gaps } => wb.put_cf(
                    self.cfh(columns::CURSORS),
                    gaps_key(bus, &rule),
                    serde_json::to_vec(&gaps).expect("gaps serialize"),
                ),
                Op::PutDelivery(d) => wb.put_cf(
                    self.cfh(columns::DELIVERIES),
                    delivery_key(&d.key),
                    encode_delivery(&d),
                ),
                Op::RemoveDelivery(key) => {
                    wb.delete_cf(self.cfh(columns::DELIVERIES), delivery_key(&key))
                }
                Op::PutDeadLetter(key, dl) => wb.put_cf(
                    self.cfh(columns::DEAD_LETTERS),
                    delivery_key(&key),
                    serde_json::to_vec(&dl).expect("dead letters serialize"),
                ),
                Op::RemoveDeadLetter(key) => {
                    wb.delete_cf(self.cfh(columns::DEAD_LETTERS), delivery_key(&key))
                }
                Op::PutTrace { bus, seq, at, json } => {
                    wb.put_cf(self.cfh(columns::TRACES), trace_key(bus, seq, at), json)
                }
            }
        }
        self.inner.db.write(wb)?;
        Ok(())
    }

    /// A rule's gaps (none recorded: the default).
    pub fn rule_gaps(&self, bus: BusId, rule: &str) -> Result<RuleGaps, StoreError> {
        match self
            .inner
            .db
            .get_cf(self.cfh(columns::CURSORS), gaps_key(bus, rule))?
        {
            Some(v) => serde_json::from_slice(&v).map_err(|_| DecodeError("bad rule gaps").into()),
            None => Ok(RuleGaps::default()),
        }
    }

    /// A rule's cursor, if it has one.
    pub fn cursor(&self, bus: BusId, rule: &str) -> Result<Option<Seq>, StoreError> {
        Ok(self
            .inner
            .db
            .get_cf(self.cfh(columns::CURSORS), cursor_key(bus, rule))?
            .and_then(|v| {
                <[u8; 8]>::try_from(v.as_slice())
                    .ok()
                    .map(Seq::from_be_bytes)
            }))
    }

    /// Iterates the keys of `cf` under `prefix`, starting at `start` (which
    /// must itself begin with `prefix`).
    fn prefix_iter<'a>(
        &'a self,
        cf: &str,
        prefix: &[u8],
        start: &[u8],
    ) -> rocksdb::DBIteratorWithThreadMode<'a, rocksdb::DB> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(prefix_end(prefix));
        self.inner.db.iterator_cf_opt(
            self.cfh(cf),
            opts,
            IteratorMode::From(start, Direction::Forward),
        )
    }

    /// Up to `limit` queued deliveries of one target, in queue (seq) order,
    /// strictly after `after`, stopping once they hold `max_bytes` (past the
    /// first). Also says whether it stopped for bytes (more may follow).
    pub fn deliveries(
        &self,
        bus: BusId,
        rule: &str,
        target: &str,
        after: Option<(Seq, u32)>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Delivery>, bool), StoreError> {
        let prefix = target_prefix(bus, rule, target);
        let start = match after {
            Some((seq, sub)) => {
                let mut k = prefix.clone();
                k.extend_from_slice(&seq.to_be_bytes());
                k.extend_from_slice(&sub.to_be_bytes());
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let iter = self.prefix_iter(columns::DELIVERIES, &prefix, &start);
        // Sized up front: a window's refill is up to a thousand deliveries,
        // and growing the vector step by step moved them all several times.
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut bytes = 0;
        let mut log = LogCursor::new(self, bus);
        for item in iter.take(limit) {
            if !out.is_empty() && bytes >= max_bytes {
                return Ok((out, true));
            }
            let (k, v) = item?;
            bytes += v.len();
            let key = decode_delivery_key(&k).ok_or(DecodeError("bad delivery key"))?;
            out.push(decode_delivery(key, &v, |k| log.event(k.bus, k.seq))?);
        }
        Ok((out, false))
    }

    /// The lowest seq any queued delivery of a bus holds, if any: retention
    /// keeps the log from there on, since deliveries may refer to it. One
    /// seek per (rule, target) queue.
    pub(super) fn oldest_queued(&self, bus: BusId) -> Result<Option<Seq>, StoreError> {
        let bus_prefix = bus.to_be_bytes().to_vec();
        let mut start = bus_prefix.clone();
        let mut oldest: Option<Seq> = None;
        loop {
            let mut iter = self.prefix_iter(columns::DELIVERIES, &bus_prefix, &start);
            let Some(item) = iter.next() else { break };
            let (k, _) = item?;
            let key = decode_delivery_key(&k).ok_or(DecodeError("bad delivery key"))?;
            oldest = Some(oldest.map_or(key.seq, |o| o.min(key.seq)));
            // The first key of a queue has its lowest seq: skip to the next
            // queue.
            start = prefix_end(&target_prefix(bus, &key.rule, &key.target));
        }
        Ok(oldest)
    }

    /// Counts queued deliveries of one target (walks the keys).
    pub fn count_deliveries(
        &self,
        bus: BusId,
        rule: &str,
        target: &str,
    ) -> Result<u64, StoreError> {
        self.count_prefix(columns::DELIVERIES, &target_prefix(bus, rule, target))
    }

    /// A page of a rule's dead letters (or one target's), in key order,
    /// strictly after `after`: at most `limit` letters and, past the first,
    /// about `max_bytes` of stored values, so a page of large events stays
    /// small. A letter that cannot be decoded comes back as an error in its
    /// place, so callers can skip it and go on. Also returns whether the
    /// page stopped early (more letters follow).
    pub fn dead_letter_page(
        &self,
        bus: BusId,
        rule: &str,
        target: Option<&str>,
        after: Option<&DeliveryKey>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(DeadLetterPage, bool), StoreError> {
        let prefix = match target {
            Some(t) => target_prefix(bus, rule, t),
            None => rule_prefix(bus, rule),
        };
        let start = match after {
            Some(k) => {
                let mut k = delivery_key(k);
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let start = if start.as_slice() < prefix.as_slice() {
            prefix.clone()
        } else {
            start
        };
        let mut iter = self.prefix_iter(columns::DEAD_LETTERS, &prefix, &start);
        let mut out = Vec::new();
        let mut bytes = 0;
        loop {
            if out.len() >= limit || (!out.is_empty() && bytes >= max_bytes) {
                return Ok((out, iter.next().is_some()));
            }
            let Some(item) = iter.next() else {
                return Ok((out, false));
            };
            let (k, v) = item?;
            let Some(key) = decode_delivery_key(&k) else {
                // Not a key this version writes; nothing to skip past by key.
                continue;
            };
            bytes += v.len();
            let dl = serde_json::from_slice::<DeadLetter>(&v)
                .map_err(|_| DecodeError("bad dead letter"));
            out.push((key, dl));
        }
    }

    /// How many dead letters one target has (walks its keys).
    pub fn count_dead_letters(
        &self,
        bus: BusId,
        rule: &str,
        target: &str,
    ) -> Result<u64, StoreError> {
        self.count_prefix(columns::DEAD_LETTERS, &target_prefix(bus, rule, target))
    }

    /// Deletes dead letters of a rule (optionally one target). Returns how
    /// many.
    pub fn purge_dead_letters(
        &self,
        bus: BusId,
        rule: &str,
        target: Option<&str>,
    ) -> Result<u64, StoreError> {
        let prefix = match target {
            Some(t) => target_prefix(bus, rule, t),
            None => rule_prefix(bus, rule),
        };
        let n = self.count_prefix(columns::DEAD_LETTERS, &prefix)?;
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.cfh(columns::DEAD_LETTERS),
            prefix.as_slice(),
            prefix_end(&prefix).as_slice(),
        );
        self.inner.db.write(b)?;
        Ok(n)
    }

    fn count_prefix(&self, cf: &str, prefix: &[u8]) -> Result<u64, StoreError> {
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(prefix_end(prefix));
        let mut it = self.inner.db.raw_iterator_cf_opt(self.cfh(cf), opts);
        it.seek(prefix);
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.next();
        }
        it.status()?;
        Ok(n)
    }

    /// Deletes the bus's dead letters that died before `cutoff` (µs).
    pub fn purge_dead_letters_before(&self, bus: BusId, cutoff: i64) -> Result<u64, StoreError> {
        let prefix = bus.to_be_bytes().to_vec();
        let iter = self.prefix_iter(columns::DEAD_LETTERS, &prefix, &prefix);
        let mut b = WriteBatch::default();
        let mut n = 0;
        for item in iter {
            let (k, v) = item?;
            let old = serde_json::from_slice::<DeadLetter>(&v)
                .ok()
                .and_then(|dl| crate::event::time::parse_rfc3339(&dl.dead_at).ok())
                .is_some_and(|t| t < cutoff);
            if old {
                b.delete_cf(self.cfh(columns::DEAD_LETTERS), &k);
                n += 1;
            }
        }
        if n > 0 {
            self.inner.db.write(b)?;
        }
        Ok(n)
    }

    /// Every trace step of event `seq`, in time order.
    pub fn trace(&self, bus: BusId, seq: Seq) -> Result<Vec<TraceStep>, StoreError> {
        let mut prefix = bus.to_be_bytes().to_vec();
        prefix.extend_from_slice(&seq.to_be_bytes());
        let iter = self.prefix_iter(columns::TRACES, &prefix, &prefix);
        let mut out = Vec::new();
        for item in iter {
            let (_, v) = item?;
            out.push(serde_json::from_slice(&v).map_err(|_| DecodeError("bad trace step"))?);
        }
        Ok(out)
    }

    /// Deletes a target's queue and dead letters (the target was removed
    /// from its rule).
    pub fn delete_target_state(
        &self,
        bus: BusId,
        rule: &str,
        target: &str,
    ) -> Result<(), StoreError> {
        let prefix = target_prefix(bus, rule, target);
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.cfh(columns::DELIVERIES),
            prefix.as_slice(),
            prefix_end(&prefix).as_slice(),
        );
        b.delete_range_cf(
            self.cfh(columns::DEAD_LETTERS),
            prefix.as_slice(),
            prefix_end(&prefix).as_slice(),
        );
        self.inner.db.write(b)?;
        Ok(())
    }

    /// Deletes everything stored for a rule: cursor, queues, dead letters.
    pub fn delete_rule_state(&self, bus: BusId, rule: &str) -> Result<(), StoreError> {
        let prefix = rule_prefix(bus, rule);
        let mut b = WriteBatch::default();
        b.delete_cf(self.cfh(columns::CURSORS), cursor_key(bus, rule));
        b.delete_cf(self.cfh(columns::CURSORS), gaps_key(bus, rule));
        b.delete_range_cf(
            self.cfh(columns::DELIVERIES),
            prefix.as_slice(),
            prefix_end(&prefix).as_slice(),
        );
        b.delete_range_cf(
            self.cfh(columns::DEAD_LETTERS),
            prefix.as_slice(),
            prefix_end(&prefix).as_slice(),
        );
        self.inner.db.write(b)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Data;

    fn event() -> CloudEvent {
        CloudEvent {
            id: "1".into(),
            source: "/s".into(),
            ty: "t".into(),
            datacontenttype: None,
            dataschema: None,
            subject: None,
            time: None,
            extensions: vec![],
            data: Some(Data::Json("{}".into())),
        }
    }

    #[test]
    fn keys_round_trip_and_order_by_seq() {
        let k = |seq, sub| DeliveryKey {
            bus: 3,
            rule: "r".into(),
            target: "t".into(),
            seq,
            sub,
        };
        let mut keys = [
            delivery_key(&k(10, 0)),
            delivery_key(&k(2, 1)),
            delivery_key(&k(2, 0)),
        ];
        keys.sort();
        assert_eq!(decode_delivery_key(&keys[0]), Some(k(2, 0)));
        assert_eq!(decode_delivery_key(&keys[2]), Some(k(10, 0)));
        // Target "t" and target "tt" never interleave.
        assert!(
            !delivery_key(&DeliveryKey {
                target: "tt".into(),
                ..k(1, 0)
            })
            .starts_with(&target_prefix(3, "r", "t"))
        );
    }

    #[test]
    fn deliveries_round_trip() {
        let d = Delivery {
            key: DeliveryKey {
                bus: 1,
                rule: "r".into(),
                target: "t".into(),
                seq: 5,
                sub: 0,
            },
            attempts: 3,
            next_attempt_at: 99,
            enqueued_at: 42,
            last_status: Some(503),
            last_error: Some("busy".into()),
            event: event(),
            logged: false,
            body: Some(PreparedBody {
                bytes: Bytes::from_static(b"hi"),
                content_type: "text/plain".into(),
            }),
        };
        let back =
            decode_delivery(d.key.clone(), &encode_delivery(&d), |_| unreachable!()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_delivery_of_the_logged_event_stores_no_copy() {
        let mut d = Delivery {
            key: DeliveryKey {
                bus: 1,
                rule: "r".into(),
                target: "t".into(),
                seq: 5,
                sub: 0,
            },
            attempts: 0,
            next_attempt_at: 1,
            enqueued_at: 1,
            last_status: None,
            last_error: None,
            event: event(),
            logged: true,
            body: None,
        };
        let by_ref = encode_delivery(&d);
        d.logged = false;
        let copy = encode_delivery(&d);
        let mut encoded = Vec::new();
        codec::encode_event(&event(), 1, &mut encoded);
        assert_eq!(copy.len(), by_ref.len() + encoded.len());
        let back = decode_delivery(d.key.clone(), &by_ref, |k| {
            assert_eq!((k.bus, k.seq), (1, 5));
            Ok(event())
        })
        .unwrap();
        assert!(back.logged);
        assert_eq!(back.event, event());
    }
}
