//! The evaluator.
//!
//! Every node yields a value and whether its sub-tree is error-free. The
//! rules (spec §3.2–§3.4, as pinned down by the TCK):
//!
//! - An error is recorded where it arises: a missing attribute, a failed
//!   cast, a division by zero, an overflow, a failing function.
//! - An operator or function that raises an error *itself* still computes
//!   its result from the fallback values (a failed cast yields the target
//!   type's zero value: `NOT 10` is `true` with a cast error; `ABS` of the
//!   minimum integer is the maximum and a math error).
//! - An operator or function that receives an operand whose sub-tree had an
//!   error does not compute: it yields the zero value of its own return type
//!   (`true AND (1 != 1 / 0)` is `false`; `missing / 0` is `0` with only a
//!   missingAttribute error).
//! - `AND` and `OR` short-circuit; an errored left operand of `AND` counts as
//!   `false`. `IN` stops at the first matching element.
//!
//! In "fail fast" mode (used by `matches`) the first error stops evaluation.

use super::ast::{BinOp, Node};
use super::error::{ErrorKind, EvalError};
use super::event::{EventAttributes, NoAttributes};
use super::functions::Function;
use super::value::{self, Type, Value, ValueRef};

/// Evaluation stopped at the first error (fail-fast mode only).
#[derive(Debug)]
pub(super) struct Stop;

/// A node's result.
#[derive(Debug, Clone)]
pub(super) struct Ev<'a> {
    pub(super) v: ValueRef<'a>,
    /// False if an error was raised anywhere in the sub-tree.
    pub(super) ok: bool,
}

impl<'a> Ev<'a> {
    fn ok(v: ValueRef<'a>) -> Self {
        Ev { v, ok: true }
    }

    /// The zero value of `ty`, marked as errored.
    fn failed(ty: Type) -> Self {
        Ev {
            v: ty.zero_ref(),
            ok: false,
        }
    }
}

struct Cx<'a, 'v> {
    event: &'a dyn EventAttributes,
    /// Where errors go; `None` means fail fast.
    errors: Option<&'v mut Vec<EvalError>>,
}

impl Cx<'_, '_> {
    /// Records an error, or stops in fail-fast mode. The message is only
    /// built when it is recorded.
    fn raise(
        &mut self,
        kind: ErrorKind,
        offset: usize,
        message: impl FnOnce() -> String,
    ) -> Result<(), Stop> {
        match &mut self.errors {
            Some(errors) => {
                errors.push(EvalError {
                    kind,
                    offset,
                    message: message(),
                });
                Ok(())
            }
            None => Err(Stop),
        }
    }

    /// Implicit cast to Integer: (value, cast succeeded).
    fn int(&mut self, v: &ValueRef<'_>, pos: usize) -> Result<(i32, bool), Stop> {
        match value::to_int(v) {
            Ok(i) => Ok((i, true)),
            Err(e) => {
                self.raise(ErrorKind::Cast, pos, || e.message)?;
                Ok((0, false))
            }
        }
    }

    /// Implicit cast to Boolean: (value, cast succeeded).
    fn boolean(&mut self, v: &ValueRef<'_>, pos: usize) -> Result<(bool, bool), Stop> {
        match value::to_bool(v, false) {
            Ok(b) => Ok((b, true)),
            Err(e) => {
                self.raise(ErrorKind::Cast, pos, || e.message)?;
                Ok((false, false))
            }
        }
    }

