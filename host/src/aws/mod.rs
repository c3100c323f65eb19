//! The AWS front: Amazon EventBridge's own API on Signalbox's listener, so
//! boto3, the aws CLI and the AWS SDKs work against Signalbox unchanged
//! (`endpoint_url=http://HOST:PORT`). `docs/aws.md` is the user's guide.
//!
//! It is the same engine behind a second protocol, at the same layer as
//! [`crate::api`]: every call is `POST /` with `X-Amz-Target:
//! AWSEvents.<Operation>` (AWS JSON 1.1), and each operation does what the
//! equivalent `/v1` request does, through the same modules:
//!
//! | EventBridge | Signalbox |
//! |---|---|
//! | event bus | bus ([`crate::store`]) |
//! | `PutEvents` | [`crate::ingest::publish::Publisher::publish`], one CloudEvent per entry ([`envelope`]) |
//! | rule (`EventPattern`, `State`) | rule with `"envelope": "aws"` ([`crate::rules::rule`]) |
//! | target on an API destination | `http` target in mode `aws`, with the connection's auth |
//! | target on an event bus | `bus` target |
//! | `Input` / `InputPath` / `InputTransformer` | the target's own `input` ([`crate::chain::template`], EventBridge view) |
//! | `RetryPolicy`, `DeadLetterConfig` | the target's `retry` and `dead_letter` |
//! | archive + replay | the bus log (kept for the bus's retention) + a replay ([`crate::rules::replay`]) |
//!
//! The pieces:
//!
//! - [`protocol`]: `X-Amz-Target` dispatch, content type, request ids,
//!   success and error responses, input parsing with AWS's messages;
//! - [`model`]: the operations' inputs and outputs, from the service model;
//! - [`sigv4`]: Signature Version 4 verification;
//! - [`putevents`]: `PutEvents` entry size, limits and per-entry checks;
//! - [`envelope`]: `PutEvents` entries as CloudEvents;
//! - the operations, by resource: `buses` (with `PutEvents`), `rules`
//!   (with `TestEventPattern`), `targets`, `destinations` (connections and
//!   API destinations) and `archives` (archives and replays).
//!
//! # Credentials
//!
//! When the server has no tokens (open, as on a developer's machine), the
//! front works like the AWS emulators: signatures are not checked, and the
//! access key id picks the account when it is 12 digits (else
//! `000000000000`). Once tokens are enforced, every request must be signed
//! with an AWS access key issued for a token ([`crate::auth::aws`]) — or
//! carry `Authorization: Bearer <token>` — and each operation needs the
//! scope its `/v1` counterpart needs: `PutEvents` `publish:<bus>` per
//! entry, `DescribeEventBus` `read:<bus>`, `ListEventBuses` and
//! `TestEventPattern` any scope, everything else `admin`. So the front is
//! never a way around authentication or scopes.
//!
//! Names: EventBridge allows rule names and target ids that Signalbox names
//! do not (upper case, longer, other first characters). Such a name is kept
//! as the rule's or target's `aws` identity, and the Signalbox name derived
//! from it ([`derived_name`]). Bus names must already be Signalbox names,
//! because they also name scopes, URLs and metrics.

pub mod envelope;
pub mod model;
pub mod protocol;
pub mod putevents;
pub mod sigv4;

mod archives;
mod buses;
mod destinations;
mod rules;
mod targets;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::api::AppState;
use crate::auth::{Action, Token};
use crate::names::Kind;
use crate::pattern::envelope::{AWS_DEFAULT_ACCOUNT, AWS_DEFAULT_REGION};
use crate::rules::RulesError;
use crate::store::catalogue::{Collection, Record, Scope};
use model::Timestamp;
use protocol::{AwsError, ErrorCode, Operation};

/// The AWS front's settings (`[aws]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The largest total `PutEvents` entry size (AWS's formula), in bytes:
    /// 256 KiB by default, at most 1 MiB.
    pub max_put_events_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_put_events_bytes: putevents::LIMIT_256_KB,
        }
    }
}

/// The routes of the AWS front: `POST /`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", post(handle))
}

/// Who is calling, as far as the front is concerned.
pub(crate) struct Ctx<'a> {
    state: &'a AppState,
    /// The account ARNs and events are made in.
    account: String,
    /// The region of the credential scope (`us-east-1` when unsigned).
    region: String,
    /// The caller's token, when tokens are enforced.
    token: Option<Token>,
    /// The operation, for messages.
    op: Operation,
}

