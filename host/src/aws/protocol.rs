//! AWS JSON 1.1 framing for the EventBridge API.
//!
//! Every call is `POST /` with `X-Amz-Target: AWSEvents.<Operation>` and a
//! JSON body; answers are JSON with `content-type: application/x-amz-json-1.1`
//! and an `x-amzn-RequestId` header. Errors carry the error name twice: in the
//! body as `__type` (what botocore's `BaseJSONParser._do_error_parse` reads,
//! together with `message`/`Message`) and in the `X-Amzn-Errortype` header
//! (what the Smithy-generated SDKs — Rust, JavaScript v3 — read first).
//!
//! This module knows nothing about buses or rules: it turns a request's
//! headers and body into an [`Operation`] and a typed input, and typed outputs
//! or an [`AwsError`] into a response.

use std::fmt;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{Validate, Violations};

/// The media type of every request and response body.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The `X-Amz-Target` prefix of the EventBridge service (`targetPrefix` in the
/// service model).
pub const TARGET_PREFIX: &str = "AWSEvents";
/// The request header naming the operation.
pub const TARGET_HEADER: &str = "x-amz-target";
/// The response header carrying the request id (botocore reads it
/// case-insensitively into `ResponseMetadata.RequestId`).
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";
/// The response header carrying the error name on failures.
pub const ERROR_TYPE_HEADER: &str = "X-Amzn-Errortype";

macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident: $supported:literal),+ $(,)?) => {
        /// An operation of the EventBridge API (`operations` in
        /// `botocore/data/events/2015-10-07/service-2.json`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($(#[$doc])* #[doc = concat!("`AWSEvents.", stringify!($name), "`")] $name,)+
        }

        impl Operation {
            /// Every operation in the service model, in model order.
            pub const ALL: &'static [Operation] = &[$(Operation::$name),+];

            /// The operation's name as it appears after `AWSEvents.`.
            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),+ }
            }

            /// Whether Signalbox implements the operation. The others
            /// (partner event sources, endpoints, permissions, tags, …) are
            /// known names, answered with `UnknownOperationException` like
            /// names that do not exist.
            pub fn is_supported(self) -> bool {
                match self { $(Operation::$name => $supported),+ }
            }

            /// Looks an operation up by its exact (case-sensitive) name.
            pub fn from_name(name: &str) -> Option<Operation> {
                match name { $(stringify!($name) => Some(Operation::$name),)+ _ => None }
            }
        }
    };
}

operations! {
    ActivateEventSource: false,
    CancelReplay: true,
    CreateApiDestination: true,
    CreateArchive: true,
    CreateConnection: true,
    CreateEndpoint: false,
    CreateEventBus: true,
    CreatePartnerEventSource: false,
    DeactivateEventSource: false,
    DeauthorizeConnection: false,
    DeleteApiDestination: true,
    DeleteArchive: true,
    DeleteConnection: true,
    DeleteEndpoint: false,
    DeleteEventBus: true,
    DeletePartnerEventSource: false,
    DeleteRule: true,
    DescribeApiDestination: true,
    DescribeArchive: true,
    DescribeConnection: true,
    DescribeEndpoint: false,
    DescribeEventBus: true,
    DescribeEventSource: false,
    DescribePartnerEventSource: false,
    DescribeReplay: true,
    DescribeRule: true,
    DisableRule: true,
    EnableRule: true,
    ListApiDestinations: true,
    ListArchives: true,
    ListConnections: true,
    ListEndpoints: false,
    ListEventBuses: true,
    ListEventSources: false,
    ListPartnerEventSourceAccounts: false,
    ListPartnerEventSources: false,
    ListReplays: true,
    ListRuleNamesByTarget: true,
    ListRules: true,
    ListTagsForResource: false,
    ListTargetsByRule: true,
    PutEvents: true,
    PutPartnerEvents: false,
    PutPermission: false,
    PutRule: true,
    PutTargets: true,
    RemovePermission: false,
    RemoveTargets: true,
    StartReplay: true,
    TagResource: false,
    TestEventPattern: true,
    UntagResource: false,
    UpdateApiDestination: true,
    UpdateArchive: false,
    UpdateConnection: true,
    UpdateEndpoint: false,
    UpdateEventBus: false,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who is at fault for an error, as the service model's `fault` flag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller sent something wrong (4xx).
    Client,
    /// The service failed (5xx); SDKs retry these.
    Server,
}

