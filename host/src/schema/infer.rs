//! Schema discovery: proposing a JSON Schema from the events of a type.
//!
//! [`SchemaInference`] keeps, per event type, a summary of every data
//! document it was shown — never the documents themselves — and turns the
//! summary into a draft 2020-12 schema on request. The rules, chosen so that
//! the proposal accepts every event observed so far and as little else as can
//! be said with confidence:
//!
//! * **Types.** Each location gets the set of JSON types seen there (`"type":
//!   "string"` or `"type": ["string", "null"]`). A number written without a
//!   fraction or exponent (`3`) is an `integer`; one with (`3.5`, `3.0`,
//!   `1e3`) is a `number`; a location that saw both is `number`.
//! * **Objects.** `properties` describes every member seen; `required` lists
//!   the members present in *every* object observed at that location.
//!   `additionalProperties` is not restricted: producers add members over
//!   time, and the proposal should not reject them.
//! * **Arrays.** All items of all arrays at a location are merged into one
//!   `items` schema. Tuples (`prefixItems`) are not inferred; an array only
//!   ever seen empty gets no `items`.
//! * **String formats.** `format` is proposed when *every* string seen at a
//!   location is a `date-time`, `uuid`, `email` or `uri` (in that order of
//!   preference), judged by the same format checks the validator uses, so the
//!   proposal never rejects the strings it learnt from. Emails need a dotted
//!   domain and URIs a `scheme://` (or `urn:`) to count, so that `a:b` style
//!   keys are not taken for URIs.
//! * **No enums, no bounds.** Values are never turned into `enum`, `minimum`
//!   or `maxLength`: a few samples say little about the range of a field.
//!
//! The root carries `"x-signalbox-samples": N`, the number of events the
//! proposal rests on (an annotation: validators ignore unknown keywords).
//!
//! # Memory
//!
//! Memory is bounded by [`InferenceLimits`]: how many event types are
//! tracked (events of further types are ignored until one is
//! [`forget`](SchemaInference::forget)-ten), how many schema locations one type
//! may have, how many properties one object location may have, and how deep
//! locations go. Members beyond a limit are not described; the object is
//! marked `"x-signalbox-truncated": true` and still accepts them, because
//! nothing restricts additional properties. Locations deeper than the limit
//! get their types only.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

use crate::event::{CloudEvent, Data, is_json_media_type};

/// Bounds on what [`SchemaInference`] keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceLimits {
    /// Event types tracked at once.
    pub max_types: usize,
    /// Schema locations (object members and array items) per event type.
    pub max_nodes_per_type: usize,
    /// Members described per object location.
    pub max_properties: usize,
    /// Nesting depth described; the data itself is depth 0.
    pub max_depth: usize,
    /// Longest member name described, in bytes.
    pub max_name_len: usize,
}

impl Default for InferenceLimits {
    /// 256 types × 1,024 locations of a few hundred bytes each: at most a few
    /// tens of MiB in the worst case, far less in practice.
    fn default() -> Self {
        InferenceLimits {
            max_types: 256,
            max_nodes_per_type: 1024,
            max_properties: 128,
            max_depth: 12,
            max_name_len: 256,
        }
    }
}

/// Observes events and proposes a schema per event type; see the module docs.
///
/// `Send + Sync`: observation takes `&self` (the state is behind a mutex,
/// held only while a parsed document is folded into the summary).
#[derive(Debug, Default)]
pub struct SchemaInference {
    limits: InferenceLimits,
    types: Mutex<HashMap<String, TypeStats>>,
}

#[derive(Debug, Default)]
struct TypeStats {
    samples: u64,
    nodes: usize,
    root: Node,
}

/// What was seen at one location of the documents.
#[derive(Debug, Default)]
struct Node {
    null: bool,
    boolean: bool,
    integer: bool,
    number: bool,
    /// Bit set of the formats every string seen here has (None: no string).
    string: Option<u8>,
    object: Option<ObjectStats>,
    array: Option<Box<ArrayStats>>,
}

#[derive(Debug, Default)]
struct ObjectStats {
    /// How many objects were seen at this location.
    count: u64,
    props: BTreeMap<String, Prop>,
    /// Some members were not described (a limit was reached).
    truncated: bool,
}

#[derive(Debug, Default)]
struct Prop {
    /// In how many of those objects the member was present.
    present: u64,
    node: Node,
}

#[derive(Debug, Default)]
struct ArrayStats {
    /// Items are not described (depth or location budget exhausted).
    untracked: bool,
    /// Whether `items` has seen any item.
    any_item: bool,
    items: Node,
}

