//! Input transformers: reshape an event before it reaches a target, the way
//! AWS EventBridge (`Input` / `InputPath` / `InputTransformer`) and Alibaba
//! EventBridge (`CONSTANT` / `JSONPATH` / `TEMPLATE`) do, without a plugin.
//!
//! # The three forms
//!
//! A transform is a JSON object with exactly one of:
//!
//! * `{"constant": <any JSON>}` — the output is that JSON, whatever the event;
//! * `{"path": "$.data.order"}` — the output is the value at that path;
//! * `{"paths": {"name": "$.data.customer.name", …}, "template": "…"}` — each
//!   `<name>` in the template is replaced by the value its path selects
//!   (EventBridge's `InputPathsMap` + `InputTemplate`). `paths` is optional.
//!
//! and optionally `"output": "event"` (the default: a new CloudEvent with
//! the same attributes and the output as its data) or `"output": "body"` (a
//! plain HTTP [`Body`] for an `http` target in `body` mode).
//!
//! ```
//! use signalbox::event::json::parse_structured;
//! use signalbox::chain::template::{Output, TransformConfig};
//!
//! let event = parse_structured(r#"{"specversion":"1.0","id":"1","source":"/shop","type":"order.created",
//!     "data":{"order":{"id":7,"customer":{"name":"Zoë \"Z\" Ng"}}}}"#.as_bytes()).unwrap().unwrap();
//! let config: TransformConfig = serde_json::from_str(r#"{
//!     "paths": {"name": "$.data.order.customer.name", "order": "$.data.order.id"},
//!     "template": "{\"text\": \"Order <order> for <name>\", \"order\": <order>, \"who\": <name>, \"from\": <source>}",
//!     "output": "body"
//! }"#).unwrap();
//! let transform = config.compile().unwrap(); // once, when the rule is stored
//! let Output::Body(body) = transform.apply(&event).unwrap() else { unreachable!() };
//! assert_eq!(body.content_type, "application/json");
//! assert_eq!(
//!     std::str::from_utf8(&body.bytes).unwrap(),
//!     r#"{"text": "Order 7 for Zoë \"Z\" Ng", "order": 7, "who": "Zoë \"Z\" Ng", "from": "/shop"}"#
//! );
//! ```
//!
//! # What paths see: the envelope
//!
//! Paths select from the event's *envelope*, the JSON document event
//! patterns match (`crate::pattern::envelope`): context attributes and
//! extensions are top-level members (`$.id`, `$.source`, `$.type`,
//! `$.subject`, `$.time`, `$.datacontenttype`, `$.dataschema`,
//! `$.specversion`, `$.partitionkey`, …) and JSON data is under `$.data`.
//! Text and binary data are not part of the envelope, so `$.data` is missing
//! for them. Values are copied as the producer wrote them (key order,
//! number spelling, whitespace inside the value).
//!
//! # The path subset
//!
//! | syntax | meaning |
//! |---|---|
//! | `$` | the whole envelope |
//! | `$.name` | member `name`; names may use any characters except `.` `[` `]` `'` `"` `*` `?` `(` `)` `@`, whitespace and control characters |
//! | `$['a b']`, `$["a.b"]` | any member name; `\'`, `\"` and `\\` escape inside |
//! | `$.a[0]` | array element, counting from 0 |
//! | `$.a[-1]` | array element counting from the end (`-1` is the last) |
//!
//! Anything else — wildcards, `..`, filters, slices, unions — is rejected
//! when the configuration is compiled, with a message naming the path.
//!
//! # Template semantics
//!
//! A placeholder is `<name>` where `name` is made of ASCII letters, digits,
//! `_`, `.` and `-`. It must be declared in `paths` or be a built-in:
//!
//! | built-in | value |
//! |---|---|
//! | `<event>` | the whole envelope (`$`) |
//! | `<data>` | the JSON data (`$.data`) |
//! | `<id>`, `<source>`, `<type>`, `<subject>`, `<time>` | that attribute |
//!
//! An unknown placeholder is a configuration error (as in EventBridge, whose
//! `<` and `>` cannot be escaped). Here `<<` writes a literal `<`; a `<` that
//! does not start a placeholder (`a < b`, `<a b>`) is literal anyway.
//!
//! How a value is written depends on where the placeholder stands in the
//! template, which is decided once, at compile time, by following JSON
//! string quoting (`"` opens and closes a string, `\` escapes inside one):
//!
//! * **inside a JSON string** the value is inserted as string *content*: a
//!   string value without its quotes, other values as their JSON text, and
//!   in both cases escaped (`"`, `\`, control characters) so the string
//!   stays valid — `"Hello <name>"` with `name` = `Zoë "Z"` gives
//!   `"Hello Zoë \"Z\""`;
//! * **outside strings** the value is inserted as JSON: strings quoted,
//!   objects, arrays, numbers as the producer wrote them —
//!   `{"who": <name>}` gives `{"who": "Zoë \"Z\""}`.
//!
//! If the result parses as JSON the output is JSON (`application/json`);
//! otherwise it is text (`text/plain; charset=utf-8`). So `Order <id>
//! shipped` (no quotes) yields the text `Order "o-1" shipped`, while
//! `"Order <id> shipped"` yields the JSON string `"Order o-1 shipped"`.
//!
//! # The EventBridge view
//!
//! A rule with `"envelope": "aws"` compiles its transforms with
//! [`View::Aws`]: paths then select from the EventBridge envelope
//! (`$.detail.state`, `$.detail-type`, `$.account`, `$.resources[0]`, and `$`
//! is the whole EventBridge event, see
//! [`crate::pattern::envelope::aws_envelope_text`]), and the built-in
//! placeholders are EventBridge's predefined variables instead of the ones
//! above:
//!
//! | built-in | value |
//! |---|---|
//! | `<aws.events.rule-name>`, `<aws.events.rule-arn>` | the rule's name and ARN |
//! | `<aws.events.event.ingestion-time>` | when Signalbox received the event (RFC 3339, milliseconds) |
//! | `<aws.events.event.json>` | the whole EventBridge event (`$`) |
//! | `<aws.events.event>` | the event without `detail`, in the shape EventBridge gives it (`detailType`, and `time` the ingestion time) |
//!
//! Variable names starting with `aws.` are reserved there. A template that
//! is not JSON (it starts with none of `{`, `[`, `"`) is plain text, as in
//! EventBridge: `<instance> is in state <state>` gives `i-0123456789 is in
//! state RUNNING`, values inserted as they are. Everything else (the path
//! subset, how values are written in JSON templates, missing values) is the
//! same. Where EventBridge inserts a string value inside a JSON string
//! without escaping it, Signalbox escapes it, so the output stays valid
//! JSON.
//!
//! # Missing values
//!
//! EventBridge documents: "If you specify a variable to match a JSON path
//! that doesn't exist in the event, that variable isn't created and won't
//! appear in the output." We follow that inside strings, where a missing
//! value inserts nothing (`"id: <x>"` → `"id: "`). Outside strings,
//! inserting nothing would break the JSON (`{"a": }`), so a missing value is
//! written as `null` there. `{"path": …}` on a missing path outputs `null`.
//! A path that selects into a value of the wrong kind (a member of an
//! array, an index of a string) is missing too.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::json::{push_json_escaped, push_json_str};
use crate::event::validate::{self, EventError};
use crate::event::{CloudEvent, Data, ExtensionValue, SPEC_VERSION};
use crate::pattern::envelope::{AwsFields, envelope_text, is_aws_event, json_data};

/// The content type of JSON output.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The content type of text output (a template whose result is not JSON).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// At most this many entries in `paths` (EventBridge's limit).
pub const MAX_PATHS: usize = 100;
/// Longest accepted template, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Longest accepted path expression, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Largest output `apply` produces; beyond it the transform fails rather
/// than build an enormous body (a template can repeat `<event>`).
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// The built-in placeholder names and the paths they stand for.
pub const BUILTINS: [(&str, &str); 7] = [
    ("event", "$"),
    ("data", "$.data"),
    ("id", "$.id"),
    ("source", "$.source"),
    ("type", "$.type"),
    ("subject", "$.subject"),
    ("time", "$.time"),
];

/// EventBridge's predefined variables, for transforms in the [`View::Aws`].
pub const AWS_BUILTINS: [&str; 5] = [
    "aws.events.rule-name",
    "aws.events.rule-arn",
    "aws.events.event.ingestion-time",
    "aws.events.event.json",
    "aws.events.event",
];

