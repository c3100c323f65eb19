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

/// `event_ids`: `bus_id | len(id) | id | len(source) | source | seq`.
///
/// Ordering by id first lets a look-up by id alone find every source that
/// used it; the trailing seq keeps one entry per stored event, so retention
/// can delete exactly the entries of the events it removes.
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
    k.extend_from_slice(&(id.len() as u32).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    if let Some(source) = source {
        k.extend_from_slice(&(source.len() as u32).to_be_bytes());
        k.extend_from_slice(source.as_bytes());
    }
}

/// The `bus_id | len(id) | id | len(source) | source` part of an
/// `event_ids` key (with or without its seq): one event's identity, the
/// prefix the index's Bloom filters are built on. `None` for a key that does
/// not hold a whole source (a look-up by id alone), which the filters then
/// cannot answer.
pub fn event_id_identity(key: &[u8]) -> Option<&[u8]> {
    let len_at = |pos: usize| -> Option<usize> {
        Some(u32::from_be_bytes(key.get(pos..pos.checked_add(4)?)?.try_into().ok()?) as usize)
    };
    let source_len_at = 8usize.checked_add(len_at(4)?)?;
    let end = source_len_at
        .checked_add(4)?
        .checked_add(len_at(source_len_at)?)?;
    key.get(..end)
}

/// A full `event_ids` key.
pub fn event_id(bus: BusId, id: &str, source: &str, seq: Seq) -> Vec<u8> {
    let mut k = event_id_prefix(bus, id, Some(source));
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Decodes an `event_ids` key into `(source, seq)`.
pub fn decode_event_id(key: &[u8]) -> Option<(String, Seq)> {
    let mut pos = 4;
    let mut part = |key: &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(key.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let v = key.get(pos + 4..pos + 4 + len)?.to_vec();
        pos += 4 + len;
        Some(v)
    };
    let _id = part(key)?;
    let source = String::from_utf8(part(key)?).ok()?;
    let seq = Seq::from_be_bytes(key.get(pos..pos + 8)?.try_into().ok()?);
    (pos + 8 == key.len()).then_some((source, seq))
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
