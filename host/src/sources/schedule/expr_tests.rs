//! Tests for `expr`: AWS's documented examples with hand-computed firings,
//! L/W/# and daylight-saving edge cases, invalid input, and property tests
//! against a naive minute-by-minute reference evaluator.
//!
//! Every expected instant below is written out by hand from a calendar and
//! the time zone rules (cross-checked outside this code), never computed
//! with the code under test.

use super::*;

use jiff::civil::Date;
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {s:?}: {e}"))
}

fn parse(expr: &str, tz: Option<&str>) -> Schedule {
    Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr:?} in {tz:?}: {e}"))
}

/// `after`, then each expected firing in turn; `"none"` means the schedule
/// has no further firing.
struct Case {
    expr: &'static str,
    tz: Option<&'static str>,
    after: &'static str,
    expect: &'static [&'static str],
}

fn check(cases: &[Case], anchor: Timestamp) {
    for case in cases {
        let schedule = parse(case.expr, case.tz);
        let mut cursor = ts(case.after);
        for (i, want) in case.expect.iter().enumerate() {
            let got = schedule.next_after(cursor, anchor);
            let context = format!(
                "{} in {:?}, firing #{} after {}",
                case.expr,
                case.tz,
                i + 1,
                cursor
            );
            if *want == "none" {
                assert_eq!(got, None, "{context}");
                break;
            }
            assert_eq!(got, Some(ts(want)), "{context}");
            cursor = ts(want);
        }
    }
}

// ---------------------------------------------------------------------------
// AWS documentation examples
// ---------------------------------------------------------------------------

/// 2024-02-29 is a Thursday; 2024-03-01 a Friday; 2024-03-04 a Monday.
const THU: &str = "2024-02-29T17:52:30Z";

/// The cron examples from the EventBridge "Schedule expressions" / cron
/// reference pages, the Lambda scheduled-events page and the EventBridge
/// Scheduler "Schedule types" page.
#[test]
fn aws_cron_examples() {
    check(
        &[
            // "Run at 10:00 am (UTC+0) every day"
            Case {
                expr: "cron(0 10 * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T10:00:00Z",
                    "2024-03-02T10:00:00Z",
                    "2024-03-03T10:00:00Z",
                ],
            },
            // "Run at 12:15 pm (UTC+0) every day"
            Case {
                expr: "cron(15 12 * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T12:15:00Z",
                    "2024-03-02T12:15:00Z",
                    "2024-03-03T12:15:00Z",
                ],
            },
            // "Run at 6:00 pm (UTC+0) every Monday through Friday"
            Case {
                expr: "cron(0 18 ? * MON-FRI *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T18:00:00Z",
                    "2024-03-01T18:00:00Z",
                    "2024-03-04T18:00:00Z",
                ],
            },
            // "Run at 8:00 am (UTC+0) every 1st day of the month"
            Case {
                expr: "cron(0 8 1 * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T08:00:00Z",
                    "2024-04-01T08:00:00Z",
                    "2024-05-01T08:00:00Z",
                ],
            },
            // "Run every 15 minutes"
            Case {
                expr: "cron(0/15 * * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T18:00:00Z",
                    "2024-02-29T18:15:00Z",
                    "2024-02-29T18:30:00Z",
                ],
            },
            // "Run every 10 minutes Monday through Friday": from Friday
            // night straight to Monday.
            Case {
                expr: "cron(0/10 * ? * MON-FRI *)",
                tz: None,
                after: "2024-03-01T23:55:00Z",
                expect: &[
                    "2024-03-04T00:00:00Z",
                    "2024-03-04T00:10:00Z",
                    "2024-03-04T00:20:00Z",
                ],
            },
            // "Run every 5 minutes Monday through Friday between 8:00 am and
            // 5:55 pm (UTC+0)"
            Case {
                expr: "cron(0/5 8-17 ? * MON-FRI *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T17:55:00Z",
                    "2024-03-01T08:00:00Z",
                    "2024-03-01T08:05:00Z",
                ],
            },
            // "Run every 30 minutes Monday through Friday between 10:00 pm on
            // the starting day to 2:00 am on the following day": a wrapping
            // hour range.
            Case {
                expr: "cron(0/30 20-2 ? * MON-FRI *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T20:00:00Z",
                    "2024-02-29T20:30:00Z",
                    "2024-02-29T21:00:00Z",
                ],
            },
            // Fields are matched one by one: Saturday 00:00 is not a
            // weekday, so after Friday 23:30 the next firing is Monday.
            Case {
                expr: "cron(0/30 20-2 ? * MON-FRI *)",
                tz: None,
                after: "2024-03-01T23:45:00Z",
                expect: &[
                    "2024-03-04T00:00:00Z",
                    "2024-03-04T00:30:00Z",
                    "2024-03-04T01:00:00Z",
                ],
            },
            // "runs every day at 12:00pm UTC+0"
            Case {
                expr: "cron(0 12 * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T12:00:00Z",
                    "2024-03-02T12:00:00Z",
                    "2024-03-03T12:00:00Z",
                ],
            },
            // "runs every day, at 2:05pm and 2:35pm UTC+0"
            Case {
                expr: "cron(5,35 14 * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T14:05:00Z",
                    "2024-03-01T14:35:00Z",
                    "2024-03-02T14:05:00Z",
                ],
            },
            // "runs at 10:15am UTC+0 on the last Friday of each month during
            // the years 2019 to 2022": Oct 1 2022 is a Saturday, Nov 1 a
            // Tuesday, Dec 1 a Thursday.
            Case {
                expr: "cron(15 10 ? * 6L 2019-2022)",
                tz: None,
                after: "2022-10-15T00:00:00Z",
                expect: &[
                    "2022-10-28T10:15:00Z",
                    "2022-11-25T10:15:00Z",
                    "2022-12-30T10:15:00Z",
                    "none",
                ],
            },
            // The Scheduler page's variant, 2022 to 2023 (Jan 1 2023 is a
            // Sunday, so its last Friday is the 27th).
            Case {
                expr: "cron(15 10 ? * 6L 2022-2023)",
                tz: None,
                after: "2022-10-15T00:00:00Z",
                expect: &[
                    "2022-10-28T10:15:00Z",
                    "2022-11-25T10:15:00Z",
                    "2022-12-30T10:15:00Z",
                    "2023-01-27T10:15:00Z",
                ],
            },
            // Lambda page: "10:15 AM (UTC) every day"
            Case {
                expr: "cron(15 10 * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T10:15:00Z",
                    "2024-03-02T10:15:00Z",
                    "2024-03-03T10:15:00Z",
                ],
            },
            // Lambda page: "9:00 AM on the first Monday of each month"
            // (Apr 1 2024 is a Monday; May 1 a Wednesday).
            Case {
                expr: "cron(0 9 ? * 2#1 *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-04T09:00:00Z",
                    "2024-04-01T09:00:00Z",
                    "2024-05-06T09:00:00Z",
                ],
            },
            // Scheduler page: every day at 8:30 a.m. in America/New_York.
            // DST starts on 2024-03-10: EST (-5) before, EDT (-4) after.
            Case {
                expr: "cron(30 8 * * ? *)",
                tz: Some("America/New_York"),
                after: "2024-03-09T00:00:00Z",
                expect: &[
                    "2024-03-09T13:30:00Z",
                    "2024-03-10T12:30:00Z",
                    "2024-03-11T12:30:00Z",
                ],
            },
            // Scheduler page, DST example: cron(30 2 * * ? *) in
            // America/Los_Angeles. On 2024-03-10 clocks jump from 2:00 PST
            // to 3:00 PDT; 2:30 does not exist and that day is skipped.
            Case {
                expr: "cron(30 2 * * ? *)",
                tz: Some("America/Los_Angeles"),
                after: "2024-03-08T12:00:00Z",
                expect: &[
                    "2024-03-09T10:30:00Z",
                    "2024-03-11T09:30:00Z",
                    "2024-03-12T09:30:00Z",
                ],
            },
            // The same in the autumn. (The AWS page says the clock goes from
            // 2:59 back to 2:00; in Los Angeles it is 1:59 PDT back to 1:00
            // PST on 2024-11-03, so 2:30 happens once, in PST.)
            Case {
                expr: "cron(30 2 * * ? *)",
                tz: Some("America/Los_Angeles"),
                after: "2024-11-02T00:00:00Z",
                expect: &[
                    "2024-11-02T09:30:00Z",
                    "2024-11-03T10:30:00Z",
                    "2024-11-04T10:30:00Z",
                ],
            },
            // 1:30 happens twice on 2024-11-03 (PDT, then PST): it fires
            // once, at the first occurrence.
            Case {
                expr: "cron(30 1 * * ? *)",
                tz: Some("America/Los_Angeles"),
                after: "2024-11-02T00:00:00Z",
                expect: &[
                    "2024-11-02T08:30:00Z",
                    "2024-11-03T08:30:00Z",
                    "2024-11-04T09:30:00Z",
                ],
            },
        ],
        Timestamp::UNIX_EPOCH,
    );
}

