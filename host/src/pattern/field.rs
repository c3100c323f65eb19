//! The value index of one field path: every operator of every condition on that
//! path, organised so one event value is checked against all of them with a few
//! hash probes instead of a loop over rules.

use memchr::memmem;

use super::index::{BytesMap, FxMap, IntervalSet, PrefixMap, remove_all};
use super::ip::{IpVal, parse_ip_bytes};
use super::keys::KeyRef;
use super::number;
use super::ops::{Leaf, NumKey, Op, fold_bytes_into};
use super::wildcard::Wildcard;

pub(crate) type CondId = u32;
/// Identifies one `anything-but` operator instance (for per-value exclusion marks).
pub(crate) type AbSlot = u32;

/// Per-call scratch used while evaluating values.
#[derive(Default)]
pub(crate) struct EvalScratch {
    pub fold: String,
    pub num: String,
    pub ab_mark: Vec<u32>,
    pub vstamp: u32,
}

impl EvalScratch {
    #[inline]
    fn next_stamp(&mut self) -> u32 {
        if self.vstamp == u32::MAX {
            self.ab_mark.iter_mut().for_each(|m| *m = 0);
            self.vstamp = 0;
        }
        self.vstamp += 1;
        self.vstamp
    }
}

/// All operators on one field path.
#[derive(Clone, Default)]
pub(crate) struct FieldIndex {
    /// number of conditions using this field
    pub refs: u32,
    /// trie node of this field
    pub node: u32,
    /// conditions on this field that are evaluated lazily (not in the index);
    /// values are recorded during the scan only when this is non-zero
    pub lazy: u32,
    /// which of the structures below are non-empty (`K_*` bits)
    kinds: u32,
    /// lazily evaluated conditions with selective operators, for evaluating
    /// many of them at once (see `Matcher::run_batch`)
    pub batch: Option<Box<FieldIndex>>,
    /// number of conditions in `batch`
    pub batch_count: u32,
    /// the conditions in `batch`
    pub batch_conds: Vec<CondId>,
    exists: Vec<CondId>,
    str_exact: BytesMap<Vec<CondId>>,
    num_exact: FxMap<i64, Vec<CondId>>,
    big_exact: FxMap<Box<str>, Vec<CondId>>,
    t: Vec<CondId>,
    f: Vec<CondId>,
    null: Vec<CondId>,
    prefix: PrefixMap<CondId>,
    suffix: PrefixMap<CondId>,
    eq_ic: BytesMap<Vec<CondId>>,
    prefix_ic: PrefixMap<CondId>,
    suffix_ic: PrefixMap<CondId>,
    /// wildcards indexed by their literal prefix
    wildcard: PrefixMap<(Wildcard, CondId)>,
    contains: Vec<(memmem::Finder<'static>, CondId)>,
    regex: Vec<(regex::bytes::Regex, CondId)>,
    ranges: IntervalSet<i64, CondId>,
    ip4: IntervalSet<u128, CondId>,
    ip6: IntervalSet<u128, CondId>,
    // anything-but: every instance hits unless the value excludes it
    ab_all: Vec<(AbSlot, CondId)>,
    ab_str: BytesMap<Vec<AbSlot>>,
    ab_num: FxMap<i64, Vec<AbSlot>>,
    ab_prefix: PrefixMap<AbSlot>,
    ab_suffix: PrefixMap<AbSlot>,
    ab_ic: BytesMap<Vec<AbSlot>>,
    ab_wc: PrefixMap<(Wildcard, AbSlot)>,
}

const K_EXISTS: u32 = 1;
const K_STR: u32 = 1 << 1;
/// anything that needs the value as a scaled/canonical number
const K_NUM: u32 = 1 << 2;
const K_TRUE: u32 = 1 << 3;
const K_FALSE: u32 = 1 << 4;
const K_NULL: u32 = 1 << 5;
/// any `anything-but`
const K_AB: u32 = 1 << 6;
/// string operators other than exact values
const K_STR_MORE: u32 = 1 << 7;

fn push<K: std::hash::Hash + Eq>(m: &mut FxMap<K, Vec<u32>>, k: K, v: u32) {
    m.entry(k).or_default().push(v);
}

fn pull<K, Q>(m: &mut FxMap<K, Vec<u32>>, k: &Q, v: u32)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if let Some(list) = m.get_mut(k) {
        remove_all(list, &v);
        if list.is_empty() {
            m.remove(k);
        }
    }
}

