//! Write [Signalbox](https://github.com/signalbox/signalbox) plugins in Rust.
//!
//! A plugin is a WebAssembly component that a rule runs on its events: a
//! **filter** keeps or drops each event, a **transform** turns one event into
//! zero, one or many, a **connector** delivers batches to an external system
//! over HTTP. The contract is the WIT package `signalbox:plugin@0.1.1` in the
//! repository's `wit/` folder; this crate generates the bindings for it and
//! adds the helpers that make a plugin short.
//!
//! # A complete filter
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "filter_high_value"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! signalbox-sdk = { path = "../../sdk/rust", features = ["filter"] }
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! strip = true
//! codegen-units = 1
//! panic = "abort"
//! ```
//!
//! `src/lib.rs` — keep orders whose `data.total` is at least the configured
//! `threshold`:
//!
//! ```
//! use signalbox_sdk::serde_json::Value;
//! use signalbox_sdk::{Config, Error, Event, Filter, Settings, config_parse_or};
//!
//! static THRESHOLD: Settings<f64> = Settings::new();
//!
//! struct HighValue;
//!
//! impl Filter for HighValue {
//!     fn init(config: Config) -> Result<(), Error> {
//!         THRESHOLD.set(config_parse_or(&config, "threshold", 1000.0)?)
//!     }
//!     fn keep(event: Event) -> Result<bool, Error> {
//!         let threshold = *THRESHOLD.get()?;
//!         let order: Value = event.data_json()?;
//!         Ok(order["total"].as_f64().is_some_and(|total| total >= threshold))
//!     }
//! }
//!
//! signalbox_sdk::export_filter!(HighValue);
//! ```
//!
//! A transform implements [`Transform`] (`fn transform(event: Event) ->
//! Result<Vec<Event>, Error>`) and ends with [`export_transform!`]; a
//! connector implements [`Connector`] (`fn deliver(events: Vec<Event>) ->
//! Result<(), DeliveryError>`), uses [`http`] and ends with
//! [`export_connector!`]. The example plugins in the repository's `plugins/`
//! folder show one of each.
//!
//! The export functions have no `self`: an instance is reused for many
//! events, so keep what `init` parsed in a `static` (a [`Settings`] cell
//! does this), but do not count on anything surviving: the host discards an
//! instance after any trap and starts a new one with a fresh `init`.
//!
//! # Build
//!
//! ```sh
//! rustup target add wasm32-wasip2          # once
//! cargo build --target wasm32-wasip2 --release
//! ```
//!
//! The result, `target/wasm32-wasip2/release/filter_high_value.wasm`, is
//! already a component (rustc's `wasm32-wasip2` linker makes one); no other
//! tool is needed. Use the release profile above: it gives components of a
//! few hundred KB that compile quickly on upload.
//!
//! # Test
//!
//! Unit-test your logic with plain `cargo test` (the types and helpers here
//! work on any target). To run the built component the way the server does,
//! with the same sandbox and limits:
//!
//! ```sh
//! signalbox plugin test ./target/wasm32-wasip2/release/filter_high_value.wasm \
//!     --event order.json --config threshold=500
//! ```
//!
//! where `order.json` is a CloudEvent in the JSON format. Then upload it with
//! `PUT /v1/plugins/{name}/versions/{version}` and name it in a rule.
//!
//! # What a plugin can see, and its limits
//!
//! * **Input:** the event (or batch) it is given and its configuration;
//!   nothing else. Standard WASI imports that Rust's `std` needs are
//!   satisfied but grant nothing: no files, no environment variables, no
//!   arguments, no sockets; stdin is empty.
//!   `std::fs` and `std::env` calls fail or return nothing.
//! * **Network:** only connectors, only through [`http`], and only to the
//!   hosts on the rule's `allowed_hosts`.
//! * **Logging:** anything written to stdout or stderr (`println!`,
//!   `eprintln!`, panic messages) goes to the Signalbox log, tagged with the
//!   rule and plugin. Keep it short; it is not a data channel.
//! * **Memory:** each instance's linear memory is capped by the rule's
//!   `limits.memory_mb` (the server sets the default). An allocation beyond
//!   it fails, which aborts the plugin.
//! * **Time:** each call has a wall-clock deadline, the rule's
//!   `limits.call_timeout_ms`. A call that runs past it is stopped.
//! * **Output:** every event a transform returns is validated like an event
//!   received over HTTP, including the bus's `max_event_bytes` (1 MiB by
//!   default); one invalid event fails the whole call.
//! * **Failures:** returning `Err` fails this event (or batch) at this step,
//!   with your message in the event's trace. A trap (panic, out-of-memory,
//!   deadline, stack overflow) does the same, and the host also throws the
//!   instance away; nothing in it is kept.
//!
//! # Features: one per world
//!
//! Enable the feature for the kind of plugin you write: `filter`,
//! `lazy-filter`, `transform` or `connector`. Each brings in that world's
//! bindings, its trait and its `export_*!` macro; `connector` also brings
//! in [`http`].
//! The component only ever gets the exports of the one `export_*!` macro
//! you call: the `wit-bindgen` type information that carries a world's
//! exports is emitted by that macro in your crate, while this crate only
//! carries imports, and unused imports are dropped when the component is
//! made. So several features being on at once, which Cargo does when it
//! builds several plugins of different kinds in one workspace (features are
//! unified across the packages of a build), is harmless. (The one thing to
//! avoid: calling [`http`] from a filter or transform because another
//! plugin turned `connector` on. The component would then import
//! `wasi:http`, and the host refuses such a filter or transform on upload.)
//! With `lazy-filter` on, every component of the build imports
//! `signalbox:plugin/lazy` (its functions are kept), which is harmless:
//! every Signalbox host since 0.1.1 provides it to all plugins.
//! With no feature on there is nothing to export, and this crate does not
//! compile.
//!
//! # Versions
//!
//! This crate speaks `signalbox:plugin@0.1.1`. Hosts run any `0.1.x`
//! plugin; `0.1.x` releases of the contract only add things old plugins can
//! ignore.

