//! The in-memory schema registry with its cache of compiled validators.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use super::doc::{Doc, DocJson};
use super::{
    BusSchemaConfig, Decision, MAX_VIOLATIONS, SchemaError, SchemaPolicy, SchemaVersion,
    Validation, Violation,
};
use crate::event::{CloudEvent, Data, is_json_media_type, time::now_micros};

/// Longest accepted version string.
const MAX_VERSION_LEN: usize = 64;
/// Longest violation message; longer ones (which quote large values) are cut.
const MAX_MESSAGE_LEN: usize = 300;
/// The pseudo-keyword of a violation saying that the data is not JSON.
const NOT_JSON_KEYWORD: &str = "datacontenttype";

/// Schemas per event type, each version compiled once and cached.
///
/// `SchemaRegistry` is `Send + Sync`; share it behind an `Arc`. Reads
/// (validation) take a read lock only long enough to clone an `Arc` of the
/// event type's versions, so validation runs without holding any lock and
/// registering a schema never waits for validations in flight.
///
/// ```
/// use signalbox::schema::{SchemaRegistry, Validation};
/// # use signalbox::event::{CloudEvent, Data};
/// let registry = SchemaRegistry::new();
/// registry
///     .put("com.example.order.created", "1", serde_json::json!({
///         "type": "object",
///         "properties": {"total": {"type": "number", "minimum": 0}},
///         "required": ["total"]
///     }))
///     .unwrap();
/// # let mut event = CloudEvent { id: "1".into(), source: "/s".into(),
/// #     ty: "com.example.order.created".into(), datacontenttype: None, dataschema: None,
/// #     subject: None, time: None, extensions: vec![], data: None };
/// event.data = Some(Data::Json(r#"{"total": -1}"#.into()));
/// let Validation::Invalid(violations) = registry.validate(&event) else { panic!() };
/// assert_eq!(violations[0].pointer, "/total");
/// assert_eq!(violations[0].keyword, "minimum");
/// ```
#[derive(Default)]
pub struct SchemaRegistry {
    types: RwLock<HashMap<String, Arc<TypeSchemas>>>,
}

impl std::fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types = self.read();
        f.debug_struct("SchemaRegistry")
            .field("types", &types.len())
            .field(
                "versions",
                &types.values().map(|t| t.versions.len()).sum::<usize>(),
            )
            .finish()
    }
}

/// The versions of one event type, in natural version order (latest last).
/// Immutable once built: a change builds a new one (copy on write).
struct TypeSchemas {
    versions: Vec<Arc<Compiled>>,
}

/// A registered version and its compiled validator.
struct Compiled {
    record: SchemaVersion,
    /// The schema's `$id`/`id` without a trailing `#`.
    id: Option<String>,
    validator: jsonschema::Validator<DocJson>,
}

impl SchemaRegistry {
    /// An empty registry.
    pub fn new() -> SchemaRegistry {
        SchemaRegistry::default()
    }

    /// Registers version `version` of the schema of `event_type`, created now,
    /// and returns the record to persist.
    ///
    /// Versions are immutable: registering an existing version again with the
    /// same schema is a no-op that returns the existing record, and with a
    /// different schema is [`SchemaError::VersionExists`]. Version strings are
    /// 1 to 64 characters of `A-Z a-z 0-9 . _ + -`, so that they can be the
    /// last segment of a `dataschema` URI.
    pub fn put(
        &self,
        event_type: &str,
        version: &str,
        schema: Value,
    ) -> Result<SchemaVersion, SchemaError> {
        self.insert(SchemaVersion {
            event_type: event_type.to_owned(),
            version: version.to_owned(),
            schema,
            created_at: now_micros(),
        })
    }

    /// Registers a version record as it is, keeping its `created_at`: how the
    /// host loads persisted records on start-up. Same rules as [`put`](Self::put).
    pub fn insert(&self, record: SchemaVersion) -> Result<SchemaVersion, SchemaError> {
        check_names(&record.event_type, &record.version)?;
        // Compile outside the lock: it is the slow part.
        let compiled = Arc::new(compile(record)?);
        let mut types = self.write();
        let existing = types.get(&compiled.record.event_type);
        let mut versions = existing.map(|t| t.versions.clone()).unwrap_or_default();
        let pos = versions.binary_search_by(|c| {
            natural_cmp(&c.record.version, &compiled.record.version)
                .then_with(|| c.record.version.cmp(&compiled.record.version))
        });
        match pos {
            Ok(i) if versions[i].record.schema == compiled.record.schema => {
                Ok(versions[i].record.clone())
            }
            Ok(_) => Err(SchemaError::VersionExists {
                event_type: compiled.record.event_type.clone(),
                version: compiled.record.version.clone(),
            }),
            Err(i) => {
                let record = compiled.record.clone();
                versions.insert(i, compiled);
                types.insert(
                    record.event_type.clone(),
                    Arc::new(TypeSchemas { versions }),
                );
                Ok(record)
            }
        }
    }

