//! Parse and evaluation errors (spec §3.3).

use std::fmt;

/// The error types every CESQL engine supports (spec §3.3). The `Display`
/// form is the name the TCK uses (`parse`, `math`, `missingAttribute`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The expression is not valid CESQL.
    Parse,
    /// A math operation failed: division or modulo by zero, 32-bit overflow.
    Math,
    /// An implicit or explicit type cast failed.
    Cast,
    /// No function with that name and number of arguments is registered.
    MissingFunction,
    /// A function failed (e.g. `LEFT('abc', -1)`).
    FunctionEvaluation,
    /// The expression references an attribute the event does not have.
    MissingAttribute,
    /// Any other error.
    Generic,
}

impl ErrorKind {
    /// The TCK's name for the kind: `parse`, `math`, `cast`,
    /// `missingFunction`, `functionEvaluation`, `missingAttribute`, `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Parse => "parse",
            ErrorKind::Math => "math",
            ErrorKind::Cast => "cast",
            ErrorKind::MissingFunction => "missingFunction",
            ErrorKind::FunctionEvaluation => "functionEvaluation",
            ErrorKind::MissingAttribute => "missingAttribute",
            ErrorKind::Generic => "generic",
        }
    }

    /// The kind with the given TCK name, if any.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Some(match name {
            "parse" => ErrorKind::Parse,
            "math" => ErrorKind::Math,
            "cast" => ErrorKind::Cast,
            "missingFunction" => ErrorKind::MissingFunction,
            "functionEvaluation" => ErrorKind::FunctionEvaluation,
            "missingAttribute" => ErrorKind::MissingAttribute,
            "generic" => ErrorKind::Generic,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised while evaluating an expression. Evaluation never stops at
/// one: errors are collected in [`Evaluation::errors`](super::Evaluation)
/// while the failing sub-expression yields a default value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} error at byte {offset}: {message}")]
pub struct EvalError {
    /// What kind of error.
    pub kind: ErrorKind,
    /// Byte offset in the expression source of the operator, function or
    /// attribute that raised the error.
    pub offset: usize,
    /// A human-readable description.
    pub message: String,
}

impl From<ParseError> for EvalError {
    /// A parse error as an error of kind [`ErrorKind::Parse`], for callers
    /// that report parse and evaluation errors together.
    fn from(e: ParseError) -> Self {
        EvalError {
            kind: ErrorKind::Parse,
            offset: e.offset,
            message: e.message,
        }
    }
}

/// The expression could not be parsed. `Display` says what is wrong and
/// where, e.g. `expected ')' but found end of input at line 1, column 5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the source where the problem was found.
    pub offset: usize,
    /// 1-based line of `offset`.
    pub line: usize,
    /// 1-based column (in characters) of `offset`.
    pub column: usize,
}

impl ParseError {
    /// Builds an error at byte `offset` of `src`, computing line and column.
    pub(super) fn new(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(src.len());
        // `offset` always lies on a char boundary (it comes from the lexer),
        // but stay total if it does not.
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ParseError {
            message: message.into(),
            offset,
            line,
            column,
        }
    }

    /// Always [`ErrorKind::Parse`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Parse
    }
}
