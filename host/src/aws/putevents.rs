//! `PutEvents`: request limits, entry size and per-entry checks.
//!
//! What AWS documents and this module follows:
//!
//! - A request has 1 to 10 entries (`PutEventsRequestEntryList`, min 1 max 10
//!   in the service model); more is a `ValidationException` for the whole
//!   request (checked by [`super::model::Validate`]).
//! - Entry size ("Calculating PutEvents event entry size", EventBridge User
//!   Guide): 14 bytes if `Time` is set, plus the UTF-8 bytes of `Source`,
//!   `DetailType`, `Detail` and each `Resources` string. `EventBusName` and
//!   `TraceHeader` do not count.
//! - The limit applies to the sum over the request's entries, inclusive: a
//!   request of exactly the limit is accepted, one byte more is a
//!   `ValidationException` "Total size of the entries in the request is over
//!   the limit." The limit was 256 KB and became 1 MB in January 2026
//!   ([`Limits`] makes it configurable).
//! - An entry without `Source`, `DetailType` or `Detail` fails alone with
//!   `InvalidArgument`; a `Detail` that is not a JSON object fails with
//!   `MalformedDetail` ("Detail is malformed."); so does one nested deeper
//!   than [`MAX_DETAIL_DEPTH`]. The other entries are still stored, and the
//!   answer lists one result per entry in request order.

use std::fmt;

use super::model::{
    PutEventsRequest, PutEventsRequestEntry, PutEventsResponse, PutEventsResultEntry,
};
use super::protocol::AwsError;

/// `Time` counts as this many bytes when set.
pub const TIME_BYTES: usize = 14;
/// Most entries in one request.
pub const MAX_ENTRIES: usize = 10;
/// The classic request size limit (256 KB).
pub const LIMIT_256_KB: usize = 256 * 1024;
/// The limit since January 2026 (1 MB).
pub const LIMIT_1_MB: usize = 1024 * 1024;
/// Deepest nesting of `Detail` accepted. AWS processes up to 1100 levels
/// (API reference: "PutEvents will only process nested JSON up to 1100
/// levels deep"); Signalbox's matcher reads documents up to
/// [`crate::pattern::MAX_DOCUMENT_DEPTH`] levels, and `detail` sits one
/// level down in the envelope, so a deeper `Detail` could never be matched
/// and is refused as malformed instead.
pub const MAX_DETAIL_DEPTH: usize = crate::pattern::MAX_DOCUMENT_DEPTH - 1;

/// Configurable limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest total entry size of one request, in bytes (inclusive).
    pub max_request_bytes: usize,
}

impl Default for Limits {
    /// 256 KB, the limit AWS documented until 2026 and the one most clients
    /// are written against.
    fn default() -> Self {
        Limits {
            max_request_bytes: LIMIT_256_KB,
        }
    }
}

/// The size of one entry by AWS's formula.
pub fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let mut size = if entry.time.is_some() { TIME_BYTES } else { 0 };
    size = size
        .saturating_add(len(&entry.source))
        .saturating_add(len(&entry.detail_type))
        .saturating_add(len(&entry.detail));
    for r in entry.resources.iter().flatten() {
        size = size.saturating_add(r.len());
    }
    size
}

/// The total size of a request's entries.
pub fn request_size(entries: &[PutEventsRequestEntry]) -> usize {
    entries
        .iter()
        .fold(0usize, |acc, e| acc.saturating_add(entry_size(e)))
}

/// Checks the whole-request limits: the entry count and the total size.
/// Failing either rejects the request with `ValidationException`.
pub fn check_request(req: &PutEventsRequest, limits: &Limits) -> Result<(), AwsError> {
    if req.entries.is_empty() || req.entries.len() > MAX_ENTRIES {
        let bound = if req.entries.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 10"
        };
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed \
             to satisfy constraint: Member must have length {bound}"
        )));
    }
    if request_size(&req.entries) > limits.max_request_bytes {
        return Err(AwsError::validation(
            "Total size of the entries in the request is over the limit.",
        ));
    }
    Ok(())
}