    /// Implicit cast to `ty` ([`Type::Any`] leaves the value as it is).
    fn cast<'a>(
        &mut self,
        v: ValueRef<'a>,
        ty: Type,
        pos: usize,
    ) -> Result<(ValueRef<'a>, bool), Stop> {
        Ok(match ty {
            Type::Any => (v, true),
            Type::String => (ValueRef::String(value::to_string(v)), true),
            Type::Integer => {
                let (i, ok) = self.int(&v, pos)?;
                (ValueRef::Integer(i), ok)
            }
            Type::Boolean => {
                let (b, ok) = self.boolean(&v, pos)?;
                (ValueRef::Boolean(b), ok)
            }
        })
    }

    /// `x = y`: `x` is cast to the type of `y` (spec §3.7, ambiguous binary
    /// operators). Returns (equal, cast succeeded).
    fn equals(
        &mut self,
        x: &ValueRef<'_>,
        y: &ValueRef<'_>,
        pos: usize,
    ) -> Result<(bool, bool), Stop> {
        use ValueRef as V;
        Ok(match (x, y) {
            (V::Boolean(a), V::Boolean(b)) => (a == b, true),
            (V::Integer(a), V::Integer(b)) => (a == b, true),
            (V::String(a), V::String(b)) => (a == b, true),
            (V::Integer(a), V::String(b)) => (value::str_is_int(b, *a), true),
            (V::Boolean(a), V::String(b)) => (b == if *a { "true" } else { "false" }, true),
            (x, V::Integer(b)) => {
                let (a, ok) = self.int(x, pos)?;
                (a == *b, ok)
            }
            (x, V::Boolean(b)) => {
                let (a, ok) = self.boolean(x, pos)?;
                (a == *b, ok)
            }
        })
    }
}

/// Evaluates `node`. With `errors` the evaluation is complete and collects
/// every error; without, it stops at the first one.
pub(super) fn run<'a>(
    node: &'a Node,
    event: &'a dyn EventAttributes,
    errors: Option<&mut Vec<EvalError>>,
) -> Result<Ev<'a>, Stop> {
    let mut cx = Cx { event, errors };
    eval(node, &mut cx)
}

/// The value of a node that does not read the event, if evaluating it raises
/// no error (used for constant folding).
pub(super) fn constant_value(node: &Node) -> Option<Value> {
    let mut errors = Vec::new();
    match run(node, &NoAttributes, Some(&mut errors)) {
        Ok(ev) if ev.ok && errors.is_empty() => Some(ev.v.into_value()),
        _ => None,
    }
}

/// Looks an attribute up; a missing one is an error.
#[inline]
fn attribute<'a>(name: &str, pos: usize, cx: &mut Cx<'a, '_>) -> Result<Ev<'a>, Stop> {
    match cx.event.attribute(name) {
        Some(v) => Ok(Ev::ok(v)),
        None => missing(name, pos, cx),
    }
}

/// Raises a missing-attribute error. The result is `false`: the zero value
/// of the Boolean operators that read attributes directly, and of an
/// attribute whose type is unknown (spec §3.2).
#[cold]
fn missing<'a>(name: &str, pos: usize, cx: &mut Cx<'a, '_>) -> Result<Ev<'a>, Stop> {
    cx.raise(ErrorKind::MissingAttribute, pos, || {
        format!("the event has no attribute '{name}'")
    })?;
    Ok(Ev::failed(Type::Boolean))
}

/// `x [NOT] IN (list)` for an evaluated, error-free `x`. Elements are
/// cast to the type of `x` (spec §3.7); the first match decides.
fn in_list<'a>(
    x: &ValueRef<'_>,
    list: &'a [Node],
    negated: bool,
    pos: usize,
    cx: &mut Cx<'a, '_>,
) -> Result<Ev<'a>, Stop> {
    let mut ok = true;
    for item in list {
        let y = eval_operand(item, cx)?;
        if !y.ok {
            return Ok(Ev::failed(Type::Boolean));
        }
        let (eq, cast_ok) = cx.equals(&y.v, x, pos)?;
        ok &= cast_ok;
        if eq {
            return Ok(Ev {
                v: ValueRef::Boolean(!negated),
                ok,
            });
        }
    }
    Ok(Ev {
        v: ValueRef::Boolean(negated),
        ok,
    })
}

