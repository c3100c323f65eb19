//! Key layouts.
//!
//! Numbers are big-endian so RocksDB's byte order is numeric order, and
//! variable-length parts carry a length prefix so that no key is a prefix of
//! a key with a different meaning. Each bus has a numeric id, assigned when it
//! is created and never reused, so a deleted and re-created bus never sees the
//! old bus's events.

pub use crate::store::{BusId, Seq};

/// `events`: `bus_id | seq`.
pub fn event(bus: BusId, seq: Seq) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&bus.to_be_bytes());
    k[4..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Decodes an `events` key.
pub fn decode_event(key: &[u8]) -> Option<(BusId, Seq)> {
    let k: &[u8; 12] = key.try_into().ok()?;
    Some((
        BusId::from_be_bytes(k[..4].try_into().ok()?),
        Seq::from_be_bytes(k[4..].try_into().ok()?),
    ))
}

/// The first key of a bus in any column keyed by `bus_id | …`.
pub fn bus_start(bus: BusId) -> [u8; 4] {
    bus.to_be_bytes()
}

/// The first key after a bus in any column keyed by `bus_id | …` (an
/// exclusive upper bound; bus ids never reach `u32::MAX`).
pub fn bus_end(bus: BusId) -> [u8; 4] {
    (bus + 1).to_be_bytes()
}

/// Bits of a seq that an epoch of the event-id index spans: an epoch holds
/// 2^20 (about a million) consecutive events of a bus. Unit tests use 16
/// events, so that they cross epochs.
#[cfg(not(test))]
pub const ID_EPOCH_BITS: u32 = 20;
#[cfg(test)]
pub const ID_EPOCH_BITS: u32 = 4;

/// Set in the epoch word of every epoch key. The word sits where a key of
/// the first format (below) has its id's length, which never has this bit
/// (ids are far shorter than 2 GiB), so the two formats never collide and
/// the first format's keys sort before a bus's epochs.
const EPOCH_MARK: u32 = 0x8000_0000;

/// The epoch that holds the entries of events stored while their bus had
/// duplicate suppression: one epoch, so that checking an incoming event is
/// one seek whatever the window.
pub const DEDUP_EPOCH: u32 = 0;

/// The epoch of an event stored at `seq` on a bus without duplicate
/// suppression: `1 + seq / 2^ID_EPOCH_BITS`.
pub fn id_epoch(seq: Seq) -> u32 {
    ((seq >> ID_EPOCH_BITS) + 1).min(u64::from(!EPOCH_MARK)) as u32
}

/// The epoch word of an `event_ids` key in `epoch`.
pub fn epoch_word(epoch: u32) -> [u8; 4] {
    (EPOCH_MARK | epoch).to_be_bytes()
}

/// Bytes of an epoch key that name its bus and epoch: `bus_id | epoch
/// word`. Keys sharing them are one bus's entries in one epoch.
pub const EPOCH_PREFIX_LEN: usize = 8;

/// The [`EPOCH_PREFIX_LEN`] bytes of an epoch key as one number, which
/// orders a bus's epochs as their keys do.
pub fn epoch_prefix(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(
        key.get(..EPOCH_PREFIX_LEN)?.try_into().ok()?,
    ))
}

/// The first key of `epoch` of a bus in `event_ids` (`bus_id | epoch
/// word`); the first key after it is the start of `epoch + 1`.
pub fn epoch_start(bus: BusId, epoch: u32) -> [u8; EPOCH_PREFIX_LEN] {
    let mut k = [0u8; EPOCH_PREFIX_LEN];
    k[..4].copy_from_slice(&bus.to_be_bytes());
    k[4..].copy_from_slice(&epoch_word(epoch));
    k
}

