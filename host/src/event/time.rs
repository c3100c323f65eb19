//! RFC 3339 timestamps.
//!
//! CloudEvents' `time` attribute must be an RFC 3339 `date-time`. Signalbox
//! keeps the text as sent (so it reads back identical) and only needs to know
//! that it is valid and which instant it names, so a small exact parser is
//! enough; a calendar crate would be a large dependency for this.

/// Parses an RFC 3339 `date-time` (`2018-04-26T14:48:09.1234+02:00`) and
/// returns the instant as microseconds since the Unix epoch (fractions below a
/// microsecond are truncated). Lower-case `t`/`z` and a space separator are not
/// accepted: CloudEvents producers use the strict form.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let err = |what: &str| Err(format!("'{s}' is not an RFC 3339 timestamp: {what}"));
    if b.len() < 20 {
        return err("too short (expected e.g. 2024-05-01T12:00:00Z)");
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[range] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let (Some(year), Some(month), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return err("date must be YYYY-MM-DD");
    };
    if b[4] != b'-' || b[7] != b'-' {
        return err("date must be YYYY-MM-DD");
    }
    if b[10] != b'T' {
        return err("expected 'T' between date and time");
    }
    let (Some(hour), Some(minute), Some(second)) = (num(11..13), num(14..16), num(17..19)) else {
        return err("time must be hh:mm:ss");
    };
    if b[13] != b':' || b[16] != b':' {
        return err("time must be hh:mm:ss");
    }
    if !(1..=12).contains(&month) {
        return err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return err("time of day out of range");
    }
    let mut i = 19;
    let mut micros = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 6 {
                micros = micros * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return err("empty fraction of a second");
        }
        for _ in (i - start).min(6)..6 {
            micros *= 10;
        }
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (Some(oh), Some(om)) = (num(i + 1..i + 3), num(i + 4..i + 6)) else {
                return err("offset must be +hh:mm or -hh:mm");
            };
            if oh > 23 || om > 59 {
                return err("offset out of range");
            }
            let o = i64::from(oh * 3600 + om * 60);
            if sign == b'+' { o } else { -o }
        }
        _ => return err("expected 'Z' or an offset like +02:00 after the time"),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59)) - offset_secs;
    Ok(secs * 1_000_000 + i64::from(micros))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats microseconds since the Unix epoch as RFC 3339 in UTC with
/// microsecond precision, e.g. `2024-05-01T12:00:00.000000Z`.
pub fn format_rfc3339_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:06}Z");
    }
    // Every trace step formats a time: writing the digits directly is
    // several times cheaper than `format!` with widths.
    let mut out = String::with_capacity(27);
    for (n, width, sep) in [
        (y, 4, '-'),
        (i64::from(m), 2, '-'),
        (i64::from(d), 2, 'T'),
        (hh, 2, ':'),
        (mm, 2, ':'),
        (ss, 2, '.'),
        (frac, 6, 'Z'),
    ] {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + ((n / 10i64.pow(p)) % 10) as u8));
        }
        out.push(sep);
    }
    out
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339("2018-04-26T14:48:09+02:00"),
            Ok(1_524_746_889_000_000)
        );
        assert_eq!(
            parse_rfc3339("2018-04-26T14:48:09.1234Z"),
            Ok(1_524_754_089_123_400)
        );
        assert!(parse_rfc3339("2024-02-29T23:59:60Z").is_ok(), "leap second");
        assert!(parse_rfc3339("2000-02-29T00:00:00-11:30").is_ok());
        assert!(parse_rfc3339("2018-04-26T14:48:09.123456789Z").is_ok());
    }

    #[test]
    fn rejects_invalid_timestamps() {
        for bad in [
            "",
            "2018-04-26",
            "2018-04-26 14:48:09Z",
            "2018-04-26T14:48:09",
            "2018-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2018-04-31T00:00:00Z",
            "2018-04-26T24:00:00Z",
            "2018-04-26T14:60:00Z",
            "2018-04-26T14:48:09.Z",
            "2018-04-26T14:48:09+0200",
            "2018-04-26T14:48:09+24:00",
            "2018-04-26T14:48:09z",
            "2018-04-26T14:48:09Zjunk",
            "yesterday at noon!!",
            "２０１８-04-26T14:48:09Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn formats_round_trip() {
        for t in [0, 1_524_754_089_123_400, -1, 4_102_444_800_000_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339_micros(t)), Ok(t));
        }
    }

    #[test]
    fn formats_fixed_width_fields() {
        assert_eq!(format_rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            format_rfc3339_micros(1_524_754_089_000_042),
            "2018-04-26T14:48:09.000042Z"
        );
        // The first and last instants the four-digit fast path writes, and
        // one on each side of it (written by `format!`).
        assert_eq!(
            format_rfc3339_micros(-62_167_219_200_000_000),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_rfc3339_micros(253_402_300_799_999_999),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(
            format_rfc3339_micros(253_402_300_800_000_000),
            "10000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            format_rfc3339_micros(-62_167_219_200_000_001),
            "-001-12-31T23:59:59.999999Z"
        );
    }
}
