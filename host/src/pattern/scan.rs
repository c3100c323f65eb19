//! The hot core: a single pass over the event bytes.
//!
//! Why hand-written instead of serde: speed. The scanner walks the document once,
//! steered by the trie of field paths that *any* rule mentions. Nothing is
//! materialised, no DOM is built, no string is unescaped or number parsed unless
//! some rule looks at that exact path, and most of a typical event is at paths
//! no rule mentions. The costs that remain were cut one by one (measured with
//! callgrind instruction counts):
//!
//! - Bytes are classified 16 at a time (`event/simd.rs`): a key, a short string value
//!   or a stretch of a skipped subtree is crossed with one chunk test instead of
//!   a byte loop; skipped containers only look at quote/backslash/bracket bits.
//! - The chunk that finds a key's closing quote also yields the words the trie
//!   edge table is keyed by (`keys.rs`) and, in compact JSON, the `:` and the
//!   value's first byte.
//! - Short plain ASCII strings at rule paths are used in place: no copy, no
//!   UTF-8 validation (escaped or non-ASCII ones take the general path), and a
//!   value whose field has no operator that could match it is only recorded
//!   for lazily evaluated conditions.

use std::fmt::Write as _;

use super::MAX_DOCUMENT_DEPTH;
use super::error::{MatchError, MatchErrorKind as K};
use super::field::EvalScratch;
use super::json::{StrInfo, is_ws, string_end, string_scan, unescape};
use super::keys::KeyRef;
use super::matcher::{LeafKind, Matcher, NodeId, ROOT, RunState, ScanBufs};
use super::number::scan_number;
use super::ops::Leaf;
use crate::event::simd::{CHUNK, skip_masks_at, string_masks};

/// The 16 bytes at `at`, when they are all inside `b`.
#[inline(always)]
fn chunk(b: &[u8], at: usize) -> Option<&[u8; CHUNK]> {
    b.get(at..at.wrapping_add(CHUNK))
        .and_then(|s| <&[u8; CHUNK]>::try_from(s).ok())
}

struct Scanner<'a, 'm> {
    b: &'a [u8],
    pos: usize,
    m: &'m Matcher,
    run: &'m mut RunState,
    eval: &'m mut EvalScratch,
    bufs: &'m mut ScanBufs,
}

pub(crate) fn scan_document(
    m: &Matcher,
    doc: &[u8],
    run: &mut RunState,
    eval: &mut EvalScratch,
    bufs: &mut ScanBufs,
) -> Result<(), MatchError> {
    let mut s = Scanner {
        b: doc,
        pos: 0,
        m,
        run,
        eval,
        bufs,
    };
    s.ws();
    if s.m.nodes[ROOT as usize].has_children() {
        s.value(ROOT, 0)?;
    } else {
        s.skip_value(0)?;
    }
    s.ws();
    if s.pos != s.b.len() {
        return Err(s.err(K::TrailingData));
    }
    Ok(())
}

impl Scanner<'_, '_> {
    #[cold]
    fn err(&self, kind: K) -> MatchError {
        MatchError {
            offset: self.pos.min(self.b.len()),
            kind,
        }
    }

