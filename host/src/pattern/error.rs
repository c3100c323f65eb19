//! Error types for pattern validation and document matching.

/// A pattern was rejected.
///
/// `Display` always names where the problem is: for semantic problems the dotted
/// JSON path inside the pattern (`(root)` for the top level) and, where one is
/// involved, the operator, e.g.
/// `at detail.price: "numeric" expects pairs of operator and number, got "abc"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern text is not well-formed JSON.
    #[error("pattern is not valid JSON at byte {offset}: {message}")]
    Json {
        /// Byte offset into the pattern text.
        offset: usize,
        /// What was wrong.
        message: String,
    },
    /// The pattern text is larger than [`MAX_PATTERN_BYTES`](super::MAX_PATTERN_BYTES).
    #[error("pattern is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the pattern text in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The pattern is well-formed JSON but not a valid event pattern.
    #[error("at {path}: {message}")]
    Invalid {
        /// Dotted path inside the pattern (`(root)` for the top-level object;
        /// `$or[i]` marks the i-th alternative of an `$or`).
        path: String,
        /// The operator involved, if any (e.g. `numeric`, `anything-but`).
        operator: Option<String>,
        /// Human-readable description; it quotes the operator when there is one.
        message: String,
    },
}

impl PatternError {
    pub(crate) fn invalid(path: &str, message: impl Into<String>) -> Self {
        PatternError::Invalid {
            path: if path.is_empty() {
                "(root)".to_string()
            } else {
                path.to_string()
            },
            operator: None,
            message: message.into(),
        }
    }

    pub(crate) fn op(path: &str, operator: &str, message: impl Into<String>) -> Self {
        PatternError::Invalid {
            path: if path.is_empty() {
                "(root)".to_string()
            } else {
                path.to_string()
            },
            operator: Some(operator.to_string()),
            message: message.into(),
        }
    }

    /// The pattern path the error refers to, if it is a semantic error.
    pub fn path(&self) -> Option<&str> {
        match self {
            PatternError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The operator the error refers to, if any.
    pub fn operator(&self) -> Option<&str> {
        match self {
            PatternError::Invalid { operator, .. } => operator.as_deref(),
            _ => None,
        }
    }
}

/// An event document could not be matched because it is not acceptable JSON.
///
/// The scanner fully checks the parts of the document that some rule looks at
/// (strings are unescaped and UTF-8 checked, numbers follow the JSON grammar).
/// Subtrees that no rule mentions are skipped with a cheaper check (balanced
/// brackets, terminated strings), so some malformed scalars inside skipped
/// subtrees are tolerated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON document at byte {offset}: {kind}")]
pub struct MatchError {
    /// Byte offset where the problem was detected.
    pub offset: usize,
    /// What was wrong.
    pub kind: MatchErrorKind,
}

/// The kind of a [`MatchError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MatchErrorKind {
    /// The document ended in the middle of a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    #[error("unexpected character")]
    UnexpectedByte,
    /// A bad escape sequence in a string.
    #[error("invalid escape sequence")]
    BadEscape,
    /// A string is not valid UTF-8 (or encodes a lone surrogate).
    #[error("invalid UTF-8 in string")]
    BadUtf8,
    /// A number does not follow the JSON grammar.
    #[error("invalid number")]
    BadNumber,
    /// Brackets do not balance.
    #[error("mismatched brackets")]
    Mismatched,
    /// Nesting deeper than [`MAX_DOCUMENT_DEPTH`](super::MAX_DOCUMENT_DEPTH).
    #[error("document nested too deeply")]
    TooDeep,
    /// Non-whitespace after the top-level value.
    #[error("trailing characters after the document")]
    TrailingData,
}
