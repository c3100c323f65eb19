//! Converting events between the host's [`CloudEvent`] and the WIT `event`
//! record, and validating what plugins return.
//!
//! Events a plugin returns are untrusted input: they go through the same
//! CloudEvents checks as ingest, so a transform cannot put an event on a bus
//! that a producer could not have published.

use bytes::Bytes;

use super::bindings::{AttributeValue, Event};
use crate::event::validate::{self, EventError};
use crate::event::{CloudEvent, Data, ExtensionValue, is_json_media_type};

/// The WIT form of an event.
pub fn to_wit(e: &CloudEvent) -> Event {
    Event {
        id: e.id.clone(),
        source: e.source.clone(),
        type_: e.ty.clone(),
        subject: e.subject.clone(),
        time: e.time.clone(),
        datacontenttype: e.datacontenttype.clone(),
        dataschema: e.dataschema.clone(),
        extensions: e
            .extensions
            .iter()
            .map(|(n, v)| (n.clone(), to_wit_value(v)))
            .collect(),
        data: e.data.as_ref().map(|d| d.as_bytes().to_vec()),
    }
}

/// An extension value in its WIT form.
pub fn to_wit_value(v: &ExtensionValue) -> AttributeValue {
    match v {
        ExtensionValue::String(s) => AttributeValue::Str(s.clone()),
        ExtensionValue::Boolean(b) => AttributeValue::Boolean(*b),
        ExtensionValue::Integer(i) => AttributeValue::Integer(*i),
    }
}

/// An event returned by a plugin, validated. JSON content types (or none)
/// must carry valid JSON; other data is kept as text when it is UTF-8 and
/// the type is `text/*`, else as bytes.
pub fn from_wit(e: Event) -> Result<CloudEvent, EventError> {
    validate::check_non_empty("id", &e.id)?;
    validate::check_source(&e.source)?;
    validate::check_non_empty("type", &e.type_)?;
    if let Some(v) = &e.subject {
        validate::check_subject(v)?;
    }
    if let Some(v) = &e.time {
        validate::check_time(v)?;
    }
    if let Some(v) = &e.datacontenttype {
        validate::check_datacontenttype(v)?;
    }
    if let Some(v) = &e.dataschema {
        validate::check_dataschema(v)?;
    }
    let mut extensions: Vec<(String, ExtensionValue)> = Vec::with_capacity(e.extensions.len());
    // A plugin may return many extensions: duplicates are found with a set,
    // not by scanning what came before each one.
    let mut seen = std::collections::HashSet::with_capacity(e.extensions.len());
    for (name, value) in e.extensions {
        validate::check_extension_name(&name)?;
        if validate::CONTEXT_ATTRIBUTES.contains(&name.as_str()) {
            return Err(EventError::invalid(
                &name,
                format!("'{name}' is a context attribute, not an extension"),
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(EventError::invalid(
                &name,
                format!("extension '{name}' appears twice"),
            ));
        }
        let value = match value {
            AttributeValue::Str(s) => ExtensionValue::String(s),
            AttributeValue::Boolean(b) => ExtensionValue::Boolean(b),
            AttributeValue::Integer(i) => ExtensionValue::Integer(i),
        };
        extensions.push((name, value));
    }
    let data = match e.data {
        None => None,
        Some(bytes) => Some(classify(e.datacontenttype.as_deref(), bytes)?),
    };
    Ok(CloudEvent {
        id: e.id,
        source: e.source,
        ty: e.type_,
        datacontenttype: e.datacontenttype,
        dataschema: e.dataschema,
        subject: e.subject,
        time: e.time,
        extensions,
        data,
    })
}

fn classify(content_type: Option<&str>, bytes: Vec<u8>) -> Result<Data, EventError> {
    if content_type.is_none_or(is_json_media_type) {
        if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            return Ok(Data::Json(
                String::from_utf8(bytes).unwrap_or_default().into(),
            ));
        }
        if content_type.is_some() {
            return Err(EventError::invalid(
                "data",
                "datacontenttype says JSON but the data is not valid JSON",
            ));
        }
        return Ok(Data::Binary(Bytes::from(bytes)));
    }
    let is_text =
        content_type.is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/"));
    match String::from_utf8(bytes) {
        Ok(s) if is_text => Ok(Data::Text(s)),
        Ok(s) => Ok(Data::Binary(Bytes::from(s.into_bytes()))),
        Err(e) => Ok(Data::Binary(Bytes::from(e.into_bytes()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::parse_structured;

    #[test]
    fn round_trip() {
        let e = parse_structured(
            br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"x","time":"2024-01-01T00:00:00Z",
                 "a":"s","b":true,"c":3,"datacontenttype":"application/json","data":{"k":[1,2]}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(from_wit(to_wit(&e)).unwrap(), e);
        let text = parse_structured(br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(from_wit(to_wit(&text)).unwrap(), text);
    }

    #[test]
    fn invalid_plugin_output_is_rejected_with_the_field() {
        let base = Event {
            id: "1".into(),
            source: "/s".into(),
            type_: "t".into(),
            subject: None,
            time: None,
            datacontenttype: None,
            dataschema: None,
            extensions: vec![],
            data: None,
        };
        let field = |f: &dyn Fn(&mut Event)| {
            let mut e = base.clone();
            f(&mut e);
            from_wit(e).unwrap_err().field
        };
        assert_eq!(field(&|e| e.id.clear()), "id");
        assert_eq!(field(&|e| e.time = Some("soon".into())), "time");
        assert_eq!(
            field(&|e| e
                .extensions
                .push(("Bad".into(), AttributeValue::Boolean(true)))),
            "Bad"
        );
        assert_eq!(
            field(&|e| e
                .extensions
                .push(("id".into(), AttributeValue::Boolean(true)))),
            "id"
        );
        assert_eq!(
            field(&|e| {
                e.datacontenttype = Some("application/json".into());
                e.data = Some(b"{nope".to_vec());
            }),
            "data"
        );
        assert!(from_wit(base).is_ok());
    }
}