/// The per-entry error codes AWS documents for `PutEventsResultEntry`
/// (API reference, `ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryErrorCode {
    /// The service failed (retryable).
    InternalFailure,
    /// Throttled (retryable).
    ThrottlingException,
    /// Not allowed.
    AccessDeniedException,
    /// The account id is not valid.
    InvalidAccountIdException,
    /// A parameter is not valid (a required one missing, the bus unknown, …).
    InvalidArgument,
    /// `Detail` is not a JSON object.
    MalformedDetail,
    /// Redacting a CloudTrail event failed.
    RedactionFailure,
    /// Not allowed to publish this source onto this bus.
    NotAuthorizedForSourceException,
    /// Not allowed to publish this detail type onto this bus.
    NotAuthorizedForDetailTypeException,
}

impl EntryErrorCode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryErrorCode::InternalFailure => "InternalFailure",
            EntryErrorCode::ThrottlingException => "ThrottlingException",
            EntryErrorCode::AccessDeniedException => "AccessDeniedException",
            EntryErrorCode::InvalidAccountIdException => "InvalidAccountIdException",
            EntryErrorCode::InvalidArgument => "InvalidArgument",
            EntryErrorCode::MalformedDetail => "MalformedDetail",
            EntryErrorCode::RedactionFailure => "RedactionFailure",
            EntryErrorCode::NotAuthorizedForSourceException => "NotAuthorizedForSourceException",
            EntryErrorCode::NotAuthorizedForDetailTypeException => {
                "NotAuthorizedForDetailTypeException"
            }
        }
    }

    /// Whether AWS documents the error as retryable.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            EntryErrorCode::InternalFailure | EntryErrorCode::ThrottlingException
        )
    }
}

impl fmt::Display for EntryErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one entry failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EntryError {
    /// The per-entry error code.
    pub code: EntryErrorCode,
    /// The message for the caller.
    pub message: String,
}

impl EntryError {
    /// An entry error.
    pub fn new(code: EntryErrorCode, message: impl Into<String>) -> EntryError {
        EntryError {
            code,
            message: message.into(),
        }
    }

    /// `InvalidArgument` for a missing required member, worded as AWS does:
    /// `Parameter Source is not valid. Reason: Source is a required
    /// argument.`
    pub fn required(member: &str) -> EntryError {
        EntryError::new(
            EntryErrorCode::InvalidArgument,
            format!("Parameter {member} is not valid. Reason: {member} is a required argument."),
        )
    }

    /// `MalformedDetail`.
    pub fn malformed_detail() -> EntryError {
        EntryError::new(EntryErrorCode::MalformedDetail, "Detail is malformed.")
    }

    /// `InvalidArgument` for an event bus that does not exist (wording of
    /// AWS's answer for an unknown `EventBusName`).
    pub fn bus_not_found(bus: &str) -> EntryError {
        EntryError::new(
            EntryErrorCode::InvalidArgument,
            format!("Event bus {bus} does not exist."),
        )
    }
}

/// An entry that passed [`check_entry`], with its required members
/// unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedEntry<'a> {
    /// The entry as sent.
    pub entry: &'a PutEventsRequestEntry,
    /// `Source`.
    pub source: &'a str,
    /// `DetailType`.
    pub detail_type: &'a str,
    /// `Detail`, a JSON object's text.
    pub detail: &'a str,
    /// The bus name or ARN, `default` when not given.
    pub event_bus_name: &'a str,
}

/// Checks one entry as AWS does, in AWS's order: `Source`, `DetailType` and
/// `Detail` must be present and non-empty, and `Detail` must be a JSON
/// object (within [`MAX_DETAIL_DEPTH`] levels, integers within i64).
pub fn check_entry(entry: &PutEventsRequestEntry) -> Result<CheckedEntry<'_>, EntryError> {
    fn present(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
    let source = present(&entry.source).ok_or_else(|| EntryError::required("Source"))?;
    let detail_type =
        present(&entry.detail_type).ok_or_else(|| EntryError::required("DetailType"))?;
    let detail = present(&entry.detail).ok_or_else(|| EntryError::required("Detail"))?;
    if !is_json_object(detail, MAX_DETAIL_DEPTH) {
        return Err(EntryError::malformed_detail());
    }
    Ok(CheckedEntry {
        entry,
        source,
        detail_type,
        detail,
        event_bus_name: entry
            .event_bus_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("default"),
    })
}

