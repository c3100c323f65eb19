//! Outbound network policy for connector plugins.
//!
//! A connector may make HTTP requests only to the hosts on its rule's
//! `allowed_hosts` list (default: empty, so no request is allowed). Each entry
//! is `[scheme://]host[:port]`:
//!
//! | entry | allows |
//! |---|---|
//! | `https://hooks.example.com` | HTTPS to that host on port 443 |
//! | `hooks.example.com` | HTTP (80) or HTTPS (443) to that host |
//! | `http://10.0.0.5:8080` | HTTP to that address and port |
//! | `https://*.example.com` | HTTPS to any subdomain of example.com (not example.com itself) |
//! | `https://api.example.com:*` | HTTPS to that host on any port |
//!
//! The check happens twice: on the URL before anything is sent, and on the
//! addresses the host name resolves to, right before connecting. The second
//! check refuses loopback, private, link-local and other internal addresses
//! (so a public name that resolves to `127.0.0.1` or `10.x` cannot reach
//! internal services) unless the matching entry names that host exactly — an
//! IP literal or a full host name, never a wildcard. This module is pure: it
//! decides, the plugin runtime enforces.

use std::net::IpAddr;

use thiserror::Error;

/// A parsed allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    scheme: Option<Scheme>,
    host: HostPattern,
    port: PortPattern,
}

/// A URL scheme a connector may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// Parses `http` or `https` (any case).
    pub fn parse(s: &str) -> Option<Scheme> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// An exact host name (lower-case) or IP literal.
    Exact(String),
    /// `*.suffix`: any name ending in `.suffix`.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// The scheme's default port(s).
    Default,
    /// Exactly this port.
    Exact(u16),
    /// Any port.
    Any,
}

/// An allow-list entry that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("allowed_hosts entry '{entry}' is invalid: {reason}")]
pub struct AllowListError {
    /// The entry as written.
    pub entry: String,
    /// Why it is invalid.
    pub reason: String,
}

/// The verdict on a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not on the list.
    Denied,
    /// Allowed; `exact` says whether the entry named this host exactly, which
    /// is what permits internal addresses.
    Allowed {
        /// The entry names the host exactly (no wildcard).
        exact: bool,
    },
}

