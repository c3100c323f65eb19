//! Connections and API destinations: how EventBridge reaches HTTP
//! endpoints, and how Signalbox's `http` targets do it for the AWS front.
//!
//! A connection holds credentials and extra parameters; an API destination
//! an endpoint, a method and a rate, and names a connection. Both are kept
//! as records of the front (collection `aws`). A target on an API
//! destination becomes an `http` target ([`http_target`]) with
//!
//! | connection / destination | `http` target |
//! |---|---|
//! | `BASIC` | `auth.basic` |
//! | `API_KEY` | `auth.api_key` (the key in the header named `ApiKeyName`) |
//! | `OAUTH_CLIENT_CREDENTIALS` | `auth.oauth_client_credentials` (token from `AuthorizationEndpoint`, see [`crate::deliver::http`]) |
//! | `InvocationHttpParameters` headers and query string | `headers`, the URL's query |
//! | `InvocationEndpoint`, `HttpMethod` | `url`, `method` |
//! | `InvocationRateLimitPerSecond` | `rate_limit_per_s` |
//!
//! with mode `aws`, so the endpoint gets the EventBridge envelope (or the
//! target's input), and the 5-second timeout EventBridge uses. Changing a
//! connection or destination rebuilds the targets that use it. Not
//! supported: body parameters of an invocation (`BodyParameters`) and
//! private endpoints (`ConnectivityParameters`); both are refused.
//!
//! Secrets (passwords, API key values, client secrets) are kept in the data
//! folder like every `http` target's credentials, and never shown back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::model::{
    ApiDestination, ApiDestinationHttpMethod, ApiDestinationState, ApiDestinationStatus,
    ApiKeyAuthResponseParameters, BasicAuthResponseParameters, Connection,
    ConnectionAuthParameters, ConnectionAuthResponseParameters, ConnectionAuthorizationType,
    ConnectionHttpParameters, ConnectionParameter, ConnectionState, ConnectionStatus,
    CreateApiDestinationRequest, CreateConnectionRequest, DescribeConnectionResponse, Empty,
    HttpParameters, ListApiDestinationsRequest, ListApiDestinationsResponse,
    ListConnectionsRequest, ListConnectionsResponse, NameRef, OAuthClientResponseParameters,
    OAuthResponseParameters, Timestamp, UpdateApiDestinationRequest, UpdateConnectionRequest,
};
use super::protocol::{AwsError, ErrorCode};
use super::{AwsRecord, Ctx, new_uuid, page, record, records, remove, save};
use crate::auth::Action;

/// A connection as the front keeps it (secrets included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConnectionRecord {
    /// Its name.
    pub name: String,
    /// Its ARN (`…:connection/NAME/UUID`).
    pub arn: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Which credentials.
    pub authorization_type: ConnectionAuthorizationType,
    /// The credentials and extra parameters, as sent.
    pub auth: ConnectionAuthParameters,
    /// Created, ms since the epoch.
    pub created: i64,
    /// Last changed, ms since the epoch.
    pub modified: i64,
}

/// An API destination as the front keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DestinationRecord {
    /// Its name.
    pub name: String,
    /// Its ARN (`…:api-destination/NAME/UUID`).
    pub arn: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The connection's name.
    pub connection: String,
    /// The connection's ARN.
    pub connection_arn: String,
    /// The URL (`*` stands for path parameters).
    pub endpoint: String,
    /// The method.
    pub method: ApiDestinationHttpMethod,
    /// Requests per second, if limited.
    #[serde(default)]
    pub rate: Option<i32>,
    /// Created, ms since the epoch.
    pub created: i64,
    /// Last changed, ms since the epoch.
    pub modified: i64,
}

fn not_found(what: &str, name: &str) -> AwsError {
    AwsError::new(
        ErrorCode::ResourceNotFoundException,
        format!("{what} {name} does not exist."),
    )
}

fn ts(millis: i64) -> Option<Timestamp> {
    Timestamp::from_millis(millis)
}

