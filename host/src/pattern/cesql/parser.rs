//! Hand-written Pratt parser: tokens to a resolved, constant-folded tree.
//!
//! Precedence, from loosest to tightest (spec §3.6), equal precedence
//! associating to the left:
//!
//! 1. `AND`, `OR`, `XOR` (one level: `a OR b AND c` is `(a OR b) AND c`)
//! 2. `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`
//! 3. `+`, `-`
//! 4. `*`, `/`, `%`
//! 5. `[NOT] IN (...)`
//! 6. `[NOT] LIKE 'pattern'`
//! 7. unary `NOT` and `-`
//! 8. function calls, `EXISTS name`, literals, attributes, `( ... )`

use super::ast::{BP_IN, BP_LIKE, BP_UNARY, BinOp, Node};
use super::error::ParseError;
use super::eval;
use super::functions::FunctionRegistry;
use super::lexer::{Keyword, Token, TokenKind, tokenize};
use super::like::LikePattern;
use super::value::Value;
use super::{MAX_EXPRESSION_LEN, MAX_NESTING_DEPTH};

/// Parses `src`, resolving function calls against `registry`.
pub(super) fn parse(src: &str, registry: &FunctionRegistry) -> Result<Node, ParseError> {
    if src.len() > MAX_EXPRESSION_LEN {
        let mut at = MAX_EXPRESSION_LEN;
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        return Err(ParseError::new(
            src,
            at,
            format!(
                "expression is too long ({} bytes; the maximum is {MAX_EXPRESSION_LEN})",
                src.len()
            ),
        ));
    }
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        registry,
    };
    let node = parser.expr(0)?;
    let tok = parser.peek();
    if tok.kind != TokenKind::Eof {
        let message = match tok.kind {
            TokenKind::RParen => "unbalanced ')'".to_owned(),
            _ => format!(
                "expected an operator or the end of the expression, found {}",
                tok.describe(src)
            ),
        };
        return Err(parser.error(tok.start, message));
    }
    Ok(node)
}

struct Parser<'s, 'r> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    /// Current nesting: parentheses, function calls, IN lists, unary
    /// operators.
    depth: usize,
    registry: &'r FunctionRegistry,
}

/// What follows an operand in the Pratt loop.
enum Infix {
    Binary(BinOp),
    Like { negated: bool },
    In { negated: bool },
}