/// The string formats, in order of preference.
const FORMATS: [&str; 4] = ["date-time", "uuid", "email", "uri"];
const ALL_FORMATS: u8 = 0b1111;

struct Walk<'a> {
    limits: &'a InferenceLimits,
    nodes: &'a mut usize,
}

impl SchemaInference {
    /// An inference with the default limits.
    pub fn new() -> SchemaInference {
        SchemaInference::default()
    }

    /// An inference with the given limits.
    pub fn with_limits(limits: InferenceLimits) -> SchemaInference {
        SchemaInference {
            limits,
            types: Mutex::default(),
        }
    }

    /// Folds the event's data into the summary of its type. Events without
    /// data count as `null` data (as in validation); events whose data is not
    /// JSON are not observed. Returns whether the event was observed (it is
    /// not when its data is not JSON or the type limit is reached).
    pub fn observe(&self, event: &CloudEvent) -> bool {
        let value = match &event.data {
            None => Value::Null,
            Some(Data::Json(text)) => match serde_json::from_str(text) {
                Ok(v) => v,
                Err(_) => return false,
            },
            Some(Data::Binary(bytes))
                if event
                    .datacontenttype
                    .as_deref()
                    .is_some_and(is_json_media_type) =>
            {
                match serde_json::from_slice(bytes) {
                    Ok(v) => v,
                    Err(_) => return false,
                }
            }
            Some(_) => return false,
        };
        self.observe_value(&event.ty, &value)
    }

    /// Folds one data document of `event_type` into its summary. Returns
    /// `false` when the type is not tracked because the type limit is reached.
    pub fn observe_value(&self, event_type: &str, data: &Value) -> bool {
        let mut types = self.lock();
        if !types.contains_key(event_type) {
            if types.len() >= self.limits.max_types {
                return false;
            }
            types.insert(event_type.to_owned(), TypeStats::default());
        }
        let Some(stats) = types.get_mut(event_type) else {
            return false;
        };
        stats.samples += 1;
        let mut walk = Walk {
            limits: &self.limits,
            nodes: &mut stats.nodes,
        };
        walk.observe(&mut stats.root, data, 0);
        true
    }

    /// The proposed schema for `event_type`, or `None` if no event of it was
    /// observed.
    pub fn propose(&self, event_type: &str) -> Option<Value> {
        let types = self.lock();
        let stats = types.get(event_type)?;
        let mut schema = Map::new();
        schema.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        schema.insert(
            "description".into(),
            json!(format!(
                "Inferred by Signalbox from {} events of type {event_type}",
                stats.samples
            )),
        );
        schema.insert("x-signalbox-samples".into(), json!(stats.samples));
        describe(&stats.root, &mut schema);
        Some(Value::Object(schema))
    }

    /// The tracked event types with their number of observed events, sorted by
    /// type.
    pub fn types(&self) -> Vec<(String, u64)> {
        let types = self.lock();
        let mut out: Vec<(String, u64)> =
            types.iter().map(|(t, s)| (t.clone(), s.samples)).collect();
        out.sort();
        out
    }

    /// Drops what was learnt about `event_type` (for example once its schema
    /// is registered), freeing its slot. Returns whether it was tracked.
    pub fn forget(&self, event_type: &str) -> bool {
        self.lock().remove(event_type).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TypeStats>> {
        // Every update leaves the summary consistent (counts and flags only
        // grow), so a poisoned lock is safe to keep using.
        self.types.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Walk<'_> {
    /// Takes one more location from the type's budget, if any is left.
    fn take_node(&mut self) -> bool {
        if *self.nodes < self.limits.max_nodes_per_type {
            *self.nodes += 1;
            true
        } else {
            false
        }
    }

    fn observe(&mut self, node: &mut Node, value: &Value, depth: usize) {
        match value {
            Value::Null => node.null = true,
            Value::Bool(_) => node.boolean = true,
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    node.integer = true;
                } else {
                    node.number = true;
                }
            }
            Value::String(s) => {
                let seen = node.string.unwrap_or(ALL_FORMATS);
                // Only check the formats still in the running.
                node.string = Some(if seen == 0 { 0 } else { formats_of(s, seen) });
            }
            Value::Array(items) => {
                if node.array.is_none() {
                    // The items location comes out of the budget; without
                    // depth or budget left, items stay undescribed.
                    let untracked = depth >= self.limits.max_depth || !self.take_node();
                    node.array = Some(Box::new(ArrayStats {
                        untracked,
                        ..ArrayStats::default()
                    }));
                }
                let Some(array) = node.array.as_mut() else {
                    return;
                };
                if array.untracked {
                    return;
                }
                for item in items {
                    array.any_item = true;
                    self.observe(&mut array.items, item, depth + 1);
                }
            }
            Value::Object(members) => {
                let object = node.object.get_or_insert_with(ObjectStats::default);
                object.count += 1;
                if depth >= self.limits.max_depth {
                    object.truncated = true;
                    return;
                }
                for (name, member) in members {
                    if let Some(prop) = object.props.get_mut(name) {
                        prop.present += 1;
                        self.observe(&mut prop.node, member, depth + 1);
                    } else if object.props.len() < self.limits.max_properties
                        && name.len() <= self.limits.max_name_len
                        && self.take_node()
                    {
                        let prop = object.props.entry(name.clone()).or_default();
                        prop.present = 1;
                        self.observe(&mut prop.node, member, depth + 1);
                    } else {
                        object.truncated = true;
                    }
                }
            }
        }
    }
}

