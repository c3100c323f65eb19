//! Property tests: the compiled matcher (many rules, some removed) agrees with
//! the reference evaluator on random patterns and events.

use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Small deterministic generator driven by a proptest-provided seed.
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

const STRS: &[&str] = &["x", "y", "xy", "Xy", "", "yx", "10.1.2.3", "xyz", "ÄX"];
const NUMS: &[&str] = &["1", "2.5", "3e2", "300.0", "-1", "0", "1e10"];
/// (parent, leaf) paths; "arr" and "obj.list" hold arrays of objects in events.
const FIELDS: &[(&str, &str)] = &[
    ("", "a"),
    ("", "b"),
    ("obj", "c"),
    ("obj", "d"),
    ("arr", "p"),
    ("arr", "q"),
    ("arr", "r"),
];

fn num_value(g: &mut Gen) -> Value {
    let s: &&str = g.pick(NUMS);
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn value_op(g: &mut Gen) -> Value {
    match g.below(21) {
        0 => json!(g.pick(STRS)),
        1 => num_value(g),
        2 => json!(g.chance(50)),
        3 => Value::Null,
        4 => json!({"prefix": g.pick(&["x", "", "Ä"])}),
        5 => json!({"suffix": g.pick(&["y", "z"])}),
        6 => json!({"equals-ignore-case": g.pick(&["XY", "äx"])}),
        7 => json!({"prefix": {"equals-ignore-case": "X"}}),
        8 => json!({"suffix": {"equals-ignore-case": "Y"}}),
        9 => json!({"wildcard": g.pick(&["x*", "*y", "x*z", "*"])}),
        10 => json!({"anything-but": g.pick(&["x", "y"])}),
        11 => json!({"anything-but": [1, 300]}),
        12 => json!({"anything-but": {"prefix": "x"}}),
        13 => json!({"anything-but": {"suffix": "y"}}),
        14 => json!({"anything-but": {"equals-ignore-case": ["XY", "Y"]}}),
        15 => json!({"anything-but": {"wildcard": "*y*"}}),
        16 => match g.below(4) {
            0 => json!({"numeric": [">", 0, "<=", 2.5]}),
            1 => json!({"numeric": ["<", 1]}),
            2 => json!({"numeric": [">=", 300]}),
            _ => json!({"numeric": ["=", 3e2]}),
        },
        17 => json!({"exists": g.chance(60)}),
        18 => json!({"cidr": g.pick(&["10.0.0.0/8", "10.1.2.0/24", "11.0.0.0/8"])}),
        19 => json!({"contains": g.pick(&["y", "xy"])}),
        _ => json!({"regex": g.pick(&["x.*", "[xy]+", "X?y"])}),
    }
}

fn add_field(g: &mut Gen, obj: &mut serde_json::Map<String, Value>) {
    let (parent, leaf) = *g.pick(FIELDS);
    let n = 1 + g.below(2);
    let vals: Vec<Value> = (0..n).map(|_| value_op(g)).collect();
    if parent.is_empty() {
        obj.insert(leaf.to_string(), Value::Array(vals));
    } else {
        let e = obj.entry(parent.to_string()).or_insert_with(|| json!({}));
        if let Value::Object(o) = e {
            o.insert(leaf.to_string(), Value::Array(vals));
        }
    }
}

fn gen_pattern(g: &mut Gen) -> Value {
    let mut obj = serde_json::Map::new();
    for _ in 0..1 + g.below(3) {
        add_field(g, &mut obj);
    }
    if g.chance(20) {
        let alts: Vec<Value> = (0..2)
            .map(|_| {
                let mut o = serde_json::Map::new();
                add_field(g, &mut o);
                Value::Object(o)
            })
            .collect();
        obj.insert("$or".into(), Value::Array(alts));
    }
    Value::Object(obj)
}

/// A random pattern that validates (overlapping `$or` paths are retried).
fn gen_valid(g: &mut Gen) -> (Value, Pattern) {
    loop {
        let v = gen_pattern(g);
        if let Ok(p) = Pattern::from_value(&v) {
            return (v, p);
        }
    }
}

fn gen_scalar(g: &mut Gen) -> Value {
    match g.below(6) {
        0..=2 => json!(g.pick(STRS)),
        3 => num_value(g),
        4 => json!(g.chance(50)),
        _ => Value::Null,
    }
}

fn gen_leaf(g: &mut Gen) -> Value {
    match g.below(8) {
        0 => Value::Array((0..g.below(3)).map(|_| gen_scalar(g)).collect()),
        1 => json!({"z": gen_scalar(g)}),
        _ => gen_scalar(g),
    }
}

fn gen_obj(g: &mut Gen, keys: &[&str]) -> Value {
    let mut o = serde_json::Map::new();
    for k in keys {
        if g.chance(60) {
            o.insert(k.to_string(), gen_leaf(g));
        }
    }
    Value::Object(o)
}

fn gen_event(g: &mut Gen) -> Value {
    let mut o = serde_json::Map::new();
    for k in ["a", "b"] {
        if g.chance(70) {
            o.insert(k.into(), gen_leaf(g));
        }
    }
    if g.chance(70) {
        o.insert("obj".into(), gen_obj(g, &["c", "d"]));
    }
    if g.chance(80) {
        let n = g.below(4);
        let elems: Vec<Value> = (0..n)
            .map(|_| {
                if g.chance(20) {
                    Value::Array((0..2).map(|_| gen_obj(g, &["p", "q", "r"])).collect())
                } else {
                    gen_obj(g, &["p", "q", "r"])
                }
            })
            .collect();
        o.insert("arr".into(), Value::Array(elems));
    }
    Value::Object(o)
}

fn sorted(mut v: Vec<RuleId>) -> Vec<RuleId> {
    v.sort_unstable();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matcher_agrees_with_reference(seed in any::<u64>()) {
        let mut g = Gen(seed);
        let mut pats: Vec<Option<(Value, Pattern)>> = Vec::new();
        let mut m = Matcher::new();
        for id in 0..48u32 {
            let (v, p) = gen_valid(&mut g);
            m.add(id, &p);
            pats.push(Some((v, p)));
        }
        // remove some
        for id in 0..48u32 {
            if g.chance(30) {
                prop_assert!(m.remove(id));
                pats[id as usize] = None;
            }
        }
        // a fresh matcher with the remaining rules gives the same answers
        let mut fresh = Matcher::new();
        for (id, p) in pats.iter().enumerate() {
            if let Some((_, p)) = p {
                fresh.add(id as u32, p);
            }
        }
        prop_assert_eq!(m.len(), fresh.len());
        let mut scratch = MatchScratch::new();
        for _ in 0..24 {
            let ev = gen_event(&mut g);
            let text = serde_json::to_string(&ev).unwrap();
            let want: Vec<RuleId> = pats
                .iter()
                .enumerate()
                .filter_map(|(id, p)| p.as_ref().filter(|(_, p)| reference_matches(p, &ev)).map(|_| id as u32))
                .collect();
            let mut got = Vec::new();
            m.matches_json_with(&mut scratch, text.as_bytes(), &mut got).unwrap();
            let got = sorted(got);
            if got != want {
                let diff: Vec<String> = pats.iter().enumerate().filter_map(|(id, p)| {
                    let (v, _) = p.as_ref()?;
                    (got.contains(&(id as u32)) != want.contains(&(id as u32))).then(|| format!("rule {id}: {v}"))
                }).collect();
                prop_assert!(false, "event {} got {:?} want {:?}\n{}", text, got, want, diff.join("\n"));
            }
            let mut got_v = Vec::new();
            m.matches_value(&ev, &mut got_v);
            prop_assert_eq!(sorted(got_v), want.clone());
            let mut got_f = Vec::new();
            fresh.matches_json(text.as_bytes(), &mut got_f).unwrap();
            prop_assert_eq!(sorted(got_f), want);
        }
    }

    #[test]
    fn pattern_parse_never_panics(s in "\\PC{0,64}") {
        let _ = Pattern::parse(&s);
    }

    #[test]
    fn structured_pattern_garbage_never_panics(seed in any::<u64>()) {
        let mut g = Gen(seed);
        // mutate valid patterns textually
        let v = gen_pattern(&mut g);
        let mut t = serde_json::to_string(&v).unwrap().into_bytes();
        for _ in 0..1 + g.below(4) {
            let i = g.below(t.len());
            let c = *g.pick(b"{}[]\":,01-e.\\ *$x");
            match g.below(3) {
                0 => t[i] = c,
                1 => t.insert(i, c),
                _ => { t.remove(i); }
            }
        }
        if let Ok(s) = String::from_utf8(t) {
            let _ = Pattern::parse(&s);
        }
    }

    #[test]
    fn match_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), seed in any::<u64>()) {
        let mut g = Gen(seed);
        let mut m = Matcher::new();
        for id in 0..8 {
            m.add(id, &gen_valid(&mut g).1);
        }
        let mut out = Vec::new();
        let _ = m.matches_json(&bytes, &mut out);
        // mutated valid events
        let mut t = serde_json::to_string(&gen_event(&mut g)).unwrap().into_bytes();
        if !t.is_empty() {
            for _ in 0..1 + g.below(3) {
                let i = g.below(t.len());
                t[i] = *g.pick(b"{}[]\":,01-e.\\ \xff");
            }
        }
        let _ = m.matches_json(&t, &mut out);
    }
}

