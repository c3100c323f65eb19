//! Property tests for the scanner's fast paths: 16-byte string scanning (every
//! byte value, escapes, non-ASCII), container skipping with escapes at chunk
//! boundaries, keys read from chunks (long keys, keys differing only in the
//! middle, dotted and escaped keys), byte-string maps, batch evaluation of lazy
//! conditions and the flat array-consistency check — each against an obvious
//! reference (a naive loop, or the reference evaluator on serde's parse).

use super::json::{StrInfo, string_end, string_scan};
use super::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Obvious byte-by-byte version of `string_scan`.
fn naive_scan(b: &[u8], mut pos: usize) -> Option<StrInfo> {
    let (mut esc, mut non_ascii) = (false, false);
    loop {
        match *b.get(pos)? {
            b'"' => {
                return Some(StrInfo {
                    end: pos,
                    esc,
                    non_ascii,
                });
            }
            b'\\' => {
                esc = true;
                pos += 2;
                if pos > b.len() {
                    return None;
                }
            }
            c => {
                non_ascii |= c >= 0x80;
                pos += 1;
            }
        }
    }
}

/// Bytes biased towards the ones the scanner cares about.
fn scan_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => prop::sample::select(b"\"\\[]{}:,. az\x7f\x80\xc3\xa9\xff\x00\x1f".to_vec()),
            1 => any::<u8>(),
        ],
        0..90,
    )
}

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

const FRAGMENTS: &[&str] = &[
    "a",
    "x",
    "Ab",
    "é",
    "É",
    "😀",
    "中文",
    "\"",
    "\\",
    "/",
    "\n",
    "\t",
    "\u{1}",
    "\u{7f}",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ".",
    " ",
    "*",
    "0123456789abcdef",
    "ς",
    "ß",
    "İ",
];

fn wild_string(g: &mut Gen) -> String {
    let n = g.below(12);
    let mut s: String = (0..n).map(|_| *g.pick(FRAGMENTS)).collect();
    if g.chance(10) {
        // long enough to span several chunks
        s.push_str(&"lorem ipsum ".repeat(1 + g.below(6)));
    }
    s
}

const KEYS: &[&str] = &[
    "a",
    "b",
    "source",
    "k.dot",
    "é",
    "q\"uote",
    "back\\slash",
    "long_key_number_one_xx",
    "long_key_number_two_xx",
    "sixteen_bytes_ab",
    "fifteen_bytes_a",
    "",
];

fn wild_scalar(g: &mut Gen) -> Value {
    match g.below(7) {
        0..=3 => Value::String(wild_string(g)),
        4 => json!(*g.pick(&[0.5, 1.0, -3.0, 300.0, 1e10, 12.25])),
        5 => json!(g.chance(50)),
        _ => Value::Null,
    }
}

fn wild_value(g: &mut Gen, depth: usize) -> Value {
    if depth > 3 || g.chance(45) {
        return wild_scalar(g);
    }
    if g.chance(35) {
        let n = g.below(4);
        return Value::Array((0..n).map(|_| wild_value(g, depth + 1)).collect());
    }
    let mut m = Map::new();
    for _ in 0..g.below(5) {
        m.insert(g.pick(KEYS).to_string(), wild_value(g, depth + 1));
    }
    Value::Object(m)
}

