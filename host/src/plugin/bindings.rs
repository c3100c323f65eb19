//! Host bindings generated from `wit/plugin.wit` (`signalbox:plugin@0.1.1`).
//!
//! One module per world. The shared `types` interface is generated once, in
//! [`filter`], and reused by the others, so an event converts to the same Rust
//! type for every kind of plugin. `wasi:http` in the connector world maps to
//! wasmtime-wasi-http's own bindings; the host links it separately.
//!
//! Components built against `0.1.0` import `types@0.1.0`; the linker
//! satisfies that with the `0.1.1` definitions (semver-compatible names).
//!
//! A future `signalbox:plugin@0.2.0` gets its own modules here, and the
//! runtime picks the bindings by the version a component was built against.

/// The `filter` world.
pub mod filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "signalbox:plugin/filter@0.1.1",
        exports: { default: async },
    });
}

/// The `lazy-filter` world: a filter that reads the event through the
/// `lazy` interface, which `host.rs` serves from the event lent to the call.
pub mod lazy_filter {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "signalbox:plugin/lazy-filter@0.1.1",
        exports: { default: async },
        // Reading outside a call traps instead of panicking the host.
        imports: { default: trappable },
        with: {
            "signalbox:plugin/types@0.1.1": super::filter::signalbox::plugin::types,
        },
    });
}

/// The `transform` world.
pub mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "signalbox:plugin/transform@0.1.1",
        exports: { default: async },
        with: {
            "signalbox:plugin/types@0.1.1": super::filter::signalbox::plugin::types,
        },
    });
}

/// The `connector` world.
pub mod connector {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "signalbox:plugin/connector@0.1.1",
        exports: { default: async },
        with: {
            "signalbox:plugin/types@0.1.1": super::filter::signalbox::plugin::types,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        },
    });
}

pub use filter::signalbox::plugin::types::{AttributeValue, DeliveryError, Error, Event};