/// Scheduler page: `at(2022-11-20T13:00:00)` in America/Los_Angeles, "once at
/// 1pm UTC-8 on November 20, 2022".
#[test]
fn aws_at_example() {
    let schedule = parse("at(2022-11-20T13:00:00)", Some("America/Los_Angeles"));
    assert_eq!(schedule.kind(), ScheduleKind::At);
    let when = ts("2022-11-20T21:00:00Z");
    let anchor = Timestamp::UNIX_EPOCH;
    assert_eq!(
        schedule.next_after(ts("2022-01-01T00:00:00Z"), anchor),
        Some(when)
    );
    assert_eq!(
        schedule.next_after(ts("2022-11-20T20:59:59Z"), anchor),
        Some(when)
    );
    assert_eq!(schedule.next_after(when, anchor), None);
    assert_eq!(
        schedule.next_after(ts("2030-01-01T00:00:00Z"), anchor),
        None
    );
}

/// The rate examples from the EventBridge and Lambda pages (anchored at
/// midnight on 2024-01-01, a Monday), plus the seconds extension.
#[test]
fn aws_rate_examples() {
    check(
        &[
            Case {
                expr: "rate(1 minute)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T17:53:00Z",
                    "2024-02-29T17:54:00Z",
                    "2024-02-29T17:55:00Z",
                ],
            },
            Case {
                expr: "rate(5 minutes)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T17:55:00Z",
                    "2024-02-29T18:00:00Z",
                    "2024-02-29T18:05:00Z",
                ],
            },
            Case {
                expr: "rate(1 hour)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T18:00:00Z",
                    "2024-02-29T19:00:00Z",
                    "2024-02-29T20:00:00Z",
                ],
            },
            Case {
                expr: "rate(1 day)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-01T00:00:00Z",
                    "2024-03-02T00:00:00Z",
                    "2024-03-03T00:00:00Z",
                ],
            },
            // 63 days after Jan 1 is Mar 4.
            Case {
                expr: "rate(7 days)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-03-04T00:00:00Z",
                    "2024-03-11T00:00:00Z",
                    "2024-03-18T00:00:00Z",
                ],
            },
            Case {
                expr: "rate(30 seconds)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T17:53:00Z",
                    "2024-02-29T17:53:30Z",
                    "2024-02-29T17:54:00Z",
                ],
            },
            Case {
                expr: "rate(1 second)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T17:52:31Z",
                    "2024-02-29T17:52:32Z",
                    "2024-02-29T17:52:33Z",
                ],
            },
        ],
        ts("2024-01-01T00:00:00Z"),
    );
}

#[test]
fn rate_is_anchored_and_absolute() {
    let five = parse("rate(5 minutes)", None);
    // An anchor that is not on a round minute keeps its phase.
    let anchor = ts("2024-02-29T17:50:07Z");
    assert_eq!(
        five.next_after(ts(THU), anchor),
        Some(ts("2024-02-29T17:55:07Z"))
    );
    assert_eq!(
        five.next_after(ts("2024-02-29T17:55:07Z"), anchor),
        Some(ts("2024-02-29T18:00:07Z"))
    );
    // Before the anchor, the anchor itself is the first firing; at it, the
    // next period.
    assert_eq!(
        five.next_after(ts("2024-01-01T00:00:00Z"), anchor),
        Some(anchor)
    );
    assert_eq!(
        five.next_after(anchor, anchor),
        Some(ts("2024-02-29T17:55:07Z"))
    );
    // A day is 24 hours even when Berlin's clocks jump (2024-03-31): 13:00
    // CET is followed by 14:00 CEST.
    let daily = parse("rate(1 day)", Some("Europe/Berlin"));
    let anchor = ts("2024-03-30T12:00:00Z");
    assert_eq!(
        daily.next_after(anchor, anchor),
        Some(ts("2024-03-31T12:00:00Z"))
    );
    // Microsecond API, including anchors and instants far outside jiff's range.
    let us = |s: &str| ts(s).as_microsecond();
    assert_eq!(
        five.next_after_micros(us(THU), us("2024-02-29T17:50:07Z")),
        Some(us("2024-02-29T17:55:07Z"))
    );
    assert_eq!(five.next_after_micros(i64::MIN, 0), Some(0));
    assert_eq!(five.next_after_micros(0, 0), Some(300_000_000));
    assert_eq!(five.next_after_micros(i64::MAX, 0), None);
    assert!(five.next_after_micros(i64::MAX - 1, i64::MIN).is_none());
    assert_eq!(
        five.next_after_micros(i64::MIN, i64::MIN),
        Some(i64::MIN + 300_000_000)
    );
    assert_eq!(
        five.next_after_micros(i64::MIN, i64::MIN + 1),
        Some(i64::MIN + 1)
    );
    let max_rate = parse("rate(1000000 days)", None);
    assert_eq!(
        max_rate.next_after_micros(0, 0),
        Some(1_000_000 * 86_400 * 1_000_000)
    );
    assert_eq!(max_rate.next_after(Timestamp::MAX, Timestamp::MAX), None);
}

// ---------------------------------------------------------------------------
// L, W and # edge cases
// ---------------------------------------------------------------------------

