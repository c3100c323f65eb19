//! AWS Signature Version 4: verifying the signature on incoming requests.
//!
//! AWS SDKs sign every EventBridge call with an `Authorization` header:
//!
//! ```text
//! AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/events/aws4_request,
//!     SignedHeaders=content-type;host;x-amz-date;x-amz-target,
//!     Signature=<64 hex digits>
//! ```
//!
//! [`verify`] rebuilds the canonical request from the method, path, query,
//! the signed headers and the payload hash, derives the signing key from the
//! secret the caller looks up for the access key id, and compares the
//! signatures in constant time (`hmac::Mac::verify_slice`). It also checks the
//! credential scope (service, date) and that `X-Amz-Date` is within 15
//! minutes of now, as AWS does.
//!
//! For the mode where signatures are not checked (emulators use the access
//! key id to pick the account), [`access_key_id`] reads the key id without
//! verifying anything and [`account_id_for`] maps it to an account.
//!
//! The canonical URI is the path with `.`/`..` segments and repeated slashes
//! removed, each byte outside `A-Za-z0-9-._~/` percent-encoded once — what
//! AWS's published test suite expects. (Services other than S3 double-encode
//! paths when signing; that only differs for paths with escapes, and the JSON
//! protocol always uses `/`.) Query-string ("presigned URL") signing is not
//! supported: SDKs use it only for S3 and a few other services.

use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};

use super::model::Timestamp;
use super::protocol::{AwsError, ErrorCode};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm SigV4 defines for requests.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `X-Amz-Date` may be from the server's clock (AWS: 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The signing name of EventBridge (`endpointPrefix`/`signingName`).
pub const SERVICE: &str = "events";
/// The account used when the access key id is not a 12-digit account id.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// Why a request's signature was not accepted. Each maps to the error AWS
/// answers with ([`SigV4Error::to_aws_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header is not `AWS4-HMAC-SHA256 …`.
    #[error("Unsupported AWS 'algorithm': '{0}'; only AWS4-HMAC-SHA256 is supported.")]
    UnsupportedAlgorithm(String),
    /// A part of the header is missing or malformed.
    #[error("{0}")]
    Incomplete(String),
    /// `X-Amz-Date` is missing or not `YYYYMMDDTHHMMSSZ`.
    #[error("{0}")]
    BadDate(String),
    /// The request time is more than 15 minutes from the server's.
    #[error("{0}")]
    Expired(String),
    /// The credential scope names another service, or a date other than
    /// `X-Amz-Date`'s.
    #[error("{0}")]
    BadScope(String),
    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// `x-amz-content-sha256` does not match the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    PayloadHashMismatch,
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service \
         documentation for details."
    )]
    SignatureMismatch,
}

impl SigV4Error {
    /// The AWS error answered for this failure.
    pub fn to_aws_error(&self) -> AwsError {
        let code = match self {
            SigV4Error::Missing => ErrorCode::MissingAuthenticationTokenException,
            SigV4Error::UnsupportedAlgorithm(_)
            | SigV4Error::Incomplete(_)
            | SigV4Error::BadDate(_) => ErrorCode::IncompleteSignature,
            SigV4Error::UnknownAccessKey => ErrorCode::UnrecognizedClientException,
            SigV4Error::Expired(_)
            | SigV4Error::BadScope(_)
            | SigV4Error::PayloadHashMismatch
            | SigV4Error::SignatureMismatch => ErrorCode::InvalidSignatureException,
        };
        AwsError::new(code, self.to_string())
    }
}

impl From<SigV4Error> for AwsError {
    fn from(e: SigV4Error) -> AwsError {
        e.to_aws_error()
    }
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id (`AKIA…`, or an account id in emulators).
    pub access_key_id: String,
    /// The scope date, `YYYYMMDD`.
    pub date: String,
    /// The scope region.
    pub region: String,
    /// The scope service (`events`).
    pub service: String,
    /// The signed header names, lower-case, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature, as sent (hex).
    pub signature: String,
}

