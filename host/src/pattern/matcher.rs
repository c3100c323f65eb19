//! The compiled matcher for all rules of a bus.
//!
//! Structure (see the module docs for the full story):
//! - a trie of field-path segments used by any rule (`nodes`, edges in
//!   `keys`), each node with an optional [`FieldIndex`] holding every operator
//!   on that exact path;
//! - interned *conditions* (path + operator list + `exists:false` flag), shared by
//!   all sub-rules that use the same one;
//! - *sub-rules* (conjunctions of conditions), each registered under one
//!   *pivot*: its most selective required condition, and within the pivot in a
//!   group keyed by its next most selective condition. Conditions satisfied by
//!   the event are epoch-stamped; after the scan only sub-rules whose pivot
//!   fired are looked at, a whole group is skipped when its key condition does
//!   not hold, and only sub-rules involving arrays or `exists: false` run the
//!   array-consistency check. Only conditions that are somebody's pivot sit in
//!   the field indexes and are evaluated during the scan; every other condition
//!   is evaluated lazily (once per event, memoised) against the recorded values
//!   of its field, one by one or — once many of a field's conditions are asked
//!   for — all at once through the field's batch index.
//!
//! Why the finishing phase is hand-written too: with thousands of rules it
//! dominates, so it avoids per-candidate work wherever a per-group or per-field
//! answer exists (pivot groups, batch evaluation, the bitmask array check).

use std::cell::RefCell;
use std::collections::HashSet;

use super::error::MatchError;
use super::field::{AbSlot, CondId, EvalScratch, FieldIndex};
use super::index::FxMap;
use super::keys::{KeyRef, KeyTable};
use super::number;
use super::ops::{Cond, Leaf, Op};
use super::parse::Pattern;
use super::scan;

/// Caller-assigned identifier of a rule.
pub type RuleId = u32;

type SubId = u32;
type FieldId = u32;
pub(crate) type NodeId = u32;
pub(crate) const ROOT: NodeId = 0;
const NONE: u32 = u32::MAX;

/// A field's batch index is used after at least this many of its conditions
/// were asked for in one event …
const BATCH_MIN_ASKS: u32 = 3;
/// … and at least 1/BATCH_SHARE of the conditions in it (so a field with
/// thousands of lazily evaluated ranges is not batch-evaluated for a handful
/// of candidates).
const BATCH_SHARE: u32 = 4;

#[derive(Clone, Default)]
pub(crate) struct Node {
    /// number of child nodes (the edges themselves are in `Matcher::keys`)
    children: u32,
    /// number of child nodes that have children themselves
    deep: u32,
    pub(crate) field: Option<FieldId>,
    /// live fields in this subtree (including this node)
    refs: u32,
    parent: NodeId,
    seg: Box<[u8]>,
}

impl Node {
    #[inline]
    pub(crate) fn has_children(&self) -> bool {
        self.children != 0
    }
}

#[derive(Clone)]
struct CondInfo {
    field: FieldId,
    ops: Vec<Op>,
    slots: Vec<AbSlot>,
    absent: bool,
    presence: Option<CondId>,
    refs: u32,
    /// sub-rules that use this condition as their pivot, grouped by their most
    /// selective other required condition (the group's key)
    pivot_groups: Vec<PivotGroup>,
    /// group key → index in `pivot_groups`
    group_index: FxMap<CondId, u32>,
    /// number of sub-rules in `pivot_groups`
    pivot_count: u32,
    /// selectivity class of the operators (0 = exact values … 2 = exists/anything-but)
    class: u8,
    /// the operators are in the field index (the condition is some sub-rule's pivot)
    indexed: bool,
    /// the operators are in the field's batch index (lazy and batchable)
    batched: bool,
    key: String,
}

/// Sub-rules with the same pivot and the same most selective other condition:
/// when the pivot fires, one (memoised) check of `key` accepts or rejects the
/// whole group. With many broad rules on one pivot (e.g. a field with a handful
/// of values) this turns a scan over every candidate into a scan over the few
/// distinct second conditions.
#[derive(Clone)]
struct PivotGroup {
    /// the shared other condition (NONE for sub-rules with only the pivot)
    key: CondId,
    entries: Vec<PivotEntry>,
}

/// A sub-rule as seen from its pivot group: enough to reject most candidates,
/// and to accept most matches, without touching the sub-rule or its rule.
///
/// Why: with thousands of rules the finishing phase is bound by cache misses
/// (`perf annotate` of the 10,000-rule mixed bench put most of its time on
/// loading `SubInfo`, its condition list and `RuleInfo`), so what the common
/// case needs is copied here, next to the entries the loop already streams
/// (+15% at 10,000 mixed rules).
#[derive(Clone, Copy)]
struct PivotEntry {
    sub: SubId,
    rule: u32,
    /// the rule's caller-assigned id
    id: RuleId,
    /// the next other required conditions after the group key (NONE-padded)
    others: [CondId; 3],
    /// the sub-rule has more than four other required conditions
    more: bool,
    /// the rule has no other sub-rule, so this entry is its only way in and
    /// is visited at most once per event: no need to read or mark the rule
    /// as seen (a dependent cache miss per candidate)
    single: bool,
    /// the sub-rule's conditions are exactly the pivot, the group key and
    /// `others` (no `exists: false`, at most four others), so the entry alone
    /// decides unless the general array search is needed
    whole: bool,
}

impl PivotEntry {
    const EMPTY: PivotEntry = PivotEntry {
        sub: NONE,
        rule: NONE,
        id: 0,
        others: [NONE; 3],
        more: false,
        single: false,
        whole: false,
    };
}

/// What a fired pivot needs first, in a dense array indexed by condition id.
///
/// Why: at 10,000 mixed rules most fired pivots (a narrow numeric range, a
/// rare exact value) carry a single sub-rule, yet reaching it took three
/// dependent cache misses: the condition, its group list, the group's entry
/// list (`perf annotate` of `finish` put half its time on them). For such a
/// pivot the group key and the entry are copied here, one load away: 32
/// bytes, aligned so that a head never straddles two cache lines.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct PivotHead {
    /// the key of the condition's one group (when `entry.sub != NONE`)
    key: CondId,
    /// the one entry of the condition's one group; `sub == NONE` when the
    /// condition has none or several (look in its `pivot_groups`)
    entry: PivotEntry,
}

impl PivotHead {
    const NONE: PivotHead = PivotHead {
        key: NONE,
        entry: PivotEntry::EMPTY,
    };
}

const _: () = assert!(std::mem::size_of::<PivotHead>() == 32);

/// What `ensure` needs of a condition before its operators, in a dense array
/// indexed by condition id: most lazy requests end here (the condition is a
/// pivot that did not fire, its field's batch already ran, or its field has
/// no value in the event) without loading the 150-byte [`CondInfo`].
#[derive(Clone, Copy)]
struct CondBrief {
    field: FieldId,
    /// [`CondInfo::indexed`]
    indexed: bool,
    /// [`CondInfo::batched`]
    batched: bool,
}

impl CondBrief {
    const NONE: CondBrief = CondBrief {
        field: NONE,
        indexed: false,
        batched: false,
    };
}

