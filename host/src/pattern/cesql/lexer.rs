//! Hand-written lexer: source text to tokens.

use super::error::ParseError;

/// A keyword. Keywords are case-insensitive (spec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyword {
    And,
    Or,
    Xor,
    Not,
    Like,
    In,
    Exists,
    True,
    False,
}

impl Keyword {
    pub(super) const ALL: [(&'static str, Keyword); 9] = [
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("XOR", Keyword::Xor),
        ("NOT", Keyword::Not),
        ("LIKE", Keyword::Like),
        ("IN", Keyword::In),
        ("EXISTS", Keyword::Exists),
        ("TRUE", Keyword::True),
        ("FALSE", Keyword::False),
    ];

    pub(super) fn lookup(word: &str) -> Option<Keyword> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, k)| k)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|&&(_, k)| k == self)
            .map_or("?", |&(name, _)| name)
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// Unsigned digits. Values above `u32::MAX` saturate; the parser range
    /// checks (it needs 2147483648 for `-2147483648`).
    Integer(u64),
    /// A string literal, escapes resolved.
    Str(String),
    /// An identifier or function name: `[A-Za-z0-9_]+`, not all digits, not a
    /// keyword.
    Word,
    Keyword(Keyword),
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Eq,
    /// `!=` or `<>`.
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
}

/// A token and where it is in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    /// Byte offset of the first character.
    pub(super) start: usize,
    /// Byte offset just past the last character.
    pub(super) end: usize,
}

impl Token {
    /// How the token is named in error messages.
    pub(super) fn describe(&self, src: &str) -> String {
        match &self.kind {
            TokenKind::Eof => "end of input".to_owned(),
            TokenKind::Str(_) => "a string literal".to_owned(),
            TokenKind::Integer(_) => format!("the integer {}", &src[self.start..self.end]),
            TokenKind::Keyword(k) => format!("the keyword {}", k.name()),
            TokenKind::Word => format!("'{}'", &src[self.start..self.end]),
            _ => format!("'{}'", &src[self.start..self.end]),
        }
    }
}

/// Splits `src` into tokens, ending with [`TokenKind::Eof`].
pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        let single = |kind| Some((kind, 1));
        let op = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => single(TokenKind::LParen),
            b')' => single(TokenKind::RParen),
            b',' => single(TokenKind::Comma),
            b'+' => single(TokenKind::Plus),
            b'-' => single(TokenKind::Minus),
            b'*' => single(TokenKind::Star),
            b'/' => single(TokenKind::Slash),
            b'%' => single(TokenKind::Percent),
            b'=' => single(TokenKind::Eq),
            b'!' if bytes.get(i + 1) == Some(&b'=') => Some((TokenKind::NotEq, 2)),
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => Some((TokenKind::Le, 2)),
                Some(b'>') => Some((TokenKind::NotEq, 2)),
                _ => single(TokenKind::Lt),
            },
            b'>' => match bytes.get(i + 1) {
                Some(b'=') => Some((TokenKind::Ge, 2)),
                _ => single(TokenKind::Gt),
            },
            _ => None,
        };
        if let Some((kind, len)) = op {
            i += len;
            tokens.push(Token {
                kind,
                start,
                end: i,
            });
            continue;
        }
        if b == b'\'' || b == b'"' {
            let (value, end) = string_literal(src, start)?;
            i = end;
            tokens.push(Token {
                kind: TokenKind::Str(value),
                start,
                end,
            });
            continue;
        }
        if b.is_ascii_alphanumeric() || b == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let text = &src[start..i];
            let kind = if text.bytes().all(|c| c.is_ascii_digit()) {
                TokenKind::Integer(parse_digits(text))
            } else if let Some(k) = Keyword::lookup(text) {
                TokenKind::Keyword(k)
            } else {
                TokenKind::Word
            };
            tokens.push(Token {
                kind,
                start,
                end: i,
            });
            continue;
        }
        let c = src[start..].chars().next().unwrap_or('\u{FFFD}');
        let message = if c == '!' {
            "unexpected character '!' (did you mean '!=' or NOT?)".to_owned()
        } else {
            format!("unexpected character {c:?}")
        };
        return Err(ParseError::new(src, start, message));
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(tokens)
}

/// Decimal digits to a number, saturating above `u32::MAX` (anything that
/// large is out of range for a CESQL integer anyway).
fn parse_digits(digits: &str) -> u64 {
    let mut n: u64 = 0;
    for d in digits.bytes() {
        n = n * 10 + u64::from(d - b'0');
        if n > u64::from(u32::MAX) {
            return u64::MAX;
        }
    }
    n
}

/// Reads the string literal whose opening quote is at `start`. Returns the
/// value and the offset just past the closing quote.
///
/// Escapes: a backslash before the delimiting quote stands for that quote
/// (`'it\'s'`, `"say \"hi\""`), and so does a doubled quote (`'it''s'`, the
/// SQL way). A backslash before anything else is kept as it is, together with
/// the next character, so `'a\%b'` keeps its `\%` for the LIKE escapes.
fn string_literal(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[start] as char;
    let mut value = String::new();
    let mut chars = src[start + 1..].char_indices().peekable();
    while let Some((rel, c)) = chars.next() {
        if c == quote {
            if let Some(&(_, next)) = chars.peek()
                && next == quote
            {
                value.push(quote);
                chars.next();
                continue;
            }
            return Ok((value, start + 1 + rel + 1));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, next)) if next == quote => value.push(quote),
                Some((_, next)) => {
                    value.push('\\');
                    value.push(next);
                }
                None => break,
            }
            continue;
        }
        value.push(c);
    }
    Err(ParseError::new(
        src,
        start,
        format!("unterminated string literal (missing closing {quote})"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        tokenize(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn operators() {
        use TokenKind::*;
        assert_eq!(
            kinds("= != <> < <= > >= + - * / % ( ) ,"),
            vec![
                Eq, NotEq, NotEq, Lt, Le, Gt, Ge, Plus, Minus, Star, Slash, Percent, LParen,
                RParen, Comma, Eof
            ]
        );
    }

    #[test]
    fn words_and_keywords() {
        use TokenKind::*;
        assert_eq!(
            kinds("tRuE and myext 123 1a2 CONCAT_WS"),
            vec![
                Keyword(super::Keyword::True),
                Keyword(super::Keyword::And),
                Word,
                Integer(123),
                Word,
                Word,
                Eof
            ]
        );
        assert_eq!(
            kinds("99999999999999999999999"),
            vec![Integer(u64::MAX), Eof]
        );
    }

    #[test]
    fn strings() {
        let s = |src: &str| match &tokenize(src).unwrap()[0].kind {
            TokenKind::Str(s) => s.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(s(r#"'a"b\'c'"#), r#"a"b'c"#);
        assert_eq!(s(r#""a'b\"c""#), r#"a'b"c"#);
        assert_eq!(s("'it''s'"), "it's");
        assert_eq!(s("''"), "");
        assert_eq!(s(r"'a\%b\_c\\d'"), r"a\%b\_c\\d");
        assert_eq!(s("'héllo wörld'"), "héllo wörld");
        assert!(tokenize("'abc").is_err());
        assert!(tokenize(r"'abc\'").is_err());
        assert!(tokenize(r"'abc\").is_err());
    }

    #[test]
    fn bad_characters() {
        let e = tokenize("a ! b").unwrap_err();
        assert_eq!(e.column, 3);
        assert!(tokenize("a ~ b").is_err());
        assert!(tokenize("é").is_err());
    }
}