impl Authorization {
    /// Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    pub fn parse(value: &str) -> Result<Authorization, SigV4Error> {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
        if algorithm != ALGORITHM {
            return Err(SigV4Error::UnsupportedAlgorithm(truncate(algorithm, 64)));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let need = |name: &str| {
            SigV4Error::Incomplete(format!("Authorization header requires '{name}' parameter."))
        };
        let credential = credential.ok_or_else(|| need("Credential"))?;
        let signed = signed.ok_or_else(|| need("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| need("Signature"))?;

        // AKID/date/region/service/aws4_request; split from the right so the
        // key id is everything before the four scope parts.
        let mut parts = credential.rsplitn(5, '/');
        let (terminator, service, region, date, akid) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if akid.is_empty() || region.is_empty() || service.is_empty() {
            return Err(SigV4Error::Incomplete(format!(
                "Credential should be of the form AKID/YYYYMMDD/region/service/aws4_request, \
                 got '{}'.",
                truncate(credential, 256)
            )));
        }
        if terminator != "aws4_request" {
            return Err(SigV4Error::BadScope(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not \
                 '{}'.",
                truncate(terminator, 64)
            )));
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SigV4Error::BadScope(format!(
                "Credential date '{}' is not YYYYMMDD.",
                truncate(date, 64)
            )));
        }
        let signed_headers: Vec<String> = signed
            .split(';')
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if signed_headers.is_empty() {
            return Err(need("SignedHeaders"));
        }
        Ok(Authorization {
            access_key_id: akid.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers,
            signature: signature.to_owned(),
        })
    }

    /// `DATE/REGION/SERVICE/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// The parts of a request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method (`POST`).
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The query string as received, without `?` (empty if none).
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The body bytes.
    pub body: &'a [u8],
}

impl<'a> RequestParts<'a> {
    /// From an `http` request's method, URI, headers and body.
    pub fn new(
        method: &'a Method,
        uri: &'a Uri,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> RequestParts<'a> {
        RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers,
            body,
        }
    }
}

/// Who signed a request that [`verify`] accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id.
    pub access_key_id: String,
    /// The region in the credential scope.
    pub region: String,
    /// `X-Amz-Date` as epoch seconds.
    pub request_time: i64,
}

/// Verifies a request's SigV4 signature.
///
/// `service` is the expected scope service ([`SERVICE`]); `now_secs` the
/// server's clock in epoch seconds; `secret_for` returns the secret access
/// key of an access key id, or `None` when the key is unknown.
pub fn verify(
    req: &RequestParts<'_>,
    service: &str,
    now_secs: i64,
    secret_for: impl FnOnce(&str) -> Option<String>,
) -> Result<Verified, SigV4Error> {
    let auth = req
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(SigV4Error::Missing)?;
    let auth = Authorization::parse(&String::from_utf8_lossy(auth.as_bytes()))?;

    let amz_date = header_str(req.headers, "x-amz-date").ok_or_else(|| {
        SigV4Error::BadDate(
            "Authorization header requires existence of an 'X-Amz-Date' header.".to_owned(),
        )
    })?;
    let request_time = parse_amz_date(&amz_date).ok_or_else(|| {
        SigV4Error::BadDate(format!(
            "X-Amz-Date '{}' is not of the form YYYYMMDDTHHMMSSZ.",
            truncate(&amz_date, 64)
        ))
    })?;
    if !amz_date.starts_with(&auth.date) {
        return Err(SigV4Error::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        )));
    }
    if auth.service != service {
        return Err(SigV4Error::BadScope(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::Incomplete(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    check_skew(&amz_date, request_time, now_secs)?;

    let body_hash = hex::encode(Sha256::digest(req.body));
    let payload_hash = match header_str(req.headers, "x-amz-content-sha256") {
        // The client signed with this value; it must also describe the body
        // we got, or the body could be swapped under a valid signature.
        Some(h) if h.eq_ignore_ascii_case(&body_hash) => h,
        Some(_) => return Err(SigV4Error::PayloadHashMismatch),
        None => body_hash,
    };

    let secret = secret_for(&auth.access_key_id).ok_or(SigV4Error::UnknownAccessKey)?;
    let creq = canonical_request(req, &auth.signed_headers, &payload_hash);
    let sts = string_to_sign(&amz_date, &auth.scope(), &creq);
    let key = signing_key(&secret, &auth.date, &auth.region, &auth.service);

    let provided = hex::decode(&auth.signature).map_err(|_| SigV4Error::SignatureMismatch)?;
    let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| SigV4Error::SignatureMismatch)?;
    mac.update(sts.as_bytes());
    // Constant-time comparison: the time taken does not reveal how many
    // leading bytes matched.
    mac.verify_slice(&provided)
        .map_err(|_| SigV4Error::SignatureMismatch)?;

    Ok(Verified {
        access_key_id: auth.access_key_id,
        region: auth.region,
        request_time,
    })
}

fn check_skew(amz_date: &str, request_time: i64, now_secs: i64) -> Result<(), SigV4Error> {
    let fmt = |secs: i64| {
        Timestamp::from_secs(secs).map_or_else(|| secs.to_string(), |t| amz_date_string(t.secs()))
    };
    if request_time < now_secs - MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            fmt(now_secs - MAX_SKEW_SECS),
            fmt(now_secs)
        )));
    }
    if request_time > now_secs + MAX_SKEW_SECS {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            fmt(now_secs + MAX_SKEW_SECS),
            fmt(now_secs)
        )));
    }
    Ok(())
}