#[derive(Clone)]
struct SubInfo {
    rule: u32,
    conds: Vec<CondId>,
    required: u32,
    /// required conditions other than the pivot, most selective first (the
    /// first one is the key of the sub-rule's pivot group)
    others: Vec<CondId>,
    /// the pivot condition (NONE when no condition is required)
    pivot: CondId,
    /// no condition has `exists: false`
    simple: bool,
    /// when not `simple`: the presence condition of each `exists: false`
    /// condition (see [`Matcher::sub_matches`]), kept here so that the check
    /// does not load every condition's [`CondInfo`]
    presences: Box<[CondId]>,
    /// when not `simple`: the required conditions (the pivot and `others`)
    /// as one slice. Derivable, but chaining the two at match time made the
    /// array check clone its iterator per condition: 4–7% more mispredicted
    /// branches (callgrind, examples/profile)
    required_conds: Box<[CondId]>,
}

#[derive(Clone)]
struct RuleInfo {
    id: RuleId,
    subs: Vec<SubId>,
}

/// All rules of a bus, compiled into one structure.
///
/// Adding or removing a rule only touches the conditions, fields and trie nodes
/// of that rule. Matching takes `&self`; the type is `Send + Sync` and is meant
/// to be shared behind an `Arc` (mutate a clone, or under a lock).
#[derive(Clone)]
pub struct Matcher {
    pub(crate) nodes: Vec<Node>,
    free_nodes: Vec<NodeId>,
    /// edges of the trie
    keys: KeyTable,
    pub(crate) fields: Vec<FieldIndex>,
    free_fields: Vec<FieldId>,
    conds: Vec<Option<CondInfo>>,
    /// by condition id: what a fired pivot needs first (see [`PivotHead`])
    heads: Vec<PivotHead>,
    /// by condition id: see [`CondBrief`]
    briefs: Vec<CondBrief>,
    free_conds: Vec<CondId>,
    intern: FxMap<String, CondId>,
    subs: Vec<Option<SubInfo>>,
    free_subs: Vec<SubId>,
    rules: Vec<Option<RuleInfo>>,
    free_rules: Vec<u32>,
    by_id: FxMap<RuleId, u32>,
    always: Vec<SubId>,
    ab_cap: u32,
    free_ab: Vec<AbSlot>,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.by_id.len())
            .field("conditions", &self.intern.len())
            .field("paths", &(self.nodes.len() - self.free_nodes.len()))
            .finish()
    }
}

impl Matcher {
    /// An empty matcher.
    pub fn new() -> Self {
        Matcher {
            nodes: vec![Node::default()],
            free_nodes: Vec::new(),
            keys: KeyTable::default(),
            fields: Vec::new(),
            free_fields: Vec::new(),
            conds: Vec::new(),
            heads: Vec::new(),
            briefs: Vec::new(),
            free_conds: Vec::new(),
            intern: FxMap::default(),
            subs: Vec::new(),
            free_subs: Vec::new(),
            rules: Vec::new(),
            free_rules: Vec::new(),
            by_id: FxMap::default(),
            always: Vec::new(),
            ab_cap: 0,
            free_ab: Vec::new(),
        }
    }

    /// Number of distinct rule ids.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no rule has been added.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether a rule with this id is present.
    pub fn contains(&self, id: RuleId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The ids of all rules, in no particular order.
    pub fn rule_ids(&self) -> impl Iterator<Item = RuleId> + '_ {
        self.by_id.keys().copied()
    }

    /// Adds `pattern` under `id`. Incremental: cost is proportional to the size of
    /// the pattern (plus, for `numeric`/`cidr`, the number of ranges on the same field).
    ///
    /// Adding again under an id that is already present adds the pattern as a
    /// further alternative: the rule then matches when either pattern matches
    /// (event-ruler's behaviour for repeated `addRule` with one name).
    /// To replace a rule, [`remove`](Self::remove) it first.
    pub fn add(&mut self, id: RuleId, pattern: &Pattern) {
        let slot = match self.by_id.get(&id) {
            Some(&s) => s,
            None => {
                let info = RuleInfo {
                    id,
                    subs: Vec::new(),
                };
                let s = alloc(&mut self.rules, &mut self.free_rules, info);
                self.by_id.insert(id, s);
                s
            }
        };
        // Adding to a rule that has sub-rules: its one sub-rule (if it had
        // only one) is no longer the rule's only way in.
        let had = self.rules[slot as usize]
            .as_ref()
            .map_or(&[][..], |r| &r.subs[..]);
        let single = had.is_empty() && pattern.subs.len() == 1;
        if let [sid] = *had
            && !pattern.subs.is_empty()
        {
            self.clear_single(sid);
        }
        for sr in &pattern.subs {
            let mut conds = Vec::with_capacity(sr.conds.len());
            let mut required = 0;
            let mut simple = true;
            for c in &sr.conds {
                conds.push(self.intern_cond(c));
                if c.absent {
                    simple = false;
                } else {
                    required += 1;
                }
            }
            let req: Vec<CondId> = conds
                .iter()
                .zip(&sr.conds)
                .filter(|(_, pc)| !pc.absent)
                .map(|(c, _)| *c)
                .collect();
            let pivot = req
                .iter()
                .copied()
                .min_by_key(|c| self.selectivity(*c))
                .unwrap_or(NONE);
            let mut others: Vec<CondId> = req.iter().copied().filter(|c| *c != pivot).collect();
            others.sort_by_cached_key(|c| (self.selectivity(*c), *c));
            let key = others.first().copied().unwrap_or(NONE);
            let mut inline = [NONE; 3];
            for (o, c) in inline.iter_mut().zip(others.iter().skip(1)) {
                *o = *c;
            }
            let more = others.len() > 4;
            let (presences, required_conds) = if simple {
                (Box::default(), Box::default())
            } else {
                let presences = conds
                    .iter()
                    .filter_map(|c| self.conds[*c as usize].as_ref()?.presence)
                    .collect();
                (presences, req.into_boxed_slice())
            };
            let info = SubInfo {
                rule: slot,
                conds,
                required,
                others,
                pivot,
                simple,
                presences,
                required_conds,
            };
            let sid = alloc(&mut self.subs, &mut self.free_subs, info);
            let entry = PivotEntry {
                sub: sid,
                rule: slot,
                id,
                others: inline,
                more,
                single,
                whole: simple && !more,
            };
            if let Some(Some(ci)) = self.conds.get_mut(pivot as usize) {
                let gi = match ci.group_index.get(&key) {
                    Some(&gi) => gi as usize,
                    None => {
                        ci.pivot_groups.push(PivotGroup {
                            key,
                            entries: Vec::new(),
                        });
                        let gi = ci.pivot_groups.len() - 1;
                        ci.group_index.insert(key, gi as u32);
                        gi
                    }
                };
                ci.pivot_groups[gi].entries.push(entry);
                ci.pivot_count += 1;
                self.index_cond(pivot);
                self.refresh_head(pivot);
            }
            if required == 0 {
                self.always.push(sid);
            }
            if let Some(r) = self.rules[slot as usize].as_mut() {
                r.subs.push(sid);
            }
        }
    }

    /// Removes every pattern added under `id`. Returns whether the id was present.
    /// Incremental like [`add`](Self::add).
    pub fn remove(&mut self, id: RuleId) -> bool {
        let Some(slot) = self.by_id.remove(&id) else {
            return false;
        };
        let Some(rule) = self.rules[slot as usize].take() else {
            return false;
        };
        self.free_rules.push(slot);
        for sid in rule.subs {
            let Some(sub) = self.subs[sid as usize].take() else {
                continue;
            };
            self.free_subs.push(sid);
            if sub.required == 0 {
                self.always.retain(|s| *s != sid);
            }
            let key = sub.others.first().copied().unwrap_or(NONE);
            if let Some(Some(ci)) = self.conds.get_mut(sub.pivot as usize)
                && let Some(&gi) = ci.group_index.get(&key)
                && let Some(g) = ci.pivot_groups.get_mut(gi as usize)
                && let Some(p) = g.entries.iter().position(|e| e.sub == sid)
            {
                g.entries.swap_remove(p);
                ci.pivot_count -= 1;
                if g.entries.is_empty() {
                    ci.pivot_groups.swap_remove(gi as usize);
                    ci.group_index.remove(&key);
                    if let Some(moved) = ci.pivot_groups.get(gi as usize) {
                        ci.group_index.insert(moved.key, gi);
                    }
                }
                if ci.pivot_count == 0 {
                    self.unindex_cond(sub.pivot);
                }
                self.refresh_head(sub.pivot);
            }
            for c in sub.conds {
                self.release_cond(c);
            }
        }
        true
    }

