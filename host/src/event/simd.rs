//! Classification of 16 event bytes at a time, for the hot loops of the two
//! JSON scanners: ingest's validating one (`event/scan.rs`) and the
//! matcher's (`pattern/scan.rs`).
//!
//! Why hand-written: most of an event's bytes are inside strings or inside
//! subtrees no rule mentions, so a scanner's speed is the speed at which it
//! finds the next `"`/`\` (and, when skipping, bracket; when validating,
//! control character). For ingest, sixteen bytes at a time took a sixth of
//! the instructions off parsing a batch compared with eight at a time by
//! word tricks (`ingest_parse`, docs/benchmarks.md). One 16-byte chunk is
//! turned into bit masks (bit *i* = byte *i*) with a handful of SSE2
//! instructions on x86_64 (part of its baseline, so always available); other
//! targets use an equivalent word-at-a-time (SWAR) version. Both are checked
//! against the obvious per-byte definition in the tests below.

/// Bytes classified per call.
pub(crate) const CHUNK: usize = 16;

/// Masks of one chunk for string scanning: (`"` or `\`, bytes ≥ 0x80).
#[inline(always)]
pub(crate) fn string_masks(c: &[u8; CHUNK]) -> (u32, u32) {
    imp::string_masks(c)
}

/// Masks of one chunk for skipping: (`"`, `\`, any of `[]{}`).
#[inline(always)]
pub(crate) fn skip_masks(c: &[u8; CHUNK]) -> (u32, u32, u32) {
    imp::skip_masks(c)
}

/// The mask of one chunk for validating strings: `"`, `\` or below 0x20.
#[inline(always)]
pub(crate) fn specials(c: &[u8; CHUNK]) -> u32 {
    imp::specials(c)
}

/// Where the first `"`, `\` or control character at or after `i` is, found
/// sixteen bytes at a time ([`specials`]). Stops at the start of the last
/// partial chunk when there is none before it (fewer than sixteen bytes
/// left), so callers go on byte by byte from the position returned.
#[inline(always)]
pub(crate) fn skip_to_special(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + CHUNK) {
        let m = specials(chunk.try_into().expect("16 bytes"));
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += CHUNK;
    }
    i
}

/// [`string_masks`] of the bytes from `pos` on (bit 0 = `pos`); `None` when
/// `pos >= b.len()`. Bits for positions at or after `b.len()` are never set.
#[inline(always)]
pub(crate) fn string_masks_at(b: &[u8], pos: usize) -> Option<(u32, u32)> {
    if let Some(s) = b.get(pos..pos.wrapping_add(CHUNK))
        && let Ok(c) = <&[u8; CHUNK]>::try_from(s)
    {
        return Some(string_masks(c));
    }
    let (c, shift) = chunk_tail(b, pos)?;
    let (a, h) = string_masks(&c);
    Some((a >> shift, h >> shift))
}

/// [`skip_masks`] of the bytes from `pos` on (bit 0 = `pos`); `None` when
/// `pos >= b.len()`. Bits for positions at or after `b.len()` are never set.
#[inline(always)]
pub(crate) fn skip_masks_at(b: &[u8], pos: usize) -> Option<(u32, u32, u32)> {
    if let Some(s) = b.get(pos..pos.wrapping_add(CHUNK))
        && let Ok(c) = <&[u8; CHUNK]>::try_from(s)
    {
        return Some(skip_masks(c));
    }
    let (c, shift) = chunk_tail(b, pos)?;
    let (q, e, k) = skip_masks(&c);
    Some((q >> shift, e >> shift, k >> shift))
}

