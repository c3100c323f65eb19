//! Signalbox: a self-hosted, WebAssembly-extensible CloudEvents router.
//!
//! Producers publish CloudEvents to a **bus**; Signalbox validates them and
//! stores them durably before acknowledging, then routes each one through
//! the rules that select it to their targets. The data path, one module per
//! step, each using only the ones below it (`docs/architecture.md` has the
//! whole picture):
//!
//! ```text
//!   HTTP ──▶ ingest ──▶ store ──▶ matching ──▶ chain ──▶ deliver ──▶ targets
//!            publish    bus log   which rules   filters,   queues, retries,
//!            (quota,    (durable  select it     transform  backoff, DLQ
//!            schemas)   first)
//! ```
//!
//! * [`ingest`] — the one way onto a bus ([`ingest::publish::Publisher`]),
//!   and the three HTTP modes (binary, structured, batch) parsed into events;
//! * [`store`] — the state seam: bus log, rule progress, delivery queues,
//!   traces and the catalogue, behind traits an engine implements
//!   ([`store::rocks`] is the embedded one);
//! * [`matching`] — which rules select an event, over [`pattern`]
//!   (EventBridge event patterns) and [`pattern::cesql`] (CloudEvents SQL);
//! * [`chain`] — what a rule does to an event it selected;
//! * [`deliver`] — targets and their workers: retries, dead letters,
//!   ordering;
//! * [`rules`] — rule definitions, the workers that run them, replays and
//!   redrive;
//! * [`plugin`] — the Wasm plugin platform: sandboxed per-rule instances of
//!   user components (filters, transforms, connectors) and their registry;
//! * [`schema`] — JSON Schemas per bus; [`auth`] — tokens and scopes;
//! * [`api`] — the HTTP API; [`aws`] — the AWS EventBridge API on the same
//!   listener (the same engine behind EventBridge's protocol);
//!   [`server`] — wiring, listener and shutdown;
//!   [`config`] — the server's TOML configuration; [`cli`] — the
//!   `signalbox` command line, server and client in one binary;
//! * ground floor: [`event`] (the CloudEvent), [`bus`] (bus settings),
//!   [`names`], [`duration`], [`ratelimit`], [`metrics`].

pub mod api;
pub mod auth;
pub mod aws;
pub mod bus;
pub mod chain;
pub mod cli;
pub mod config;
pub mod deliver;
pub mod duration;
pub mod event;
pub mod ingest;
pub mod matching;
pub mod metrics;
pub mod names;
pub mod pattern;
pub mod plugin;
pub mod ratelimit;
pub mod rules;
pub mod schema;
pub mod server;
pub mod sources;
pub mod store;

#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    /// The public conformance data vendored in `tests/conformance` (see its
    /// PROVENANCE.md), or `SIGNALBOX_CONFORMANCE_DIR`.
    pub(crate) fn conformance_dir() -> PathBuf {
        std::env::var_os("SIGNALBOX_CONFORMANCE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance"))
            })
    }
}
