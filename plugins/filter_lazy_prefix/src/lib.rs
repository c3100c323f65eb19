//! `filter_lazy_prefix` — keeps events whose chosen attribute starts with a
//! prefix, reading only that attribute (world `lazy-filter`).
//!
//! It shows what the `lazy-filter` world is for: the host copies into the
//! plugin just the one attribute it asks for, however large the event. It
//! also serves the host's tests of every `lazy-event` accessor and the
//! benchmark of a lazy call.
//!
//! Configuration:
//!
//! * `prefix` (required): the text the attribute must start with.
//! * `attribute` (default `type`): `id`, `source`, `type`, `subject`,
//!   `time`, `datacontenttype`, `dataschema`, `data` (the payload as
//!   UTF-8 text), `data-size` (the payload's size in bytes, in decimal),
//!   `ext:<name>` (one extension attribute, in its text form), `extensions`
//!   (every extension as `name=value`, joined with `,`) or `event` (the
//!   whole event, read with `to-event`, as `id|source|type`).
//!
//! An event without the attribute is dropped.

use signalbox_sdk::{
    Config, Error, LazyEvent, LazyFilter, Settings, config_expect_keys, config_get, config_require,
};

struct Settled {
    attribute: String,
    prefix: String,
}

static SETTINGS: Settings<Settled> = Settings::new();

const ATTRIBUTES: [&str; 11] = [
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data-size",
    "extensions",
    "event",
];

struct LazyPrefix;

impl LazyFilter for LazyPrefix {
    fn init(config: Config) -> Result<(), Error> {
        config_expect_keys(&config, &["attribute", "prefix"])?;
        let attribute = config_get(&config, "attribute")
            .unwrap_or("type")
            .to_owned();
        if !ATTRIBUTES.contains(&attribute.as_str()) && !attribute.starts_with("ext:") {
            return Err(Error::new(format!(
                "config: `attribute` is `{attribute}`; use one of {ATTRIBUTES:?} or ext:<name>"
            )));
        }
        let prefix = config_require(&config, "prefix")?.to_owned();
        SETTINGS.set(Settled { attribute, prefix })
    }

    fn keep_lazy(event: &LazyEvent) -> Result<bool, Error> {
        let s = SETTINGS.get()?;
        let value = match s.attribute.as_str() {
            "id" => Some(event.id()),
            "source" => Some(event.source()),
            "type" => Some(event.type_()),
            "subject" => event.subject(),
            "time" => event.time(),
            "datacontenttype" => event.datacontenttype(),
            "dataschema" => event.dataschema(),
            "data" => event
                .data()
                .map(|d| String::from_utf8_lossy(&d).into_owned()),
            "data-size" => event.data_size().map(|n| n.to_string()),
            "extensions" => Some(
                event
                    .extensions()
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "event" => {
                let e = event.to_event();
                Some(format!("{}|{}|{}", e.id, e.source, e.type_))
            }
            other => {
                let name = other.strip_prefix("ext:").unwrap_or(other);
                event.extension(name).map(|v| v.to_string())
            }
        };
        Ok(value.is_some_and(|v| v.starts_with(&s.prefix)))
    }
}

signalbox_sdk::export_lazy_filter!(LazyPrefix);