async fn connection(ctx: &Ctx<'_>, name: &str) -> Result<ConnectionRecord, AwsError> {
    match record(ctx, "connection", name).await? {
        Some(AwsRecord::Connection(c)) => Ok(*c),
        _ => Err(not_found("Connection", name)),
    }
}

async fn destination(ctx: &Ctx<'_>, name: &str) -> Result<DestinationRecord, AwsError> {
    match record(ctx, "destination", name).await? {
        Some(AwsRecord::Destination(d)) => Ok(d),
        _ => Err(not_found("API destination", name)),
    }
}

async fn all_destinations(ctx: &Ctx<'_>) -> Result<Vec<DestinationRecord>, AwsError> {
    Ok(records(ctx, "destination")
        .await?
        .into_iter()
        .filter_map(|(_, r)| match r {
            AwsRecord::Destination(d) => Some(d),
            _ => None,
        })
        .collect())
}

/// The name in a connection ARN (`…:connection/NAME/UUID`), or the value
/// itself.
fn connection_name(arn: &str) -> &str {
    arn.rsplit(':')
        .next()
        .and_then(|r| r.strip_prefix("connection/"))
        .and_then(|r| r.split('/').next())
        .unwrap_or(arn)
}

/// Checks what Signalbox can do with a connection's settings.
fn check_auth(
    kind: ConnectionAuthorizationType,
    auth: &ConnectionAuthParameters,
) -> Result<(), AwsError> {
    use ConnectionAuthorizationType as T;
    let given = [
        (T::Basic, auth.basic_auth_parameters.is_some()),
        (T::ApiKey, auth.api_key_auth_parameters.is_some()),
        (T::OauthClientCredentials, auth.o_auth_parameters.is_some()),
    ];
    for (t, present) in given {
        if present != (t == kind) {
            return Err(AwsError::validation(format!(
                "The AuthParameters must hold the parameters of AuthorizationType {kind}, and only those."
            )));
        }
    }
    let has_body = |p: &Option<ConnectionHttpParameters>| {
        p.as_ref()
            .and_then(|p| p.body_parameters.as_ref())
            .is_some_and(|b| !b.is_empty())
    };
    if has_body(&auth.invocation_http_parameters) {
        return Err(AwsError::validation(
            "InvocationHttpParameters.BodyParameters are not supported by Signalbox: use headers or query string parameters.",
        ));
    }
    if auth.connectivity_parameters.is_some() {
        return Err(AwsError::validation(
            "ConnectivityParameters (private APIs) are not supported by Signalbox.",
        ));
    }
    if let Some(o) = &auth.o_auth_parameters
        && let Some(e) = &o.authorization_endpoint
        && !(e.starts_with("https://") || e.starts_with("http://"))
    {
        return Err(AwsError::validation(format!(
            "AuthorizationEndpoint '{e}' is not an http or https URL."
        )));
    }
    Ok(())
}

/// Merges changed auth parameters into stored ones (`UpdateConnection`):
/// what is given replaces what was there, member by member.
fn merge_auth(old: &mut ConnectionAuthParameters, new: ConnectionAuthParameters) {
    if let Some(b) = new.basic_auth_parameters {
        let o = old
            .basic_auth_parameters
            .get_or_insert_with(Default::default);
        o.username = b.username.or(o.username.take());
        o.password = b.password.or(o.password.take());
    }
    if let Some(k) = new.api_key_auth_parameters {
        let o = old
            .api_key_auth_parameters
            .get_or_insert_with(Default::default);
        o.api_key_name = k.api_key_name.or(o.api_key_name.take());
        o.api_key_value = k.api_key_value.or(o.api_key_value.take());
    }
    if let Some(a) = new.o_auth_parameters {
        let o = old.o_auth_parameters.get_or_insert_with(Default::default);
        if let Some(c) = a.client_parameters {
            let oc = o.client_parameters.get_or_insert_with(Default::default);
            oc.client_id = c.client_id.or(oc.client_id.take());
            oc.client_secret = c.client_secret.or(oc.client_secret.take());
        }
        o.authorization_endpoint = a.authorization_endpoint.or(o.authorization_endpoint.take());
        o.http_method = a.http_method.or(o.http_method.take());
        o.o_auth_http_parameters = a.o_auth_http_parameters.or(o.o_auth_http_parameters.take());
    }
    if new.invocation_http_parameters.is_some() {
        old.invocation_http_parameters = new.invocation_http_parameters;
    }
    if new.connectivity_parameters.is_some() {
        old.connectivity_parameters = new.connectivity_parameters;
    }
}