impl Ctx<'_> {
    /// Refuses the call unless the caller may perform `action` (always,
    /// when tokens are not enforced).
    fn require(&self, action: &Action, resource: &str) -> Result<(), AwsError> {
        if self.allows(action) {
            return Ok(());
        }
        let token = self.token.as_ref();
        let needed: Vec<String> = action
            .permitting_scopes()
            .iter()
            .map(|s| format!("'{s}'"))
            .collect();
        Err(AwsError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: token '{}' ({}) is not authorized to perform: events:{} on resource: {resource}: it needs scope {}",
                token.map_or("", |t| t.name.as_str()),
                token.map_or("", |t| t.id.as_str()),
                self.op,
                needed.join(" or ")
            ),
        ))
    }

    /// Whether the caller may perform `action`.
    fn allows(&self, action: &Action) -> bool {
        self.token.as_ref().is_none_or(|t| t.allows(action))
    }

    /// `arn:aws:events:REGION:ACCOUNT:RESOURCE`.
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:events:{}:{}:{resource}", self.region, self.account)
    }

    /// An event bus's ARN.
    fn bus_arn(&self, bus: &str) -> String {
        self.arn(&format!("event-bus/{bus}"))
    }
}

/// Answers one AWS API call.
async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let request_id = protocol::new_request_id();
    let response = match serve(&state, request, &request_id).await {
        Ok(r) => r,
        Err(e) => {
            if e.code.spec().fault == protocol::Fault::Server {
                tracing::error!(error = %e, request_id, "AWS API call failed.");
            }
            protocol::error_response(&request_id, &e)
        }
    };
    response.map(Body::from).into_response()
}

async fn serve(
    state: &AppState,
    request: Request,
    request_id: &str,
) -> Result<http::Response<Vec<u8>>, AwsError> {
    let (parts, body) = request.into_parts();
    let op = protocol::parse_target(&parts.headers)?;
    protocol::check_content_type(&parts.headers)?;
    let limit = state.limits().max_request_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return AwsError::validation(format!(
                    "The request body is larger than the limit of {limit} bytes (limits.max_request_bytes)."
                ));
            }
            source = s.source();
        }
        AwsError::new(
            ErrorCode::SerializationException,
            format!("Cannot read the request body: {e}"),
        )
    })?;
    let ctx = authenticate(state, &parts, &body, op)?;
    if !op.is_supported() {
        return Err(AwsError::unknown_operation(format!(
            "Signalbox does not implement {op}; see docs/aws.md for the operations it does."
        )));
    }
    dispatch(&ctx, op, &body, request_id).await
}