/// What paths select from: the CloudEvents envelope, or the EventBridge
/// envelope of a rule with `"envelope": "aws"` (see the [module
/// docs](self#the-eventbridge-view)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum View {
    /// The envelope patterns match.
    #[default]
    CloudEvents,
    /// The EventBridge envelope, with EventBridge's predefined variables.
    Aws {
        /// The rule's name (`<aws.events.rule-name>`).
        rule_name: String,
        /// The rule's ARN (`<aws.events.rule-arn>`).
        rule_arn: String,
    },
}

impl View {
    fn is_aws(&self) -> bool {
        matches!(self, View::Aws { .. })
    }
}

/// What a transform produces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A CloudEvent with the original attributes and the output as data.
    #[default]
    Event,
    /// A bare HTTP body, for `http` targets in `body` mode.
    Body,
}

impl OutputKind {
    fn is_event(&self) -> bool {
        *self == OutputKind::Event
    }
}

/// A transform as configured (serde). [`compile`](TransformConfig::compile)
/// checks it and prepares it for use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// The constant form: the output is this JSON (which may be `null`).
    #[serde(
        default,
        deserialize_with = "present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub constant: Option<serde_json::Value>,
    /// The path form: the output is the value at this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Template variables: name → path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<BTreeMap<String, String>>,
    /// The template form: text with `<name>` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Whether the output is a new event (default) or an HTTP body.
    #[serde(default, skip_serializing_if = "OutputKind::is_event")]
    pub output: OutputKind,
}

/// `"constant": null` is a present constant, not a missing one.
fn present_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// A transform configuration that cannot work. `field` names the member
/// (`template`, `paths.name`, `path`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TransformConfigError {
    /// The member at fault, relative to the transform object (empty when
    /// the object as a whole is wrong).
    pub field: String,
    /// What is wrong and how to fix it.
    pub detail: String,
}

impl fmt::Display for TransformConfigError {
    /// `field: detail`, or just the detail when no single member is at fault.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}: {}", self.field, self.detail)
        }
    }
}

impl TransformConfigError {
    fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        TransformConfigError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// Why applying a transform to an event failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    /// The output would exceed [`MAX_OUTPUT_BYTES`].
    #[error("the transformed output exceeds the {limit}-byte limit")]
    OutputTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The resulting event does not pass CloudEvents validation.
    #[error("the transformed event is invalid: {0}")]
    InvalidEvent(#[from] EventError),
}

/// A bare HTTP body with its media type (queued with the delivery as is).
pub use crate::store::queue::PreparedBody as Body;

/// The result of [`CompiledTransform::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A new event: the original's attributes and extensions, the output as
    /// `data`, `datacontenttype` set to match, and no `dataschema` (the
    /// original schema no longer describes the data).
    Event(CloudEvent),
    /// A bare body (`"output": "body"`).
    Body(Body),
}

/// A checked, ready-to-apply transform. Compile once per rule; apply to
/// every matching event. `Send + Sync`, so it can be shared.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledTransform {
    kind: Kind,
    output: OutputKind,
    view: View,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// The constant's JSON text.
    Constant(String),
    Path(JsonPath),
    Template(Template),
}

#[derive(Debug, Clone, PartialEq)]
struct Template {
    pieces: Vec<Piece>,
    /// What each slot a `Piece::Value` refers to stands for.
    slots: Vec<Slot>,
    /// An EventBridge template that is not JSON (it starts with none of
    /// `{`, `[`, `"`): values go in as plain text, strings without quotes
    /// or escapes, as EventBridge does.
    plain_text: bool,
}

/// A template variable: a path, or one of EventBridge's predefined
/// variables that are not paths.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Path(JsonPath),
    RuleName,
    RuleArn,
    IngestionTime,
    EventWithoutDetail,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Value { slot: usize, in_string: bool },
}

impl TransformConfig {
    /// Checks the configuration and compiles its paths and template.
    pub fn compile(&self) -> Result<CompiledTransform, TransformConfigError> {
        CompiledTransform::new(self)
    }
}

impl CompiledTransform {
    /// Checks `config` and compiles it; see [`TransformConfig::compile`].
    pub fn new(config: &TransformConfig) -> Result<Self, TransformConfigError> {
        Self::with_view(config, View::CloudEvents)
    }

    /// Compiles `config` for a view of the event (the rule's `envelope`).
    pub fn with_view(config: &TransformConfig, view: View) -> Result<Self, TransformConfigError> {
        if config.paths.is_some() && config.template.is_none() {
            return Err(TransformConfigError::new(
                "paths",
                "'paths' declares template variables and needs a 'template'",
            ));
        }
        let forms = [
            config.constant.is_some(),
            config.path.is_some(),
            config.template.is_some(),
        ];
        let count = forms.iter().filter(|f| **f).count();
        if count != 1 {
            let detail = if count == 0 {
                "a transform needs one of 'constant', 'path' or 'template'"
            } else {
                "'constant', 'path' and 'template' are alternatives: give exactly one"
            };
            return Err(TransformConfigError::new("", detail));
        }
        let kind = if let Some(value) = &config.constant {
            Kind::Constant(value.to_string())
        } else if let Some(path) = &config.path {
            Kind::Path(JsonPath::parse(path).map_err(|e| TransformConfigError::new("path", e))?)
        } else {
            let template = config.template.as_deref().unwrap_or_default();
            let empty = BTreeMap::new();
            Kind::Template(Template::compile(
                template,
                config.paths.as_ref().unwrap_or(&empty),
                view.is_aws(),
            )?)
        };
        Ok(CompiledTransform {
            kind,
            output: config.output,
            view,
        })
    }

    /// What this transform produces.
    pub fn output_kind(&self) -> OutputKind {
        self.output
    }

    /// Applies the transform to `event`, as received now (see
    /// [`apply_received`](Self::apply_received)).
    pub fn apply(&self, event: &CloudEvent) -> Result<Output, TransformError> {
        self.apply_received(event, crate::event::time::now_micros())
    }

    /// Applies the transform to `event`, which Signalbox received at
    /// `received_at` (µs since the epoch; `<aws.events.event.ingestion-time>`).
    pub fn apply_received(
        &self,
        event: &CloudEvent,
        received_at: i64,
    ) -> Result<Output, TransformError> {
        let env = Envelope::new(event, self.view.is_aws());
        let (text, is_json) = match &self.kind {
            Kind::Constant(json) => (json.clone(), true),
            Kind::Path(path) => {
                let mut out = String::new();
                match path.select(&env) {
                    Some(v) => v.write_json(&mut out),
                    None => out.push_str("null"),
                }
                (out, true)
            }
            Kind::Template(t) => {
                let out = t.render(&env, &self.view, received_at)?;
                let is_json = serde_json::from_str::<IgnoredAny>(&out).is_ok();
                (out, is_json)
            }
        };
        if text.len() > MAX_OUTPUT_BYTES {
            return Err(TransformError::OutputTooLarge {
                limit: MAX_OUTPUT_BYTES,
            });
        }
        let content_type = if is_json {
            JSON_CONTENT_TYPE
        } else {
            TEXT_CONTENT_TYPE
        };
        match self.output {
            OutputKind::Body => Ok(Output::Body(Body {
                bytes: Bytes::from(text),
                content_type: content_type.to_owned(),
            })),
            OutputKind::Event => {
                let mut e = event.clone();
                e.data = Some(if is_json {
                    Data::Json(text.into())
                } else {
                    Data::Text(text)
                });
                e.datacontenttype = Some(content_type.to_owned());
                e.dataschema = None;
                check_event(&e)?;
                Ok(Output::Event(e))
            }
        }
    }
}