#![warn(missing_docs)]
// The crate docs link to every world's items; with only some features on
// (a plugin's own `cargo doc`) those links cannot resolve.
#![cfg_attr(
    not(all(
        feature = "filter",
        feature = "lazy-filter",
        feature = "transform",
        feature = "connector"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

// Lets the generated code and the export macros name this crate the same
// way from inside it and from a plugin.
extern crate self as signalbox_sdk;

#[cfg(not(any(
    feature = "filter",
    feature = "lazy-filter",
    feature = "transform",
    feature = "connector"
)))]
compile_error!(
    "signalbox-sdk: enable the feature for the kind of plugin you are writing: \
     `features = [\"filter\"]`, `[\"lazy-filter\"]`, `[\"transform\"]` or `[\"connector\"]`"
);

mod config;
mod event;
mod types;

#[cfg(feature = "connector")]
pub mod http;

pub use config::{
    Settings, config_expect_keys, config_get, config_list, config_parse, config_parse_or,
    config_require,
};
pub use event::{EventBuilder, JSON_MEDIA_TYPE, is_json_media_type};
pub use types::{AttributeValue, Config, DeliveryError, Error, Event};

/// `serde_json`, re-exported so a plugin can use `Value` and `json!`
/// without its own dependency.
pub use serde_json;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

/// What the generated bindings use for `signalbox:plugin/types`: the
/// hand-written types at the crate root.
#[doc(hidden)]
pub mod wit_types {
    pub use crate::types::{AttributeValue, Config, DeliveryError, Error, Event};
}

#[cfg(feature = "filter")]
#[doc(hidden)]
pub mod filter_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "signalbox:plugin/filter@0.1.1",
        with: { "signalbox:plugin/types@0.1.1": crate::wit_types },
        runtime_path: "signalbox_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "signalbox_sdk::filter_bindings",
    });
}

#[cfg(feature = "lazy-filter")]
#[doc(hidden)]
pub mod lazy_filter_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "signalbox:plugin/lazy-filter@0.1.1",
        with: { "signalbox:plugin/types@0.1.1": crate::wit_types },
        runtime_path: "signalbox_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "signalbox_sdk::lazy_filter_bindings",
    });
}

