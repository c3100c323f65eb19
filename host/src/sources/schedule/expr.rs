//! AWS EventBridge schedule expressions: `cron(...)`, `rate(...)` and `at(...)`.
//!
//! This module parses the expressions that EventBridge rules and EventBridge
//! Scheduler accept, prints them back in a normalised form, and computes the
//! next firing after a given instant in the schedule's IANA time zone.
//!
//! # Syntax
//!
//! * `cron(minutes hours day-of-month month day-of-week year)`
//!
//!   | field        | values             | wildcards             |
//!   |--------------|--------------------|-----------------------|
//!   | minutes      | 0-59               | `, - * /`             |
//!   | hours        | 0-23               | `, - * /`             |
//!   | day-of-month | 1-31               | `, - * ? / L W`       |
//!   | month        | 1-12 or JAN-DEC    | `, - * /`             |
//!   | day-of-week  | 1-7 or SUN-SAT     | `, - * ? L #`         |
//!   | year         | 1970-2199          | `, - * /`             |
//!
//!   Exactly one of day-of-month and day-of-week must be `?`. Names and the
//!   letters `L` and `W` are case-insensitive. A range may wrap around
//!   (`20-2` in hours is 20,21,22,23,0,1,2, as in AWS's own example
//!   `cron(0/30 20-2 ? * MON-FRI *)`); every field is still matched on its
//!   own, so that example fires at 00:00 on a Monday but not on a Saturday.
//!   The special forms must stand alone in their field:
//!   `L` (last day of the month), `LW` (last weekday of the month), `nW`
//!   (weekday nearest day *n*, never crossing into another month), `L` in
//!   day-of-week (Saturday, "the last day of the week"), `nL` (last day *n*
//!   of the month, e.g. `6L` = last Friday) and `n#k` (the *k*-th day *n*
//!   of the month, `k` in 1-5, e.g. `2#1` = first Monday).
//!   EventBridge Scheduler documents the year as optional, so five fields are
//!   accepted too (year = `*`); [`Schedule`]'s `Display` always prints six.
//! * `rate(value unit)`: `value` is a whole number from 1 to
//!   [`MAX_RATE_VALUE`]; `unit` is `minute`, `hour` or `day` when the value is
//!   1 and `minutes`, `hours` or `days` otherwise (AWS rejects `rate(1 hours)`
//!   and `rate(5 hour)`). Signalbox also accepts `second`/`seconds`.
//! * `at(yyyy-mm-ddThh:mm:ss)`: a one-shot local date and time, year 1970-2199.
//!
//! # Firing semantics
//!
//! * `cron` is evaluated on the wall clock of the schedule's time zone, to
//!   the minute. As EventBridge Scheduler documents for daylight saving
//!   time: a local time skipped when clocks go forward does **not** fire that
//!   day (it is not moved), and a local time repeated when clocks go back
//!   fires **once**, at its first (earlier) occurrence.
//! * `rate` fires at `anchor + k × period` for `k = 0, 1, 2, …`, where the
//!   anchor is the schedule's start (its creation time if it has no start
//!   date). The period is an absolute duration: `rate(1 day)` is always 24
//!   hours, even across a daylight-saving change, as AWS documents.
//! * `at` fires once. If its local time falls in a daylight-saving gap it
//!   fires at the same elapsed time after the gap's start (02:30 in a skipped
//!   02:00-03:00 hour fires at 03:30); if it falls in a repeated hour it fires
//!   at the first occurrence. AWS does not document this case; this is the
//!   usual "compatible" choice (RFC 5545, Temporal), preferred over never
//!   firing a one-shot schedule.
//!
//! # Time zones
//!
//! Names are IANA time zone names (case-insensitive; [`Schedule::timezone`]
//! gives the database's spelling) resolved through `jiff`'s database. With
//! the features this module is built for (`tzdb-zoneinfo` and
//! `tzdb-bundle-always`), `jiff` reads the system copy (`/usr/share/zoneinfo`
//! or `$TZDIR`), which OS updates keep current, and falls back to a copy
//! bundled into the binary when the system has none (minimal Debian without
//! `tzdata`, distroless or scratch images), so that a schedule accepted on
//! one machine is not rejected as naming an unknown zone on another.

use std::fmt;

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// Longest schedule expression accepted, in bytes.
///
/// The longest meaningful expression is far shorter; the cap keeps error
/// messages and parse work bounded for input that comes from API callers.
pub const MAX_EXPRESSION_LEN: usize = 256;

/// Longest time zone name accepted, in bytes (the longest IANA name has 32).
pub const MAX_TIMEZONE_LEN: usize = 64;

/// First year a `cron` or `at` expression can name (AWS's lower bound).
pub const MIN_YEAR: i16 = 1970;

/// Last year a `cron` or `at` expression can name (AWS's upper bound).
///
/// This is also where the search for the next `cron` firing stops.
pub const MAX_YEAR: i16 = 2199;

/// Largest `value` accepted in `rate(value unit)`.
///
/// AWS documents no upper bound. One million keeps every period well inside
/// an `i64` count of microseconds (a million days is about 2,700 years).
pub const MAX_RATE_VALUE: u32 = 1_000_000;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// A parsed schedule expression together with the time zone it is evaluated
/// in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    expr: Expr,
    tz: TimeZone,
    tz_name: String,
}

/// Which of the three expression forms a [`Schedule`] was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// `cron(minutes hours day-of-month month day-of-week year)`.
    Cron,
    /// `rate(value unit)`.
    Rate,
    /// `at(yyyy-mm-ddThh:mm:ss)`, a one-shot schedule.
    At,
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScheduleKind::Cron => "cron",
            ScheduleKind::Rate => "rate",
            ScheduleKind::At => "at",
        })
    }
}

/// The six fields of a `cron` expression, used to say which one is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CronField {
    /// The first field, 0-59.
    Minutes,
    /// The second field, 0-23.
    Hours,
    /// The third field, 1-31.
    DayOfMonth,
    /// The fourth field, 1-12 or JAN-DEC.
    Month,
    /// The fifth field, 1-7 or SUN-SAT.
    DayOfWeek,
    /// The sixth field, 1970-2199.
    Year,
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minutes => "minutes",
            CronField::Hours => "hours",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
            CronField::Year => "year",
        })
    }
}