/// [`eval`] with the common leaves (literals, attributes) handled inline,
/// which saves a call and a copy of the result for most operands.
#[inline(always)]
fn eval_operand<'a>(node: &'a Node, cx: &mut Cx<'a, '_>) -> Result<Ev<'a>, Stop> {
    match node {
        Node::Literal(v) => Ok(Ev::ok(v.to_ref())),
        Node::Attribute { name, pos } => attribute(name, *pos, cx),
        _ => eval(node, cx),
    }
}

fn eval<'a>(node: &'a Node, cx: &mut Cx<'a, '_>) -> Result<Ev<'a>, Stop> {
    // Each arm returns its `Result` directly: unwrapping and re-wrapping the
    // (32-byte) result would copy it through memory on the hot path.
    match node {
        Node::Literal(v) => Ok(Ev::ok(v.to_ref())),
        Node::Attribute { name, pos } => attribute(name, *pos, cx),
        Node::Exists { name } => Ok(Ev::ok(ValueRef::Boolean(cx.event.has_attribute(name)))),
        Node::Not { operand, pos } => {
            let e = eval_operand(operand, cx)?;
            if !e.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            let (b, ok) = cx.boolean(&e.v, *pos)?;
            Ok(Ev {
                v: ValueRef::Boolean(!b),
                ok,
            })
        }
        Node::Negate { operand, pos } => {
            let e = eval_operand(operand, cx)?;
            if !e.ok {
                return Ok(Ev::failed(Type::Integer));
            }
            let (i, ok) = cx.int(&e.v, *pos)?;
            match i.checked_neg() {
                Some(n) => Ok(Ev {
                    v: ValueRef::Integer(n),
                    ok,
                }),
                None => {
                    cx.raise(ErrorKind::Math, *pos, || {
                        format!("-({i}) overflows a 32-bit integer")
                    })?;
                    Ok(Ev {
                        v: ValueRef::Integer(i32::MAX),
                        ok: false,
                    })
                }
            }
        }
        Node::Binary { op, pos, lhs, rhs } => {
            let l = eval_operand(lhs, cx)?;
            binary(*op, *pos, &l, rhs, cx)
        }
        Node::AttributeComparison {
            op,
            pos,
            name,
            name_pos,
            literal,
            attribute_first,
        } => {
            // Matched by reference: moving the value out of the `Option`
            // would copy it through memory right after the callee wrote it.
            let found = cx.event.attribute(name);
            let Some(attr) = &found else {
                return missing(name, *name_pos, cx);
            };
            let literal = literal.to_ref();
            let (l, r) = if *attribute_first {
                (attr, &literal)
            } else {
                (&literal, attr)
            };
            let (v, ok) = compare(*op, *pos, l, r, cx)?;
            Ok(Ev {
                v: ValueRef::Boolean(v),
                ok,
            })
        }
        Node::Chain { first, rest } => {
            let mut acc = eval_operand(first, cx)?;
            for (op, pos, rhs) in rest {
                acc = binary(*op, *pos, &acc, rhs, cx)?;
            }
            Ok(acc)
        }
        Node::Like {
            operand,
            pattern,
            negated,
        } => {
            let like = |v: &ValueRef<'_>| {
                let matched = match v {
                    ValueRef::String(s) => pattern.matches(s),
                    other => pattern.matches(&value::to_string(other.clone())),
                };
                Ok(Ev::ok(ValueRef::Boolean(matched != *negated)))
            };
            // An attribute operand (the usual case) is matched in place.
            if let Node::Attribute { name, pos } = &**operand {
                let found = cx.event.attribute(name);
                return match &found {
                    Some(v) => like(v),
                    None => missing(name, *pos, cx),
                };
            }
            let e = eval_operand(operand, cx)?;
            if !e.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            like(&e.v)
        }
        Node::In {
            operand,
            list,
            negated,
            pos,
        } => {
            // An attribute operand (the usual case) is compared in place.
            if let Node::Attribute {
                name,
                pos: name_pos,
            } = &**operand
            {
                let found = cx.event.attribute(name);
                return match &found {
                    Some(x) => in_list(x, list, *negated, *pos, cx),
                    None => missing(name, *name_pos, cx),
                };
            }
            let x = eval_operand(operand, cx)?;
            if !x.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            in_list(&x.v, list, *negated, *pos, cx)
        }
        Node::Call {
            function,
            args,
            pos,
        } => call(function, args, *pos, cx),
        Node::MissingFunction { name, arity, pos } => {
            cx.raise(ErrorKind::MissingFunction, *pos, || {
                format!("no function {name} taking {arity} argument(s) is registered")
            })?;
            Ok(Ev::failed(Type::Boolean))
        }
    }
}