fn status(c: &ConnectionRecord) -> ConnectionStatus {
    ConnectionStatus {
        connection_arn: Some(c.arn.clone()),
        connection_state: Some(ConnectionState::Authorized),
        creation_time: ts(c.created),
        last_modified_time: ts(c.modified),
        last_authorized_time: ts(c.modified),
    }
}

/// `CreateConnection`.
pub(super) async fn create_connection(
    ctx: &Ctx<'_>,
    req: CreateConnectionRequest,
) -> Result<ConnectionStatus, AwsError> {
    let arn = ctx.arn(&format!("connection/{}/{}", req.name, new_uuid()));
    ctx.require(&Action::Admin, &arn)?;
    if req.invocation_connectivity_parameters.is_some() {
        return Err(AwsError::validation(
            "InvocationConnectivityParameters (private APIs) are not supported by Signalbox.",
        ));
    }
    check_auth(req.authorization_type, &req.auth_parameters)?;
    if record(ctx, "connection", &req.name).await?.is_some() {
        return Err(AwsError::new(
            ErrorCode::ResourceAlreadyExistsException,
            format!("Connection {} already exists.", req.name),
        ));
    }
    let now = Timestamp::now().millis();
    let c = ConnectionRecord {
        name: req.name,
        arn,
        description: req.description,
        authorization_type: req.authorization_type,
        auth: req.auth_parameters,
        created: now,
        modified: now,
    };
    save(ctx, &AwsRecord::Connection(Box::new(c.clone()))).await?;
    let mut s = status(&c);
    s.last_authorized_time = None;
    Ok(s)
}

/// `UpdateConnection`: the targets of destinations using it are rebuilt.
pub(super) async fn update_connection(
    ctx: &Ctx<'_>,
    req: UpdateConnectionRequest,
) -> Result<ConnectionStatus, AwsError> {
    let mut c = connection(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &c.arn)?;
    if req.invocation_connectivity_parameters.is_some() {
        return Err(AwsError::validation(
            "InvocationConnectivityParameters (private APIs) are not supported by Signalbox.",
        ));
    }
    if let Some(t) = req.authorization_type
        && t != c.authorization_type
    {
        // A new kind of credentials replaces the old ones.
        c.authorization_type = t;
        c.auth.basic_auth_parameters = None;
        c.auth.api_key_auth_parameters = None;
        c.auth.o_auth_parameters = None;
    }
    if let Some(a) = req.auth_parameters {
        merge_auth(&mut c.auth, a);
    }
    if let Some(d) = req.description {
        c.description = Some(d);
    }
    check_auth(c.authorization_type, &c.auth)?;
    c.modified = Timestamp::now().millis();
    save(ctx, &AwsRecord::Connection(Box::new(c.clone()))).await?;
    for d in all_destinations(ctx).await? {
        if d.connection == c.name {
            super::targets::refresh_destination(ctx, &d.name).await?;
        }
    }
    Ok(status(&c))
}