/// Why a schedule expression or time zone was rejected.
///
/// Every message starts with the part at fault (`minutes: ...`,
/// `day-of-week: ...`, `rate: ...`, `timezone: ...`) and is meant to be
/// returned to an API caller as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The expression as a whole is malformed: empty, too long, not
    /// `cron(...)`/`rate(...)`/`at(...)`, or a `cron` with the wrong number
    /// of fields.
    #[error("expression: {0}")]
    Expression(String),
    /// One field of a `cron` expression is invalid.
    #[error("{field}: {reason}")]
    Cron {
        /// The field at fault. A day-of-month/day-of-week conflict is
        /// reported against day-of-week.
        field: CronField,
        /// What is wrong with it.
        reason: String,
    },
    /// A `rate` expression is invalid.
    #[error("rate: {0}")]
    Rate(String),
    /// An `at` expression is invalid.
    #[error("at: {0}")]
    At(String),
    /// The time zone name is invalid or unknown.
    #[error("timezone: {0}")]
    TimeZone(String),
}

impl ScheduleError {
    /// The `cron` field at fault, if the error is about one.
    pub fn cron_field(&self) -> Option<CronField> {
        match self {
            ScheduleError::Cron { field, .. } => Some(*field),
            _ => None,
        }
    }
}

impl Schedule {
    /// Parses `expression` (`cron(...)`, `rate(...)` or `at(...)`) and the
    /// IANA `timezone` it is evaluated in (`None` means UTC).
    ///
    /// Parsing takes time linear in the input, which is capped at
    /// [`MAX_EXPRESSION_LEN`] and [`MAX_TIMEZONE_LEN`] bytes.
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let expr = parse_expression(expression)?;
        let (tz, tz_name) = parse_timezone(timezone)?;
        Ok(Schedule { expr, tz, tz_name })
    }

    /// Which form the expression was written in.
    pub fn kind(&self) -> ScheduleKind {
        match self.expr {
            Expr::Cron(_) => ScheduleKind::Cron,
            Expr::Rate(_) => ScheduleKind::Rate,
            Expr::At(_) => ScheduleKind::At,
        }
    }

    /// The IANA name of the schedule's time zone, as the time zone database
    /// spells it (`"UTC"` when none was given).
    pub fn timezone(&self) -> &str {
        &self.tz_name
    }

    /// The first firing strictly after `after`, or `None` if there is none.
    ///
    /// `anchor` is only used by `rate` schedules, which fire at
    /// `anchor + k × period` for `k >= 0` (so the anchor itself is the first
    /// firing); pass the schedule's start, or its creation time. `cron` and
    /// `at` ignore it.
    ///
    /// `None` means: a `cron` schedule has no firing left up to the end of
    /// [`MAX_YEAR`] (local time), or can never fire (`cron(0 0 30 2 ? *)`);
    /// an `at` schedule's instant is not after `after`; a `rate` firing would
    /// fall outside the range `jiff` can represent (past the year 9999).
    ///
    /// The search is by field, not minute by minute: even a schedule that
    /// never fires is settled in microseconds.
    pub fn next_after(&self, after: Timestamp, anchor: Timestamp) -> Option<Timestamp> {
        match &self.expr {
            Expr::Cron(cron) => cron.next_after(&self.tz, after),
            Expr::Rate(rate) => {
                let next = rate.next_after_ns(after.as_nanosecond(), anchor.as_nanosecond());
                Timestamp::from_nanosecond(next).ok()
            }
            Expr::At(at) => at.instant(&self.tz).filter(|&t| t > after),
        }
    }

    /// [`Schedule::next_after`] on microseconds since the Unix epoch.
    ///
    /// Instants before `jiff`'s range (year -9999) are treated as its first
    /// instant; `None` is returned for an `after` past its end (year 9999).
    pub fn next_after_micros(&self, after_us: i64, anchor_us: i64) -> Option<i64> {
        if let Expr::Rate(rate) = &self.expr {
            // Done on plain integers so that any i64 anchor works.
            let next =
                rate.next_after_ns(i128::from(after_us) * 1_000, i128::from(anchor_us) * 1_000);
            // Anchor and period are whole microseconds, so this is exact.
            return i64::try_from(next / 1_000).ok();
        }
        let after = match Timestamp::from_microsecond(after_us) {
            Ok(t) => t,
            Err(_) if after_us < 0 => Timestamp::MIN,
            Err(_) => return None,
        };
        self.next_after(after, Timestamp::UNIX_EPOCH)
            .map(|t| t.as_microsecond())
    }
}

impl fmt::Display for Schedule {
    /// Prints the expression (not the time zone) in normalised form: single
    /// spaces, six cron fields, upper-case names and letters, no leading
    /// zeros. Parsing the output gives back an equal [`Schedule`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Expr::Cron(cron) => cron.fmt(f),
            Expr::Rate(rate) => rate.fmt(f),
            Expr::At(at) => at.fmt(f),
        }
    }
}

// ---------------------------------------------------------------------------
// Top-level parsing
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    // Boxed: a cron expression is much larger than the other two forms.
    Cron(Box<Cron>),
    Rate(Rate),
    At(At),
}

fn parse_expression(input: &str) -> Result<Expr, ScheduleError> {
    let expr_err = |reason: String| ScheduleError::Expression(reason);
    if input.len() > MAX_EXPRESSION_LEN {
        return Err(expr_err(format!(
            "is too long ({} bytes; the limit is {MAX_EXPRESSION_LEN})",
            input.len()
        )));
    }
    let text = input.trim_ascii();
    if text.is_empty() {
        return Err(expr_err(
            "must not be empty; expected cron(...), rate(...) or at(...)".to_owned(),
        ));
    }
    let Some((kind, rest)) = text.split_once('(') else {
        return Err(expr_err(format!(
            "{} is not a schedule expression; expected cron(...), rate(...) or at(...)",
            quote(text)
        )));
    };
    let Some(inner) = rest.strip_suffix(')') else {
        return Err(expr_err(format!("{} must end with ')'", quote(text))));
    };
    if inner.contains(['(', ')']) {
        return Err(expr_err(format!(
            "{} has unbalanced parentheses",
            quote(text)
        )));
    }
    let inner = inner.trim_ascii();
    match kind {
        "cron" => parse_cron(inner).map(|c| Expr::Cron(Box::new(c))),
        "rate" => parse_rate(inner).map(Expr::Rate),
        "at" => parse_at(inner).map(Expr::At),
        _ => Err(expr_err(format!(
            "unknown kind {}; expected cron(...), rate(...) or at(...)",
            quote(kind)
        ))),
    }
}

