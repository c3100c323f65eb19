//! `bad_disallowed_host` — a connector that POSTs where it is told, to test
//! the egress allow-list.
//!
//! For sandbox tests: configure `url` with a host that is **not** in the
//! target's `allowed_hosts`. `deliver` POSTs `{"probe":true}` there once per
//! batch and:
//!
//! * returns the [`DeliveryError`] it got, unchanged (the SDK classifies
//!   `HTTP-request-denied` as permanent, with a message about the
//!   allow-list), so the test can check both;
//! * returns `Ok(())` if the request got any response at all, which means
//!   the request left the sandbox: the test treats that as a failure.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `url` | required | where to POST |

use signalbox_sdk::{
    Config, Connector, DeliveryError, Error, Event, Settings, config_require, http,
};

static URL: Settings<String> = Settings::new();

struct DisallowedHost;

impl Connector for DisallowedHost {
    fn init(config: Config) -> Result<(), Error> {
        URL.set(config_require(&config, "url")?.to_owned())
    }

    fn deliver(_events: Vec<Event>) -> Result<(), DeliveryError> {
        let url = URL.get()?;
        match http::post(
            url,
            &[("content-type", "application/json")],
            br#"{"probe":true}"#,
        ) {
            Ok(response) => {
                eprintln!(
                    "bad_disallowed_host: sandbox leak: POST {url} answered {}",
                    response.status
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

signalbox_sdk::export_connector!(DisallowedHost);
