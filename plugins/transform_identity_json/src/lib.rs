//! `transform_identity_json` — parses JSON data and writes it back.
//!
//! Returns one new event with the same attributes and extensions whose data
//! is the input's JSON data parsed into a `serde_json::Value` and serialised
//! again (so insignificant whitespace goes away and object members come out
//! sorted). It does the work every JSON transform does, and nothing else,
//! for transform throughput benchmarks.
//!
//! Events without data pass through unchanged; events whose data is not JSON
//! fail with an error. Configuration: none; any keys are ignored.

use signalbox_sdk::serde_json::Value;
use signalbox_sdk::{Config, Error, Event, Transform};

struct IdentityJson;

impl Transform for IdentityJson {
    fn init(_config: Config) -> Result<(), Error> {
        Ok(())
    }

    fn transform(event: Event) -> Result<Vec<Event>, Error> {
        if event.data.is_none() {
            return Ok(vec![event]);
        }
        if !event.is_json() {
            return Err(Error::new(format!(
                "data of event {} is not JSON (datacontenttype {})",
                event.id,
                event.datacontenttype.as_deref().unwrap_or("absent")
            )));
        }
        let value: Value = event.data_json()?;
        let mut builder = Event::builder(&*event.id, &*event.source, &*event.type_);
        if let Some(subject) = &event.subject {
            builder = builder.subject(subject);
        }
        if let Some(time) = &event.time {
            builder = builder.time(time);
        }
        if let Some(media_type) = &event.datacontenttype {
            builder = builder.datacontenttype(media_type);
        }
        if let Some(schema) = &event.dataschema {
            builder = builder.dataschema(schema);
        }
        for (name, value) in &event.extensions {
            builder = builder.extension(name, value.clone());
        }
        Ok(vec![builder.data_json(&value)?.build()])
    }
}

signalbox_sdk::export_transform!(IdentityJson);