/// The last bytes of `b` from `pos` on, as a chunk and a shift: the masks of
/// the chunk shifted right by `shift` describe the bytes from `pos` on. The
/// last 16 bytes of the buffer are used (overlapping), or — for a buffer
/// shorter than 16 bytes — a zero-padded copy (a zero byte matches no class).
#[cold]
#[inline(never)]
fn chunk_tail(b: &[u8], pos: usize) -> Option<([u8; CHUNK], u32)> {
    if pos >= b.len() {
        return None;
    }
    if b.len() >= CHUNK {
        let start = b.len() - CHUNK;
        let a = <[u8; CHUNK]>::try_from(&b[start..]).ok()?;
        return Some((a, (pos.max(start) - start) as u32));
    }
    let mut a = [0u8; CHUNK];
    a[..b.len() - pos].copy_from_slice(&b[pos..]);
    Some((a, 0))
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::CHUNK;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    // SAFETY (all blocks below): SSE2 is part of the x86_64 baseline, so these
    // intrinsics are always available; they only compute on values, except
    // `_mm_loadu_si128`, which reads exactly the 16 bytes of the `&[u8; 16]` it
    // is given and has no alignment requirement.

    #[inline(always)]
    pub(super) fn string_masks(c: &[u8; CHUNK]) -> (u32, u32) {
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast());
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            (
                _mm_movemask_epi8(_mm_or_si128(q, s)) as u32,
                _mm_movemask_epi8(v) as u32,
            )
        }
    }

    #[inline(always)]
    pub(super) fn specials(c: &[u8; CHUNK]) -> u32 {
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast());
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // unsigned v <= 0x1f exactly when min(v, 0x1f) == v
            let ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, s), ctl)) as u32
        }
    }

    #[inline(always)]
    pub(super) fn skip_masks(c: &[u8; CHUNK]) -> (u32, u32, u32) {
        unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast());
            let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // `[`/`]` are `{`/`}` without bit 0x20: fold them together
            let f = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let o = _mm_cmpeq_epi8(f, _mm_set1_epi8(b'{' as i8));
            let e = _mm_cmpeq_epi8(f, _mm_set1_epi8(b'}' as i8));
            (
                _mm_movemask_epi8(q) as u32,
                _mm_movemask_epi8(s) as u32,
                _mm_movemask_epi8(_mm_or_si128(o, e)) as u32,
            )
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    pub(super) use super::swar::{skip_masks, specials, string_masks};
}