/// One row of the error table: the wire name, HTTP status and where the
/// mapping comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorSpec {
    /// The error.
    pub code: ErrorCode,
    /// The name sent as `__type` and `X-Amzn-Errortype`.
    pub name: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Client or server fault.
    pub fault: Fault,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident => $status:literal, $fault:ident;)+) => {
        /// The errors an EventBridge endpoint answers with: the service
        /// model's exception shapes plus the protocol- and auth-level errors
        /// every AWS JSON service shares.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)+
        }

        /// The error table, indexed by [`ErrorCode`] discriminant.
        pub const ERRORS: &[ErrorSpec] = &[
            $(ErrorSpec { code: ErrorCode::$name, name: stringify!($name), status: $status, fault: Fault::$fault },)+
        ];
    };
}

// Statuses: the EventBridge exception shapes in service-2.json carry no
// `httpStatusCode`, and AWS JSON 1.1 services answer every client fault with
// 400 and server faults (`"fault": true`, only InternalException here) with
// 500. The generic errors follow AWS's "Common Errors" pages for JSON
// services (AccessDeniedException, IncompleteSignature, ThrottlingException,
// ValidationException: 400; InvalidClientTokenId: 403; ServiceUnavailable:
// 503). MissingAuthenticationTokenException is 403 there as well.
error_codes! {
    /// A bus, rule, target, connection, API destination, archive or replay
    /// does not exist.
    ResourceNotFoundException => 400, Client;
    /// The resource being created already exists.
    ResourceAlreadyExistsException => 400, Client;
    /// The event pattern is not valid.
    InvalidEventPatternException => 400, Client;
    /// The input fails the model's constraints.
    ValidationException => 400, Client;
    /// A quota was exceeded (rules per bus, targets per rule, …).
    LimitExceededException => 400, Client;
    /// A concurrent change to the same resource.
    ConcurrentModificationException => 400, Client;
    /// The service failed; SDKs retry.
    InternalException => 500, Server;
    /// The rule is managed by another service and cannot be changed.
    ManagedRuleException => 400, Client;
    /// The state of the resource does not allow the change (e.g. cancelling
    /// a finished replay).
    IllegalStatusException => 400, Client;
    /// The resource is in a state that does not allow the operation.
    InvalidStateException => 400, Client;
    /// The operation is disabled.
    OperationDisabledException => 400, Client;
    /// The bus policy is too long.
    PolicyLengthExceededException => 400, Client;
    /// The caller is not allowed to do this.
    AccessDeniedException => 400, Client;
    /// Too many requests; SDKs retry with backoff.
    ThrottlingException => 400, Client;
    /// The body is not JSON, or a member has the wrong JSON type.
    SerializationException => 400, Client;
    /// `X-Amz-Target` is missing or names no operation of this service.
    UnknownOperationException => 400, Client;
    /// The access key id is not known.
    UnrecognizedClientException => 400, Client;
    /// The signature does not match, or the request time is too far from now.
    InvalidSignatureException => 400, Client;
    /// There is no `Authorization` header.
    MissingAuthenticationTokenException => 403, Client;
    /// The `Authorization` header is malformed or lacks a part.
    IncompleteSignature => 400, Client;
}

impl ErrorCode {
    /// This error's row of [`ERRORS`].
    pub fn spec(self) -> &'static ErrorSpec {
        // The macro builds ERRORS in declaration order, so the discriminant
        // is the index (checked by a test).
        &ERRORS[self as usize]
    }

    /// The wire name (`__type`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().status).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// Looks an error up by its wire name.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ERRORS.iter().find(|s| s.name == name).map(|s| s.code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error answer: an [`ErrorCode`] and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// Which error.
    pub code: ErrorCode,
    /// The message clients show (`Error.Message` in botocore).
    pub message: String,
}

