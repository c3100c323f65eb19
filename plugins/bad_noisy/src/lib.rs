//! `bad_noisy` — a filter that floods its standard output and error.
//!
//! For containment tests: every `keep` writes about 2.5 MB — 2,500 lines of
//! 1 KiB to stdout, then one 64 KiB line without a newline and a few short
//! lines to stderr — and keeps the event. The host must cap what reaches
//! its log (line length and bytes per second per instance), count the rest
//! in `signalbox_plugin_output_dropped_bytes_total`, say so once, and go on
//! delivering the event. `init` returns normally. Configuration: none; any
//! keys are ignored.

use std::io::Write;

use signalbox_sdk::{Config, Error, Event, Filter};

struct Noisy;

impl Filter for Noisy {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        let line = format!("{}\n", "n".repeat(1023));
        let mut out = std::io::stdout().lock();
        for _ in 0..2500 {
            let _ = out.write_all(line.as_bytes());
        }
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all("e".repeat(64 << 10).as_bytes());
        for i in 0..10 {
            let _ = writeln!(err, "short line {i}");
        }
        let _ = err.flush();
        Ok(true)
    }
}

signalbox_sdk::export_filter!(Noisy);
