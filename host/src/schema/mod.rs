//! Schemas for event data: a registry, validation policies and discovery.
//!
//! EventBridge lets a team say what the `detail` of an event type looks like
//! and lets consumers rely on it. Signalbox does the same for the `data` of a
//! CloudEvent, with standard [JSON Schema draft 2020-12] documents.
//!
//! # The pieces
//!
//! * [`SchemaRegistry`] holds schemas per event **type**, each in one or more
//!   immutable **versions** ([`SchemaVersion`]). Every version is compiled
//!   once, when it is registered, and the compiled validator is cached next to
//!   it, so validating an event costs one parse of its data and one pass of the
//!   validator.
//! * [`SchemaRegistry::validate`] checks one event and says [`Validation::NoSchema`],
//!   [`Validation::Valid`] or [`Validation::Invalid`] with a list of
//!   [`Violation`]s, each naming the JSON pointer into `data`, the schema
//!   keyword that failed and a message.
//! * A bus's [`BusSchemaConfig`] says what to do about it: a [`SchemaPolicy`]
//!   for the bus (and optionally per event type) — `off` (do not look),
//!   `warn` (accept, but report the violations) or `enforce` (reject invalid
//!   events). [`SchemaRegistry::decide`] turns an event and a config into a
//!   [`Decision`] the ingest path acts on.
//! * [`SchemaInference`] is schema *discovery*: it watches events of each
//!   type and proposes a schema that every event seen so far satisfies, as a
//!   starting point for a schema a person then registers.
//!
//! # Which version validates an event
//!
//! The schema is chosen by the event's `type`. When the event has a
//! `dataschema` URI, the version is chosen by it, first rule that applies:
//!
//! 1. a version whose schema's `$id` (or draft-4 style `id`) is exactly the
//!    `dataschema` URI (ignoring one trailing `#`);
//! 2. a version whose version string is the last segment of the URI — what
//!    follows the last `/` or `:` once any `?query` or `#fragment` is removed —
//!    so `https://schemas.example.com/order/3`, `…/order/3#` and
//!    `urn:example:order:3` all select version `3`;
//! 3. otherwise (no `dataschema`, or one that names no registered version)
//!    the **latest** version: the greatest version string in natural order,
//!    where runs of digits compare as numbers (`2 < 10`, `1.9 < 1.10`,
//!    `v2 < v10`) and everything else compares as text.
//!
//! Falling back to the latest version when `dataschema` names an unknown one
//! lets producers roll out a new version before its schema is registered
//! without their events being waved through unchecked.
//! [`SchemaRegistry::select`] tells which version an event would get.
//!
//! # What counts as the data
//!
//! JSON data ([`crate::event::Data::Json`]) is parsed and validated. Binary
//! data whose `datacontenttype` is JSON (`data_base64` of a JSON document) is
//! parsed as JSON too. Any other data — text, XML, bytes — cannot satisfy a
//! JSON Schema and is [`Validation::Invalid`] with a violation that says so. An
//! event without data is validated as JSON `null`, so a schema that allows
//! `null` (or the empty schema `{}`) accepts it and `{"type": "object"}` does
//! not.
//!
//! # Compiling schemas
//!
//! Schemas are compiled with the `jsonschema` crate: draft 2020-12 unless the
//! document's `$schema` names another draft, with `format` validated
//! (`date-time`, `email`, `uri`, `uuid`, …), and **offline**: a `$ref` may
//! point inside the document (`#/$defs/…`) but never to a remote document, so
//! registering a schema never makes the server fetch a URL. A schema that does
//! not compile is refused with the reason and where in the schema it is.
//!
//! [JSON Schema draft 2020-12]: https://json-schema.org/draft/2020-12

mod doc;
mod infer;
mod registry;
mod service;

use serde::{Deserialize, Serialize};

pub use infer::{InferenceLimits, SchemaInference};
pub use registry::SchemaRegistry;
pub use service::{Schemas, SchemasError, Warnings};

pub use crate::bus::{BusSchemaConfig, SchemaPolicy};

/// One registered version of the schema of an event type. This is the record
/// the host persists (as JSON, e.g. under [`SchemaVersion::storage_key`]) and
/// hands back to [`SchemaRegistry::insert`] on start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// The CloudEvents `type` the schema describes.
    pub event_type: String,
    /// The version, e.g. `"1"`; see the module docs for how an event's
    /// `dataschema` selects it.
    pub version: String,
    /// The JSON Schema document.
    pub schema: serde_json::Value,
    /// When the version was registered, in microseconds since the Unix epoch.
    pub created_at: i64,
}

impl SchemaVersion {
    /// A storage key for this record: the event type and the version joined
    /// by a NUL byte, which neither can contain in a way that makes two keys
    /// collide (versions may not contain NUL). Keys of one type share a prefix,
    /// so a prefix scan lists its versions.
    pub fn storage_key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.event_type.len() + 1 + self.version.len());
        key.extend_from_slice(self.event_type.as_bytes());
        key.push(0);
        key.extend_from_slice(self.version.as_bytes());
        key
    }

    /// The schema's `$id` (or draft-4 `id`), if it has one as a string.
    pub fn schema_id(&self) -> Option<&str> {
        let obj = self.schema.as_object()?;
        obj.get("$id")
            .or_else(|| obj.get("id"))
            .and_then(|v| v.as_str())
    }
}

/// One way in which event data fails its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// A JSON pointer into the event's `data` (RFC 6901), e.g. `/total` or
    /// `/items/0/sku`; empty for the data as a whole.
    pub pointer: String,
    /// The schema keyword that failed, e.g. `minimum`, `required`, `type`.
    pub keyword: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// The outcome of validating one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// No schema is registered for the event's type.
    NoSchema,
    /// The data satisfies the selected schema version.
    Valid,
    /// The data violates the selected schema version: at least one violation,
    /// at most [`MAX_VIOLATIONS`].
    Invalid(Vec<Violation>),
}

/// What the ingest path should do with an event, given a bus's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store the event.
    Accept,
    /// Store the event, and report these violations (policy `warn`).
    AcceptWithWarning(Vec<Violation>),
    /// Refuse the event with these violations (policy `enforce`).
    Reject(Vec<Violation>),
}

/// At most this many violations are reported per event; a pathological
/// document against a strict schema could otherwise produce thousands.
pub const MAX_VIOLATIONS: usize = 20;

/// ` at <pointer>` for a non-empty location in a schema.
fn at(location: &str) -> String {
    if location.is_empty() {
        String::new()
    } else {
        format!(" at {location}")
    }
}

/// Why a schema could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The event type is empty.
    #[error("the event type must not be empty")]
    EmptyEventType,
    /// The version string is not acceptable.
    #[error("schema version '{version}' of event type '{event_type}' is invalid: {reason}")]
    InvalidVersion {
        /// The event type.
        event_type: String,
        /// The version as given.
        version: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The document is not a valid JSON Schema, or it refers to a document
    /// that is not available offline.
    #[error(
        "the schema for version '{version}' of event type '{event_type}' is invalid{}: {reason}",
        at(.location)
    )]
    InvalidSchema {
        /// The event type.
        event_type: String,
        /// The version.
        version: String,
        /// A JSON pointer into the schema document, empty when the problem is
        /// not at one place.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// Versions are immutable: this one exists with a different schema.
    #[error(
        "version '{version}' of the schema for event type '{event_type}' already exists with a different schema; versions are immutable, register a new version"
    )]
    VersionExists {
        /// The event type.
        event_type: String,
        /// The version.
        version: String,
    },
}

#[cfg(test)]
mod tests;
