//! Names: of buses, rules, plugins and targets, checked by one rule.
//!
//! A name is 1 to 63 characters from `a-z`, `0-9`, `.`, `_` and `-`, and
//! starts with a letter or digit, so it is safe in URL paths, metric labels,
//! log lines and storage keys. Target ids (names inside one rule) may also
//! start with `.`, `_` or `-`, as they always could.

use std::fmt;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bus.
    Bus,
    /// A rule.
    Rule,
    /// A plugin.
    Plugin,
    /// A target id within a rule.
    Target,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Bus => "bus name",
            Kind::Rule => "rule name",
            Kind::Plugin => "plugin name",
            Kind::Target => "target id",
        })
    }
}

/// A name that breaks the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{name}' is not a valid {kind}: use 1 to 63 characters from a-z, 0-9, '.', '_' and '-'{start}"
)]
pub struct NameError {
    /// What it would have named.
    pub kind: Kind,
    /// The name as given (cut to 100 characters).
    pub name: String,
    start: &'static str,
}

/// Whether `name` is a valid name of `kind`.
pub fn is_valid(kind: Kind, name: &str) -> bool {
    let b = name.as_bytes();
    let allowed =
        |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-');
    !b.is_empty()
        && b.len() <= 63
        && (kind == Kind::Target || b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(allowed)
}

/// Checks a name of `kind`.
pub fn check(kind: Kind, name: &str) -> Result<(), NameError> {
    if is_valid(kind, name) {
        return Ok(());
    }
    Err(NameError {
        kind,
        name: name.chars().take(100).collect(),
        start: if kind == Kind::Target {
            ""
        } else {
            ", starting with a letter or digit"
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for ok in [
            "default",
            "orders",
            "a",
            "0",
            "hr.onboarding",
            "a-b_c",
            &"a".repeat(63),
        ] {
            for kind in [Kind::Bus, Kind::Rule, Kind::Plugin, Kind::Target] {
                assert!(check(kind, ok).is_ok(), "{kind} {ok}");
            }
        }
        for bad in ["", "Orders", "a b", "a/b", &"a".repeat(64), "é"] {
            assert!(check(Kind::Bus, bad).is_err(), "{bad}");
            assert!(check(Kind::Target, bad).is_err(), "{bad}");
        }
        for leading in ["-a", ".a", "_a"] {
            assert!(check(Kind::Bus, leading).is_err());
            assert!(check(Kind::Target, leading).is_ok());
        }
        let e = check(Kind::Rule, "Bad").unwrap_err().to_string();
        assert!(e.starts_with("'Bad' is not a valid rule name"), "{e}");
    }
}