/// `DescribeConnection`: everything but the secrets.
pub(super) async fn describe_connection(
    ctx: &Ctx<'_>,
    req: NameRef,
) -> Result<DescribeConnectionResponse, AwsError> {
    let c = connection(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &c.arn)?;
    let a = &c.auth;
    let public_params = |p: &Option<ConnectionHttpParameters>| {
        p.as_ref().map(|p| {
            let strip = |list: &Option<Vec<ConnectionParameter>>| {
                list.as_ref().map(|l| {
                    l.iter()
                        .map(|x| ConnectionParameter {
                            key: x.key.clone(),
                            value: if x.is_value_secret == Some(true) {
                                None
                            } else {
                                x.value.clone()
                            },
                            is_value_secret: x.is_value_secret,
                        })
                        .collect()
                })
            };
            ConnectionHttpParameters {
                header_parameters: strip(&p.header_parameters),
                query_string_parameters: strip(&p.query_string_parameters),
                body_parameters: strip(&p.body_parameters),
            }
        })
    };
    let auth = ConnectionAuthResponseParameters {
        basic_auth_parameters: a.basic_auth_parameters.as_ref().map(|b| {
            BasicAuthResponseParameters {
                username: b.username.clone(),
            }
        }),
        o_auth_parameters: a
            .o_auth_parameters
            .as_ref()
            .map(|o| OAuthResponseParameters {
                client_parameters: o.client_parameters.as_ref().map(|c| {
                    OAuthClientResponseParameters {
                        client_id: c.client_id.clone(),
                    }
                }),
                authorization_endpoint: o.authorization_endpoint.clone(),
                http_method: o.http_method,
                o_auth_http_parameters: public_params(&o.o_auth_http_parameters),
            }),
        api_key_auth_parameters: a.api_key_auth_parameters.as_ref().map(|k| {
            ApiKeyAuthResponseParameters {
                api_key_name: k.api_key_name.clone(),
            }
        }),
        invocation_http_parameters: public_params(&a.invocation_http_parameters),
        connectivity_parameters: None,
    };
    Ok(DescribeConnectionResponse {
        connection_arn: Some(c.arn.clone()),
        name: Some(c.name.clone()),
        description: c.description.clone(),
        connection_state: Some(ConnectionState::Authorized),
        authorization_type: Some(c.authorization_type),
        auth_parameters: Some(auth),
        creation_time: ts(c.created),
        last_modified_time: ts(c.modified),
        last_authorized_time: ts(c.modified),
        ..Default::default()
    })
}

/// `DeleteConnection`: refused while an API destination uses it.
pub(super) async fn delete_connection(
    ctx: &Ctx<'_>,
    req: NameRef,
) -> Result<ConnectionStatus, AwsError> {
    let c = connection(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &c.arn)?;
    if let Some(d) = all_destinations(ctx)
        .await?
        .into_iter()
        .find(|d| d.connection == c.name)
    {
        return Err(AwsError::validation(format!(
            "Connection {} is used by API destination {}; delete the destination first.",
            c.name, d.name
        )));
    }
    remove(ctx, "connection", &c.name).await?;
    let mut s = status(&c);
    s.connection_state = Some(ConnectionState::Deleting);
    Ok(s)
}

/// `ListConnections`.
pub(super) async fn list_connections(
    ctx: &Ctx<'_>,
    req: ListConnectionsRequest,
) -> Result<ListConnectionsResponse, AwsError> {
    ctx.require(&Action::Admin, "*")?;
    let items: Vec<(String, Connection)> = records(ctx, "connection")
        .await?
        .into_iter()
        .filter_map(|(name, r)| match r {
            AwsRecord::Connection(c) => Some((name, *c)),
            _ => None,
        })
        .filter(|(name, _)| {
            req.name_prefix
                .as_deref()
                .is_none_or(|p| name.starts_with(p))
        })
        .filter(|_| {
            req.connection_state
                .is_none_or(|s| s == ConnectionState::Authorized)
        })
        .map(|(name, c)| {
            (
                name,
                Connection {
                    connection_arn: Some(c.arn.clone()),
                    name: Some(c.name.clone()),
                    connection_state: Some(ConnectionState::Authorized),
                    state_reason: None,
                    authorization_type: Some(c.authorization_type),
                    creation_time: ts(c.created),
                    last_modified_time: ts(c.modified),
                    last_authorized_time: ts(c.modified),
                },
            )
        })
        .collect();
    let (connections, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListConnectionsResponse {
        connections,
        next_token,
    })
}