/// Decodes the input, runs the operation, encodes the output.
async fn dispatch(
    ctx: &Ctx<'_>,
    op: Operation,
    body: &[u8],
    id: &str,
) -> Result<http::Response<Vec<u8>>, AwsError> {
    use Operation as O;
    use protocol::{empty_response, parse_input, success_response as ok};
    // Large bodies are parsed on the blocking pool (linear, but
    // milliseconds for a few MiB); see `PARSE_OFFLOAD_BYTES`.
    macro_rules! input {
        () => {
            if body.len() > crate::ingest::PARSE_OFFLOAD_BYTES {
                let owned = body.to_vec();
                tokio::task::spawn_blocking(move || parse_input(&owned))
                    .await
                    .map_err(|e| AwsError::new(ErrorCode::InternalException, e.to_string()))??
            } else {
                parse_input(body)?
            }
        };
    }
    Ok(match op {
        O::PutEvents => ok(id, &buses::put_events(ctx, input!()).await?),
        O::CreateEventBus => ok(id, &buses::create(ctx, input!()).await?),
        O::DeleteEventBus => {
            buses::delete(ctx, input!()).await?;
            empty_response(id)
        }
        O::DescribeEventBus => ok(id, &buses::describe(ctx, input!()).await?),
        O::ListEventBuses => ok(id, &buses::list(ctx, input!())?),
        O::PutRule => ok(id, &rules::put(ctx, input!()).await?),
        O::DescribeRule => ok(id, &rules::describe(ctx, input!()).await?),
        O::DeleteRule => {
            rules::delete(ctx, input!()).await?;
            empty_response(id)
        }
        O::EnableRule => {
            rules::set_enabled(ctx, input!(), true).await?;
            empty_response(id)
        }
        O::DisableRule => {
            rules::set_enabled(ctx, input!(), false).await?;
            empty_response(id)
        }
        O::ListRules => ok(id, &rules::list(ctx, input!()).await?),
        O::ListRuleNamesByTarget => ok(id, &rules::names_by_target(ctx, input!()).await?),
        O::TestEventPattern => ok(id, &rules::test_pattern(ctx, input!())?),
        O::PutTargets => ok(id, &targets::put(ctx, input!()).await?),
        O::RemoveTargets => ok(id, &targets::remove(ctx, input!()).await?),
        O::ListTargetsByRule => ok(id, &targets::list(ctx, input!()).await?),
        O::CreateConnection => ok(id, &destinations::create_connection(ctx, input!()).await?),
        O::UpdateConnection => ok(id, &destinations::update_connection(ctx, input!()).await?),
        O::DescribeConnection => ok(id, &destinations::describe_connection(ctx, input!()).await?),
        O::DeleteConnection => ok(id, &destinations::delete_connection(ctx, input!()).await?),
        O::ListConnections => ok(id, &destinations::list_connections(ctx, input!()).await?),
        O::CreateApiDestination => ok(id, &destinations::create_destination(ctx, input!()).await?),
        O::UpdateApiDestination => ok(id, &destinations::update_destination(ctx, input!()).await?),
        O::DescribeApiDestination => ok(
            id,
            &destinations::describe_destination(ctx, input!()).await?,
        ),
        O::DeleteApiDestination => ok(id, &destinations::delete_destination(ctx, input!()).await?),
        O::ListApiDestinations => ok(id, &destinations::list_destinations(ctx, input!()).await?),
        O::CreateArchive => ok(id, &archives::create(ctx, input!()).await?),
        O::DescribeArchive => ok(id, &archives::describe(ctx, input!()).await?),
        O::ListArchives => ok(id, &archives::list(ctx, input!()).await?),
        O::DeleteArchive => ok(id, &archives::delete(ctx, input!()).await?),
        O::StartReplay => ok(id, &archives::start_replay(ctx, input!()).await?),
        O::DescribeReplay => ok(id, &archives::describe_replay(ctx, input!()).await?),
        O::ListReplays => ok(id, &archives::list_replays(ctx, input!()).await?),
        O::CancelReplay => ok(id, &archives::cancel_replay(ctx, input!()).await?),
        other => {
            return Err(AwsError::unknown_operation(format!(
                "Signalbox does not implement {other}; see docs/aws.md for the operations it does."
            )));
        }
    })
}

/// Works out who is calling (see the module docs).
fn authenticate<'a>(
    state: &'a AppState,
    parts: &http::request::Parts,
    body: &[u8],
    op: Operation,
) -> Result<Ctx<'a>, AwsError> {
    let tokens = state.tokens();
    let enforced = tokens.enforced();
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    let mut ctx = Ctx {
        state,
        account: AWS_DEFAULT_ACCOUNT.to_owned(),
        region: AWS_DEFAULT_REGION.to_owned(),
        token: None,
        op,
    };
    let Some(header) = header else {
        if enforced {
            return Err(sigv4::SigV4Error::Missing.into());
        }
        return Ok(ctx);
    };
    let (scheme, rest) = header.split_once(' ').unwrap_or((header.as_str(), ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        if enforced {
            let token = tokens.check(rest.trim()).map_err(|_| {
                AwsError::new(
                    ErrorCode::UnrecognizedClientException,
                    "The security token included in the request is invalid.",
                )
            })?;
            ctx.token = Some(token);
        }
        return Ok(ctx);
    }
    if !enforced {
        // Emulator mode: the key id picks the account; nothing is checked.
        if let Ok(auth) = sigv4::Authorization::parse(&header) {
            ctx.account = sigv4::account_id_for(Some(&auth.access_key_id));
            ctx.region = auth.region;
        }
        return Ok(ctx);
    }
    let req = sigv4::RequestParts::new(&parts.method, &parts.uri, &parts.headers, body);
    let now = crate::event::time::now_micros().div_euclid(1_000_000);
    let mut found = None;
    let verified = sigv4::verify(&req, sigv4::SERVICE, now, |key_id| {
        let creds = tokens.aws_credentials(key_id).ok()?;
        let secret = creds.secret.clone();
        found = Some(creds);
        Some(secret)
    })?;
    let creds = found.ok_or(sigv4::SigV4Error::UnknownAccessKey)?;
    ctx.account = creds.key.account;
    ctx.region = verified.region;
    ctx.token = Some(creds.token);
    Ok(ctx)
}