#[test]
fn last_weekday_nearest_and_nth() {
    check(
        &[
            // L: 31-, 28- and 30-day months.
            Case {
                expr: "cron(0 0 L * ? *)",
                tz: None,
                after: "2023-01-15T00:00:00Z",
                expect: &[
                    "2023-01-31T00:00:00Z",
                    "2023-02-28T00:00:00Z",
                    "2023-03-31T00:00:00Z",
                    "2023-04-30T00:00:00Z",
                ],
            },
            // L in a leap year; strictly after Jan 31 00:00.
            Case {
                expr: "cron(0 0 L * ? *)",
                tz: None,
                after: "2024-01-31T00:00:00Z",
                expect: &[
                    "2024-02-29T00:00:00Z",
                    "2024-03-31T00:00:00Z",
                    "2024-04-30T00:00:00Z",
                ],
            },
            // February's last day around 2100 (not a leap year) ...
            Case {
                expr: "cron(0 0 L 2 ? *)",
                tz: None,
                after: "2099-03-01T00:00:00Z",
                expect: &[
                    "2100-02-28T00:00:00Z",
                    "2101-02-28T00:00:00Z",
                    "2102-02-28T00:00:00Z",
                ],
            },
            // ... and 2000 (a leap year).
            Case {
                expr: "cron(0 0 L 2 ? *)",
                tz: None,
                after: "2000-01-01T00:00:00Z",
                expect: &["2000-02-29T00:00:00Z", "2001-02-28T00:00:00Z"],
            },
            // LW: Mar 31 2024 is a Sunday (-> Fri 29), Apr 30 a Tuesday, May
            // 31 a Friday, Jun 30 a Sunday (-> Fri 28), Aug 31 a Saturday
            // (-> Fri 30).
            Case {
                expr: "cron(0 0 LW * ? *)",
                tz: None,
                after: "2024-03-01T00:00:00Z",
                expect: &[
                    "2024-03-29T00:00:00Z",
                    "2024-04-30T00:00:00Z",
                    "2024-05-31T00:00:00Z",
                    "2024-06-28T00:00:00Z",
                    "2024-07-31T00:00:00Z",
                    "2024-08-30T00:00:00Z",
                ],
            },
            // LW in February: Feb 28 2025 is a Friday, Feb 28 2026 a
            // Saturday, Feb 28 2027 a Sunday, Feb 29 2028 a Tuesday.
            Case {
                expr: "cron(0 0 LW 2 ? *)",
                tz: None,
                after: "2025-01-01T00:00:00Z",
                expect: &[
                    "2025-02-28T00:00:00Z",
                    "2026-02-27T00:00:00Z",
                    "2027-02-26T00:00:00Z",
                    "2028-02-29T00:00:00Z",
                ],
            },
            // 15W: Jun 15 2024 is a Saturday (-> Fri 14), Jul 15 a Monday, Aug
            // 15 a Thursday, Sep 15 a Sunday (-> Mon 16).
            Case {
                expr: "cron(0 0 15W * ? *)",
                tz: None,
                after: "2024-05-31T00:00:00Z",
                expect: &[
                    "2024-06-14T00:00:00Z",
                    "2024-07-15T00:00:00Z",
                    "2024-08-15T00:00:00Z",
                    "2024-09-16T00:00:00Z",
                ],
            },
            // 1W never moves back into the previous month: Jun 1 2024 is a
            // Saturday (-> Mon 3, not Fri May 31); Sep 1 a Sunday (-> Mon 2).
            Case {
                expr: "cron(0 0 1W * ? *)",
                tz: None,
                after: "2024-05-02T00:00:00Z",
                expect: &[
                    "2024-06-03T00:00:00Z",
                    "2024-07-01T00:00:00Z",
                    "2024-08-01T00:00:00Z",
                    "2024-09-02T00:00:00Z",
                ],
            },
            // 31W never moves forward into the next month: Mar 31 2024 is a
            // Sunday (-> Fri 29, not Mon Apr 1). Months without a 31st do
            // not fire, as with a plain 31. Aug 31 is a Saturday (-> Fri 30).
            Case {
                expr: "cron(0 0 31W * ? *)",
                tz: None,
                after: "2024-03-01T00:00:00Z",
                expect: &[
                    "2024-03-29T00:00:00Z",
                    "2024-05-31T00:00:00Z",
                    "2024-07-31T00:00:00Z",
                    "2024-08-30T00:00:00Z",
                    "2024-10-31T00:00:00Z",
                ],
            },
            // 30W in a 30-day month ending on a Sunday (Jun 30 2024).
            Case {
                expr: "cron(0 0 30W * ? *)",
                tz: None,
                after: "2024-06-01T00:00:00Z",
                expect: &[
                    "2024-06-28T00:00:00Z",
                    "2024-07-30T00:00:00Z",
                    "2024-08-30T00:00:00Z",
                    "2024-09-30T00:00:00Z",
                ],
            },
            // 29W in February: only leap years; Feb 29 2032 is a Sunday and
            // the month's last day (-> Fri 27).
            Case {
                expr: "cron(0 0 29W 2 ? *)",
                tz: None,
                after: "2025-01-01T00:00:00Z",
                expect: &[
                    "2028-02-29T00:00:00Z",
                    "2032-02-27T00:00:00Z",
                    "2036-02-29T00:00:00Z",
                ],
            },
            // The fifth Friday: March, May and August 2024 have one.
            Case {
                expr: "cron(0 0 ? * 6#5 *)",
                tz: None,
                after: "2024-01-01T00:00:00Z",
                expect: &[
                    "2024-03-29T00:00:00Z",
                    "2024-05-31T00:00:00Z",
                    "2024-08-30T00:00:00Z",
                ],
            },
            // The first Sunday, strictly after Sunday Sep 1 2024 00:00.
            Case {
                expr: "cron(0 0 ? * SUN#1 *)",
                tz: None,
                after: "2024-09-01T00:00:00Z",
                expect: &[
                    "2024-10-06T00:00:00Z",
                    "2024-11-03T00:00:00Z",
                    "2024-12-01T00:00:00Z",
                ],
            },
            // A fifth Monday in February needs a leap year starting on a
            // Monday; 2025-2027 have none.
            Case {
                expr: "cron(0 0 ? 2 2#5 2025-2027)",
                tz: None,
                after: "2024-06-01T00:00:00Z",
                expect: &["none"],
            },
            // nL: the last Sunday of March (Europe's DST day).
            Case {
                expr: "cron(0 1 ? 3 1L *)",
                tz: None,
                after: "2024-01-01T00:00:00Z",
                expect: &[
                    "2024-03-31T01:00:00Z",
                    "2025-03-30T01:00:00Z",
                    "2026-03-29T01:00:00Z",
                ],
            },
            // L alone in day-of-week is Saturday.
            Case {
                expr: "cron(0 0 ? * L *)",
                tz: None,
                after: "2024-03-01T00:00:00Z",
                expect: &[
                    "2024-03-02T00:00:00Z",
                    "2024-03-09T00:00:00Z",
                    "2024-03-16T00:00:00Z",
                ],
            },
            // A wrapping weekday range, from a Wednesday.
            Case {
                expr: "cron(0 12 ? * FRI-MON *)",
                tz: None,
                after: "2024-03-06T00:00:00Z",
                expect: &[
                    "2024-03-08T12:00:00Z",
                    "2024-03-09T12:00:00Z",
                    "2024-03-10T12:00:00Z",
                    "2024-03-11T12:00:00Z",
                    "2024-03-15T12:00:00Z",
                ],
            },
            // A wrapping month range and a wrapping minute step (50, 5).
            Case {
                expr: "cron(0 0 1 NOV-FEB ? *)",
                tz: None,
                after: "2024-03-01T00:00:00Z",
                expect: &[
                    "2024-11-01T00:00:00Z",
                    "2024-12-01T00:00:00Z",
                    "2025-01-01T00:00:00Z",
                    "2025-02-01T00:00:00Z",
                    "2025-11-01T00:00:00Z",
                ],
            },
            Case {
                expr: "cron(50-10/15 * * * ? *)",
                tz: None,
                after: THU,
                expect: &[
                    "2024-02-29T18:05:00Z",
                    "2024-02-29T18:50:00Z",
                    "2024-02-29T19:05:00Z",
                ],
            },
        ],
        Timestamp::UNIX_EPOCH,
    );
}

#[test]
fn impossible_dates_and_year_bounds() {
    check(
        &[
            Case {
                expr: "cron(0 0 30 2 ? *)",
                tz: None,
                after: "1970-01-01T00:00:00Z",
                expect: &["none"],
            },
            Case {
                expr: "cron(0 0 31 4,6,9,11 ? *)",
                tz: Some("Europe/Berlin"),
                after: "2024-01-01T00:00:00Z",
                expect: &["none"],
            },
            Case {
                expr: "cron(0 0 29 2 ? *)",
                tz: None,
                after: "2024-03-01T00:00:00Z",
                expect: &[
                    "2028-02-29T00:00:00Z",
                    "2032-02-29T00:00:00Z",
                    "2036-02-29T00:00:00Z",
                ],
            },
            // 2100 is not a leap year.
            Case {
                expr: "cron(0 0 29 2 ? 2097-2104)",
                tz: None,
                after: "2097-01-01T00:00:00Z",
                expect: &["2104-02-29T00:00:00Z", "none"],
            },
            // The search ends with 2199.
            Case {
                expr: "cron(59 23 31 12 ? 2199)",
                tz: None,
                after: "2199-06-01T00:00:00Z",
                expect: &["2199-12-31T23:59:00Z", "none"],
            },
            Case {
                expr: "cron(0 0 1 1 ? *)",
                tz: None,
                after: "2199-01-01T00:00:00Z",
                expect: &["none"],
            },
            // Local years: 2199-12-31 23:00 in Los Angeles is in 2200 UTC.
            Case {
                expr: "cron(0 23 31 12 ? *)",
                tz: Some("America/Los_Angeles"),
                after: "2199-12-01T00:00:00Z",
                expect: &["2200-01-01T07:00:00Z", "none"],
            },
            // Nothing fires before 1970.
            Case {
                expr: "cron(0 0 1 1 ? *)",
                tz: None,
                after: "1900-06-01T00:00:00Z",
                expect: &["1970-01-01T00:00:00Z", "1971-01-01T00:00:00Z"],
            },
            // Year steps count from 1970.
            Case {
                expr: "cron(0 0 1 1 ? */50)",
                tz: None,
                after: "1970-01-01T00:00:00Z",
                expect: &[
                    "2020-01-01T00:00:00Z",
                    "2070-01-01T00:00:00Z",
                    "2120-01-01T00:00:00Z",
                    "2170-01-01T00:00:00Z",
                    "none",
                ],
            },
        ],
        Timestamp::UNIX_EPOCH,
    );
    let never = parse("cron(0 0 30 2 ? *)", None);
    assert_eq!(never.next_after(Timestamp::MIN, Timestamp::MIN), None);
    assert_eq!(never.next_after(Timestamp::MAX, Timestamp::MAX), None);
    assert_eq!(never.next_after_micros(i64::MIN, 0), None);
    let yearly = parse("cron(0 0 1 1 ? *)", None);
    assert_eq!(
        yearly.next_after_micros(i64::MIN, 0),
        Some(0),
        "clamped to jiff's range, then 1970"
    );
    assert_eq!(yearly.next_after_micros(i64::MAX, 0), None);
}

