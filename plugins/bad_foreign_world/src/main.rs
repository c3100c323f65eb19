//! `bad_foreign_world` — an ordinary Rust program, not a Signalbox plugin.
//!
//! Built for `wasm32-wasip2` it is a `wasi:cli/command` component: it
//! exports `wasi:cli/run` and none of the plugin worlds' functions. The host
//! must refuse to upload it, with a message saying it is not a filter,
//! transform or connector.

fn main() {
    println!("bad_foreign_world: hello from a wasi:cli/command component");
}