impl AwsError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AwsError {
            code,
            message: message.into(),
        }
    }

    /// `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationException, message)
    }

    /// `ResourceNotFoundException` for an event bus, worded as AWS does
    /// (`Event bus NAME does not exist.`).
    pub fn bus_not_found(bus: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFoundException,
            format!("Event bus {bus} does not exist."),
        )
    }

    /// `ResourceNotFoundException` for a rule (`Rule NAME does not exist on
    /// EventBus BUS.`).
    pub fn rule_not_found(rule: &str, bus: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFoundException,
            format!("Rule {rule} does not exist on EventBus {bus}."),
        )
    }

    /// `UnknownOperationException`.
    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnknownOperationException, message)
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

/// Reads the operation from the request headers: `X-Amz-Target` must be
/// `AWSEvents.<Operation>` with an operation of the service model, otherwise
/// the answer is `UnknownOperationException`.
pub fn parse_target(headers: &HeaderMap) -> Result<Operation, AwsError> {
    let Some(value) = headers.get(TARGET_HEADER) else {
        return Err(AwsError::unknown_operation(
            "Missing X-Amz-Target header; expected AWSEvents.<Operation>.",
        ));
    };
    let Ok(value) = value.to_str() else {
        return Err(AwsError::unknown_operation(
            "X-Amz-Target is not valid ASCII.",
        ));
    };
    operation_from_target(value)
}

/// Parses an `X-Amz-Target` value (`AWSEvents.PutEvents`).
pub fn operation_from_target(target: &str) -> Result<Operation, AwsError> {
    let unknown = || {
        AwsError::unknown_operation(format!(
            "Unknown operation '{}'; expected AWSEvents.<Operation>.",
            truncate(target, 128)
        ))
    };
    let (prefix, name) = target.split_once('.').ok_or_else(unknown)?;
    if prefix != TARGET_PREFIX {
        return Err(unknown());
    }
    Operation::from_name(name).ok_or_else(unknown)
}

/// Checks the request's `content-type`. AWS SDKs send
/// `application/x-amz-json-1.1`; `application/x-amz-json-1.0` and
/// `application/json` are accepted too (hand-written clients use them and the
/// body is the same JSON), as is a missing header (curl without `-H`). Any
/// other media type is a `SerializationException`, since the body cannot be
/// read as the protocol's JSON.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), AwsError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" => Ok(()),
        _ => Err(AwsError::new(
            ErrorCode::SerializationException,
            format!(
                "Unsupported content type '{}'; send {CONTENT_TYPE}.",
                truncate(&essence, 128)
            ),
        )),
    }
}

/// Parses and validates an operation's input.
///
/// An empty body counts as `{}`. Malformed JSON and members of the wrong JSON
/// type are `SerializationException`s; a missing required member, an enum
/// value outside the model's set and every constraint [`Validate`] checks are
/// a `ValidationException` worded as AWS words them
/// (`1 validation error detected: Value null at 'name' failed to satisfy
/// constraint: Member must not be null`).
pub fn parse_input<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, AwsError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(map_serde_error)?;
    de.end().map_err(|e| {
        AwsError::new(
            ErrorCode::SerializationException,
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    let mut violations = Violations::default();
    value.validate(&mut violations);
    violations.into_result()?;
    Ok(value)
}

/// Marker our enum deserializers put in front of their error so
/// [`map_serde_error`] can turn it into the AWS enum constraint message.
pub(crate) const ENUM_MARKER: &str = "\u{1}aws-enum\u{1}";

fn map_serde_error(e: serde_path_to_error::Error<serde_json::Error>) -> AwsError {
    let path = aws_path(e.path());
    let inner = e.inner();
    if !inner.is_data() {
        return AwsError::new(
            ErrorCode::SerializationException,
            format!("Request body is not valid JSON: {inner}"),
        );
    }
    // serde_json appends " at line L column C" to data errors; strip it so the
    // message is ours alone.
    let full = inner.to_string();
    let suffix = format!(" at line {} column {}", inner.line(), inner.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);

    let mut v = Violations::default();
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        v.push_null(&join_path(&path, &lower_camel(field)));
        return v
            .into_result()
            .err()
            .unwrap_or_else(|| AwsError::validation(msg));
    }
    if msg.starts_with("invalid type: null") {
        // Optional members accept null, so a null that fails is a required
        // member sent as null.
        v.push_null(&path);
        return v
            .into_result()
            .err()
            .unwrap_or_else(|| AwsError::validation(msg));
    }
    if let Some(rest) = msg.strip_prefix(ENUM_MARKER) {
        let (value, allowed) = rest.split_once('\u{1}').unwrap_or((rest, ""));
        v.push(
            &path,
            Some(value),
            &format!("Member must satisfy enum value set: [{allowed}]"),
        );
        return v
            .into_result()
            .err()
            .unwrap_or_else(|| AwsError::validation(msg));
    }
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at '{path}'")
    };
    AwsError::new(
        ErrorCode::SerializationException,
        format!("Unexpected value{at}: {msg}"),
    )
}