#[test]
fn incremental_equals_from_scratch() {
    let mut g = Gen(42);
    let pats: Vec<Pattern> = (0..300).map(|_| gen_valid(&mut g).1).collect();
    let mut m = Matcher::new();
    for (i, p) in pats.iter().enumerate() {
        m.add(i as u32, p);
    }
    let mut keep = Vec::new();
    for i in 0..300u32 {
        if i % 3 == 0 {
            assert!(m.remove(i));
        } else {
            keep.push(i);
        }
    }
    // re-add some removed ones under new ids
    for i in (0..300u32).step_by(9) {
        m.add(1000 + i, &pats[i as usize]);
    }
    let mut fresh = Matcher::new();
    for &i in &keep {
        fresh.add(i, &pats[i as usize]);
    }
    for i in (0..300u32).step_by(9) {
        fresh.add(1000 + i, &pats[i as usize]);
    }
    assert_eq!(m.len(), fresh.len());
    for _ in 0..400 {
        let ev = serde_json::to_string(&gen_event(&mut g)).unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        m.matches_json(ev.as_bytes(), &mut a).unwrap();
        fresh.matches_json(ev.as_bytes(), &mut b).unwrap();
        assert_eq!(sorted(a), sorted(b), "{ev}");
    }
    // removing everything leaves an empty, working matcher
    for i in keep {
        assert!(m.remove(i));
    }
    for i in (0..300u32).step_by(9) {
        assert!(m.remove(1000 + i));
    }
    assert!(m.is_empty());
    let mut out = Vec::new();
    m.matches_json(br#"{"a": "x", "arr": [{"p": 1}]}"#, &mut out)
        .unwrap();
    assert!(out.is_empty());
}

#[test]
fn generators_are_not_vacuous() {
    let mut g = Gen(7);
    let pats: Vec<Pattern> = (0..48).map(|_| gen_valid(&mut g).1).collect();
    let (mut hits, mut total, mut arr_hits) = (0usize, 0usize, 0usize);
    for _ in 0..200 {
        let ev = gen_event(&mut g);
        for p in &pats {
            total += 1;
            if reference_matches(p, &ev) {
                hits += 1;
                if ev
                    .get("arr")
                    .is_some_and(|a| a.as_array().is_some_and(|a| a.len() > 1))
                {
                    arr_hits += 1;
                }
            }
        }
    }
    let rate = hits as f64 / total as f64;
    assert!((0.05..0.95).contains(&rate), "match rate {rate}");
    assert!(arr_hits > 50, "{arr_hits}");
}
