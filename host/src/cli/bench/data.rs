//! What the load generators put in their events' `data`.
//!
//! Storage compresses (the log's RocksDB files are LZ4), so how compressible
//! the payload is changes what a storage benchmark measures. A run of one
//! letter shrinks about 14× and flatters any store that compresses; random
//! letters do not shrink at all; order documents with varied ids, names and
//! amounts sit in between, like the JSON users send. Each document of a run
//! is distinct (seeded by its position), because a block of the store holds
//! several consecutive events and identical neighbours would compress
//! against each other.

use std::fmt::Write as _;

/// The kind of JSON document each event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DataKind {
    /// `{"pad":"xxx…"}`: one letter repeated (LZ4 shrinks it about 14×).
    Padded,
    /// Order documents: varied ids, customer, items and amounts, with a note
    /// of dictionary words filling them to size (LZ4 shrinks them about 2×;
    /// below about 350 bytes there is no room for an order, and the data is
    /// random letters instead).
    Orders,
    /// `{"pad":"…"}` with random letters and digits (incompressible for LZ4).
    Random,
}

impl DataKind {
    /// The name used on the command line and in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DataKind::Padded => "padded",
            DataKind::Orders => "orders",
            DataKind::Random => "random",
        }
    }
}

/// `n` distinct JSON documents of exactly `bytes` bytes each (at least 11).
pub(crate) fn documents(kind: DataKind, bytes: usize, n: usize) -> Vec<String> {
    let bytes = bytes.max(11);
    (0..n.max(1))
        .map(|i| {
            let mut rng = fastrand::Rng::with_seed(0x5167_6e61_6c62_6f78 ^ i as u64);
            match kind {
                DataKind::Padded => padded(bytes, |_| 'x'),
                DataKind::Random => padded(bytes, |_| rng.alphanumeric()),
                DataKind::Orders => order(&mut rng, bytes),
            }
        })
        .collect()
}

/// `{"pad":"…"}` of `bytes` bytes, the letters from `letter`.
fn padded(bytes: usize, mut letter: impl FnMut(usize) -> char) -> String {
    let fill = bytes - 10;
    let mut s = String::with_capacity(bytes);
    s.push_str(r#"{"pad":""#);
    s.extend((0..fill).map(&mut letter));
    s.push_str(r#""}"#);
    s
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie",
    "Margaret", "Niklaus", "Sophie", "Tim", "Vint", "Yukihiro",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Wilson",
    "Berners-Lee",
    "Cerf",
    "Matsumoto",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example", "corp.example"];
const PRODUCTS: &[&str] = &[
    "desk lamp",
    "office chair",
    "notebook",
    "USB-C cable",
    "monitor arm",
    "keyboard",
    "coffee beans",
    "water bottle",
    "backpack",
    "headphones",
];
const WORDS: &[&str] = &[
    "please",
    "deliver",
    "to",
    "the",
    "back",
    "door",
    "after",
    "five",
    "gift",
    "wrap",
    "call",
    "on",
    "arrival",
    "leave",
    "with",
    "neighbour",
    "fragile",
    "handle",
    "care",
    "thanks",
];

/// An order document of exactly `bytes` bytes, or random padding when
/// `bytes` is too small for an order.
fn order(rng: &mut fastrand::Rng, bytes: usize) -> String {
    let (first, last) = (pick(rng, FIRST), pick(rng, LAST));
    let mut s = String::with_capacity(bytes + 128);
    let currency = pick(rng, &["EUR", "USD", "GBP"]);
    let _ = write!(
        s,
        r#"{{"orderId":"ord-{:016x}","placedAt":"2026-{:02}-{:02}T{:02}:{:02}:{:02}Z","customer":{{"id":"c-{:08}","name":"{first} {last}","email":"{}.{}@{}","tier":"{}"}},"currency":"{currency}","items":["#,
        rng.u64(..),
        rng.u32(1..13),
        rng.u32(1..29),
        rng.u32(0..24),
        rng.u32(0..60),
        rng.u32(0..60),
        rng.u32(0..100_000_000),
        first.to_lowercase(),
        last.to_lowercase(),
        pick(rng, DOMAINS),
        pick(rng, &["gold", "silver", "bronze"]),
    );
    let mut total_cents = 0u64;
    let mut item = String::new();
    let mut items = 0;
    // Room kept for the total, the note's frame and at least a few words.
    let tail = r#"],"total":000000000000.00,"note":"        "}"#.len();
    loop {
        item.clear();
        let (qty, cents) = (rng.u64(1..6), rng.u64(199..99_999));
        let _ = write!(
            item,
            r#"{}{{"sku":"SKU-{:05}","name":"{}","qty":{qty},"price":{}.{:02}}}"#,
            if items == 0 { "" } else { "," },
            rng.u32(0..100_000),
            pick(rng, PRODUCTS),
            cents / 100,
            cents % 100,
        );
        if s.len() + item.len() + tail > bytes {
            break;
        }
        s.push_str(&item);
        total_cents += qty * cents;
        items += 1;
    }
    if items == 0 {
        return padded(bytes, |_| rng.alphanumeric());
    }
    let _ = write!(
        s,
        r#"],"total":{}.{:02},"note":""#,
        total_cents / 100,
        total_cents % 100
    );
    // Words up to the size, the last one cut to fit.
    let end = bytes - 2;
    while s.len() < end {
        let w = pick(rng, WORDS);
        let room = end - s.len();
        if room > w.len() {
            s.push_str(w);
            s.push(' ');
        } else {
            s.push_str(&w[..room]);
        }
    }
    s.push_str(r#""}"#);
    s
}

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_valid_json_of_the_asked_size_and_distinct() {
        for kind in [DataKind::Padded, DataKind::Orders, DataKind::Random] {
            for bytes in [11, 40, 120, 930, 1024, 4096] {
                let docs = documents(kind, bytes, 5);
                assert_eq!(docs.len(), 5);
                for d in &docs {
                    assert_eq!(d.len(), bytes, "{kind:?} {bytes}: {d}");
                    serde_json::from_str::<serde_json::Value>(d)
                        .unwrap_or_else(|e| panic!("{kind:?} {bytes}: {e}: {d}"));
                }
                // (11 bytes leave room for one letter)
                if kind != DataKind::Padded && bytes >= 40 {
                    assert_ne!(docs[0], docs[1], "{kind:?} {bytes}");
                }
            }
        }
        for bytes in [350, 512, 1024] {
            for doc in documents(DataKind::Orders, bytes, 20) {
                let order: serde_json::Value = serde_json::from_str(&doc).unwrap();
                assert!(order["items"].as_array().is_some_and(|a| !a.is_empty()));
                assert!(order["customer"]["email"].as_str().unwrap().contains('@'));
            }
        }
    }
}