fn check_endpoint(endpoint: &str) -> Result<(), AwsError> {
    let ok = (endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        && reqwest::Url::parse(&endpoint.replace('*', "x")).is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "InvocationEndpoint '{endpoint}' is not an http or https URL."
        )))
    }
}

fn destination_status(d: &DestinationRecord) -> ApiDestinationStatus {
    ApiDestinationStatus {
        api_destination_arn: Some(d.arn.clone()),
        api_destination_state: Some(ApiDestinationState::Active),
        creation_time: ts(d.created),
        last_modified_time: ts(d.modified),
    }
}

fn destination_entry(d: &DestinationRecord, with_description: bool) -> ApiDestination {
    ApiDestination {
        api_destination_arn: Some(d.arn.clone()),
        name: Some(d.name.clone()),
        description: d.description.clone().filter(|_| with_description),
        api_destination_state: Some(ApiDestinationState::Active),
        connection_arn: Some(d.connection_arn.clone()),
        invocation_endpoint: Some(d.endpoint.clone()),
        http_method: Some(d.method),
        invocation_rate_limit_per_second: d.rate,
        creation_time: ts(d.created),
        last_modified_time: ts(d.modified),
    }
}

/// `CreateApiDestination`.
pub(super) async fn create_destination(
    ctx: &Ctx<'_>,
    req: CreateApiDestinationRequest,
) -> Result<ApiDestinationStatus, AwsError> {
    let arn = ctx.arn(&format!("api-destination/{}/{}", req.name, new_uuid()));
    ctx.require(&Action::Admin, &arn)?;
    check_endpoint(&req.invocation_endpoint)?;
    let c = connection(ctx, connection_name(&req.connection_arn)).await?;
    if record(ctx, "destination", &req.name).await?.is_some() {
        return Err(AwsError::new(
            ErrorCode::ResourceAlreadyExistsException,
            format!("An api-destination '{}' already exists.", req.name),
        ));
    }
    let now = Timestamp::now().millis();
    let d = DestinationRecord {
        name: req.name,
        arn,
        description: req.description,
        connection: c.name,
        connection_arn: c.arn,
        endpoint: req.invocation_endpoint,
        method: req.http_method,
        rate: req.invocation_rate_limit_per_second,
        created: now,
        modified: now,
    };
    save(ctx, &AwsRecord::Destination(d.clone())).await?;
    Ok(destination_status(&d))
}

/// `UpdateApiDestination`: the targets using it are rebuilt.
pub(super) async fn update_destination(
    ctx: &Ctx<'_>,
    req: UpdateApiDestinationRequest,
) -> Result<ApiDestinationStatus, AwsError> {
    let mut d = destination(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &d.arn)?;
    if let Some(e) = req.invocation_endpoint {
        check_endpoint(&e)?;
        d.endpoint = e;
    }
    if let Some(arn) = req.connection_arn {
        let c = connection(ctx, connection_name(&arn)).await?;
        d.connection = c.name;
        d.connection_arn = c.arn;
    }
    if let Some(m) = req.http_method {
        d.method = m;
    }
    if let Some(r) = req.invocation_rate_limit_per_second {
        d.rate = Some(r);
    }
    if let Some(desc) = req.description {
        d.description = Some(desc);
    }
    d.modified = Timestamp::now().millis();
    save(ctx, &AwsRecord::Destination(d.clone())).await?;
    super::targets::refresh_destination(ctx, &d.name).await?;
    Ok(destination_status(&d))
}

/// `DescribeApiDestination`.
pub(super) async fn describe_destination(
    ctx: &Ctx<'_>,
    req: NameRef,
) -> Result<ApiDestination, AwsError> {
    let d = destination(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &d.arn)?;
    Ok(destination_entry(&d, true))
}

/// `DeleteApiDestination`: refused while a rule delivers to it.
pub(super) async fn delete_destination(ctx: &Ctx<'_>, req: NameRef) -> Result<Empty, AwsError> {
    let d = destination(ctx, &req.name).await?;
    ctx.require(&Action::Admin, &d.arn)?;
    if super::targets::destination_in_use(ctx, &d.name).await? {
        return Err(AwsError::validation(format!(
            "API destination {} is the target of a rule; remove the target first.",
            d.name
        )));
    }
    remove(ctx, "destination", &d.name).await?;
    Ok(Empty {})
}

