//! Binary mode: the input is split into header lines ("name: value") and a
//! body after the first empty line; whatever the headers, parsing must not
//! panic.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use signalbox::ingest::{Limits, parse_request};

fuzz_target!(|data: &[u8]| {
    let split = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(2..).unwrap_or_default();
    let mut headers = HeaderMap::new();
    headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = line.split_at(colon);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value[1..].trim_ascii())) {
            headers.append(n, v);
        }
    }
    let limits = Limits { max_event_bytes: 1 << 16, max_batch_events: 100 };
    let _ = parse_request(&headers, Bytes::copy_from_slice(body), limits);
});
