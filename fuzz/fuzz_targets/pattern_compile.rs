//! The pattern compiler: any input is a pattern or an error; a valid pattern
//! can be added to and removed from a matcher and matched against itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox::pattern::{Matcher, Pattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Pattern::parse(text) {
        let mut m = Matcher::new();
        m.add(1, &p);
        m.add(2, &p);
        let mut out = Vec::new();
        let _ = m.matches_json(data, &mut out);
        assert!(m.remove(1));
        assert!(m.remove(2));
        assert!(m.is_empty());
    }
});
