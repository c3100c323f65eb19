//! `connector_webhook` — POSTs each event to a webhook.
//!
//! Each event of a batch is sent, in order, as its own request: `POST <url>`
//! with the event in the CloudEvents JSON format ("structured mode") and
//! `content-type: application/cloudevents+json`. Any 2xx response counts as
//! delivered.
//!
//! The first failure stops the batch and is returned, classified by the
//! SDK's HTTP helper: timeouts, connection failures, 408/425/429 and 5xx are
//! retryable; a host that is not on the rule's `allowed_hosts`, other 4xx,
//! 3xx (redirects are not followed) and invalid configuration are permanent
//! (the batch goes to the dead-letter queue). A retried batch is sent again
//! from its first event, so the receiver may see an event more than once;
//! deduplicate on the event's `source` and `id`.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `url` | required | `http://` or `https://` URL to POST to; its host must be in the target's `allowed_hosts` |
//! | `authorization` | none | value of the `authorization` header, e.g. `Bearer …` |
//! | `timeout_ms` | host default | connect / first-byte / between-bytes timeout per request; keep it below the rule's `limits.call_timeout_ms` |

use std::time::Duration;

use signalbox_sdk::http::Request;
use signalbox_sdk::{
    Config, Connector, DeliveryError, Error, Event, Settings, config_expect_keys, config_get,
    config_parse, config_require,
};

/// The media type of a single event in the CloudEvents JSON format.
const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

struct Webhook {
    url: String,
    authorization: Option<String>,
    timeout: Option<Duration>,
}

static SETTINGS: Settings<Webhook> = Settings::new();

impl Connector for Webhook {
    fn init(config: Config) -> Result<(), Error> {
        config_expect_keys(&config, &["url", "authorization", "timeout_ms"])?;
        let url = config_require(&config, "url")?.trim().to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(Error::new(format!(
                "config: `url` = {url:?}: expected an http:// or https:// URL"
            )));
        }
        let timeout = match config_parse::<u64>(&config, "timeout_ms")? {
            Some(0) => return Err(Error::new("config: `timeout_ms` must be positive")),
            Some(ms) => Some(Duration::from_millis(ms)),
            None => None,
        };
        SETTINGS.set(Webhook {
            url,
            authorization: config_get(&config, "authorization").map(str::to_owned),
            timeout,
        })
    }

    fn deliver(events: Vec<Event>) -> Result<(), DeliveryError> {
        let settings = SETTINGS.get()?;
        let count = events.len();
        for (index, event) in events.iter().enumerate() {
            let body = event.to_cloudevents_json();
            let mut request = Request::new("POST", &settings.url)
                .header("content-type", CLOUDEVENTS_JSON)
                .header(
                    "user-agent",
                    concat!("signalbox-connector-webhook/", env!("CARGO_PKG_VERSION")),
                )
                .body(&body);
            if let Some(authorization) = &settings.authorization {
                request = request.header("authorization", authorization);
            }
            if let Some(timeout) = settings.timeout {
                request = request.timeout(timeout);
            }
            request
                .send()
                .and_then(|response| response.error_for_status())
                .map_err(|e| {
                    e.context(format_args!(
                        "event {}/{count} (id {})",
                        index + 1,
                        event.id
                    ))
                })?;
        }
        Ok(())
    }
}

signalbox_sdk::export_connector!(Webhook);
