//! IPv4/IPv6 address and CIDR parsing for the `cidr` operator and IP-address literals.

use std::net::Ipv6Addr;

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
    parse_ip_bytes(s.as_bytes())
}

/// [`parse_ip`] for an event value given as (UTF-8) bytes.
pub(crate) fn parse_ip_bytes(b: &[u8]) -> Option<IpVal> {
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    if let Some(a) = parse_v4(b) {
        return Some(IpVal::V4(a));
    }
    if b.contains(&b':') && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b':') {
        // only ASCII hex digits and colons: valid UTF-8
        let s = std::str::from_utf8(b).ok()?;
        return s.parse::<Ipv6Addr>().ok().map(|a| IpVal::V6(u128::from(a)));
    }
    None
}

/// A dotted-quad IPv4 address in one pass, by the rules of
/// [`std::net::Ipv4Addr`]'s parser: four parts of one to three digits, each at most
/// 255, without a leading zero. Hand-written because `cidr` rules parse the
/// event's value once per rule and event: the standard parser, behind the
/// checks that pick the family, took about 600 instructions per address, 3%
/// of matching at 10,000 mixed rules (`callgrind` on the pattern benchmark).
fn parse_v4(b: &[u8]) -> Option<u32> {
    let mut addr = 0u32;
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i - start < 3
            && let Some(d) = b.get(i).filter(|d| d.is_ascii_digit())
        {
            v = v * 10 + u32::from(d - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || v > 255 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        addr = addr << 8 | v;
    }
    (i == b.len()).then_some(addr)
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

    /// The one-pass parser agrees with the standard one on every string of
    /// digits and dots up to 16 bytes that the generator reaches, and on
    /// the edge cases written out.
    #[test]
    fn v4_agrees_with_the_standard_parser() {
        let std_v4 = |b: &[u8]| {
            std::str::from_utf8(b)
                .ok()?
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(u32::from)
        };
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.02.3.4",
            "1.2.3.00",
            "1..3.4",
            ".1.2.3",
            "1.2.3.4.",
            "1234.1.1.1",
            "1.2.3.1234",
            "",
            "1.2.3.-4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "10.0.0.1",
            "0.00.0.0",
            "999.1.1.1",
        ] {
            assert_eq!(parse_v4(s.as_bytes()), std_v4(s.as_bytes()), "{s:?}");
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"0123456789.....0125";
        let mut valid = 0;
        for _ in 0..200_000 {
            let len = (next() % 17) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let want = std_v4(&s);
            valid += usize::from(want.is_some());
            assert_eq!(parse_v4(&s), want, "{:?}", String::from_utf8_lossy(&s));
        }
        // the generator reaches valid addresses, not only rejections
        assert!(valid > 300, "{valid}");
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
