//! `bad_trap` — a filter whose `keep` panics.
//!
//! For containment tests. With `panic = "abort"` (the workspace's release
//! profile) a panic prints its message to stderr (which the host logs) and
//! then executes `unreachable`, a trap: the host must fail the event and
//! replace the instance. `init` returns normally.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `mode` | `panic` | `panic` (message on stderr, then trap) or `unreachable` (the bare wasm instruction, nothing printed) |

use signalbox_sdk::{Config, Error, Event, Filter, Settings, config_get};

static UNREACHABLE: Settings<bool> = Settings::new();

struct Trap;

impl Filter for Trap {
    fn init(config: Config) -> Result<(), Error> {
        let unreachable = match config_get(&config, "mode").unwrap_or("panic") {
            "panic" => false,
            "unreachable" => true,
            other => {
                return Err(Error::new(format!(
                    "config: `mode` = {other:?}: expected panic or unreachable"
                )));
            }
        };
        UNREACHABLE.set(unreachable)
    }

    fn keep(event: Event) -> Result<bool, Error> {
        if *UNREACHABLE.get()? {
            #[cfg(target_arch = "wasm32")]
            core::arch::wasm32::unreachable();
        }
        panic!("bad_trap: deliberate panic in keep (event {})", event.id);
    }
}

signalbox_sdk::export_filter!(Trap);
