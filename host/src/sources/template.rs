//! How a source turns what it received into a CloudEvent: the `event`
//! member of a source, whose attributes may hold placeholders.
//!
//! ```json
//! "event": {
//!   "type": "com.github.{header:X-GitHub-Event}",
//!   "source": "https://github.com/{json:$.repository.full_name}",
//!   "subject": "{json:$.pull_request.number}",
//!   "id": "{header:X-GitHub-Delivery}",
//!   "data": {"anything": "fixed"}
//! }
//! ```
//!
//! A placeholder is `{name}` or `{kind:argument}`; which ones exist depends
//! on the source (see [`Vars`]): `{header:Name}` and `{query:name}` for
//! webhooks, `{json:$.path}` for a JSON body or payload (the path syntax of
//! templates: members and indices), `{subject}` for NATS, `{topic}` for
//! MQTT, `{time}` and `{name}` everywhere. `{{` and `}}` are literal braces.
//! A placeholder with no value makes an empty string; an attribute that
//! ends up empty where CloudEvents needs a value (`type`, `source`, `id`)
//! falls back to the source's default for it.
//!
//! `data`, when given, replaces what was received as the event's data
//! (a fixed JSON value); without it the data is what was received.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `event` member of a source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTemplate {
    /// The event's `type`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Its `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its `id` (must be unique per source and repeat when, and only when,
    /// the same thing is received again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Fixed data instead of what was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Extension attributes (`[a-z0-9]{1,20}` names, string values); one
    /// that renders empty is left out.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
}

/// Where placeholders get their values.
pub trait Vars {
    /// The value of `{kind:arg}` (or of `{kind}` when `arg` is `None`).
    fn get(&self, kind: &str, arg: Option<&str>) -> Option<String>;
}

/// A template string, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Var(String, Option<String>),
}

/// Longest attribute template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 1024;