/// `event_ids`: `bus_id | epoch word | len(id) | id | len(source) | source |
/// seq`, where the epoch word is [`EPOCH_MARK`] with the entry's epoch.
///
/// Why epochs: event ids arrive in no order, and RocksDB's compactions of
/// an index keyed by id alone rewrite every level below the new entries,
/// ever more of them as the index grows (a tenth of batch ingest's CPU in a
/// 20-second run, docs/benchmarks.md, "The event-id index in epochs").
/// Within an epoch ids are as random as before, but an epoch is finished
/// after a million events, its files then move down the levels without
/// being rewritten, and retention drops it with one range delete.
///
/// Within an epoch, ordering by id first lets a look-up by id alone find
/// every source that used it; the trailing seq keeps one entry per stored
/// event. A look-up visits the bus's epochs from the newest (one seek per
/// epoch, [`super::RocksStore::get_by_id_blocking`]).
///
/// Keys of the first format, written by releases before the epochs, have
/// no epoch word: `bus_id | len(id) | id | len(source) | source | seq`.
/// Look-ups and retention still read them ([`event_id_prefix`]).
pub fn epoch_id_prefix(bus: BusId, epoch: u32, id: &str, source: Option<&str>) -> Vec<u8> {
    let mut k = Vec::with_capacity(event_id_prefix_len(id, source) + 12);
    k.extend_from_slice(&bus.to_be_bytes());
    k.extend_from_slice(&epoch_word(epoch));
    push_id_and_source(&mut k, id, source);
    k
}

/// Appends the `event_ids` key prefix of an entry in `epoch` to `out`,
/// made from the first-format prefix `id_prefix` ([`event_id_prefix`]) by
/// inserting the epoch word after the bus id.
pub fn push_epoch_key(out: &mut Vec<u8>, id_prefix: &[u8], epoch: u32) {
    let (bus, rest) = id_prefix.split_at(4);
    out.extend_from_slice(bus);
    out.extend_from_slice(&epoch_word(epoch));
    out.extend_from_slice(rest);
}

/// An `event_ids` key of the first format, without its seq:
/// `bus_id | len(id) | id | len(source) | source`. An append carries it
/// from the request to the writer, which adds the epoch word.
pub fn event_id_prefix(bus: BusId, id: &str, source: Option<&str>) -> Vec<u8> {
    let mut k = Vec::with_capacity(event_id_prefix_len(id, source) + 8);
    push_event_id_prefix(&mut k, bus, id, source);
    k
}

/// The length of [`event_id_prefix`]'s key.
pub fn event_id_prefix_len(id: &str, source: Option<&str>) -> usize {
    4 + 4 + id.len() + source.map_or(0, |s| 4 + s.len())
}

/// Appends [`event_id_prefix`]'s key to `k`.
pub fn push_event_id_prefix(k: &mut Vec<u8>, bus: BusId, id: &str, source: Option<&str>) {
    k.extend_from_slice(&bus.to_be_bytes());
    push_id_and_source(k, id, source);
}

