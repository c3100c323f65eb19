//! `filter_pass` — keeps every event without looking at it.
//!
//! The smallest possible filter: it measures the host's per-call overhead
//! (lifting an event into the component and a `bool` back out) in
//! benchmarks. Configuration: none; any keys are ignored.

use signalbox_sdk::{Config, Error, Event, Filter};

struct Pass;

impl Filter for Pass {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        Ok(true)
    }
}

signalbox_sdk::export_filter!(Pass);
