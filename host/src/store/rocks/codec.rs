//! Value encodings.
//!
//! Events are the hot path, so they use a compact binary layout instead of
//! JSON: an event is written once and read by every rule, and decoding must
//! cost little more than a copy. Every value starts with a format version byte
//! so the layout can change without a migration: readers dispatch on it.
//!
//! Event value, version 1:
//!
//! ```text
//! u8   version = 1
//! i64  received_at, microseconds since the Unix epoch, big-endian
//! u8   presence bits: datacontenttype, dataschema, subject, time
//! str  id, source, type, then each present optional attribute
//! var  number of extensions, then per extension: str name, u8 tag, value
//!      (tag 0 string: str; 1 boolean: u8; 2 integer: i32 big-endian)
//! u8   data tag (0 none, 1 JSON text, 2 text, 3 binary), then bytes
//! ```
//!
//! `str` and `bytes` are a LEB128 length followed by the bytes.

use bytes::Bytes;
use thiserror::Error;

use crate::event::{CloudEvent, Data, ExtensionValue};

const EVENT_V1: u8 = 1;

/// A stored value could not be decoded: the database holds something this
/// version of Signalbox does not understand (or it is corrupt).
#[derive(Debug, Error)]
#[error("undecodable stored value: {0}")]
pub struct DecodeError(pub &'static str);

/// Encodes an event and the time it was received.
pub fn encode_event(event: &CloudEvent, received_at: i64, out: &mut Vec<u8>) {
    out.reserve(event.size() + 32);
    out.push(EVENT_V1);
    out.extend_from_slice(&received_at.to_be_bytes());
    let optional = [
        &event.datacontenttype,
        &event.dataschema,
        &event.subject,
        &event.time,
    ];
    let mut bits = 0u8;
    for (i, v) in optional.iter().enumerate() {
        if v.is_some() {
            bits |= 1 << i;
        }
    }
    out.push(bits);
    put_bytes(out, event.id.as_bytes());
    put_bytes(out, event.source.as_bytes());
    put_bytes(out, event.ty.as_bytes());
    for v in optional.into_iter().flatten() {
        put_bytes(out, v.as_bytes());
    }
    put_varint(out, event.extensions.len() as u64);
    for (name, value) in &event.extensions {
        put_bytes(out, name.as_bytes());
        match value {
            ExtensionValue::String(s) => {
                out.push(0);
                put_bytes(out, s.as_bytes());
            }
            ExtensionValue::Boolean(b) => {
                out.push(1);
                out.push(u8::from(*b));
            }
            ExtensionValue::Integer(i) => {
                out.push(2);
                out.extend_from_slice(&i.to_be_bytes());
            }
        }
    }
    match &event.data {
        None => out.push(0),
        Some(Data::Json(s)) => {
            out.push(1);
            put_bytes(out, s.as_bytes());
        }
        Some(Data::Text(s)) => {
            out.push(2);
            put_bytes(out, s.as_bytes());
        }
        Some(Data::Binary(b)) => {
            out.push(3);
            put_bytes(out, b);
        }
    }
}

/// Reads only the receive time of an encoded event (retention scans use this
/// to avoid decoding whole events).
pub fn event_received_at(value: &[u8]) -> Result<i64, DecodeError> {
    match value {
        [EVENT_V1, rest @ ..] if rest.len() >= 8 => {
            Ok(i64::from_be_bytes(rest[..8].try_into().expect("8 bytes")))
        }
        [EVENT_V1, ..] => Err(DecodeError("truncated event")),
        _ => Err(DecodeError("unknown event format version")),
    }
}

/// Reads only the `id` and `source` of an encoded event, as stored (UTF-8).
pub fn event_id_and_source(value: &[u8]) -> Result<(&str, &str), DecodeError> {
    event_received_at(value)?;
    // version (1) + received_at (8) + presence bits (1)
    let mut r = Reader {
        buf: value,
        pos: 10,
    };
    let mut text = || std::str::from_utf8(r.bytes()?).map_err(|_| DecodeError("invalid UTF-8"));
    let id = text()?;
    Ok((id, text()?))
}

/// Decodes an event and its receive time.
pub fn decode_event(value: &[u8]) -> Result<(CloudEvent, i64), DecodeError> {
    let received_at = event_received_at(value)?;
    let mut r = Reader { buf: value, pos: 9 };
    let bits = r.byte()?;
    let id = r.string()?;
    let source = r.string()?;
    let ty = r.string()?;
    let mut optional: [Option<String>; 4] = Default::default();
    for (i, slot) in optional.iter_mut().enumerate() {
        if bits & (1 << i) != 0 {
            *slot = Some(r.string()?);
        }
    }
    let [datacontenttype, dataschema, subject, time] = optional;
    let n = r.varint()? as usize;
    let mut extensions = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.string()?;
        let value = match r.byte()? {
            0 => ExtensionValue::String(r.string()?),
            1 => ExtensionValue::Boolean(r.byte()? != 0),
            2 => {
                ExtensionValue::Integer(i32::from_be_bytes(r.take(4)?.try_into().expect("4 bytes")))
            }
            _ => return Err(DecodeError("unknown extension tag")),
        };
        extensions.push((name, value));
    }
    let data = match r.byte()? {
        0 => None,
        1 => Some(Data::Json(r.string()?.into())),
        2 => Some(Data::Text(r.string()?)),
        3 => Some(Data::Binary(Bytes::copy_from_slice(r.bytes()?))),
        _ => return Err(DecodeError("unknown data tag")),
    };
    Ok((
        CloudEvent {
            id,
            source,
            ty,
            datacontenttype,
            dataschema,
            subject,
            time,
            extensions,
            data,
        },
        received_at,
    ))
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError("length overflow"))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError("varint too long"))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| DecodeError("length overflow"))?)
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CloudEvent {
        CloudEvent {
            id: "id-1".into(),
            source: "/src".into(),
            ty: "t".into(),
            datacontenttype: Some("application/json".into()),
            dataschema: None,
            subject: Some("s".repeat(300)),
            time: Some("2024-01-01T00:00:00Z".into()),
            extensions: vec![
                ("a".into(), ExtensionValue::String("x".into())),
                ("b".into(), ExtensionValue::Boolean(true)),
                ("c".into(), ExtensionValue::Integer(-7)),
            ],
            data: Some(Data::Json(r#"{"k": [1, 2]}"#.into())),
        }
    }

    #[test]
    fn round_trip() {
        for data in [
            None,
            Some(Data::Json("1".into())),
            Some(Data::Text("hé".into())),
            Some(Data::Binary(Bytes::from_static(&[0, 255, 1]))),
        ] {
            let mut e = sample();
            e.data = data;
            let mut buf = Vec::new();
            encode_event(&e, 1234, &mut buf);
            assert_eq!(event_received_at(&buf).unwrap(), 1234);
            let (back, at) = decode_event(&buf).unwrap();
            assert_eq!(event_id_and_source(&buf).unwrap(), (&*e.id, &*e.source));
            assert_eq!((back, at), (e, 1234));
        }
    }

    #[test]
    fn truncated_values_are_errors_not_panics() {
        let mut buf = Vec::new();
        encode_event(&sample(), 1, &mut buf);
        for len in 0..buf.len() {
            assert!(decode_event(&buf[..len]).is_err(), "len {len}");
        }
        buf[0] = 99;
        assert!(decode_event(&buf).is_err());
    }
}
