//! `bad_infinite_loop` — a filter whose `keep` never returns.
//!
//! For containment tests: the host's per-call deadline must stop it, fail
//! the event, and replace the instance; other rules must keep flowing.
//! `init` returns normally. Configuration: none; any keys are ignored.

use std::hint::black_box;

use signalbox_sdk::{Config, Error, Event, Filter};

struct InfiniteLoop;

impl Filter for InfiniteLoop {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(event: Event) -> Result<bool, Error> {
        // `black_box` keeps the optimiser from proving anything about the
        // loop; it spins on pure computation (no host calls), which only an
        // epoch/fuel interruption can stop.
        let mut n = black_box(event.id.len() as u64);
        loop {
            n = black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

signalbox_sdk::export_filter!(InfiniteLoop);