    #[cold]
    fn err_at(&self, offset: usize, kind: K) -> MatchError {
        MatchError { offset, kind }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if !is_ws(c) {
                break;
            }
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn peek(&self) -> Result<u8, MatchError> {
        match self.b.get(self.pos) {
            Some(&c) => Ok(c),
            None => Err(self.err(K::UnexpectedEnd)),
        }
    }

    /// The next non-whitespace byte (`self.pos` moves to it). Compact JSON has
    /// no whitespace, so the first test usually decides.
    #[inline(always)]
    fn next_byte(&mut self) -> Result<u8, MatchError> {
        match self.b.get(self.pos) {
            Some(&c) if !is_ws(c) => Ok(c),
            _ => {
                self.ws();
                self.peek()
            }
        }
    }

    /// A value at trie node `node` (`self.pos` at its first byte).
    fn value(&mut self, node: NodeId, depth: usize) -> Result<(), MatchError> {
        let c = self.peek()?;
        self.child_value(node, c, depth)
    }

    /// A value at trie node `node` whose first byte `c` is at `self.pos`.
    #[inline(always)]
    fn child_value(&mut self, node: NodeId, c: u8, depth: usize) -> Result<(), MatchError> {
        if depth > MAX_DOCUMENT_DEPTH {
            return Err(self.err(K::TooDeep));
        }
        let n = &self.m.nodes[node as usize];
        match c {
            b'{' => {
                if n.has_children() {
                    self.object(node, depth)
                } else {
                    self.skip_container(depth)
                }
            }
            b'[' => self.array(node, depth),
            _ => match n.field {
                Some(f) => self.leaf(f, c),
                None => self.skip_scalar(c),
            },
        }
    }

    fn object(&mut self, node: NodeId, depth: usize) -> Result<(), MatchError> {
        self.pos += 1;
        let mut c = self.next_byte()?;
        if c == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if c != b'"' {
                return Err(self.err(K::UnexpectedByte));
            }
            let (child, v) = self.member_head(node)?;
            match child {
                Some(ch) => self.child_value(ch, v, depth + 1)?,
                None => match v {
                    b'{' | b'[' => self.skip_container(depth + 1)?,
                    _ => self.skip_scalar(v)?,
                },
            }
            // compact `,"` (the next key) decided without the whitespace loop
            let p = self.pos;
            match self.b.get(p) {
                Some(b',') => {
                    self.pos = p + 1;
                    c = match self.b.get(p + 1) {
                        Some(b'"') => b'"',
                        _ => self.next_byte()?,
                    };
                }
                Some(b'}') => {
                    self.pos = p + 1;
                    return Ok(());
                }
                _ => match self.next_byte()? {
                    b',' => {
                        self.pos += 1;
                        c = self.next_byte()?;
                    }
                    b'}' => {
                        self.pos += 1;
                        return Ok(());
                    }
                    _ => return Err(self.err(K::UnexpectedByte)),
                },
            }
        }
    }

    /// Reads the member key whose opening quote is at `self.pos`, the `:` and
    /// the first byte of the value; returns the child of `node` the key leads
    /// to and that byte (`self.pos` ends on it).
    #[inline(always)]
    fn member_head(&mut self, node: NodeId) -> Result<(Option<NodeId>, u8), MatchError> {
        let start = self.pos + 1;
        // Fast path: a key of fewer than 16 bytes without escapes. One chunk
        // gives its end, the words the trie table is keyed by and, in compact
        // JSON, the `:` and the value's first byte.
        if let Some(chunk) = chunk(self.b, start) {
            let (qs, _) = string_masks(chunk);
            let n = qs.trailing_zeros() as usize;
            if n < CHUNK && chunk[n] == b'"' {
                let bytes = &self.b[start..start + n];
                let child = self.m.child(node, &KeyRef::from_chunk(bytes, chunk));
                if let (Some(b':'), Some(&v)) = (chunk.get(n + 1), chunk.get(n + 2))
                    && !is_ws(v)
                {
                    self.pos = start + n + 2;
                    return Ok((child, v));
                }
                self.pos = start + n + 1;
                return self.colon(child);
            }
        }
        let child = self.key_slow(node, start)?;
        self.colon(child)
    }

    /// The `:` after a key and the first byte of the value.
    fn colon(&mut self, child: Option<NodeId>) -> Result<(Option<NodeId>, u8), MatchError> {
        if self.next_byte()? != b':' {
            return Err(self.err(K::UnexpectedByte));
        }
        self.pos += 1;
        let v = self.next_byte()?;
        Ok((child, v))
    }