    /// Clears the `single` flag of sub-rule `sid`'s pivot entry: its rule
    /// gained another alternative.
    fn clear_single(&mut self, sid: SubId) {
        let Some(Some(sub)) = self.subs.get(sid as usize) else {
            return;
        };
        let (pivot, key) = (sub.pivot, sub.others.first().copied().unwrap_or(NONE));
        if let Some(Some(ci)) = self.conds.get_mut(pivot as usize)
            && let Some(&gi) = ci.group_index.get(&key)
            && let Some(g) = ci.pivot_groups.get_mut(gi as usize)
            && let Some(e) = g.entries.iter_mut().find(|e| e.sub == sid)
        {
            e.single = false;
            self.refresh_head(pivot);
        }
    }

    /// Brings condition `c`'s [`PivotHead`] in line with its pivot groups.
    fn refresh_head(&mut self, c: CondId) {
        let head = match self.conds.get(c as usize) {
            Some(Some(ci)) => match ci.pivot_groups.as_slice() {
                [] => PivotHead::NONE,
                [g] if g.entries.len() == 1 => PivotHead {
                    key: g.key,
                    entry: g.entries[0],
                },
                _ => PivotHead::NONE,
            },
            _ => PivotHead::NONE,
        };
        put_at(&mut self.heads, c, head, PivotHead::NONE);
    }

    /// Brings condition `c`'s [`CondBrief`] in line with its [`CondInfo`].
    fn refresh_brief(&mut self, c: CondId) {
        let brief = match self.conds.get(c as usize) {
            Some(Some(ci)) => CondBrief {
                field: ci.field,
                indexed: ci.indexed,
                batched: ci.batched,
            },
            _ => CondBrief::NONE,
        };
        put_at(&mut self.briefs, c, brief, CondBrief::NONE);
    }

    /// Estimated chance that a condition fires, as a sort key (smaller = rarer).
    /// Exact values on a field with many distinct exact values are the best
    /// pivots; ranges/prefixes next (preferring ones shared by few rules);
    /// `exists` and `anything-but` last.
    fn selectivity(&self, c: CondId) -> (u8, u64) {
        let Some(Some(ci)) = self.conds.get(c as usize) else {
            return (u8::MAX, u64::MAX);
        };
        let score = if ci.class == 0 {
            let distinct = self.fields[ci.field as usize].distinct_exact() as u64;
            (ci.ops.len() as u64 * 1_000_000) / (1 + distinct)
        } else {
            u64::from(ci.refs) * 1000 + u64::from(ci.pivot_count)
        };
        (ci.class, score)
    }

    fn intern_cond(&mut self, c: &Cond) -> CondId {
        let key = format!("{}\u{0}{:?}\u{0}{}", c.path, c.ops, c.absent);
        if let Some(&id) = self.intern.get(&key) {
            if let Some(ci) = self.conds[id as usize].as_mut() {
                ci.refs += 1;
            }
            return id;
        }
        let field = self.field_for(&c.path);
        let presence = if c.absent {
            Some(self.intern_cond(&Cond {
                path: c.path.clone(),
                ops: vec![Op::Exists],
                absent: false,
            }))
        } else {
            None
        };
        self.fields[field as usize].lazy += 1;
        let info = CondInfo {
            field,
            ops: c.ops.clone(),
            slots: Vec::new(),
            absent: c.absent,
            presence,
            refs: 1,
            pivot_groups: Vec::new(),
            group_index: FxMap::default(),
            pivot_count: 0,
            class: c
                .ops
                .iter()
                .map(|op| match op {
                    Op::ExactStr(_)
                    | Op::ExactNum(_)
                    | Op::ExactBool(_)
                    | Op::ExactNull
                    | Op::EqIc(_) => 0,
                    Op::Ip(r) if r.lo == r.hi => 0,
                    Op::Exists
                    | Op::AbStr(_)
                    | Op::AbNum(_)
                    | Op::AbPrefix(_)
                    | Op::AbSuffix(_)
                    | Op::AbIc(_)
                    | Op::AbWildcard(_) => 2,
                    _ => 1,
                })
                .max()
                .unwrap_or(2),
            indexed: false,
            batched: false,
            key: key.clone(),
        };
        let id = alloc(&mut self.conds, &mut self.free_conds, info);
        self.intern.insert(key, id);
        self.batch_add(id);
        self.refresh_brief(id);
        id
    }

    /// Puts a lazily evaluated condition into its field's batch index, when its
    /// operators are selective (no `exists`, no `anything-but`).
    fn batch_add(&mut self, id: CondId) {
        let Some(Some(ci)) = self.conds.get_mut(id as usize) else {
            return;
        };
        if ci.indexed || ci.batched || !batchable(&ci.ops) {
            return;
        }
        ci.batched = true;
        self.fields[ci.field as usize].batch_insert(&ci.ops, id);
        self.refresh_brief(id);
    }

    fn batch_remove(&mut self, id: CondId) {
        let Some(Some(ci)) = self.conds.get_mut(id as usize) else {
            return;
        };
        if ci.batched {
            ci.batched = false;
            self.fields[ci.field as usize].batch_remove(&ci.ops, id);
            self.refresh_brief(id);
        }
    }

    /// Puts a condition's operators into its field index (it became a pivot).
    fn index_cond(&mut self, id: CondId) {
        self.batch_remove(id);
        let Some(Some(ci)) = self.conds.get_mut(id as usize) else {
            return;
        };
        if ci.indexed {
            return;
        }
        ci.indexed = true;
        self.fields[ci.field as usize].lazy -= 1;
        let mut slots = Vec::with_capacity(ci.ops.len());
        for op in &ci.ops {
            let is_ab = matches!(
                op,
                Op::AbStr(_)
                    | Op::AbNum(_)
                    | Op::AbPrefix(_)
                    | Op::AbSuffix(_)
                    | Op::AbIc(_)
                    | Op::AbWildcard(_)
            );
            slots.push(if is_ab {
                self.free_ab.pop().unwrap_or_else(|| {
                    self.ab_cap += 1;
                    self.ab_cap - 1
                })
            } else {
                NONE
            });
        }
        let f = &mut self.fields[ci.field as usize];
        for (op, s) in ci.ops.iter().zip(&slots) {
            f.insert(op, id, *s);
        }
        ci.slots = slots;
        self.refresh_brief(id);
    }

    /// Takes a condition's operators out of its field index.
    fn unindex_cond(&mut self, id: CondId) {
        let Some(Some(ci)) = self.conds.get_mut(id as usize) else {
            return;
        };
        if !ci.indexed {
            return;
        }
        ci.indexed = false;
        let f = &mut self.fields[ci.field as usize];
        f.lazy += 1;
        for (op, s) in ci.ops.iter().zip(&ci.slots) {
            f.remove(op, id, *s);
            if *s != NONE {
                self.free_ab.push(*s);
            }
        }
        ci.slots.clear();
        self.refresh_brief(id);
        self.batch_add(id);
    }

