//! The edges of the field-path trie, for the scanner's key lookups, and the
//! summary words byte strings are hashed and compared by.
//!
//! Why hand-written: every key of every object the scanner enters is looked up
//! (many of them miss: fields no rule mentions), so a lookup must cost a couple
//! of dozen instructions. All edges of the trie live in one open-addressing table
//! keyed by (parent node, key bytes). A key is summarised by its length and two
//! little-endian words — its first 8 bytes (zero-padded) and its last 8 bytes
//! (0 when it is at most 8 bytes long) — which for keys of up to 16 bytes is the
//! whole key, so most lookups compare no bytes at all. The scanner takes those
//! words from the 16-byte chunk it used to find the key's end
//! ([`KeyRef::from_chunk`]); nothing is hashed byte by byte. The same summary
//! ([`KeyRef`]) keys the byte-string maps of the value indexes (`index.rs`).

use super::json::load8;

const EMPTY: u32 = u32::MAX;

/// A byte string as the tables see it: the bytes plus their summary words.
#[derive(Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub bytes: &'a [u8],
    w0: u64,
    w1: u64,
}

#[inline(always)]
fn low_bytes(w: u64, n: usize) -> u64 {
    if n >= 8 {
        w
    } else {
        w & ((1u64 << (8 * n)) - 1)
    }
}

/// The bytes of `b` (at most 8) as a zero-padded little-endian word, with at
/// most three loads and no copy loop (for 4..8 bytes two overlapping 4-byte
/// reads, for 1..3 bytes first/middle/last).
#[inline(always)]
fn word_of(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        return u64::from_le_bytes(a);
    }
    if n >= 4 {
        let mut lo = [0u8; 4];
        let mut hi = [0u8; 4];
        lo.copy_from_slice(&b[..4]);
        hi.copy_from_slice(&b[n - 4..n]);
        return u64::from(u32::from_le_bytes(lo))
            | (u64::from(u32::from_le_bytes(hi)) << (8 * (n - 4)));
    }
    if n > 0 {
        return u64::from(b[0])
            | (u64::from(b[n / 2]) << (8 * (n / 2)))
            | (u64::from(b[n - 1]) << (8 * (n - 1)));
    }
    0
}

