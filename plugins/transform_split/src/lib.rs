//! `transform_split` — splits an event with a JSON array into one event per
//! element.
//!
//! For an event whose JSON data holds an array at `field` (default `items`),
//! returns one event per element, in order:
//!
//! | attribute | value |
//! |---|---|
//! | `id` | `<parent id>-<index>`, index from 0 |
//! | `source` | the parent's |
//! | `type` | `type` from the configuration, default `<parent type>.item` |
//! | `subject`, `time` | the parent's |
//! | `datacontenttype` | `application/json` |
//! | `dataschema` | none (the element does not follow the parent's schema) |
//! | extensions | the parent's (so `traceparent`, `partitionkey`, … carry over), plus `parentid = <parent id>` |
//! | data | the element, as JSON |
//!
//! An empty array yields no events (the parent is dropped). An event without
//! JSON data, or whose data has no array at `field`, fails with an error
//! naming the field: route only splittable events to this rule.
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `field` | `items` | the member holding the array; a dotted path (`order.lines`) reaches into nested objects |
//! | `type` | `<parent type>.item` | the `type` of the events produced |

use signalbox_sdk::serde_json::Value;
use signalbox_sdk::{Config, Error, Event, Settings, Transform, config_expect_keys, config_get};

struct Split {
    /// The path to the array, split at the dots.
    field: Vec<String>,
    /// The configured type, or `None` for `<parent type>.item`.
    ty: Option<String>,
}

static SETTINGS: Settings<Split> = Settings::new();

impl Transform for Split {
    fn init(config: Config) -> Result<(), Error> {
        config_expect_keys(&config, &["field", "type"])?;
        let field_text = config_get(&config, "field").unwrap_or("items").trim();
        let field: Vec<String> = field_text.split('.').map(str::to_owned).collect();
        if field.iter().any(String::is_empty) {
            return Err(Error::new(format!(
                "config: `field` = {field_text:?} is not a member name or dotted path"
            )));
        }
        let ty = match config_get(&config, "type") {
            Some(ty) if ty.trim().is_empty() => return Err(Error::new("config: `type` is empty")),
            Some(ty) => Some(ty.trim().to_owned()),
            None => None,
        };
        SETTINGS.set(Split { field, ty })
    }

    fn transform(event: Event) -> Result<Vec<Event>, Error> {
        let settings = SETTINGS.get()?;
        let field = settings.field.join(".");
        if !event.is_json() {
            return Err(Error::new(format!(
                "event {} has no JSON data to split at `{field}`",
                event.id
            )));
        }
        let mut data: Value = event.data_json()?;
        let items = match settings
            .field
            .iter()
            .try_fold(&mut data, |v, key| v.get_mut(key.as_str()))
        {
            Some(Value::Array(items)) => std::mem::take(items),
            Some(other) => {
                return Err(Error::new(format!(
                    "data of event {}: `{field}` is {}, not an array",
                    event.id,
                    kind(other)
                )));
            }
            None => {
                return Err(Error::new(format!(
                    "data of event {} has no `{field}`",
                    event.id
                )));
            }
        };
        let ty = settings
            .ty
            .clone()
            .unwrap_or_else(|| format!("{}.item", event.type_));
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let mut child = Event::new(format!("{}-{index}", event.id), &*event.source, &*ty);
                child.subject.clone_from(&event.subject);
                child.time.clone_from(&event.time);
                child.extensions.clone_from(&event.extensions);
                child.set_extension("parentid", &*event.id);
                child.set_data_json(&item)?;
                Ok(child)
            })
            .collect()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

signalbox_sdk::export_transform!(Split);