    fn release_cond(&mut self, id: CondId) {
        let Some(ci) = self.conds[id as usize].as_mut() else {
            return;
        };
        ci.refs -= 1;
        if ci.refs > 0 {
            return;
        }
        self.batch_remove(id);
        let Some(ci) = self.conds[id as usize].take() else {
            return;
        };
        self.intern.remove(&ci.key);
        if !ci.indexed {
            self.fields[ci.field as usize].lazy -= 1;
        }
        if ci.indexed {
            let f = &mut self.fields[ci.field as usize];
            for (op, s) in ci.ops.iter().zip(&ci.slots) {
                f.remove(op, id, *s);
                if *s != NONE {
                    self.free_ab.push(*s);
                }
            }
        }
        self.free_conds.push(id);
        self.refresh_brief(id);
        if let Some(p) = ci.presence {
            self.release_cond(p);
        }
        self.release_field(ci.field);
    }

    fn field_for(&mut self, path: &str) -> FieldId {
        let mut n = ROOT;
        for seg in path.as_bytes().split(|b| *b == b'.') {
            n = match self.keys.get(n, &KeyRef::new(seg)) {
                Some(c) => c,
                None => {
                    let node = Node {
                        parent: n,
                        seg: seg.into(),
                        ..Node::default()
                    };
                    let c = alloc_plain(&mut self.nodes, &mut self.free_nodes, node);
                    self.keys.insert(n, seg, c);
                    let parent = &mut self.nodes[n as usize];
                    parent.children += 1;
                    if parent.children == 1 && n != ROOT {
                        let gp = parent.parent;
                        self.nodes[gp as usize].deep += 1;
                    }
                    c
                }
            };
        }
        if let Some(f) = self.nodes[n as usize].field {
            self.fields[f as usize].refs += 1;
            return f;
        }
        let mut fi = FieldIndex::default();
        fi.refs = 1;
        fi.node = n;
        let f = alloc_plain(&mut self.fields, &mut self.free_fields, fi);
        self.nodes[n as usize].field = Some(f);
        let mut k = n;
        loop {
            self.nodes[k as usize].refs += 1;
            if k == ROOT {
                break;
            }
            k = self.nodes[k as usize].parent;
        }
        f
    }

    fn release_field(&mut self, f: FieldId) {
        let fi = &mut self.fields[f as usize];
        fi.refs -= 1;
        if fi.refs > 0 {
            return;
        }
        let n = fi.node;
        self.fields[f as usize] = FieldIndex::default();
        self.free_fields.push(f);
        self.nodes[n as usize].field = None;
        let mut k = n;
        loop {
            let node = &mut self.nodes[k as usize];
            node.refs -= 1;
            if k == ROOT {
                break;
            }
            let parent = node.parent;
            if node.refs == 0 {
                let seg = std::mem::take(&mut node.seg);
                *node = Node::default();
                self.keys.remove(parent, &seg);
                let p = &mut self.nodes[parent as usize];
                p.children -= 1;
                if p.children == 0 && parent != ROOT {
                    let gp = p.parent;
                    self.nodes[gp as usize].deep -= 1;
                }
                self.free_nodes.push(k);
            }
            k = parent;
        }
    }

    /// Child of `node` for an event key; keys containing dots walk several
    /// segments (event-ruler joins path segments with '.').
    #[inline(always)]
    pub(crate) fn child(&self, node: NodeId, key: &KeyRef<'_>) -> Option<NodeId> {
        // Trie segments never contain dots, so a dotted key can only match by
        // walking its segments; try the common case first.
        if let Some(c) = self.keys.get(node, key) {
            return Some(c);
        }
        // a dotted key needs at least two trie levels below `node`
        if self.nodes[node as usize].deep == 0 || !key.has_dot() {
            return None;
        }
        self.dotted_child(node, key.bytes)
    }

    #[cold]
    fn dotted_child(&self, node: NodeId, key: &[u8]) -> Option<NodeId> {
        let mut n = node;
        for seg in key.split(|b| *b == b'.') {
            n = self.keys.get(n, &KeyRef::new(seg))?;
        }
        Some(n)
    }

    /// Match one JSON document given as UTF-8 bytes; appends matching rule ids
    /// (deduplicated, any order) to `out`. Uses a thread-local scratch.
    ///
    /// On error nothing is appended.
    pub fn matches_json(&self, doc: &[u8], out: &mut Vec<RuleId>) -> Result<(), MatchError> {
        with_scratch(|s| self.matches_json_with(s, doc, out))
    }

    /// Like [`matches_json`](Self::matches_json) with a caller-provided scratch
    /// (no thread-local access; reuse one scratch per worker for zero allocation).
    pub fn matches_json_with(
        &self,
        scratch: &mut MatchScratch,
        doc: &[u8],
        out: &mut Vec<RuleId>,
    ) -> Result<(), MatchError> {
        self.begin(scratch);
        let MatchScratch {
            run, eval, bufs, ..
        } = scratch;
        scan::scan_document(self, doc, run, eval, bufs)?;
        self.finish(scratch, doc, out);
        Ok(())
    }

    /// Match a parsed document; appends matching rule ids (deduplicated, any
    /// order) to `out`. Numbers are read through serde_json's shortest
    /// round-trip text (exact for integers and for decimals with up to 15
    /// significant digits). Parts nested deeper than
    /// [`MAX_DOCUMENT_DEPTH`](super::MAX_DOCUMENT_DEPTH) are ignored.
    pub fn matches_value(&self, doc: &serde_json::Value, out: &mut Vec<RuleId>) {
        with_scratch(|s| self.matches_value_with(s, doc, out))
    }

    /// Like [`matches_value`](Self::matches_value) with a caller-provided scratch.
    pub fn matches_value_with(
        &self,
        scratch: &mut MatchScratch,
        doc: &serde_json::Value,
        out: &mut Vec<RuleId>,
    ) {
        self.begin(scratch);
        let MatchScratch {
            run, eval, bufs, ..
        } = scratch;
        scan::walk_value(self, doc, ROOT, 0, run, eval, &mut bufs.num);
        self.finish(scratch, &[], out);
    }

    fn begin(&self, s: &mut MatchScratch) {
        s.verify.budget = MATCH_BUDGET;
        s.verify.exhausted = false;
        let r = &mut s.run;
        if r.epoch == u32::MAX {
            r.cond_slots
                .iter_mut()
                .for_each(|c| *c = CondSlot::default());
            r.sorted_at.iter_mut().for_each(|c| c.0 = 0);
            r.flat.iter_mut().for_each(|c| c.epoch = 0);
            r.field_slots.iter_mut().for_each(|c| c.epoch = 0);
            r.field_asks.iter_mut().for_each(|c| c.0 = 0);
            r.field_batched.iter_mut().for_each(|c| *c = 0);
            r.rule_seen.iter_mut().for_each(|c| *c = 0);
            r.epoch = 0;
        }
        r.epoch += 1;
        r.hits.clear();
        r.memb.clear();
        r.stack.clear();
        r.fired.clear();
        r.leaves.clear();
        r.arena.clear();
        r.sorted.clear();
        r.next_array = 0;
        if r.cond_slots.len() < self.conds.len() {
            r.cond_slots.resize(self.conds.len(), CondSlot::default());
        }
        if r.sorted_at.len() < self.conds.len() {
            r.sorted_at.resize(self.conds.len(), (0, 0, 0));
            r.flat.resize(self.conds.len(), FlatMask::default());
        }
        if r.field_slots.len() < self.fields.len() {
            r.field_slots
                .resize(self.fields.len(), FieldSlot::default());
            r.field_asks.resize(self.fields.len(), (0, 0));
            r.field_batched.resize(self.fields.len(), 0);
        }
        if r.rule_seen.len() < self.rules.len() {
            r.rule_seen.resize(self.rules.len(), 0);
        }
        if s.eval.ab_mark.len() < self.ab_cap as usize {
            s.eval.ab_mark.resize(self.ab_cap as usize, 0);
        }
    }

