//! The `wildcard` operator: `*` matches any run of characters (including none);
//! `\*` is a literal asterisk and `\\` a literal backslash.

use memchr::memmem;

/// A parsed wildcard: the literal segments between the `*`s.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Wildcard {
    /// `segs.len() == number of '*' + 1`
    segs: Vec<Box<[u8]>>,
}

impl Wildcard {
    /// Parses a wildcard operand. Errors are human-readable reasons.
    pub(crate) fn parse(s: &str) -> Result<Wildcard, String> {
        let mut segs = Vec::new();
        let mut cur = Vec::new();
        let mut prev_star = false;
        let mut it = s.bytes();
        while let Some(c) = it.next() {
            match c {
                b'\\' => match it.next() {
                    Some(e @ (b'*' | b'\\')) => {
                        cur.push(e);
                        prev_star = false;
                    }
                    _ => {
                        return Err("a backslash may only escape '*' or '\\'".to_string());
                    }
                },
                b'*' => {
                    if prev_star {
                        return Err("consecutive wildcard characters are not allowed".into());
                    }
                    segs.push(std::mem::take(&mut cur).into_boxed_slice());
                    prev_star = true;
                }
                _ => {
                    cur.push(c);
                    prev_star = false;
                }
            }
        }
        segs.push(cur.into_boxed_slice());
        if segs.len() - 1 > super::MAX_WILDCARD_STARS {
            return Err(format!(
                "at most {} wildcard characters are allowed in one value",
                super::MAX_WILDCARD_STARS
            ));
        }
        Ok(Wildcard { segs })
    }

    /// The literal text before the first `*` (the whole value if there is none).
    pub(crate) fn literal_prefix(&self) -> &[u8] {
        &self.segs[0]
    }

    /// Whether `v` matches. Linear time: `*`-only globs can be matched greedily.
    pub(crate) fn matches(&self, v: &[u8]) -> bool {
        let n = self.segs.len();
        if n == 1 {
            return *v == *self.segs[0];
        }
        let first = &self.segs[0];
        let last = &self.segs[n - 1];
        if v.len() < first.len() + last.len() || !v.starts_with(first) || !v.ends_with(last) {
            return false;
        }
        let mut mid = &v[first.len()..v.len() - last.len()];
        for seg in &self.segs[1..n - 1] {
            if seg.is_empty() {
                continue;
            }
            match memmem::find(mid, seg) {
                Some(at) => mid = &mid[at + seg.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Wildcard::parse(p).unwrap().matches(v.as_bytes())
    }

    #[test]
    fn matching() {
        assert!(m("Simple*Service", "SimpleQueueService"));
        assert!(m("Simple*Service", "SimpleService"));
        assert!(!m("Simple*Service", "SimpleServic"));
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "acb"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("*.png", "dir/x.png"));
        assert!(m("dir/*", "dir/"));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\\\*", "a\\xyz"));
        assert!(m("\\**", "*abc"));
        assert!(!m("\\**", "abc"));
    }

    #[test]
    fn rejects() {
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse("a\\b").is_err());
        assert!(Wildcard::parse("a\\").is_err());
        assert!(Wildcard::parse("*\\**").is_ok());
        assert!(Wildcard::parse(&"a*".repeat(super::super::MAX_WILDCARD_STARS + 1)).is_err());
    }
}
