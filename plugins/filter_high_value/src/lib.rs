//! `filter_high_value` — keeps orders worth at least a threshold.
//!
//! Keeps an event when its JSON data is an object whose `total` member is a
//! number greater than or equal to `threshold`; drops every other event:
//!
//! | data | result |
//! |---|---|
//! | `{"total": 1500, …}` with threshold 1000 | kept |
//! | `{"total": 999.99}` | dropped |
//! | no `total`, or a `total` that is not a number (`"1500"`, `null`) | dropped |
//! | not a JSON object (an array, a string), or no data | dropped |
//! | declared JSON but not valid JSON | error (the host never passes such an event, so this means a bug) |
//!
//! A filter answers "is this a high-value order?", and an event without a
//! numeric total is not one; failing it would put every unrelated event that
//! reaches the rule into the error counts.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `threshold` | `1000` | the smallest total kept (a finite number) |

use serde::Deserialize;
use serde::de::IgnoredAny;
use signalbox_sdk::serde_json::{self, Value};
use signalbox_sdk::{Config, Error, Event, Filter, Settings, config_expect_keys, config_parse_or};

/// The smallest total kept when `threshold` is not configured.
const DEFAULT_THRESHOLD: f64 = 1000.0;

static THRESHOLD: Settings<f64> = Settings::new();

/// Only `total` is read; other members are skipped without being built.
#[derive(Deserialize)]
struct Order {
    total: Option<Value>,
}

struct HighValue;

impl Filter for HighValue {
    fn init(config: Config) -> Result<(), Error> {
        config_expect_keys(&config, &["threshold"])?;
        let threshold = config_parse_or(&config, "threshold", DEFAULT_THRESHOLD)?;
        if !threshold.is_finite() {
            return Err(Error::new(format!(
                "config: `threshold` must be a finite number, got {threshold}"
            )));
        }
        THRESHOLD.set(threshold)
    }

    fn keep(event: Event) -> Result<bool, Error> {
        let threshold = *THRESHOLD.get()?;
        let Some(data) = event.data.as_deref().filter(|_| event.is_json()) else {
            return Ok(false);
        };
        // Deserialising a struct would also accept a JSON array (`[1500]`
        // as `total`), so only objects go that way.
        let is_object = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let parsed = if is_object {
            serde_json::from_slice::<Order>(data).map(|order| order.total)
        } else {
            serde_json::from_slice::<IgnoredAny>(data).map(|_| None)
        };
        match parsed {
            Ok(total) => Ok(total
                .and_then(|total| total.as_f64())
                .is_some_and(|total| total >= threshold)),
            // Valid JSON the struct cannot take (a duplicate `total`, …).
            Err(e) if e.is_data() => Ok(false),
            Err(e) => Err(Error::new(format!(
                "data of event {} is not valid JSON: {e}",
                event.id
            ))),
        }
    }
}

signalbox_sdk::export_filter!(HighValue);
