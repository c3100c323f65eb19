//! Pattern validation and compilation (event-ruler `JsonRuleCompiler` semantics,
//! including `$or` expansion into sub-rules).

use super::error::PatternError;
use super::ip::{IpRange, parse_cidr, parse_ip};
use super::json::{PVal, parse_pattern_text};
use super::number::{self, SCALED_LIMIT};
use super::ops::{Cond, NumKey, Op, RegexOp, SubRule, fold};
use super::wildcard::Wildcard;
use super::{
    MAX_FIELDS_PER_SUB_RULE, MAX_OPERAND_BYTES, MAX_PATTERN_BYTES, MAX_REGEX_BYTES,
    MAX_REGEX_COMPILED_BYTES, MAX_REGEX_DFA_BYTES, MAX_SUB_RULES, MAX_VALUES_PER_FIELD,
    MAX_VALUES_PER_PATTERN,
};

/// One validated event pattern, ready to be added to a [`Matcher`](super::Matcher)
/// or evaluated with [`reference_matches`](super::reference_matches) (also
/// `Pattern::matches`).
///
/// Internally a pattern is a disjunction of *sub-rules* (one per combination of
/// `$or` alternatives), each a conjunction of field conditions.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub(crate) subs: Vec<SubRule>,
}

/// Field names that may not be used inside an `$or` alternative (event-ruler's
/// `RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`, plus this crate's extensions).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "html",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "contains",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

const OPERATORS: &str = "exactly, prefix, suffix, equals-ignore-case, anything-but, numeric, exists, cidr, wildcard, contains, regex";

impl Pattern {
    /// Parses and validates a pattern from JSON text.
    ///
    /// ```
    /// use signalbox::pattern::Pattern;
    /// let p = Pattern::parse(r#"{"source": ["aws.ec2"], "detail": {"state": [{"anything-but": "pending"}]}}"#).unwrap();
    /// assert_eq!(p.sub_rule_count(), 1);
    /// let err = Pattern::parse(r#"{"detail": {"price": [{"numeric": [">", "abc"]}]}}"#).unwrap_err();
    /// assert!(err.to_string().starts_with("at detail.price: \"numeric\""));
    /// ```
    pub fn parse(json: &str) -> Result<Pattern, PatternError> {
        if json.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLarge {
                size: json.len(),
                limit: MAX_PATTERN_BYTES,
            });
        }
        let v = parse_pattern_text(json)?;
        compile(&v)
    }

    /// Validates a pattern given as a `serde_json::Value`.
    ///
    /// Numbers arrive as `f64`/`i64`/`u64`, so numeric operands with more than 15
    /// significant digits may lose precision; prefer [`Pattern::parse`] for text.
    /// (A `Value` cannot hold duplicate keys, which `parse` rejects.)
    pub fn from_value(v: &serde_json::Value) -> Result<Pattern, PatternError> {
        let size = serde_json::to_string(v)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLarge {
                size,
                limit: MAX_PATTERN_BYTES,
            });
        }
        let p = PVal::from_serde(v, 0)?;
        compile(&p)
    }

    /// Number of sub-rules after `$or` expansion (1 for a pattern without `$or`).
    pub fn sub_rule_count(&self) -> usize {
        self.subs.len()
    }
}