// ---------------------------------------------------------------------------
// Daylight saving time
// ---------------------------------------------------------------------------

/// Europe/Berlin 2024: 2024-03-31 02:00 CET (+1) jumps to 03:00 CEST (+2);
/// 2024-10-27 03:00 CEST falls back to 02:00 CET.
/// America/New_York 2024: 2024-03-10 02:00 EST (-5) jumps to 03:00 EDT (-4);
/// 2024-11-03 02:00 EDT falls back to 01:00 EST.
/// Australia/Lord_Howe: 2024-10-06 02:00 (+10:30) jumps half an hour to
/// 02:30 (+11).
#[test]
fn daylight_saving_transitions() {
    const BERLIN: Option<&str> = Some("Europe/Berlin");
    const NEW_YORK: Option<&str> = Some("America/New_York");
    check(
        &[
            // Spring forward: 02:30 does not exist on Mar 31 and is skipped.
            Case {
                expr: "cron(30 2 * * ? *)",
                tz: BERLIN,
                after: "2024-03-29T12:00:00Z",
                expect: &[
                    "2024-03-30T01:30:00Z",
                    "2024-04-01T00:30:00Z",
                    "2024-04-02T00:30:00Z",
                ],
            },
            // Fall back: 02:30 happens twice on Oct 27 and fires once, at the
            // first (CEST) occurrence.
            Case {
                expr: "cron(30 2 * * ? *)",
                tz: BERLIN,
                after: "2024-10-25T12:00:00Z",
                expect: &[
                    "2024-10-26T00:30:00Z",
                    "2024-10-27T00:30:00Z",
                    "2024-10-28T01:30:00Z",
                ],
            },
            Case {
                expr: "cron(0 2 * * ? *)",
                tz: BERLIN,
                after: "2024-10-26T12:00:00Z",
                expect: &["2024-10-27T00:00:00Z", "2024-10-28T01:00:00Z"],
            },
            // Every half hour across the gap: 01:30 CET, then 03:00 CEST.
            Case {
                expr: "cron(0/30 * * * ? *)",
                tz: BERLIN,
                after: "2024-03-31T00:15:00Z",
                expect: &[
                    "2024-03-31T00:30:00Z",
                    "2024-03-31T01:00:00Z",
                    "2024-03-31T01:30:00Z",
                ],
            },
            Case {
                expr: "cron(0 * * * ? *)",
                tz: BERLIN,
                after: "2024-03-31T00:30:00Z",
                expect: &[
                    "2024-03-31T01:00:00Z",
                    "2024-03-31T02:00:00Z",
                    "2024-03-31T03:00:00Z",
                ],
            },
            // Every half hour across the fold: 02:30 CEST, then the repeated
            // 02:00 and 02:30 (CET) are not fired again, then 03:00 CET.
            Case {
                expr: "cron(0/30 * * * ? *)",
                tz: BERLIN,
                after: "2024-10-27T00:15:00Z",
                expect: &[
                    "2024-10-27T00:30:00Z",
                    "2024-10-27T02:00:00Z",
                    "2024-10-27T02:30:00Z",
                ],
            },
            // Asked from inside the repeated hour (02:10 CET).
            Case {
                expr: "cron(0/30 * * * ? *)",
                tz: BERLIN,
                after: "2024-10-27T01:10:00Z",
                expect: &[
                    "2024-10-27T02:00:00Z",
                    "2024-10-27T02:30:00Z",
                    "2024-10-27T03:00:00Z",
                ],
            },
            // A schedule whose only local time in a year is skipped: Mar 31
            // 02:00 does not exist in 2024; in 2025-2027 it is CEST.
            Case {
                expr: "cron(0 2 31 3 ? *)",
                tz: BERLIN,
                after: "2024-01-01T00:00:00Z",
                expect: &[
                    "2025-03-31T00:00:00Z",
                    "2026-03-31T00:00:00Z",
                    "2027-03-31T00:00:00Z",
                ],
            },
            Case {
                expr: "cron(30 2 * * ? *)",
                tz: NEW_YORK,
                after: "2024-03-09T00:00:00Z",
                expect: &[
                    "2024-03-09T07:30:00Z",
                    "2024-03-11T06:30:00Z",
                    "2024-03-12T06:30:00Z",
                ],
            },
            Case {
                expr: "cron(30 1 * * ? *)",
                tz: NEW_YORK,
                after: "2024-11-02T00:00:00Z",
                expect: &[
                    "2024-11-02T05:30:00Z",
                    "2024-11-03T05:30:00Z",
                    "2024-11-04T06:30:00Z",
                ],
            },
            // Weekday mornings keep their local time across the change.
            Case {
                expr: "cron(0 9 ? * MON-FRI *)",
                tz: NEW_YORK,
                after: "2024-03-08T15:00:00Z",
                expect: &[
                    "2024-03-11T13:00:00Z",
                    "2024-03-12T13:00:00Z",
                    "2024-03-13T13:00:00Z",
                ],
            },
            // Every 20 minutes across the fold: 01:40 EDT, then 02:00 EST
            // (01:00, 01:20 and 01:40 EST are repeats).
            Case {
                expr: "cron(*/20 * * * ? *)",
                tz: NEW_YORK,
                after: "2024-11-03T05:30:00Z",
                expect: &[
                    "2024-11-03T05:40:00Z",
                    "2024-11-03T07:00:00Z",
                    "2024-11-03T07:20:00Z",
                ],
            },
            // Every 20 minutes across the gap: 01:40 EST, then 03:00 EDT.
            Case {
                expr: "cron(*/20 * * * ? *)",
                tz: NEW_YORK,
                after: "2024-03-10T06:30:00Z",
                expect: &[
                    "2024-03-10T06:40:00Z",
                    "2024-03-10T07:00:00Z",
                    "2024-03-10T07:20:00Z",
                ],
            },
            // A 30-minute gap: 02:15 does not exist on 2024-10-06.
            Case {
                expr: "cron(15 2 * * ? *)",
                tz: Some("Australia/Lord_Howe"),
                after: "2024-10-04T00:00:00Z",
                expect: &[
                    "2024-10-04T15:45:00Z",
                    "2024-10-06T15:15:00Z",
                    "2024-10-07T15:15:00Z",
                ],
            },
        ],
        Timestamp::UNIX_EPOCH,
    );
}

#[test]
fn at_in_a_gap_or_fold() {
    let anchor = Timestamp::UNIX_EPOCH;
    let before = ts("2024-01-01T00:00:00Z");
    // 02:30 does not exist on 2024-03-31 in Berlin: moved to 03:30 CEST.
    let gap = parse("at(2024-03-31T02:30:00)", Some("Europe/Berlin"));
    assert_eq!(
        gap.next_after(before, anchor),
        Some(ts("2024-03-31T01:30:00Z"))
    );
    // 02:30 happens twice on 2024-10-27: the first (CEST) one.
    let fold = parse("at(2024-10-27T02:30:00)", Some("Europe/Berlin"));
    assert_eq!(
        fold.next_after(before, anchor),
        Some(ts("2024-10-27T00:30:00Z"))
    );
    let seconds = parse("at(2024-10-27T02:30:45)", None);
    assert_eq!(
        seconds.next_after(before, anchor),
        Some(ts("2024-10-27T02:30:45Z"))
    );
}

// ---------------------------------------------------------------------------
// Parsing: accepted forms, normalisation, errors
// ---------------------------------------------------------------------------

