//! Workload generators shared by the criterion bench (`benches/pattern.rs`) and
//! the callgrind driver (`examples/profile.rs`): ~1 KiB EventBridge-style
//! envelopes and rule sets.

#![allow(dead_code)]

use signalbox::pattern::{Matcher, Pattern};

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const DETAIL_TYPES: &[&str] = &[
    "Order Placed",
    "Order Shipped",
    "Order Cancelled",
    "Payment Captured",
    "Payment Failed",
    "Refund Issued",
    "Customer Created",
    "Customer Updated",
    "Cart Abandoned",
    "Inventory Low",
];
const STATUSES: &[&str] = &[
    "PLACED",
    "SHIPPED",
    "CANCELLED",
    "FAILED",
    "PENDING",
    "DONE",
];
const TIERS: &[&str] = &["gold", "silver", "bronze", "platinum"];
const COUNTRIES: &[&str] = &["DE", "FR", "US", "GB", "JP", "BR", "IN", "ES"];
const CITIES: &[&str] = &[
    "Berlin", "Paris", "Boston", "London", "Tokyo", "Madrid", "Bonn",
];
const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-south-1",
];
const CATS: &[&str] = &["books", "toys", "games", "food", "garden"];

pub fn event(r: &mut Rng, sources: u64) -> String {
    let pick = |r: &mut Rng, xs: &[&str]| xs[r.below(xs.len() as u64) as usize].to_string();
    let items: Vec<String> = (0..1 + r.below(3))
        .map(|_| {
            format!(
                r#"{{"sku":"SKU-{}","qty":{},"price":{}.{:02},"category":"{}"}}"#,
                1000 + r.below(200),
                1 + r.below(5),
                r.below(100),
                r.below(100),
                pick(r, CATS)
            )
        })
        .collect();
    format!(
        r#"{{"version":"0","id":"{:08x}-b491-4cf7-a9f1-bf3703467718","detail-type":"{}","source":"com.shop.s{}","account":"{}","time":"2024-05-{:02}T12:34:56Z","region":"{}","resources":["arn:aws:ecs:eu-west-1:123456789012:task/{:x}"],"detail":{{"orderId":"o-{}","status":"{}","channel":"{}","total":{}.{:02},"currency":"EUR","sourceIp":"10.{}.{}.{}","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36","customer":{{"id":"c-{}","tier":"{}","email":"user{}@{}","country":"{}","newsletter":{}}},"items":[{}],"shipping":{{"method":"{}","address":{{"city":"{}","zip":"{:05}","street":"Main Street {}"}}}},"tags":["new","promo","t{}"],"metadata":{{"traceId":"{:016x}{:016x}","spanId":"{:016x}","retries":{},"debug":null,"build":"2024.05.01-{}","notes":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}}}}}}"#,
        r.next() as u32,
        pick(r, DETAIL_TYPES),
        r.below(sources),
        100_000_000_000u64 + r.below(20),
        1 + r.below(28),
        pick(r, REGIONS),
        r.next(),
        r.below(1_000_000),
        pick(r, STATUSES),
        if r.below(2) == 0 { "web" } else { "app" },
        r.below(1000),
        r.below(100),
        r.below(4),
        r.below(256),
        r.below(256),
        r.below(10_000),
        pick(r, TIERS),
        r.below(1000),
        if r.below(3) == 0 {
            "Example.COM"
        } else {
            "mail.test"
        },
        pick(r, COUNTRIES),
        r.below(2) == 0,
        items.join(","),
        if r.below(2) == 0 {
            "express"
        } else {
            "standard"
        },
        pick(r, CITIES),
        r.below(99_999),
        r.below(200),
        r.below(10),
        r.next(),
        r.next(),
        r.next(),
        r.below(3),
        r.below(100),
    )
}

/// Number of distinct `source` values for a bus with `n` rules (a bus with many
/// rules serves many applications).
pub fn sources(n: u64) -> u64 {
    (n / 20).max(50)
}