/// The checks `crate::event::json` applies to a parsed event, for an event
/// built here.
fn check_event(e: &CloudEvent) -> Result<(), EventError> {
    validate::check_non_empty("id", &e.id)?;
    validate::check_source(&e.source)?;
    validate::check_non_empty("type", &e.ty)?;
    if let Some(v) = &e.datacontenttype {
        validate::check_datacontenttype(v)?;
    }
    if let Some(v) = &e.dataschema {
        validate::check_dataschema(v)?;
    }
    if let Some(v) = &e.subject {
        validate::check_subject(v)?;
    }
    if let Some(v) = &e.time {
        validate::check_time(v)?;
    }
    for (name, _) in &e.extensions {
        validate::check_extension_name(name)?;
    }
    Ok(())
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The slot of a built-in placeholder of the view, or the error naming
/// the placeholders there are.
fn builtin(name: &str, aws: bool) -> Result<Slot, TransformConfigError> {
    if aws {
        return match name {
            "aws.events.rule-name" => Ok(Slot::RuleName),
            "aws.events.rule-arn" => Ok(Slot::RuleArn),
            "aws.events.event.ingestion-time" => Ok(Slot::IngestionTime),
            "aws.events.event" => Ok(Slot::EventWithoutDetail),
            "aws.events.event.json" => JsonPath::parse("$")
                .map(Slot::Path)
                .map_err(|e| TransformConfigError::new("template", e)),
            _ => Err(unknown_placeholder(name, &AWS_BUILTINS)),
        };
    }
    match BUILTINS.iter().find(|(n, _)| *n == name) {
        Some((_, p)) => JsonPath::parse(p)
            .map(Slot::Path)
            .map_err(|e| TransformConfigError::new("template", e)),
        None => Err(unknown_placeholder(
            name,
            &BUILTINS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        )),
    }
}

fn unknown_placeholder(name: &str, builtins: &[&str]) -> TransformConfigError {
    TransformConfigError::new(
        "template",
        format!(
            "the placeholder <{name}> is not declared in 'paths' and is not a built-in ({}); write '<<' for a literal '<'",
            builtins
                .iter()
                .map(|n| format!("<{n}>"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

impl Template {
    fn compile(
        template: &str,
        paths: &BTreeMap<String, String>,
        aws: bool,
    ) -> Result<Template, TransformConfigError> {
        if template.is_empty() {
            return Err(TransformConfigError::new("template", "must not be empty"));
        }
        if template.len() > MAX_TEMPLATE_BYTES {
            return Err(TransformConfigError::new(
                "template",
                format!(
                    "is {} bytes; the limit is {MAX_TEMPLATE_BYTES}",
                    template.len()
                ),
            ));
        }
        if paths.len() > MAX_PATHS {
            return Err(TransformConfigError::new(
                "paths",
                format!(
                    "declares {} variables; the limit is {MAX_PATHS}",
                    paths.len()
                ),
            ));
        }
        let mut declared: BTreeMap<&str, JsonPath> = BTreeMap::new();
        for (name, path) in paths {
            let field = format!("paths.{name}");
            if name.is_empty() || name.len() > 64 || !name.bytes().all(is_name_byte) {
                return Err(TransformConfigError::new(
                    field,
                    format!(
                        "'{name}' is not a valid variable name: use 1 to 64 ASCII letters, digits, '_', '.' or '-'"
                    ),
                ));
            }
            let reserved = if aws {
                name.to_ascii_lowercase().starts_with("aws.")
            } else {
                BUILTINS.iter().any(|(b, _)| b == name)
            };
            if reserved {
                return Err(TransformConfigError::new(
                    field,
                    format!("'{name}' is a built-in placeholder; choose another name"),
                ));
            }
            declared.insert(
                name,
                JsonPath::parse(path).map_err(|e| TransformConfigError::new(field, e))?,
            );
        }

        let b = template.as_bytes();
        let mut pieces = Vec::new();
        let mut slot_names: Vec<&str> = Vec::new();
        let mut slots = Vec::new();
        let mut literal = String::new();
        let mut lit_start = 0;
        let mut in_string = false;
        let mut escaped = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'<' {
                if b.get(i + 1) == Some(&b'<') {
                    literal.push_str(&template[lit_start..=i]);
                    i += 2;
                    lit_start = i;
                    escaped = false;
                    continue;
                }
                let mut j = i + 1;
                while j < b.len() && is_name_byte(b[j]) {
                    j += 1;
                }
                if j > i + 1 && b.get(j) == Some(&b'>') {
                    let name = &template[i + 1..j];
                    let path = match declared.get(name) {
                        Some(p) => Slot::Path(p.clone()),
                        None => builtin(name, aws)?,
                    };
                    let slot = match slot_names.iter().position(|n| *n == name) {
                        Some(s) => s,
                        None => {
                            slot_names.push(name);
                            slots.push(path);
                            slots.len() - 1
                        }
                    };
                    literal.push_str(&template[lit_start..i]);
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value { slot, in_string });
                    i = j + 1;
                    lit_start = i;
                    escaped = false;
                    continue;
                }
            }
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_string = false;
                }
            } else if c == b'"' {
                in_string = true;
            }
            i += 1;
        }
        literal.push_str(&template[lit_start..]);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        let plain_text =
            aws && !matches!(template.trim_start().chars().next(), Some('{' | '[' | '"'));
        Ok(Template {
            pieces,
            slots,
            plain_text,
        })
    }

    fn render(
        &self,
        env: &Envelope<'_>,
        view: &View,
        received_at: i64,
    ) -> Result<String, TransformError> {
        let ingestion_time = || {
            // Milliseconds, as EventBridge writes it.
            let t = crate::event::time::format_rfc3339_micros(received_at);
            format!("{}Z", &t[..t.len() - 4])
        };
        let (rule_name, rule_arn) = match view {
            View::Aws {
                rule_name,
                rule_arn,
            } => (rule_name.as_str(), rule_arn.as_str()),
            View::CloudEvents => ("", ""),
        };
        let values: Vec<Option<Selected<'_>>> = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Path(p) => p.select(env),
                Slot::RuleName => Some(Selected::Str(rule_name)),
                Slot::RuleArn => Some(Selected::Str(rule_arn)),
                Slot::IngestionTime => Some(Selected::OwnedStr(ingestion_time())),
                Slot::EventWithoutDetail => Some(Selected::Owned(
                    env.aws_event_without_detail(&ingestion_time()),
                )),
            })
            .collect();
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Value { slot, in_string } => {
                    match (values.get(*slot).and_then(Option::as_ref), in_string) {
                        (Some(v), _) if self.plain_text => v.write_text(&mut out),
                        (None, _) if self.plain_text => {}
                        (Some(v), false) => v.write_json(&mut out),
                        (Some(v), true) => v.write_string_content(&mut out),
                        (None, false) => out.push_str("null"),
                        (None, true) => {}
                    }
                }
            }
            if out.len() > MAX_OUTPUT_BYTES {
                return Err(TransformError::OutputTooLarge {
                    limit: MAX_OUTPUT_BYTES,
                });
            }
        }
        Ok(out)
    }
}

/// A compiled path expression (the subset described in the [module
/// docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object member.
    Member(String),
    /// An array element; negative counts from the end.
    Index(i64),
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Parses a path. The error says what is wrong and names the path.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let message = |what: &str| format!("the path '{text}' is not supported: {what}");
        let err = |what: &str| Err(message(what));
        if text.len() > MAX_PATH_BYTES {
            return Err(format!(
                "the path starting '{}…' is longer than {MAX_PATH_BYTES} bytes",
                text.chars().take(40).collect::<String>()
            ));
        }
        let Some(rest) = text.strip_prefix('$') else {
            return err("a path starts with '$' (the envelope), e.g. $.data.order");
        };
        let chars: Vec<char> = rest.chars().collect();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    if chars.get(i + 1) == Some(&'.') {
                        return err("recursive descent ('..') is not supported");
                    }
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && is_plain_name_char(chars[j]) {
                        j += 1;
                    }
                    if j == start {
                        return match chars.get(j) {
                            None => err("a '.' must be followed by a member name"),
                            Some('*') => err("wildcards ('*') are not supported"),
                            Some(c) => err(&format!(
                                "'{c}' cannot appear in a member name after '.'; use the bracket form $['name']"
                            )),
                        };
                    }
                    segments.push(Segment::Member(chars[start..j].iter().collect()));
                    i = j;
                }
                '[' => {
                    let (segment, next) = parse_bracket(&chars, i).map_err(|e| message(&e))?;
                    segments.push(segment);
                    i = next;
                }
                '*' => return err("wildcards ('*') are not supported"),
                c => {
                    return err(&format!(
                        "unexpected '{c}'; after '$' or a step comes '.name', '[index]' or ['name']"
                    ));
                }
            }
        }
        Ok(JsonPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The steps after `$`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Selects the value at this path in `event`'s envelope and returns it
    /// as JSON text, or `None` when it is missing.
    pub fn select_json(&self, event: &CloudEvent) -> Option<String> {
        let env = Envelope::new(event, false);
        let v = self.select(&env)?;
        let mut out = String::new();
        v.write_json(&mut out);
        Some(out)
    }

    fn select<'a>(&self, env: &'a Envelope<'_>) -> Option<Selected<'a>> {
        let Some((first, rest)) = self.segments.split_first() else {
            return Some(Selected::Json(env.full()));
        };
        let mut current = match first {
            Segment::Member(name) => env.attribute(name)?,
            Segment::Index(_) => return None,
        };
        for segment in rest {
            let Selected::Json(text) = current else {
                // Attributes are scalars: nothing below them.
                return None;
            };
            current = Selected::Json(match segment {
                Segment::Member(name) => member(text, name)?,
                Segment::Index(i) => element(text, *i)?,
            });
        }
        Some(current)
    }
}

