//! The matcher's hand-written JSON scanner: arbitrary documents against a
//! fixed rule set of every operator must never panic, and when the input is
//! valid JSON the compiled matcher agrees with the reference evaluator.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use signalbox::pattern::{Matcher, Pattern, reference_matches};

const RULES: &[&str] = &[
    r#"{"a": ["x", 1, true, null]}"#,
    r#"{"a": [{"prefix": "p"}], "b": {"c": [{"suffix": "s"}]}}"#,
    r#"{"a": [{"anything-but": {"prefix": "z"}}], "n": [{"numeric": [">", 0, "<=", 10]}]}"#,
    r#"{"a": [{"exists": false}], "b": [{"exists": true}]}"#,
    r#"{"ip": [{"cidr": "10.0.0.0/8"}, {"cidr": "2001:db8::/32"}]}"#,
    r#"{"w": [{"wildcard": "a*b\\*c"}], "e": [{"equals-ignore-case": "ÄbC"}]}"#,
    r#"{"arr": {"k": ["v"], "n": [2]}}"#,
    r#"{"$or": [{"a": ["x"]}, {"b": {"c": [{"contains": "needle"}]}}]}"#,
    r#"{"r": [{"regex": "[a-z]+-[0-9]+"}]}"#,
];

fn setup() -> &'static (Matcher, Vec<Pattern>) {
    static M: OnceLock<(Matcher, Vec<Pattern>)> = OnceLock::new();
    M.get_or_init(|| {
        let mut m = Matcher::new();
        let mut ps = Vec::new();
        for (i, r) in RULES.iter().enumerate() {
            let p = Pattern::parse(r).expect("fixed rule");
            m.add(i as u32, &p);
            ps.push(p);
        }
        (m, ps)
    })
}

fuzz_target!(|data: &[u8]| {
    let (m, ps) = setup();
    let mut out = Vec::new();
    let res = m.matches_json(data, &mut out);
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        if res.is_ok() && !has_duplicate_keys(data) {
            out.sort_unstable();
            let want: Vec<u32> = (0..ps.len() as u32).filter(|&i| reference_matches(&ps[i as usize], &doc)).collect();
            assert_eq!(out, want, "document: {}", String::from_utf8_lossy(data));
        }
    }
});

/// serde_json keeps the last of duplicate keys while the scanner sees all of
/// them, so documents with duplicates are only checked for not panicking:
/// compare the number of keys in the text with the number serde kept.
fn has_duplicate_keys(data: &[u8]) -> bool {
    fn kept(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => m.len() + m.values().map(kept).sum::<usize>(),
            serde_json::Value::Array(a) => a.iter().map(kept).sum(),
            _ => 0,
        }
    }
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(data) else { return true };
    let mut de = serde_json::Deserializer::from_slice(data);
    count_keys(&mut de) != Some(kept(&parsed))
}

fn count_keys<'de, R: serde_json::de::Read<'de>>(de: &mut serde_json::Deserializer<R>) -> Option<usize> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { f.write_str("json") }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while a.next_key::<IgnoredAny>()?.is_some() { n += 1 + a.next_value_seed(S)?; }
            Ok(n)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while let Some(k) = a.next_element_seed(S)? { n += k; }
            Ok(n)
        }
        fn visit_bool<E>(self, _: bool) -> Result<usize, E> { Ok(0) }
        fn visit_i64<E>(self, _: i64) -> Result<usize, E> { Ok(0) }
        fn visit_u64<E>(self, _: u64) -> Result<usize, E> { Ok(0) }
        fn visit_f64<E>(self, _: f64) -> Result<usize, E> { Ok(0) }
        fn visit_str<E>(self, _: &str) -> Result<usize, E> { Ok(0) }
        fn visit_unit<E>(self) -> Result<usize, E> { Ok(0) }
    }
    struct S;
    impl<'de> serde::de::DeserializeSeed<'de> for S {
        type Value = usize;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> { d.deserialize_any(V) }
    }
    de.deserialize_any(V).ok()
}