/// The member path as AWS validation messages spell it: members in
/// lowerCamelCase, list items as `N.member` counting from 1
/// (`targets.1.member.id`).
fn aws_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        let part = match segment {
            Segment::Seq { index } => format!("{}.member", index + 1),
            Segment::Map { key } => lower_camel(key),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_owned(),
        };
        out = join_path(&out, &part);
    }
    out
}

fn join_path(base: &str, part: &str) -> String {
    if base.is_empty() {
        part.to_owned()
    } else {
        format!("{base}.{part}")
    }
}

/// `EventBusName` → `eventBusName`, the way AWS names members in validation
/// messages.
pub(crate) fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A request id in the UUID form AWS uses (`8-4-4-4-12` lower-case hex,
/// version 4).
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to the clock and a counter, which is
        // still unique per process — request ids only need to be distinct.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b[..8].copy_from_slice(&nanos.to_be_bytes());
        b[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn base_response(status: StatusCode, request_id: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    // A request id is ours (hex and dashes), but a caller-supplied one might
    // not be a valid header value; then the header is left out rather than
    // failing the answer.
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// A 200 answer with `output` as the JSON body.
pub fn success_response<T: Serialize>(request_id: &str, output: &T) -> Response<Vec<u8>> {
    match serde_json::to_vec(output) {
        Ok(body) => base_response(StatusCode::OK, request_id, body),
        Err(e) => error_response(
            request_id,
            &AwsError::new(
                ErrorCode::InternalException,
                format!("Could not encode the response: {e}"),
            ),
        ),
    }
}

/// A 200 answer for operations without output (`DeleteRule`, `EnableRule`,
/// …): the body is `{}`, which every SDK reads as an empty output.
pub fn empty_response(request_id: &str) -> Response<Vec<u8>> {
    base_response(StatusCode::OK, request_id, b"{}".to_vec())
}

/// The JSON body of an error: `{"__type": NAME, "message": TEXT}`.
pub fn error_body(error: &AwsError) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "__type")]
        ty: &'a str,
        message: &'a str,
    }
    serde_json::to_vec(&Body {
        ty: error.code.name(),
        message: &error.message,
    })
    .unwrap_or_else(|_| br#"{"__type":"InternalException"}"#.to_vec())
}