#[test]
fn accepted_forms_and_normalisation() {
    let cases: &[(&str, &str)] = &[
        ("cron(0 10 * * ? *)", "cron(0 10 * * ? *)"),
        ("  cron(  0   10 * *  ?  * )  ", "cron(0 10 * * ? *)"),
        ("cron(0 10\t* * ? *)", "cron(0 10 * * ? *)"),
        // Scheduler documents the year as optional.
        ("cron(0 10 * * ?)", "cron(0 10 * * ? *)"),
        ("cron(00 07/12 ? * * *)", "cron(0 7/12 ? * * *)"),
        (
            "cron(1/5 8-17 ? * Mon-Fri *)",
            "cron(1/5 8-17 ? * MON-FRI *)",
        ),
        ("cron(0 9 ? * mon#1 *)", "cron(0 9 ? * MON#1 *)"),
        ("cron(0 18 ? * satl *)", "cron(0 18 ? * SATL *)"),
        (
            "cron(15 10 ? * 6l 2019-2022)",
            "cron(15 10 ? * 6L 2019-2022)",
        ),
        ("cron(0 18 lw * ? *)", "cron(0 18 LW * ? *)"),
        ("cron(0 18 l * ? *)", "cron(0 18 L * ? *)"),
        ("cron(0 18 031w * ? *)", "cron(0 18 31W * ? *)"),
        ("cron(0 0 1 jan,Jul,DEC ? *)", "cron(0 0 1 JAN,JUL,DEC ? *)"),
        (
            "cron(30 0 1 JAN-APR,JUL-OCT/2,DEC ? *)",
            "cron(30 0 1 JAN-APR,JUL-OCT/2,DEC ? *)",
        ),
        (
            "cron(0 1-7/2,11-23/2,10 * * ? *)",
            "cron(0 1-7/2,11-23/2,10 * * ? *)",
        ),
        ("cron(0 0 1 02-MAR ? *)", "cron(0 0 1 2-MAR ? *)"),
        ("cron(0 0 1 FEB/2 ? *)", "cron(0 0 1 FEB/2 ? *)"),
        ("cron(*/10,*/3 * * * ? *)", "cron(*/10,*/3 * * * ? *)"),
        (
            "cron(0,5 07/12 ? * 1,5,7 2020-2021,2028-2199)",
            "cron(0,5 7/12 ? * 1,5,7 2020-2021,2028-2199)",
        ),
        ("cron(0 0 ? * SUN-SAT *)", "cron(0 0 ? * SUN-SAT *)"),
        ("cron(0 0 ? * L *)", "cron(0 0 ? * L *)"),
        ("rate(1 minute)", "rate(1 minute)"),
        ("rate(05 minutes)", "rate(5 minutes)"),
        ("rate( 2   hours )", "rate(2 hours)"),
        ("rate(1 day)", "rate(1 day)"),
        ("rate(10 seconds)", "rate(10 seconds)"),
        ("at(2022-11-20T13:00:00)", "at(2022-11-20T13:00:00)"),
        ("at(1970-01-01T00:00:00)", "at(1970-01-01T00:00:00)"),
        ("at(2199-12-31T23:59:59)", "at(2199-12-31T23:59:59)"),
    ];
    for (input, normalised) in cases {
        let schedule = parse(input, None);
        let printed = schedule.to_string();
        assert_eq!(&printed, normalised, "{input:?}");
        // Round trip: the normalised text parses to the same schedule and
        // prints identically.
        let again = parse(&printed, None);
        assert_eq!(again, schedule, "{input:?}");
        assert_eq!(again.to_string(), printed, "{input:?}");
    }
}

#[test]
fn kinds_and_time_zones() {
    assert_eq!(parse("cron(0 10 * * ? *)", None).kind(), ScheduleKind::Cron);
    assert_eq!(parse("rate(5 minutes)", None).kind(), ScheduleKind::Rate);
    assert_eq!(
        parse("at(2030-01-01T00:00:00)", None).kind(),
        ScheduleKind::At
    );
    assert_eq!(ScheduleKind::Cron.to_string(), "cron");
    assert_eq!(parse("rate(5 minutes)", None).timezone(), "UTC");
    assert_eq!(
        parse("rate(5 minutes)", Some("Europe/Berlin")).timezone(),
        "Europe/Berlin"
    );
    assert_eq!(
        parse("rate(5 minutes)", Some("america/new_york")).timezone(),
        "America/New_York"
    );
    assert_eq!(parse("rate(5 minutes)", Some("UTC")).timezone(), "UTC");
    // The same expression in different zones is a different schedule.
    assert_ne!(
        parse("cron(0 10 * * ? *)", None),
        parse("cron(0 10 * * ? *)", Some("Europe/Berlin"))
    );
}

/// The copy of the tz database bundled into the binary (the fallback for
/// systems without /usr/share/zoneinfo) knows the zones these tests use.
#[test]
fn bundled_time_zone_database_is_present() {
    let bundled = jiff::tz::TimeZoneDatabase::bundled();
    for zone in ZONES
        .iter()
        .chain(["America/Los_Angeles", "Pacific/Kiritimati"].iter())
    {
        assert!(
            bundled.get(zone).is_ok(),
            "{zone} is missing from the bundle"
        );
    }
}

/// What an invalid input is expected to be rejected for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Expression,
    Cron(CronField),
    Rate,
    At,
    TimeZone,
}

fn fault(err: &ScheduleError) -> Fault {
    match err {
        ScheduleError::Expression(_) => Fault::Expression,
        ScheduleError::Cron { field, .. } => Fault::Cron(*field),
        ScheduleError::Rate(_) => Fault::Rate,
        ScheduleError::At(_) => Fault::At,
        ScheduleError::TimeZone(_) => Fault::TimeZone,
    }
}