fn parse_timezone(name: Option<&str>) -> Result<(TimeZone, String), ScheduleError> {
    let Some(name) = name else {
        return Ok((TimeZone::UTC, "UTC".to_owned()));
    };
    let err = |reason: String| Err(ScheduleError::TimeZone(reason));
    if name.is_empty() {
        return err(
            "must not be empty; use an IANA name such as 'Europe/Berlin' or 'UTC'".to_owned(),
        );
    }
    if name.len() > MAX_TIMEZONE_LEN {
        return err(format!(
            "is too long ({} bytes; the limit is {MAX_TIMEZONE_LEN})",
            name.len()
        ));
    }
    // IANA names only use these characters. Checking first keeps anything
    // path-like ('.', '\', absolute paths) away from the database lookup,
    // which may read files under /usr/share/zoneinfo.
    let well_formed = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("//");
    if !well_formed {
        return err(format!(
            "{} is not an IANA time zone name (such as 'Europe/Berlin')",
            quote(name)
        ));
    }
    match jiff::tz::db().get(name) {
        Ok(tz) => {
            let canonical = tz.iana_name().unwrap_or(name).to_owned();
            Ok((tz, canonical))
        }
        Err(_) => err(format!(
            "unknown time zone {}; use an IANA name such as 'Europe/Berlin' or 'UTC'",
            quote(name)
        )),
    }
}