/// The Signalbox name for an EventBridge rule name or target id: the name
/// itself when it is a valid Signalbox name of that kind, else its lower
/// case (characters outside the rule replaced by `-`), cut to fit, and 8
/// hex digits of its SHA-256 — stable, readable, and distinct for distinct
/// names.
pub(crate) fn derived_name(kind: Kind, aws: &str) -> String {
    if crate::names::is_valid(kind, aws) {
        return aws.to_owned();
    }
    let mut base: String = aws
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    if kind != Kind::Target && !base.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        base.insert(0, 'x');
    }
    let hash = hex::encode(sha2::Sha256::digest(aws.as_bytes()));
    format!("{base}-{}", &hash[..8])
}

/// The Signalbox bus named by an `EventBusName` (a name or an ARN;
/// `default` when absent), which must be a valid Signalbox bus name.
pub(crate) fn bus_name(name_or_arn: Option<&str>) -> Result<String, AwsError> {
    let name = model::bus_name_of(name_or_arn.unwrap_or(crate::store::DEFAULT_BUS));
    if crate::names::is_valid(Kind::Bus, name) {
        Ok(name.to_owned())
    } else {
        Err(AwsError::validation(format!(
            "Event bus name '{name}' is not a Signalbox bus name: bus names are 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit (they also name scopes, URLs and metrics). Use '{}' instead.",
            derived_name(Kind::Bus, name)
        )))
    }
}

/// A rule error as AWS answers it.
pub(crate) fn rules_error(e: RulesError, bus: &str) -> AwsError {
    match e {
        RulesError::Rule(r) if r.field == "pattern" => AwsError::new(
            ErrorCode::InvalidEventPatternException,
            format!("Event pattern is not valid. Reason: {}", r.message),
        ),
        RulesError::Rule(r) => AwsError::validation(r.to_string()),
        RulesError::NoBus(_) => AwsError::bus_not_found(bus),
        RulesError::NoRule(r) => AwsError::rule_not_found(&r, bus),
        RulesError::LimitReached { .. } => {
            AwsError::new(ErrorCode::LimitExceededException, e.to_string())
        }
        RulesError::Store(s) => internal(s),
    }
}

/// `InternalException` (the SDKs retry it).
pub(crate) fn internal(e: impl std::fmt::Display) -> AwsError {
    AwsError::new(ErrorCode::InternalException, e.to_string())
}

/// Microseconds since the epoch as a [`Timestamp`] (the epoch if out of
/// range).
pub(crate) fn ts_micros(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros)
        .or_else(|| Timestamp::from_millis(0))
        .unwrap_or_else(Timestamp::now)
}

/// One page of a sorted listing: items after `next_token` (the name the
/// previous page ended with), at most `limit` (1..=100, default 100), and
/// the token of the page after, if any.
pub(crate) fn page<T>(
    items: Vec<(String, T)>,
    next_token: Option<&str>,
    limit: Option<i32>,
) -> (Vec<T>, Option<String>) {
    let limit = limit.map_or(100, |l| l.clamp(1, 100) as usize);
    let mut rest = items
        .into_iter()
        .filter(|(name, _)| next_token.is_none_or(|t| name.as_str() > t))
        .peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < limit {
        let Some((name, item)) = rest.next() else {
            break;
        };
        last = Some(name);
        out.push(item);
    }
    let next = if rest.peek().is_some() { last } else { None };
    (out, next)
}

/// What the front keeps in the catalogue (collection `aws`, server-wide,
/// keyed `kind/name`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum AwsRecord {
    /// A connection (boxed: it is much larger than the others).
    Connection(Box<destinations::ConnectionRecord>),
    /// An API destination.
    Destination(destinations::DestinationRecord),
    /// An archive.
    Archive(archives::ArchiveRecord),
    /// A replay.
    Replay(archives::ReplayRecord),
}

