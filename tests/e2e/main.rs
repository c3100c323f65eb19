//! End-to-end tests: each starts the real `signalbox` binary on an
//! ephemeral loopback port with a temporary data folder and talks to it over
//! HTTP (or runs the CLI) the way a user would.
//!
//! One test binary, one file per area (`<area>.rs`), helpers in `support`.

mod adaptive;
mod aws;
mod brokers;
mod buses;
mod cli;
mod cluster;
mod console;
mod durability;
mod guest_plugins;
mod hostile;
mod ingest;
mod operations;
mod patterns;
mod plugins;
mod read;
mod receiver;
mod routing;
mod sink;
mod sources;
mod support;
mod upgrade;