#[cfg(feature = "transform")]
#[doc(hidden)]
pub mod transform_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "signalbox:plugin/transform@0.1.1",
        with: { "signalbox:plugin/types@0.1.1": crate::wit_types },
        runtime_path: "signalbox_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "signalbox_sdk::transform_bindings",
    });
}

#[cfg(feature = "connector")]
#[doc(hidden)]
pub mod connector_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "signalbox:plugin/connector@0.1.1",
        with: { "signalbox:plugin/types@0.1.1": crate::wit_types },
        generate_all,
        runtime_path: "signalbox_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "signalbox_sdk::connector_bindings",
    });
}

/// A filter: keeps or drops each event (world `signalbox:plugin/filter`).
///
/// Implement it on a unit struct and export it with [`export_filter!`]:
///
/// * `init(config)` runs once per instance, before any other call. Return an
///   error to reject a configuration you cannot work with; the rule then
///   reports it.
/// * `keep(event)` returns `Ok(true)` to let the event go on and `Ok(false)`
///   to drop it. An error fails this event at this step (recorded in its
///   trace; this rule does not deliver it).
#[cfg(feature = "filter")]
pub use filter_bindings::Guest as Filter;

/// A filter that reads the event lazily (world
/// `signalbox:plugin/lazy-filter`): keeps or drops each event.
///
/// Like [`Filter`], but `keep_lazy` gets a [`LazyEvent`] instead of an
/// [`Event`]: each of its methods (`type_()`, `subject()`, `data()`, …)
/// copies just that attribute out of the host when called. A filter that
/// decides on one or two attributes pays for those only, which makes a
/// call on a large event much cheaper. Export it with
/// [`export_lazy_filter!`]:
///
/// ```ignore
/// use signalbox_sdk::{Config, Error, LazyEvent, LazyFilter};
///
/// struct OrdersOnly;
///
/// impl LazyFilter for OrdersOnly {
///     fn init(_config: Config) -> Result<(), Error> {
///         Ok(())
///     }
///     fn keep_lazy(event: &LazyEvent) -> Result<bool, Error> {
///         Ok(event.type_().starts_with("order."))
///     }
/// }
///
/// signalbox_sdk::export_lazy_filter!(OrdersOnly);
/// ```
#[cfg(feature = "lazy-filter")]
pub trait LazyFilter {
    /// Runs once per instance, before any other call, as
    /// [`Filter::init`](crate::Filter::init).
    fn init(config: Config) -> Result<(), Error>;
    /// Returns `Ok(true)` to let `event` go on and `Ok(false)` to drop it;
    /// an error fails this event at this step.
    fn keep_lazy(event: &LazyEvent) -> Result<bool, Error>;
}

/// The event a [`LazyFilter`] is deciding on, read attribute by attribute
/// (the WIT interface `signalbox:plugin/lazy`).
///
/// Each method asks the host for its attribute and copies it in, again on
/// every call, so keep what you read if you need it twice; `to_event()`
/// copies the whole [`Event`]. It always reads the event of the
/// `keep_lazy` call running now; read outside any call (in `init`), it
/// traps.
#[cfg(feature = "lazy-filter")]
pub struct LazyEvent {
    _only_in_keep_lazy: (),
}

#[cfg(feature = "lazy-filter")]
impl LazyEvent {
    #[doc(hidden)]
    pub fn __current() -> LazyEvent {
        LazyEvent {
            _only_in_keep_lazy: (),
        }
    }
    /// `id`.
    pub fn id(&self) -> String {
        lazy::id()
    }
    /// `source`.
    pub fn source(&self) -> String {
        lazy::source()
    }
    /// `type`.
    pub fn type_(&self) -> String {
        lazy::type_()
    }
    /// `subject`, if present.
    pub fn subject(&self) -> Option<String> {
        lazy::subject()
    }
    /// `time`, if present (RFC 3339, as the producer sent it).
    pub fn time(&self) -> Option<String> {
        lazy::time()
    }
    /// `datacontenttype`, if present.
    pub fn datacontenttype(&self) -> Option<String> {
        lazy::datacontenttype()
    }
    /// `dataschema`, if present.
    pub fn dataschema(&self) -> Option<String> {
        lazy::dataschema()
    }
    /// The extension attribute `name`, if the event has it.
    pub fn extension(&self, name: &str) -> Option<AttributeValue> {
        lazy::extension(name)
    }
    /// Every extension attribute, in order.
    pub fn extensions(&self) -> Vec<(String, AttributeValue)> {
        lazy::extensions()
    }
    /// The size of `data` in bytes, without copying it.
    pub fn data_size(&self) -> Option<u32> {
        lazy::data_size()
    }
    /// The payload bytes. For JSON events this is the JSON text.
    pub fn data(&self) -> Option<Vec<u8>> {
        lazy::data()
    }
    /// `data` parsed as JSON into `T` (e.g. [`serde_json::Value`]); an
    /// error when there is no data or it does not parse.
    pub fn data_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        let data = self
            .data()
            .ok_or_else(|| Error::new("the event has no data"))?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::new(format!("the event's data is not the JSON expected: {e}")))
    }
    /// The whole event.
    pub fn to_event(&self) -> Event {
        lazy::to_event()
    }
}