/// `ListApiDestinations`.
pub(super) async fn list_destinations(
    ctx: &Ctx<'_>,
    req: ListApiDestinationsRequest,
) -> Result<ListApiDestinationsResponse, AwsError> {
    ctx.require(&Action::Admin, "*")?;
    let items: Vec<(String, ApiDestination)> = all_destinations(ctx)
        .await?
        .iter()
        .filter(|d| {
            req.name_prefix
                .as_deref()
                .is_none_or(|p| d.name.starts_with(p))
        })
        .filter(|d| {
            req.connection_arn
                .as_deref()
                .is_none_or(|a| d.connection_arn == a)
        })
        .map(|d| (d.name.clone(), destination_entry(d, false)))
        .collect();
    let (api_destinations, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListApiDestinationsResponse {
        api_destinations,
        next_token,
    })
}

/// Static parameter values only: EventBridge also takes JSON paths into
/// the event (`$.detail.id`), which Signalbox does not.
fn static_value<'a>(what: &str, value: &'a str) -> Result<&'a str, AwsError> {
    if value.starts_with("$.") {
        Err(AwsError::validation(format!(
            "{what} '{value}' is a JSON path; Signalbox supports static values only."
        )))
    } else {
        Ok(value)
    }
}

fn pairs(list: &Option<Vec<ConnectionParameter>>) -> Vec<(String, String)> {
    list.iter()
        .flatten()
        .filter_map(|p| Some((p.key.clone()?, p.value.as_ref()?.0.clone())))
        .collect()
}

