//! `LIKE` patterns (spec §3.4.3), compiled once at parse time.
//!
//! `%` matches any run of characters (also none), `_` exactly one character,
//! anything else itself (case-sensitive). `\%` and `\_` match a literal `%`
//! or `_`; a backslash before any other character is an ordinary character
//! (so `'ab\c'` matches the four characters `ab\c`).
//!
//! Matching never allocates and runs in time linear in the text for patterns
//! without `_` (each `%`-separated segment is found with `str::find`); with
//! `_` it is at most text length × segment length.

/// One element of a segment between `%` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Exactly this character.
    Char(char),
    /// `_`: any one character.
    Any,
}

/// A run of the pattern between two `%`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    pieces: Vec<Piece>,
    /// The segment as a plain string when it has no `_` (fast path).
    literal: Option<String>,
}

impl Segment {
    fn new(pieces: Vec<Piece>) -> Self {
        let literal = pieces
            .iter()
            .map(|p| match p {
                Piece::Char(c) => Some(*c),
                Piece::Any => None,
            })
            .collect::<Option<String>>();
        Segment { pieces, literal }
    }

    /// If the segment matches at the start of `text`, the byte length it
    /// covers.
    fn match_prefix(&self, text: &str) -> Option<usize> {
        if let Some(lit) = &self.literal {
            return text.starts_with(lit.as_str()).then_some(lit.len());
        }
        let mut chars = text.char_indices();
        for piece in &self.pieces {
            let (_, c) = chars.next()?;
            if let Piece::Char(want) = piece
                && *want != c
            {
                return None;
            }
        }
        Some(chars.next().map_or(text.len(), |(i, _)| i))
    }

    /// If the segment matches at the end of `text`, the byte offset where
    /// the match starts.
    fn match_suffix(&self, text: &str) -> Option<usize> {
        if let Some(lit) = &self.literal {
            return text.ends_with(lit.as_str()).then(|| text.len() - lit.len());
        }
        let mut chars = text.char_indices().rev();
        for piece in self.pieces.iter().rev() {
            let (_, c) = chars.next()?;
            if let Piece::Char(want) = piece
                && *want != c
            {
                return None;
            }
        }
        Some(chars.next().map_or(0, |(i, c)| i + c.len_utf8()))
    }

    /// The leftmost match in `text`: (start, end) byte offsets.
    fn find(&self, text: &str) -> Option<(usize, usize)> {
        if let Some(lit) = &self.literal {
            return text.find(lit.as_str()).map(|i| (i, i + lit.len()));
        }
        let mut starts = text.char_indices().map(|(i, _)| i).chain([text.len()]);
        starts.find_map(|i| self.match_prefix(&text[i..]).map(|len| (i, i + len)))
    }
}

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LikePattern {
    /// The `%`-separated segments; there is always at least one. With one
    /// segment the pattern has no `%` and must match the whole text.
    segments: Vec<Segment>,
}

impl LikePattern {
    /// Compiles a pattern (the value of the string literal).
    pub(super) fn new(pattern: &str) -> Self {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => segments.push(Segment::new(std::mem::take(&mut current))),
                '_' => current.push(Piece::Any),
                '\\' => match chars.peek() {
                    Some(&next @ ('%' | '_')) => {
                        chars.next();
                        current.push(Piece::Char(next));
                    }
                    _ => current.push(Piece::Char('\\')),
                },
                c => current.push(Piece::Char(c)),
            }
        }
        segments.push(Segment::new(current));
        LikePattern { segments }
    }

    /// Whether `text` matches the pattern.
    pub(super) fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.segments.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            // No `%`: the single segment must cover the whole text.
            return first.match_prefix(text) == Some(text.len());
        };
        let Some(head) = first.match_prefix(text) else {
            return false;
        };
        let Some(tail) = last.match_suffix(&text[head..]) else {
            return false;
        };
        // Greedy leftmost matching of the middle segments is complete: if
        // any placement works, the leftmost one does.
        let mut window = &text[head..head + tail];
        for segment in middle {
            match segment.find(window) {
                Some((_, end)) => window = &window[end..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern).matches(text)
    }

    #[test]
    fn wildcards() {
        assert!(like("abc", "abc"));
        assert!(!like("abcd", "abc"));
        assert!(!like("ab", "abc"));
        assert!(like("", ""));
        assert!(!like("a", ""));
        assert!(like("", "%"));
        assert!(like("anything", "%"));
        assert!(like("anything", "%%"));
        assert!(like("abc", "a%b%c"));
        assert!(like("azzzbzzzc", "a%b%c"));
        assert!(!like("ac", "a%b%c"));
        assert!(like(".ab.cde.", ".%.%."));
        assert!(!like("ab.cde", ".%.%."));
        assert!(like("azbzc", "a_b_c"));
        assert!(!like("abc", "a_b_c"));
        assert!(like("abc", "___"));
        assert!(!like("ab", "___"));
        assert!(like("abcabc", "%abc"));
        assert!(!like("abc", "abc%abc%"));
        assert!(like("abcabc", "abc%abc%"));
        assert!(!like("aXb", "a%b%b"));
        assert!(like("aXbYb", "a%b%b"));
        // The prefix and suffix must not overlap.
        assert!(!like("ab", "ab%b"));
        assert!(like("abb", "ab%b"));
    }

    #[test]
    fn escapes() {
        assert!(like("a%b", r"a\%b"));
        assert!(!like("aXb", r"a\%b"));
        assert!(like("a_b", r"a\_b"));
        assert!(!like("aXb", r"a\_b"));
        assert!(like(r"ab\c", r"ab\c"));
        assert!(like(r"a\", r"a\"));
        assert!(like("abc123123%456_dzf", r"abc%123\%456\_d_f"));
    }

    #[test]
    fn unicode_characters_count_once() {
        assert!(like("é", "_"));
        assert!(like("日本語", "_本_"));
        assert!(like("日本語", "%語"));
        assert!(!like("日本語", "__"));
        assert!(like("xé", "%_"));
        assert!(like("éx", "_%"));
        assert!(like("aéb", "%é_"));
    }

    #[test]
    fn case_sensitive() {
        assert!(!like("ABC", "abc"));
        assert!(!like("aBc", "_b%"));
    }
}
