//! `bad_resource_hog` — a connector that takes host resources without bound.
//!
//! For containment tests. Each mode grabs something that lives in the host,
//! outside the plugin's linear memory, so the memory limit does not see it;
//! the host must bound it on its own. `deliver` then fails with a permanent
//! [`DeliveryError`] saying what it got, which the test reads from the dead
//! letter (or the call traps, which the test reads the same way).
//!
//! | `mode` | what `deliver` does | what the host must do |
//! |---|---|---|
//! | `fields` (default) | creates 500,000 `wasi:http` header `fields` and keeps them | cap the resource table: the call traps |
//! | `requests` | starts 40 GET requests to `url` at once (a server that never answers) and counts those the host refuses | refuse all but the per-instance maximum at once |
//! | `download` | GETs `url` and reads the whole body, however large | fail the read past the response size limit |
//!
//! Configuration: `mode` as above, and `url` for `requests` and `download`.
//! `init` returns normally.

use signalbox_sdk::connector_bindings::wasi::http::outgoing_handler;
use signalbox_sdk::connector_bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
use signalbox_sdk::connector_bindings::wasi::io::poll;
use signalbox_sdk::{Config, Connector, DeliveryError, Error, Event, Settings, config_get, http};

static MODE: Settings<String> = Settings::new();
static URL: Settings<String> = Settings::new();

struct ResourceHog;

impl Connector for ResourceHog {
    fn init(config: Config) -> Result<(), Error> {
        MODE.set(config_get(&config, "mode").unwrap_or("fields").to_owned())?;
        URL.set(config_get(&config, "url").unwrap_or("").to_owned())
    }

    fn deliver(_events: Vec<Event>) -> Result<(), DeliveryError> {
        let mode = MODE
            .get()
            .map_err(|e| DeliveryError::permanent(e.message))?;
        let url = URL.get().map_err(|e| DeliveryError::permanent(e.message))?;
        match mode.as_str() {
            "requests" => requests(url),
            "download" => download(url),
            _ => fields(),
        }
    }
}

fn fields() -> Result<(), DeliveryError> {
    let mut kept = Vec::new();
    for _ in 0..500_000 {
        kept.push(Fields::new());
    }
    Err(DeliveryError::permanent(format!(
        "sandbox leak: {} resources were created",
        kept.len()
    )))
}

/// Starts 40 requests without waiting for any, then waits until every one
/// that the host refused has said so, and reports how many that was.
fn requests(url: &str) -> Result<(), DeliveryError> {
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| DeliveryError::permanent("url must be http://host:port"))?
        .trim_end_matches('/');
    let mut futures = Vec::new();
    let mut refused = 0;
    let mut first_error = String::new();
    for _ in 0..40 {
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_scheme(Some(&Scheme::Http));
        let _ = request.set_authority(Some(authority));
        let _ = request.set_path_with_query(Some("/"));
        match outgoing_handler::handle(request, None) {
            Ok(f) => futures.push(f),
            Err(e) => {
                refused += 1;
                first_error = format!("{e:?}");
            }
        }
    }
    // Refusals arrive at once; the accepted requests hang. Wait until no
    // more become ready within a short while.
    let mut pending: Vec<_> = futures.into_iter().collect();
    loop {
        let pollables: Vec<_> = pending.iter().map(|f| f.subscribe()).collect();
        let timer =
            signalbox_sdk::connector_bindings::wasi::clocks::monotonic_clock::subscribe_duration(
                200_000_000,
            );
        let mut all: Vec<&poll::Pollable> = pollables.iter().collect();
        all.push(&timer);
        let ready = poll::poll(&all);
        let timed_out = ready.iter().any(|&i| i as usize == pollables.len());
        let mut done = Vec::new();
        for &i in &ready {
            if (i as usize) < pollables.len() {
                done.push(i as usize);
            }
        }
        drop(all);
        drop(pollables);
        done.sort_unstable();
        for i in done.into_iter().rev() {
            let f = pending.remove(i);
            if let Some(Ok(Err(e))) = f.get() {
                refused += 1;
                if first_error.is_empty() {
                    first_error = format!("{e:?}");
                }
            }
        }
        if timed_out || pending.is_empty() {
            break;
        }
    }
    Err(DeliveryError::permanent(format!(
        "{refused} of 40 requests refused; first refusal: {first_error}"
    )))
}

fn download(url: &str) -> Result<(), DeliveryError> {
    let response = http::Request::new("GET", url)
        .max_response_bytes(usize::MAX)
        .send()?;
    Err(DeliveryError::permanent(format!(
        "sandbox leak: downloaded {} bytes",
        response.body.len()
    )))
}

signalbox_sdk::export_connector!(ResourceHog);
