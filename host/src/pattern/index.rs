//! Building blocks of the per-field value indexes: a fast-hash map, a
//! prefix/suffix map keyed by the distinct operand lengths, and an
//! incrementally updatable interval set (implicit interval tree).

use super::keys::KeyRef;

/// `HashMap` with rustc's fast hasher (`rustc-hash`). Maps are keyed by rule
/// operands only; event bytes are just looked up, so hash flooding cannot
/// grow them.
pub(crate) type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Removes every element equal to `x`; returns how many were removed.
pub(crate) fn remove_all<T: PartialEq>(v: &mut Vec<T>, x: &T) -> usize {
    let before = v.len();
    v.retain(|y| y != x);
    before - v.len()
}

const VACANT: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct BSlot {
    w0: u64,
    w1: u64,
    len: u32,
    /// index into `keys`/`vals`, or `VACANT`
    idx: u32,
}

const EMPTY_SLOT: BSlot = BSlot {
    w0: 0,
    w1: 0,
    len: 0,
    idx: VACANT,
};

/// Values keyed by byte strings (rule operands), probed with event values.
///
/// Why hand-written: a probe must be cheap for short strings. Slots hold the
/// key's length and summary words ([`KeyRef`]), so a key of up to 16 bytes is
/// compared with three integer comparisons and no `memcmp`; longer keys are
/// compared in full. Linear probing at most half full, backward-shift deletion.
/// Keys come from rules only; event values just probe, so they cannot grow it.
#[derive(Clone)]
pub(crate) struct BytesMap<V> {
    slots: Vec<BSlot>,
    keys: Vec<Box<[u8]>>,
    vals: Vec<V>,
    shift: u32,
}

impl<V> Default for BytesMap<V> {
    fn default() -> Self {
        BytesMap {
            slots: Vec::new(),
            keys: Vec::new(),
            vals: Vec::new(),
            shift: 64,
        }
    }
}

impl<V> BytesMap<V> {
    pub(crate) fn len(&self) -> usize {
        self.vals.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.vals.is_empty()
    }

    #[inline(always)]
    fn find(&self, k: &KeyRef<'_>) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let n = k.bytes.len();
        let (w0, w1) = k.words();
        let mut i = (k.hash(0) >> self.shift) as usize;
        loop {
            let s = self.slots.get(i)?;
            if s.idx == VACANT {
                return None;
            }
            if s.w0 == w0
                && s.w1 == w1
                && s.len as usize == n
                && (n <= 16
                    || self
                        .keys
                        .get(s.idx as usize)
                        .is_some_and(|x| **x == *k.bytes))
            {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The value under the key `k`.
    #[inline(always)]
    pub(crate) fn get(&self, k: &KeyRef<'_>) -> Option<&V> {
        let i = self.find(k)?;
        self.vals.get(self.slots[i].idx as usize)
    }

    /// The value under `k`, inserted as `V::default()` if absent.
    pub(crate) fn entry(&mut self, k: &[u8]) -> &mut V
    where
        V: Default,
    {
        let r = KeyRef::new(k);
        let idx = match self.find(&r) {
            Some(i) => self.slots[i].idx as usize,
            None => {
                if (self.vals.len() + 1) * 2 > self.slots.len() {
                    self.grow();
                }
                let idx = self.vals.len();
                self.keys.push(k.into());
                self.vals.push(V::default());
                self.place(&r, idx as u32);
                idx
            }
        };
        &mut self.vals[idx]
    }

    /// The value under `k`, for changing it.
    pub(crate) fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        let i = self.find(&KeyRef::new(k))?;
        let idx = self.slots[i].idx as usize;
        self.vals.get_mut(idx)
    }

    fn place(&mut self, r: &KeyRef<'_>, idx: u32) {
        let mask = self.slots.len() - 1;
        let mut i = (r.hash(0) >> self.shift) as usize;
        while self.slots[i].idx != VACANT {
            i = (i + 1) & mask;
        }
        let (w0, w1) = r.words();
        self.slots[i] = BSlot {
            w0,
            w1,
            len: r.bytes.len() as u32,
            idx,
        };
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(8);
        self.slots = vec![EMPTY_SLOT; cap];
        self.shift = 64 - cap.trailing_zeros();
        for idx in 0..self.keys.len() {
            let k = std::mem::take(&mut self.keys[idx]);
            self.place(&KeyRef::new(&k), idx as u32);
            self.keys[idx] = k;
        }
    }

    /// Removes the entry under `k`, returning its value.
    pub(crate) fn remove(&mut self, k: &[u8]) -> Option<V> {
        let mut i = self.find(&KeyRef::new(k))?;
        let idx = self.slots[i].idx as usize;
        // backward-shift deletion: pull later entries of the run into the hole
        // unless their home lies cyclically in (hole, their slot]
        let mask = self.slots.len() - 1;
        self.slots[i] = EMPTY_SLOT;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.idx == VACANT {
                break;
            }
            let home = (KeyRef::new(&self.keys[s.idx as usize]).hash(0) >> self.shift) as usize;
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.slots[i] = s;
                self.slots[j] = EMPTY_SLOT;
                i = j;
            }
        }
        // compact the entry storage; repoint the entry that moved into `idx`
        let last = self.vals.len() - 1;
        self.keys.swap_remove(idx);
        let v = self.vals.swap_remove(idx);
        if idx != last {
            // the slot of the moved entry still says `last`; find it by probing
            let mut p = (KeyRef::new(&self.keys[idx]).hash(0) >> self.shift) as usize;
            while self.slots[p].idx != VACANT {
                if self.slots[p].idx as usize == last {
                    self.slots[p].idx = idx as u32;
                    break;
                }
                p = (p + 1) & mask;
            }
        }
        Some(v)
    }
}