/// Writes the schema of `node` into `out`.
fn describe(node: &Node, out: &mut Map<String, Value>) {
    let mut types = Vec::new();
    if node.object.is_some() {
        types.push("object");
    }
    if node.array.is_some() {
        types.push("array");
    }
    if node.string.is_some() {
        types.push("string");
    }
    if node.number {
        types.push("number");
    } else if node.integer {
        types.push("integer");
    }
    if node.boolean {
        types.push("boolean");
    }
    if node.null {
        types.push("null");
    }
    match types.as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), json!(one));
        }
        many => {
            out.insert("type".into(), json!(many));
        }
    }
    if let Some(mask) = node.string
        && let Some(i) = (0..FORMATS.len()).find(|i| mask & (1 << i) != 0)
    {
        out.insert("format".into(), json!(FORMATS[i]));
    }
    if let Some(object) = &node.object {
        if !object.props.is_empty() {
            let mut props = Map::new();
            let mut required = Vec::new();
            for (name, prop) in &object.props {
                let mut schema = Map::new();
                describe(&prop.node, &mut schema);
                props.insert(name.clone(), Value::Object(schema));
                if prop.present == object.count {
                    required.push(json!(name));
                }
            }
            out.insert("properties".into(), Value::Object(props));
            if !required.is_empty() {
                out.insert("required".into(), Value::Array(required));
            }
        }
        if object.truncated {
            out.insert("x-signalbox-truncated".into(), json!(true));
        }
    }
    if let Some(array) = &node.array
        && array.any_item
        && !array.untracked
    {
        let mut items = Map::new();
        describe(&array.items, &mut items);
        out.insert("items".into(), Value::Object(items));
    }
}

/// Which of the formats in `candidates` (bit i = `FORMATS[i]`) `s` has. A
/// cheap shape test rules most strings out; the validator's own format
/// check has the last word, so proposals agree with validation.
fn formats_of(s: &str, candidates: u8) -> u8 {
    let mut out = 0;
    for (i, format) in FORMATS.iter().enumerate() {
        let bit = 1 << i;
        if candidates & bit == 0 {
            continue;
        }
        let plausible = match *format {
            "date-time" => plausible_date_time(s),
            "uuid" => plausible_uuid(s),
            "email" => plausible_email(s),
            _ => plausible_uri(s),
        };
        if plausible && format_check(i, s) {
            out |= bit;
        }
    }
    out
}

fn plausible_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    (20..=40).contains(&b.len()) && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b't')
}

fn plausible_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
}

fn plausible_uri(s: &str) -> bool {
    if s.bytes()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return false;
    }
    if s.len() > 4 && s[..4].eq_ignore_ascii_case("urn:") {
        return true;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let mut chars = scheme.bytes();
    !rest.is_empty()
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// The validator's verdict on `s` for `FORMATS[i]`, from a small compiled
/// `{"format": …}` schema per format, built once.
fn format_check(i: usize, s: &str) -> bool {
    static CHECKS: OnceLock<Vec<Option<jsonschema::Validator>>> = OnceLock::new();
    let checks = CHECKS.get_or_init(|| {
        FORMATS
            .iter()
            .map(|f| {
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&json!({"format": f}))
                    .ok()
            })
            .collect()
    });
    checks
        .get(i)
        .and_then(Option::as_ref)
        .is_some_and(|v| v.is_valid(&Value::String(s.to_owned())))
}