fn is_plain_name_char(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '.' | '[' | ']' | '\'' | '"' | '*' | '?' | '(' | ')' | '@'
        ))
}

/// Parses `[…]` starting at `chars[open]`; returns the segment and the index
/// after `]`.
fn parse_bracket(chars: &[char], open: usize) -> Result<(Segment, usize), String> {
    let mut i = open + 1;
    match chars.get(i) {
        Some(&q @ ('\'' | '"')) => {
            i += 1;
            let mut name = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(format!("the quoted name has no closing {q}")),
                    Some('\\') => match chars.get(i + 1) {
                        Some(&c @ ('\'' | '"' | '\\')) => {
                            name.push(c);
                            i += 2;
                        }
                        _ => {
                            return Err(
                                "inside a quoted name only \\', \\\" and \\\\ are escapes".into()
                            );
                        }
                    },
                    Some(&c) if c == q => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
            match chars.get(i) {
                Some(']') => Ok((Segment::Member(name), i + 1)),
                Some(',') => Err("unions ([a,b]) are not supported".into()),
                _ => Err("expected ']' after the quoted name".into()),
            }
        }
        Some('*') => Err("wildcards ('*') are not supported".into()),
        Some('?') => Err("filter expressions ([?(…)]) are not supported".into()),
        Some('(') => Err("script expressions ([(…)]) are not supported".into()),
        Some(c) if *c == '-' || c.is_ascii_digit() => {
            let start = i;
            if *c == '-' {
                i += 1;
            }
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            match chars.get(i) {
                Some(']') => {}
                Some(':') => return Err("slices ([a:b]) are not supported".into()),
                Some(',') => return Err("unions ([a,b]) are not supported".into()),
                _ => return Err("an index is a whole number followed by ']'".into()),
            }
            let index = digits
                .parse::<i64>()
                .map_err(|_| format!("'{digits}' is not a usable array index"))?;
            Ok((Segment::Index(index), i + 1))
        }
        Some(':') => Err("slices ([a:b]) are not supported".into()),
        _ => Err("'[' must be followed by an index like [0] or a quoted name like ['a b']".into()),
    }
}

/// A value selected from the envelope.
#[derive(Debug, Clone)]
enum Selected<'a> {
    /// JSON text, borrowed from the data or the envelope.
    Json(&'a str),
    /// A string attribute, not yet encoded.
    Str(&'a str),
    /// JSON text built on the spot (extension booleans and integers).
    Owned(String),
    /// A string built on the spot, not yet encoded.
    OwnedStr(String),
}

impl Selected<'_> {
    /// Writes the value as JSON.
    fn write_json(&self, out: &mut String) {
        match self {
            Selected::Json(t) => out.push_str(t),
            Selected::Str(s) => push_json_str(out, s),
            Selected::Owned(t) => out.push_str(t),
            Selected::OwnedStr(s) => push_json_str(out, s),
        }
    }

    /// Writes the value as plain text: strings as they are (no quotes, no
    /// escapes), anything else as its JSON text.
    fn write_text(&self, out: &mut String) {
        match self {
            Selected::Json(t) if t.starts_with('"') => match serde_json::from_str::<String>(t) {
                Ok(s) => out.push_str(&s),
                Err(_) => out.push_str(t),
            },
            Selected::Json(t) | Selected::Str(t) => out.push_str(t),
            Selected::Owned(t) | Selected::OwnedStr(t) => out.push_str(t),
        }
    }

    /// Writes the value as the content of a JSON string: strings without
    /// their quotes, anything else as its JSON text; escaped either way.
    fn write_string_content(&self, out: &mut String) {
        match self {
            Selected::Json(t) if t.starts_with('"') => {
                match serde_json::from_str::<String>(t) {
                    Ok(s) => push_json_escaped(out, &s),
                    // Not reachable for text that came through RawValue,
                    // but never lose the value.
                    Err(_) => push_json_escaped(out, t),
                }
            }
            Selected::Json(t) => push_json_escaped(out, t),
            Selected::Str(s) => push_json_escaped(out, s),
            Selected::Owned(t) => push_json_escaped(out, t),
            Selected::OwnedStr(s) => push_json_escaped(out, s),
        }
    }
}

/// The event as paths see it (see the module docs).
struct Envelope<'e> {
    event: &'e CloudEvent,
    data: Option<&'e str>,
    /// The EventBridge view (`$` is the EventBridge envelope).
    aws_view: bool,
    full: OnceCell<String>,
    /// The EventBridge fields, for the EventBridge view and for AWS events
    /// (whose envelope has EventBridge's members too).
    aws: OnceCell<Option<AwsFields<'e>>>,
}

impl<'e> Envelope<'e> {
    fn new(event: &'e CloudEvent, aws_view: bool) -> Self {
        Envelope {
            event,
            data: json_data(event),
            aws_view,
            full: OnceCell::new(),
            aws: OnceCell::new(),
        }
    }

    fn aws_fields(&self) -> Option<&AwsFields<'e>> {
        self.aws
            .get_or_init(|| {
                (self.aws_view || is_aws_event(self.event))
                    .then(|| AwsFields::of(self.event, self.data))
            })
            .as_ref()
    }

    fn full(&self) -> &str {
        self.full.get_or_init(|| match self.aws_fields() {
            Some(a) if self.aws_view => a.envelope(self.event),
            _ => envelope_text(self.event, self.data),
        })
    }

    /// `<aws.events.event>`: the EventBridge event without `detail`, in the
    /// shape EventBridge gives it (recorded against AWS in LocalStack's
    /// `test_input_transformer_predefined_variables` snapshot):
    /// `detail-type` spelled `detailType`, `time` the ingestion time.
    fn aws_event_without_detail(&self, ingestion_time: &str) -> String {
        let e = self.event;
        let Some(a) = self.aws_fields() else {
            return "null".to_owned();
        };
        let mut s = String::with_capacity(200 + a.resources.len());
        s.push_str("{\"id\":");
        push_json_str(&mut s, &e.id);
        s.push_str(",\"account\":");
        push_json_str(&mut s, a.account);
        s.push_str(",\"detailType\":");
        push_json_str(&mut s, &e.ty);
        s.push_str(",\"time\":");
        push_json_str(&mut s, ingestion_time);
        s.push_str(",\"source\":");
        push_json_str(&mut s, a.source);
        s.push_str(",\"region\":");
        push_json_str(&mut s, a.region);
        s.push_str(",\"resources\":");
        s.push_str(&a.resources);
        s.push_str(",\"version\":\"");
        s.push_str(crate::pattern::envelope::AWS_ENVELOPE_VERSION);
        s.push_str("\"}");
        s
    }

    /// An EventBridge member of the event, for the EventBridge view and for
    /// AWS events.
    fn aws_member(&self, name: &str) -> Option<Option<Selected<'_>>> {
        let a = self.aws_fields()?;
        let e = self.event;
        Some(match name {
            "version" => Some(Selected::Str(
                crate::pattern::envelope::AWS_ENVELOPE_VERSION,
            )),
            "detail-type" => Some(Selected::Str(&e.ty)),
            "source" => Some(Selected::Str(a.source)),
            "account" => Some(Selected::Str(a.account)),
            "region" => Some(Selected::Str(a.region)),
            "resources" => Some(Selected::Json(&a.resources)),
            "detail" => Some(Selected::Json(&a.detail)),
            "id" if self.aws_view => Some(Selected::Str(&e.id)),
            "time" if self.aws_view => Some(Selected::Str(&a.time)),
            "replay-name" if self.aws_view => a.replay_name.map(Selected::Str),
            // The EventBridge view has nothing else.
            _ if self.aws_view => None,
            _ => return None,
        })
    }

    fn attribute(&self, name: &str) -> Option<Selected<'_>> {
        if let Some(member) = self.aws_member(name) {
            return member;
        }
        let e = self.event;
        let s = |v: &'e str| Some(Selected::Str(v));
        match name {
            "specversion" => s(SPEC_VERSION),
            "id" => s(&e.id),
            "source" => s(&e.source),
            "type" => s(&e.ty),
            "subject" => e.subject.as_deref().and_then(s),
            "time" => e.time.as_deref().and_then(s),
            "datacontenttype" => e.datacontenttype.as_deref().and_then(s),
            "dataschema" => e.dataschema.as_deref().and_then(s),
            "data" => self.data.map(Selected::Json),
            _ => e.extension(name).map(|v| match v {
                ExtensionValue::String(v) => Selected::Str(v),
                ExtensionValue::Boolean(b) => Selected::Owned(b.to_string()),
                ExtensionValue::Integer(i) => Selected::Owned(i.to_string()),
            }),
        }
    }
}