    #[inline(never)]
    fn key_slow(&mut self, node: NodeId, start: usize) -> Result<Option<NodeId>, MatchError> {
        let (end, esc) = string_end(self.b, start).map_err(|k| self.err(k))?;
        self.pos = end + 1;
        Ok(if esc {
            let key = &mut self.bufs.key;
            unescape(&self.b[start..end], key).map_err(|kind| MatchError {
                offset: start,
                kind,
            })?;
            self.m.child(node, &KeyRef::new(key))
        } else {
            self.m.child(node, &KeyRef::from_doc(self.b, start, end))
        })
    }

    fn array(&mut self, node: NodeId, depth: usize) -> Result<(), MatchError> {
        self.pos += 1;
        self.run.next_array += 1;
        let id = self.run.next_array;
        let mut c = self.next_byte()?;
        if c == b']' {
            self.pos += 1;
            return Ok(());
        }
        let top = self.run.stack.len();
        self.run.stack.push((id, 0));
        let mut idx = 0u32;
        loop {
            self.run.stack[top].1 = idx;
            self.child_value(node, c, depth + 1)?;
            match self.next_byte()? {
                b',' => {
                    self.pos += 1;
                    idx = idx.wrapping_add(1);
                    c = self.next_byte()?;
                }
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.err(K::UnexpectedByte)),
            }
        }
        self.run.stack.truncate(top);
        Ok(())
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Result<(), MatchError> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err(K::UnexpectedByte))
        }
    }

    #[inline]
    fn number(&mut self) -> Result<std::ops::Range<usize>, MatchError> {
        match scan_number(&self.b[self.pos..]) {
            Some(n) => {
                let r = self.pos..self.pos + n;
                self.pos += n;
                Ok(r)
            }
            None => Err(self.err(K::BadNumber)),
        }
    }

    /// The string whose opening quote is at `self.pos`: (end, escapes,
    /// non-ASCII). One chunk decides for short plain strings.
    #[inline(always)]
    fn string(&self) -> Result<StrInfo, MatchError> {
        let start = self.pos + 1;
        if let Some(chunk) = chunk(self.b, start) {
            let (qs, hi) = string_masks(chunk);
            let n = (qs | hi).trailing_zeros() as usize;
            if n < CHUNK && chunk[n] == b'"' {
                return Ok(StrInfo {
                    end: start + n,
                    esc: false,
                    non_ascii: false,
                });
            }
        }
        string_scan(self.b, start).map_err(|k| self.err(k))
    }

    /// A scalar at a path that has a field index: decode it, remember it for
    /// lazily evaluated conditions, and evaluate the field's indexed operators.
    /// The common case — a short plain string — is decided with one chunk and
    /// touches the evaluation machinery only when the field has operators that
    /// can match a string.
    #[inline(always)]
    fn leaf(&mut self, f: u32, c: u8) -> Result<(), MatchError> {
        let m = self.m;
        let Some(field) = m.fields.get(f as usize) else {
            return self.skip_scalar(c);
        };
        if c == b'"' {
            let start = self.pos + 1;
            if let Some(chunk) = chunk(self.b, start) {
                let (qs, hi) = string_masks(chunk);
                let n = (qs | hi).trailing_zeros() as usize;
                if n < CHUNK && chunk[n] == b'"' {
                    // plain ASCII: valid UTF-8 as it stands, bytes used in place
                    let end = start + n;
                    self.pos = end + 1;
                    if field.wants_str() {
                        self.eval_in_doc(f, LeafKind::Str, start, end);
                    } else if field.lazy > 0 {
                        // only remembered for lazily evaluated conditions
                        let run = &mut *self.run;
                        let span = run.snapshot();
                        run.record_doc(f, LeafKind::Str, start, end, span);
                    }
                    return Ok(());
                }
            }
        }
        self.leaf_general(f, c)
    }

    /// Records and evaluates the value `doc[start..end]` (a plain string or a
    /// number) at field `f`.
    #[inline(never)]
    fn eval_in_doc(&mut self, f: u32, kind: LeafKind, start: usize, end: usize) {
        let m = self.m;
        let Some(field) = m.fields.get(f as usize) else {
            return;
        };
        let Some(bytes) = self.b.get(start..end) else {
            return;
        };
        let run = &mut *self.run;
        let span = run.snapshot();
        if field.lazy > 0 {
            run.record_doc(f, kind, start, end, span);
        }
        let (leaf, wanted) = match kind {
            LeafKind::Num => (Leaf::Num(bytes), field.wants_num()),
            _ => (Leaf::Str(bytes), field.wants_str()),
        };
        if wanted {
            field.eval(leaf, self.eval, &mut |c| m.hit(run, c, span, true));
        }
    }

    /// [`leaf`](Self::leaf) for everything but short plain strings.
    #[inline(never)]
    fn leaf_general(&mut self, f: u32, c: u8) -> Result<(), MatchError> {
        let b = self.b;
        let leaf = match c {
            b'"' => {
                let start = self.pos + 1;
                let info = self.string()?;
                let end = info.end;
                let raw: &[u8] = if info.esc {
                    unescape(&b[start..end], &mut self.bufs.string).map_err(|kind| MatchError {
                        offset: start,
                        kind,
                    })?;
                    &self.bufs.string
                } else {
                    &b[start..end]
                };
                // ASCII without escapes is valid UTF-8 as it stands
                if (info.esc || info.non_ascii) && std::str::from_utf8(raw).is_err() {
                    return Err(self.err_at(start, K::BadUtf8));
                }
                self.pos = end + 1;
                if !info.esc {
                    self.eval_in_doc(f, LeafKind::Str, start, end);
                    return Ok(());
                }
                Leaf::Str(raw)
            }
            b'-' | b'0'..=b'9' => {
                let r = self.number()?;
                self.eval_in_doc(f, LeafKind::Num, r.start, r.end);
                return Ok(());
            }
            b't' => {
                self.literal(b"true")?;
                Leaf::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Leaf::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Leaf::Null
            }
            _ => return Err(self.err(K::UnexpectedByte)),
        };
        let m = self.m;
        let Some(field) = m.fields.get(f as usize) else {
            return Ok(());
        };
        let run = &mut *self.run;
        let span = run.snapshot();
        if field.lazy > 0 {
            run.record(f, &leaf, span);
        }
        field.eval(leaf, self.eval, &mut |c| m.hit(run, c, span, true));
        Ok(())
    }

    /// Skips the scalar whose first byte `c` is at `self.pos`.
    #[inline]
    fn skip_scalar(&mut self, c: u8) -> Result<(), MatchError> {
        match c {
            b'"' => {
                let start = self.pos + 1;
                if let Some(chunk) = chunk(self.b, start) {
                    let (qs, _) = string_masks(chunk);
                    let n = qs.trailing_zeros() as usize;
                    if n < CHUNK && chunk[n] == b'"' {
                        self.pos = start + n + 1;
                        return Ok(());
                    }
                }
                let (end, _) = string_end(self.b, start).map_err(|k| self.err(k))?;
                self.pos = end + 1;
                Ok(())
            }
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(self.err(K::UnexpectedByte)),
        }
    }

    fn skip_value(&mut self, depth: usize) -> Result<(), MatchError> {
        match self.peek()? {
            b'{' | b'[' => self.skip_container(depth),
            c => self.skip_scalar(c),
        }
    }

    /// Skips a whole object/array: only quotes, backslashes and brackets are
    /// looked at, 16 bytes at a time, keeping track of whether the scan is
    /// inside a string. Within a chunk, a string is crossed by jumping from its
    /// opening quote straight to the next quote/backslash bit; brackets outside
    /// strings are checked against a stack (mismatches are errors). Numbers,
    /// literals, commas and string contents cost nothing beyond the chunk tests.
    fn skip_container(&mut self, depth: usize) -> Result<(), MatchError> {
        let stack = &mut self.bufs.skip;
        stack.clear();
        let b = self.b;
        let mut pos = self.pos;
        let mut in_str = false;
        // 1 when the first byte of the chunk is escaped (a `\` ended the last one)
        let mut from = 0u32;
        loop {
            let Some((q, bs, br)) = skip_masks_at(b, pos) else {
                self.pos = b.len();
                return Err(self.err(K::UnexpectedEnd));
            };
            let qs = q | bs;
            // bits still to look at; bit 16 clear = next chunk starts escaped
            let mut live = !0u32 << from;
            'chunk: loop {
                if in_str {
                    // find the closing quote, stepping over escapes
                    loop {
                        let r = qs & live;
                        if r == 0 {
                            break 'chunk;
                        }
                        let k = r.trailing_zeros();
                        if bs & (1 << k) == 0 {
                            live = !1u32 << k;
                            in_str = false;
                            break;
                        }
                        live = !0u32 << (k + 2);
                    }
                }
                let r = (q | br) & live;
                if r == 0 {
                    break;
                }
                let j = r.trailing_zeros();
                live = !1u32 << j;
                if q & (1 << j) != 0 {
                    in_str = true;
                    continue;
                }
                let p = pos + j as usize;
                let Some(&ch) = b.get(p) else {
                    break;
                };
                if ch == b'[' || ch == b'{' {
                    stack.push(ch);
                    if depth + stack.len() > MAX_DOCUMENT_DEPTH + 1 {
                        self.pos = p + 1;
                        return Err(self.err(K::TooDeep));
                    }
                } else {
                    let open = if ch == b']' { b'[' } else { b'{' };
                    if stack.pop() != Some(open) {
                        self.pos = p;
                        return Err(self.err(K::Mismatched));
                    }
                    if stack.is_empty() {
                        self.pos = p + 1;
                        return Ok(());
                    }
                }
            }
            from = ((live >> CHUNK) & 1) ^ 1;
            pos += CHUNK;
        }
    }
}

