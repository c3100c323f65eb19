//! `bad_garbage_output` — a transform that returns invalid events.
//!
//! For output-validation tests: the host must reject what `transform`
//! returns, failing the call with a message naming the bad attribute, and
//! must not deliver anything from it.
//!
//! Configuration:
//!
//! | key | default | what `transform` returns |
//! |---|---|---|
//! | `case` | `all` | `all`: one event with every fault below at once |
//! | | | `empty-id`: `id` is `""` |
//! | | | `empty-type`: `type` is `""` |
//! | | | `bad-time`: `time` is `"yesterday at noon"` |
//! | | | `bad-extension-name`: extension `BadName` (upper case) |
//! | | | `oversized`: `bytes` bytes of JSON string data (default 2 MiB, over the default 1 MiB event limit) |
//! | | | `second-bad`: a valid event followed by one with an empty `id` (one bad event fails the whole call) |
//! | `bytes` | `2097152` | data size for `oversized` |

use signalbox_sdk::{Config, Error, Event, Settings, Transform, config_get, config_parse_or};

/// The cases `case` accepts.
const CASES: &[&str] = &[
    "all",
    "empty-id",
    "empty-type",
    "bad-time",
    "bad-extension-name",
    "oversized",
    "second-bad",
];

struct GarbageOutput {
    case: String,
    bytes: usize,
}

static SETTINGS: Settings<GarbageOutput> = Settings::new();

impl Transform for GarbageOutput {
    fn init(config: Config) -> Result<(), Error> {
        let case = config_get(&config, "case").unwrap_or("all").to_owned();
        if !CASES.contains(&case.as_str()) {
            return Err(Error::new(format!(
                "config: `case` = {case:?}: expected one of {CASES:?}"
            )));
        }
        let bytes = config_parse_or(&config, "bytes", 2 << 20)?;
        SETTINGS.set(GarbageOutput { case, bytes })
    }

    fn transform(event: Event) -> Result<Vec<Event>, Error> {
        let settings = SETTINGS.get()?;
        let mut out = event.clone();
        match settings.case.as_str() {
            "all" => {
                out.id = String::new();
                out.type_ = String::new();
                out.time = Some("yesterday at noon".to_owned());
                out.set_extension("BadName", "x");
            }
            "empty-id" => out.id = String::new(),
            "empty-type" => out.type_ = String::new(),
            "bad-time" => out.time = Some("yesterday at noon".to_owned()),
            "bad-extension-name" => out.set_extension("BadName", "x"),
            "oversized" => {
                let text = "x".repeat(settings.bytes.saturating_sub(2));
                out.set_data_json(&text)?;
            }
            "second-bad" => {
                let mut bad = event.clone();
                bad.id = String::new();
                return Ok(vec![event, bad]);
            }
            other => unreachable!("case {other} was checked in init"),
        }
        Ok(vec![out])
    }
}

signalbox_sdk::export_transform!(GarbageOutput);