/// A map key compared with a name, without allocating.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// The raw text of member `key` of the JSON object `json`; `None` if `json`
/// is not an object or has no such member. With duplicate names the last
/// one wins, as in `serde_json::Value`.
fn member<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    struct MemberVisitor<'k>(&'k str);
    impl<'de> Visitor<'de> for MemberVisitor<'_> {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(hit) = map.next_key_seed(KeyIs(self.0))? {
                if hit {
                    found = Some(map.next_value::<&'de RawValue>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    de.deserialize_any(MemberVisitor(key))
        .ok()
        .flatten()
        .map(RawValue::get)
}

/// The raw text of element `index` of the JSON array `json` (negative
/// counts from the end); `None` if `json` is not an array or too short.
fn element(json: &str, index: i64) -> Option<&str> {
    struct ElementsVisitor;
    impl<'de> Visitor<'de> for ElementsVisitor {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(e) = seq.next_element::<&'de RawValue>()? {
                v.push(e);
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let elements = de.deserialize_any(ElementsVisitor).ok()?;
    let len = i64::try_from(elements.len()).ok()?;
    let i = if index < 0 {
        len.checked_add(index)?
    } else {
        index
    };
    let i = usize::try_from(i).ok()?;
    elements.get(i).map(|r| r.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::parse_structured;

    fn event(json: &str) -> CloudEvent {
        parse_structured(json.as_bytes()).unwrap().unwrap()
    }

    const ORDER: &str = r#"{"specversion":"1.0","id":"o-1","source":"/shop/eu","type":"order.created",
        "subject":"1001","time":"2024-05-01T12:00:00Z","datacontenttype":"application/json",
        "dataschema":"https://example.com/order.json","partitionkey":"customer-7","priority":5,"urgent":true,
        "data":{"order":{"id":1001,"total":120.50,"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],
                "customer":{"name":"Zoë \"Z\" Ng","note":"line1\nline2\\end\t☃"}},
                "tags":["x","y","z"],"with space":{"a.b":"dotted"},"nothing":null}}"#;

    fn config(json: &str) -> TransformConfig {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn compile(json: &str) -> CompiledTransform {
        config(json)
            .compile()
            .unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    fn compile_err(json: &str) -> TransformConfigError {
        match serde_json::from_str::<TransformConfig>(json) {
            Ok(c) => c.compile().expect_err(json),
            Err(e) => panic!("{json} should parse: {e}"),
        }
    }

    /// Applies with `"output": "body"` and returns (text, content type).
    fn body(transform_json: &str, event_json: &str) -> (String, String) {
        let mut c = config(transform_json);
        c.output = OutputKind::Body;
        match c.compile().unwrap().apply(&event(event_json)).unwrap() {
            Output::Body(b) => (String::from_utf8(b.bytes.to_vec()).unwrap(), b.content_type),
            Output::Event(_) => panic!("expected a body"),
        }
    }

    fn render(template: &str, paths: &[(&str, &str)]) -> (String, String) {
        let c = TransformConfig {
            template: Some(template.into()),
            paths: Some(
                paths
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            output: OutputKind::Body,
            ..Default::default()
        };
        match c.compile().unwrap().apply(&event(ORDER)).unwrap() {
            Output::Body(b) => (String::from_utf8(b.bytes.to_vec()).unwrap(), b.content_type),
            Output::Event(_) => unreachable!(),
        }
    }

    fn json_of(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn constant_form() {
        let (t, ct) = body(r#"{"constant": {"b": [1, 2], "a": "x"}}"#, ORDER);
        assert_eq!(json_of(&t), serde_json::json!({"a": "x", "b": [1, 2]}));
        assert_eq!(ct, JSON_CONTENT_TYPE);
        assert_eq!(body(r#"{"constant": null}"#, ORDER).0, "null");
        assert_eq!(body(r#"{"constant": "hi"}"#, ORDER).0, r#""hi""#);
        assert_eq!(body(r#"{"constant": 0}"#, ORDER).0, "0");
    }

    #[test]
    fn constant_event_output_replaces_data() {
        let t = compile(r#"{"constant": {"ok": true}}"#);
        let original = event(ORDER);
        let Output::Event(e) = t.apply(&original).unwrap() else {
            panic!()
        };
        assert_eq!(e.data, Some(Data::Json(r#"{"ok":true}"#.into())));
        assert_eq!(e.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(e.dataschema, None, "the old schema no longer applies");
        assert_eq!(
            (&e.id, &e.source, &e.ty, &e.subject, &e.time),
            (
                &original.id,
                &original.source,
                &original.ty,
                &original.subject,
                &original.time
            )
        );
        assert_eq!(e.extensions, original.extensions);
        // It is a valid event that round-trips through the JSON format.
        let text = crate::event::json::to_json_string(&e);
        assert_eq!(event(&text), e);
    }

    #[test]
    fn path_form_keeps_exact_text() {
        let (t, ct) = body(r#"{"path": "$.data.order"}"#, ORDER);
        assert!(t.starts_with(r#"{"id":1001,"total":120.50,"items""#), "{t}");
        assert_eq!(ct, JSON_CONTENT_TYPE);
        assert_eq!(body(r#"{"path": "$.data.order.total"}"#, ORDER).0, "120.50");
        assert_eq!(
            body(r#"{"path": "$.data.order.items[1].sku"}"#, ORDER).0,
            r#""b""#
        );
        assert_eq!(body(r#"{"path": "$.data.tags[-1]"}"#, ORDER).0, r#""z""#);
        assert_eq!(body(r#"{"path": "$.data.tags[-3]"}"#, ORDER).0, r#""x""#);
        assert_eq!(
            body(r#"{"path": "$.data['with space']['a.b']"}"#, ORDER).0,
            r#""dotted""#
        );
        assert_eq!(
            body(r#"{"path": "$[\"data\"].order.customer.name"}"#, ORDER).0,
            r#""Zoë \"Z\" Ng""#
        );
        assert_eq!(body(r#"{"path": "$.data.nothing"}"#, ORDER).0, "null");
    }

    #[test]
    fn path_form_attributes_and_extensions() {
        assert_eq!(body(r#"{"path": "$.id"}"#, ORDER).0, r#""o-1""#);
        assert_eq!(body(r#"{"path": "$.specversion"}"#, ORDER).0, r#""1.0""#);
        assert_eq!(
            body(r#"{"path": "$.partitionkey"}"#, ORDER).0,
            r#""customer-7""#
        );
        assert_eq!(body(r#"{"path": "$.priority"}"#, ORDER).0, "5");
        assert_eq!(body(r#"{"path": "$.urgent"}"#, ORDER).0, "true");
        assert_eq!(
            body(r#"{"path": "$.dataschema"}"#, ORDER).0,
            r#""https://example.com/order.json""#
        );
    }

    #[test]
    fn whole_envelope() {
        let (t, _) = body(r#"{"path": "$"}"#, ORDER);
        let v = json_of(&t);
        assert_eq!(v["id"], "o-1");
        assert_eq!(v["priority"], 5);
        assert_eq!(v["data"]["order"]["id"], 1001);
        assert_eq!(v["specversion"], "1.0");
        // Member order is the pattern envelope's.
        assert!(t.starts_with(r#"{"specversion":"1.0","id":"o-1","source":"/shop/eu","type":"order.created","subject":"1001""#), "{t}");
    }

    #[test]
    fn missing_paths() {
        for p in [
            "$.data.order.nope",
            "$.nope",
            "$.data.tags[3]",
            "$.data.tags[-4]",
            "$.data.tags.x",
            "$.data.order[0]",
            "$.id.x",
            "$.id[0]",
            "$[0]",
            "$.data.order.total.x",
            "$.data.nothing.x",
        ] {
            assert_eq!(
                body(&format!(r#"{{"path": "{p}"}}"#), ORDER).0,
                "null",
                "{p}"
            );
        }
        // Missing optional attributes.
        let minimal = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#;
        for p in ["$.subject", "$.time", "$.data", "$.data.x"] {
            assert_eq!(
                body(&format!(r#"{{"path": "{p}"}}"#), minimal).0,
                "null",
                "{p}"
            );
        }
    }

    #[test]
    fn template_values_outside_strings_are_json() {
        let (t, ct) = render(
            r#"{"order": <order>, "total": <total>, "name": <name>, "items": <items>, "nil": <nil>, "src": <source>, "n": <prio>, "b": <urgent>}"#,
            &[
                ("order", "$.data.order.id"),
                ("total", "$.data.order.total"),
                ("name", "$.data.order.customer.name"),
                ("items", "$.data.order.items"),
                ("nil", "$.data.nothing"),
                ("prio", "$.priority"),
                ("urgent", "$.urgent"),
            ],
        );
        assert_eq!(ct, JSON_CONTENT_TYPE);
        assert!(t.contains(r#""total": 120.50,"#), "number text kept: {t}");
        let v = json_of(&t);
        assert_eq!(v["order"], 1001);
        assert_eq!(v["name"], "Zoë \"Z\" Ng");
        assert_eq!(v["items"][1]["qty"], 2);
        assert_eq!(v["nil"], serde_json::Value::Null);
        assert_eq!(v["src"], "/shop/eu");
        assert_eq!(v["n"], 5);
        assert_eq!(v["b"], true);
    }

    #[test]
    fn template_values_inside_strings_are_escaped_content() {
        let (t, ct) = render(
            r#"{"msg": "Order <order> for <name> (<note>) items=<items> total=<total> nil=<nil> t=<time>"}"#,
            &[
                ("order", "$.data.order.id"),
                ("name", "$.data.order.customer.name"),
                ("note", "$.data.order.customer.note"),
                ("items", "$.data.tags"),
                ("total", "$.data.order.total"),
                ("nil", "$.data.nothing"),
            ],
        );
        assert_eq!(ct, JSON_CONTENT_TYPE, "{t}");
        let v = json_of(&t);
        assert_eq!(
            v["msg"],
            "Order 1001 for Zoë \"Z\" Ng (line1\nline2\\end\t☃) items=[\"x\",\"y\",\"z\"] total=120.50 nil=null t=2024-05-01T12:00:00Z"
        );
    }

    #[test]
    fn escaping_edge_cases() {
        let e = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t",
            "data":{"q":"\"","bs":"\\","nl":"a\nb","ctl":"\u0001\u001f","uni":"\u00e9\ud83d\ude00","obj":{"k":"v\"w"}}}"#;
        let c = config(
            r#"{"paths": {"q": "$.data.q", "bs": "$.data.bs", "nl": "$.data.nl", "ctl": "$.data.ctl", "uni": "$.data.uni", "obj": "$.data.obj"},
                "template": "[\"<q>\", \"<bs>\", \"<nl>\", \"<ctl>\", \"<uni>\", \"<obj>\", <q>, <obj>]", "output": "body"}"#,
        );
        let Output::Body(b) = c.compile().unwrap().apply(&event(e)).unwrap() else {
            panic!()
        };
        let text = std::str::from_utf8(&b.bytes).unwrap();
        let v = json_of(text);
        assert_eq!(
            v,
            serde_json::json!(["\"", "\\", "a\nb", "\u{1}\u{1f}", "é😀", "{\"k\":\"v\\\"w\"}", "\"", {"k": "v\"w"}]),
            "{text}"
        );
        assert!(text.contains(r#""\u0001\u001f""#), "{text}");
    }

    #[test]
    fn escaped_quotes_in_the_template_keep_string_state() {
        // EventBridge's own example: "instance \"<instance>\" is in <state>".
        let (t, ct) = render(
            r#""order \"<oid>\" is in <state>""#,
            &[("oid", "$.data.order.id"), ("state", "$.subject")],
        );
        assert_eq!(t, r#""order \"1001\" is in 1001""#);
        assert_eq!(ct, JSON_CONTENT_TYPE);
        assert_eq!(json_of(&t), "order \"1001\" is in 1001");
        // A backslash before the closing quote of a string: \\" closes it.
        let (t, _) = render(r#"{"a": "x\\", "b": <id>}"#, &[]);
        assert_eq!(t, r#"{"a": "x\\", "b": "o-1"}"#);
    }

    #[test]
    fn text_templates() {
        let (t, ct) = render(
            "Order <id> shipped to <name>",
            &[("name", "$.data.order.customer.name")],
        );
        assert_eq!(t, r#"Order "o-1" shipped to "Zoë \"Z\" Ng""#);
        assert_eq!(ct, TEXT_CONTENT_TYPE);
        let (t, ct) = render("\"Order <id> shipped\"", &[]);
        assert_eq!(t, r#""Order o-1 shipped""#);
        assert_eq!(ct, JSON_CONTENT_TYPE);
        let (t, _) = render("<subject>", &[]);
        assert_eq!(t, r#""1001""#);
        // As an event, text output becomes text data.
        let c = config(r#"{"template": "Order <id> shipped"}"#);
        let Output::Event(e) = c.compile().unwrap().apply(&event(ORDER)).unwrap() else {
            panic!()
        };
        assert_eq!(e.data, Some(Data::Text(r#"Order "o-1" shipped"#.into())));
        assert_eq!(e.datacontenttype.as_deref(), Some(TEXT_CONTENT_TYPE));
        assert_eq!(event(&crate::event::json::to_json_string(&e)), e);
    }

    #[test]
    fn literal_angle_brackets() {
        let (t, _) = render("a < b > c <not a placeholder> <<id>> <> <", &[]);
        assert_eq!(t, "a < b > c <not a placeholder> <id>> <> <");
        let (t, _) = render("\"<<b>bold<</b> <id>\"", &[]);
        assert_eq!(t, "\"<b>bold</b> o-1\"");
    }

    #[test]
    fn builtins() {
        let (t, _) = render(
            r#"{"event": <event>, "data": <data>, "id": <id>, "source": <source>, "type": <type>, "subject": <subject>, "time": <time>}"#,
            &[],
        );
        let v = json_of(&t);
        assert_eq!(v["event"]["partitionkey"], "customer-7");
        assert_eq!(v["event"]["data"]["order"]["id"], 1001);
        assert_eq!(v["data"]["tags"][0], "x");
        assert_eq!(v["id"], "o-1");
        assert_eq!(v["source"], "/shop/eu");
        assert_eq!(v["type"], "order.created");
        assert_eq!(v["subject"], "1001");
        assert_eq!(v["time"], "2024-05-01T12:00:00Z");
        // Used inside a string, the envelope is escaped JSON text.
        let (t, _) = render(r#"{"raw": "<data>"}"#, &[]);
        let inner: serde_json::Value = json_of(json_of(&t)["raw"].as_str().unwrap());
        assert_eq!(inner["order"]["total"], 120.5);
    }

    #[test]
    fn missing_template_values() {
        let minimal = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hello"}"#;
        let c = config(
            r#"{"paths": {"x": "$.data.x"}, "template": "{\"a\": <x>, \"b\": \"[<x>]\", \"s\": <subject>, \"t\": \"<time>\", \"d\": <data>}", "output": "body"}"#,
        );
        let Output::Body(b) = c.compile().unwrap().apply(&event(minimal)).unwrap() else {
            panic!()
        };
        assert_eq!(
            std::str::from_utf8(&b.bytes).unwrap(),
            r#"{"a": null, "b": "[]", "s": null, "t": "", "d": null}"#
        );
    }

    #[test]
    fn binary_json_data_is_visible() {
        let mut e = event(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#);
        e.data = Some(Data::Binary(Bytes::from_static(br#"{"k": [1, 2]}"#)));
        let (t, _) = {
            let c = compile(r#"{"path": "$.data.k[1]", "output": "body"}"#);
            match c.apply(&e).unwrap() {
                Output::Body(b) => (String::from_utf8(b.bytes.to_vec()).unwrap(), b.content_type),
                _ => unreachable!(),
            }
        };
        assert_eq!(t, "2");
        // Not JSON: invisible.
        e.data = Some(Data::Binary(Bytes::from_static(&[0xff, 0x00])));
        let c = compile(r#"{"path": "$.data", "output": "body"}"#);
        let Output::Body(b) = c.apply(&e).unwrap() else {
            panic!()
        };
        assert_eq!(&b.bytes[..], b"null");
    }

    #[test]
    fn one_slot_per_name() {
        let t = compile(r#"{"paths": {"a": "$.id"}, "template": "<a><a><id><a>"}"#);
        let Kind::Template(tpl) = &t.kind else {
            panic!()
        };
        assert_eq!(tpl.slots.len(), 2);
        assert_eq!(tpl.pieces.len(), 4);
    }

    #[test]
    fn invalid_configs() {
        for (json, field, needle) in [
            (r#"{}"#, "", "needs one of"),
            (r#"{"output": "event"}"#, "", "needs one of"),
            (r#"{"output": "body"}"#, "", "needs one of"),
            (r#"{"constant": 1, "path": "$"}"#, "", "exactly one"),
            (r#"{"path": "$", "template": "x"}"#, "", "exactly one"),
            (r#"{"paths": {"a": "$.id"}}"#, "paths", "needs a 'template'"),
            (
                r#"{"paths": {"a": "$.id"}, "constant": 1}"#,
                "paths",
                "needs a 'template'",
            ),
            (r#"{"template": ""}"#, "template", "empty"),
            (
                r#"{"template": "<nope>"}"#,
                "template",
                "<nope> is not declared",
            ),
            (
                r#"{"paths": {"id": "$.data.id"}, "template": "<id>"}"#,
                "paths.id",
                "built-in",
            ),
            (
                r#"{"paths": {"a b": "$.id"}, "template": "x"}"#,
                "paths.a b",
                "not a valid variable name",
            ),
            (
                r#"{"paths": {"": "$.id"}, "template": "x"}"#,
                "paths.",
                "not a valid variable name",
            ),
            (
                r#"{"paths": {"a": "data.x"}, "template": "<a>"}"#,
                "paths.a",
                "starts with '$'",
            ),
            (r#"{"path": "$..a"}"#, "path", "recursive descent"),
            (r#"{"path": "$.a.*"}"#, "path", "wildcards"),
            (r#"{"path": "$.a[*]"}"#, "path", "wildcards"),
            (r#"{"path": "$*"}"#, "path", "wildcards"),
            (r#"{"path": "$.a[?(@.b)]"}"#, "path", "filter"),
            (r#"{"path": "$.a[(@.length-1)]"}"#, "path", "script"),
            (r#"{"path": "$.a[1:2]"}"#, "path", "slices"),
            (r#"{"path": "$.a[:2]"}"#, "path", "slices"),
            (r#"{"path": "$.a[1,2]"}"#, "path", "unions"),
            (r#"{"path": "$['a','b']"}"#, "path", "unions"),
            (r#"{"path": "$.a["}"#, "path", "'[' must be followed"),
            (r#"{"path": "$.a[1"}"#, "path", "whole number"),
            (r#"{"path": "$.a[x]"}"#, "path", "'[' must be followed"),
            (r#"{"path": "$['a"}"#, "path", "no closing"),
            (r#"{"path": "$['a'"}"#, "path", "expected ']'"),
            (r#"{"path": "$['a\\x']"}"#, "path", "escapes"),
            (
                r#"{"path": "$.a[99999999999999999999]"}"#,
                "path",
                "not a usable array index",
            ),
            (r#"{"path": "$."}"#, "path", "member name"),
            (r#"{"path": "$.a b"}"#, "path", "unexpected ' '"),
            (r#"{"path": "$. a"}"#, "path", "cannot appear"),
            (r#"{"path": "$a"}"#, "path", "unexpected 'a'"),
            (r#"{"path": ""}"#, "path", "starts with '$'"),
        ] {
            let e = compile_err(json);
            assert_eq!(e.field, field, "{json}: {e}");
            assert!(e.detail.contains(needle), "{json}: {e}");
        }
        // Path errors name the path.
        let e = compile_err(r#"{"path": "$.orders[*].id"}"#);
        assert!(e.detail.contains("'$.orders[*].id'"), "{e}");
        assert_eq!(e.to_string(), format!("path: {}", e.detail));
        let e = compile_err("{}");
        assert_eq!(e.to_string(), e.detail, "no empty field prefix");
    }

    #[test]
    fn limits() {
        let paths: BTreeMap<String, String> = (0..=MAX_PATHS)
            .map(|i| (format!("v{i}"), "$.id".to_string()))
            .collect();
        let c = TransformConfig {
            paths: Some(paths),
            template: Some("x".into()),
            ..Default::default()
        };
        assert_eq!(c.compile().unwrap_err().field, "paths");
        let c = TransformConfig {
            template: Some("x".repeat(MAX_TEMPLATE_BYTES + 1)),
            ..Default::default()
        };
        assert_eq!(c.compile().unwrap_err().field, "template");
        let c = TransformConfig {
            path: Some(format!("$.{}", "a".repeat(MAX_PATH_BYTES))),
            ..Default::default()
        };
        assert_eq!(c.compile().unwrap_err().field, "path");
        // Output limit: <event> repeated over a big event.
        let big = format!(
            r#"{{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"{}"}}"#,
            "x".repeat(1 << 20)
        );
        let t = compile(&format!(r#"{{"template": "{}"}}"#, "<event>".repeat(20)));
        assert_eq!(
            t.apply(&event(&big)).unwrap_err(),
            TransformError::OutputTooLarge {
                limit: MAX_OUTPUT_BYTES
            }
        );
    }

    #[test]
    fn serde_shape() {
        for (json, needle) in [
            (r#"{"template": "x", "extra": 1}"#, "unknown field"),
            (
                r#"{"template": "x", "output": "headers"}"#,
                "unknown variant",
            ),
            (r#"{"path": 5}"#, "invalid type"),
            (r#"{"paths": ["$.a"], "template": "x"}"#, "invalid type"),
        ] {
            let e = serde_json::from_str::<TransformConfig>(json)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{json}: {e}");
        }
        let c = config(r#"{"constant": null}"#);
        assert_eq!(c.constant, Some(serde_json::Value::Null));
        for json in [
            r#"{"constant":null}"#,
            r#"{"constant":{"a":[1]},"output":"body"}"#,
            r#"{"path":"$.data"}"#,
            r#"{"paths":{"a":"$.id"},"template":"<a>"}"#,
        ] {
            assert_eq!(serde_json::to_string(&config(json)).unwrap(), json);
        }
    }

    #[test]
    fn json_path_api() {
        let p = JsonPath::parse("$.data['a b'][-2].c").unwrap();
        assert_eq!(p.as_str(), "$.data['a b'][-2].c");
        assert_eq!(p.to_string(), "$.data['a b'][-2].c");
        assert_eq!(
            p.segments(),
            &[
                Segment::Member("data".into()),
                Segment::Member("a b".into()),
                Segment::Index(-2),
                Segment::Member("c".into())
            ]
        );
        assert_eq!(JsonPath::parse("$").unwrap().segments(), &[]);
        assert_eq!(
            JsonPath::parse("$.a/b-c_d:é").unwrap().segments(),
            &[Segment::Member("a/b-c_d:é".into())]
        );
        assert_eq!(
            JsonPath::parse(r#"$['it\'s']["q\"\\"]"#)
                .unwrap()
                .segments(),
            &[
                Segment::Member("it's".into()),
                Segment::Member("q\"\\".into())
            ]
        );
        let e = event(ORDER);
        assert_eq!(
            JsonPath::parse("$.data.order.items[0]")
                .unwrap()
                .select_json(&e)
                .as_deref(),
            Some(r#"{"sku":"a","qty":1}"#)
        );
        assert_eq!(JsonPath::parse("$.nope").unwrap().select_json(&e), None);
    }

    #[test]
    fn duplicate_members_last_wins_and_escaped_keys_match() {
        let e = event(
            r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1,"a":2,"k\u0065y":"v"}}"#,
        );
        assert_eq!(
            JsonPath::parse("$.data.a")
                .unwrap()
                .select_json(&e)
                .as_deref(),
            Some("2")
        );
        assert_eq!(
            JsonPath::parse("$.data.key")
                .unwrap()
                .select_json(&e)
                .as_deref(),
            Some(r#""v""#)
        );
    }

    #[test]
    fn deeply_nested_data_does_not_panic() {
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let mut e = event(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#);
        e.data = Some(Data::Json(deep.into()));
        let path = format!("$.data{}", "[0]".repeat(200));
        let t = compile(&format!(r#"{{"path": "{path}", "output": "body"}}"#));
        let _ = t.apply(&e).unwrap();
        let t = compile(r#"{"template": "<data>", "output": "body"}"#);
        let _ = t.apply(&e).unwrap();
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any string value survives insertion inside and outside
            /// template strings: the output is JSON and decodes to it.
            #[test]
            fn any_string_round_trips(s in "\\PC*|[\\x00-\\x1f\"\\\\]{0,8}") {
                let mut e = event(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t"}"#);
                let mut data = String::new();
                push_json_str(&mut data, &s);
                e.data = Some(Data::Json(format!(r#"{{"v":{data}}}"#).into()));
                let t = compile(r#"{"paths": {"v": "$.data.v"}, "template": "[\"<v>\", <v>, \"a<v>b\"]", "output": "body"}"#);
                let Output::Body(b) = t.apply(&e).unwrap() else { panic!() };
                prop_assert_eq!(&b.content_type, JSON_CONTENT_TYPE);
                let v: Vec<String> = serde_json::from_slice(&b.bytes).unwrap();
                prop_assert_eq!(v, vec![s.clone(), s.clone(), format!("a{s}b")]);
            }

            /// Arbitrary path text and templates never panic the compiler.
            #[test]
            fn compile_never_panics(path in "\\PC{0,30}", template in "[<>\"\\\\a-z$. ]{0,40}") {
                let _ = JsonPath::parse(&path);
                let c = TransformConfig { template: Some(template), ..Default::default() };
                if let Ok(t) = c.compile() {
                    let _ = t.apply(&event(ORDER));
                }
            }
        }
    }

    /// The EventBridge view: paths over the EventBridge envelope and
    /// EventBridge's predefined variables.
    mod aws_view {
        use super::*;
        use crate::event::ExtensionValue;

        /// The EC2 sample of AWS's "input transformation" page, as
        /// `PutEvents` stores it.
        fn ec2() -> CloudEvent {
            let mut e = event(
                r#"{"specversion":"1.0","id":"7bf73129-1428-4cd3-a780-95db273d1602","source":"aws.ec2",
                    "type":"EC2 Instance State-change Notification","time":"2015-11-11T21:29:54Z",
                    "datacontenttype":"application/json",
                    "data":{"instance-id":"i-0123456789","state":"RUNNING"}}"#,
            );
            for (k, v) in [
                ("awsaccount", "123456789012"),
                ("awsregion", "us-east-1"),
                (
                    "awsresources",
                    r#"["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]"#,
                ),
            ] {
                e.set_extension(k, ExtensionValue::String(v.into()));
            }
            e
        }

        fn view() -> View {
            View::Aws {
                rule_name: "example".into(),
                rule_arn: "arn:aws:events:us-east-2:123456789012:rule/example".into(),
            }
        }

        fn body(config: &str, e: &CloudEvent) -> String {
            let mut c = config_of(config);
            c.output = OutputKind::Body;
            let t = CompiledTransform::with_view(&c, view()).unwrap();
            // 2015-11-11T21:29:55.123Z
            match t.apply_received(e, 1_447_277_395_123_000).unwrap() {
                Output::Body(b) => String::from_utf8(b.bytes.to_vec()).unwrap(),
                Output::Event(_) => unreachable!(),
            }
        }

        fn config_of(json: &str) -> TransformConfig {
            serde_json::from_str(json).unwrap()
        }

        #[test]
        fn the_examples_of_the_aws_page() {
            let paths = r#""paths": {"timestamp": "$.time", "instance": "$.detail.instance-id",
                "state": "$.detail.state", "resource": "$.resources[0]"}"#;
            let run = |template: &str| {
                body(
                    &format!(
                        r#"{{{paths}, "template": {}}}"#,
                        serde_json::json!(template)
                    ),
                    &ec2(),
                )
            };
            assert_eq!(
                run(r#""instance <instance> is in <state>""#),
                r#""instance i-0123456789 is in RUNNING""#
            );
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&run(
                    r#"{"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"}"#
                ))
                .unwrap(),
                serde_json::json!({"instance": "i-0123456789", "state": [9, "RUNNING", true], "Transformed": "Yes"})
            );
            assert_eq!(
                run("<instance> is in state <state>"),
                "i-0123456789 is in state RUNNING"
            );
            assert_eq!(
                run(r#"{"resource": <resource>, "at": "<timestamp>"}"#),
                r#"{"resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111", "at": "2015-11-11T21:29:54Z"}"#
            );
        }

        #[test]
        fn predefined_variables() {
            let out = body(
                r#"{"template": "{\"name\": <aws.events.rule-name>, \"arn\": \"<aws.events.rule-arn>\", \"at\": <aws.events.event.ingestion-time>, \"event\": <aws.events.event>, \"json\": <aws.events.event.json>}"}"#,
                &ec2(),
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["name"], "example");
            assert_eq!(
                v["arn"],
                "arn:aws:events:us-east-2:123456789012:rule/example"
            );
            assert_eq!(v["at"], "2015-11-11T21:29:55.123Z");
            assert_eq!(
                v["event"],
                serde_json::json!({"id": "7bf73129-1428-4cd3-a780-95db273d1602",
                    "account": "123456789012", "detailType": "EC2 Instance State-change Notification",
                    "time": "2015-11-11T21:29:55.123Z", "source": "aws.ec2", "region": "us-east-1",
                    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
                    "version": "0"})
            );
            assert_eq!(v["json"]["detail"]["state"], "RUNNING");
            assert_eq!(
                v["json"]["detail-type"],
                "EC2 Instance State-change Notification"
            );
            assert!(
                v["json"].get("specversion").is_none(),
                "the EventBridge envelope"
            );
            // The whole event, and a member that is not EventBridge's.
            let whole: serde_json::Value =
                serde_json::from_str(&body(r#"{"path": "$"}"#, &ec2())).unwrap();
            assert_eq!(whole["account"], "123456789012");
            assert_eq!(body(r#"{"path": "$.specversion"}"#, &ec2()), "null");
            assert_eq!(body(r#"{"path": "$.awsaccount"}"#, &ec2()), "null");
        }

        #[test]
        fn reserved_and_unknown_names() {
            for (config, needle) in [
                (
                    r#"{"paths": {"aws.x": "$.id"}, "template": "<aws.x>"}"#,
                    "built-in",
                ),
                (r#"{"template": "<event>"}"#, "<aws.events.rule-name>"),
            ] {
                let e = CompiledTransform::with_view(&config_of(config), view()).unwrap_err();
                assert!(e.to_string().contains(needle), "{config}: {e}");
            }
            // The CloudEvents view knows none of EventBridge's variables…
            assert!(
                config_of(r#"{"template": "<aws.events.rule-name>"}"#)
                    .compile()
                    .is_err()
            );
            // …but AWS events show their EventBridge members there too.
            let t = config_of(r#"{"path": "$.detail.state", "output": "body"}"#)
                .compile()
                .unwrap();
            let Output::Body(b) = t.apply(&ec2()).unwrap() else {
                panic!()
            };
            assert_eq!(&b.bytes[..], br#""RUNNING""#);
        }

        #[test]
        fn cloudevents_from_elsewhere_get_defaults() {
            let e = event(ORDER);
            assert_eq!(body(r#"{"path": "$.account"}"#, &e), r#""000000000000""#);
            assert_eq!(
                body(r#"{"path": "$.detail-type"}"#, &e),
                r#""order.created""#
            );
            assert_eq!(body(r#"{"path": "$.detail.order.id"}"#, &e), "1001");
            assert_eq!(body(r#"{"path": "$.resources"}"#, &e), "[]");
        }
    }
}
