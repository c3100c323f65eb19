//! `bad_huge_error` — a filter whose `keep` fails with a 1 MiB message.
//!
//! For containment tests: every `keep` returns an [`Error`] whose message is
//! 1 MiB of text. The host must record the failure with the message cut to
//! a bounded length in the event's trace and the rule's plugin status.
//! `init` returns normally. Configuration: none; any keys are ignored.

use signalbox_sdk::{Config, Error, Event, Filter};

struct HugeError;

impl Filter for HugeError {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        Err(Error::new(format!("huge:{}", "x".repeat(1 << 20))))
    }
}

signalbox_sdk::export_filter!(HugeError);
