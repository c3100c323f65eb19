//! Signalbox: a self-hosted, WebAssembly-extensible CloudEvents router.
//!
//! Producers publish CloudEvents to a **bus**; Signalbox validates them and
//! stores them durably before acknowledging. The data path, one module per
//! stage:
//!
//! ```text
//!   HTTP ──▶ ingest ──▶ store ──▶ pattern ──▶ plugin chain ──▶ delivery ──▶ targets
//!            parse &    durable    match        filters,          queues,
//!            validate   bus log    rules        transforms        retries, DLQ
//! ```
//!
//! * [`event`] — the validated [`event::CloudEvent`] and its JSON format;
//! * [`ingest`] — the three HTTP modes (binary, structured, batch) turned into
//!   events, with a precise error for each bad one;
//! * [`pattern`] — EventBridge event patterns compiled into one matcher per
//!   bus, and CloudEvents SQL ([`pattern::cesql`]);
//! * [`plugin`] — the Wasm plugin platform: sandboxed per-rule instances of
//!   user components (filters, transforms, connectors) and their registry;
//! * [`store`] — the only owner of RocksDB: the per-bus log with sequence
//!   numbers, group commit, look-up by id, retention;
//! * [`api`] — the HTTP API; [`server`] — wiring and shutdown;
//! * [`config`] — the server's TOML configuration;
//! * [`cli`] — the `signalbox` command line, server and client in one binary.

pub mod api;
pub mod auth;
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
