//! Scopes, actions, and which action an API request needs.

use std::fmt;
use std::str::FromStr;

use http::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The buses a `publish:` or `read:` scope covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BusSelector {
    /// `*`: every bus, including buses created later.
    Any,
    /// One bus, by name.
    Bus(String),
}

impl BusSelector {
    /// Whether the selector covers `bus`.
    pub fn covers(&self, bus: &str) -> bool {
        match self {
            BusSelector::Any => true,
            BusSelector::Bus(b) => b == bus,
        }
    }
}

impl fmt::Display for BusSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusSelector::Any => f.write_str("*"),
            BusSelector::Bus(b) => f.write_str(b),
        }
    }
}

/// A permission a token carries. Written as a string: `admin`, `metrics`,
/// `publish:<bus>` or `read:<bus>`, where `<bus>` is a bus name or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Everything, including managing buses, rules, plugins, schemas and tokens.
    Admin,
    /// Scraping `GET /metrics`, and nothing else.
    Metrics,
    /// Publishing events to the selected buses.
    Publish(BusSelector),
    /// Reading events (by id, by position, streams, traces) and the bus
    /// description of the selected buses.
    Read(BusSelector),
}

/// A scope string that is not one of the forms above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid scope '{scope}': {reason}; scopes are 'admin', 'metrics', 'publish:<bus>' and 'read:<bus>', where <bus> is a bus name or '*'"
)]
pub struct ScopeError {
    /// The scope as given.
    pub scope: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Scope {
    /// Parses `admin`, `metrics`, `publish:<bus>` or `read:<bus>`.
    ///
    /// ```
    /// use signalbox::auth::{BusSelector, Scope};
    /// assert_eq!(Scope::parse("publish:orders").unwrap(),
    ///            Scope::Publish(BusSelector::Bus("orders".into())));
    /// assert_eq!(Scope::parse("read:*").unwrap().to_string(), "read:*");
    /// assert!(Scope::parse("write:orders").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let err = |reason: String| ScopeError {
            scope: s.to_owned(),
            reason,
        };
        match s {
            "admin" => return Ok(Scope::Admin),
            "metrics" => return Ok(Scope::Metrics),
            _ => {}
        }
        let Some((kind, bus)) = s.split_once(':') else {
            return Err(err(if s.is_empty() {
                "it is empty".to_owned()
            } else {
                format!("'{s}' is not a scope")
            }));
        };
        let selector = if bus == "*" {
            BusSelector::Any
        } else if crate::names::is_valid(crate::names::Kind::Bus, bus) {
            BusSelector::Bus(bus.to_owned())
        } else {
            return Err(err(format!(
                "'{bus}' is not a bus name (names match [a-z0-9][a-z0-9._-]{{0,62}})"
            )));
        };
        match kind {
            "publish" => Ok(Scope::Publish(selector)),
            "read" => Ok(Scope::Read(selector)),
            "admin" | "metrics" => Err(err(format!("'{kind}' takes no bus"))),
            other => Err(err(format!("unknown kind of scope '{other}'"))),
        }
    }

    /// Whether this scope alone permits `action`.
    pub fn allows(&self, action: &Action) -> bool {
        match (self, action) {
            (Scope::Admin, _) => true,
            (Scope::Metrics, Action::Metrics) => true,
            (Scope::Publish(sel), Action::Publish { bus }) => sel.covers(bus),
            (Scope::Read(sel), Action::Read { bus }) => sel.covers(bus),
            (_, Action::Authenticated) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Admin => f.write_str("admin"),
            Scope::Metrics => f.write_str("metrics"),
            Scope::Publish(sel) => write!(f, "publish:{sel}"),
            Scope::Read(sel) => write!(f, "read:{sel}"),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Scope, ScopeError> {
        Scope::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scope, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a request does, for authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Administration: anything not covered below.
    Admin,
    /// Scraping metrics.
    Metrics,
    /// Publishing events to a bus.
    Publish {
        /// The bus.
        bus: String,
    },
    /// Reading events or the description of a bus.
    Read {
        /// The bus.
        bus: String,
    },
    /// What any valid token may do, whatever its scopes: ask who it is
    /// (`GET /v1/whoami`), list the buses it may read, test a pattern. The
    /// answer depends on the token, so the request still needs one.
    Authenticated,
}

impl Action {
    /// The narrowest scope that permits the action (`admin` permits every
    /// action; `publish:*` and `read:*` those on any bus). Every scope
    /// permits [`Action::Authenticated`]; `metrics`, which permits nothing
    /// else on a bus, stands for them.
    pub fn scope(&self) -> Scope {
        match self {
            Action::Admin => Scope::Admin,
            Action::Metrics | Action::Authenticated => Scope::Metrics,
            Action::Publish { bus } => Scope::Publish(BusSelector::Bus(bus.clone())),
            Action::Read { bus } => Scope::Read(BusSelector::Bus(bus.clone())),
        }
    }

    /// Every scope that permits the action, narrowest first, e.g.
    /// `publish:orders`, `publish:*`, `admin` — for error messages.
    pub fn permitting_scopes(&self) -> Vec<Scope> {
        match self {
            Action::Admin => vec![Scope::Admin],
            Action::Metrics => vec![Scope::Metrics, Scope::Admin],
            Action::Publish { .. } => {
                vec![self.scope(), Scope::Publish(BusSelector::Any), Scope::Admin]
            }
            Action::Read { .. } => vec![self.scope(), Scope::Read(BusSelector::Any), Scope::Admin],
            Action::Authenticated => vec![
                Scope::Metrics,
                Scope::Read(BusSelector::Any),
                Scope::Publish(BusSelector::Any),
                Scope::Admin,
            ],
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Admin => f.write_str("administer the server"),
            Action::Metrics => f.write_str("read metrics"),
            Action::Authenticated => f.write_str("use the API"),
            Action::Publish { bus } => write!(f, "publish to bus '{bus}'"),
            Action::Read { bus } => write!(f, "read bus '{bus}'"),
        }
    }
}

/// The action an API request needs, or `None` for the endpoints that need no
/// token (`/healthz`, `/readyz`).
///
/// | request | action |
/// |---|---|
/// | `GET /healthz`, `GET /readyz` (any method) | none |
/// | `POST /` (the AWS front, which checks signatures and scopes per operation) | none here |
/// | `GET`/`HEAD /console` and `/console/…` (the console's static files) | none |
/// | `GET /metrics` | [`Action::Metrics`] |
/// | `GET /v1/whoami`, `GET /v1/buses` (filtered to the readable), `POST /v1/test-pattern` | [`Action::Authenticated`] |
/// | `POST /v1/buses/{bus}/events` | [`Action::Publish`] |
/// | `GET`/`HEAD /v1/buses/{bus}` | [`Action::Read`] |
/// | `GET`/`HEAD /v1/buses/{bus}/events` and everything below it (`/events/{id}`, `/events/{id}/trace`) | [`Action::Read`] |
/// | anything else, in or outside `/v1` | [`Action::Admin`] |
///
/// The path is the request's path without the query. It is judged as sent,
/// before percent-decoding: a `{bus}` segment that is not a valid bus name
/// (for example one with `%`-escapes), or a path with empty, `.` or `..`
/// segments, needs [`Action::Admin`] — such requests would not reach a bus a
/// narrower token could name anyway, and denying them by default costs
/// nothing. Unknown paths need `admin` too, so that new endpoints are
/// protected until they are added here.
pub fn required_action(method: &Method, path: &str) -> Option<Action> {
    // Webhooks carry a signature instead of a token; the source verifies
    // it (`crate::sources::webhook`).
    if *method == Method::POST
        && (path.starts_with("/v1/hooks/")
            || path
                .strip_prefix("/v1/sources/")
                .and_then(|r| r.strip_suffix("/webhook"))
                .is_some_and(|name| !name.is_empty() && !name.contains('/')))
    {
        return None;
    }
    match path {
        "/healthz" | "/readyz" => return None,
        // The AWS front authenticates each call itself (SigV4 signatures
        // from a token's AWS keys, or a bearer token) and checks the
        // token's scopes per operation (`crate::aws`).
        "/" if *method == Method::POST => return None,
        "/metrics" if is_read(method) => return Some(Action::Metrics),
        "/v1/whoami" | "/v1/buses" if is_read(method) => return Some(Action::Authenticated),
        "/v1/test-pattern" if *method == Method::POST => return Some(Action::Authenticated),
        // The console's files hold no data: it fetches everything through
        // the API with the user's token. Odd paths fall through to admin.
        p if is_read(method)
            && (p == "/console" || p.starts_with("/console/"))
            && !p.split('/').any(|s| s == "." || s == "..") =>
        {
            return None;
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/v1/buses/") else {
        return Some(Action::Admin);
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Some(Action::Admin);
    }
    let bus = segments[0];
    if !crate::names::is_valid(crate::names::Kind::Bus, bus) {
        return Some(Action::Admin);
    }
    let bus = bus.to_owned();
    match (&segments[1..], method) {
        ([], m) if is_read(m) => Some(Action::Read { bus }),
        (["events"], m) if *m == Method::POST => Some(Action::Publish { bus }),
        (["events", ..], m) if is_read(m) => Some(Action::Read { bus }),
        _ => Some(Action::Admin),
    }
}

fn is_read(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}