/// An error answer with the table's status, `X-Amzn-Errortype` and the
/// `__type`/`message` body.
pub fn error_response(request_id: &str, error: &AwsError) -> Response<Vec<u8>> {
    let mut response = base_response(error.status(), request_id, error_body(error));
    response.headers_mut().insert(
        ERROR_TYPE_HEADER,
        HeaderValue::from_static(error.code.name()),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::super::model::{
        DescribeRuleRequest, PutEventsRequest, PutRuleRequest, PutTargetsRequest, RuleState,
    };
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn error_table_is_indexed_by_discriminant() {
        for (i, spec) in ERRORS.iter().enumerate() {
            assert_eq!(spec.code as usize, i, "{}", spec.name);
            assert_eq!(ErrorCode::from_name(spec.name), Some(spec.code));
            assert_eq!(spec.code.name(), spec.name);
            let server = spec.status >= 500;
            assert_eq!(server, spec.fault == Fault::Server, "{}", spec.name);
        }
        assert_eq!(ErrorCode::InternalException.status(), 500);
        assert_eq!(ErrorCode::ResourceNotFoundException.status(), 400);
        assert_eq!(ErrorCode::MissingAuthenticationTokenException.status(), 403);
    }

    #[test]
    fn every_model_exception_is_in_the_table() {
        // The exception shapes of service-2.json (botocore, events/2015-10-07).
        for name in [
            "AccessDeniedException",
            "ConcurrentModificationException",
            "IllegalStatusException",
            "InternalException",
            "InvalidEventPatternException",
            "InvalidStateException",
            "LimitExceededException",
            "ManagedRuleException",
            "OperationDisabledException",
            "PolicyLengthExceededException",
            "ResourceAlreadyExistsException",
            "ResourceNotFoundException",
            "ThrottlingException",
        ] {
            assert!(ErrorCode::from_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn targets() {
        let h = headers(&[("X-Amz-Target", "AWSEvents.PutEvents")]);
        assert_eq!(parse_target(&h), Ok(Operation::PutEvents));
        assert_eq!(
            operation_from_target("AWSEvents.ListRules"),
            Ok(Operation::ListRules)
        );
        for bad in [
            "",
            "AWSEvents",
            "AWSEvents.",
            "AWSEvents.listrules",
            "AWSEvents.Frobnicate",
            "DynamoDB_20120810.ListTables",
            "awsevents.PutEvents",
        ] {
            let e = operation_from_target(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnknownOperationException, "{bad}");
        }
        let e = parse_target(&HeaderMap::new()).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownOperationException);
        assert_eq!(Operation::ALL.len(), 57);
        assert_eq!(
            Operation::ALL.iter().filter(|o| o.is_supported()).count(),
            34
        );
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
    }

    #[test]
    fn content_types() {
        for ok in [
            "application/x-amz-json-1.1",
            "application/x-amz-json-1.1; charset=utf-8",
            "Application/X-Amz-Json-1.0",
            "application/json",
        ] {
            assert!(
                check_content_type(&headers(&[("content-type", ok)])).is_ok(),
                "{ok}"
            );
        }
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        let e = check_content_type(&headers(&[("content-type", "text/xml")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
    }

    #[test]
    fn error_response_shape_matches_what_botocore_reads() {
        let err = AwsError::rule_not_found("r1", "default");
        let resp = error_response("abc-123", &err);
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], CONTENT_TYPE);
        assert_eq!(resp.headers()["x-amzn-requestid"], "abc-123");
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            "ResourceNotFoundException"
        );
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "__type": "ResourceNotFoundException",
                "message": "Rule r1 does not exist on EventBus default."
            })
        );
        let resp = error_response("x", &AwsError::new(ErrorCode::InternalException, "boom"));
        assert_eq!(resp.status(), 500);
    }

    #[test]
    fn success_responses() {
        let resp = empty_response("id");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), b"{}");
        let out = super::super::model::PutRuleResponse {
            rule_arn: Some("arn:aws:events:us-east-1:000000000000:rule/r".into()),
        };
        let resp = success_response("id", &out);
        assert_eq!(
            std::str::from_utf8(resp.body()).unwrap(),
            r#"{"RuleArn":"arn:aws:events:us-east-1:000000000000:rule/r"}"#
        );
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        let parts: Vec<_> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn parse_input_accepts_and_ignores_unknown_members() {
        let r: DescribeRuleRequest =
            parse_input(br#"{"Name":"r1","EventBusName":"b","SomethingNew":1}"#).unwrap();
        assert_eq!(r.name, "r1");
        assert_eq!(r.event_bus_name.as_deref(), Some("b"));
    }

    #[test]
    fn parse_input_errors_are_worded_like_aws() {
        let e = parse_input::<DescribeRuleRequest>(b"").unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'name' failed to satisfy constraint: \
             Member must not be null"
        );
        let e = parse_input::<DescribeRuleRequest>(br#"{"Name":null}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert!(e.message.contains("Value null at 'name'"), "{}", e.message);

        let e = parse_input::<DescribeRuleRequest>(br#"{"Name":"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
        let e = parse_input::<DescribeRuleRequest>(br#"{"Name":"a"} x"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
        let e = parse_input::<DescribeRuleRequest>(br#"{"Name":5}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
        assert!(e.message.contains("at 'name'"), "{}", e.message);
        let e = parse_input::<DescribeRuleRequest>(b"[]").unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);

        let e = parse_input::<PutRuleRequest>(br#"{"Name":"r","State":"ON"}"#).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert_eq!(
            e.message,
            format!(
                "1 validation error detected: Value 'ON' at 'state' failed to satisfy \
                 constraint: Member must satisfy enum value set: [{}]",
                RuleState::VALUES.join(", ")
            )
        );

        let e = parse_input::<PutTargetsRequest>(br#"{"Rule":"r","Targets":[{"Id":"t"}]}"#)
            .unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'targets.1.member.arn' failed to \
             satisfy constraint: Member must not be null"
        );

        let e = parse_input::<PutRuleRequest>(br#"{"Name":"bad name"}"#).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'bad name' at 'name' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        );

        let entries = [r#"{"Source":"s","DetailType":"d","Detail":"{}"}"#; 11].join(",");
        let body = format!(r#"{{"Entries":[{entries}]}}"#);
        let e = parse_input::<PutEventsRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed \
             to satisfy constraint: Member must have length less than or equal to 10"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut body = String::from(r#"{"Name":"r","X":"#);
        body.push_str(&"[".repeat(100_000));
        let e = parse_input::<DescribeRuleRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, ErrorCode::SerializationException);
    }
}

#[cfg(test)]
mod robustness {
    use super::super::model::*;
    use super::*;

    /// A small deterministic generator, so the test needs no extra crate.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    /// Mutated versions of valid bodies never panic any parser.
    #[test]
    fn mutated_bodies_never_panic() {
        let seeds: [&[u8]; 4] = [
            br#"{"Entries":[{"Source":"s","DetailType":"d","Detail":"{\"a\":1}","Time":1.5,"Resources":["r"]}]}"#,
            br#"{"Rule":"r","Targets":[{"Id":"t","Arn":"a","RetryPolicy":{"MaximumRetryAttempts":3},"InputTransformer":{"InputPathsMap":{"a":"$.b"},"InputTemplate":"<a>"}}]}"#,
            br#"{"Name":"c","AuthorizationType":"API_KEY","AuthParameters":{"ApiKeyAuthParameters":{"ApiKeyName":"k","ApiKeyValue":"v"}}}"#,
            br#"{"ReplayName":"r","EventSourceArn":"a","EventStartTime":"2024-01-01T00:00:00Z","EventEndTime":2,"Destination":{"Arn":"b"}}"#,
        ];
        let mut rng = Lcg(42);
        for seed in seeds {
            for _ in 0..500 {
                let mut body = seed.to_vec();
                for _ in 0..(1 + rng.next() % 4) {
                    let i = (rng.next() as usize) % body.len();
                    match rng.next() % 3 {
                        0 => body[i] = (rng.next() % 256) as u8,
                        1 => {
                            body.remove(i);
                        }
                        _ => body.insert(i, b"{}[]\",:0\\"[(rng.next() % 9) as usize]),
                    }
                    if body.is_empty() {
                        break;
                    }
                }
                let _ = parse_input::<PutEventsRequest>(&body);
                let _ = parse_input::<PutTargetsRequest>(&body);
                let _ = parse_input::<CreateConnectionRequest>(&body);
                let _ = parse_input::<StartReplayRequest>(&body);
                let _ = parse_input::<ListRulesRequest>(&body);
            }
        }
    }
}
