//! Reading the rule's configuration, and keeping what `init` parsed.
//!
//! The configuration is a plain [`Config`](crate::Config) (a list of key/value pairs). The
//! functions here take it as a slice, so pass `&config`. Values that were not
//! strings in the rule's JSON arrive as JSON text: `threshold: 1000` arrives
//! as `"1000"`, `enabled: true` as `"true"`, `fields: ["a", "b"]` as
//! `"[\"a\",\"b\"]"`.

use std::fmt::Display;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::Error;

/// The value of `key`, if the configuration has it. When a key appears more
/// than once, the first one wins.
pub fn config_get<'a>(config: &'a [(String, String)], key: &str) -> Option<&'a str> {
    config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The value of `key`, or an error saying that the key is required.
pub fn config_require<'a>(config: &'a [(String, String)], key: &str) -> Result<&'a str, Error> {
    config_get(config, key).ok_or_else(|| Error::new(format!("config: `{key}` is required")))
}

/// The value of `key` parsed with [`FromStr`]: `Ok(None)` when the key is
/// absent, an error naming the key and the value when it does not parse.
///
/// ```
/// # use signalbox_sdk::config_parse;
/// let config = vec![("threshold".to_string(), "250.5".to_string())];
/// assert_eq!(config_parse::<f64>(&config, "threshold").unwrap(), Some(250.5));
/// assert_eq!(config_parse::<f64>(&config, "other").unwrap(), None);
/// let bad = vec![("threshold".to_string(), "lots".to_string())];
/// assert_eq!(
///     config_parse::<f64>(&bad, "threshold").unwrap_err().message,
///     "config: `threshold` = \"lots\": invalid float literal",
/// );
/// ```
pub fn config_parse<T>(config: &[(String, String)], key: &str) -> Result<Option<T>, Error>
where
    T: FromStr,
    T::Err: Display,
{
    match config_get(config, key) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| Error::new(format!("config: `{key}` = {raw:?}: {e}"))),
    }
}

/// [`config_parse`] with a default for when the key is absent.
pub fn config_parse_or<T>(config: &[(String, String)], key: &str, default: T) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(config_parse(config, key)?.unwrap_or(default))
}

/// The value of `key` as a list of strings: either a JSON array of strings
/// (`["a", "b"]`, which is how a list in the rule's JSON arrives) or a
/// comma-separated string (`"a, b"`). Items are trimmed; empty items are
/// dropped. `Ok(None)` when the key is absent.
pub fn config_list(config: &[(String, String)], key: &str) -> Result<Option<Vec<String>>, Error> {
    let Some(raw) = config_get(config, key) else {
        return Ok(None);
    };
    let items: Vec<String> = if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw)
            .map_err(|e| Error::new(format!("config: `{key}`: expected a list of strings: {e}")))?
    } else {
        raw.split(',').map(str::to_owned).collect()
    };
    Ok(Some(
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

/// Fails when the configuration has a key not in `known`, so that a typo
/// (`treshold`) is reported by `init` instead of silently using a default.
pub fn config_expect_keys(config: &[(String, String)], known: &[&str]) -> Result<(), Error> {
    match config.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some((key, _)) if known.is_empty() => Err(Error::new(format!(
            "config: unknown key `{key}`; this plugin takes no configuration"
        ))),
        Some((key, _)) => Err(Error::new(format!(
            "config: unknown key `{key}`; this plugin knows {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Holds what `init` parsed from the [`Config`](crate::Config), for the later calls.
///
/// The export functions are plain functions (no `self`), so per-instance
/// state lives in a `static`. An instance is single-threaded and gets `init`
/// exactly once, before anything else, so a write-once cell is all it takes:
///
/// ```
/// use signalbox_sdk::{Config, Error, Settings, config_parse_or};
///
/// struct Parsed {
///     threshold: f64,
/// }
/// static SETTINGS: Settings<Parsed> = Settings::new();
///
/// fn init(config: Config) -> Result<(), Error> {
///     SETTINGS.set(Parsed { threshold: config_parse_or(&config, "threshold", 1000.0)? })
/// }
///
/// fn threshold() -> Result<f64, Error> {
///     Ok(SETTINGS.get()?.threshold)
/// }
/// # init(vec![]).unwrap();
/// # assert_eq!(threshold().unwrap(), 1000.0);
/// ```
pub struct Settings<T> {
    cell: OnceLock<T>,
}

impl<T> Settings<T> {
    /// An empty cell, for a `static`.
    pub const fn new() -> Self {
        Settings {
            cell: OnceLock::new(),
        }
    }

    /// Stores the settings. Fails if they were already stored (`init` ran
    /// twice on one instance, which the host never does).
    pub fn set(&self, value: T) -> Result<(), Error> {
        self.cell
            .set(value)
            .map_err(|_| Error::new("init was called twice on the same instance"))
    }

    /// The stored settings, or an error if `init` has not stored them (a
    /// call before `init`, or after an `init` that failed).
    pub fn get(&self) -> Result<&T, Error> {
        self.cell.get().ok_or_else(|| {
            Error::new("plugin is not initialised: init has not succeeded on this instance")
        })
    }
}

impl<T> Default for Settings<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn get_and_parse() {
        let c = cfg(&[("a", "1"), ("b", " 2 "), ("a", "3"), ("f", "true")]);
        assert_eq!(config_get(&c, "a"), Some("1"));
        assert_eq!(config_get(&c, "z"), None);
        assert_eq!(
            config_require(&c, "z").unwrap_err().message,
            "config: `z` is required"
        );
        assert_eq!(config_parse::<u32>(&c, "b").unwrap(), Some(2));
        assert_eq!(config_parse::<bool>(&c, "f").unwrap(), Some(true));
        assert_eq!(config_parse_or::<u32>(&c, "z", 7).unwrap(), 7);
        let e = config_parse::<u8>(&cfg(&[("n", "300")]), "n").unwrap_err();
        assert_eq!(
            e.message,
            "config: `n` = \"300\": number too large to fit in target type"
        );
    }

    #[test]
    fn lists() {
        let c = cfg(&[
            ("csv", " a, b ,,c"),
            ("json", r#"["x", " y "]"#),
            ("bad", "[1]"),
        ]);
        assert_eq!(config_list(&c, "csv").unwrap().unwrap(), ["a", "b", "c"]);
        assert_eq!(config_list(&c, "json").unwrap().unwrap(), ["x", "y"]);
        assert!(
            config_list(&c, "bad")
                .unwrap_err()
                .message
                .starts_with("config: `bad`: expected a list of strings")
        );
        assert_eq!(config_list(&c, "none").unwrap(), None);
    }

    #[test]
    fn expect_keys() {
        let c = cfg(&[("threshold", "1"), ("treshold", "2")]);
        assert_eq!(
            config_expect_keys(&c, &["threshold", "field"])
                .unwrap_err()
                .message,
            "config: unknown key `treshold`; this plugin knows `threshold`, `field`"
        );
        assert!(config_expect_keys(&c, &["threshold", "treshold"]).is_ok());
        assert!(
            config_expect_keys(&c, &[])
                .unwrap_err()
                .message
                .ends_with("takes no configuration")
        );
    }

    #[test]
    fn settings() {
        let s: Settings<u8> = Settings::new();
        assert!(s.get().is_err());
        s.set(1).unwrap();
        assert_eq!(*s.get().unwrap(), 1);
        assert!(s.set(2).is_err());
    }
}