    /// Records that condition `c` is satisfied by a value with membership span
    /// `(ms, ml)`. `pivot`: `c` is some sub-rule's pivot (true exactly for the
    /// conditions in the field indexes, i.e. hits found by the scan), so its
    /// first hit puts it on the list of fired pivots.
    #[inline(always)]
    pub(crate) fn hit(&self, r: &mut RunState, c: CondId, (ms, ml): (u32, u32), pivot: bool) {
        let hi = r.hits.len() as u32;
        let epoch = r.epoch;
        let Some(slot) = r.cond_slots.get_mut(c as usize) else {
            return;
        };
        // Hits are prepended: their order does not matter (`gather` sorts
        // them), and no tail pointer keeps the slot at 16 bytes.
        if slot.epoch == epoch {
            let next = slot.head;
            slot.head = hi;
            slot.arr |= ml > 0;
            r.hits.push(Hit { ms, ml, next });
            return;
        }
        slot.epoch = epoch;
        slot.head = hi;
        slot.arr = ml > 0;
        r.hits.push(Hit { ms, ml, next: NONE });
        if pivot {
            r.fired.push(c);
        }
    }

    /// Whether condition `c` has a satisfying value in this event; evaluates it
    /// against the recorded values of its field the first time it is asked.
    #[inline(always)]
    fn ensure(&self, r: &mut RunState, es: &mut EvalScratch, doc: &[u8], c: CondId) -> bool {
        let epoch = r.epoch;
        let Some(slot) = r.cond_slots.get(c as usize) else {
            return false;
        };
        if slot.epoch == epoch {
            return true;
        }
        if slot.evaluated == epoch {
            return false;
        }
        self.ensure_slow(r, es, doc, c)
    }

    /// First request for a lazily evaluated condition in this event.
    #[inline(never)]
    fn ensure_slow(&self, r: &mut RunState, es: &mut EvalScratch, doc: &[u8], c: CondId) -> bool {
        let epoch = r.epoch;
        let Some(&brief) = self.briefs.get(c as usize) else {
            return false;
        };
        if brief.indexed || brief.field == NONE {
            // evaluated during the scan: it did not fire
            r.cond_slots[c as usize].evaluated = epoch;
            return false;
        }
        let f = brief.field as usize;
        if brief.batched {
            let fired = |r: &RunState| r.cond_slots[c as usize].epoch == epoch;
            if r.field_batched[f] == epoch {
                r.cond_slots[c as usize].evaluated = epoch;
                return fired(r);
            }
            // Once a good share of the field's batchable conditions has been
            // asked for in this event, answer all of them with one pass of the
            // recorded values through the field's batch index.
            let asks = &mut r.field_asks[f];
            if asks.0 != epoch {
                *asks = (epoch, 0);
            }
            asks.1 += 1;
            let n = self.fields[f].batch_count;
            if asks.1 >= BATCH_MIN_ASKS.max(n / BATCH_SHARE) {
                self.run_batch(r, es, doc, f);
                r.cond_slots[c as usize].evaluated = epoch;
                return fired(r);
            }
        }
        r.cond_slots[c as usize].evaluated = epoch;
        let fs = r.field_slots[f];
        if fs.epoch != epoch {
            return false;
        }
        let Some(Some(ci)) = self.conds.get(c as usize) else {
            return false;
        };
        if ci.ops.is_empty() {
            return false;
        }
        let mut l = fs.head;
        while l != NONE {
            let li = l as usize;
            let rec = r.leaves[li];
            l = rec.next;
            let range = rec.bs as usize..(rec.bs + rec.bl) as usize;
            let bytes = if rec.in_doc {
                doc.get(range)
            } else {
                r.arena.get(range)
            };
            let ok = match rec.kind {
                LeafKind::Num => {
                    let text = bytes.unwrap_or(b"0");
                    // parse once per value and event, whatever asks
                    let sc = match rec.scaled {
                        UNPARSED => {
                            let sc = number::scaled(text);
                            r.leaves[li].scaled = sc.unwrap_or(UNSCALED);
                            sc
                        }
                        UNSCALED => None,
                        x => Some(x),
                    };
                    ci.ops.iter().any(|op| op.matches_num(text, sc))
                }
                kind => {
                    let leaf = match kind {
                        LeafKind::Str => match bytes {
                            Some(s) => Leaf::Str(s),
                            None => continue,
                        },
                        LeafKind::True => Leaf::Bool(true),
                        LeafKind::False => Leaf::Bool(false),
                        _ => Leaf::Null,
                    };
                    ci.ops.iter().any(|op| op.matches(&leaf))
                }
            };
            if ok {
                self.hit(r, c, (rec.ms, rec.ml), false);
            }
        }
        r.cond_slots[c as usize].epoch == epoch
    }

    /// Evaluates every batchable lazy condition of field `f` against the
    /// field's recorded values (skipping conditions already evaluated one by one).
    #[inline(never)]
    fn run_batch(&self, r: &mut RunState, es: &mut EvalScratch, doc: &[u8], f: usize) {
        let epoch = r.epoch;
        r.field_batched[f] = epoch;
        let fs = r.field_slots[f];
        let Some(batch) = self.fields.get(f).and_then(|x| x.batch.as_deref()) else {
            return;
        };
        // (no recorded values: nothing fires; later asks end in `ensure_slow`
        // at the `field_batched` check)
        if fs.epoch != epoch {
            return;
        }
        // `hit` needs the run state; the copied bytes are only read
        let arena = std::mem::take(&mut r.arena);
        let mut l = fs.head;
        while l != NONE {
            let rec = r.leaves[l as usize];
            l = rec.next;
            let range = rec.bs as usize..(rec.bs + rec.bl) as usize;
            let bytes = if rec.in_doc {
                doc.get(range)
            } else {
                arena.get(range)
            };
            let leaf = match rec.kind {
                LeafKind::Str => match bytes {
                    Some(b) => Leaf::Str(b),
                    None => continue,
                },
                LeafKind::Num => Leaf::Num(bytes.unwrap_or(b"0")),
                LeafKind::True => Leaf::Bool(true),
                LeafKind::False => Leaf::Bool(false),
                LeafKind::Null => Leaf::Null,
            };
            let span = (rec.ms, rec.ml);
            batch.eval(leaf, es, &mut |c2| {
                if r.cond_slots
                    .get(c2 as usize)
                    .is_some_and(|s| s.evaluated != epoch)
                {
                    self.hit(r, c2, span, false);
                }
            });
        }
        r.arena = arena;
        // every condition of the batch is now answered: later asks take the
        // inline memo path of `ensure`
        for &c2 in &self.fields[f].batch_conds {
            if let Some(s) = r.cond_slots.get_mut(c2 as usize) {
                s.evaluated = epoch;
            }
        }
    }