/// Applies `op` to the evaluated left operand and the right operand's node
/// (evaluated here, so `AND`/`OR` can short-circuit).
fn binary<'a>(
    op: BinOp,
    pos: usize,
    l: &Ev<'a>,
    rhs: &'a Node,
    cx: &mut Cx<'a, '_>,
) -> Result<Ev<'a>, Stop> {
    let boolean = |v: bool, ok: bool| Ev {
        v: ValueRef::Boolean(v),
        ok,
    };
    match op {
        BinOp::And => {
            if !l.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            let (a, a_ok) = cx.boolean(&l.v, pos)?;
            if !a {
                return Ok(boolean(false, a_ok));
            }
            let r = eval_operand(rhs, cx)?;
            if !r.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            let (b, b_ok) = cx.boolean(&r.v, pos)?;
            Ok(boolean(b, a_ok && b_ok))
        }
        BinOp::Or => {
            if !l.ok {
                // An errored operand counts as `false`, which does not
                // short-circuit OR: the right side is still evaluated (its
                // errors are reported), but the result is the zero value.
                eval_operand(rhs, cx)?;
                return Ok(Ev::failed(Type::Boolean));
            }
            let (a, a_ok) = cx.boolean(&l.v, pos)?;
            if a {
                return Ok(boolean(true, a_ok));
            }
            let r = eval_operand(rhs, cx)?;
            if !r.ok {
                return Ok(Ev::failed(Type::Boolean));
            }
            let (b, b_ok) = cx.boolean(&r.v, pos)?;
            Ok(boolean(b, a_ok && b_ok))
        }
        _ => {
            let r = eval_operand(rhs, cx)?;
            if !l.ok || !r.ok {
                return Ok(Ev::failed(op.result_type()));
            }
            strict_binary(op, pos, &l.v, &r.v, cx)
        }
    }
}

/// The operators that always evaluate both operands.
fn strict_binary<'a>(
    op: BinOp,
    pos: usize,
    l: &ValueRef<'_>,
    r: &ValueRef<'_>,
    cx: &mut Cx<'a, '_>,
) -> Result<Ev<'a>, Stop> {
    let boolean = |v: bool, ok: bool| Ev {
        v: ValueRef::Boolean(v),
        ok,
    };
    Ok(match op {
        BinOp::Xor => {
            let (a, a_ok) = cx.boolean(l, pos)?;
            let (b, b_ok) = cx.boolean(r, pos)?;
            boolean(a != b, a_ok && b_ok)
        }
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let (v, ok) = compare(op, pos, l, r, cx)?;
            boolean(v, ok)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
            let (a, a_ok) = cx.int(l, pos)?;
            let (b, b_ok) = cx.int(r, pos)?;
            let (v, ok) = arithmetic(op, pos, a, b, cx)?;
            Ev {
                v: ValueRef::Integer(v),
                ok: ok && a_ok && b_ok,
            }
        }
        // Handled by `binary`; kept total.
        BinOp::And | BinOp::Or => {
            let (a, a_ok) = cx.boolean(l, pos)?;
            let (b, b_ok) = cx.boolean(r, pos)?;
            let v = if op == BinOp::And { a && b } else { a || b };
            boolean(v, a_ok && b_ok)
        }
    })
}