#[test]
fn invalid_inputs_name_the_field_at_fault() {
    use CronField::*;
    use Fault::Cron as C;
    let long = format!("cron(0 10 * * ? *){}", " ".repeat(300));
    let long_zone = "A".repeat(65);
    let cases: &[(&str, Option<&str>, Fault)] = &[
        // Shape of the expression.
        ("", None, Fault::Expression),
        ("   ", None, Fault::Expression),
        (&long, None, Fault::Expression),
        ("every 5 minutes", None, Fault::Expression),
        ("cron 0 10 * * ? *", None, Fault::Expression),
        ("cron(0 10 * * ? *", None, Fault::Expression),
        ("cron(0 10 * * ? *)x", None, Fault::Expression),
        ("cron((0 10 * * ? *))", None, Fault::Expression),
        ("CRON(0 10 * * ? *)", None, Fault::Expression),
        ("cron(0 10 * *)", None, Fault::Expression),
        ("cron(0 10 * * ? * *)", None, Fault::Expression),
        ("cron()", None, Fault::Expression),
        ("weekly(1)", None, Fault::Expression),
        // Minutes.
        ("cron(60 10 * * ? *)", None, C(Minutes)),
        ("cron(-1 10 * * ? *)", None, C(Minutes)),
        ("cron(5- 10 * * ? *)", None, C(Minutes)),
        ("cron(,5 10 * * ? *)", None, C(Minutes)),
        ("cron(5, 10 * * ? *)", None, C(Minutes)),
        ("cron(*/0 10 * * ? *)", None, C(Minutes)),
        ("cron(0/60 10 * * ? *)", None, C(Minutes)),
        ("cron(15/65 10 * * ? *)", None, C(Minutes)),
        ("cron(65/15 10 * * ? *)", None, C(Minutes)),
        ("cron(*,5 10 * * ? *)", None, C(Minutes)),
        ("cron(1-2-3 10 * * ? *)", None, C(Minutes)),
        ("cron(5/ 10 * * ? *)", None, C(Minutes)),
        ("cron(5/2/2 10 * * ? *)", None, C(Minutes)),
        ("cron(? 10 * * ? *)", None, C(Minutes)),
        ("cron(L 10 * * ? *)", None, C(Minutes)),
        ("cron(1.5 10 * * ? *)", None, C(Minutes)),
        ("cron(99999999999999999999 10 * * ? *)", None, C(Minutes)),
        // Hours.
        ("cron(0 24 * * ? *)", None, C(Hours)),
        ("cron(0 ? * * ? *)", None, C(Hours)),
        ("cron(0 1#2 * * ? *)", None, C(Hours)),
        ("cron(0 */24 * * ? *)", None, C(Hours)),
        // Day-of-month.
        ("cron(0 10 0 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 32 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 32W * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 0W * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 W * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 1-5W * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 L-3 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 3L * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 L,15 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 LWW * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 ?,1 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 1#2 * ? *)", None, C(DayOfMonth)),
        ("cron(0 10 MON * ? *)", None, C(DayOfMonth)),
        // Month.
        ("cron(0 10 * 0 ? *)", None, C(Month)),
        ("cron(0 10 * 13 ? *)", None, C(Month)),
        ("cron(0 10 * JANUARY ? *)", None, C(Month)),
        ("cron(0 10 * 2/FEB ? *)", None, C(Month)),
        ("cron(0 10 * ? ? *)", None, C(Month)),
        // Day-of-week.
        ("cron(0 10 ? * 0 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 8 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * Monday *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * */2 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 1/2 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 3#1,6#3 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 2#0 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 2#6 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * #2 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 3# *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 2-3#1 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 8#1 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 5-L *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * L-2 *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 1-5L *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * 8L *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * W *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * ?,2 *)", None, C(DayOfWeek)),
        // Exactly one of the day fields must be '?'.
        ("cron(0 10 * * * *)", None, C(DayOfWeek)),
        ("cron(0 10 ? * ? *)", None, C(DayOfWeek)),
        ("cron(0 10 15 * MON *)", None, C(DayOfWeek)),
        ("cron(0 10 L * 6L *)", None, C(DayOfWeek)),
        // Year.
        ("cron(0 10 * * ? 1969)", None, C(Year)),
        ("cron(0 10 * * ? 2200)", None, C(Year)),
        ("cron(0 10 * * ? 2030-2020)", None, C(Year)),
        ("cron(0 10 * * ? ?)", None, C(Year)),
        ("cron(0 10 * * ? L)", None, C(Year)),
        ("cron(0 10 * * ? */230)", None, C(Year)),
        ("cron(0 10 * * ? ＊)", None, C(Year)),
        // Rate.
        ("rate(0 minutes)", None, Fault::Rate),
        ("rate(000 minutes)", None, Fault::Rate),
        ("rate(1 minutes)", None, Fault::Rate),
        ("rate(5 minute)", None, Fault::Rate),
        ("rate(1 hours)", None, Fault::Rate),
        ("rate(5 hour)", None, Fault::Rate),
        ("rate(1 days)", None, Fault::Rate),
        ("rate(5 weeks)", None, Fault::Rate),
        ("rate(5 Minutes)", None, Fault::Rate),
        ("rate(5)", None, Fault::Rate),
        ("rate(minutes)", None, Fault::Rate),
        ("rate()", None, Fault::Rate),
        ("rate(5 minutes extra)", None, Fault::Rate),
        ("rate(-5 minutes)", None, Fault::Rate),
        ("rate(+5 minutes)", None, Fault::Rate),
        ("rate(1.5 hours)", None, Fault::Rate),
        ("rate(1000001 days)", None, Fault::Rate),
        ("rate(99999999999999999999999 minutes)", None, Fault::Rate),
        // At.
        ("at(2024-02-30T00:00:00)", None, Fault::At),
        ("at(2023-02-29T00:00:00)", None, Fault::At),
        ("at(2024-13-01T00:00:00)", None, Fault::At),
        ("at(2024-00-01T00:00:00)", None, Fault::At),
        ("at(2024-01-01T24:00:00)", None, Fault::At),
        ("at(2024-01-01T23:60:00)", None, Fault::At),
        ("at(2024-01-01T23:59:60)", None, Fault::At),
        ("at(2024-01-01 00:00:00)", None, Fault::At),
        ("at(2024-01-01T00:00)", None, Fault::At),
        ("at(2024-01-01T00:00:00Z)", None, Fault::At),
        ("at(24-01-01T00:00:00)", None, Fault::At),
        ("at(1969-12-31T23:59:59)", None, Fault::At),
        ("at(2200-01-01T00:00:00)", None, Fault::At),
        ("at(2024-01-01T00:00:0\u{e9})", None, Fault::At),
        ("at(+024-01-01T00:00:00)", None, Fault::At),
        ("at()", None, Fault::At),
        // Time zone.
        ("rate(5 minutes)", Some(""), Fault::TimeZone),
        (
            "rate(5 minutes)",
            Some("Mars/Olympus_Mons"),
            Fault::TimeZone,
        ),
        ("rate(5 minutes)", Some("../../etc/passwd"), Fault::TimeZone),
        (
            "rate(5 minutes)",
            Some("/usr/share/zoneinfo/UTC"),
            Fault::TimeZone,
        ),
        ("rate(5 minutes)", Some("Europe//Berlin"), Fault::TimeZone),
        ("rate(5 minutes)", Some("Europe/Berlin "), Fault::TimeZone),
        ("rate(5 minutes)", Some("+01:00"), Fault::TimeZone),
        ("cron(0 10 * * ? *)", Some(&long_zone), Fault::TimeZone),
    ];
    for (expr, tz, want) in cases {
        match Schedule::parse(expr, *tz) {
            Ok(s) => panic!("{expr:?} in {tz:?} was accepted as {s}"),
            Err(err) => {
                assert_eq!(fault(&err), *want, "{expr:?} in {tz:?}: {err}");
                let message = err.to_string();
                assert!(
                    message.len() < 300,
                    "message for {expr:?} is too long: {message}"
                );
            }
        }
    }
}