/// Mixed-operator rules over the envelope.
pub fn rule(r: &mut Rng, i: u64, sources: u64) -> String {
    let pick = |r: &mut Rng, xs: &[&str]| xs[r.below(xs.len() as u64) as usize].to_string();
    let src = r.below(sources);
    match i % 10 {
        0 => format!(
            r#"{{"source":["com.shop.s{src}"],"detail-type":["{}"]}}"#,
            pick(r, DETAIL_TYPES)
        ),
        1 => format!(
            r#"{{"source":["com.shop.s{src}"],"detail":{{"status":[{{"anything-but":["{}","{}"]}}]}}}}"#,
            pick(r, STATUSES),
            pick(r, STATUSES)
        ),
        2 => {
            let lo = r.below(900);
            format!(
                r#"{{"detail-type":[{{"prefix":"{}"}}],"detail":{{"total":[{{"numeric":[">",{lo},"<=",{}]}}]}}}}"#,
                &pick(r, DETAIL_TYPES)[..5],
                lo + 1 + r.below(100)
            )
        }
        3 => format!(
            r#"{{"source":["com.shop.s{src}"],"detail":{{"customer":{{"email":[{{"suffix":"@example.com"}}],"tier":[{{"equals-ignore-case":"{}"}}]}}}}}}"#,
            pick(r, TIERS).to_uppercase()
        ),
        4 => format!(
            r#"{{"source":["com.shop.s{src}"],"detail":{{"sourceIp":[{{"cidr":"10.{}.0.0/16"}}]}}}}"#,
            r.below(100)
        ),
        5 => format!(
            r#"{{"detail":{{"items":{{"sku":[{{"prefix":"SKU-1{}"}}],"qty":[{{"numeric":[">=",{}]}}]}}}},"region":["{}"]}}"#,
            r.below(20),
            1 + r.below(5),
            pick(r, REGIONS)
        ),
        6 => format!(
            r#"{{"source":["com.shop.s{src}"],"detail":{{"customer":{{"newsletter":[{{"exists":true}}]}},"coupon":[{{"exists":false}}],"channel":["{}"]}}}}"#,
            if r.below(2) == 0 { "web" } else { "app" }
        ),
        7 => format!(
            r#"{{"region":[{{"prefix":"{}"}}],"detail":{{"shipping":{{"address":{{"city":[{{"wildcard":"{}*"}}]}}}},"customer":{{"id":["c-{}"]}}}}}}"#,
            &pick(r, REGIONS)[..3],
            &pick(r, CITIES)[..2],
            r.below(10_000)
        ),
        8 => format!(
            r#"{{"source":["com.shop.s{src}"],"$or":[{{"detail":{{"customer":{{"country":["{}"]}}}}}},{{"detail":{{"channel":["app"],"total":[{{"numeric":["<",{}]}}]}}}}]}}"#,
            pick(r, COUNTRIES),
            1 + r.below(1000)
        ),
        _ => format!(
            r#"{{"account":["{}"],"detail":{{"customer":{{"tier":[{{"anything-but":{{"prefix":"{}"}}}}]}},"tags":["t{}"]}}}}"#,
            100_000_000_000u64 + r.below(20),
            &pick(r, TIERS)[..1],
            r.below(10)
        ),
    }
}