    fn finish(&self, s: &mut MatchScratch, doc: &[u8], out: &mut Vec<RuleId>) {
        let mut i = 0;
        while i < s.run.fired.len() {
            let c = s.run.fired[i];
            i += 1;
            let Some(head) = self.heads.get(c as usize) else {
                continue;
            };
            if head.entry.sub != NONE {
                let key = head.key;
                if key != NONE && !self.ensure(&mut s.run, &mut s.eval, doc, key) {
                    continue;
                }
                self.try_entry(s, doc, c, key, &head.entry, out);
                continue;
            }
            let Some(Some(ci)) = self.conds.get(c as usize) else {
                continue;
            };
            for g in &ci.pivot_groups {
                if g.key != NONE && !self.ensure(&mut s.run, &mut s.eval, doc, g.key) {
                    continue;
                }
                for e in &g.entries {
                    self.try_entry(s, doc, c, g.key, e, out);
                }
            }
        }
        let epoch = s.run.epoch;
        for &sid in &self.always {
            let Some(sub) = &self.subs[sid as usize] else {
                continue;
            };
            if s.run.rule_seen[sub.rule as usize] == epoch {
                continue;
            }
            if self.sub_matches(sub, s, doc) {
                s.run.rule_seen[sub.rule as usize] = epoch;
                if let Some(r) = &self.rules[sub.rule as usize] {
                    out.push(r.id);
                }
            }
        }
    }

    /// One candidate of fired pivot `c` whose group key (`key`) holds: accepts
    /// its rule when the entry's other conditions hold and agree on arrays.
    #[inline(always)]
    fn try_entry(
        &self,
        s: &mut MatchScratch,
        doc: &[u8],
        c: CondId,
        key: CondId,
        e: &PivotEntry,
        out: &mut Vec<RuleId>,
    ) {
        let epoch = s.run.epoch;
        if !e.single && s.run.rule_seen[e.rule as usize] == epoch {
            return;
        }
        if !e
            .others
            .iter()
            .all(|o| *o == NONE || self.ensure(&mut s.run, &mut s.eval, doc, *o))
        {
            return;
        }
        if e.whole {
            let conds = [c, key, e.others[0], e.others[1], e.others[2]];
            match simple_consistent(&conds, &mut s.run) {
                Some(true) => {
                    if !e.single {
                        s.run.rule_seen[e.rule as usize] = epoch;
                    }
                    out.push(e.id);
                    return;
                }
                Some(false) => return,
                // nested or several arrays: the general search
                None => {}
            }
        }
        let Some(sub) = &self.subs[e.sub as usize] else {
            return;
        };
        if e.more
            && !sub.others[4..]
                .iter()
                .all(|o| self.ensure(&mut s.run, &mut s.eval, doc, *o))
        {
            return;
        }
        if self.sub_matches(sub, s, doc) {
            s.run.rule_seen[sub.rule as usize] = epoch;
            out.push(e.id);
        }
    }

    #[inline]
    fn sub_matches(&self, sub: &SubInfo, s: &mut MatchScratch, doc: &[u8]) -> bool {
        if sub.simple {
            if sub.conds.len() == 1 {
                return true;
            }
            if let Some(ok) = simple_consistent(&sub.conds, &mut s.run) {
                return ok;
            }
        } else if sub
            .presences
            .iter()
            .all(|p| !self.ensure(&mut s.run, &mut s.eval, doc, *p))
        {
            // No `exists: false` path has any value in this event, so each
            // of those conditions holds whatever the others picked, and the
            // sub-rule is as simple as its required conditions. This skips
            // the general search for the usual case (`coupon` absent), which
            // cost over 1,500 instructions per candidate.
            if let Some(ok) = simple_consistent(&sub.required_conds, &mut s.run) {
                return ok;
            }
        }
        self.verify(sub, s, doc)
    }

    /// Array-consistency check (event-ruler ACFinder semantics) for one sub-rule
    /// whose counted conditions all fired: pick one hit per condition, in path
    /// order, so that all picked hits agree on the element index of every array
    /// they share; an `exists: false` condition holds when no value of its path
    /// is consistent with the hits picked before it.
    fn verify(&self, sub: &SubInfo, s: &mut MatchScratch, doc: &[u8]) -> bool {
        let MatchScratch {
            run,
            verify: v,
            eval: es,
            ..
        } = s;
        let n = sub.conds.len();
        while v.cands.len() < n {
            v.cands.push(Vec::new());
        }
        v.pos.clear();
        v.abs.clear();
        let mut kinds = std::mem::take(&mut v.kinds);
        kinds.clear();
        for &c in sub.conds.iter() {
            let Some(ci) = &self.conds[c as usize] else {
                return false;
            };
            let positive = !ci.ops.is_empty();
            if positive {
                self.ensure(run, es, doc, c);
            }
            v.pos.push(gather(run, c));
            let mut abs = (0, 0);
            if ci.absent
                && let Some(p) = ci.presence
            {
                self.ensure(run, es, doc, p);
                abs = gather(run, p);
            }
            v.abs.push(abs);
            kinds.push((positive, ci.absent));
        }
        v.m.clear();
        v.steps = 0;
        if !v.memo.is_empty() {
            v.memo.clear();
        }
        v.kinds = kinds;
        dfs(0, n, &run.memb, &run.sorted, v)
    }
}

/// Array consistency of a simple sub-rule (no `exists: false`) whose counted
/// conditions all fired, for the common shape where every hit in an array is
/// exactly one array level deep and all in the same array: the conditions need
/// a common element index (an AND of index bitmasks). `None` when the shape is
/// anything else (nested arrays, indexes ≥ 64, several arrays, a condition
/// mixing array and non-array hits); the general search handles those.
/// `conds` may contain `NONE` (skipped).
fn flat_consistent(conds: &[CondId], r: &mut RunState) -> Option<bool> {
    // (array id, element indexes common to the conditions seen so far)
    let mut common = (NONE, u64::MAX);
    for &c in conds {
        if c == NONE {
            continue;
        }
        let slot = *r.cond_slots.get(c as usize)?;
        if !slot.arr {
            continue;
        }
        let (arr, mask) = flat_mask(r, c, slot)?;
        if common.0 == NONE {
            common.0 = arr;
        } else if common.0 != arr {
            // conditions in different arrays: rare, left to the general search
            return None;
        }
        common.1 &= mask;
        if common.1 == 0 {
            return Some(false);
        }
    }
    Some(true)
}

/// Condition `c`'s hits as (array id, bitmask of element indexes), when they
/// are all exactly one array level deep in one array at indexes below 64;
/// memoised per event (keyed by the newest hit, so a later hit recomputes).
///
/// Why memoised: the entries of a pivot group share the group key, and
/// sub-rules on one array field share few distinct conditions, so without
/// it the same hit lists were walked once per candidate.
#[inline]
fn flat_mask(r: &mut RunState, c: CondId, slot: CondSlot) -> Option<(u32, u64)> {
    let memo = r.flat.get(c as usize)?;
    if memo.epoch == r.epoch && memo.head == slot.head {
        return (memo.arr != NONE).then_some((memo.arr, memo.mask));
    }
    let (mut arr, mut mask) = (NONE, 0u64);
    let mut h = slot.head;
    let mut flat = true;
    while h != NONE {
        let hit = r.hits.get(h as usize)?;
        let &(a, i) = r.memb.get(hit.ms as usize)?;
        if hit.ml != 1 || i >= 64 || (arr != NONE && a != arr) {
            flat = false;
            break;
        }
        arr = a;
        mask |= 1 << i;
        h = hit.next;
    }
    if !flat {
        arr = NONE;
    }
    r.flat[c as usize] = FlatMask {
        epoch: r.epoch,
        head: slot.head,
        arr,
        mask,
    };
    flat.then_some((arr, mask))
}