#[test]
fn error_messages_read_well() {
    let message = |expr: &str| match Schedule::parse(expr, None) {
        Ok(s) => panic!("{expr:?} was accepted as {s}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        message("cron(0 10 ? * 8 *)"),
        "day-of-week: '8' is out of range 1-7 (or SUN-SAT)"
    );
    assert_eq!(
        message("cron(60 10 * * ? *)"),
        "minutes: '60' is out of range 0-59"
    );
    assert_eq!(
        message("cron(0 10 * JANUARY ? *)"),
        "month: 'JANUARY' is not a valid value; expected 1-12 (or JAN-DEC)"
    );
    assert_eq!(
        message("cron(0 10 * * * *)"),
        "day-of-week: must be '?' because day-of-month is '*' (exactly one of day-of-month \
         and day-of-week must be '?')"
    );
    assert_eq!(
        message("cron(0 10 ? * ? *)"),
        "day-of-week: day-of-month and day-of-week cannot both be '?'; give one of them a \
         value or '*'"
    );
    assert_eq!(
        message("cron(0 10 ? * 3#1,6#3 *)"),
        "day-of-week: '3#1,6#3': only one '#' expression is allowed (e.g. '3#2'; '3#1,6#3' \
         is not valid)"
    );
    assert_eq!(
        message("cron(0 10 * * ? 2200)"),
        "year: '2200' is out of range 1970-2199"
    );
    assert_eq!(
        message("rate(1 hours)"),
        "rate: use the singular unit with a value of 1: rate(1 hour)"
    );
    assert_eq!(
        message("rate(5 hour)"),
        "rate: use the plural unit with a value above 1: rate(5 hours)"
    );
    assert_eq!(
        message("at(2023-02-29T00:00:00)"),
        "at: 2023-02 has no day 29 (it has 28 days)"
    );
    assert_eq!(
        message("cron(0 10 * *)"),
        "expression: cron(...) needs 6 fields (minutes hours day-of-month month day-of-week \
         year), found 4"
    );
    assert_eq!(
        Schedule::parse("rate(5 minutes)", Some("Mars/Base"))
            .map_err(|e| e.to_string())
            .err()
            .as_deref(),
        Some(
            "timezone: unknown time zone 'Mars/Base'; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        )
    );
    let err = Schedule::parse("cron(0 10 32 * ? *)", None).err();
    assert_eq!(
        err.as_ref().and_then(ScheduleError::cron_field),
        Some(CronField::DayOfMonth)
    );
    // Control characters are escaped, long input is cut short.
    let m = message("cron(0\u{7}x 10 * * ? *)");
    assert!(m.contains("\\u{7}"), "{m}");
    let m = message(&format!("cron({} 10 * * ? *)", "1".repeat(200)));
    assert!(m.len() < 120 && m.contains('…'), "{m}");
}

// ---------------------------------------------------------------------------
// Reference evaluator and property tests
// ---------------------------------------------------------------------------

/// Whether `v` is in `field`, worked out per value rather than by the
/// enumeration `Plan` uses.
fn naive_field(field: &Field, spec: &FieldSpec, v: u16) -> bool {
    let run = |first: u16, last: u16, step: u16| {
        let position = if v >= first {
            v - first
        } else {
            (spec.max - first + 1) + (v - spec.min)
        };
        let len = if first <= last {
            last - first + 1
        } else {
            (spec.max - first + 1) + (last - spec.min + 1)
        };
        position < len && position % step == 0
    };
    match field {
        Field::Every => true,
        Field::List(items) => items.iter().any(|item| match *item {
            Item::Value(a) => v == a.n,
            Item::Range(a, b) => run(a.n, b.n, 1),
            Item::Step { start, step } => match start {
                StepStart::Every => run(spec.min, spec.max, step),
                StepStart::From(a) => run(a.n, spec.max, step),
                StepStart::Range(a, b) => run(a.n, b.n, step),
            },
        }),
    }
}

/// Whether `date` is an allowed day, using jiff's calendar.
fn naive_day(cron: &Cron, date: Date) -> bool {
    let day = date.day();
    let len = date.days_in_month();
    let weekday = |d: i8| {
        date.with()
            .day(d)
            .build()
            .map(|x| x.weekday().to_sunday_one_offset())
    };
    let is_weekday = |d: i8| matches!(weekday(d), Ok(2..=6));
    let w = date.weekday().to_sunday_one_offset();
    match (&cron.day_of_month, &cron.day_of_week) {
        (DayOfMonth::Field(f), _) => naive_field(f, &DAYS_OF_MONTH, day as u16),
        (DayOfMonth::Last, _) => day == len,
        (DayOfMonth::LastWeekday, _) => Some(day) == (1..=len).rev().find(|&d| is_weekday(d)),
        (DayOfMonth::NearestWeekday(n), _) => {
            let n = *n as i8;
            // The weekday of this month closest to day n.
            n <= len
                && Some(day)
                    == (1..=len)
                        .filter(|&d| is_weekday(d))
                        .min_by_key(|&d| (d - n).abs())
        }
        (_, DayOfWeek::Field(f)) => naive_field(f, &DAYS_OF_WEEK, w as u16),
        (_, DayOfWeek::Last) => w == 7,
        (_, DayOfWeek::LastOf(v)) => w as u16 == v.n && day + 7 > len,
        (_, DayOfWeek::Nth(v, k)) => w as u16 == v.n && (day - 1) / 7 + 1 == *k as i8,
        _ => false,
    }
}

/// Whether the schedule fires at instant `t`: its wall-clock time is a whole
/// minute that matches every field, and `t` is the first instant showing
/// that wall-clock time (skipped times never show, repeated ones fire once).
fn naive_fires(cron: &Cron, tz: &TimeZone, t: Timestamp) -> bool {
    let local = tz.to_datetime(t);
    local.second() == 0
        && local.subsec_nanosecond() == 0
        && (MIN_YEAR..=MAX_YEAR).contains(&local.year())
        && naive_field(&cron.minutes, &MINUTES, local.minute() as u16)
        && naive_field(&cron.hours, &HOURS, local.hour() as u16)
        && naive_field(&cron.month, &MONTHS, local.month() as u16)
        && naive_field(&cron.year, &YEARS, local.year() as u16)
        && naive_day(cron, local.date())
        && tz.to_ambiguous_timestamp(local).earlier().ok() == Some(t)
}

/// The first firing in `(after, end)`, scanning every UTC minute.
fn naive_first(cron: &Cron, tz: &TimeZone, after: Timestamp, end: Timestamp) -> Option<Timestamp> {
    let mut t = after.as_second().div_euclid(60) * 60;
    loop {
        let at = Timestamp::from_second(t).ok()?;
        if at >= end {
            return None;
        }
        if at > after && naive_fires(cron, tz, at) {
            return Some(at);
        }
        t += 60;
    }
}

fn cron_of(schedule: &Schedule) -> &Cron {
    match &schedule.expr {
        Expr::Cron(cron) => cron,
        other => panic!("not a cron schedule: {other:?}"),
    }
}

/// Zones with every kind of transition the search has to handle, all with
/// whole-minute offsets (so UTC minute scanning sees every local minute).
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe", // 30-minute DST shift
    "Asia/Kolkata",        // +05:30, no DST
    "Asia/Kathmandu",      // +05:45
    "America/St_Johns",    // -03:30 with DST
    "Pacific/Chatham",     // +12:45 / +13:45
    "Pacific/Apia",        // skipped 2011-12-30 entirely
    "America/Sao_Paulo",   // DST until 2019, transitions at midnight
    "Europe/London",
    "Australia/Sydney",
];

/// Transitions (and other edges) with the zone they happen in, so that
/// generated instants land near them.
const HOT_SPOTS: &[(&str, &str)] = &[
    ("Europe/Berlin", "2024-03-31T01:00:00Z"),
    ("Europe/Berlin", "2024-10-27T01:00:00Z"),
    ("Europe/London", "2024-03-31T01:00:00Z"),
    ("Europe/London", "2024-10-27T01:00:00Z"),
    ("America/New_York", "2024-03-10T07:00:00Z"),
    ("America/New_York", "2024-11-03T06:00:00Z"),
    ("America/St_Johns", "2024-03-10T05:30:00Z"),
    ("America/St_Johns", "2024-11-03T04:30:00Z"),
    ("Australia/Lord_Howe", "2024-10-05T15:30:00Z"), // 30-minute gap
    ("Australia/Lord_Howe", "2024-04-06T15:00:00Z"), // 30-minute fold
    ("Australia/Sydney", "2024-04-06T16:00:00Z"),
    ("Pacific/Chatham", "2024-04-06T14:00:00Z"),
    ("Pacific/Apia", "2011-12-30T10:00:00Z"), // a whole day skipped
    ("America/Sao_Paulo", "2018-11-04T03:00:00Z"), // gap at midnight
    ("America/Sao_Paulo", "2019-02-17T02:00:00Z"), // fold at midnight
    ("UTC", "2024-02-29T12:00:00Z"),
    ("UTC", "2199-12-30T00:00:00Z"), // end of the search
];

fn list_field(min: u16, max: u16, max_step: u16, wrap: bool) -> BoxedStrategy<String> {
    let value = move || min..=max;
    let range = move || {
        (value(), value()).prop_map(move |(a, b)| {
            let (a, b) = if wrap { (a, b) } else { (a.min(b), a.max(b)) };
            format!("{a}-{b}")
        })
    };
    let mut items: Vec<BoxedStrategy<String>> =
        vec![value().prop_map(|v| v.to_string()).boxed(), range().boxed()];
    if max_step > 0 {
        items.push(
            (value(), 1..=max_step)
                .prop_map(|(a, s)| format!("{a}/{s}"))
                .boxed(),
        );
        items.push((1..=max_step).prop_map(|s| format!("*/{s}")).boxed());
        items.push(
            (range(), 1..=max_step)
                .prop_map(|(r, s)| format!("{r}/{s}"))
                .boxed(),
        );
    }
    let item = proptest::strategy::Union::new(items);
    prop_oneof![
        1 => Just("*".to_owned()),
        2 => proptest::collection::vec(item, 1..4).prop_map(|v| v.join(",")),
    ]
    .boxed()
}

fn day_fields() -> impl Strategy<Value = (String, String)> {
    let day_of_month = prop_oneof![
        3 => list_field(1, 31, 31, true),
        1 => Just("L".to_owned()),
        1 => Just("LW".to_owned()),
        1 => (1u16..=31).prop_map(|d| format!("{d}W")),
        1 => proptest::sample::select(vec![1u16, 2, 3, 15, 28, 29, 30, 31])
            .prop_map(|d| format!("{d}W")),
    ];
    let weekday = || {
        prop_oneof![
            (1u16..=7).prop_map(|d| d.to_string()),
            proptest::sample::select(WEEKDAY_NAMES.to_vec()).prop_map(str::to_owned),
        ]
    };
    let day_of_week = prop_oneof![
        3 => list_field(1, 7, 0, true),
        1 => (weekday(), weekday()).prop_map(|(a, b)| format!("{a}-{b}")),
        1 => Just("L".to_owned()),
        1 => weekday().prop_map(|d| format!("{d}L")),
        1 => (weekday(), 1u8..=5).prop_map(|(d, k)| format!("{d}#{k}")),
    ];
    prop_oneof![
        day_of_month.prop_map(|d| (d, "?".to_owned())),
        day_of_week.prop_map(|d| ("?".to_owned(), d)),
    ]
}

fn cron_expression() -> impl Strategy<Value = String> {
    let months = prop_oneof![
        3 => Just("*".to_owned()),
        1 => list_field(1, 12, 12, true),
    ];
    let years = prop_oneof![
        4 => Just("*".to_owned()),
        1 => list_field(2000, 2060, 20, false),
    ];
    (
        list_field(0, 59, 59, true),
        list_field(0, 23, 23, true),
        day_fields(),
        months,
        years,
    )
        .prop_map(|(mi, h, (dom, dow), mo, y)| format!("cron({mi} {h} {dom} {mo} {dow} {y})"))
}

/// A zone and an instant: anywhere in 2000-2040, or within a day and a
/// half before one of the [`HOT_SPOTS`] of that zone.
fn zone_and_instant() -> impl Strategy<Value = (&'static str, Timestamp)> {
    let random = (
        proptest::sample::select(ZONES),
        ts("2000-01-01T00:00:00Z").as_second()..ts("2040-01-01T00:00:00Z").as_second(),
    )
        .prop_map(|(zone, s)| (zone, Timestamp::from_second(s).expect("in range")));
    let hot = (
        proptest::sample::select(HOT_SPOTS),
        -36 * 3_600i64..12 * 3_600,
    )
        .prop_map(|((zone, spot), delta)| {
            let t = Timestamp::from_second(ts(spot).as_second() + delta).expect("in range");
            (zone, t)
        });
    prop_oneof![random, hot]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Over a two-day window, the firings found by chaining `next_after`
    /// are exactly those a minute-by-minute scan finds (so they strictly
    /// increase and each satisfies the expression), and the first firing
    /// past the window satisfies the expression too.
    #[test]
    fn next_after_matches_reference(
        expr in cron_expression(),
        (zone, after) in zone_and_instant(),
        subsecond in 0i64..1_000_000_000,
    ) {
        let schedule = Schedule::parse(&expr, Some(zone))
            .map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
        let printed = schedule.to_string();
        prop_assert_eq!(&Schedule::parse(&printed, Some(zone)).ok(), &Some(schedule.clone()));
        let cron = cron_of(&schedule);
        let tz = &schedule.tz;
        let after = after
            .checked_add(jiff::SignedDuration::from_nanos(subsecond))
            .expect("in range");
        let end = after
            .checked_add(jiff::SignedDuration::from_hours(48))
            .expect("in range");

        let mut expected = Vec::new();
        let mut cursor = after;
        while let Some(t) = naive_first(cron, tz, cursor, end) {
            expected.push(t);
            cursor = t;
        }
        let mut got = Vec::new();
        let mut cursor = after;
        let beyond = loop {
            match schedule.next_after(cursor, Timestamp::UNIX_EPOCH) {
                Some(t) if t < end => {
                    prop_assert!(t > cursor, "{} in {}: {} then {}", expr, zone, cursor, t);
                    got.push(t);
                    cursor = t;
                }
                other => break other,
            }
        };
        let first_difference = got.iter().zip(&expected).position(|(g, e)| g != e);
        prop_assert!(
            first_difference.is_none() && got.len() == expected.len(),
            "{} in {} after {}: first difference at #{:?} (got {:?}, want {:?}); {} vs {} firings",
            expr, zone, after, first_difference,
            first_difference.map(|i| got[i]), first_difference.map(|i| expected[i]),
            got.len(), expected.len(),
        );
        if let Some(t) = beyond {
            prop_assert!(naive_fires(cron, tz, t), "{} in {}: {} does not match", expr, zone, t);
        }
    }

    /// Arbitrary text never panics, and whatever parses round-trips and can
    /// be evaluated.
    #[test]
    fn arbitrary_input_never_panics(
        text in prop_oneof![
            ".{0,300}",
            "cron\\([0-9A-Za-z*?/,#\\- ]{0,60}\\)",
            "rate\\([0-9a-z +-]{0,30}\\)",
            "at\\([0-9T:-]{0,25}\\)",
        ],
        zone in prop_oneof![Just(None), ".{0,70}".prop_map(Some), proptest::sample::select(ZONES).prop_map(|z| Some(z.to_owned()))],
        after in any::<i64>(),
        anchor in any::<i64>(),
    ) {
        if let Ok(schedule) = Schedule::parse(&text, zone.as_deref()) {
            let printed = schedule.to_string();
            let again = Schedule::parse(&printed, zone.as_deref());
            prop_assert_eq!(again.as_ref().ok(), Some(&schedule), "{:?} printed as {:?}", text, printed);
            let _ = schedule.next_after_micros(after, anchor);
            let _ = schedule.next_after(Timestamp::MIN, Timestamp::MAX);
            let _ = schedule.next_after(Timestamp::MAX, Timestamp::MIN);
        }
    }
}

// ---------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------

/// Expressions that make the search work hardest: nothing to find for 230
/// years, rare matches, DST folds and gaps.
const HARD: &[(&str, &str)] = &[
    ("cron(0 0 30 2 ? *)", "UTC"),
    ("cron(0 0 31 2,4,6,9,11 ? *)", "Europe/Berlin"),
    ("cron(0 0 ? 2 2#5 *)", "America/New_York"),
    ("cron(0 0 29W 2 ? *)", "UTC"),
    ("cron(* * * * ? *)", "Europe/Berlin"),
    ("cron(0/30 2 ? * 1L *)", "Europe/Berlin"),
    ("cron(59 23 31 12 ? 2199)", "Pacific/Kiritimati"),
];

/// Cheap enough to run everywhere: even unoptimised, a few thousand searches
/// of the hardest expressions take well under the bound.
#[test]
fn next_after_is_fast() {
    let after = ts("2024-10-27T00:45:00Z");
    let started = std::time::Instant::now();
    let mut found = 0;
    for (expr, zone) in HARD {
        let schedule = parse(expr, Some(zone));
        for i in 0..500 {
            let t = after
                .checked_add(jiff::SignedDuration::from_secs(i * 997))
                .expect("in range");
            found += usize::from(schedule.next_after(t, t).is_some());
        }
    }
    let elapsed = started.elapsed();
    assert!(found > 0);
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
}

/// `cargo test --release -- --ignored --nocapture perf_report` prints the
/// cost of one search per expression.
#[test]
#[ignore = "timing report, run by hand"]
fn perf_report() {
    let after = ts("2024-10-27T00:45:00Z");
    let mut all: Vec<(&str, &str)> = HARD.to_vec();
    all.extend([
        ("cron(0 10 * * ? *)", "UTC"),
        ("cron(0/5 8-17 ? * MON-FRI *)", "America/New_York"),
        ("cron(15 10 ? * 6L 2022-2023)", "UTC"),
        ("rate(5 minutes)", "UTC"),
        ("at(2030-01-01T00:00:00)", "Europe/Berlin"),
    ]);
    for (expr, zone) in all {
        let schedule = parse(expr, Some(zone));
        let n = 20_000;
        let started = std::time::Instant::now();
        for i in 0..n {
            let t = after
                .checked_add(jiff::SignedDuration::from_secs(i * 61))
                .expect("in range");
            std::hint::black_box(schedule.next_after(std::hint::black_box(t), t));
        }
        println!(
            "{expr:40} {zone:20} {:?} per next_after",
            started.elapsed() / n as u32
        );
    }
    let started = std::time::Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(
            Schedule::parse(
                std::hint::black_box("cron(0/5 8-17 ? * MON-FRI *)"),
                Some("Europe/Berlin"),
            )
            .ok(),
        );
    }
    println!("parse: {:?}", started.elapsed() / 20_000);
}