/// Quotes user input for an error message: single quotes, control characters
/// escaped, and cut short so one message never grows with its input.
fn quote(s: &str) -> String {
    const LIMIT: usize = 40;
    let mut out = String::with_capacity(s.len().min(LIMIT) + 4);
    out.push('\'');
    for (i, c) in s.chars().enumerate() {
        if i == LIMIT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

// ---------------------------------------------------------------------------
// cron: syntax tree
// ---------------------------------------------------------------------------

/// The parsed fields of a `cron` expression (kept for `Display`) and the
/// compiled form used for searching.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cron {
    minutes: Field,
    hours: Field,
    day_of_month: DayOfMonth,
    month: Field,
    day_of_week: DayOfWeek,
    year: Field,
    plan: Plan,
}

/// A plain field: `*` or a comma-separated list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Field {
    Every,
    List(Vec<Item>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Value(Val),
    /// `a-b`; wraps around the field's end when `a > b`.
    Range(Val, Val),
    /// `start/step`.
    Step {
        start: StepStart,
        step: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepStart {
    /// `*/n`: from the field's minimum.
    Every,
    /// `a/n`: from `a` to the field's maximum.
    From(Val),
    /// `a-b/n`.
    Range(Val, Val),
}

/// One value; `named` remembers whether it was written as JAN or MON so that
/// it prints back the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Val {
    n: u16,
    named: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfMonth {
    NoSpecificValue,
    Field(Field),
    /// `L`
    Last,
    /// `LW`
    LastWeekday,
    /// `nW`
    NearestWeekday(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfWeek {
    NoSpecificValue,
    Field(Field),
    /// `L` on its own: Saturday, the last day of the week.
    Last,
    /// `nL`: the last day `n` of the month.
    LastOf(Val),
    /// `n#k`: the `k`-th day `n` of the month.
    Nth(Val, u8),
}

/// What a field accepts.
#[derive(Clone, Copy)]
struct FieldSpec {
    field: CronField,
    min: u16,
    max: u16,
    names: &'static [&'static str],
    /// Whether `a-b` with `a > b` wraps around; Quartz, on which AWS's
    /// syntax is based, allows it and AWS's examples use it (`20-2`).
    wrap: bool,
    /// Largest step after `/`, 0 where `/` is not allowed. The bounds are
    /// Quartz's; AWS does not document them.
    max_step: u16,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const MINUTES: FieldSpec = FieldSpec {
    field: CronField::Minutes,
    min: 0,
    max: 59,
    names: &[],
    wrap: true,
    max_step: 59,
};
const HOURS: FieldSpec = FieldSpec {
    field: CronField::Hours,
    min: 0,
    max: 23,
    names: &[],
    wrap: true,
    max_step: 23,
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    field: CronField::DayOfMonth,
    min: 1,
    max: 31,
    names: &[],
    wrap: true,
    max_step: 31,
};
const MONTHS: FieldSpec = FieldSpec {
    field: CronField::Month,
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    wrap: true,
    max_step: 12,
};
// AWS lists no '/' for day-of-week.
const DAYS_OF_WEEK: FieldSpec = FieldSpec {
    field: CronField::DayOfWeek,
    min: 1,
    max: 7,
    names: &WEEKDAY_NAMES,
    wrap: true,
    max_step: 0,
};
// A year range cannot wrap: 2030-2020 is a mistake, not "2030 onwards and
// then from 1970".
const YEARS: FieldSpec = FieldSpec {
    field: CronField::Year,
    min: MIN_YEAR as u16,
    max: MAX_YEAR as u16,
    names: &[],
    wrap: false,
    max_step: (MAX_YEAR - MIN_YEAR) as u16,
};

impl FieldSpec {
    fn err(&self, reason: String) -> ScheduleError {
        ScheduleError::Cron {
            field: self.field,
            reason,
        }
    }

    fn range_text(&self) -> String {
        match self.names.first().zip(self.names.last()) {
            Some((first, last)) => format!("{}-{} (or {first}-{last})", self.min, self.max),
            None => format!("{}-{}", self.min, self.max),
        }
    }
}

// ---------------------------------------------------------------------------
// cron: parsing
// ---------------------------------------------------------------------------

fn parse_cron(inner: &str) -> Result<Cron, ScheduleError> {
    const FIELDS_HINT: &str = "minutes hours day-of-month month day-of-week year";
    let mut tokens: [&str; 6] = ["*"; 6];
    let mut count = 0;
    for token in inner.split_ascii_whitespace() {
        if let Some(slot) = tokens.get_mut(count) {
            *slot = token;
        }
        count += 1;
    }
    if !(5..=6).contains(&count) {
        return Err(ScheduleError::Expression(format!(
            "cron(...) needs 6 fields ({FIELDS_HINT}), found {count}"
        )));
    }
    // A five-field expression leaves the year at '*': EventBridge Scheduler
    // documents the year as optional.
    let [minutes, hours, dom, month, dow, year] = tokens;
    let minutes = parse_field(minutes, &MINUTES)?;
    let hours = parse_field(hours, &HOURS)?;
    let day_of_month = parse_day_of_month(dom)?;
    let month = parse_field(month, &MONTHS)?;
    let day_of_week = parse_day_of_week(dow)?;
    let year = parse_field(year, &YEARS)?;

    let dow_err = |reason: String| DAYS_OF_WEEK.err(reason);
    match (&day_of_month, &day_of_week) {
        (DayOfMonth::NoSpecificValue, DayOfWeek::NoSpecificValue) => {
            return Err(dow_err(
                "day-of-month and day-of-week cannot both be '?'; give one of them a value or '*'"
                    .to_owned(),
            ));
        }
        (DayOfMonth::NoSpecificValue, _) | (_, DayOfWeek::NoSpecificValue) => {}
        _ => {
            return Err(dow_err(format!(
                "must be '?' because day-of-month is {} (exactly one of day-of-month and \
                 day-of-week must be '?')",
                quote(dom)
            )));
        }
    }

    let plan = Plan::compile(&minutes, &hours, &day_of_month, &month, &day_of_week, &year);
    Ok(Cron {
        minutes,
        hours,
        day_of_month,
        month,
        day_of_week,
        year,
        plan,
    })
}

fn parse_field(token: &str, spec: &FieldSpec) -> Result<Field, ScheduleError> {
    if token == "*" {
        return Ok(Field::Every);
    }
    token
        .split(',')
        .map(|item| parse_item(item, spec))
        .collect::<Result<Vec<_>, _>>()
        .map(Field::List)
}

fn parse_item(item: &str, spec: &FieldSpec) -> Result<Item, ScheduleError> {
    if item.is_empty() {
        return Err(spec.err("has an empty entry in its ',' list".to_owned()));
    }
    if let Some((start, step)) = item.split_once('/') {
        if spec.max_step == 0 {
            return Err(spec.err(format!("'/' is not allowed in the {} field", spec.field)));
        }
        let step = parse_step(step, spec)?;
        let start = if start == "*" {
            StepStart::Every
        } else if let Some((a, b)) = start.split_once('-') {
            let (a, b) = parse_range(a, b, spec)?;
            StepStart::Range(a, b)
        } else {
            StepStart::From(parse_value(start, spec)?)
        };
        return Ok(Item::Step { start, step });
    }
    if item == "*" {
        return Err(spec.err("'*' must stand alone; it cannot be part of a ',' list".to_owned()));
    }
    if let Some((a, b)) = item.split_once('-') {
        let (a, b) = parse_range(a, b, spec)?;
        return Ok(Item::Range(a, b));
    }
    parse_value(item, spec).map(Item::Value)
}

fn parse_range(a: &str, b: &str, spec: &FieldSpec) -> Result<(Val, Val), ScheduleError> {
    let (first, last) = (parse_value(a, spec)?, parse_value(b, spec)?);
    if first.n > last.n && !spec.wrap {
        return Err(spec.err(format!(
            "range {} runs backwards",
            quote(&format!("{a}-{b}"))
        )));
    }
    Ok((first, last))
}

fn parse_step(token: &str, spec: &FieldSpec) -> Result<u16, ScheduleError> {
    match parse_number(token) {
        Some(step) if (1..=spec.max_step).contains(&step) => Ok(step),
        _ => Err(spec.err(format!(
            "step {} after '/' must be a whole number from 1 to {}",
            quote(token),
            spec.max_step
        ))),
    }
}

fn parse_value(token: &str, spec: &FieldSpec) -> Result<Val, ScheduleError> {
    if token.is_empty() {
        return Err(spec.err("is missing a value before or after '-' or '/'".to_owned()));
    }
    if token.bytes().all(|b| b.is_ascii_digit()) {
        return match parse_number(token) {
            Some(n) if (spec.min..=spec.max).contains(&n) => Ok(Val { n, named: false }),
            _ => Err(spec.err(format!(
                "{} is out of range {}",
                quote(token),
                spec.range_text()
            ))),
        };
    }
    if let Some(i) = spec
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(token))
    {
        // `i` < 12, so the cast cannot truncate.
        return Ok(Val {
            n: spec.min + i as u16,
            named: true,
        });
    }
    Err(spec.err(unexpected_token(token, spec)))
}

/// Explains a token that is neither a number nor a name for this field.
fn unexpected_token(token: &str, spec: &FieldSpec) -> String {
    let day_field = matches!(spec.field, CronField::DayOfMonth | CronField::DayOfWeek);
    if token.contains('?') {
        if day_field {
            "'?' must stand alone in its field".to_owned()
        } else {
            "'?' is only allowed in the day-of-month and day-of-week fields".to_owned()
        }
    } else if token.contains('#') {
        "'#' is only allowed in the day-of-week field (e.g. '3#2')".to_owned()
    } else if !day_field && token.contains(['L', 'l', 'W', 'w']) && token.len() <= 3 {
        "'L' and 'W' are only allowed in the day-of-month and day-of-week fields".to_owned()
    } else {
        format!(
            "{} is not a valid value; expected {}",
            quote(token),
            spec.range_text()
        )
    }
}

/// Parses a run of ASCII digits; `None` for anything else or a value that
/// does not fit (leading zeros are fine: "05" is 5).
fn parse_number(token: &str) -> Option<u16> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = token.trim_start_matches('0');
    match digits.len() {
        0 => Some(0),
        1..=4 => digits.parse().ok(),
        _ => None,
    }
}

fn strip_suffix_ignore_case(token: &str, suffix: u8) -> Option<&str> {
    match token.as_bytes().last() {
        Some(last) if last.eq_ignore_ascii_case(&suffix) => token.get(..token.len() - 1),
        _ => None,
    }
}

fn parse_day_of_month(token: &str) -> Result<DayOfMonth, ScheduleError> {
    let spec = &DAYS_OF_MONTH;
    if token == "?" {
        return Ok(DayOfMonth::NoSpecificValue);
    }
    if token.eq_ignore_ascii_case("L") {
        return Ok(DayOfMonth::Last);
    }
    if token.eq_ignore_ascii_case("LW") {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(day) = strip_suffix_ignore_case(token, b'W') {
        if day.is_empty() {
            return Err(spec.err("'W' needs a day before it, e.g. '15W'".to_owned()));
        }
        if day.bytes().all(|b| b.is_ascii_digit()) {
            // Bounded by DAYS_OF_MONTH, so the cast cannot truncate.
            return Ok(DayOfMonth::NearestWeekday(parse_value(day, spec)?.n as u8));
        }
        return Err(spec.err(format!(
            "{}: 'W' needs a single day before it (e.g. '15W'), not a list, range or step",
            quote(token)
        )));
    }
    let has_l = token.contains(['L', 'l']);
    if has_l && (token.starts_with("L-") || token.starts_with("l-")) {
        return Err(spec.err(format!(
            "{}: offsets from the last day ('L-n') are not supported by EventBridge; \
             use 'L' or 'LW'",
            quote(token)
        )));
    }
    if has_l && strip_suffix_ignore_case(token, b'L').is_some_and(|d| parse_number(d).is_some()) {
        return Err(spec.err(format!(
            "{}: 'nL' (last given weekday of the month) belongs in the day-of-week field",
            quote(token)
        )));
    }
    if has_l || token.contains(['W', 'w']) {
        return Err(spec.err(format!(
            "{}: 'L', 'LW' and 'nW' must stand alone in the day-of-month field",
            quote(token)
        )));
    }
    parse_field(token, spec).map(DayOfMonth::Field)
}

fn parse_day_of_week(token: &str) -> Result<DayOfWeek, ScheduleError> {
    let spec = &DAYS_OF_WEEK;
    if token == "?" {
        return Ok(DayOfWeek::NoSpecificValue);
    }
    if token.eq_ignore_ascii_case("L") {
        return Ok(DayOfWeek::Last);
    }
    let single_day = |day: &str, what: &str| -> Result<Val, ScheduleError> {
        if day.is_empty() || day.contains([',', '-', '/', '*']) {
            return Err(spec.err(format!("{}: {what}", quote(token))));
        }
        parse_value(day, spec)
    };
    if let Some((day, nth)) = token.split_once('#') {
        if token.contains(',') {
            return Err(spec.err(format!(
                "{}: only one '#' expression is allowed (e.g. '3#2'; '3#1,6#3' is not valid)",
                quote(token)
            )));
        }
        let day = single_day(day, "'#' needs a single day before it (e.g. '3#2')")?;
        return match parse_number(nth) {
            Some(k @ 1..=5) => Ok(DayOfWeek::Nth(day, k as u8)),
            _ => Err(spec.err(format!("{}: the week after '#' must be 1-5", quote(token)))),
        };
    }
    // No weekday name contains an 'L', so a trailing 'L' is always the
    // "last" suffix.
    if let Some(day) = strip_suffix_ignore_case(token, b'L') {
        let day = single_day(
            day,
            "'L' needs a single day before it (e.g. '6L' for the last Friday) or must stand alone",
        )?;
        return Ok(DayOfWeek::LastOf(day));
    }
    if token.contains(['L', 'l']) {
        return Err(spec.err(format!(
            "{}: 'L' must stand alone or follow a single day (e.g. '6L')",
            quote(token)
        )));
    }
    parse_field(token, spec).map(DayOfWeek::Field)
}

// ---------------------------------------------------------------------------
// cron: compiled form and search
// ---------------------------------------------------------------------------

/// Bit sets of the allowed values of each field, for searching.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    /// Bit `m` for minute `m`.
    minutes: u64,
    /// Bit `h` for hour `h`.
    hours: u32,
    /// Bit `m` for month `m` (1-12).
    months: u32,
    /// Bit `y - MIN_YEAR` for year `y`.
    years: [u64; 4],
    days: Days,
}

/// How the allowed days of a given month are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Days {
    /// Bit `d` for day-of-month `d` (1-31).
    OfMonth(u32),
    Last,
    LastWeekday,
    NearestWeekday(u8),
    /// Bit `w` for weekday `w` (1 = Sunday ... 7 = Saturday).
    OfWeek(u8),
    LastOf(u8),
    Nth(u8, u8),
}

/// Calls `f` with every value `field` allows. The work is bounded by the
/// field's width per list entry, so compiling stays linear in the input.
fn for_each_value(field: &Field, spec: &FieldSpec, mut f: impl FnMut(u16)) {
    let mut range = |first: u16, last: u16, step: u16| {
        let width = spec.max - spec.min + 1;
        let len = if first <= last {
            last - first + 1
        } else {
            (spec.max - first + 1) + (last - spec.min + 1)
        };
        let mut i = 0;
        while i < len {
            let v = first + i;
            f(if v > spec.max { v - width } else { v });
            i += step.max(1);
        }
    };
    match field {
        Field::Every => range(spec.min, spec.max, 1),
        Field::List(items) => {
            for item in items {
                match *item {
                    Item::Value(v) => range(v.n, v.n, 1),
                    Item::Range(a, b) => range(a.n, b.n, 1),
                    Item::Step { start, step } => match start {
                        StepStart::Every => range(spec.min, spec.max, step),
                        StepStart::From(a) => range(a.n, spec.max, step),
                        StepStart::Range(a, b) => range(a.n, b.n, step),
                    },
                }
            }
        }
    }
}

fn small_mask(field: &Field, spec: &FieldSpec) -> u64 {
    let mut mask = 0u64;
    // Every field using this has values below 64.
    for_each_value(field, spec, |v| mask |= 1u64 << (v & 63));
    mask
}

impl Plan {
    fn compile(
        minutes: &Field,
        hours: &Field,
        day_of_month: &DayOfMonth,
        month: &Field,
        day_of_week: &DayOfWeek,
        year: &Field,
    ) -> Plan {
        let mut years = [0u64; 4];
        for_each_value(year, &YEARS, |y| {
            let i = usize::from(y - YEARS.min);
            if let Some(word) = years.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        });
        // parse_cron guarantees exactly one of the two day fields is '?'.
        let days = match (day_of_month, day_of_week) {
            (DayOfMonth::Field(f), _) => Days::OfMonth(small_mask(f, &DAYS_OF_MONTH) as u32),
            (DayOfMonth::Last, _) => Days::Last,
            (DayOfMonth::LastWeekday, _) => Days::LastWeekday,
            (DayOfMonth::NearestWeekday(d), _) => Days::NearestWeekday(*d),
            (DayOfMonth::NoSpecificValue, DayOfWeek::Field(f)) => {
                Days::OfWeek(small_mask(f, &DAYS_OF_WEEK) as u8)
            }
            (DayOfMonth::NoSpecificValue, DayOfWeek::Last) => Days::OfWeek(1 << 7),
            (DayOfMonth::NoSpecificValue, DayOfWeek::LastOf(v)) => Days::LastOf(v.n as u8),
            (DayOfMonth::NoSpecificValue, DayOfWeek::Nth(v, k)) => Days::Nth(v.n as u8, *k),
            (DayOfMonth::NoSpecificValue, DayOfWeek::NoSpecificValue) => Days::OfMonth(0),
        };
        Plan {
            minutes: small_mask(minutes, &MINUTES),
            hours: small_mask(hours, &HOURS) as u32,
            months: small_mask(month, &MONTHS) as u32,
            years,
            days,
        }
    }

    /// The first allowed year `>= year`.
    fn next_year(&self, year: i32) -> Option<i32> {
        let mut i = usize::try_from(year.max(i32::from(MIN_YEAR)) - i32::from(MIN_YEAR)).ok()?;
        while let Some(&word) = self.years.get(i / 64) {
            let rest = word & (!0u64 << (i % 64));
            if rest != 0 {
                let found = (i / 64) * 64 + rest.trailing_zeros() as usize;
                // Found bits are all below MAX_YEAR - MIN_YEAR + 1.
                return Some(i32::from(MIN_YEAR) + found as i32);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// The smallest matching local minute `>= from`, up to the end of
    /// [`MAX_YEAR`].
    ///
    /// Field by field: at most one pass over the allowed years and months,
    /// and bit tricks within a month, so even an expression that never
    /// matches (the 30th of February) costs a few hundred cheap steps.
    fn next_local(&self, from: LocalMinute) -> Option<LocalMinute> {
        let mut year = from.year;
        loop {
            let y = self.next_year(year)?;
            let tight_y = y == from.year;
            let mut month = if tight_y { from.month } else { 1 };
            while let Some(m) = next_bit(u64::from(self.months), month) {
                let tight_m = tight_y && m == from.month;
                let first_day = if tight_m { from.day } else { 1 };
                let mut days = self.days.in_month(y, m) & (u32::MAX << first_day);
                while days != 0 {
                    let d = days.trailing_zeros() as u8;
                    let tight_d = tight_m && d == from.day;
                    let first_hour = if tight_d { from.hour } else { 0 };
                    let mut hour = first_hour;
                    while let Some(h) = next_bit(u64::from(self.hours), hour) {
                        let tight_h = tight_d && h == from.hour;
                        let first_minute = if tight_h { from.minute } else { 0 };
                        if let Some(mi) = next_bit(self.minutes, first_minute) {
                            return Some(LocalMinute {
                                year: y,
                                month: m,
                                day: d,
                                hour: h,
                                minute: mi,
                            });
                        }
                        hour = h + 1;
                    }
                    days &= days - 1;
                }
                month = m + 1;
            }
            year = y + 1;
        }
    }
}

/// The lowest set bit of `mask` at position `>= from`.
fn next_bit(mask: u64, from: u8) -> Option<u8> {
    if from >= 64 {
        return None;
    }
    let rest = mask & (!0u64 << from);
    (rest != 0).then(|| rest.trailing_zeros() as u8)
}

impl Days {
    /// The allowed days of month `m` of year `y`, as bit `d` for day `d`.
    fn in_month(self, y: i32, m: u8) -> u32 {
        let len = days_in_month(y, m);
        let valid = (((1u64 << (len + 1)) - 1) & !1) as u32;
        let at = |d: u8| 1u32 << d;
        match self {
            Days::OfMonth(mask) => mask & valid,
            Days::Last => at(len),
            Days::LastWeekday => match weekday(y, m, len) {
                SATURDAY => at(len - 1),
                SUNDAY => at(len - 2),
                _ => at(len),
            },
            Days::NearestWeekday(n) => {
                // Like a plain day number, nW does not fire in a month that
                // has no day n (31W in April).
                if n > len {
                    return 0;
                }
                // Quartz's rule: move to the nearest Monday-Friday without
                // leaving the month (1W on a Saturday is Monday the 3rd;
                // 31W on a Sunday is Friday the 29th).
                match weekday(y, m, n) {
                    SATURDAY if n == 1 => at(3),
                    SATURDAY => at(n - 1),
                    SUNDAY if n == len => at(n - 2),
                    SUNDAY => at(n + 1),
                    _ => at(n),
                }
            }
            Days::OfWeek(weekdays) => {
                let first = weekday(y, m, 1);
                let mut out = 0;
                for d in 1..=len {
                    let w = (first - 1 + (d - 1)) % 7 + 1;
                    if weekdays & (1 << w) != 0 {
                        out |= at(d);
                    }
                }
                out
            }
            Days::LastOf(w) => at(len - (weekday(y, m, len) + 7 - w) % 7),
            Days::Nth(w, k) => {
                let first = 1 + (w + 7 - weekday(y, m, 1)) % 7;
                let d = first + 7 * (k - 1);
                if d <= len { at(d) } else { 0 }
            }
        }
    }
}

/// A local (wall-clock) time to the minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LocalMinute {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
}

impl LocalMinute {
    /// Seconds since 1970-01-01T00:00 on the same wall clock.
    fn seconds(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
    }

    /// The local minute containing `seconds` (as returned by
    /// [`LocalMinute::seconds`]).
    fn from_seconds(seconds: i64) -> LocalMinute {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        LocalMinute {
            year,
            month,
            day,
            hour: (secs / 3_600) as u8,
            minute: (secs % 3_600 / 60) as u8,
        }
    }

    fn to_jiff(self) -> Option<civil::DateTime> {
        civil::DateTime::new(
            i16::try_from(self.year).ok()?,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            0,
            0,
        )
        .ok()
    }
}

/// Local seconds rounded up to a whole minute.
fn ceil_minute(seconds: i64) -> i64 {
    seconds.div_euclid(60) * 60 + if seconds.rem_euclid(60) == 0 { 0 } else { 60 }
}

impl Cron {
    fn next_after(&self, tz: &TimeZone, after: Timestamp) -> Option<Timestamp> {
        let local = tz.to_datetime(after);
        let local_seconds = days_from_civil(
            i32::from(local.year()),
            local.month() as u8,
            local.day() as u8,
        ) * 86_400
            + i64::from(local.hour()) * 3_600
            + i64::from(local.minute()) * 60;
        let earliest = days_from_civil(i32::from(MIN_YEAR), 1, 1) * 86_400;
        // Candidates are whole local minutes strictly after `after`'s wall
        // clock time.
        let mut cursor = (local_seconds + 60).max(earliest);

        // Converting a matching local minute to an instant:
        // * it exists once: fire then, if that is after `after`;
        // * it is skipped by a DST gap: it does not fire; resume after the gap;
        // * it is repeated by a DST fold: fire only at the first occurrence.
        //   If that is not after `after` (which is then in the repeated
        //   stretch), nothing else in the fold fires either; resume after it.
        // Local-to-instant is increasing over the minutes that fire, so the
        // first candidate that lands after `after` is the answer. The loop
        // runs once or twice in practice; the bound only guards against a
        // time zone database with absurd transitions.
        for _ in 0..1_000 {
            let candidate = self.plan.next_local(LocalMinute::from_seconds(cursor))?;
            let seconds = candidate.seconds();
            let offset = tz.to_ambiguous_timestamp(candidate.to_jiff()?).offset();
            let resume_after = match offset {
                AmbiguousOffset::Unambiguous { offset } => {
                    let t = Timestamp::from_second(seconds - i64::from(offset.seconds())).ok()?;
                    if t > after {
                        return Some(t);
                    }
                    None
                }
                AmbiguousOffset::Gap { after: new, .. } => {
                    // Reading the skipped local time with the new offset gives
                    // an instant just before the transition.
                    let probe = seconds - i64::from(new.seconds());
                    transition_after(tz, probe).map(|t| t + i64::from(new.seconds()))
                }
                AmbiguousOffset::Fold { before, .. } => {
                    let first = seconds - i64::from(before.seconds());
                    let t = Timestamp::from_second(first).ok()?;
                    if t > after {
                        return Some(t);
                    }
                    // `first` precedes the transition; the fold's repeated
                    // local times end where the old offset resumes counting.
                    transition_after(tz, first).map(|t| t + i64::from(before.seconds()))
                }
            };
            cursor = match resume_after {
                Some(end) => ceil_minute(end).max(seconds + 60),
                None => seconds + 60,
            };
        }
        None
    }
}

/// The instant (in seconds) of the first transition of `tz` after `seconds`.
fn transition_after(tz: &TimeZone, seconds: i64) -> Option<i64> {
    let from = Timestamp::from_second(seconds).ok()?;
    tz.following(from).next().map(|t| t.timestamp().as_second())
}

// ---------------------------------------------------------------------------
// cron: Display
// ---------------------------------------------------------------------------

fn write_val(f: &mut fmt::Formatter<'_>, v: Val, spec: &FieldSpec) -> fmt::Result {
    let name = usize::from(v.n.saturating_sub(spec.min));
    match spec.names.get(name) {
        Some(name) if v.named => f.write_str(name),
        _ => write!(f, "{}", v.n),
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, field: &Field, spec: &FieldSpec) -> fmt::Result {
    let items = match field {
        Field::Every => return f.write_str("*"),
        Field::List(items) => items,
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        match *item {
            Item::Value(v) => write_val(f, v, spec)?,
            Item::Range(a, b) => {
                write_val(f, a, spec)?;
                f.write_str("-")?;
                write_val(f, b, spec)?;
            }
            Item::Step { start, step } => {
                match start {
                    StepStart::Every => f.write_str("*")?,
                    StepStart::From(a) => write_val(f, a, spec)?,
                    StepStart::Range(a, b) => {
                        write_val(f, a, spec)?;
                        f.write_str("-")?;
                        write_val(f, b, spec)?;
                    }
                }
                write!(f, "/{step}")?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cron(")?;
        write_field(f, &self.minutes, &MINUTES)?;
        f.write_str(" ")?;
        write_field(f, &self.hours, &HOURS)?;
        f.write_str(" ")?;
        match &self.day_of_month {
            DayOfMonth::NoSpecificValue => f.write_str("?")?,
            DayOfMonth::Field(field) => write_field(f, field, &DAYS_OF_MONTH)?,
            DayOfMonth::Last => f.write_str("L")?,
            DayOfMonth::LastWeekday => f.write_str("LW")?,
            DayOfMonth::NearestWeekday(d) => write!(f, "{d}W")?,
        }
        f.write_str(" ")?;
        write_field(f, &self.month, &MONTHS)?;
        f.write_str(" ")?;
        match &self.day_of_week {
            DayOfWeek::NoSpecificValue => f.write_str("?")?,
            DayOfWeek::Field(field) => write_field(f, field, &DAYS_OF_WEEK)?,
            DayOfWeek::Last => f.write_str("L")?,
            DayOfWeek::LastOf(v) => {
                write_val(f, *v, &DAYS_OF_WEEK)?;
                f.write_str("L")?;
            }
            DayOfWeek::Nth(v, k) => {
                write_val(f, *v, &DAYS_OF_WEEK)?;
                write!(f, "#{k}")?;
            }
        }
        f.write_str(" ")?;
        write_field(f, &self.year, &YEARS)?;
        f.write_str(")")
    }
}

// ---------------------------------------------------------------------------
// rate
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rate {
    value: u32,
    unit: RateUnit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RateUnit {
    /// Signalbox's extension; AWS's finest unit is the minute.
    Second,
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    const ALL: [RateUnit; 4] = [
        RateUnit::Second,
        RateUnit::Minute,
        RateUnit::Hour,
        RateUnit::Day,
    ];

    fn seconds(self) -> i128 {
        match self {
            RateUnit::Second => 1,
            RateUnit::Minute => 60,
            RateUnit::Hour => 3_600,
            // Always 24 hours, even across a DST change, as AWS documents.
            RateUnit::Day => 86_400,
        }
    }

    fn singular(self) -> &'static str {
        match self {
            RateUnit::Second => "second",
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            RateUnit::Second => "seconds",
            RateUnit::Minute => "minutes",
            RateUnit::Hour => "hours",
            RateUnit::Day => "days",
        }
    }
}

fn parse_rate(inner: &str) -> Result<Rate, ScheduleError> {
    let err = |reason: String| Err(ScheduleError::Rate(reason));
    let mut tokens = inner.split_ascii_whitespace();
    let (Some(value), Some(unit), None) = (tokens.next(), tokens.next(), tokens.next()) else {
        return err("expected rate(value unit), e.g. rate(5 minutes)".to_owned());
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!(
            "value {} must be a positive whole number",
            quote(value)
        ));
    }
    let digits = value.trim_start_matches('0');
    let value = match digits.parse::<u32>() {
        _ if digits.is_empty() => return err("value must be at least 1".to_owned()),
        Ok(v) if v <= MAX_RATE_VALUE => v,
        _ => return err(format!("value must be at most {MAX_RATE_VALUE}")),
    };
    let Some((unit, plural)) = RateUnit::ALL.iter().find_map(|&u| {
        if unit == u.singular() {
            Some((u, false))
        } else if unit == u.plural() {
            Some((u, true))
        } else {
            None
        }
    }) else {
        return err(format!(
            "unit {} must be one of minute(s), hour(s), day(s) or second(s)",
            quote(unit)
        ));
    };
    // AWS: "If the value is equal to 1, then the unit must be singular. If
    // the value is greater than 1, the unit must be plural."
    if value == 1 && plural {
        return err(format!(
            "use the singular unit with a value of 1: rate(1 {})",
            unit.singular()
        ));
    }
    if value > 1 && !plural {
        return err(format!(
            "use the plural unit with a value above 1: rate({value} {})",
            unit.plural()
        ));
    }
    Ok(Rate { value, unit })
}

impl Rate {
    fn period_ns(self) -> i128 {
        i128::from(self.value) * self.unit.seconds() * 1_000_000_000
    }

    /// The first `anchor + k × period` (`k >= 0`) strictly after `after`.
    ///
    /// Inputs are nanoseconds from `jiff` or from an `i64` of microseconds,
    /// so every intermediate value stays far inside `i128`.
    fn next_after_ns(self, after: i128, anchor: i128) -> i128 {
        let period = self.period_ns();
        if after < anchor {
            return anchor;
        }
        anchor + ((after - anchor) / period + 1) * period
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.value == 1 {
            self.unit.singular()
        } else {
            self.unit.plural()
        };
        write!(f, "rate({} {unit})", self.value)
    }
}

// ---------------------------------------------------------------------------
// at
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct At {
    year: i16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

fn parse_at(inner: &str) -> Result<At, ScheduleError> {
    let shape_err = || {
        ScheduleError::At(format!(
            "{} must be a date and time in the form yyyy-mm-ddThh:mm:ss",
            quote(inner)
        ))
    };
    let b = inner.as_bytes();
    let separators_ok = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if !separators_ok {
        return Err(shape_err());
    }
    let number = |range: std::ops::Range<usize>| {
        inner
            .get(range)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(shape_err)
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let err = |reason: String| Err(ScheduleError::At(reason));
    if !(YEARS.min..=YEARS.max).contains(&year) {
        return err(format!("year {year} is out of range {MIN_YEAR}-{MAX_YEAR}"));
    }
    // Year and month are in range, so the casts cannot truncate.
    let (year, month) = (year as i16, month as u8);
    if !(1..=12).contains(&month) {
        return err(format!("month {month} is out of range 1-12"));
    }
    let last_day = days_in_month(i32::from(year), month);
    if day == 0 || day > u16::from(last_day) {
        return err(format!(
            "{year:04}-{month:02} has no day {day} (it has {last_day} days)"
        ));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a valid time of day"
        ));
    }
    Ok(At {
        year,
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
    })
}

impl At {
    /// When the one-shot fires: a skipped local time is moved forward by the
    /// gap's length and a repeated one fires at its first occurrence (see the
    /// module documentation).
    fn instant(&self, tz: &TimeZone) -> Option<Timestamp> {
        let local = civil::DateTime::new(
            self.year,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            self.second as i8,
            0,
        )
        .ok()?;
        // Reading the local time with the offset in force before the
        // transition gives exactly those two choices, for a gap and a fold.
        let offset = match tz.to_ambiguous_timestamp(local).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        let seconds = days_from_civil(i32::from(self.year), self.month, self.day) * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Timestamp::from_second(seconds - i64::from(offset.seconds())).ok()
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at({:04}-{:02}-{:02}T{:02}:{:02}:{:02})",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

// ---------------------------------------------------------------------------
// Proleptic Gregorian calendar helpers
// ---------------------------------------------------------------------------

/// AWS numbers weekdays 1 (Sunday) to 7 (Saturday).
const SUNDAY: u8 = 1;
const SATURDAY: u8 = 7;

fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (Howard Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Callers pass days within jiff's range (|year| < 10,000).
    (y as i32, m, d)
}

/// The AWS weekday number (1 = Sunday ... 7 = Saturday) of a date.
fn weekday(y: i32, m: u8, d: u8) -> u8 {
    // 1970-01-01 was a Thursday (5).
    ((days_from_civil(y, m, d) + 4).rem_euclid(7) + 1) as u8
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