/// A comparison operator: (result, casts succeeded).
#[inline]
fn compare(
    op: BinOp,
    pos: usize,
    l: &ValueRef<'_>,
    r: &ValueRef<'_>,
    cx: &mut Cx<'_, '_>,
) -> Result<(bool, bool), Stop> {
    match op {
        BinOp::Eq => cx.equals(l, r, pos),
        BinOp::NotEq => cx.equals(l, r, pos).map(|(eq, ok)| (!eq, ok)),
        _ => {
            let (a, a_ok) = cx.int(l, pos)?;
            let (b, b_ok) = cx.int(r, pos)?;
            let result = match op {
                BinOp::Lt => a < b,
                BinOp::Le => a <= b,
                BinOp::Gt => a > b,
                _ => a >= b,
            };
            Ok((result, a_ok && b_ok))
        }
    }
}

/// 32-bit arithmetic. Division and modulo by zero yield 0 and a math error;
/// overflow yields the saturated result and a math error (as `ABS` does for
/// the minimum integer).
fn arithmetic(
    op: BinOp,
    pos: usize,
    a: i32,
    b: i32,
    cx: &mut Cx<'_, '_>,
) -> Result<(i32, bool), Stop> {
    if matches!(op, BinOp::Div | BinOp::Rem) && b == 0 {
        cx.raise(ErrorKind::Math, pos, || {
            format!("{a} {} 0: division by zero", op.symbol())
        })?;
        return Ok((0, false));
    }
    let exact = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => a.checked_div(b),
        // `i32::MIN % -1` is mathematically 0; only Rust's check overflows.
        _ => Some(a.checked_rem(b).unwrap_or(0)),
    };
    match exact {
        Some(v) => Ok((v, true)),
        None => {
            let saturated = match op {
                BinOp::Add => a.saturating_add(b),
                BinOp::Sub => a.saturating_sub(b),
                BinOp::Mul => a.saturating_mul(b),
                _ => a.saturating_div(b),
            };
            cx.raise(ErrorKind::Math, pos, || {
                format!("{a} {} {b} overflows a 32-bit integer", op.symbol())
            })?;
            Ok((saturated, false))
        }
    }
}

/// Arguments up to this many are kept on the stack.
const INLINE_ARGS: usize = 4;

fn call<'a>(
    function: &'a Function,
    args: &'a [Node],
    pos: usize,
    cx: &mut Cx<'a, '_>,
) -> Result<Ev<'a>, Stop> {
    let mut inline: [ValueRef<'a>; INLINE_ARGS] = Default::default();
    let mut heap = Vec::new();
    let values: &mut [ValueRef<'a>] = if args.len() <= INLINE_ARGS {
        &mut inline[..args.len()]
    } else {
        heap.resize(args.len(), ValueRef::default());
        &mut heap
    };
    let mut arg_failed = false;
    let mut ok = true;
    for (i, (arg, slot)) in args.iter().zip(values.iter_mut()).enumerate() {
        let e = eval_operand(arg, cx)?;
        if !e.ok {
            arg_failed = true;
        }
        if arg_failed {
            continue;
        }
        let (v, cast_ok) = cx.cast(e.v, function.param_type(i), pos)?;
        ok &= cast_ok;
        *slot = v;
    }
    let returns = function.return_type();
    if arg_failed {
        return Ok(Ev::failed(returns));
    }
    let fits = |v: &Value| returns == Type::Any || v.value_type() == returns;
    match function.call(values) {
        Ok(v) if fits(&v) => Ok(Ev {
            v: ValueRef::from(v),
            ok,
        }),
        Ok(v) => {
            cx.raise(ErrorKind::FunctionEvaluation, pos, || {
                format!(
                    "{} returned a {} where its declared return type is {returns}",
                    function.name(),
                    v.value_type()
                )
            })?;
            Ok(Ev::failed(returns))
        }
        Err(e) => {
            let fallback = e.value().filter(|v| fits(v)).cloned();
            cx.raise(e.kind(), pos, || {
                format!("{}: {}", function.name(), e.message())
            })?;
            Ok(Ev {
                v: fallback.map_or_else(|| returns.zero_ref(), ValueRef::from),
                ok: false,
            })
        }
    }
}