/// Array consistency of a simple sub-rule (no `exists: false`) whose
/// conditions (`NONE` skipped) all fired, where it is cheap: hits of a single
/// condition are always consistent with hits outside arrays, so only two or
/// more conditions with array hits need a check, and the common one-array
/// shape is [`flat_consistent`]. `None`: the general search must decide.
#[inline]
fn simple_consistent(conds: &[CondId], r: &mut RunState) -> Option<bool> {
    // One pass up to the second condition with array hits; the check then
    // starts at the first one (conditions before it have none).
    let mut first = None;
    for (i, &c) in conds.iter().enumerate() {
        if c == NONE || !r.cond_slots.get(c as usize).is_some_and(|s| s.arr) {
            continue;
        }
        match first {
            None => first = Some(i),
            Some(f) => return flat_consistent(&conds[f..], r),
        }
    }
    Some(true)
}

/// Operators whose hits are proportional to matching values (no `exists`, no
/// `anything-but`): conditions made only of them can be batch-evaluated.
fn batchable(ops: &[Op]) -> bool {
    !ops.is_empty()
        && ops.iter().all(|op| {
            !matches!(
                op,
                Op::Exists
                    | Op::AbStr(_)
                    | Op::AbNum(_)
                    | Op::AbPrefix(_)
                    | Op::AbSuffix(_)
                    | Op::AbIc(_)
                    | Op::AbWildcard(_)
            )
        })
}

fn alloc<T>(v: &mut Vec<Option<T>>, free: &mut Vec<u32>, x: T) -> u32 {
    if let Some(i) = free.pop() {
        v[i as usize] = Some(x);
        i
    } else {
        v.push(Some(x));
        (v.len() - 1) as u32
    }
}

/// Sets `v[i]` to `x` in a dense array by id, growing it with `fill`.
fn put_at<T: Copy>(v: &mut Vec<T>, i: u32, x: T, fill: T) {
    let i = i as usize;
    if v.len() <= i {
        v.resize(i + 1, fill);
    }
    v[i] = x;
}

fn alloc_plain<T>(v: &mut Vec<T>, free: &mut Vec<u32>, x: T) -> u32 {
    if let Some(i) = free.pop() {
        v[i as usize] = x;
        i
    } else {
        v.push(x);
        (v.len() - 1) as u32
    }
}

/// Hit list of a condition for this event, sorted by (outermost array, index):
/// a range of `run.sorted`, computed once per condition and event.
fn gather(run: &mut RunState, c: CondId) -> (u32, u32) {
    let epoch = run.epoch;
    let (e, st, len) = run.sorted_at[c as usize];
    if e == epoch {
        return (st, len);
    }
    let start = run.sorted.len();
    let slot = run.cond_slots[c as usize];
    if slot.epoch == epoch {
        let mut h = slot.head;
        while h != NONE {
            let hit = run.hits[h as usize];
            run.sorted.push((hit.ms, hit.ml));
            h = hit.next;
        }
        let memb = &run.memb;
        run.sorted[start..].sort_by_key(|&(ms, ml)| key0(memb, ms, ml));
    }
    let r = (start as u32, (run.sorted.len() - start) as u32);
    run.sorted_at[c as usize] = (epoch, r.0, r.1);
    r
}

#[inline]
fn key0(memb: &[(u32, u32)], ms: u32, ml: u32) -> (u32, u32) {
    if ml == 0 { (0, 0) } else { memb[ms as usize] }
}

#[inline]
fn span(memb: &[(u32, u32)], (ms, ml): (u32, u32)) -> &[(u32, u32)] {
    &memb[ms as usize..(ms + ml) as usize]
}

#[inline]
fn consistent(m: &[(u32, u32)], h: &[(u32, u32)]) -> bool {
    h.iter()
        .all(|&(a, i)| m.iter().all(|&(b, j)| a != b || i == j))
}

/// Pushes the indices of hits in `list` consistent with `m` (or stops at the first
/// one when `first_only`). Uses the (array, index) sort order to jump straight to
/// the element picked so far instead of scanning every element.
fn candidates(
    list: &[(u32, u32)],
    memb: &[(u32, u32)],
    m: &[(u32, u32)],
    first_only: bool,
    out: &mut Vec<u32>,
) -> u64 {
    out.clear();
    let mut examined = 0u64;
    let mut i = 0;
    while i < list.len() {
        let (a, _) = key0(memb, list[i].0, list[i].1);
        let end = i + list[i..].partition_point(|h| key0(memb, h.0, h.1).0 == a);
        let (lo, hi) = match m.iter().find(|p| p.0 == a) {
            Some(&(_, idx)) if a != 0 => {
                let r = &list[i..end];
                (
                    i + r.partition_point(|h| key0(memb, h.0, h.1).1 < idx),
                    i + r.partition_point(|h| key0(memb, h.0, h.1).1 <= idx),
                )
            }
            _ => (i, end),
        };
        for (j, h) in list.iter().enumerate().take(hi).skip(lo) {
            examined += 1;
            if consistent(m, span(memb, *h)) {
                out.push(j as u32);
                if first_only {
                    return examined;
                }
            }
        }
        i = end;
    }
    examined
}

/// Work after which the depth-first search starts remembering failed states.
const MEMO_AFTER_STEPS: u32 = 512;

fn dfs(
    k: usize,
    n: usize,
    memb: &[(u32, u32)],
    sorted: &[(u32, u32)],
    v: &mut VerifyScratch,
) -> bool {
    if k == n {
        return true;
    }
    if v.budget == 0 {
        v.exhausted = true;
        return false;
    }
    v.budget -= 1;
    v.steps = v.steps.saturating_add(1);
    let memo_key = if v.steps > MEMO_AFTER_STEPS {
        let mut key: Vec<u32> = Vec::with_capacity(1 + 2 * v.m.len());
        key.push(k as u32);
        let mut ms = v.m.clone();
        ms.sort_unstable();
        for (a, i) in ms {
            key.push(a);
            key.push(i);
        }
        if v.memo.contains(&key) {
            return false;
        }
        Some(key)
    } else {
        None
    };
    let (positive, absent) = v.kinds[k];
    let (ps, pl) = v.pos[k];
    let pos = &sorted[ps as usize..(ps + pl) as usize];
    if positive {
        let mut cands = std::mem::take(&mut v.cands[k]);
        let examined = candidates(pos, memb, &v.m, false, &mut cands);
        v.budget = v.budget.saturating_sub(examined);
        for &j in &cands {
            let h = pos[j as usize];
            let save = v.m.len();
            for &p in span(memb, h) {
                if !v.m.contains(&p) {
                    v.m.push(p);
                }
            }
            if dfs(k + 1, n, memb, sorted, v) {
                v.cands[k] = cands;
                return true;
            }
            v.m.truncate(save);
        }
        v.cands[k] = cands;
    }
    if absent {
        let mut cands = std::mem::take(&mut v.cands[k]);
        let (as_, al) = v.abs[k];
        let examined = candidates(
            &sorted[as_ as usize..(as_ + al) as usize],
            memb,
            &v.m,
            true,
            &mut cands,
        );
        v.budget = v.budget.saturating_sub(examined);
        let present = !cands.is_empty();
        v.cands[k] = cands;
        if !present && dfs(k + 1, n, memb, sorted, v) {
            return true;
        }
    }
    if let Some(key) = memo_key {
        v.memo.insert(key);
    }
    false
}