/// JSON text for `v` with randomly chosen escape forms and whitespace.
fn write_json(g: &mut Gen, v: &Value, out: &mut String) {
    let ws = |g: &mut Gen, out: &mut String| {
        if g.chance(15) {
            const WS: [&str; 4] = [" ", "\n  ", "\t", "\r\n"];
            out.push_str(WS[g.below(WS.len())]);
        }
    };
    match v {
        Value::String(s) => write_str(g, s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(g, out);
                write_json(g, x, out);
                ws(g, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(g, out);
                write_str(g, k, out);
                ws(g, out);
                out.push(':');
                ws(g, out);
                write_json(g, x, out);
            }
            ws(g, out);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_str(g: &mut Gen, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            '/' if g.chance(50) => out.push_str("\\/"),
            c if g.chance(15) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// (dotted path, value) of every leaf, as event-ruler flattens documents.
fn leaves(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(x, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| leaves(x, path, out)),
        _ if !path.is_empty() => out.push((path.to_string(), v.clone())),
        _ => {}
    }
}

fn prefix_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn suffix_chars(s: &str, n: usize) -> String {
    let v: Vec<char> = s.chars().collect();
    v[v.len().saturating_sub(n)..].iter().collect()
}

/// A condition value list for a leaf value `v` (often matching it).
fn op_for(g: &mut Gen, v: &Value) -> Value {
    match v {
        Value::String(s) => match g.below(9) {
            0 | 1 => json!(s),
            2 => json!({"prefix": prefix_chars(s, g.below(4))}),
            3 => json!({"suffix": suffix_chars(s, 1 + g.below(3))}),
            4 => json!({"anything-but": [s]}),
            5 => json!({"equals-ignore-case": s.to_uppercase()}),
            6 => json!({"exists": g.chance(70)}),
            7 => json!({"contains": prefix_chars(&suffix_chars(s, 3), 2)}),
            _ => {
                let lit: String = suffix_chars(s, 2)
                    .chars()
                    .filter(|c| *c != '*' && *c != '\\')
                    .collect();
                json!({"wildcard": format!("*{lit}")})
            }
        },
        Value::Number(n) => match g.below(3) {
            0 => json!(n),
            1 => json!({"numeric": [">=", n]}),
            _ => json!({"anything-but": [n]}),
        },
        other => match g.below(2) {
            0 => json!(other),
            _ => json!({"exists": true}),
        },
    }
}

/// A pattern over paths that occur in `doc` (paths are given in dotted form,
/// which event-ruler treats like nested objects).
fn pattern_for(g: &mut Gen, ls: &[(String, Value)]) -> Option<Pattern> {
    if ls.is_empty() {
        return None;
    }
    let mut obj = Map::new();
    for _ in 0..1 + g.below(3) {
        let (p, v) = g.pick(ls).clone();
        let v = if g.chance(20) { wild_scalar(g) } else { v };
        let op = op_for(g, &v);
        obj.insert(p, Value::Array(vec![op]));
    }
    Pattern::from_value(&Value::Object(obj)).ok()
}

fn sorted(mut v: Vec<RuleId>) -> Vec<RuleId> {
    v.sort_unstable();
    v.dedup();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn string_scan_agrees_with_naive(b in scan_bytes(), start in 0usize..8) {
        let start = start.min(b.len());
        prop_assert_eq!(string_scan(&b, start).ok(), naive_scan(&b, start));
        prop_assert_eq!(
            string_end(&b, start).ok(),
            naive_scan(&b, start).map(|i| (i.end, i.esc))
        );
    }

    /// Skipped strings may hold any bytes (escaped where JSON requires) and
    /// escapes may fall on any chunk boundary; the fields after them are found.
    #[test]
    fn skipping_any_string_content(
        content in proptest::collection::vec(any::<u8>(), 0..70),
        pad in 0usize..20,
        escapes in proptest::collection::vec(0usize..70, 0..6),
    ) {
        let mut s = Vec::new();
        for (i, &c) in content.iter().enumerate() {
            if escapes.contains(&i) {
                s.extend_from_slice(br"\\");
            }
            match c {
                b'"' => s.extend_from_slice(br#"\""#),
                b'\\' => s.extend_from_slice(br"\\"),
                c => s.push(c),
            }
        }
        let pad = "p".repeat(pad);
        let mut doc = Vec::new();
        doc.extend_from_slice(format!(r#"{{"pad":"{pad}","skip":{{"s":""#).as_bytes());
        doc.extend_from_slice(&s);
        doc.extend_from_slice(br#"","l":[""#);
        doc.extend_from_slice(&s);
        doc.extend_from_slice(br#"",{"t":[""#);
        doc.extend_from_slice(&s);
        doc.extend_from_slice(br#""]}"#);
        doc.extend_from_slice(br#",{"u":""#);
        doc.extend_from_slice(&s);
        doc.extend_from_slice(br#""}]},"a":"x"}"#);
        let mut m = Matcher::new();
        m.add(1, &Pattern::parse(r#"{"a": ["x"]}"#).unwrap());
        let mut out = Vec::new();
        m.matches_json(&doc, &mut out).unwrap();
        prop_assert_eq!(out, vec![1]);
    }

    /// Random documents with wild strings and keys (escaped in random ways,
    /// random whitespace) against random rules over their own paths: the
    /// matcher agrees with the reference evaluator on serde's parse.
    #[test]
    fn wild_documents_agree_with_reference(seed in any::<u64>()) {
        let mut g = Gen(seed);
        let mut docs = Vec::new();
        for _ in 0..6 {
            let mut m = Map::new();
            for _ in 0..1 + g.below(5) {
                m.insert(g.pick(KEYS).to_string(), wild_value(&mut g, 0));
            }
            docs.push(Value::Object(m));
        }
        let mut ls = Vec::new();
        for d in &docs {
            leaves(d, "", &mut ls);
        }
        let mut pats = Vec::new();
        let mut m = Matcher::new();
        for id in 0..40u32 {
            if let Some(p) = pattern_for(&mut g, &ls) {
                m.add(id, &p);
                pats.push((id, p));
            }
        }
        let mut scratch = MatchScratch::new();
        for d in &docs {
            let mut text = String::new();
            write_json(&mut g, d, &mut text);
            let parsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&parsed, d);
            let want: Vec<RuleId> = pats
                .iter()
                .filter(|(_, p)| reference_matches(p, d))
                .map(|(id, _)| *id)
                .collect();
            let mut got = Vec::new();
            m.matches_json_with(&mut scratch, text.as_bytes(), &mut got).unwrap();
            prop_assert_eq!(sorted(got), want.clone(), "{}", text);
            let mut got_v = Vec::new();
            m.matches_value(d, &mut got_v);
            prop_assert_eq!(sorted(got_v), want);
        }
    }
}

/// Many rules with one shared pivot and many lazily evaluated conditions on
/// the same fields, so that batch evaluation kicks in (and sometimes not).
#[test]
fn batch_evaluation_agrees_with_reference() {
    let mut g = Gen(11);
    let mut m = Matcher::new();
    let mut pats = Vec::new();
    for id in 0..300u32 {
        let p = json!({
            "pivot": [format!("v{}", id % 3)],
            "f": [match id % 5 {
                0 => json!({"prefix": format!("s{}", g.below(12))}),
                1 => json!(format!("s{}x", g.below(12))),
                2 => json!({"suffix": format!("{}x", g.below(12))}),
                3 => json!({"equals-ignore-case": format!("S{}X", g.below(12))}),
                _ => json!({"wildcard": format!("s{}*", g.below(12))}),
            }],
            "n": [{"numeric": [">=", g.below(10)]}],
        });
        let p = Pattern::from_value(&p).unwrap();
        m.add(id, &p);
        pats.push((id, p));
        if id % 7 == 3 {
            // removal and re-adding keeps the batch indexes consistent
            m.remove(id - 1);
            m.add(id - 1, &pats[(id - 1) as usize].1);
        }
    }
    for i in 0..200 {
        let f: Vec<Value> = (0..1 + g.below(3))
            .map(|_| json!(format!("s{}x", g.below(14))))
            .collect();
        let ev = json!({"pivot": format!("v{}", i % 4), "f": f, "n": g.below(12)});
        let want: Vec<RuleId> = pats
            .iter()
            .filter(|(_, p)| reference_matches(p, &ev))
            .map(|(id, _)| *id)
            .collect();
        let mut got = Vec::new();
        m.matches_json(ev.to_string().as_bytes(), &mut got).unwrap();
        assert_eq!(sorted(got), want, "{ev}");
    }
}

/// Array consistency on the shapes the flat fast path handles and the ones it
/// hands over to the general search (long arrays, several arrays, nesting).
#[test]
fn array_shapes_agree_with_reference() {
    let rules = [
        json!({"items": {"a": [1], "b": ["x"]}}),
        json!({"items": {"a": [{"numeric": [">", 0]}], "b": [{"prefix": "y"}]}, "other": {"c": [true]}}),
        json!({"items": {"a": [2]}, "other": {"c": [true]}}),
        json!({"items": {"a": [{"exists": true}], "b": [{"exists": false}]}}),
    ];
    let mut m = Matcher::new();
    let pats: Vec<Pattern> = rules
        .iter()
        .map(|r| Pattern::from_value(r).unwrap())
        .collect();
    for (i, p) in pats.iter().enumerate() {
        m.add(i as u32, p);
    }
    let mut g = Gen(5);
    for _ in 0..300 {
        let len = *g.pick(&[0usize, 1, 2, 5, 63, 64, 65, 100]);
        let item = |g: &mut Gen| {
            let mut o = Map::new();
            if g.chance(60) {
                o.insert("a".into(), json!(g.below(3)));
            }
            if g.chance(60) {
                o.insert("b".into(), json!(*g.pick(&["x", "y", "yz"])));
            }
            Value::Object(o)
        };
        let mut items: Vec<Value> = (0..len).map(|_| item(&mut g)).collect();
        if g.chance(20) && !items.is_empty() {
            // a nested array element
            let k = g.below(items.len());
            items[k] = Value::Array(vec![item(&mut g), item(&mut g)]);
        }
        let other = if g.chance(50) {
            json!([{"c": true}, {"c": false}])
        } else {
            json!({"c": g.chance(50)})
        };
        let ev = json!({"items": items, "other": other});
        let want: Vec<RuleId> = pats
            .iter()
            .enumerate()
            .filter(|(_, p)| reference_matches(p, &ev))
            .map(|(i, _)| i as u32)
            .collect();
        let mut got = Vec::new();
        m.matches_json(ev.to_string().as_bytes(), &mut got).unwrap();
        assert_eq!(sorted(got), want, "{ev}");
    }
}