/// The canonical request of SigV4 task 1.
pub fn canonical_request(
    req: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(256 + req.path.len() + req.query.len());
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for value in req.headers.get_all(name.as_str()) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&collapse_spaces(&String::from_utf8_lossy(value.as_bytes())));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The string to sign of SigV4 task 2.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The signing key of SigV4 task 3: HMAC chain over date, region, service
/// and `aws4_request`, starting from `AWS4` + secret.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The hex signature of a string to sign.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// Signs a request the way an SDK does (for tests and internal clients):
/// returns the `Authorization` header value for the given signed headers,
/// which must already be present in `req.headers` (including `host` and
/// `x-amz-date`).
pub fn authorization_header(
    req: &RequestParts<'_>,
    signed_headers: &[&str],
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> Option<String> {
    let amz_date = header_str(req.headers, "x-amz-date")?;
    let date = amz_date.get(..8)?;
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let payload_hash = header_str(req.headers, "x-amz-content-sha256")
        .unwrap_or_else(|| hex::encode(Sha256::digest(req.body)));
    let creq = canonical_request(req, &names, &payload_hash);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let sig = signature(&signing_key(secret, date, region, service), &sts);
    Some(format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={sig}",
        names.join(";")
    ))
}

/// The access key id in the `Authorization` header, without verifying
/// anything (for the mode where the key id only selects the account).
pub fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    Authorization::parse(&String::from_utf8_lossy(value.as_bytes()))
        .ok()
        .map(|a| a.access_key_id)
}

/// The account an access key id stands for when signatures are not checked:
/// a 12-digit key id is that account, anything else (or none) is
/// `000000000000` — the convention of AWS emulators.
pub fn account_id_for(access_key_id: Option<&str>) -> String {
    match access_key_id {
        Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => id.to_owned(),
        _ => DEFAULT_ACCOUNT_ID.to_owned(),
    }
}

/// Normalizes and encodes a path: `.`/`..` segments and empty segments
/// dropped, a trailing slash kept, each segment percent-encoded once.
pub fn canonical_uri(raw_path: &str) -> String {
    let decoded: Vec<u8> = percent_decode(raw_path.as_bytes()).collect();
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(raw_path.len() + 1);
    for seg in &segments {
        out.push('/');
        uri_encode_into(seg, &mut out);
    }
    let trailing = decoded.ends_with(b"/") || decoded.ends_with(b"/.") || decoded.ends_with(b"/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// Sorts the query parameters and encodes each name and value once
/// (`a=1&b=`): a parameter without `=` gets an empty value.
pub fn canonical_query(raw_query: &str) -> String {
    if raw_query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ke = String::new();
            let mut ve = String::new();
            uri_encode_into(&percent_decode(k.as_bytes()).collect::<Vec<u8>>(), &mut ke);
            uri_encode_into(&percent_decode(v.as_bytes()).collect::<Vec<u8>>(), &mut ve);
            (ke, ve)
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims a header value and collapses runs of spaces into one.
fn collapse_spaces(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, word) in value
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// SigV4's unreserved characters, `A-Za-z0-9-._~`: everything else is
/// encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes every byte outside `A-Za-z0-9-._~` with upper-case hex.
/// (Decoding leaves a `%` not followed by two hex digits as it is, so it is
/// encoded here as `%25`.)
fn uri_encode_into(bytes: &[u8], out: &mut String) {
    out.extend(percent_encode(bytes, UNRESERVED));
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback
    // only keeps the function total.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// Parses `YYYYMMDDTHHMMSSZ` into epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    if !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    Timestamp::parse_rfc3339(&rfc).map(Timestamp::secs)
}

/// Formats epoch seconds as `YYYYMMDDTHHMMSSZ`.
pub fn amz_date_string(secs: i64) -> String {
    match Timestamp::from_secs(secs) {
        Some(t) => t
            .to_rfc3339_secs()
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect(),
        None => String::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests;