/// The `http` target members (everything but `id`, `retry`, `dead_letter`
/// and `input`) for a target on API destination `name` with the target's
/// `HttpParameters`.
pub(super) async fn http_target(
    ctx: &Ctx<'_>,
    name: &str,
    params: Option<&HttpParameters>,
) -> Result<Map<String, Value>, AwsError> {
    let d = destination(ctx, name).await?;
    let c = connection(ctx, &d.connection).await.map_err(|_| {
        AwsError::validation(format!(
            "The connection {} of API destination {name} does not exist.",
            d.connection
        ))
    })?;
    // Path parameters fill the endpoint's `*`s in order.
    let values = params
        .and_then(|p| p.path_parameter_values.as_ref())
        .cloned()
        .unwrap_or_default();
    let stars = d.endpoint.matches('*').count();
    if values.len() != stars {
        return Err(AwsError::validation(format!(
            "API destination {name} has {stars} path parameters ('*') and the target gives {} PathParameterValues.",
            values.len()
        )));
    }
    let mut endpoint = String::with_capacity(d.endpoint.len());
    let mut values = values.iter();
    for piece in d.endpoint.split_inclusive('*') {
        match piece.strip_suffix('*') {
            Some(before) => {
                endpoint.push_str(before);
                let v = static_value(
                    "PathParameterValues",
                    values.next().map_or("", String::as_str),
                )?;
                endpoint.extend(percent_encoding::utf8_percent_encode(
                    v,
                    percent_encoding::NON_ALPHANUMERIC,
                ));
            }
            None => endpoint.push_str(piece),
        }
    }
    let mut url = reqwest::Url::parse(&endpoint)
        .map_err(|e| AwsError::validation(format!("InvocationEndpoint of {name}: {e}")))?;
    let invocation = c.auth.invocation_http_parameters.as_ref();
    let mut query: Vec<(String, String)> =
        pairs(&invocation.and_then(|p| p.query_string_parameters.clone()));
    let mut headers: BTreeMap<String, String> =
        pairs(&invocation.and_then(|p| p.header_parameters.clone()))
            .into_iter()
            .collect();
    if let Some(p) = params {
        for (k, v) in p.query_string_parameters.iter().flatten() {
            query.push((
                k.clone(),
                static_value("QueryStringParameters", v)?.to_owned(),
            ));
        }
        for (k, v) in p.header_parameters.iter().flatten() {
            headers.insert(k.clone(), static_value("HeaderParameters", v)?.to_owned());
        }
    }
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &query {
            q.append_pair(k, v);
        }
    }
    let a = &c.auth;
    let missing =
        |what: &str| AwsError::validation(format!("Connection {} has no {what}.", c.name));
    let auth = match c.authorization_type {
        ConnectionAuthorizationType::Basic => {
            let b = a
                .basic_auth_parameters
                .as_ref()
                .ok_or_else(|| missing("BasicAuthParameters"))?;
            json!({"basic": {
                "username": b.username.clone().unwrap_or_default(),
                "password": b.password.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
            }})
        }
        ConnectionAuthorizationType::ApiKey => {
            let k = a
                .api_key_auth_parameters
                .as_ref()
                .ok_or_else(|| missing("ApiKeyAuthParameters"))?;
            json!({"api_key": {
                "header": k.api_key_name.clone().unwrap_or_default(),
                "value": k.api_key_value.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
            }})
        }
        ConnectionAuthorizationType::OauthClientCredentials => {
            let o = a
                .o_auth_parameters
                .as_ref()
                .ok_or_else(|| missing("OAuthParameters"))?;
            let client = o
                .client_parameters
                .as_ref()
                .ok_or_else(|| missing("OAuthParameters.ClientParameters"))?;
            let extra = o.o_auth_http_parameters.as_ref();
            let to_map = |l: Vec<(String, String)>| -> Map<String, Value> {
                l.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
            };
            json!({"oauth_client_credentials": {
                "token_url": o.authorization_endpoint.clone().unwrap_or_default(),
                "client_id": client.client_id.clone().unwrap_or_default(),
                "client_secret": client.client_secret.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
                "method": o.http_method.map_or("POST", |m| m.as_str()),
                "body": to_map(pairs(&extra.and_then(|p| p.body_parameters.clone()))),
                "query": to_map(pairs(&extra.and_then(|p| p.query_string_parameters.clone()))),
                "headers": to_map(pairs(&extra.and_then(|p| p.header_parameters.clone()))),
            }})
        }
    };
    let mut out = Map::new();
    out.insert("type".into(), json!("http"));
    out.insert("url".into(), json!(url.as_str()));
    out.insert("method".into(), json!(d.method.as_str()));
    out.insert("mode".into(), json!("aws"));
    out.insert("timeout".into(), json!("5s"));
    if !headers.is_empty() {
        out.insert("headers".into(), json!(headers));
    }
    out.insert("auth".into(), auth);
    if let Some(rate) = d.rate {
        out.insert("rate_limit_per_s".into(), json!(rate));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_names_come_out_of_arns() {
        assert_eq!(
            connection_name("arn:aws:events:us-east-1:000000000000:connection/c1/0b5f…"),
            "c1"
        );
        assert_eq!(connection_name("c1"), "c1");
    }

    #[test]
    fn auth_parameters_must_match_the_type() {
        let basic = ConnectionAuthParameters {
            basic_auth_parameters: Some(Default::default()),
            ..Default::default()
        };
        assert!(check_auth(ConnectionAuthorizationType::Basic, &basic).is_ok());
        assert!(check_auth(ConnectionAuthorizationType::ApiKey, &basic).is_err());
        let mut with_body = basic.clone();
        with_body.invocation_http_parameters = Some(ConnectionHttpParameters {
            body_parameters: Some(vec![ConnectionParameter {
                key: Some("k".into()),
                value: Some(super::super::model::Sensitive("v".into())),
                is_value_secret: None,
            }]),
            ..Default::default()
        });
        let e = check_auth(ConnectionAuthorizationType::Basic, &with_body).unwrap_err();
        assert!(e.message.contains("BodyParameters"), "{}", e.message);
    }

    #[test]
    fn static_values_only() {
        assert!(static_value("HeaderParameters", "x").is_ok());
        assert!(static_value("HeaderParameters", "$.detail.id").is_err());
    }
}
