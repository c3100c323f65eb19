//! `bad_lazy_in_init` — a lazy filter that reads the event during `init`,
//! when there is none.
//!
//! For containment tests: the host must answer the `signalbox:plugin/lazy`
//! call with a trap (the instance fails to start, with a message saying
//! why), not a panic or a stale event. Configuration: none.

use signalbox_sdk::{Config, Error, LazyEvent, LazyFilter};

struct ReadsTooEarly;

impl LazyFilter for ReadsTooEarly {
    fn init(_config: Config) -> Result<(), Error> {
        // Not how a plugin gets a `LazyEvent`: only `keep_lazy` is given one.
        let _ = LazyEvent::__current().type_();
        Ok(())
    }

    fn keep_lazy(_event: &LazyEvent) -> Result<bool, Error> {
        Ok(true)
    }
}

signalbox_sdk::export_lazy_filter!(ReadsTooEarly);