/// Values keyed by byte strings, answering "which keys are a prefix (or suffix)
/// of this input" with one probe per distinct key length.
#[derive(Clone)]
pub(crate) struct PrefixMap<T> {
    map: BytesMap<Vec<T>>,
    /// (key length, number of entries with that length), sorted by length
    lens: Vec<(usize, usize)>,
}

impl<T> Default for PrefixMap<T> {
    fn default() -> Self {
        PrefixMap {
            map: BytesMap::default(),
            lens: Vec::new(),
        }
    }
}

impl<T> PrefixMap<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    pub(crate) fn insert(&mut self, key: &[u8], t: T) {
        self.map.entry(key).push(t);
        match self.lens.binary_search_by_key(&key.len(), |e| e.0) {
            Ok(i) => self.lens[i].1 += 1,
            Err(i) => self.lens.insert(i, (key.len(), 1)),
        }
    }

    /// Removes the entries under `key` for which `pred` holds.
    pub(crate) fn remove_where(&mut self, key: &[u8], pred: impl Fn(&T) -> bool) {
        let Some(v) = self.map.get_mut(key) else {
            return;
        };
        let before = v.len();
        v.retain(|t| !pred(t));
        let removed = before - v.len();
        if v.is_empty() {
            self.map.remove(key);
        }
        if removed > 0
            && let Ok(i) = self.lens.binary_search_by_key(&key.len(), |e| e.0)
        {
            self.lens[i].1 -= removed.min(self.lens[i].1);
            if self.lens[i].1 == 0 {
                self.lens.remove(i);
            }
        }
    }

    /// Calls `f` for every entry whose key is a prefix of `s`.
    #[inline]
    pub(crate) fn for_each_prefix(&self, s: &[u8], mut f: impl FnMut(&T)) {
        for &(l, _) in &self.lens {
            if l > s.len() {
                break;
            }
            if let Some(v) = self.map.get(&KeyRef::new(&s[..l])) {
                v.iter().for_each(&mut f);
            }
        }
    }

    /// Calls `f` for every entry whose key is a suffix of `s`.
    #[inline]
    pub(crate) fn for_each_suffix(&self, s: &[u8], mut f: impl FnMut(&T)) {
        for &(l, _) in &self.lens {
            if l > s.len() {
                break;
            }
            if let Some(v) = self.map.get(&KeyRef::new(&s[s.len() - l..])) {
                v.iter().for_each(&mut f);
            }
        }
    }
}

/// Items per block of an [`IntervalSet`] (and blocks per superblock).
const BLOCK: usize = 16;

/// A set of inclusive intervals `[lo, hi]` with payloads, answering "which
/// intervals contain x". Stored as a vector sorted by `lo`, with the largest
/// `hi` of every block of 16 items and of every superblock of 16 blocks. A
/// query looks only at the items with `lo <= x` (a prefix), skips superblocks
/// and blocks whose largest `hi` is below `x`, and scans the remaining blocks
/// linearly (branch-light, cache-friendly). Insert/remove are O(n) memory moves
/// plus an O(n) refresh of the block maxima — microseconds even for tens of
/// thousands of intervals on one field — and cost nothing per query.
#[derive(Clone)]
pub(crate) struct IntervalSet<K, V> {
    items: Vec<(K, K, V)>,
    bmax: Vec<K>,
    smax: Vec<K>,
}

impl<K, V> Default for IntervalSet<K, V> {
    fn default() -> Self {
        IntervalSet {
            items: Vec::new(),
            bmax: Vec::new(),
            smax: Vec::new(),
        }
    }
}

