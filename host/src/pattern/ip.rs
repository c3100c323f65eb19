//! IPv4/IPv6 address and CIDR parsing for the `cidr` operator and IP-address literals.

use std::net::{Ipv4Addr, Ipv6Addr};

/// An IP address as a number; the family is kept so v4 and v6 never compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpVal {
    V4(u32),
    V6(u128),
}

/// An inclusive address range of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct IpRange {
    pub v6: bool,
    pub lo: u128,
    pub hi: u128,
}

impl IpRange {
    pub(crate) fn single(ip: IpVal) -> Self {
        match ip {
            IpVal::V4(a) => IpRange {
                v6: false,
                lo: u128::from(a),
                hi: u128::from(a),
            },
            IpVal::V6(a) => IpRange {
                v6: true,
                lo: a,
                hi: a,
            },
        }
    }

    pub(crate) fn contains(&self, ip: IpVal) -> bool {
        match ip {
            IpVal::V4(a) => !self.v6 && self.lo <= u128::from(a) && u128::from(a) <= self.hi,
            IpVal::V6(a) => self.v6 && self.lo <= a && a <= self.hi,
        }
    }
}

/// Parses an IP address literal, using the same shape test as event-ruler
/// (`d+.d+.d+.d+` for v4; only hex digits and colons, with at least one colon, for v6).
pub(crate) fn parse_ip(s: &str) -> Option<IpVal> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        if b.iter().filter(|c| **c == b'.').count() != 3 {
            return None;
        }
        return s.parse::<Ipv4Addr>().ok().map(|a| IpVal::V4(u32::from(a)));
    }
    if b.contains(&b':') && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b':') {
        return s.parse::<Ipv6Addr>().ok().map(|a| IpVal::V6(u128::from(a)));
    }
    None
}

/// [`parse_ip`] for an event value given as (UTF-8) bytes.
pub(crate) fn parse_ip_bytes(b: &[u8]) -> Option<IpVal> {
    if b.is_empty() || b.len() > 45 || !b.is_ascii() {
        return None;
    }
    parse_ip(std::str::from_utf8(b).ok()?)
}

/// Parses `address/bits`. The range is the whole network the address belongs to.
pub(crate) fn parse_cidr(s: &str) -> Result<IpRange, String> {
    let Some((addr, bits)) = s.split_once('/') else {
        return Err(format!("malformed CIDR {s:?}: one '/' required"));
    };
    if bits.is_empty() || !bits.bytes().all(|c| c.is_ascii_digit()) || bits.len() > 3 {
        return Err(format!(
            "malformed CIDR {s:?}: mask bits must be a non-negative integer"
        ));
    }
    let bits: u32 = bits
        .parse()
        .map_err(|_| format!("malformed CIDR {s:?}: bad mask bits"))?;
    let Some(ip) = parse_ip(addr) else {
        return Err(format!(
            "malformed CIDR {s:?}: {addr:?} is not an IP address"
        ));
    };
    match ip {
        IpVal::V4(a) => {
            if bits > 32 {
                return Err(format!(
                    "malformed CIDR {s:?}: IPv4 mask bits must be <= 32"
                ));
            }
            let host = u32::MAX.checked_shr(bits).unwrap_or(0);
            let lo = a & !host;
            Ok(IpRange {
                v6: false,
                lo: u128::from(lo),
                hi: u128::from(lo | host),
            })
        }
        IpVal::V6(a) => {
            if bits > 128 {
                return Err(format!(
                    "malformed CIDR {s:?}: IPv6 mask bits must be <= 128"
                ));
            }
            let host = u128::MAX.checked_shr(bits).unwrap_or(0);
            let lo = a & !host;
            Ok(IpRange {
                v6: true,
                lo,
                hi: lo | host,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(parse_ip("10.0.0.1"), Some(IpVal::V4(0x0a00_0001)));
        assert_eq!(parse_ip("10.0.0"), None);
        assert_eq!(parse_ip("256.0.0.1"), None);
        assert_eq!(parse_ip("example.com"), None);
        assert_eq!(parse_ip("::1"), Some(IpVal::V6(1)));
        assert_eq!(parse_ip("2001:DB8::1"), parse_ip("2001:0db8:0:0:0:0:0:1"));
        assert_eq!(parse_ip("::ffff:1.2.3.4"), None);
        assert_eq!(parse_ip("1:2:3"), None);
    }

    #[test]
    fn cidr() {
        let r = parse_cidr("10.0.0.0/24").unwrap();
        assert!(r.contains(IpVal::V4(0x0a00_0000)));
        assert!(r.contains(IpVal::V4(0x0a00_00ff)));
        assert!(!r.contains(IpVal::V4(0x0a00_0100)));
        assert!(!r.contains(IpVal::V6(0x0a00_0001)));
        let r = parse_cidr("10.0.0.77/24").unwrap();
        assert_eq!(r.lo, 0x0a00_0000);
        let r = parse_cidr("2001:db8::/32").unwrap();
        assert!(r.contains(parse_ip("2001:db8:ffff::1").unwrap()));
        assert!(!r.contains(parse_ip("2001:db9::1").unwrap()));
        assert!(
            parse_cidr("0.0.0.0/0")
                .unwrap()
                .contains(IpVal::V4(u32::MAX))
        );
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "x/8",
            "10.0.0.0/8/8",
            "::/129",
            "10.0.0.0/",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }
}