/// Per-event state of one condition, 16 bytes so that `ensure`'s two
/// questions (fired? already evaluated?) cost one load.
#[derive(Clone, Copy, Default)]
pub(crate) struct CondSlot {
    /// epoch of the condition's first hit in this event (it fired)
    epoch: u32,
    /// epoch of its lazy evaluation (or of learning that it did not fire)
    evaluated: u32,
    /// newest hit; the list runs through `Hit::next`
    head: u32,
    /// some hit is inside an array
    arr: bool,
}

const _: () = assert!(std::mem::size_of::<CondSlot>() == 16);

/// A condition's hits as one array's element bitmask (see [`flat_mask`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct FlatMask {
    epoch: u32,
    /// `CondSlot::head` when computed
    head: u32,
    /// the array, or `NONE` when the hits are not of that shape
    arr: u32,
    mask: u64,
}

#[derive(Clone, Copy, Default)]
pub(crate) struct FieldSlot {
    epoch: u32,
    head: u32,
    tail: u32,
}

/// `LeafRec::scaled` before the number was parsed.
const UNPARSED: i64 = i64::MIN;
/// `LeafRec::scaled` of a number outside the comparable range.
const UNSCALED: i64 = i64::MIN + 1;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    Str,
    Num,
    True,
    False,
    Null,
}

/// One recorded value at a rule path (for lazily evaluated conditions).
#[derive(Clone, Copy)]
pub(crate) struct LeafRec {
    kind: LeafKind,
    /// for numbers: the scaled value once computed (`UNPARSED` / `UNSCALED`)
    scaled: i64,
    /// the bytes `bs..bs + bl` are in the document (else in `RunState::arena`)
    in_doc: bool,
    bs: u32,
    bl: u32,
    ms: u32,
    ml: u32,
    next: u32,
}

#[derive(Clone, Copy)]
pub(crate) struct Hit {
    ms: u32,
    ml: u32,
    next: u32,
}

/// Per-event state of the matching run.
#[derive(Default)]
pub(crate) struct RunState {
    epoch: u32,
    cond_slots: Vec<CondSlot>,
    hits: Vec<Hit>,
    /// array memberships of hit values: spans of (array id, element index)
    memb: Vec<(u32, u32)>,
    /// membership of the value being scanned
    pub(crate) stack: Vec<(u32, u32)>,
    pub(crate) next_array: u32,
    /// conditions that fired this event and are some sub-rule's pivot
    fired: Vec<CondId>,
    field_slots: Vec<FieldSlot>,
    /// per field: (epoch, number of lazy conditions asked for so far)
    field_asks: Vec<(u32, u32)>,
    /// per field: epoch of its batch evaluation
    field_batched: Vec<u32>,
    leaves: Vec<LeafRec>,
    /// bytes of recorded values that are not in the document
    arena: Vec<u8>,
    /// per condition: (epoch, start, len) of its sorted hit list in `sorted`
    sorted_at: Vec<(u32, u32, u32)>,
    sorted: Vec<(u32, u32)>,
    rule_seen: Vec<u32>,
    /// per condition: its memoised [`FlatMask`]
    flat: Vec<FlatMask>,
}

impl RunState {
    /// Membership span of the value being scanned (copied once per value).
    #[inline(always)]
    pub(crate) fn snapshot(&mut self) -> (u32, u32) {
        if self.stack.is_empty() {
            (0, 0)
        } else {
            let ms = self.memb.len() as u32;
            self.memb.extend_from_slice(&self.stack);
            (ms, self.stack.len() as u32)
        }
    }

    /// Remembers a value at field `f` for lazy evaluation (copying its bytes).
    #[inline]
    pub(crate) fn record(&mut self, f: u32, leaf: &Leaf<'_>, span: (u32, u32)) {
        let (kind, bytes): (LeafKind, &[u8]) = match leaf {
            Leaf::Str(s) => (LeafKind::Str, s),
            Leaf::Num(t) => (LeafKind::Num, t),
            Leaf::Bool(true) => (LeafKind::True, &[]),
            Leaf::Bool(false) => (LeafKind::False, &[]),
            Leaf::Null => (LeafKind::Null, &[]),
        };
        let bs = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.push_leaf(f, kind, false, bs, bs + bytes.len(), span);
    }

    /// Remembers a value at field `f` whose bytes are `doc[start..end]`.
    #[inline(always)]
    pub(crate) fn record_doc(
        &mut self,
        f: u32,
        kind: LeafKind,
        start: usize,
        end: usize,
        span: (u32, u32),
    ) {
        self.push_leaf(f, kind, true, start, end, span);
    }

    #[inline(always)]
    fn push_leaf(
        &mut self,
        f: u32,
        kind: LeafKind,
        in_doc: bool,
        start: usize,
        end: usize,
        (ms, ml): (u32, u32),
    ) {
        let li = self.leaves.len() as u32;
        self.leaves.push(LeafRec {
            kind,
            scaled: UNPARSED,
            in_doc,
            bs: start as u32,
            bl: (end - start) as u32,
            ms,
            ml,
            next: NONE,
        });
        let epoch = self.epoch;
        let Some(slot) = self.field_slots.get_mut(f as usize) else {
            return;
        };
        if slot.epoch == epoch {
            let t = slot.tail;
            slot.tail = li;
            self.leaves[t as usize].next = li;
        } else {
            *slot = FieldSlot {
                epoch,
                head: li,
                tail: li,
            };
        }
    }
}

#[derive(Default)]
struct VerifyScratch {
    pos: Vec<(u32, u32)>,
    abs: Vec<(u32, u32)>,
    cands: Vec<Vec<u32>>,
    kinds: Vec<(bool, bool)>,
    m: Vec<(u32, u32)>,
    steps: u32,
    memo: HashSet<Vec<u32>>,
    /// Work left for this document's array-consistency searches, in hits
    /// examined (see [`MATCH_BUDGET`]).
    budget: u64,
    /// A search ran out of budget during this document.
    exhausted: bool,
}

/// Buffers of the JSON scanner.
#[derive(Default)]
pub(crate) struct ScanBufs {
    pub(crate) string: Vec<u8>,
    pub(crate) key: Vec<u8>,
    pub(crate) skip: Vec<u8>,
    pub(crate) num: String,
}

/// Reusable per-thread (or per-worker) scratch memory for matching. Grows to the
/// size the matcher and the documents need, then stays allocated; nothing is
/// cleared between calls (epoch stamps make old entries stale).
#[derive(Default)]
pub struct MatchScratch {
    run: RunState,
    eval: EvalScratch,
    bufs: ScanBufs,
    verify: VerifyScratch,
}

impl MatchScratch {
    /// An empty scratch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether matching the last document stopped an array-consistency
    /// search for lack of budget ([`MATCH_BUDGET`]); the sub-rules it could
    /// not settle were treated as not matching.
    pub fn budget_exhausted(&self) -> bool {
        self.verify.exhausted
    }
}

/// Hits the array-consistency searches may examine per document, across all
/// rules. Ordinary events use a few dozen; an event built to make the search
/// explode (thousands of array elements under several fields of one
/// pattern) stops here after a few milliseconds instead of running for
/// hours and holding up every other rule of its bus.
pub const MATCH_BUDGET: u64 = 200_000;

impl std::fmt::Debug for MatchScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchScratch").finish_non_exhaustive()
    }
}

thread_local! {
    static SCRATCH: RefCell<MatchScratch> = RefCell::new(MatchScratch::new());
}

fn with_scratch<R>(mut f: impl FnMut(&mut MatchScratch) -> R) -> R {
    let r = SCRATCH
        .try_with(|c| c.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten();
    match r {
        Some(r) => r,
        // thread-local unavailable (thread teardown) or already borrowed
        None => f(&mut MatchScratch::new()),
    }
}