impl Parser<'_, '_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    /// Consumes and returns the next token (the `Eof` token is never
    /// consumed).
    fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.kind != TokenKind::Eof {
            self.pos += 1;
        }
        tok
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, offset, message)
    }

    fn text(&self, tok: &Token) -> &str {
        &self.src[tok.start..tok.end]
    }

    /// Runs `f` one nesting level deeper, enforcing [`MAX_NESTING_DEPTH`].
    fn nested<T>(
        &mut self,
        at: usize,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(self.error(
                at,
                format!("expression nests too deeply (the maximum depth is {MAX_NESTING_DEPTH})"),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn expect(&mut self, kind: &TokenKind, what: &str, context: &str) -> Result<Token, ParseError> {
        let tok = self.bump();
        if tok.kind == *kind {
            Ok(tok)
        } else {
            Err(self.error(
                tok.start,
                format!(
                    "expected {what} {context}, found {}",
                    tok.describe(self.src)
                ),
            ))
        }
    }

    /// The infix or postfix operator at the current token, if any.
    fn infix(&self) -> Option<Infix> {
        use TokenKind as T;
        Some(match &self.peek().kind {
            T::Keyword(Keyword::And) => Infix::Binary(BinOp::And),
            T::Keyword(Keyword::Or) => Infix::Binary(BinOp::Or),
            T::Keyword(Keyword::Xor) => Infix::Binary(BinOp::Xor),
            T::Eq => Infix::Binary(BinOp::Eq),
            T::NotEq => Infix::Binary(BinOp::NotEq),
            T::Lt => Infix::Binary(BinOp::Lt),
            T::Le => Infix::Binary(BinOp::Le),
            T::Gt => Infix::Binary(BinOp::Gt),
            T::Ge => Infix::Binary(BinOp::Ge),
            T::Plus => Infix::Binary(BinOp::Add),
            T::Minus => Infix::Binary(BinOp::Sub),
            T::Star => Infix::Binary(BinOp::Mul),
            T::Slash => Infix::Binary(BinOp::Div),
            T::Percent => Infix::Binary(BinOp::Rem),
            T::Keyword(Keyword::Like) => Infix::Like { negated: false },
            T::Keyword(Keyword::In) => Infix::In { negated: false },
            T::Keyword(Keyword::Not) => match self.peek_at(1).kind {
                T::Keyword(Keyword::Like) => Infix::Like { negated: true },
                T::Keyword(Keyword::In) => Infix::In { negated: true },
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Parses an expression whose operators all bind at least as tightly as
    /// `min_bp`.
    fn expr(&mut self, min_bp: u8) -> Result<Node, ParseError> {
        let mut lhs = self.prefix()?;
        while let Some(infix) = self.infix() {
            lhs = match infix {
                Infix::Like { negated } => {
                    if BP_LIKE < min_bp {
                        break;
                    }
                    self.like(lhs, negated)?
                }
                Infix::In { negated } => {
                    if BP_IN < min_bp {
                        break;
                    }
                    self.in_list(lhs, negated)?
                }
                Infix::Binary(op) => {
                    let bp = op.binding_power();
                    if bp < min_bp {
                        break;
                    }
                    self.binary_run(lhs, bp)?
                }
            };
        }
        Ok(lhs)
    }

    /// `lhs op1 e1 op2 e2 ...` for operators of binding power `bp`.
    fn binary_run(&mut self, lhs: Node, bp: u8) -> Result<Node, ParseError> {
        let mut rest = Vec::new();
        while let Some(Infix::Binary(op)) = self.infix() {
            if op.binding_power() != bp {
                break;
            }
            let pos = self.bump().start;
            let rhs = self.expr(bp + 1)?;
            rest.push((op, pos, rhs));
        }
        let node = if rest.len() == 1 {
            let (op, pos, rhs) = rest.remove(0);
            binary_node(op, pos, lhs, rhs)
        } else {
            Node::Chain {
                first: Box::new(lhs),
                rest,
            }
        };
        Ok(fold(node))
    }

    /// `lhs [NOT] LIKE 'pattern'`; the `[NOT] LIKE` tokens are next.
    fn like(&mut self, lhs: Node, negated: bool) -> Result<Node, ParseError> {
        if negated {
            self.bump();
        }
        self.bump();
        let tok = self.bump();
        let TokenKind::Str(pattern) = &tok.kind else {
            return Err(self.error(
                tok.start,
                format!(
                    "the pattern of LIKE must be a string literal, found {}",
                    tok.describe(self.src)
                ),
            ));
        };
        Ok(fold(Node::Like {
            operand: Box::new(lhs),
            pattern: LikePattern::new(pattern),
            negated,
        }))
    }

    /// `lhs [NOT] IN (e1, e2, ...)`; the `[NOT] IN` tokens are next.
    fn in_list(&mut self, lhs: Node, negated: bool) -> Result<Node, ParseError> {
        if negated {
            self.bump();
        }
        let pos = self.bump().start;
        let open = self.expect(&TokenKind::LParen, "'('", "after IN")?;
        let list = self.nested(open.start, |p| {
            let mut list = Vec::new();
            loop {
                list.push(p.expr(0)?);
                let tok = p.bump();
                match tok.kind {
                    TokenKind::Comma => continue,
                    TokenKind::RParen => break,
                    _ => {
                        return Err(p.error(
                            tok.start,
                            format!(
                                "expected ',' or ')' in the IN list, found {}",
                                tok.describe(p.src)
                            ),
                        ));
                    }
                }
            }
            Ok(list)
        })?;
        Ok(fold(Node::In {
            operand: Box::new(lhs),
            list,
            negated,
            pos,
        }))
    }

    /// A literal, attribute, function call, `EXISTS`, parenthesised
    /// expression or unary operation.
    fn prefix(&mut self) -> Result<Node, ParseError> {
        let tok = self.bump();
        match &tok.kind {
            TokenKind::Integer(n) => self.integer(*n, false, tok.start),
            TokenKind::Str(s) => Ok(Node::Literal(Value::String(s.clone()))),
            TokenKind::Keyword(Keyword::True) => Ok(Node::Literal(Value::Boolean(true))),
            TokenKind::Keyword(Keyword::False) => Ok(Node::Literal(Value::Boolean(false))),
            TokenKind::Minus | TokenKind::Plus => {
                let negative = tok.kind == TokenKind::Minus;
                if let TokenKind::Integer(n) = self.peek().kind {
                    self.bump();
                    return self.integer(n, negative, tok.start);
                }
                if !negative {
                    return Err(self.error(
                        tok.start,
                        "'+' is only allowed as the sign of an integer literal",
                    ));
                }
                let operand = self.nested(tok.start, |p| p.expr(BP_UNARY))?;
                Ok(fold(Node::Negate {
                    operand: Box::new(operand),
                    pos: tok.start,
                }))
            }
            TokenKind::Keyword(Keyword::Not) => {
                let operand = self.nested(tok.start, |p| p.expr(BP_UNARY))?;
                Ok(fold(Node::Not {
                    operand: Box::new(operand),
                    pos: tok.start,
                }))
            }
            TokenKind::Keyword(Keyword::Exists) => {
                let name = self.bump();
                if name.kind != TokenKind::Word {
                    return Err(self.error(
                        name.start,
                        format!(
                            "EXISTS must be followed by an attribute name, found {}",
                            name.describe(self.src)
                        ),
                    ));
                }
                let name = self.attribute_name(&name)?;
                Ok(Node::Exists { name })
            }
            TokenKind::LParen => {
                let inner = self.nested(tok.start, |p| p.expr(0))?;
                let close = self.bump();
                if close.kind != TokenKind::RParen {
                    return Err(self.error(
                        close.start,
                        format!(
                            "expected ')' to close the '(' at column {}, found {}",
                            ParseError::new(self.src, tok.start, "").column,
                            close.describe(self.src)
                        ),
                    ));
                }
                Ok(inner)
            }
            TokenKind::Word => {
                if self.peek().kind == TokenKind::LParen {
                    self.call(&tok)
                } else {
                    let name = self.attribute_name(&tok)?;
                    Ok(Node::Attribute {
                        name,
                        pos: tok.start,
                    })
                }
            }
            _ => Err(self.error(
                tok.start,
                format!("expected an expression, found {}", tok.describe(self.src)),
            )),
        }
    }

    /// An integer literal with its sign; it must fit in 32 bits.
    fn integer(&self, magnitude: u64, negative: bool, start: usize) -> Result<Node, ParseError> {
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        match value.and_then(|v| i32::try_from(v).ok()) {
            Some(v) => Ok(Node::Literal(Value::Integer(v))),
            None => Err(self.error(
                start,
                format!(
                    "integer literal {}{} does not fit in a 32-bit signed integer",
                    if negative { "-" } else { "" },
                    if magnitude == u64::MAX {
                        "(too many digits)".to_owned()
                    } else {
                        magnitude.to_string()
                    }
                ),
            )),
        }
    }

    /// Validates an attribute name (`[A-Za-z0-9]+`) and lower-cases it.
    fn attribute_name(&self, tok: &Token) -> Result<Box<str>, ParseError> {
        let text = self.text(tok);
        if let Some(i) = text.find('_') {
            return Err(self.error(
                tok.start + i,
                format!("invalid attribute name '{text}': attribute names contain only letters and digits"),
            ));
        }
        Ok(text.to_ascii_lowercase().into_boxed_str())
    }

    /// `name(args...)`; `name` has been consumed, `(` is next.
    fn call(&mut self, name_tok: &Token) -> Result<Node, ParseError> {
        let name = self.text(name_tok).to_owned();
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(self.error(
                name_tok.start,
                format!("invalid function name '{name}': it must start with a letter"),
            ));
        }
        let open = self.bump();
        let args = self.nested(open.start, |p| {
            let mut args = Vec::new();
            if p.peek().kind == TokenKind::RParen {
                p.bump();
                return Ok(args);
            }
            loop {
                args.push(p.expr(0)?);
                let tok = p.bump();
                match tok.kind {
                    TokenKind::Comma => continue,
                    TokenKind::RParen => break,
                    _ => {
                        return Err(p.error(
                            tok.start,
                            format!(
                                "expected ',' or ')' in the arguments of {name}, found {}",
                                tok.describe(p.src)
                            ),
                        ));
                    }
                }
            }
            Ok(args)
        })?;
        let pos = name_tok.start;
        Ok(match self.registry.resolve(&name, args.len()) {
            Some(function) => fold(Node::Call {
                function,
                args,
                pos,
            }),
            None => Node::MissingFunction {
                name: name.to_ascii_uppercase().into_boxed_str(),
                arity: args.len(),
                pos,
            },
        })
    }
}

/// `lhs op rhs`, specialised for comparisons of an attribute with a literal.
fn binary_node(op: BinOp, pos: usize, lhs: Node, rhs: Node) -> Node {
    if op.is_comparison() {
        match (lhs, rhs) {
            (
                Node::Attribute {
                    name,
                    pos: name_pos,
                },
                Node::Literal(literal),
            ) => {
                return Node::AttributeComparison {
                    op,
                    pos,
                    name,
                    name_pos,
                    literal,
                    attribute_first: true,
                };
            }
            (
                Node::Literal(literal),
                Node::Attribute {
                    name,
                    pos: name_pos,
                },
            ) => {
                return Node::AttributeComparison {
                    op,
                    pos,
                    name,
                    name_pos,
                    literal,
                    attribute_first: false,
                };
            }
            (lhs, rhs) => {
                return Node::Binary {
                    op,
                    pos,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                };
            }
        }
    }
    Node::Binary {
        op,
        pos,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    }
}

/// Replaces a node whose operands are all literals by its value, when
/// evaluating it raises no error (otherwise it stays, so the error is
/// reported by every evaluation).
fn fold(node: Node) -> Node {
    if node.is_constant()
        && let Some(value) = eval::constant_value(&node)
    {
        return Node::Literal(value);
    }
    node
}