impl AllowList {
    /// Parses a list of entries.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<AllowList, AllowListError> {
        let entries = entries
            .iter()
            .map(|e| parse_entry(e.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(AllowList { entries })
    }

    /// Whether the list is empty (nothing allowed).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks a request's scheme, host and port (the port being explicit or
    /// the scheme's default).
    pub fn check(&self, scheme: Scheme, host: &str, port: u16) -> Verdict {
        let host = normalize_host(host);
        let mut verdict = Verdict::Denied;
        for e in &self.entries {
            if e.scheme.is_some_and(|s| s != scheme) {
                continue;
            }
            let port_ok = match e.port {
                PortPattern::Any => true,
                PortPattern::Exact(p) => p == port,
                PortPattern::Default => match e.scheme {
                    Some(s) => s.default_port() == port,
                    None => port == scheme.default_port(),
                },
            };
            if !port_ok {
                continue;
            }
            match &e.host {
                HostPattern::Exact(h) if *h == host => return Verdict::Allowed { exact: true },
                HostPattern::Subdomains(suffix)
                    if host.len() > suffix.len() + 1
                        && host.ends_with(suffix.as_str())
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.' =>
                {
                    verdict = Verdict::Allowed { exact: false };
                }
                _ => {}
            }
        }
        verdict
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn parse_entry(raw: &str) -> Result<Entry, AllowListError> {
    let err = |reason: &str| AllowListError {
        entry: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let s = raw.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    let (scheme, rest) = match s.split_once("://") {
        Some((sch, rest)) => (
            Some(Scheme::parse(sch).ok_or_else(|| err("only http and https are supported"))?),
            rest,
        ),
        None => (None, s),
    };
    if rest.contains('/') || rest.contains('?') || rest.contains('@') {
        return Err(err(
            "give a host, not a URL with a path, query or user info",
        ));
    }
    // Bracketed IPv6, then an optional port.
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or_else(|| err("unclosed '['"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else if rest.matches(':').count() > 1 {
        (rest.to_owned(), None)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (rest.to_owned(), None),
        }
    };
    let port = match port {
        None => PortPattern::Default,
        Some("*") => PortPattern::Any,
        Some(p) => PortPattern::Exact(
            p.parse()
                .map_err(|_| err("the port must be a number or *"))?,
        ),
    };
    let host = normalize_host(&host);
    if host == "*" {
        return Err(err(
            "'*' would allow every host; list the hosts a plugin needs",
        ));
    }
    let host = if let Some(suffix) = host.strip_prefix("*.") {
        if suffix.is_empty() || suffix.contains('*') {
            return Err(err("a wildcard must look like *.example.com"));
        }
        HostPattern::Subdomains(suffix.to_owned())
    } else {
        if host.contains('*') {
            return Err(err(
                "'*' is only allowed as the first label (*.example.com)",
            ));
        }
        if host.parse::<IpAddr>().is_err()
            && !host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        {
            return Err(err("not a host name or IP address"));
        }
        HostPattern::Exact(host)
    };
    Ok(Entry { scheme, host, port })
}

/// Whether an address is internal: loopback, private, link-local, CGNAT,
/// unique-local, unspecified, multicast, broadcast or documentation ranges —
/// anything that is not a public unicast address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || seg[0] == 0x2001 && seg[1] == 0x0db8
                || seg[0] == 0x0064 && seg[1] == 0xff9b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(e: &[&str]) -> AllowList {
        AllowList::parse(e).unwrap()
    }

    #[test]
    fn empty_list_denies_everything() {
        assert_eq!(
            AllowList::default().check(Scheme::Https, "example.com", 443),
            Verdict::Denied
        );
    }

    #[test]
    fn exact_hosts_schemes_and_ports() {
        let l = list(&[
            "https://hooks.example.com",
            "http://10.0.0.5:8080",
            "api.example.org",
        ]);
        assert_eq!(
            l.check(Scheme::Https, "hooks.example.com", 443),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Https, "HOOKS.example.com.", 443),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Http, "hooks.example.com", 80),
            Verdict::Denied,
            "scheme"
        );
        assert_eq!(
            l.check(Scheme::Https, "hooks.example.com", 8443),
            Verdict::Denied,
            "port"
        );
        assert_eq!(
            l.check(Scheme::Http, "10.0.0.5", 8080),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(l.check(Scheme::Http, "10.0.0.5", 80), Verdict::Denied);
        assert_eq!(
            l.check(Scheme::Http, "api.example.org", 80),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Https, "api.example.org", 443),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Https, "api.example.org", 80),
            Verdict::Denied
        );
        assert_eq!(l.check(Scheme::Https, "evil.com", 443), Verdict::Denied);
        assert_eq!(
            l.check(Scheme::Https, "hooks.example.com.evil.com", 443),
            Verdict::Denied
        );
    }

    #[test]
    fn wildcards_and_any_port() {
        let l = list(&["https://*.example.com", "http://svc.local:*", "[::1]:9000"]);
        assert_eq!(
            l.check(Scheme::Https, "a.example.com", 443),
            Verdict::Allowed { exact: false }
        );
        assert_eq!(
            l.check(Scheme::Https, "a.b.example.com", 443),
            Verdict::Allowed { exact: false }
        );
        assert_eq!(l.check(Scheme::Https, "example.com", 443), Verdict::Denied);
        assert_eq!(
            l.check(Scheme::Https, "badexample.com", 443),
            Verdict::Denied
        );
        assert_eq!(
            l.check(Scheme::Http, "svc.local", 1234),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Http, "::1", 9000),
            Verdict::Allowed { exact: true }
        );
        assert_eq!(
            l.check(Scheme::Http, "[::1]", 9000),
            Verdict::Allowed { exact: true }
        );
    }

    #[test]
    fn invalid_entries() {
        for bad in [
            "",
            "*",
            "ftp://x",
            "https://x/path",
            "x:port",
            "a.*.com",
            "user@host",
            "[::1",
            "ba d",
        ] {
            assert!(AllowList::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "172.32.0.1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