    /// One version of the schema of `event_type`.
    pub fn get(&self, event_type: &str, version: &str) -> Option<SchemaVersion> {
        let schemas = self.schemas(event_type)?;
        schemas
            .versions
            .iter()
            .find(|c| c.record.version == version)
            .map(|c| c.record.clone())
    }

    /// The latest version of the schema of `event_type` (see the module docs
    /// for the version order).
    pub fn latest(&self, event_type: &str) -> Option<SchemaVersion> {
        let schemas = self.schemas(event_type)?;
        schemas.versions.last().map(|c| c.record.clone())
    }

    /// Every registered version, ordered by event type and then by version
    /// (oldest first).
    pub fn list(&self) -> Vec<SchemaVersion> {
        let types = self.read();
        let mut names: Vec<&String> = types.keys().collect();
        names.sort();
        names
            .into_iter()
            .flat_map(|t| types[t].versions.iter().map(|c| c.record.clone()))
            .collect()
    }

    /// The versions of the schema of `event_type`, oldest first.
    pub fn versions(&self, event_type: &str) -> Vec<SchemaVersion> {
        self.schemas(event_type)
            .map(|s| s.versions.iter().map(|c| c.record.clone()).collect())
            .unwrap_or_default()
    }

    /// Removes one version and returns it, or `None` if it did not exist.
    /// Removing the last version of a type removes the type: its events then
    /// have [`Validation::NoSchema`].
    pub fn delete(&self, event_type: &str, version: &str) -> Option<SchemaVersion> {
        let mut types = self.write();
        let schemas = types.get(event_type)?;
        let i = schemas
            .versions
            .iter()
            .position(|c| c.record.version == version)?;
        let mut versions = schemas.versions.clone();
        let removed = versions.remove(i);
        if versions.is_empty() {
            types.remove(event_type);
        } else {
            types.insert(event_type.to_owned(), Arc::new(TypeSchemas { versions }));
        }
        Some(removed.record.clone())
    }

    /// The version that validates events of `event_type` with this
    /// `dataschema`, by the rule in the module docs.
    pub fn select(&self, event_type: &str, dataschema: Option<&str>) -> Option<SchemaVersion> {
        let schemas = self.schemas(event_type)?;
        select(&schemas, dataschema).map(|c| c.record.clone())
    }

    /// Validates the event's data against the schema of its type.
    pub fn validate(&self, event: &CloudEvent) -> Validation {
        let Some(schemas) = self.schemas(&event.ty) else {
            return Validation::NoSchema;
        };
        let Some(compiled) = select(&schemas, event.dataschema.as_deref()) else {
            return Validation::NoSchema;
        };
        match parse_data(event) {
            Ok(doc) => check(compiled, &doc),
            Err(message) => Validation::Invalid(vec![Violation {
                pointer: String::new(),
                keyword: NOT_JSON_KEYWORD.to_owned(),
                message,
            }]),
        }
    }

    /// Applies the bus's policy for the event's type: [`SchemaPolicy::Off`]
    /// accepts without validating; `Warn` accepts and passes violations on;
    /// `Enforce` rejects invalid events. Events with no schema are accepted
    /// under every policy.
    pub fn decide(&self, config: &BusSchemaConfig, event: &CloudEvent) -> Decision {
        let policy = config.policy_for(&event.ty);
        if policy == SchemaPolicy::Off {
            return Decision::Accept;
        }
        match (policy, self.validate(event)) {
            (SchemaPolicy::Warn, Validation::Invalid(v)) => Decision::AcceptWithWarning(v),
            (SchemaPolicy::Enforce, Validation::Invalid(v)) => Decision::Reject(v),
            _ => Decision::Accept,
        }
    }

    /// Whether any schema is registered for `event_type`.
    pub fn has_schema(&self, event_type: &str) -> bool {
        self.read().contains_key(event_type)
    }

