//! The Wasm plugin platform: compiling, checking, storing and running
//! user-supplied components against the contract in `wit/plugin.wit`.
//!
//! * [`engine`] — the process-wide wasmtime engine (Cranelift, pooling
//!   allocator, copy-on-write images, epoch interruption) and the on-disk
//!   cache of compiled artifacts;
//! * [`inspect`] — upload-time checks: a component, of exactly one of our
//!   worlds, importing only what that world may;
//! * [`registry`] — stored plugins (immutable versions, sha256, kind), kept
//!   in the data folder and loaded at start-up;
//! * [`runtime`] — per-rule instance pools with memory caps, call deadlines,
//!   output limits, trap containment and degraded status;
//! * [`host`] — the sandbox each instance sees (WASI that grants nothing,
//!   output to the log), the one outbound-HTTP hook, and the `lazy`
//!   interface through which a lazy filter reads the event lent to it;
//! * [`egress`] — the allow-list policy that hook enforces;
//! * [`bindings`], [`convert`] — generated types and event conversion.
//!
//! A plugin failing — trap, panic, infinite loop, memory exhaustion, garbage
//! output — fails only that call: the error comes back as a [`CallError`]
//! with its reason, the instance is replaced, and the rule using it carries
//! on with its other work.

pub mod bindings;
pub mod convert;
pub mod egress;
pub mod engine;
pub mod host;
pub mod inspect;
pub mod registry;
pub mod runtime;

use serde::Serialize;
use thiserror::Error;

pub use egress::AllowList;
pub use engine::{ArtifactCache, PluginEngine, PoolSize};
pub use inspect::{PluginKind, inspect};
pub use registry::{PluginInfo, Registry};
pub use runtime::{LoadedPlugin, PluginLimits, PluginRuntime, PluginStatus, RulePlugin};

/// A rule's plugin configuration (a JSON object) as the `config` list a
/// plugin's `init` receives: strings as they are, other values as JSON text.
pub fn config_pairs(config: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Errors from loading or managing plugins.
#[derive(Debug, Error)]
pub enum PluginError {
    /// The bytes are not an acceptable plugin; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The upload is larger than the limit.
    #[error("the plugin is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// Size of the upload.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The version exists with different bytes (versions are immutable).
    #[error(
        "{0} already exists with different content; versions are immutable, upload a new version"
    )]
    Conflict(String),
    /// No such plugin or version.
    #[error("plugin {0} does not exist")]
    NotFound(String),
    /// The version is used by rules and cannot be deleted.
    #[error("plugin {plugin} is used by {rules:?}; change those rules first")]
    InUse {
        /// `name@version`.
        plugin: String,
        /// `bus/rule` names.
        rules: Vec<String>,
    },
    /// The server already holds its limit of plugin versions.
    #[error(
        "the server holds {limit} plugin versions, its limit (plugins.max_plugins); delete unused versions first"
    )]
    LimitReached {
        /// The limit.
        limit: usize,
    },
    /// A name or version is malformed.
    #[error("{0}")]
    BadName(String),
    /// The engine could not be set up or failed internally.
    #[error("plugin engine error: {0}")]
    Engine(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// File I/O failed.
    #[error("plugin storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why one plugin call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallErrorKind {
    /// The plugin returned an error value.
    PluginError,
    /// The plugin trapped (panic, unreachable, out-of-bounds, stack overflow).
    Trap,
    /// The call ran past its deadline.
    Timeout,
    /// The plugin exceeded its memory limit.
    MemoryLimit,
    /// The plugin returned events that are invalid or too large.
    InvalidOutput,
    /// `init` rejected the configuration.
    Init,
    /// The instance could not be created.
    Instantiate,
}

/// A failed plugin call.
#[derive(Debug, Clone, Error, Serialize)]
#[error("{message}")]
pub struct CallError {
    /// What kind of failure.
    pub kind: CallErrorKind,
    /// Why, in words.
    pub message: String,
    /// For connectors: whether retrying may help (traps and timeouts are
    /// retryable; a connector's own error says for itself).
    pub retryable: bool,
    /// For connectors: the remote status code, if any.
    pub status: Option<u16>,
}

impl CallError {
    pub(crate) fn new(kind: CallErrorKind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
            retryable: !matches!(kind, CallErrorKind::Init | CallErrorKind::InvalidOutput),
            status: None,
        }
    }
}