/// Appends `len(id) | id`, then `len(source) | source` if given.
fn push_id_and_source(k: &mut Vec<u8>, id: &str, source: Option<&str>) {
    k.extend_from_slice(&(id.len() as u32).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    if let Some(source) = source {
        k.extend_from_slice(&(source.len() as u32).to_be_bytes());
        k.extend_from_slice(source.as_bytes());
    }
}

/// The `bus_id | [epoch word |] len(id) | id | len(source) | source` part
/// of an `event_ids` key (with or without its seq): one event's identity in
/// one epoch, the prefix the index's Bloom filters are built on. `None` for
/// a key that does not hold a whole source (a look-up by id alone), which
/// the filters then cannot answer.
pub fn event_id_identity(key: &[u8]) -> Option<&[u8]> {
    let len_at = |pos: usize| -> Option<usize> {
        Some(u32::from_be_bytes(key.get(pos..pos.checked_add(4)?)?.try_into().ok()?) as usize)
    };
    // Keys of the first format have the id's length where epoch keys have
    // their epoch word; for them the result is what it always was, so the
    // filters in their files stay valid under the same extractor name.
    let id_len_at: usize = if len_at(4)? & EPOCH_MARK as usize != 0 {
        8
    } else {
        4
    };
    let source_len_at = (id_len_at + 4).checked_add(len_at(id_len_at)?)?;
    let end = source_len_at
        .checked_add(4)?
        .checked_add(len_at(source_len_at)?)?;
    key.get(..end)
}

/// A full `event_ids` key of the first format (retention deletes those of
/// the events it removes).
pub fn event_id(bus: BusId, id: &str, source: &str, seq: Seq) -> Vec<u8> {
    let mut k = event_id_prefix(bus, id, Some(source));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// A full `event_ids` key in `epoch`.
pub fn epoch_event_id(bus: BusId, epoch: u32, id: &str, source: &str, seq: Seq) -> Vec<u8> {
    let mut k = epoch_id_prefix(bus, epoch, id, Some(source));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The parts of a full `event_ids` key in an epoch: `(bus, id, source,
/// seq)`, borrowed from the key. `None` for a key of the first format or one
/// that does not parse.
pub fn split_epoch_event_id(key: &[u8]) -> Option<(BusId, &[u8], &[u8], Seq)> {
    let k = split_event_id(key)?;
    k.epoch.then_some((k.bus, k.id, k.source, k.seq))
}

/// Decodes an `event_ids` key of either format into `(source, seq)`.
pub fn decode_event_id(key: &[u8]) -> Option<(String, Seq)> {
    let k = split_event_id(key)?;
    Some((String::from_utf8(k.source.to_vec()).ok()?, k.seq))
}

/// A full `event_ids` key of either format, borrowed from the key.
struct EventIdKey<'a> {
    bus: BusId,
    /// Whether it has an epoch word (or is of the first format).
    epoch: bool,
    id: &'a [u8],
    source: &'a [u8],
    seq: Seq,
}

fn split_event_id(key: &[u8]) -> Option<EventIdKey<'_>> {
    let bus = BusId::from_be_bytes(key.get(..4)?.try_into().ok()?);
    let word = u32::from_be_bytes(key.get(4..8)?.try_into().ok()?);
    let epoch = word & EPOCH_MARK != 0;
    let mut pos = if epoch { 8 } else { 4 };
    let mut part = || -> Option<&[u8]> {
        let len = u32::from_be_bytes(key.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let v = key.get(pos + 4..(pos + 4).checked_add(len)?)?;
        pos += 4 + len;
        Some(v)
    };
    let id = part()?;
    let source = part()?;
    // Exactly eight bytes left: the seq.
    let seq = Seq::from_be_bytes(key.get(pos..)?.try_into().ok()?);
    Some(EventIdKey {
        bus,
        epoch,
        id,
        source,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_by_bus_then_seq() {
        let mut keys = [
            event(2, 1),
            event(1, 300),
            event(1, 2),
            event(1, u64::MAX),
            event(0, 5),
        ];
        keys.sort();
        assert_eq!(
            keys.iter()
                .map(|k| decode_event(k).unwrap())
                .collect::<Vec<_>>(),
            vec![(0, 5), (1, 2), (1, 300), (1, u64::MAX), (2, 1)]
        );
        assert!(event(1, u64::MAX).as_slice() < bus_end(1).as_slice());
        assert!(event(1, 0).as_slice() >= bus_start(1).as_slice());
    }

    #[test]
    fn id_prefixes_do_not_collide() {
        // "ab" from source "c" must not be found under id "a".
        let k = event_id(1, "ab", "c", 1);
        assert!(!k.starts_with(&event_id_prefix(1, "a", None)));
        assert!(k.starts_with(&event_id_prefix(1, "ab", None)));
        assert!(k.starts_with(&event_id_prefix(1, "ab", Some("c"))));
        assert!(!k.starts_with(&event_id_prefix(1, "ab", Some(""))));
        assert_eq!(decode_event_id(&k), Some(("c".into(), 1)));
        assert_eq!(decode_event_id(&k[..k.len() - 1]), None);
    }

    #[test]
    fn an_id_keys_identity_is_its_prefix_with_the_source() {
        let full = event_id(7, "ab", "/src", 42);
        let with_source = event_id_prefix(7, "ab", Some("/src"));
        assert_eq!(event_id_identity(&full), Some(with_source.as_slice()));
        assert_eq!(
            event_id_identity(&with_source),
            Some(with_source.as_slice())
        );
        // A key just past the identity's last entry.
        let mut upper = with_source.clone();
        upper.extend_from_slice(&[0xff; 8]);
        assert_eq!(event_id_identity(&upper), Some(with_source.as_slice()));
        // A look-up by id alone, and anything cut short, has no identity.
        let id_only = event_id_prefix(7, "ab", None);
        assert_eq!(event_id_identity(&id_only), None);
        for n in 0..with_source.len() {
            assert_eq!(event_id_identity(&full[..n]), None, "{n} bytes");
        }
        // Lengths that point past the end are not trusted.
        let mut huge = 7u32.to_be_bytes().to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        huge.extend_from_slice(&[0xff; 16]);
        assert_eq!(event_id_identity(&huge), None);
        // Empty id and source are identities too.
        let empty = event_id(7, "", "", 1);
        assert_eq!(event_id_identity(&empty), Some(&empty[..12]));
    }

    #[test]
    fn epoch_keys_sort_after_the_first_format_and_by_epoch() {
        let legacy = event_id(7, "ab", "/s", 1);
        let dedup = epoch_event_id(7, DEDUP_EPOCH, "ab", "/s", 1);
        let first = epoch_event_id(7, id_epoch(1), "zz", "/s", 1);
        let second = epoch_event_id(7, id_epoch(1 << ID_EPOCH_BITS), "aa", "/s", 99);
        assert!(legacy < dedup && dedup < first && first < second);
        assert_eq!(id_epoch(0), 1);
        assert_eq!(id_epoch((1 << ID_EPOCH_BITS) - 1), 1);
        assert_eq!(id_epoch(1 << ID_EPOCH_BITS), 2);
        assert_eq!(id_epoch(u64::MAX), 0x7fff_ffff);
        assert!(legacy.as_slice() < epoch_start(7, 0).as_slice());
        assert!(first.as_slice() >= epoch_start(7, 1).as_slice());
        assert!(first.as_slice() < epoch_start(7, 2).as_slice());
        assert!(second.as_slice() < bus_end(7).as_slice());
        for k in [&legacy, &dedup, &first] {
            assert_eq!(decode_event_id(k), Some(("/s".into(), 1)));
        }
        // An epoch key's identity holds its epoch, so the same event in two
        // epochs has two identities.
        let with_source = epoch_id_prefix(7, 3, "ab", Some("/s"));
        let full = epoch_event_id(7, 3, "ab", "/s", 42);
        assert_eq!(event_id_identity(&full), Some(with_source.as_slice()));
        assert_eq!(event_id_identity(&epoch_id_prefix(7, 3, "ab", None)), None);
        assert_ne!(
            event_id_identity(&epoch_event_id(7, 4, "ab", "/s", 42)),
            Some(with_source.as_slice())
        );
        let mut pushed = Vec::new();
        push_epoch_key(&mut pushed, &event_id_prefix(7, "ab", Some("/s")), 3);
        assert_eq!(pushed, with_source);
        assert_eq!(
            split_epoch_event_id(&full),
            Some((7, &b"ab"[..], &b"/s"[..], 42))
        );
        assert_eq!(split_epoch_event_id(&legacy), None);
        for n in 0..full.len() {
            assert_eq!(split_epoch_event_id(&full[..n]), None, "{n} bytes");
        }
    }

    /// The identity is what the index's Bloom filters were built on, in
    /// files that outlive this release: changing what it returns without
    /// changing the extractor's name (`columns::ID_INDEX_PREFIX_EXTRACTOR`)
    /// would make old filters answer "not here" for ids they hold.
    #[test]
    fn the_identity_of_a_key_stays_what_the_filters_on_disk_were_built_on() {
        let key = event_id(0x0102_0304, "e1", "/s", 9);
        let identity: &[u8] = &[
            1, 2, 3, 4, // bus
            0, 0, 0, 2, b'e', b'1', // id
            0, 0, 0, 2, b'/', b's', // source
        ];
        assert_eq!(event_id_identity(&key), Some(identity));
        assert_eq!(&key[identity.len()..], &9u64.to_be_bytes());
        assert_eq!(
            super::super::columns::ID_INDEX_PREFIX_EXTRACTOR,
            "signalbox.event_id_identity.1"
        );
    }
}