impl Text {
    /// Parses `s`, accepting only the placeholder kinds in `allowed`.
    pub fn parse(s: &str, allowed: &[&str]) -> Result<Text, String> {
        if s.len() > MAX_TEMPLATE_BYTES {
            return Err(format!("longer than {MAX_TEMPLATE_BYTES} bytes"));
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let Some(end) = s[i + 1..].find('}') else {
                        return Err(format!("'{{' at byte {i} is not closed"));
                    };
                    let inner = &s[i + 1..i + 1 + end];
                    let (kind, arg) = match inner.split_once(':') {
                        Some((k, a)) => (k, Some(a.to_owned())),
                        None => (inner, None),
                    };
                    if !allowed.contains(&kind) {
                        return Err(format!(
                            "unknown placeholder '{{{inner}}}'; this source offers {}",
                            allowed
                                .iter()
                                .map(|a| format!("{{{a}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if !lit.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(kind.to_owned(), arg));
                    // Skip past the closing brace (at i + 1 + end).
                    while let Some((j, _)) = chars.peek() {
                        if *j > i + 1 + end {
                            break;
                        }
                        chars.next();
                    }
                }
                '}' => return Err(format!("'}}' at byte {i} has no '{{'; write '}}}}'")),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(Text { parts })
    }

    /// The text with placeholders filled in.
    pub fn render(&self, vars: &dyn Vars) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Var(k, a) => {
                    if let Some(v) = vars.get(k, a.as_deref()) {
                        out.push_str(&v);
                    }
                }
            }
        }
        out
    }
}

/// An [`EventTemplate`] with its texts parsed.
#[derive(Debug, Clone)]
pub struct Compiled {
    ty: Option<Text>,
    source: Option<Text>,
    subject: Option<Text>,
    id: Option<Text>,
    data: Option<Value>,
    extensions: Vec<(String, Text)>,
}

/// Attribute names an extension may not take: the context attributes of
/// CloudEvents 1.0 and the members of its JSON format.
const RESERVED: &[&str] = &[
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
];

/// The parts of an event a source fills in itself.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `type` when the template has none (or it renders empty).
    pub ty: String,
    /// `source` likewise.
    pub source: String,
    /// `id` likewise.
    pub id: String,
    /// `subject` when the template has none.
    pub subject: Option<String>,
    /// `time` (RFC 3339).
    pub time: Option<String>,
}

/// What a source received, as the event's data.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// Nothing.
    None,
    /// A JSON document (already checked to parse).
    Json(&'a str),
    /// Anything else, with its media type.
    Bytes(&'a [u8], Option<&'a str>),
}

impl EventTemplate {
    /// Parses the template's texts; `field` prefixes error paths.
    pub fn compile(&self, allowed: &[&str]) -> Result<Compiled, (String, String)> {
        let text = |name: &str, v: &Option<String>| -> Result<Option<Text>, (String, String)> {
            v.as_deref()
                .map(|s| Text::parse(s, allowed).map_err(|e| (format!("event.{name}"), e)))
                .transpose()
        };
        let mut extensions = Vec::with_capacity(self.extensions.len());
        for (name, value) in &self.extensions {
            let field = format!("event.extensions.{name}");
            let valid = (1..=20).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !valid {
                return Err((
                    field,
                    "an extension name is 1 to 20 lowercase letters or digits".into(),
                ));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err((
                    field,
                    format!("'{name}' is a CloudEvents attribute, set it in `event` itself"),
                ));
            }
            let text = Text::parse(value, allowed).map_err(|e| (field, e))?;
            extensions.push((name.clone(), text));
        }
        Ok(Compiled {
            extensions,
            ty: text("type", &self.ty)?,
            source: text("source", &self.source)?,
            subject: text("subject", &self.subject)?,
            id: text("id", &self.id)?,
            data: self.data.clone(),
        })
    }
}

impl Compiled {
    /// The event in the CloudEvents JSON format, ready for
    /// [`crate::event::json::parse_structured`] (which validates it).
    pub fn render(&self, vars: &dyn Vars, defaults: &Defaults, payload: Payload<'_>) -> String {
        let pick = |t: &Option<Text>, d: &str| -> String {
            t.as_ref()
                .map(|t| t.render(vars))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| d.to_owned())
        };
        let mut obj = serde_json::Map::new();
        obj.insert("specversion".into(), Value::from("1.0"));
        obj.insert("id".into(), Value::from(pick(&self.id, &defaults.id)));
        obj.insert(
            "source".into(),
            Value::from(pick(&self.source, &defaults.source)),
        );
        obj.insert("type".into(), Value::from(pick(&self.ty, &defaults.ty)));
        let subject = match &self.subject {
            Some(t) => Some(t.render(vars)).filter(|s| !s.is_empty()),
            None => defaults.subject.clone(),
        };
        if let Some(s) = subject {
            obj.insert("subject".into(), Value::from(s));
        }
        if let Some(t) = &defaults.time {
            obj.insert("time".into(), Value::from(t.clone()));
        }
        for (name, text) in &self.extensions {
            let v = text.render(vars);
            if !v.is_empty() {
                obj.insert(name.clone(), Value::from(v));
            }
        }
        let mut text = None;
        match (&self.data, payload) {
            (Some(d), _) => {
                obj.insert("datacontenttype".into(), Value::from("application/json"));
                obj.insert("data".into(), d.clone());
            }
            (None, Payload::None) => {}
            (None, Payload::Json(j)) => {
                obj.insert("datacontenttype".into(), Value::from("application/json"));
                // Spliced in below as raw text, so numbers keep their exact
                // spelling.
                obj.insert("data".into(), Value::Null);
                text = Some(j);
            }
            (None, Payload::Bytes(b, ct)) => {
                use base64::Engine as _;
                if let Some(ct) = ct {
                    obj.insert("datacontenttype".into(), Value::from(ct));
                }
                match std::str::from_utf8(b) {
                    Ok(s) if ct.is_some_and(|c| c.starts_with("text/")) => {
                        obj.insert("data".into(), Value::from(s));
                    }
                    _ => {
                        obj.insert(
                            "data_base64".into(),
                            Value::from(base64::engine::general_purpose::STANDARD.encode(b)),
                        );
                    }
                }
            }
        }
        let out = Value::Object(obj).to_string();
        match text {
            // `"data":null` is the last member written (keys are sorted in
            // serde_json's map only with `preserve_order` off: find it).
            Some(j) => out.replacen("\"data\":null", &format!("\"data\":{j}"), 1),
            None => out,
        }
    }
}