/// Whether `text` is one JSON object, nested at most `max_depth` levels,
/// whose integers fit in an i64 (AWS documents that range for JSON
/// integers in events).
///
/// serde_json checks the syntax without a depth limit when it skips a value
/// (`IgnoredAny` is read iteratively); a separate pass over the bytes
/// measures the depth and the integers, so nothing here recurses.
pub fn is_json_object(text: &str, max_depth: usize) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return false;
    }
    // The text is valid JSON, so brackets outside strings balance and
    // numbers are well formed; only depth and integer range are left.
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < b.len()
                    && matches!(b[i + 1], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let number = &text[start..=i];
                let is_integer = !number.contains(['.', 'e', 'E']);
                if is_integer && number.parse::<i64>().is_err() {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// Builds the response from one result per entry, in request order:
/// `Ok(event_id)` or the entry's error.
pub fn response(
    results: impl IntoIterator<Item = Result<String, EntryError>>,
) -> PutEventsResponse {
    let mut out = PutEventsResponse::default();
    for r in results {
        out.entries.push(match r {
            Ok(id) => PutEventsResultEntry {
                event_id: Some(id),
                ..Default::default()
            },
            Err(e) => {
                out.failed_entry_count += 1;
                PutEventsResultEntry {
                    error_code: Some(e.code.as_str().to_owned()),
                    error_message: Some(e.message),
                    ..Default::default()
                }
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::Timestamp;
    use super::super::protocol::{ErrorCode, parse_input};
    use super::*;

    fn entry(source: &str, detail_type: &str, detail: &str) -> PutEventsRequestEntry {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        PutEventsRequestEntry {
            source: opt(source),
            detail_type: opt(detail_type),
            detail: opt(detail),
            ..Default::default()
        }
    }

    #[test]
    fn size_formula_follows_the_aws_example() {
        // Time 14 + Source + DetailType + Detail + each resource, UTF-8 bytes;
        // EventBusName and TraceHeader do not count.
        let mut e = entry("com.mycompany.myapp", "myDetailType", r#"{"a":"ü"}"#);
        assert_eq!(entry_size(&e), 19 + 12 + 10);
        e.time = Timestamp::from_secs(0);
        assert_eq!(entry_size(&e), 14 + 19 + 12 + 10);
        e.resources = Some(vec!["resource1".into(), "résource2".into()]);
        assert_eq!(entry_size(&e), 14 + 19 + 12 + 10 + 9 + 10);
        e.event_bus_name = Some("a-very-long-bus-name".into());
        e.trace_header = Some("Root=1-5759e988-bd862e3fe1be46a994272793".into());
        assert_eq!(entry_size(&e), 14 + 19 + 12 + 10 + 9 + 10);
        assert_eq!(entry_size(&PutEventsRequestEntry::default()), 0);
    }

    #[test]
    fn request_limit_is_inclusive_and_configurable() {
        let fill = |total: usize| {
            // Source "s" (1) + DetailType "t" (1) + Detail {"p":"xxx"} (8 + n).
            let n = total - 2 - 8;
            entry("s", "t", &format!(r#"{{"p":"{}"}}"#, "x".repeat(n)))
        };
        let req = |e: PutEventsRequestEntry| PutEventsRequest {
            entries: vec![e],
            endpoint_id: None,
        };
        let small = Limits::default();
        assert!(check_request(&req(fill(LIMIT_256_KB)), &small).is_ok());
        let e = check_request(&req(fill(LIMIT_256_KB + 1)), &small).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert_eq!(
            e.message,
            "Total size of the entries in the request is over the limit."
        );
        let large = Limits {
            max_request_bytes: LIMIT_1_MB,
        };
        assert!(check_request(&req(fill(LIMIT_256_KB + 1)), &large).is_ok());
        assert!(check_request(&req(fill(LIMIT_1_MB)), &large).is_ok());
        assert!(check_request(&req(fill(LIMIT_1_MB + 1)), &large).is_err());

        // The sum over entries counts, not each entry alone.
        let three = PutEventsRequest {
            entries: vec![fill(100 * 1024), fill(100 * 1024), fill(100 * 1024)],
            endpoint_id: None,
        };
        assert!(check_request(&three, &small).is_err());
        assert!(check_request(&three, &large).is_ok());

        let none = PutEventsRequest {
            entries: vec![],
            endpoint_id: None,
        };
        assert!(check_request(&none, &small).is_err());
        let eleven = PutEventsRequest {
            entries: vec![entry("s", "t", "{}"); 11],
            endpoint_id: None,
        };
        let e = check_request(&eleven, &small).unwrap_err();
        assert!(
            e.message.contains("less than or equal to 10"),
            "{}",
            e.message
        );
    }

    #[test]
    fn per_entry_checks_in_aws_order() {
        let err = |e: PutEventsRequestEntry| check_entry(&e).map(|_| ()).unwrap_err();
        assert_eq!(
            err(entry("", "", "")),
            EntryError::new(
                EntryErrorCode::InvalidArgument,
                "Parameter Source is not valid. Reason: Source is a required argument."
            )
        );
        assert_eq!(
            err(entry("s", "", "")).message,
            "Parameter DetailType is not valid. Reason: DetailType is a required argument."
        );
        assert_eq!(
            err(entry("s", "t", "")).message,
            "Parameter Detail is not valid. Reason: Detail is a required argument."
        );
        for bad in [
            "detail",
            "[1,2]",
            "\"s\"",
            "42",
            "null",
            "{",
            "{} {}",
            r#"{"a":1,}"#,
        ] {
            assert_eq!(
                err(entry("s", "t", bad)),
                EntryError::malformed_detail(),
                "{bad}"
            );
        }
        let ok = entry("s", "t", r#" {"a": [1, {"b": null}], "c": "x\"}"} "#);
        let checked = check_entry(&ok).unwrap();
        assert_eq!(checked.source, "s");
        assert_eq!(checked.event_bus_name, "default");
    }

    #[test]
    fn detail_depth_and_integer_range() {
        let nested =
            |n: usize| format!("{}{}", "{\"a\":".repeat(n), "1".to_owned() + &"}".repeat(n));
        assert!(is_json_object(&nested(MAX_DETAIL_DEPTH), MAX_DETAIL_DEPTH));
        assert!(!is_json_object(
            &nested(MAX_DETAIL_DEPTH + 1),
            MAX_DETAIL_DEPTH
        ));
        // Far deeper than serde_json's recursion limit, without a crash.
        assert!(!is_json_object(&nested(200_000), MAX_DETAIL_DEPTH));
        assert!(is_json_object(&nested(200_000), usize::MAX));

        assert!(is_json_object(r#"{"n":9223372036854775807}"#, 10));
        assert!(is_json_object(r#"{"n":-9223372036854775808}"#, 10));
        assert!(!is_json_object(r#"{"n":9223372036854775808}"#, 10));
        assert!(is_json_object(r#"{"n":9223372036854775808.0}"#, 10));
        // Digits and brackets inside strings do not count.
        assert!(is_json_object(
            r#"{"s":"99999999999999999999 [[[[ \" {"}"#,
            1
        ));
    }

    #[test]
    fn response_keeps_request_order_and_counts_failures() {
        let r = response(vec![
            Ok("id-1".to_owned()),
            Err(EntryError::malformed_detail()),
            Ok("id-3".to_owned()),
            Err(EntryError::required("Source")),
        ]);
        assert_eq!(r.failed_entry_count, 2);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "FailedEntryCount": 2,
                "Entries": [
                    {"EventId": "id-1"},
                    {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
                    {"EventId": "id-3"},
                    {"ErrorCode": "InvalidArgument",
                     "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
                ]
            })
        );
    }

    #[test]
    fn a_boto3_request_end_to_end() {
        // The body botocore sends (tests/fixtures/aws/botocore_signed.json).
        let body = br#"{"Entries": [{"Source": "com.example.orders", "DetailType": "Order Placed", "Detail": "{\"orderId\": \"o-1\", \"amount\": 42}", "Resources": ["arn:aws:s3:::bucket"], "Time": 1772366400, "EventBusName": "orders"}, {"Source": "x"}]}"#;
        let req: PutEventsRequest = parse_input(body).unwrap();
        check_request(&req, &Limits::default()).unwrap();
        let results: Vec<_> = req
            .entries
            .iter()
            .map(|e| check_entry(e).map(|c| c.event_bus_name.to_owned()))
            .collect();
        assert_eq!(results[0].as_deref(), Ok("orders"));
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            EntryErrorCode::InvalidArgument
        );
        assert_eq!(req.entries[0].time, Timestamp::from_secs(1_772_366_400));
    }
}