impl<'a> KeyRef<'a> {
    /// Summary of arbitrary key bytes (the slow, obviously-correct way).
    pub(crate) fn new(bytes: &'a [u8]) -> KeyRef<'a> {
        let n = bytes.len();
        let w0 = word_of(bytes);
        let w1 = if n > 8 { word_of(&bytes[n - 8..]) } else { 0 };
        KeyRef { bytes, w0, w1 }
    }

    /// Summary of the key `doc[start..end]`, loading the words directly from the
    /// document (the bytes after a key are always there in a well-formed one).
    #[inline(always)]
    pub(crate) fn from_doc(doc: &'a [u8], start: usize, end: usize) -> KeyRef<'a> {
        let bytes = doc.get(start..end).unwrap_or_default();
        let n = bytes.len();
        if n <= 8 {
            if let Some(w) = load8(doc, start) {
                return KeyRef {
                    bytes,
                    w0: low_bytes(w, n),
                    w1: 0,
                };
            }
        } else if let (Some(w0), Some(w1)) = (load8(doc, start), load8(doc, end - 8)) {
            return KeyRef { bytes, w0, w1 };
        }
        KeyRef::new(bytes)
    }

    /// Summary of a key of fewer than 16 bytes that starts a 16-byte chunk of
    /// the document (`bytes.len() < 16`; `chunk` begins with `bytes`).
    #[inline(always)]
    pub(crate) fn from_chunk(bytes: &'a [u8], chunk: &[u8; 16]) -> KeyRef<'a> {
        /// `LOW[n]` keeps the low `n` bytes of a word.
        const LOW: [u64; 9] = [
            0,
            0xFF,
            0xFFFF,
            0xFF_FFFF,
            0xFFFF_FFFF,
            0xFF_FFFF_FFFF,
            0xFFFF_FFFF_FFFF,
            0xFF_FFFF_FFFF_FFFF,
            u64::MAX,
        ];
        let n = bytes.len();
        let word = |at: usize| {
            let mut a = [0u8; 8];
            if let Some(s) = chunk.get(at..at + 8) {
                a.copy_from_slice(s);
            }
            u64::from_le_bytes(a)
        };
        let lo = word(0);
        match LOW.get(n) {
            Some(&m) => KeyRef {
                bytes,
                w0: lo & m,
                w1: 0,
            },
            // 8 < n < 16: the last 8 bytes are inside the chunk
            None => KeyRef {
                bytes,
                w0: lo,
                w1: word(n.wrapping_sub(8)),
            },
        }
    }

    /// Whether the key contains a `.` (then it may name several trie levels).
    #[inline(always)]
    pub(crate) fn has_dot(&self) -> bool {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let dot = |w: u64| {
            let x = w ^ (LO * u64::from(b'.'));
            x.wrapping_sub(LO) & !x & HI != 0
        };
        // zero padding is never a dot; keys longer than 16 bytes check the middle
        dot(self.w0) || dot(self.w1) || (self.bytes.len() > 16 && self.bytes.contains(&b'.'))
    }

    /// The two summary words. For equal lengths of at most 16 bytes, equal
    /// words mean equal bytes (together they cover every byte).
    #[inline(always)]
    pub(crate) fn words(&self) -> (u64, u64) {
        (self.w0, self.w1)
    }

    /// Hash of the bytes, mixed with `seed`. Keys of up to 16 bytes are hashed
    /// from their two words; longer ones also fold in the middle words, so keys
    /// that differ only in the middle do not collide.
    #[inline(always)]
    pub(crate) fn hash(&self, seed: u32) -> u64 {
        let mut h = (self.w0 ^ u64::from(seed).rotate_left(32) ^ self.bytes.len() as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if self.bytes.len() > 16 {
            h = mix_middle(h, self.bytes);
        }
        (h ^ (h >> 29) ^ self.w1).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }
}

#[cold]
fn mix_middle(mut h: u64, b: &[u8]) -> u64 {
    for c in b[8..b.len() - 8].chunks(8) {
        h = (h.rotate_left(23) ^ word_of(c)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    h
}

#[derive(Clone, Copy)]
struct Slot {
    parent: u32,
    child: u32,
    len: u32,
    w0: u64,
    w1: u64,
}

const VACANT: Slot = Slot {
    parent: EMPTY,
    child: EMPTY,
    len: 0,
    w0: 0,
    w1: 0,
};

/// (parent node, key) → child node. Linear probing, at most a quarter full
/// (misses — the common case — end at the first empty slot), deletion
/// by backward shifting (no tombstones), so lookups stay short after any sequence
/// of inserts and removes.
#[derive(Clone)]
pub(crate) struct KeyTable {
    slots: Vec<Slot>,
    /// full keys of the slots' entries (for keys longer than 16 bytes)
    keys: Vec<Box<[u8]>>,
    shift: u32,
    len: usize,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable {
            slots: vec![VACANT; 16],
            keys: vec![Box::default(); 16],
            shift: 60,
            len: 0,
        }
    }
}

impl KeyTable {
    #[inline(always)]
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// The child of `parent` under `key`.
    #[inline(always)]
    pub(crate) fn get(&self, parent: u32, key: &KeyRef<'_>) -> Option<u32> {
        let n = key.bytes.len();
        let mut i = self.home(key.hash(parent));
        loop {
            let s = self.slots.get(i)?;
            if s.parent == EMPTY {
                return None;
            }
            if s.parent == parent
                && s.w0 == key.w0
                && s.w1 == key.w1
                && s.len as usize == n
                && (n <= 16 || *self.keys[i] == *key.bytes)
            {
                return Some(s.child);
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds an edge (the key must not be present under `parent`).
    pub(crate) fn insert(&mut self, parent: u32, key: &[u8], child: u32) {
        if (self.len + 1) * 4 > self.slots.len() {
            self.grow();
        }
        self.put(parent, key, child);
        self.len += 1;
    }

    fn put(&mut self, parent: u32, key: &[u8], child: u32) {
        let k = KeyRef::new(key);
        let mut i = self.home(k.hash(parent));
        while self.slots[i].parent != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = Slot {
            parent,
            child,
            len: key.len() as u32,
            w0: k.w0,
            w1: k.w1,
        };
        if key.len() > 16 {
            self.keys[i] = key.into();
        }
    }

    fn grow(&mut self) {
        let old_slots = std::mem::take(&mut self.slots);
        let mut old_keys = std::mem::take(&mut self.keys);
        let cap = old_slots.len() * 2;
        self.slots = vec![VACANT; cap];
        self.keys = vec![Box::default(); cap];
        self.shift = 64 - cap.trailing_zeros();
        for (s, k) in old_slots.iter().zip(old_keys.iter_mut()) {
            if s.parent != EMPTY {
                let key = if s.len > 16 {
                    std::mem::take(k)
                } else {
                    key_from_words(s)
                };
                self.put(s.parent, &key, s.child);
            }
        }
    }

    /// Removes the edge `parent --key-->`, if present.
    pub(crate) fn remove(&mut self, parent: u32, key: &[u8]) {
        let k = KeyRef::new(key);
        let Some(mut i) = self.position(parent, &k) else {
            return;
        };
        self.len -= 1;
        // backward-shift deletion
        let mask = self.mask();
        let mut j = i;
        loop {
            self.slots[i] = VACANT;
            self.keys[i] = Box::default();
            loop {
                j = (j + 1) & mask;
                let s = self.slots[j];
                if s.parent == EMPTY {
                    return;
                }
                let h = KeyRef::new(&self.key_of(j)).hash(s.parent);
                let home = self.home(h);
                // move s into the hole at i unless its home lies cyclically in (i, j]
                let stays = if i <= j {
                    i < home && home <= j
                } else {
                    i < home || home <= j
                };
                if !stays {
                    self.slots[i] = s;
                    self.keys[i] = std::mem::take(&mut self.keys[j]);
                    i = j;
                    break;
                }
            }
        }
    }

    fn key_of(&self, i: usize) -> Box<[u8]> {
        let s = &self.slots[i];
        if s.len > 16 {
            self.keys[i].clone()
        } else {
            key_from_words(s)
        }
    }

    fn position(&self, parent: u32, key: &KeyRef<'_>) -> Option<usize> {
        let n = key.bytes.len();
        let mut i = self.home(key.hash(parent));
        loop {
            let s = &self.slots[i];
            if s.parent == EMPTY {
                return None;
            }
            if s.parent == parent
                && s.w0 == key.w0
                && s.w1 == key.w1
                && s.len as usize == n
                && (n <= 16 || *self.keys[i] == *key.bytes)
            {
                return Some(i);
            }
            i = (i + 1) & self.mask();
        }
    }
}

/// Rebuilds a key of at most 16 bytes from its summary words.
fn key_from_words(s: &Slot) -> Box<[u8]> {
    let n = s.len as usize;
    let mut v = Vec::with_capacity(n);
    let a = s.w0.to_le_bytes();
    v.extend_from_slice(&a[..n.min(8)]);
    if n > 8 {
        let b = s.w1.to_le_bytes();
        v.extend_from_slice(&b[16 - n..]);
    }
    v.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn doc_words_equal_slow_words() {
        let doc = b"{\"\":1,\"a\":1,\"abcdefgh\":2,\"abcdefghi\":3,\"0123456789abcdef\":4,\"0123456789abcdefXYZ\":5}";
        let mut i = 0;
        while i < doc.len() {
            if doc[i] == b'"' {
                let end = i + 1 + doc[i + 1..].iter().position(|c| *c == b'"').unwrap();
                let a = KeyRef::from_doc(doc, i + 1, end);
                let b = KeyRef::new(&doc[i + 1..end]);
                assert_eq!((a.w0, a.w1, a.bytes), (b.w0, b.w1, b.bytes));
                i = end + 1;
            } else {
                i += 1;
            }
        }
        // near the end of the buffer (no 8 bytes to load)
        let a = KeyRef::from_doc(b"\"ab\"", 1, 3);
        let b = KeyRef::new(b"ab");
        assert_eq!((a.w0, a.w1), (b.w0, b.w1));
        // from a chunk, every length below 16
        let text = *b"0123456789abcdefXYZ";
        let mut chunk = [0u8; 16];
        chunk.copy_from_slice(&text[..16]);
        for n in 0..16 {
            let a = KeyRef::from_chunk(&text[..n], &chunk);
            let b = KeyRef::new(&text[..n]);
            assert_eq!((a.w0, a.w1, a.bytes), (b.w0, b.w1, b.bytes), "{n}");
        }
    }

    #[test]
    fn dots() {
        for (k, d) in [
            ("a.b", true),
            ("ab", false),
            ("abcdefghijk.", true),
            ("abcdefgh.ijklmnopqrst", true),
            ("abcdefghijklmnopqrst", false),
            (".", true),
            ("", false),
        ] {
            assert_eq!(KeyRef::new(k.as_bytes()).has_dot(), d, "{k}");
        }
    }

    #[test]
    fn table_against_hashmap() {
        let mut t = KeyTable::default();
        let mut m: HashMap<(u32, Vec<u8>), u32> = HashMap::new();
        let mut seed = 7u64;
        let mut rnd = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let words: Vec<Vec<u8>> = (0..60)
            .map(|i| {
                let len = i % 23;
                (0..len)
                    .map(|j| b'a' + ((i * 7 + j * 3) % 26) as u8)
                    .collect()
            })
            .collect();
        for step in 0..4000u32 {
            let parent = rnd(5) as u32;
            let w = &words[rnd(words.len() as u64) as usize];
            let key = (parent, w.clone());
            if rnd(3) == 0 {
                if m.remove(&key).is_some() {
                    t.remove(parent, w);
                }
            } else if let std::collections::hash_map::Entry::Vacant(e) = m.entry(key) {
                e.insert(step);
                t.insert(parent, w, step);
            }
            if step % 50 == 0 {
                for p in 0..5u32 {
                    for w in &words {
                        assert_eq!(
                            t.get(p, &KeyRef::new(w)),
                            m.get(&(p, w.clone())).copied(),
                            "{p} {w:?}"
                        );
                    }
                }
            }
        }
    }
}