struct Compiler {
    values: usize,
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

type Branch = Vec<Cond>;

fn compile(root: &PVal) -> Result<Pattern, PatternError> {
    let PVal::Obj(fields) = root else {
        return Err(PatternError::invalid(
            "",
            format!("a pattern must be a JSON object, got {}", root.kind()),
        ));
    };
    let mut c = Compiler { values: 0 };
    let mut rules: Vec<Branch> = Vec::new();
    c.object(&mut rules, "", "", fields, false)?;
    let mut subs = Vec::with_capacity(rules.len());
    for mut conds in rules {
        if conds.len() > MAX_FIELDS_PER_SUB_RULE {
            return Err(PatternError::invalid(
                "",
                format!(
                    "a pattern (or one $or combination) may name at most {MAX_FIELDS_PER_SUB_RULE} fields"
                ),
            ));
        }
        conds.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        subs.push(SubRule { conds });
    }
    Ok(Pattern { subs })
}

impl Compiler {
    fn object(
        &mut self,
        rules: &mut Vec<Branch>,
        fpath: &str,
        dpath: &str,
        fields: &[(String, PVal)],
        in_or: bool,
    ) -> Result<(), PatternError> {
        if fields.is_empty() {
            return Err(PatternError::invalid(
                dpath,
                "empty objects are not allowed",
            ));
        }
        for (k, v) in fields {
            if k == "$or" {
                self.or(rules, fpath, dpath, v)?;
                continue;
            }
            let fp = join(fpath, k);
            let dp = join(dpath, k);
            if in_or && RESERVED_IN_OR.contains(&k.as_str()) {
                return Err(PatternError::op(
                    &dp,
                    "$or",
                    format!("{k:?} is a reserved word and cannot be a field name inside \"$or\""),
                ));
            }
            match v {
                PVal::Obj(sub) => self.object(rules, &fp, &dp, sub, in_or)?,
                PVal::Arr(items) => {
                    let cond = self.leaf(&fp, &dp, items)?;
                    if rules.is_empty() {
                        rules.push(Vec::new());
                    }
                    for r in rules.iter_mut() {
                        if r.iter().any(|c| c.path == cond.path) {
                            return Err(PatternError::invalid(
                                &dp,
                                format!("path {fp:?} is given more than once"),
                            ));
                        }
                        r.push(cond.clone());
                    }
                }
                other => {
                    return Err(PatternError::invalid(
                        &dp,
                        format!(
                            "a field must map to an object or to an array of values, got {}",
                            other.kind()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn or(
        &mut self,
        rules: &mut Vec<Branch>,
        fpath: &str,
        dpath: &str,
        v: &PVal,
    ) -> Result<(), PatternError> {
        let dp = join(dpath, "$or");
        let PVal::Arr(alts) = v else {
            return Err(PatternError::op(
                &dp,
                "$or",
                format!("\"$or\" must be an array of objects, got {}", v.kind()),
            ));
        };
        let current = std::mem::take(rules);
        for (i, alt) in alts.iter().enumerate() {
            let adp = format!("{dp}[{i}]");
            let PVal::Obj(fields) = alt else {
                return Err(PatternError::op(
                    &adp,
                    "$or",
                    format!(
                        "only objects are allowed in the \"$or\" array, got {}",
                        alt.kind()
                    ),
                ));
            };
            let mut branch = current.clone();
            if branch.is_empty() {
                branch.push(Vec::new());
            }
            self.object(&mut branch, fpath, &adp, fields, true)?;
            rules.extend(branch);
            if rules.len() > MAX_SUB_RULES {
                return Err(PatternError::op(
                    &dp,
                    "$or",
                    format!("\"$or\" expands to more than {MAX_SUB_RULES} combinations"),
                ));
            }
        }
        if alts.len() < 2 {
            return Err(PatternError::op(
                &dp,
                "$or",
                format!("\"$or\" needs at least 2 alternatives, got {}", alts.len()),
            ));
        }
        Ok(())
    }

    fn count(&mut self, dp: &str) -> Result<(), PatternError> {
        self.values += 1;
        if self.values > MAX_VALUES_PER_PATTERN {
            return Err(PatternError::invalid(
                dp,
                format!("a pattern may contain at most {MAX_VALUES_PER_PATTERN} values"),
            ));
        }
        Ok(())
    }

    fn leaf(&mut self, fp: &str, dp: &str, items: &[PVal]) -> Result<Cond, PatternError> {
        if items.is_empty() {
            return Err(PatternError::invalid(
                dp,
                "empty arrays are not allowed: list at least one value",
            ));
        }
        if items.len() > MAX_VALUES_PER_FIELD {
            return Err(PatternError::invalid(
                dp,
                format!("a field may list at most {MAX_VALUES_PER_FIELD} values"),
            ));
        }
        let mut ops = Vec::new();
        let mut absent = false;
        for it in items {
            self.count(dp)?;
            match it {
                PVal::Str(s) => {
                    check_len(dp, None, s)?;
                    match parse_ip(s) {
                        Some(ip) => ops.push(Op::Ip(IpRange::single(ip))),
                        None => ops.push(Op::ExactStr(s.as_str().into())),
                    }
                }
                PVal::Num(t) => ops.push(Op::ExactNum(NumKey::from_text(t.as_bytes()))),
                PVal::Bool(b) => ops.push(Op::ExactBool(*b)),
                PVal::Null => ops.push(Op::ExactNull),
                PVal::Arr(_) => {
                    return Err(PatternError::invalid(
                        dp,
                        "nested arrays are not allowed: values must be strings, numbers, booleans, null or operator objects",
                    ));
                }
                PVal::Obj(f) => self.operator(dp, f, &mut ops, &mut absent)?,
            }
        }
        Ok(Cond {
            path: fp.into(),
            ops,
            absent,
        })
    }

    fn operator(
        &mut self,
        dp: &str,
        f: &[(String, PVal)],
        ops: &mut Vec<Op>,
        absent: &mut bool,
    ) -> Result<(), PatternError> {
        let Some((name, arg)) = f.first() else {
            return Err(PatternError::invalid(
                dp,
                format!("empty operator object; expected one of: {OPERATORS}"),
            ));
        };
        if f.len() > 1 {
            return Err(PatternError::op(
                dp,
                name,
                format!(
                    "an operator object must have exactly one key, got {} ({:?}, {:?}, …)",
                    f.len(),
                    f[0].0,
                    f[1].0
                ),
            ));
        }
        let n = name.as_str();
        let want_str = |what: &str| -> Result<&str, PatternError> {
            match arg {
                PVal::Str(s) => {
                    check_len(dp, Some(n), s)?;
                    Ok(s.as_str())
                }
                other => Err(PatternError::op(
                    dp,
                    n,
                    format!("{n:?} expects {what}, got {}", other.show()),
                )),
            }
        };
        match n {
            "exactly" => ops.push(Op::ExactStr(want_str("a string")?.into())),
            "prefix" | "suffix" => {
                let op = match arg {
                    PVal::Obj(inner) => {
                        let s = ignore_case_operand(dp, n, inner)?;
                        let s = fold(s).into_boxed_str();
                        if n == "prefix" {
                            Op::PrefixIc(s)
                        } else {
                            Op::SuffixIc(s)
                        }
                    }
                    _ => {
                        let s = want_str("a string or {\"equals-ignore-case\": string}")?;
                        if n == "prefix" {
                            Op::Prefix(s.into())
                        } else {
                            Op::Suffix(s.into())
                        }
                    }
                };
                ops.push(op);
            }
            "equals-ignore-case" => ops.push(Op::EqIc(fold(want_str("a string")?).into())),
            "anything-but" => ops.push(self.anything_but(dp, arg)?),
            "numeric" => ops.push(numeric(dp, arg)?),
            "exists" => match arg {
                PVal::Bool(true) => ops.push(Op::Exists),
                PVal::Bool(false) => *absent = true,
                other => {
                    return Err(PatternError::op(
                        dp,
                        n,
                        format!("\"exists\" expects true or false, got {}", other.show()),
                    ));
                }
            },
            "cidr" => {
                let s = want_str("a CIDR string such as \"10.0.0.0/24\"")?;
                let r =
                    parse_cidr(s).map_err(|m| PatternError::op(dp, n, format!("\"cidr\": {m}")))?;
                ops.push(Op::Ip(r));
            }
            "wildcard" => {
                let s = want_str("a string")?;
                let w = Wildcard::parse(s)
                    .map_err(|m| PatternError::op(dp, n, format!("\"wildcard\" {s:?}: {m}")))?;
                ops.push(Op::Wildcard(w));
            }
            "contains" => ops.push(Op::Contains(want_str("a string")?.into())),
            "regex" => {
                let s = want_str("a string")?;
                ops.push(Op::Regex(compile_regex(dp, s)?));
            }
            _ => {
                return Err(PatternError::op(
                    dp,
                    n,
                    format!("unknown operator {n:?}; expected one of: {OPERATORS}"),
                ));
            }
        }
        Ok(())
    }

    fn anything_but(&mut self, dp: &str, arg: &PVal) -> Result<Op, PatternError> {
        const N: &str = "anything-but";
        let num = |t: &str| -> Result<i64, PatternError> {
            number::scaled(t.as_bytes()).ok_or_else(|| {
                PatternError::op(
                    dp,
                    N,
                    format!(
                        "\"anything-but\" number {t} is outside -5e9..5e9 or has more than 6 decimal places"
                    ),
                )
            })
        };
        match arg {
            PVal::Str(s) => {
                check_len(dp, Some(N), s)?;
                Ok(Op::AbStr(vec![s.as_str().into()]))
            }
            PVal::Num(t) => Ok(Op::AbNum(vec![num(t)?])),
            PVal::Arr(items) => {
                if items.is_empty() {
                    return Err(PatternError::op(
                        dp,
                        N,
                        "\"anything-but\" list must not be empty",
                    ));
                }
                if items.len() > MAX_VALUES_PER_FIELD {
                    return Err(PatternError::op(
                        dp,
                        N,
                        format!(
                            "\"anything-but\" list may have at most {MAX_VALUES_PER_FIELD} values"
                        ),
                    ));
                }
                if items.iter().all(|i| matches!(i, PVal::Str(_))) {
                    let mut v = Vec::new();
                    for i in items {
                        if let PVal::Str(s) = i {
                            check_len(dp, Some(N), s)?;
                            self.count(dp)?;
                            v.push(s.as_str().into());
                        }
                    }
                    Ok(Op::AbStr(v))
                } else if items.iter().all(|i| matches!(i, PVal::Num(_))) {
                    let mut v = Vec::new();
                    for i in items {
                        if let PVal::Num(t) = i {
                            self.count(dp)?;
                            v.push(num(t)?);
                        }
                    }
                    Ok(Op::AbNum(v))
                } else {
                    Err(PatternError::op(
                        dp,
                        N,
                        "\"anything-but\" list must be all strings or all numbers (no null, booleans, objects or mixed types)",
                    ))
                }
            }
            PVal::Obj(inner) => {
                let Some((sub, v)) = inner.first() else {
                    return Err(PatternError::op(
                        dp,
                        N,
                        "\"anything-but\" object must have one key: prefix, suffix, equals-ignore-case or wildcard",
                    ));
                };
                if inner.len() > 1 {
                    return Err(PatternError::op(
                        dp,
                        N,
                        "\"anything-but\" object must have exactly one key",
                    ));
                }
                if !matches!(
                    sub.as_str(),
                    "prefix" | "suffix" | "equals-ignore-case" | "wildcard"
                ) {
                    return Err(PatternError::op(
                        dp,
                        N,
                        format!(
                            "unsupported \"anything-but\" operator {sub:?}; expected prefix, suffix, equals-ignore-case or wildcard"
                        ),
                    ));
                }
                let strings: Vec<&str> = match v {
                    PVal::Str(s) => vec![s.as_str()],
                    PVal::Arr(items)
                        if !items.is_empty() && items.len() <= MAX_VALUES_PER_FIELD =>
                    {
                        let mut out = Vec::new();
                        for i in items {
                            match i {
                                PVal::Str(s) => out.push(s.as_str()),
                                other => {
                                    return Err(PatternError::op(
                                        dp,
                                        N,
                                        format!(
                                            "\"anything-but\"/{sub:?} expects strings, got {}",
                                            other.show()
                                        ),
                                    ));
                                }
                            }
                        }
                        out
                    }
                    other => {
                        return Err(PatternError::op(
                            dp,
                            N,
                            format!(
                                "\"anything-but\"/{sub:?} expects a string or a non-empty list of strings, got {}",
                                other.show()
                            ),
                        ));
                    }
                };
                for s in &strings {
                    check_len(dp, Some(N), s)?;
                    self.count(dp)?;
                }
                match sub.as_str() {
                    "prefix" | "suffix" => {
                        if strings.iter().any(|s| s.is_empty()) {
                            return Err(PatternError::op(
                                dp,
                                N,
                                format!("\"anything-but\"/{sub:?} must not be empty"),
                            ));
                        }
                        let v = strings.iter().map(|s| (*s).into()).collect();
                        Ok(if sub == "prefix" {
                            Op::AbPrefix(v)
                        } else {
                            Op::AbSuffix(v)
                        })
                    }
                    "equals-ignore-case" => Ok(Op::AbIc(
                        strings.iter().map(|s| fold(s).into_boxed_str()).collect(),
                    )),
                    "wildcard" => {
                        let mut v = Vec::new();
                        for s in strings {
                            v.push(Wildcard::parse(s).map_err(|m| {
                                PatternError::op(
                                    dp,
                                    N,
                                    format!("\"anything-but\"/\"wildcard\" {s:?}: {m}"),
                                )
                            })?);
                        }
                        Ok(Op::AbWildcard(v))
                    }
                    other => Err(PatternError::op(
                        dp,
                        N,
                        format!(
                            "unsupported \"anything-but\" operator {other:?}; expected prefix, suffix, equals-ignore-case or wildcard"
                        ),
                    )),
                }
            }
            other => Err(PatternError::op(
                dp,
                N,
                format!(
                    "\"anything-but\" expects a string, a number, a list of strings or numbers, or an object, got {}",
                    other.show()
                ),
            )),
        }
    }
}

fn check_len(dp: &str, op: Option<&str>, s: &str) -> Result<(), PatternError> {
    if s.len() > MAX_OPERAND_BYTES {
        let m = format!("a string value may be at most {MAX_OPERAND_BYTES} bytes long");
        return Err(match op {
            Some(o) => PatternError::op(dp, o, format!("{o:?}: {m}")),
            None => PatternError::invalid(dp, m),
        });
    }
    Ok(())
}

fn ignore_case_operand<'a>(
    dp: &str,
    n: &str,
    inner: &'a [(String, PVal)],
) -> Result<&'a str, PatternError> {
    match inner {
        [(k, PVal::Str(s))] if k == "equals-ignore-case" => {
            check_len(dp, Some(n), s)?;
            Ok(s)
        }
        [(k, other)] if k == "equals-ignore-case" => Err(PatternError::op(
            dp,
            n,
            format!(
                "{n:?}/\"equals-ignore-case\" expects a string, got {}",
                other.show()
            ),
        )),
        [(k, _)] => Err(PatternError::op(
            dp,
            n,
            format!("unsupported {n:?} operator {k:?}; only \"equals-ignore-case\" is allowed"),
        )),
        _ => Err(PatternError::op(
            dp,
            n,
            format!("{n:?} object must have exactly one key, \"equals-ignore-case\""),
        )),
    }
}

fn numeric(dp: &str, arg: &PVal) -> Result<Op, PatternError> {
    const N: &str = "numeric";
    let bad = |what: String| PatternError::op(dp, N, what);
    let PVal::Arr(items) = arg else {
        return Err(bad(format!(
            "\"numeric\" expects an array such as [\">\", 0, \"<=\", 5], got {}",
            arg.show()
        )));
    };
    let pair = |i: usize| -> Result<(&str, i64), PatternError> {
        let op = match items.get(i) {
            Some(PVal::Str(s)) if matches!(s.as_str(), "=" | "<" | "<=" | ">" | ">=") => s.as_str(),
            Some(other) => {
                return Err(bad(format!(
                    "\"numeric\" expects pairs of operator and number, got {}",
                    other.show()
                )));
            }
            None => {
                return Err(bad(
                    "\"numeric\" expects pairs of operator and number".into()
                ));
            }
        };
        let v = match items.get(i + 1) {
            Some(PVal::Num(t)) => number::scaled(t.as_bytes()).ok_or_else(|| {
                bad(format!(
                    "\"numeric\" value {t} is outside -5e9..5e9 or has more than 6 decimal places"
                ))
            })?,
            Some(other) => {
                return Err(bad(format!(
                    "\"numeric\" expects pairs of operator and number, got {}",
                    other.show()
                )));
            }
            None => {
                return Err(bad(format!(
                    "\"numeric\" operator {op:?} must be followed by a number"
                )));
            }
        };
        Ok((op, v))
    };
    let (op1, v1) = pair(0)?;
    let too_many = || {
        bad(format!(
            "\"numeric\" has too many elements after {op1:?}; a range is [\">\" or \">=\", low, \"<\" or \"<=\", high]"
        ))
    };
    match op1 {
        "=" | "<" | "<=" => {
            if items.len() != 2 {
                return Err(too_many());
            }
            Ok(match op1 {
                "=" => Op::Range(v1, v1),
                "<" => Op::Range(-SCALED_LIMIT, v1 - 1),
                _ => Op::Range(-SCALED_LIMIT, v1),
            })
        }
        _ => {
            let lo = if op1 == ">" { v1 + 1 } else { v1 };
            if items.len() == 2 {
                return Ok(Op::Range(lo, SCALED_LIMIT));
            }
            if items.len() != 4 {
                return Err(too_many());
            }
            let (op2, v2) = pair(2)?;
            let hi = match op2 {
                "<" => v2 - 1,
                "<=" => v2,
                _ => {
                    return Err(bad(format!(
                        "\"numeric\" range must have \"<\" or \"<=\" as its second operator, got {op2:?}"
                    )));
                }
            };
            if v1 >= v2 {
                return Err(bad(format!(
                    "\"numeric\" range bottom {} must be less than top {}",
                    number::format_scaled(v1),
                    number::format_scaled(v2)
                )));
            }
            Ok(Op::Range(lo, hi))
        }
    }
}

fn compile_regex(dp: &str, s: &str) -> Result<RegexOp, PatternError> {
    const N: &str = "regex";
    if s.len() > MAX_REGEX_BYTES {
        return Err(PatternError::op(
            dp,
            N,
            format!("\"regex\" may be at most {MAX_REGEX_BYTES} bytes long"),
        ));
    }
    let build = |src: &str| {
        regex::RegexBuilder::new(src)
            .size_limit(MAX_REGEX_COMPILED_BYTES)
            .dfa_size_limit(MAX_REGEX_DFA_BYTES)
            .nest_limit(64)
            .build()
    };
    let first_line = |e: regex::Error| {
        let m = e.to_string();
        let m = m.lines().last().unwrap_or("").trim().to_string();
        PatternError::op(dp, N, format!("\"regex\" {s:?} cannot be used: {m}"))
    };
    // Validate standalone first so the operand cannot escape the anchoring group.
    build(s).map_err(first_line)?;
    let anchored = format!(r"\A(?:{s})\z");
    // Validation uses the `&str` flavour (it rejects patterns that could match
    // invalid UTF-8); matching uses the byte flavour of the same program, which
    // behaves identically on the valid UTF-8 values it is given.
    build(&anchored).map_err(first_line)?;
    let re = regex::bytes::RegexBuilder::new(&anchored)
        .size_limit(MAX_REGEX_COMPILED_BYTES)
        .dfa_size_limit(MAX_REGEX_DFA_BYTES)
        .nest_limit(64)
        .build()
        .map_err(first_line)?;
    Ok(RegexOp { src: s.into(), re })
}