impl<K: Ord + Copy, V: Copy + PartialEq> IntervalSet<K, V> {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn insert(&mut self, lo: K, hi: K, v: V) {
        let pos = self.items.partition_point(|x| (x.0, x.1) < (lo, hi));
        self.items.insert(pos, (lo, hi, v));
        self.rebuild();
    }

    pub(crate) fn remove(&mut self, lo: K, hi: K, v: V) {
        let before = self.items.len();
        self.items.retain(|x| !(x.0 == lo && x.1 == hi && x.2 == v));
        if self.items.len() != before {
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        self.bmax.clear();
        self.bmax.extend(
            self.items
                .chunks(BLOCK)
                .filter_map(|c| c.iter().map(|x| x.1).max()),
        );
        self.smax.clear();
        self.smax.extend(
            self.bmax
                .chunks(BLOCK)
                .filter_map(|c| c.iter().copied().max()),
        );
    }

    /// Calls `f` for the payload of every interval containing `x`.
    #[inline]
    pub(crate) fn query(&self, x: K, f: &mut impl FnMut(V)) {
        // only items with lo <= x can contain x
        let end = self.items.partition_point(|it| it.0 <= x);
        let items = &self.items[..end];
        for (si, &sm) in self.smax.iter().enumerate() {
            let s0 = si * BLOCK * BLOCK;
            if s0 >= end {
                break;
            }
            if sm < x {
                continue;
            }
            for bi in si * BLOCK..((si + 1) * BLOCK).min(self.bmax.len()) {
                let b0 = bi * BLOCK;
                if b0 >= end {
                    break;
                }
                if self.bmax[bi] < x {
                    continue;
                }
                for &(_, hi, v) in &items[b0..(b0 + BLOCK).min(end)] {
                    if hi >= x {
                        f(v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_map() {
        let mut p = PrefixMap::default();
        p.insert(b"ab", 1);
        p.insert(b"a", 2);
        p.insert(b"", 3);
        p.insert(b"ab", 4);
        let mut got = Vec::new();
        p.for_each_prefix(b"abc", |x| got.push(*x));
        got.sort();
        assert_eq!(got, vec![1, 2, 3, 4]);
        got.clear();
        p.for_each_suffix(b"cab", |x| got.push(*x));
        got.sort();
        assert_eq!(got, vec![1, 3, 4]);
        p.remove_where(b"ab", |x| *x == 1);
        p.remove_where(b"ab", |x| *x == 4);
        p.remove_where(b"", |x| *x == 3);
        got.clear();
        p.for_each_prefix(b"abc", |x| got.push(*x));
        assert_eq!(got, vec![2]);
        p.remove_where(b"a", |_| true);
        assert!(p.is_empty());
    }

    #[test]
    fn bytes_map_against_hashmap() {
        use std::collections::HashMap;
        let mut m: BytesMap<u32> = BytesMap::default();
        let mut r: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut seed = 99u64;
        let mut rnd = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        // keys of every length up to 40, many sharing first/last bytes
        let keys: Vec<Vec<u8>> = (0..120)
            .map(|i| {
                let len = i % 41;
                (0..len)
                    .map(|j| {
                        if j == len / 2 {
                            b'a' + (i % 7) as u8
                        } else {
                            b'x'
                        }
                    })
                    .collect()
            })
            .collect();
        for step in 0..6000u32 {
            let k = &keys[rnd(keys.len() as u64) as usize];
            match rnd(3) {
                0 => assert_eq!(m.remove(k), r.remove(k), "{k:?}"),
                _ => {
                    *m.entry(k) = step;
                    r.insert(k.clone(), step);
                }
            }
            if step % 97 == 0 {
                assert_eq!(m.len(), r.len());
                for k in &keys {
                    assert_eq!(m.get(&KeyRef::new(k)), r.get(k), "{k:?}");
                }
            }
        }
    }

    #[test]
    fn interval_set_against_brute_force() {
        let mut s = IntervalSet::default();
        let mut all = Vec::new();
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i64 % 100
        };
        for id in 0..300u32 {
            let a = rnd();
            let b = a + rnd() % 20;
            s.insert(a, b, id);
            all.push((a, b, id));
            if id % 7 == 0 {
                let (a, b, i) = all.remove((id as usize * 13) % all.len());
                s.remove(a, b, i);
            }
            for x in -2..122 {
                let mut got = Vec::new();
                s.query(x, &mut |v| got.push(v));
                got.sort();
                let mut want: Vec<u32> = all
                    .iter()
                    .filter(|(a, b, _)| *a <= x && x <= *b)
                    .map(|t| t.2)
                    .collect();
                want.sort();
                assert_eq!(got, want);
            }
        }
    }
}