proptest! {
    // Each case checks one month, so many cases are cheap.
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// For any month from 1970 to 2199, the days the search uses for a
    /// day-of-month/day-of-week pair are exactly the days the naive
    /// calendar check accepts. This reaches the rare cases (a month starting
    /// on a Saturday for `1W`, a fifth weekday, February 29th) far more
    /// often than scanning random minutes does.
    #[test]
    fn day_sets_match_reference(
        (dom, dow) in day_fields(),
        year in prop_oneof![
            i32::from(MIN_YEAR)..=i32::from(MAX_YEAR),
            // Leap-year edges: 2000 is one, 2100 is not.
            proptest::sample::select(vec![1970, 2000, 2024, 2025, 2100, 2199]),
        ],
        month in 1u8..=12,
    ) {
        let expr = format!("cron(0 0 {dom} * {dow} *)");
        let schedule = Schedule::parse(&expr, None)
            .map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
        let cron = cron_of(&schedule);
        let mask = cron.plan.days.in_month(year, month);
        let first = Date::new(year as i16, month as i8, 1).expect("valid date");
        let len = first.days_in_month();
        prop_assert_eq!(u64::from(mask) >> (len + 1), 0, "{} in {}-{}: bits past the month", expr, year, month);
        prop_assert_eq!(mask & 1, 0);
        for day in 1..=len {
            let date = first.with().day(day).build().expect("valid date");
            prop_assert_eq!(
                mask & (1 << day) != 0,
                naive_day(cron, date),
                "{} on {}", expr, date
            );
        }
    }
}