fn push_b(m: &mut BytesMap<Vec<u32>>, k: &[u8], v: u32) {
    m.entry(k).push(v);
}

fn pull_b(m: &mut BytesMap<Vec<u32>>, k: &[u8], v: u32) {
    if let Some(list) = m.get_mut(k) {
        remove_all(list, &v);
        if list.is_empty() {
            m.remove(k);
        }
    }
}

impl FieldIndex {
    /// Number of distinct exact-value keys on this field (a selectivity hint).
    pub(crate) fn distinct_exact(&self) -> usize {
        self.str_exact.len()
            + self.num_exact.len()
            + self.big_exact.len()
            + self.eq_ic.len()
            + usize::from(!self.t.is_empty())
            + usize::from(!self.f.is_empty())
            + usize::from(!self.null.is_empty())
            + self.ip4.len()
            + self.ip6.len()
    }

    /// Adds a condition's (selective) operators to the batch index.
    pub(crate) fn batch_insert(&mut self, ops: &[Op], c: CondId) {
        let b = self.batch.get_or_insert_with(Box::default);
        for op in ops {
            b.insert(op, c, AbSlot::MAX);
        }
        self.batch_count += 1;
        self.batch_conds.push(c);
    }

    /// Removes what [`batch_insert`](Self::batch_insert) added.
    pub(crate) fn batch_remove(&mut self, ops: &[Op], c: CondId) {
        if let Some(b) = &mut self.batch {
            for op in ops {
                b.remove(op, c, AbSlot::MAX);
            }
        }
        self.batch_count = self.batch_count.saturating_sub(1);
        if let Some(p) = self.batch_conds.iter().position(|x| *x == c) {
            self.batch_conds.swap_remove(p);
        }
        if self.batch_count == 0 {
            self.batch = None;
        }
    }

    /// Recomputes `kinds` (after every insert/remove; O(1)).
    fn refresh(&mut self) {
        let mut k = 0;
        let mut set = |bit: u32, on: bool| {
            if on {
                k |= bit;
            }
        };
        set(K_EXISTS, !self.exists.is_empty());
        set(K_STR, !self.str_exact.is_empty());
        set(
            K_NUM,
            !self.num_exact.is_empty()
                || !self.big_exact.is_empty()
                || !self.ranges.is_empty()
                || !self.ab_num.is_empty(),
        );
        set(K_TRUE, !self.t.is_empty());
        set(K_FALSE, !self.f.is_empty());
        set(K_NULL, !self.null.is_empty());
        set(K_AB, !self.ab_all.is_empty());
        set(
            K_STR_MORE,
            !self.prefix.is_empty()
                || !self.suffix.is_empty()
                || !self.wildcard.is_empty()
                || !self.contains.is_empty()
                || !self.regex.is_empty()
                || !self.ip4.is_empty()
                || !self.ip6.is_empty()
                || !self.eq_ic.is_empty()
                || !self.prefix_ic.is_empty()
                || !self.suffix_ic.is_empty()
                || !self.ab_str.is_empty()
                || !self.ab_prefix.is_empty()
                || !self.ab_suffix.is_empty()
                || !self.ab_ic.is_empty()
                || !self.ab_wc.is_empty(),
        );
        self.kinds = k;
    }

    /// Adds operator `op` of condition `c`; `slot` is its anything-but slot, if any.
    pub(crate) fn insert(&mut self, op: &Op, c: CondId, slot: AbSlot) {
        self.insert_op(op, c, slot);
        self.refresh();
    }