/// EventBridge-shaped rules: almost every rule belongs to one application and
/// selects on `source` (and nearly always `detail-type`), some add one or two
/// content conditions of the various operators; 1% are cross-application rules
/// without `source` (audit, alerting, high-value orders). This follows the
/// EventBridge guidance that most patterns only specify `source` and
/// `detail-type`, and stays under EventBridge's fixed quota of 30 wildcard
/// rules per bus.
pub fn rule_realistic(r: &mut Rng, i: u64, sources: u64) -> String {
    let pick = |r: &mut Rng, xs: &[&str]| xs[r.below(xs.len() as u64) as usize].to_string();
    let src = r.below(sources);
    let dt = pick(r, DETAIL_TYPES);
    let head = format!(r#""source":["com.shop.s{src}"],"detail-type":["{dt}"]"#);
    match i % 100 {
        // source + detail-type (a quarter of them list two detail types)
        0..=39 => {
            if r.below(4) == 0 {
                let dt2 = pick(r, DETAIL_TYPES);
                format!(r#"{{"source":["com.shop.s{src}"],"detail-type":["{dt}","{dt2}"]}}"#)
            } else {
                format!("{{{head}}}")
            }
        }
        // + one exact content value
        40..=59 => match r.below(5) {
            0 => format!(
                r#"{{{head},"detail":{{"status":["{}"]}}}}"#,
                pick(r, STATUSES)
            ),
            1 => format!(
                r#"{{{head},"detail":{{"channel":["{}"]}}}}"#,
                if r.below(2) == 0 { "web" } else { "app" }
            ),
            2 => format!(
                r#"{{{head},"detail":{{"customer":{{"tier":["{}"]}}}}}}"#,
                pick(r, TIERS)
            ),
            3 => format!(
                r#"{{{head},"detail":{{"customer":{{"country":["{}","{}"]}}}}}}"#,
                pick(r, COUNTRIES),
                pick(r, COUNTRIES)
            ),
            _ => format!(
                r#"{{{head},"detail":{{"shipping":{{"method":["{}"]}}}}}}"#,
                if r.below(2) == 0 {
                    "express"
                } else {
                    "standard"
                }
            ),
        },
        // + a numeric range, suffix or prefix
        60..=69 => match r.below(3) {
            0 => format!(
                r#"{{{head},"detail":{{"total":[{{"numeric":[">",{}]}}]}}}}"#,
                r.below(1000)
            ),
            1 => format!(
                r#"{{{head},"detail":{{"customer":{{"email":[{{"suffix":"@example.com"}}]}}}}}}"#
            ),
            _ => format!(
                r#"{{{head},"detail":{{"orderId":[{{"prefix":"o-{}"}}]}}}}"#,
                r.below(10)
            ),
        },
        // + anything-but / exists
        70..=79 => match r.below(2) {
            0 => format!(
                r#"{{{head},"detail":{{"status":[{{"anything-but":["{}","{}"]}}]}}}}"#,
                pick(r, STATUSES),
                pick(r, STATUSES)
            ),
            _ => format!(
                r#"{{{head},"detail":{{"coupon":[{{"exists":false}}],"customer":{{"newsletter":[true]}}}}}}"#
            ),
        },
        // + $or of two content conditions
        80..=89 => format!(
            r#"{{{head},"$or":[{{"detail":{{"customer":{{"country":["{}"]}}}}}},{{"detail":{{"channel":["app"],"total":[{{"numeric":["<",{}]}}]}}}}]}}"#,
            pick(r, COUNTRIES),
            1 + r.below(1000)
        ),
        // + a condition on two fields of the same array element
        90..=95 => format!(
            r#"{{{head},"detail":{{"items":{{"sku":[{{"prefix":"SKU-1{}"}}],"qty":[{{"numeric":[">=",{}]}}]}}}}}}"#,
            r.below(20),
            1 + r.below(5)
        ),
        // + cidr (wildcards are capped at 30 rules per bus by EventBridge)
        96..=98 => {
            if i < 3000 && i % 300 == 97 {
                format!(
                    r#"{{{head},"detail":{{"shipping":{{"address":{{"city":[{{"wildcard":"{}*"}}]}}}}}}}}"#,
                    &pick(r, CITIES)[..2]
                )
            } else {
                format!(
                    r#"{{{head},"detail":{{"sourceIp":[{{"cidr":"10.{}.0.0/16"}}]}}}}"#,
                    r.below(100)
                )
            }
        }
        // cross-application rules (no source)
        _ => match (i / 100) % 4 {
            0 => format!(
                r#"{{"account":["{}"],"detail-type":["{dt}"]}}"#,
                100_000_000_000u64 + r.below(20)
            ),
            1 => format!(
                r#"{{"region":["{}"],"detail-type":[{{"prefix":"Order"}}]}}"#,
                pick(r, REGIONS)
            ),
            2 => r#"{"detail-type":["Order Placed"],"detail":{"total":[{"numeric":[">",900]}]}}"#
                .to_string(),
            _ => r#"{"detail-type":["Payment Failed"]}"#.to_string(),
        },
    }
}

/// Which rule generator a benchmark uses.
#[derive(Clone, Copy, Debug)]
pub enum Mix {
    /// [`rule`]: ten rule shapes in equal parts; three of them are broad
    /// (about 10% of rules produce ~200 candidates per event at 10,000 rules).
    Broad,
    /// [`rule_realistic`].
    Realistic,
}

pub fn rule_of(mix: Mix, r: &mut Rng, i: u64, sources: u64) -> String {
    match mix {
        Mix::Broad => rule(r, i, sources),
        Mix::Realistic => rule_realistic(r, i, sources),
    }
}

pub fn build_mix(n: u64, mix: Mix) -> Matcher {
    let mut r = Rng(n * 7919 + 1);
    let mut m = Matcher::new();
    for i in 0..n {
        let p = Pattern::parse(&rule_of(mix, &mut r, i, sources(n))).expect("bench rule");
        m.add(i as u32, &p);
    }
    m
}

pub fn events(n: u64) -> Vec<String> {
    let mut r = Rng(99);
    (0..256).map(|_| event(&mut r, sources(n))).collect()
}