impl Record for AwsRecord {
    const COLLECTION: Collection = Collection::Aws;
}

impl AwsRecord {
    fn key(&self) -> String {
        match self {
            AwsRecord::Connection(c) => format!("connection/{}", c.name),
            AwsRecord::Destination(d) => format!("destination/{}", d.name),
            AwsRecord::Archive(a) => format!("archive/{}", a.name),
            AwsRecord::Replay(r) => format!("replay/{}", r.name),
        }
    }
}

/// The front's records of one kind, by name.
pub(crate) async fn records(
    ctx: &Ctx<'_>,
    kind: &str,
) -> Result<Vec<(String, AwsRecord)>, AwsError> {
    let prefix = format!("{kind}/");
    Ok(ctx
        .state
        .store()
        .list::<AwsRecord>(Scope::Server)
        .await
        .map_err(internal)?
        .into_iter()
        .filter_map(|(k, r)| k.strip_prefix(&prefix).map(|n| (n.to_owned(), r)))
        .collect())
}

/// One record.
pub(crate) async fn record(
    ctx: &Ctx<'_>,
    kind: &str,
    name: &str,
) -> Result<Option<AwsRecord>, AwsError> {
    ctx.state
        .store()
        .get::<AwsRecord>(Scope::Server, &format!("{kind}/{name}"))
        .await
        .map_err(internal)
}

/// Stores a record.
pub(crate) async fn save(ctx: &Ctx<'_>, record: &AwsRecord) -> Result<(), AwsError> {
    ctx.state
        .store()
        .put(Scope::Server, &record.key(), record)
        .await
        .map_err(internal)
}

/// Deletes a record.
pub(crate) async fn remove(ctx: &Ctx<'_>, kind: &str, name: &str) -> Result<(), AwsError> {
    ctx.state
        .store()
        .delete::<AwsRecord>(Scope::Server, &format!("{kind}/{name}"))
        .await
        .map(|_| ())
        .map_err(internal)
}

/// A random UUID (version 4), as AWS puts in connection and destination
/// ARNs and event ids.
pub(crate) fn new_uuid() -> String {
    protocol::new_request_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_valid_stable_and_distinct() {
        for (kind, aws) in [
            (Kind::Rule, "orders-rule"),
            (Kind::Rule, "OrderCreatedRule"),
            (Kind::Rule, "_private.Rule"),
            (Kind::Rule, &"R".repeat(64)),
            (Kind::Target, "Target0"),
            (Kind::Target, "-x"),
            (Kind::Target, "1"),
        ] {
            let d = derived_name(kind, aws);
            assert!(crate::names::is_valid(kind, &d), "{aws} → {d}");
            assert_eq!(d, derived_name(kind, aws));
        }
        assert_eq!(derived_name(Kind::Rule, "orders-rule"), "orders-rule");
        assert!(derived_name(Kind::Rule, "OrderCreatedRule").starts_with("ordercreatedrule-"));
        assert_ne!(
            derived_name(Kind::Rule, "MyRule"),
            derived_name(Kind::Rule, "MYRULE")
        );
        assert_ne!(derived_name(Kind::Rule, "MyRule"), "myrule");
    }

    #[test]
    fn bus_names_must_be_signalbox_names() {
        assert_eq!(bus_name(None).unwrap(), "default");
        assert_eq!(bus_name(Some("orders")).unwrap(), "orders");
        assert_eq!(
            bus_name(Some(
                "arn:aws:events:us-east-1:123456789012:event-bus/orders"
            ))
            .unwrap(),
            "orders"
        );
        let e = bus_name(Some("MyBus")).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert!(e.message.contains("'MyBus'"), "{}", e.message);
    }

    #[test]
    fn pages_continue_after_the_token() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("n{i}"), i)).collect();
        let (p1, next) = page(items.clone(), None, Some(2));
        assert_eq!(p1, [0, 1]);
        assert_eq!(next.as_deref(), Some("n1"));
        let (p2, next) = page(items.clone(), next.as_deref(), Some(2));
        assert_eq!(p2, [2, 3]);
        let (p3, next) = page(items.clone(), next.as_deref(), Some(2));
        assert_eq!(p3, [4]);
        assert_eq!(next, None);
        let (all, next) = page(items, None, None);
        assert_eq!(all.len(), 5);
        assert_eq!(next, None);
    }
}