#[inline]
fn eval_leaf(m: &Matcher, run: &mut RunState, eval: &mut EvalScratch, f: u32, leaf: Leaf<'_>) {
    let Some(field) = m.fields.get(f as usize) else {
        return;
    };
    let span = run.snapshot();
    if field.lazy > 0 {
        run.record(f, &leaf, span);
    }
    field.eval(leaf, eval, &mut |c| m.hit(run, c, span, true));
}

/// The same walk over a parsed `serde_json::Value`.
pub(crate) fn walk_value(
    m: &Matcher,
    v: &serde_json::Value,
    node: NodeId,
    depth: usize,
    run: &mut RunState,
    eval: &mut EvalScratch,
    num: &mut String,
) {
    use serde_json::Value as V;
    if depth > MAX_DOCUMENT_DEPTH {
        return;
    }
    let n = &m.nodes[node as usize];
    match v {
        V::Object(map) => {
            if !n.has_children() {
                return;
            }
            for (k, x) in map {
                if let Some(c) = m.child(node, &KeyRef::new(k.as_bytes())) {
                    walk_value(m, x, c, depth + 1, run, eval, num);
                }
            }
        }
        V::Array(items) => {
            run.next_array += 1;
            let id = run.next_array;
            let top = run.stack.len();
            run.stack.push((id, 0));
            for (i, x) in items.iter().enumerate() {
                run.stack[top].1 = i as u32;
                walk_value(m, x, node, depth + 1, run, eval, num);
            }
            run.stack.truncate(top);
        }
        _ => {
            let Some(f) = n.field else {
                return;
            };
            let leaf = match v {
                V::String(s) => Leaf::Str(s.as_bytes()),
                V::Number(x) => {
                    num.clear();
                    let _ = write!(num, "{x}");
                    Leaf::Num(num.as_bytes())
                }
                V::Bool(b) => Leaf::Bool(*b),
                _ => Leaf::Null,
            };
            eval_leaf(m, run, eval, f, leaf);
        }
    }
}