    /// Removes what [`insert`](Self::insert) added for the same arguments.
    pub(crate) fn remove(&mut self, op: &Op, c: CondId, slot: AbSlot) {
        self.remove_op(op, c, slot);
        self.refresh();
    }

    fn insert_op(&mut self, op: &Op, c: CondId, slot: AbSlot) {
        match op {
            Op::ExactStr(s) => push_b(&mut self.str_exact, s.as_bytes(), c),
            Op::ExactNum(NumKey::Scaled(x)) => push(&mut self.num_exact, *x, c),
            Op::ExactNum(NumKey::Other(s)) => push(&mut self.big_exact, s.clone(), c),
            Op::ExactBool(true) => self.t.push(c),
            Op::ExactBool(false) => self.f.push(c),
            Op::ExactNull => self.null.push(c),
            Op::Ip(r) => {
                if r.v6 {
                    self.ip6.insert(r.lo, r.hi, c)
                } else {
                    self.ip4.insert(r.lo, r.hi, c)
                }
            }
            Op::Prefix(p) => self.prefix.insert(p.as_bytes(), c),
            Op::Suffix(p) => self.suffix.insert(p.as_bytes(), c),
            Op::PrefixIc(p) => self.prefix_ic.insert(p.as_bytes(), c),
            Op::SuffixIc(p) => self.suffix_ic.insert(p.as_bytes(), c),
            Op::EqIc(p) => push_b(&mut self.eq_ic, p.as_bytes(), c),
            Op::Wildcard(w) => self.wildcard.insert(w.literal_prefix(), (w.clone(), c)),
            Op::Range(lo, hi) => self.ranges.insert(*lo, *hi, c),
            Op::Contains(s) => self
                .contains
                .push((memmem::Finder::new(s.as_bytes()).into_owned(), c)),
            Op::Regex(r) => self.regex.push((r.re.clone(), c)),
            Op::Exists => self.exists.push(c),
            Op::AbStr(v) => {
                for s in v {
                    push_b(&mut self.ab_str, s.as_bytes(), slot);
                }
                self.ab_all.push((slot, c));
            }
            Op::AbNum(v) => {
                for x in v {
                    push(&mut self.ab_num, *x, slot);
                }
                self.ab_all.push((slot, c));
            }
            Op::AbPrefix(v) => {
                for s in v {
                    self.ab_prefix.insert(s.as_bytes(), slot);
                }
                self.ab_all.push((slot, c));
            }
            Op::AbSuffix(v) => {
                for s in v {
                    self.ab_suffix.insert(s.as_bytes(), slot);
                }
                self.ab_all.push((slot, c));
            }
            Op::AbIc(v) => {
                for s in v {
                    push_b(&mut self.ab_ic, s.as_bytes(), slot);
                }
                self.ab_all.push((slot, c));
            }
            Op::AbWildcard(v) => {
                for w in v {
                    self.ab_wc.insert(w.literal_prefix(), (w.clone(), slot));
                }
                self.ab_all.push((slot, c));
            }
        }
    }

