//! Batch mode: any body parses to per-entry results or a body error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox::event::json::{parse_batch, to_json_string};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_batch(data) {
        for event in entries.into_iter().flatten() {
            let text = to_json_string(&event);
            let back = parse_batch(format!("[{text}]").as_bytes()).expect("our output is a JSON array");
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].as_ref().expect("valid"), &event);
        }
    }
});
