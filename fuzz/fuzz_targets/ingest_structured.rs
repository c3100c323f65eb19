//! Structured mode: any body must parse to an event or a clear error, and a
//! parsed event must survive a round trip through the JSON writer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox::event::json::{parse_structured, to_json_string};

fuzz_target!(|data: &[u8]| {
    if let Ok(Ok(event)) = parse_structured(data) {
        let again = parse_structured(to_json_string(&event).as_bytes())
            .expect("our output is JSON")
            .expect("our output is a valid event");
        assert_eq!(again, event);
    }
});
