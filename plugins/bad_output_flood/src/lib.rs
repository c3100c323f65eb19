//! `bad_output_flood` — a transform that returns far too many events.
//!
//! For containment tests: `transform` returns 100,000 copies of the event
//! it got (each with a distinct id), or, with `mode = "wide"`, one copy with
//! 20,000 extensions whose string values are 100 bytes each (2 MB of
//! extension values). The host must refuse the output for exceeding the
//! rule's `max_output_events` or `max_output_bytes`, without copying all of
//! it out of the plugin first, and keep the instance. `init` returns
//! normally.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `mode` | `many` | `many` (many events) or `wide` (many extensions) |

use signalbox_sdk::{AttributeValue, Config, Error, Event, Settings, Transform, config_get};

static MODE: Settings<String> = Settings::new();

struct Flood;

impl Transform for Flood {
    fn init(config: Config) -> Result<(), Error> {
        MODE.set(config_get(&config, "mode").unwrap_or("many").to_owned())
    }

    fn transform(event: Event) -> Result<Vec<Event>, Error> {
        if MODE.get()? == "wide" {
            let mut e = event;
            e.extensions = (0..20_000)
                .map(|i| (format!("x{i}"), AttributeValue::Str("v".repeat(100))))
                .collect();
            return Ok(vec![e]);
        }
        Ok((0..100_000)
            .map(|i| {
                let mut e = event.clone();
                e.id = format!("{}-{i}", event.id);
                e
            })
            .collect())
    }
}

signalbox_sdk::export_transform!(Flood);