    fn remove_op(&mut self, op: &Op, c: CondId, slot: AbSlot) {
        match op {
            Op::ExactStr(s) => pull_b(&mut self.str_exact, s.as_bytes(), c),
            Op::ExactNum(NumKey::Scaled(x)) => pull(&mut self.num_exact, x, c),
            Op::ExactNum(NumKey::Other(s)) => pull(&mut self.big_exact, &**s, c),
            Op::ExactBool(true) => {
                remove_all(&mut self.t, &c);
            }
            Op::ExactBool(false) => {
                remove_all(&mut self.f, &c);
            }
            Op::ExactNull => {
                remove_all(&mut self.null, &c);
            }
            Op::Ip(r) => {
                if r.v6 {
                    self.ip6.remove(r.lo, r.hi, c)
                } else {
                    self.ip4.remove(r.lo, r.hi, c)
                }
            }
            Op::Prefix(p) => self.prefix.remove_where(p.as_bytes(), |x| *x == c),
            Op::Suffix(p) => self.suffix.remove_where(p.as_bytes(), |x| *x == c),
            Op::PrefixIc(p) => self.prefix_ic.remove_where(p.as_bytes(), |x| *x == c),
            Op::SuffixIc(p) => self.suffix_ic.remove_where(p.as_bytes(), |x| *x == c),
            Op::EqIc(p) => pull_b(&mut self.eq_ic, p.as_bytes(), c),
            Op::Wildcard(w) => self.wildcard.remove_where(w.literal_prefix(), |x| x.1 == c),
            Op::Range(lo, hi) => self.ranges.remove(*lo, *hi, c),
            Op::Contains(_) => self.contains.retain(|x| x.1 != c),
            Op::Regex(_) => self.regex.retain(|x| x.1 != c),
            Op::Exists => {
                remove_all(&mut self.exists, &c);
            }
            Op::AbStr(v) => {
                for s in v {
                    pull_b(&mut self.ab_str, s.as_bytes(), slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
            Op::AbNum(v) => {
                for x in v {
                    pull(&mut self.ab_num, x, slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
            Op::AbPrefix(v) => {
                for s in v {
                    self.ab_prefix.remove_where(s.as_bytes(), |x| *x == slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
            Op::AbSuffix(v) => {
                for s in v {
                    self.ab_suffix.remove_where(s.as_bytes(), |x| *x == slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
            Op::AbIc(v) => {
                for s in v {
                    pull_b(&mut self.ab_ic, s.as_bytes(), slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
            Op::AbWildcard(v) => {
                for w in v {
                    self.ab_wc.remove_where(w.literal_prefix(), |x| x.1 == slot);
                }
                self.ab_all.retain(|x| x.0 != slot);
            }
        }
    }

    /// Whether [`eval`](Self::eval) can report anything for a string value.
    #[inline(always)]
    pub(crate) fn wants_str(&self) -> bool {
        self.kinds & (K_EXISTS | K_STR | K_STR_MORE | K_AB) != 0
    }

    /// Whether [`eval`](Self::eval) can report anything for a number value.
    #[inline(always)]
    pub(crate) fn wants_num(&self) -> bool {
        self.kinds & (K_EXISTS | K_NUM | K_AB) != 0
    }

    /// Calls `hit(c)` for every condition `c` that has an operator satisfied by `leaf`
    /// (possibly more than once per condition).
    #[inline]
    pub(crate) fn eval(&self, leaf: Leaf<'_>, es: &mut EvalScratch, hit: &mut impl FnMut(CondId)) {
        let kinds = self.kinds;
        if kinds & K_EXISTS != 0 {
            for &c in &self.exists {
                hit(c);
            }
        }
        let has_ab = kinds & K_AB != 0;
        let stamp = if has_ab { es.next_stamp() } else { 0 };
        match leaf {
            Leaf::Str(b) => {
                if kinds & K_STR != 0
                    && let Some(v) = self.str_exact.get(&KeyRef::new(b))
                {
                    v.iter().for_each(|c| hit(*c));
                }
                if kinds & K_STR_MORE != 0 {
                    self.eval_str_more(b, es, stamp, hit);
                }
            }
            Leaf::Num(t) => {
                if kinds & K_NUM != 0 {
                    self.eval_num(t, es, stamp, hit);
                }
            }
            Leaf::Bool(true) => {
                if kinds & K_TRUE != 0 {
                    self.t.iter().for_each(|c| hit(*c));
                }
            }
            Leaf::Bool(false) => {
                if kinds & K_FALSE != 0 {
                    self.f.iter().for_each(|c| hit(*c));
                }
            }
            Leaf::Null => {
                if kinds & K_NULL != 0 {
                    self.null.iter().for_each(|c| hit(*c));
                }
            }
        }
        if has_ab {
            for &(slot, c) in &self.ab_all {
                if es.ab_mark.get(slot as usize).copied() != Some(stamp) {
                    hit(c);
                }
            }
        }
    }

    /// String operators other than exact values.
    #[inline(never)]
    fn eval_str_more(
        &self,
        b: &[u8],
        es: &mut EvalScratch,
        stamp: u32,
        hit: &mut impl FnMut(CondId),
    ) {
        let EvalScratch { fold, ab_mark, .. } = es;
        self.prefix.for_each_prefix(b, |c| hit(*c));
        self.suffix.for_each_suffix(b, |c| hit(*c));
        if !self.wildcard.is_empty() {
            self.wildcard.for_each_prefix(b, |(w, c)| {
                if w.matches(b) {
                    hit(*c)
                }
            });
        }
        for (f, c) in &self.contains {
            if f.find(b).is_some() {
                hit(*c);
            }
        }
        for (re, c) in &self.regex {
            if re.is_match(b) {
                hit(*c);
            }
        }
        if (!self.ip4.is_empty() || !self.ip6.is_empty())
            && let Some(ip) = parse_ip_bytes(b)
        {
            match ip {
                IpVal::V4(a) => self.ip4.query(u128::from(a), &mut |c| hit(c)),
                IpVal::V6(a) => self.ip6.query(a, &mut |c| hit(c)),
            }
        }
        let need_fold = !self.eq_ic.is_empty()
            || !self.prefix_ic.is_empty()
            || !self.suffix_ic.is_empty()
            || !self.ab_ic.is_empty();
        if need_fold {
            fold_bytes_into(b, fold);
            let fb = fold.as_bytes();
            if let Some(v) = self.eq_ic.get(&KeyRef::new(fb)) {
                v.iter().for_each(|c| hit(*c));
            }
            self.prefix_ic.for_each_prefix(fb, |c| hit(*c));
            self.suffix_ic.for_each_suffix(fb, |c| hit(*c));
        }
        if self.kinds & K_AB != 0 {
            let mut mark = |slot: &AbSlot| {
                if let Some(m) = ab_mark.get_mut(*slot as usize) {
                    *m = stamp;
                }
            };
            if let Some(v) = self.ab_str.get(&KeyRef::new(b)) {
                v.iter().for_each(&mut mark);
            }
            self.ab_prefix.for_each_prefix(b, &mut mark);
            self.ab_suffix.for_each_suffix(b, &mut mark);
            if need_fold && let Some(v) = self.ab_ic.get(&KeyRef::new(fold.as_bytes())) {
                v.iter().for_each(&mut mark);
            }
            if !self.ab_wc.is_empty() {
                self.ab_wc.for_each_prefix(b, |(w, slot)| {
                    if w.matches(b) {
                        mark(slot)
                    }
                });
            }
        }
    }

    /// Number operators.
    #[inline(never)]
    fn eval_num(&self, t: &[u8], es: &mut EvalScratch, stamp: u32, hit: &mut impl FnMut(CondId)) {
        let EvalScratch { num, ab_mark, .. } = es;
        match number::scaled(t) {
            Some(x) => {
                if let Some(v) = self.num_exact.get(&x) {
                    v.iter().for_each(|c| hit(*c));
                }
                if !self.ranges.is_empty() {
                    self.ranges.query(x, &mut |c| hit(c));
                }
                if let Some(v) = self.ab_num.get(&x) {
                    for slot in v {
                        if let Some(m) = ab_mark.get_mut(*slot as usize) {
                            *m = stamp;
                        }
                    }
                }
            }
            None => {
                if !self.big_exact.is_empty() {
                    num.clear();
                    number::canonical(t, num);
                    if let Some(v) = self.big_exact.get(num.as_str()) {
                        v.iter().for_each(|c| hit(*c));
                    }
                }
            }
        }
    }
}
