//! `bad_reads_env` — a filter that looks at its environment variables and
//! arguments.
//!
//! For sandbox tests. `keep` collects `std::env::vars()` and
//! `std::env::args()`:
//!
//! * if **both are empty** (the sandbox works), it returns `Ok(true)`;
//! * otherwise it returns `Err("env: [\"K=V\", …]; args: [\"…\"]")` listing
//!   everything it saw, so the host test shows exactly what leaked.
//!
//! `init` returns normally. Configuration: none; any keys are ignored.

use signalbox_sdk::{Config, Error, Event, Filter};

struct ReadsEnv;

impl Filter for ReadsEnv {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn keep(_event: Event) -> Result<bool, Error> {
        let vars: Vec<String> = std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect();
        let args: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if vars.is_empty() && args.is_empty() {
            Ok(true)
        } else {
            Err(Error::new(format!("env: {vars:?}; args: {args:?}")))
        }
    }
}

signalbox_sdk::export_filter!(ReadsEnv);