/// Reads `{json:$.a.b[0]}` from a JSON document: members and indices only.
pub fn json_path(doc: &Value, path: &str) -> Option<String> {
    let rest = path.strip_prefix('$')?;
    let mut cur = doc;
    let mut chars = rest;
    while !chars.is_empty() {
        if let Some(r) = chars.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?;
            chars = &r[end..];
        } else if let Some(r) = chars.strip_prefix('[') {
            let end = r.find(']')?;
            let i: usize = r[..end].parse().ok()?;
            cur = cur.get(i)?;
            chars = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ExtensionValue;

    struct V;
    impl Vars for V {
        fn get(&self, kind: &str, arg: Option<&str>) -> Option<String> {
            match (kind, arg) {
                ("header", Some("X-Event")) => Some("push".into()),
                ("name", None) => Some("gh".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn placeholders_render_and_unknown_ones_are_refused() {
        let t = Text::parse(
            "com.github.{header:X-Event}.{name}{{x}}",
            &["header", "name"],
        )
        .unwrap();
        assert_eq!(t.render(&V), "com.github.push.gh{x}");
        let e = Text::parse("{query:a}", &["header"]).unwrap_err();
        assert!(e.contains("unknown placeholder '{query:a}'"), "{e}");
        assert!(Text::parse("{header:x", &["header"]).is_err());
        assert!(Text::parse("a}b", &["header"]).is_err());
    }

    #[test]
    fn events_fall_back_to_defaults_and_keep_json_data_exact() {
        let c = EventTemplate {
            ty: Some("t.{header:Missing}".into()),
            id: Some("{header:Missing}".into()),
            ..EventTemplate::default()
        }
        .compile(&["header"])
        .unwrap();
        let d = Defaults {
            ty: "dt".into(),
            source: "/s".into(),
            id: "i1".into(),
            ..Defaults::default()
        };
        let out = c.render(&V, &d, Payload::Json(r#"{"n":1.10}"#));
        let e = crate::event::json::parse_structured(out.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(e.id, "i1");
        assert_eq!(e.ty, "t.");
        assert_eq!(e.source, "/s");
        assert!(out.contains(r#""data":{"n":1.10}"#), "{out}");
    }

    #[test]
    fn extensions_render_and_bad_names_are_refused() {
        let mut t = EventTemplate::default();
        t.extensions.insert("origin".into(), "{name}".into());
        t.extensions
            .insert("empty".into(), "{header:Missing}".into());
        let c = t.compile(&["header", "name"]).unwrap();
        let d = Defaults {
            ty: "t".into(),
            source: "/s".into(),
            id: "i".into(),
            ..Defaults::default()
        };
        let out = c.render(&V, &d, Payload::None);
        let e = crate::event::json::parse_structured(out.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(
            e.extension("origin")
                .map(ExtensionValue::to_header_string)
                .as_deref(),
            Some("gh")
        );
        assert!(e.extension("empty").is_none(), "{out}");
        for bad in ["Upper", "id", "a_b", "abcdefghijklmnopqrstu"] {
            let mut t = EventTemplate::default();
            t.extensions.insert(bad.into(), "x".into());
            let (field, _) = t.compile(&[]).unwrap_err();
            assert_eq!(field, format!("event.extensions.{bad}"));
        }
    }

    #[test]
    fn json_paths() {
        let doc: Value = serde_json::json!({"a": {"b": [{"c": "x"}, 2]}, "n": null});
        assert_eq!(json_path(&doc, "$.a.b[0].c").as_deref(), Some("x"));
        assert_eq!(json_path(&doc, "$.a.b[1]").as_deref(), Some("2"));
        assert_eq!(json_path(&doc, "$.n"), None);
        assert_eq!(json_path(&doc, "$.zz"), None);
        assert_eq!(json_path(&doc, "a"), None);
    }
}
