//! The parsed, resolved expression tree.

use std::sync::Arc;

use super::functions::Function;
use super::like::LikePattern;
use super::value::{Type, Value};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    And,
    Or,
    Xor,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Binding power of the logic operators (lowest).
pub(super) const BP_LOGIC: u8 = 1;
/// Binding power of the comparison operators.
pub(super) const BP_COMPARISON: u8 = 2;
/// Binding power of `+` and `-`.
pub(super) const BP_ADDITIVE: u8 = 3;
/// Binding power of `*`, `/` and `%`.
pub(super) const BP_MULTIPLICATIVE: u8 = 4;
/// Binding power of `[NOT] IN`.
pub(super) const BP_IN: u8 = 5;
/// Binding power of `[NOT] LIKE`.
pub(super) const BP_LIKE: u8 = 6;
/// Binding power of the operand of unary `NOT` and `-`: nothing binds
/// tighter except function calls, literals, attributes and parentheses.
pub(super) const BP_UNARY: u8 = 7;

impl BinOp {
    /// Binding power; operators of equal power associate to the left.
    pub(super) fn binding_power(self) -> u8 {
        match self {
            BinOp::And | BinOp::Or | BinOp::Xor => BP_LOGIC,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                BP_COMPARISON
            }
            BinOp::Add | BinOp::Sub => BP_ADDITIVE,
            BinOp::Mul | BinOp::Div | BinOp::Rem => BP_MULTIPLICATIVE,
        }
    }

    /// The type the operator returns.
    pub(super) fn result_type(self) -> Type {
        match self {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => Type::Integer,
            _ => Type::Boolean,
        }
    }

    /// Whether this is one of `=`, `!=`, `<`, `<=`, `>`, `>=`.
    pub(super) fn is_comparison(self) -> bool {
        self.binding_power() == BP_COMPARISON
    }

    /// The operator as written (upper case for keywords).
    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Xor => "XOR",
            BinOp::Eq => "=",
            BinOp::NotEq => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// One node of the expression tree. `pos` fields are byte offsets into the
/// source, reported with evaluation errors.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// A literal, or a constant sub-expression folded at parse time.
    Literal(Value),
    /// An attribute reference; `name` is lower case.
    Attribute { name: Box<str>, pos: usize },
    /// `EXISTS name`; `name` is lower case.
    Exists { name: Box<str> },
    /// `NOT operand`.
    Not { operand: Box<Node>, pos: usize },
    /// `-operand`.
    Negate { operand: Box<Node>, pos: usize },
    /// `lhs op rhs`.
    Binary {
        op: BinOp,
        pos: usize,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `attribute op literal` or `literal op attribute` for a comparison
    /// `op`: the most common filter shape, evaluated without the general
    /// operand machinery. Same semantics as the `Binary` node it replaces.
    AttributeComparison {
        op: BinOp,
        pos: usize,
        name: Box<str>,
        name_pos: usize,
        literal: Value,
        attribute_first: bool,
    },
    /// A left-associative run of two or more operators of equal binding
    /// power, `first op1 e1 op2 e2 ...`, evaluated left to right exactly as
    /// the nested `Binary` nodes would be. Keeps long `a OR b OR c ...`
    /// chains flat so their depth does not count against the nesting limit.
    Chain {
        first: Box<Node>,
        rest: Vec<(BinOp, usize, Node)>,
    },
    /// `operand [NOT] LIKE 'pattern'`.
    Like {
        operand: Box<Node>,
        pattern: LikePattern,
        negated: bool,
    },
    /// `operand [NOT] IN (list...)`.
    In {
        operand: Box<Node>,
        list: Vec<Node>,
        negated: bool,
        pos: usize,
    },
    /// A call of a function resolved at parse time.
    Call {
        function: Arc<Function>,
        args: Vec<Node>,
        pos: usize,
    },
    /// A call no registered function matches (by name and arity). Evaluates
    /// to `false` with a `missingFunction` error, as the TCK requires.
    MissingFunction {
        name: Box<str>,
        arity: usize,
        pos: usize,
    },
}

impl Node {
    /// The static type of the node's value, [`Type::Any`] when only known at
    /// evaluation time (a bare attribute).
    pub(super) fn result_type(&self) -> Type {
        match self {
            Node::Literal(v) => v.value_type(),
            Node::Attribute { .. } => Type::Any,
            Node::Exists { .. }
            | Node::Not { .. }
            | Node::Like { .. }
            | Node::In { .. }
            | Node::MissingFunction { .. }
            | Node::AttributeComparison { .. } => Type::Boolean,
            Node::Negate { .. } => Type::Integer,
            Node::Binary { op, .. } => op.result_type(),
            Node::Chain { rest, .. } => {
                rest.last().map_or(Type::Any, |(op, _, _)| op.result_type())
            }
            Node::Call { function, .. } => function.return_type(),
        }
    }

    /// Whether the node can be evaluated once at parse time: its children are
    /// all literals and it neither reads the event nor calls a function that
    /// is not a built-in.
    pub(super) fn is_constant(&self) -> bool {
        let lit = |n: &Node| matches!(n, Node::Literal(_));
        match self {
            Node::Literal(_)
            | Node::Attribute { .. }
            | Node::Exists { .. }
            | Node::MissingFunction { .. }
            | Node::AttributeComparison { .. } => false,
            Node::Not { operand, .. }
            | Node::Negate { operand, .. }
            | Node::Like { operand, .. } => lit(operand),
            Node::Binary { lhs, rhs, .. } => lit(lhs) && lit(rhs),
            Node::Chain { first, rest } => lit(first) && rest.iter().all(|(_, _, n)| lit(n)),
            Node::In { operand, list, .. } => lit(operand) && list.iter().all(lit),
            Node::Call { function, args, .. } => function.is_builtin() && args.iter().all(lit),
        }
    }
}
