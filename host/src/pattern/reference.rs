//! The reference evaluator: a direct, unoptimised reading of the semantics, used
//! to cross-check the compiled [`Matcher`](super::Matcher).
//!
//! 1. Flatten the document into leaf *occurrences*: (dotted path, value, array
//!    membership). Arrays are transparent for paths; every array gets a fresh id
//!    and each occurrence remembers `(array id, element index)` for every array
//!    it sits in. Objects and empty arrays produce no occurrence.
//! 2. A sub-rule matches when its conditions, taken in path order, can each be
//!    satisfied by a value occurrence whose membership is consistent (same index
//!    for every shared array) with the occurrences already chosen — or, for
//!    `exists: false`, when no occurrence of the path is consistent with the
//!    occurrences chosen so far (event-ruler's ACFinder semantics).
//! 3. A pattern matches when any of its sub-rules does.

use super::ops::{Cond, Leaf};
use super::parse::Pattern;

impl Pattern {
    /// Evaluates this pattern alone against a document with the reference
    /// evaluator (convenience for [`reference_matches`]).
    pub fn matches(&self, doc: &serde_json::Value) -> bool {
        reference_matches(self, doc)
    }
}

enum OwnedLeaf {
    Str(String),
    Num(String),
    Bool(bool),
    Null,
}

impl OwnedLeaf {
    fn leaf(&self) -> Leaf<'_> {
        match self {
            OwnedLeaf::Str(s) => Leaf::Str(s.as_bytes()),
            OwnedLeaf::Num(n) => Leaf::Num(n.as_bytes()),
            OwnedLeaf::Bool(b) => Leaf::Bool(*b),
            OwnedLeaf::Null => Leaf::Null,
        }
    }
}

struct Occ {
    path: String,
    leaf: OwnedLeaf,
    memb: Vec<(u32, u32)>,
}

fn flatten(
    v: &serde_json::Value,
    path: &mut String,
    depth: usize,
    memb: &mut Vec<(u32, u32)>,
    next: &mut u32,
    out: &mut Vec<Occ>,
) {
    use serde_json::Value as V;
    let leaf = match v {
        V::Object(m) => {
            for (k, x) in m {
                let len = path.len();
                if depth > 0 {
                    path.push('.');
                }
                path.push_str(k);
                flatten(x, path, depth + 1, memb, next, out);
                path.truncate(len);
            }
            return;
        }
        V::Array(a) => {
            *next += 1;
            let id = *next;
            for (i, x) in a.iter().enumerate() {
                memb.push((id, i as u32));
                flatten(x, path, depth, memb, next, out);
                memb.pop();
            }
            return;
        }
        V::String(s) => OwnedLeaf::Str(s.clone()),
        V::Number(n) => OwnedLeaf::Num(n.to_string()),
        V::Bool(b) => OwnedLeaf::Bool(*b),
        V::Null => OwnedLeaf::Null,
    };
    if depth > 0 {
        out.push(Occ {
            path: path.clone(),
            leaf,
            memb: memb.clone(),
        });
    }
}

fn consistent(m: &[(u32, u32)], memb: &[(u32, u32)]) -> bool {
    memb.iter()
        .all(|&(a, i)| m.iter().all(|&(b, j)| a != b || i == j))
}

fn satisfy(conds: &[Cond], k: usize, m: &mut Vec<(u32, u32)>, occs: &[Occ]) -> bool {
    let Some(c) = conds.get(k) else {
        return true;
    };
    for o in occs {
        if *o.path == *c.path
            && consistent(m, &o.memb)
            && c.ops.iter().any(|op| op.matches(&o.leaf.leaf()))
        {
            let save = m.len();
            for &p in &o.memb {
                if !m.contains(&p) {
                    m.push(p);
                }
            }
            if satisfy(conds, k + 1, m, occs) {
                return true;
            }
            m.truncate(save);
        }
    }
    if c.absent
        && !occs
            .iter()
            .any(|o| *o.path == *c.path && consistent(m, &o.memb))
    {
        return satisfy(conds, k + 1, m, occs);
    }
    false
}

/// Obviously-correct reference evaluator for one pattern (exponential in the worst
/// case; meant for tests and for single-pattern checks on small documents).
///
/// Numbers are taken from the `Value` through serde_json's shortest round-trip
/// text, exactly as [`Matcher::matches_value`](super::Matcher::matches_value) does.
pub fn reference_matches(pattern: &Pattern, doc: &serde_json::Value) -> bool {
    let mut occs = Vec::new();
    let mut path = String::new();
    let mut memb = Vec::new();
    let mut next = 0;
    flatten(doc, &mut path, 0, &mut memb, &mut next, &mut occs);
    let mut m = Vec::new();
    pattern.subs.iter().any(|s| {
        m.clear();
        satisfy(&s.conds, 0, &mut m, &occs)
    })
}