#[cfg(feature = "lazy-filter")]
use lazy_filter_bindings::signalbox::plugin::lazy;

/// A transform: turns one event into zero, one or many (world
/// `signalbox:plugin/transform`).
///
/// Implement it on a unit struct and export it with [`export_transform!`]:
///
/// * `init(config)` runs once per instance, before any other call.
/// * `transform(event)` returns the events that replace `event`: none to
///   drop it, one to reshape it, several to split it. The host validates
///   each one like an ingested event.
#[cfg(feature = "transform")]
pub use transform_bindings::Guest as Transform;

/// A connector: delivers batches of events to an external system (world
/// `signalbox:plugin/connector`).
///
/// Implement it on a unit struct and export it with [`export_connector!`]:
///
/// * `init(config)` runs once per instance, before any other call.
/// * `deliver(events)` delivers a batch, in order. Return a
///   [`DeliveryError`] when it was not delivered, saying whether a retry can
///   help; the [`http`] helpers classify failures for you.
#[cfg(feature = "connector")]
pub use connector_bindings::Guest as Connector;

/// Exports a type implementing [`Filter`] as this component's filter.
///
/// Call it once, at the top level of the plugin crate, with the type's name:
/// `signalbox_sdk::export_filter!(MyFilter);`.
#[cfg(feature = "filter")]
#[macro_export]
macro_rules! export_filter {
    ($ty:ident) => {
        $crate::filter_bindings::export_world!($ty with_types_in $crate::filter_bindings);
    };
}

/// Exports a type implementing [`LazyFilter`] as this component's filter.
///
/// Call it once, at the top level of the plugin crate, with the type's name:
/// `signalbox_sdk::export_lazy_filter!(MyFilter);`.
#[cfg(feature = "lazy-filter")]
#[macro_export]
macro_rules! export_lazy_filter {
    ($ty:ident) => {
        impl $crate::lazy_filter_bindings::Guest for $ty {
            fn init(config: $crate::Config) -> ::core::result::Result<(), $crate::Error> {
                <$ty as $crate::LazyFilter>::init(config)
            }
            fn keep_lazy() -> ::core::result::Result<bool, $crate::Error> {
                <$ty as $crate::LazyFilter>::keep_lazy(&$crate::LazyEvent::__current())
            }
        }
        $crate::lazy_filter_bindings::export_world!($ty with_types_in $crate::lazy_filter_bindings);
    };
}

/// Exports a type implementing [`Transform`] as this component's transform.
///
/// Call it once, at the top level of the plugin crate, with the type's name:
/// `signalbox_sdk::export_transform!(MyTransform);`.
#[cfg(feature = "transform")]
#[macro_export]
macro_rules! export_transform {
    ($ty:ident) => {
        $crate::transform_bindings::export_world!($ty with_types_in $crate::transform_bindings);
    };
}

/// Exports a type implementing [`Connector`] as this component's connector.
///
/// Call it once, at the top level of the plugin crate, with the type's name:
/// `signalbox_sdk::export_connector!(MyConnector);`.
#[cfg(feature = "connector")]
#[macro_export]
macro_rules! export_connector {
    ($ty:ident) => {
        $crate::connector_bindings::export_world!($ty with_types_in $crate::connector_bindings);
    };
}