/// Portable version (used on targets without SSE2; tested everywhere).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod swar {
    use super::CHUNK;

    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;

    /// High bit of every byte of `w` equal to `b` (exact, no borrow effects).
    #[inline(always)]
    fn eq(w: u64, b: u8) -> u64 {
        let x = w ^ (LO * u64::from(b));
        !(((x & SEVEN) + SEVEN) | x | SEVEN)
    }

    /// The high bits of the 8 bytes of `m` as an 8-bit mask.
    #[inline(always)]
    fn gather(m: u64) -> u32 {
        (((m >> 7) & LO).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }

    #[inline(always)]
    fn words(c: &[u8; CHUNK]) -> [u64; 2] {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&c[..8]);
        b.copy_from_slice(&c[8..]);
        [u64::from_le_bytes(a), u64::from_le_bytes(b)]
    }

    #[inline(always)]
    fn both(c: &[u8; CHUNK], f: impl Fn(u64) -> u64) -> u32 {
        let [a, b] = words(c);
        gather(f(a)) | (gather(f(b)) << 8)
    }

    pub(crate) fn string_masks(c: &[u8; CHUNK]) -> (u32, u32) {
        (both(c, |w| eq(w, b'"') | eq(w, b'\\')), both(c, |w| w & HI))
    }

    pub(crate) fn specials(c: &[u8; CHUNK]) -> u32 {
        // a byte is below 0x20 exactly when its top three bits are clear
        both(c, |w| eq(w, b'"') | eq(w, b'\\') | eq(w & (LO * 0xE0), 0))
    }

    pub(crate) fn skip_masks(c: &[u8; CHUNK]) -> (u32, u32, u32) {
        (
            both(c, |w| eq(w, b'"')),
            both(c, |w| eq(w, b'\\')),
            both(c, |w| {
                let f = w | (LO * 0x20);
                eq(f, b'{') | eq(f, b'}')
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_specials(c: &[u8; CHUNK]) -> u32 {
        c.iter().enumerate().fold(0u32, |m, (i, &b)| {
            m | (u32::from(b == b'"' || b == b'\\' || b < 0x20) << i)
        })
    }

    fn reference(c: &[u8; CHUNK]) -> ((u32, u32), (u32, u32, u32)) {
        let m = |p: &dyn Fn(u8) -> bool| {
            c.iter()
                .enumerate()
                .fold(0u32, |m, (i, &b)| m | (u32::from(p(b)) << i))
        };
        (
            (m(&|b| b == b'"' || b == b'\\'), m(&|b| b >= 0x80)),
            (
                m(&|b| b == b'"'),
                m(&|b| b == b'\\'),
                m(&|b| matches!(b, b'[' | b']' | b'{' | b'}')),
            ),
        )
    }

    fn check(c: &[u8; CHUNK]) {
        let (s, k) = reference(c);
        assert_eq!(string_masks(c), s, "{c:?}");
        assert_eq!(skip_masks(c), k, "{c:?}");
        assert_eq!(swar::string_masks(c), s, "{c:?}");
        assert_eq!(swar::skip_masks(c), k, "{c:?}");
        assert_eq!(specials(c), reference_specials(c), "{c:?}");
        assert_eq!(swar::specials(c), reference_specials(c), "{c:?}");
    }

    #[test]
    fn every_byte_value_in_every_position() {
        for v in 0..=255u8 {
            for i in 0..CHUNK {
                let mut c = [b'a'; CHUNK];
                c[i] = v;
                check(&c);
                // neighbours that provoke borrows in naive SWAR tricks
                let mut d = [v ^ 1; CHUNK];
                d[i] = v;
                check(&d);
            }
        }
    }

    #[test]
    fn skipping_stops_at_the_first_special_or_the_last_partial_chunk() {
        for len in 0..48 {
            for special in (0..len).map(Some).chain([None]) {
                let mut b = vec![b'a'; len];
                if let Some(at) = special {
                    b[at] = b'"';
                }
                for from in 0..=len {
                    let got = skip_to_special(&b, from);
                    let case = format!("len {len}, special {special:?}, from {from}: {got}");
                    assert!(from <= got && got <= len, "{case}");
                    // Only plain bytes are skipped…
                    assert!(b[from..got].iter().all(|&c| c == b'a'), "{case}");
                    // …and it stops at a special, or where fewer than
                    // sixteen bytes are left.
                    assert!(b.get(got) == Some(&b'"') || len - got < CHUNK, "{case}");
                }
            }
        }
    }

    #[test]
    fn masks_near_the_end() {
        let b: Vec<u8> = (0..40u8)
            .map(|i| match i % 5 {
                0 => b'"',
                1 => b'\\',
                2 => b'}',
                3 => 0xC3,
                _ => b'x',
            })
            .collect();
        for len in 0..b.len() {
            let buf = &b[..len];
            for pos in 0..len + 2 {
                let want = |p: &dyn Fn(u8) -> bool| {
                    buf.get(pos..)
                        .unwrap_or_default()
                        .iter()
                        .take(CHUNK)
                        .enumerate()
                        .fold(0u32, |m, (i, &x)| m | (u32::from(p(x)) << i))
                };
                let s = string_masks_at(buf, pos);
                let k = skip_masks_at(buf, pos);
                if pos >= len {
                    assert!(s.is_none() && k.is_none());
                    continue;
                }
                assert_eq!(
                    s,
                    Some((want(&|x| x == b'"' || x == b'\\'), want(&|x| x >= 0x80))),
                    "len {len} pos {pos}"
                );
                assert_eq!(
                    k,
                    Some((
                        want(&|x| x == b'"'),
                        want(&|x| x == b'\\'),
                        want(&|x| x == b'}')
                    )),
                    "len {len} pos {pos}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn masks_agree_with_reference(v in proptest::collection::vec(any::<u8>(), CHUNK)) {
            let mut c = [0u8; CHUNK];
            c.copy_from_slice(&v);
            check(&c);
        }

        #[test]
        fn masks_agree_on_json_like_bytes(v in proptest::collection::vec(
            prop::sample::select(b"\"\\[]{}zZ{|:,az\x7f\x80\xff\x01\x00 ".to_vec()), CHUNK)) {
            let mut c = [0u8; CHUNK];
            c.copy_from_slice(&v);
            check(&c);
        }
    }
}
