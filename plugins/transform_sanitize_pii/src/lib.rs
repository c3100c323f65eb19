//! `transform_sanitize_pii` — removes personal data from HR events.
//!
//! For each event it returns one event with:
//!
//! * the configured fields deleted from the JSON data;
//! * the `subject` removed if it is, or contains, an email address
//!   (`jane@example.com`, `employees/jane@example.com`);
//! * the extension `sanitized` set to `true`.
//!
//! Fields are matched by name, ignoring ASCII case:
//!
//! * a plain name (`email`) is deleted wherever it appears: in the top-level
//!   object, in nested objects, and in objects inside arrays;
//! * a dotted path (`manager.email`) is deleted only at that place, starting
//!   from the top-level object; an array along the way applies the rest of
//!   the path to each of its elements (`employees.ssn`).
//!
//! It fails closed: an event whose data is not JSON (so cannot be inspected)
//! is an error, not passed through. Events without data only get the subject
//! check and the mark.
//!
//! Note that the data is re-serialised: object members come out sorted, and
//! integers beyond the 64-bit range lose precision (serde_json's default
//! number model).
//!
//! Configuration:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `fields` | `name,email,phone,address,ssn,birthdate,salary` | comma-separated (or a JSON list of) names and dotted paths to delete |

use signalbox_sdk::serde_json::{Map, Value};
use signalbox_sdk::{Config, Error, Event, Settings, Transform, config_expect_keys, config_list};

/// Deleted when `fields` is not configured.
const DEFAULT_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "address",
    "ssn",
    "birthdate",
    "salary",
];

/// One entry of `fields`, split at the dots and lower-cased.
type FieldPath = Vec<String>;

static FIELDS: Settings<Vec<FieldPath>> = Settings::new();

struct SanitizePii;

impl Transform for SanitizePii {
    fn init(config: Config) -> Result<(), Error> {
        config_expect_keys(&config, &["fields"])?;
        let fields = config_list(&config, "fields")?
            .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|s| (*s).to_owned()).collect());
        if fields.is_empty() {
            return Err(Error::new(
                "config: `fields` is empty; nothing would be removed",
            ));
        }
        let paths = fields
            .iter()
            .map(|field| {
                let path: FieldPath = field
                    .split('.')
                    .map(|p| p.trim().to_ascii_lowercase())
                    .collect();
                if path.iter().any(String::is_empty) {
                    Err(Error::new(format!(
                        "config: `fields`: {field:?} is not a name or dotted path"
                    )))
                } else {
                    Ok(path)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        FIELDS.set(paths)
    }

    fn transform(mut event: Event) -> Result<Vec<Event>, Error> {
        let fields = FIELDS.get()?;
        if event.data.is_some() {
            if !event.is_json() {
                return Err(Error::new(format!(
                    "data of event {} is {}, not JSON; refusing to pass on data that cannot be checked for personal data",
                    event.id,
                    event.datacontenttype.as_deref().unwrap_or("not JSON")
                )));
            }
            let mut data: Value = event.data_json()?;
            for path in fields {
                if path.len() == 1 {
                    remove_everywhere(&mut data, &path[0]);
                } else {
                    remove_at(&mut data, path);
                }
            }
            event.set_data_json(&data)?;
        }
        if event.subject.as_deref().is_some_and(contains_email) {
            event.subject = None;
        }
        event.set_extension("sanitized", true);
        Ok(vec![event])
    }
}

/// Removes the members of `object` named `name` (ASCII case-insensitive).
fn remove_named(object: &mut Map<String, Value>, name: &str) {
    object.retain(|key, _| !key.eq_ignore_ascii_case(name));
}

/// Removes every member named `name` at any depth.
fn remove_everywhere(value: &mut Value, name: &str) {
    match value {
        Value::Object(object) => {
            remove_named(object, name);
            object.values_mut().for_each(|v| remove_everywhere(v, name));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remove_everywhere(v, name)),
        _ => {}
    }
}

/// Removes the member at `path` (at least one segment), mapping over arrays.
fn remove_at(value: &mut Value, path: &[String]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| remove_at(v, path)),
        Value::Object(object) => match path {
            [] => {}
            [last] => remove_named(object, last),
            [first, rest @ ..] => object
                .iter_mut()
                .filter(|(key, _)| key.eq_ignore_ascii_case(first))
                .for_each(|(_, v)| remove_at(v, rest)),
        },
        _ => {}
    }
}

/// Whether `text`, or one of its parts separated by whitespace, `/`, `:`,
/// `,`, `;`, `<`, `>` or quotes, looks like an email address: a non-empty
/// local part, `@`, and a domain with an inner dot.
fn contains_email(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || "/:,;<>\"'()".contains(c))
        .any(|part| {
            let Some((local, domain)) = part.rsplit_once('@') else {
                return false;
            };
            !local.is_empty()
                && domain.len() >= 3
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        })
}

signalbox_sdk::export_transform!(SanitizePii);

#[cfg(test)]
mod tests {
    use super::*;
    use signalbox_sdk::serde_json::json;

    fn paths(fields: &[&str]) -> Vec<FieldPath> {
        fields
            .iter()
            .map(|f| f.split('.').map(str::to_ascii_lowercase).collect())
            .collect()
    }

    fn sanitize(mut data: Value, fields: &[&str]) -> Value {
        for path in paths(fields) {
            if path.len() == 1 {
                remove_everywhere(&mut data, &path[0]);
            } else {
                remove_at(&mut data, &path);
            }
        }
        data
    }

    #[test]
    fn removes_names_at_any_depth() {
        let data = json!({
            "Name": "Jane", "team": "ops",
            "manager": {"email": "m@x.io", "level": 3},
            "history": [{"salary": 1, "year": 2020}, {"salary": 2, "year": 2021}]
        });
        assert_eq!(
            sanitize(data, &["name", "email", "salary"]),
            json!({"team": "ops", "manager": {"level": 3}, "history": [{"year": 2020}, {"year": 2021}]})
        );
    }

    #[test]
    fn removes_dotted_paths_only_there() {
        let data = json!({
            "email": "top@x.io",
            "manager": {"email": "m@x.io"},
            "employees": [{"ssn": "1", "id": 1}, {"ssn": "2", "id": 2}],
            "other": {"employees": [{"ssn": "3"}]}
        });
        assert_eq!(
            sanitize(data, &["manager.email", "employees.ssn"]),
            json!({
                "email": "top@x.io",
                "manager": {},
                "employees": [{"id": 1}, {"id": 2}],
                "other": {"employees": [{"ssn": "3"}]}
            })
        );
    }

    #[test]
    fn emails() {
        for yes in [
            "jane@example.com",
            "employees/jane.doe@corp.example.org",
            "Jane <j@x.io>",
        ] {
            assert!(contains_email(yes), "{yes}");
        }
        for no in [
            "employee-42",
            "@example.com",
            "jane@localhost",
            "a@b.",
            "x@.io",
            "",
        ] {
            assert!(!contains_email(no), "{no}");
        }
    }
}