    fn schemas(&self, event_type: &str) -> Option<Arc<TypeSchemas>> {
        self.read().get(event_type).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<TypeSchemas>>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every update is one insert or remove), so a poisoned lock is safe
        // to keep using.
        self.types.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<TypeSchemas>>> {
        self.types.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn check_names(event_type: &str, version: &str) -> Result<(), SchemaError> {
    if event_type.is_empty() {
        return Err(SchemaError::EmptyEventType);
    }
    let invalid = |reason| SchemaError::InvalidVersion {
        event_type: event_type.to_owned(),
        version: version.to_owned(),
        reason,
    };
    if version.is_empty() {
        return Err(invalid("it is empty"));
    }
    if version.len() > MAX_VERSION_LEN {
        return Err(invalid("it is longer than 64 characters"));
    }
    if !version
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
    {
        return Err(invalid(
            "versions use only the characters A-Z a-z 0-9 . _ + - (so they can end a dataschema URI)",
        ));
    }
    Ok(())
}

/// Compiles a schema: draft 2020-12 unless `$schema` says otherwise, formats
/// validated, no remote references; for instances in the [`Doc`] representation.
fn compile(record: SchemaVersion) -> Result<Compiled, SchemaError> {
    let validator = jsonschema::options_for::<DocJson>()
        .should_validate_formats(true)
        .offline()
        .build(&record.schema)
        .map_err(|e| SchemaError::InvalidSchema {
            event_type: record.event_type.clone(),
            version: record.version.clone(),
            location: e.instance_path().as_str().to_owned(),
            reason: e.to_string(),
        })?;
    let id = record
        .schema_id()
        .map(|id| id.strip_suffix('#').unwrap_or(id).to_owned());
    Ok(Compiled {
        record,
        id,
        validator,
    })
}

/// The version for a `dataschema`: by `$id`, then by last URI segment, then
/// the latest.
fn select<'a>(schemas: &'a TypeSchemas, dataschema: Option<&str>) -> Option<&'a Compiled> {
    if let Some(uri) = dataschema {
        let uri_id = uri.strip_suffix('#').unwrap_or(uri);
        if let Some(c) = schemas
            .versions
            .iter()
            .rev()
            .find(|c| c.id.as_deref() == Some(uri_id))
        {
            return Some(&**c);
        }
        let segment = last_segment(uri);
        if let Some(c) = schemas
            .versions
            .iter()
            .rev()
            .find(|c| c.record.version == segment)
        {
            return Some(&**c);
        }
    }
    schemas.versions.last().map(|c| &**c)
}

/// What follows the last `/` or `:` of a URI without its query and fragment
/// (and without trailing slashes).
fn last_segment(uri: &str) -> &str {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    let path = uri[..end].trim_end_matches('/');
    match path.rfind(['/', ':']) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The event's data as JSON, or why it is not JSON.
fn parse_data(event: &CloudEvent) -> Result<Doc<'_>, String> {
    match &event.data {
        None => Ok(Doc::null()),
        Some(Data::Json(text)) => Doc::parse(text).map_err(|e| {
            format!("data is not valid JSON ({e}); a JSON Schema applies to JSON data")
        }),
        Some(data) => {
            let content_type = event.datacontenttype.as_deref();
            if let (Some(ct), Data::Binary(bytes)) = (content_type, data)
                && is_json_media_type(ct)
            {
                return Doc::parse_slice(bytes).map_err(|e| {
                    format!("data is declared as '{ct}' but is not valid JSON ({e})")
                });
            }
            Err(format!(
                "data is not JSON (datacontenttype '{}'); the schema registered for type '{}' applies to JSON data only",
                content_type.unwrap_or("none"),
                event.ty
            ))
        }
    }
}

/// Validates a value: a fast yes/no pass, and the full error list only for
/// invalid data.
fn check(compiled: &Compiled, doc: &Doc<'_>) -> Validation {
    let root = doc.root();
    if compiled.validator.is_valid(root) {
        return Validation::Valid;
    }
    let mut violations: Vec<Violation> = compiled
        .validator
        .iter_errors(root)
        .take(MAX_VIOLATIONS)
        .map(|e| {
            // Compound values are masked: their text can be the whole document.
            let message = match &**e.instance() {
                Value::Object(_) => e.masked_with("the object").to_string(),
                Value::Array(_) => e.masked_with("the array").to_string(),
                _ => e.to_string(),
            };
            Violation {
                pointer: e.instance_path().as_str().to_owned(),
                keyword: e.kind().keyword().to_owned(),
                message: truncate(message, MAX_MESSAGE_LEN),
            }
        })
        .collect();
    if violations.is_empty() {
        // `is_valid` and `iter_errors` disagreeing would be a bug in the
        // validator; never report an invalid event without a reason.
        violations.push(Violation {
            pointer: String::new(),
            keyword: String::new(),
            message: format!(
                "data does not match version '{}' of the schema",
                compiled.record.version
            ),
        });
    }
    Validation::Invalid(violations)
}

/// Cuts a message to at most `max` bytes on a character boundary, marking the cut.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// Natural order of version strings: runs of ASCII digits compare as numbers,
/// everything else byte by byte.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = trim_zeros(&a[..da]);
                let nb = trim_zeros(&b[..db]);
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["10", "2", "1.10", "1.9", "v10", "v2", "1", "01", "a"];
        v.sort_by(|a, b| natural_cmp(a, b).then_with(|| a.cmp(b)));
        assert_eq!(v, ["01", "1", "1.9", "1.10", "2", "10", "a", "v2", "v10"]);
    }

    #[test]
    fn last_segments() {
        assert_eq!(last_segment("https://s.example.com/order/3"), "3");
        assert_eq!(last_segment("https://s.example.com/order/3/"), "3");
        assert_eq!(last_segment("https://s.example.com/order/3#"), "3");
        assert_eq!(last_segment("https://s.example.com/order/3?x=/4"), "3");
        assert_eq!(last_segment("urn:example:order:7"), "7");
        assert_eq!(last_segment("v2"), "v2");
        assert_eq!(last_segment(""), "");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(200);
        let t = truncate(s, 301);
        assert!(t.len() <= 301 + '…'.len_utf8());
        assert!(t.ends_with('…'));
    }
}
