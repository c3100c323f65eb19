//! Tests of scopes, the request mapping, the token store and the middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::routing::get;
use http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;

use super::*;

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

fn publish(bus: &str) -> Action {
    Action::Publish { bus: bus.into() }
}

fn read(bus: &str) -> Action {
    Action::Read { bus: bus.into() }
}

// ---- scopes -------------------------------------------------------------------

#[test]
fn scopes_parse_and_format() {
    for s in [
        "admin",
        "metrics",
        "publish:orders",
        "publish:*",
        "read:orders.eu_1-a",
        "read:*",
        "publish:0",
    ] {
        assert_eq!(scope(s).to_string(), s);
        assert_eq!(s.parse::<Scope>().unwrap(), scope(s));
    }
    assert_eq!(
        scope("publish:orders"),
        Scope::Publish(BusSelector::Bus("orders".into()))
    );
    assert_eq!(scope("read:*"), Scope::Read(BusSelector::Any));
}

#[test]
fn invalid_scopes_say_why() {
    for (s, needle) in [
        ("", "it is empty"),
        ("root", "'root' is not a scope"),
        ("write:orders", "unknown kind of scope 'write'"),
        ("publish:", "'' is not a bus name"),
        ("publish:Orders", "'Orders' is not a bus name"),
        ("read:-x", "'-x' is not a bus name"),
        ("read:a/b", "'a/b' is not a bus name"),
        ("publish:orders:eu", "'orders:eu' is not a bus name"),
        ("admin:orders", "'admin' takes no bus"),
        ("Admin", "'Admin' is not a scope"),
    ] {
        let err = Scope::parse(s).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{s:?}: {msg}");
        assert!(msg.contains(&format!("invalid scope '{s}'")), "{msg}");
    }
    let long = format!("read:{}", "a".repeat(64));
    assert!(Scope::parse(&long).is_err());
    assert!(Scope::parse(&format!("read:{}", "a".repeat(63))).is_ok());
}

#[test]
fn scopes_serialize_as_strings() {
    let scopes = vec![scope("admin"), scope("publish:orders"), scope("read:*")];
    let json = serde_json::to_string(&scopes).unwrap();
    assert_eq!(json, r#"["admin","publish:orders","read:*"]"#);
    assert_eq!(serde_json::from_str::<Vec<Scope>>(&json).unwrap(), scopes);
    let err = serde_json::from_str::<Scope>(r#""publish:BAD""#).unwrap_err();
    assert!(err.to_string().contains("not a bus name"), "{err}");
}

/// Every scope against every action.
#[test]
fn scope_action_matrix() {
    let scopes = [
        "admin",
        "metrics",
        "publish:orders",
        "publish:*",
        "read:orders",
        "read:*",
    ];
    let actions = [
        Action::Admin,
        Action::Metrics,
        publish("orders"),
        publish("billing"),
        read("orders"),
        read("billing"),
    ];
    // Rows: scopes; columns: actions, in the order above.
    let expected: [[bool; 6]; 6] = [
        [true, true, true, true, true, true],      // admin
        [false, true, false, false, false, false], // metrics
        [false, false, true, false, false, false], // publish:orders
        [false, false, true, true, false, false],  // publish:*
        [false, false, false, false, true, false], // read:orders
        [false, false, false, false, true, true],  // read:*
    ];
    for (s, row) in scopes.iter().zip(expected) {
        for (a, want) in actions.iter().zip(row) {
            assert_eq!(scope(s).allows(a), want, "{s} / {a:?}");
            let token = Token {
                id: "0123456789ab".into(),
                name: "t".into(),
                scopes: vec![scope(s)],
                created_at: 0,
                expires_at: None,
                origin: TokenOrigin::Api,
            };
            assert_eq!(token.allows(a), want, "token {s} / {a:?}");
        }
    }
    // A token's scopes add up.
    let token = Token {
        id: "0123456789ab".into(),
        name: "t".into(),
        scopes: vec![scope("publish:orders"), scope("read:billing")],
        created_at: 0,
        expires_at: None,
        origin: TokenOrigin::Api,
    };
    assert!(token.allows(&publish("orders")) && token.allows(&read("billing")));
    assert!(!token.allows(&read("orders")) && !token.allows(&publish("billing")));
    // Any scope at all lets a token ask who it is.
    for s in scopes {
        assert!(scope(s).allows(&Action::Authenticated), "{s}");
    }
}

#[test]
fn actions_name_their_scopes() {
    assert_eq!(publish("orders").scope().to_string(), "publish:orders");
    let names: Vec<String> = read("orders")
        .permitting_scopes()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["read:orders", "read:*", "admin"]);
    assert_eq!(
        Action::Metrics.permitting_scopes(),
        [Scope::Metrics, Scope::Admin]
    );
    for a in [
        Action::Admin,
        Action::Metrics,
        publish("x"),
        read("x"),
        Action::Authenticated,
    ] {
        for s in a.permitting_scopes() {
            assert!(s.allows(&a), "{s} should allow {a:?}");
        }
    }
}

// ---- request mapping ----------------------------------------------------------

#[test]
fn request_mapping_table() {
    use Method as M;
    let admin = Some(Action::Admin);
    let cases: Vec<(Method, &str, Option<Action>)> = vec![
        (M::GET, "/healthz", None),
        (M::GET, "/readyz", None),
        (M::HEAD, "/healthz", None),
        // The AWS front checks its callers itself.
        (M::POST, "/", None),
        (M::GET, "/", admin.clone()),
        (M::GET, "/metrics", Some(Action::Metrics)),
        (M::POST, "/metrics", admin.clone()),
        (M::POST, "/v1/buses/orders/events", Some(publish("orders"))),
        (M::GET, "/v1/buses/orders/events", Some(read("orders"))),
        (M::HEAD, "/v1/buses/orders/events", Some(read("orders"))),
        (
            M::GET,
            "/v1/buses/orders/events/order-1001",
            Some(read("orders")),
        ),
        (
            M::GET,
            "/v1/buses/orders/events/order-1001/trace",
            Some(read("orders")),
        ),
        (M::GET, "/v1/buses/orders", Some(read("orders"))),
        (M::GET, "/v1/buses/default", Some(read("default"))),
        (M::PUT, "/v1/buses/orders", admin.clone()),
        (M::DELETE, "/v1/buses/orders", admin.clone()),
        (M::DELETE, "/v1/buses/orders/events", admin.clone()),
        (M::POST, "/v1/buses/orders/events/order-1001", admin.clone()),
        (M::GET, "/v1/buses", Some(Action::Authenticated)),
        (M::POST, "/v1/buses", admin.clone()),
        (M::GET, "/v1/whoami", Some(Action::Authenticated)),
        (M::GET, "/v1/buses/", admin.clone()),
        (M::GET, "/v1/buses/orders/rules", admin.clone()),
        (M::PUT, "/v1/buses/orders/rules/r1", admin.clone()),
        (
            M::GET,
            "/v1/buses/orders/rules/r1/dead-letters",
            admin.clone(),
        ),
        (M::POST, "/v1/buses/orders/replays", admin.clone()),
        (M::GET, "/v1/replays/abc", admin.clone()),
        (M::GET, "/v1/plugins", admin.clone()),
        (M::PUT, "/v1/plugins/p/versions/1", admin.clone()),
        (M::POST, "/v1/test-pattern", Some(Action::Authenticated)),
        (M::GET, "/v1/test-pattern", admin.clone()),
        // The console's files: no token; anything else there is admin's.
        (M::GET, "/console", None),
        (M::GET, "/console/", None),
        (M::HEAD, "/console/v/0123abcd/app.js", None),
        (M::POST, "/console/", admin.clone()),
        (M::GET, "/console/../v1/tokens", admin.clone()),
        (M::GET, "/consoles", admin.clone()),
        (M::GET, "/v1/version", admin.clone()),
        (M::GET, "/v1/tokens", admin.clone()),
        (M::GET, "/", admin.clone()),
        (M::GET, "/unknown", admin.clone()),
        // Judged as sent: odd paths need admin.
        (M::POST, "/v1/buses/%6frders/events", admin.clone()),
        (M::POST, "/v1/buses/Orders/events", admin.clone()),
        (M::GET, "/v1/buses/orders/events/../rules", admin.clone()),
        (M::GET, "/v1/buses/orders/events/./x", admin.clone()),
        (M::POST, "/v1/buses/orders//events", admin.clone()),
        (M::POST, "/v1/buses/orders/events/", admin.clone()),
        (M::GET, "/v1/buses/orders/", admin.clone()),
        (M::GET, "/healthz/", admin.clone()),
        (M::GET, "/V1/buses/orders", admin.clone()),
    ];
    for (method, path, want) in cases {
        assert_eq!(required_action(&method, path), want, "{method} {path}");
    }
}

// ---- token store ----------------------------------------------------------------

#[test]
fn create_and_authenticate() {
    let store = TokenStore::new();
    assert!(store.is_empty());
    let (token, secret) = store
        .create("ci", vec![scope("publish:orders")], None)
        .unwrap();
    assert!(!store.is_empty());
    let text = secret.expose();
    assert!(text.starts_with(&format!("sbx_{}_", token.id)), "{text}");
    assert_eq!(token.id.len(), 12);
    assert_eq!(store.authenticate(text), Some(token.clone()));
    assert_eq!(store.get(&token.id), Some(token.clone()));
    assert_eq!(store.list(), std::slice::from_ref(&token));

    // The constant-time comparison decides: right id, wrong random part.
    let mut forged = text.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(store.check(&forged), Err(AuthFailure::Invalid));
    // Unknown id, malformed, empty, oversized.
    let unknown = format!("sbx_ffffffffffff_{}", &text[17..]);
    let long = "a".repeat(600);
    for bad in [
        unknown.as_str(),
        "sbx_",
        "",
        "Bearer x",
        long.as_str(),
        &text[..text.len() - 1],
    ] {
        assert_eq!(store.authenticate(bad), None, "{bad:?}");
    }
}

#[test]
fn tokens_expire() {
    let store = TokenStore::new();
    let (token, secret) = store
        .create("short", vec![scope("admin")], Some(Duration::from_secs(60)))
        .unwrap();
    let expires = token.expires_at.unwrap();
    assert!(expires - token.created_at == 60_000_000);
    assert!(store.check_at(secret.expose(), expires - 1).is_ok());
    assert_eq!(
        store.check_at(secret.expose(), expires),
        Err(AuthFailure::Expired {
            id: token.id.clone(),
            at: expires
        })
    );
    assert!(token.is_expired_at(expires) && !token.is_expired_at(expires - 1));

    let (_, gone) = store
        .create("zero", vec![scope("admin")], Some(Duration::ZERO))
        .unwrap();
    assert!(matches!(
        store.check(gone.expose()),
        Err(AuthFailure::Expired { .. })
    ));
    // Huge TTLs saturate instead of overflowing.
    let (forever, _) = store
        .create("long", vec![scope("admin")], Some(Duration::MAX))
        .unwrap();
    assert_eq!(forever.expires_at, Some(i64::MAX));

    let purged = store.purge_expired(expires);
    assert_eq!(purged.len(), 2);
    assert!(purged.contains(&token.id));
    assert_eq!(store.list().len(), 1);
}

#[test]
fn revoke() {
    let store = TokenStore::new();
    let (a, secret_a) = store.create("a", vec![scope("admin")], None).unwrap();
    let (b, secret_b) = store.create("b", vec![scope("admin")], None).unwrap();
    assert_eq!(store.revoke(&a.id).unwrap(), a);
    assert_eq!(store.authenticate(secret_a.expose()), None);
    assert_eq!(store.authenticate(secret_b.expose()), Some(b));
    let err = store.revoke(&a.id).unwrap_err();
    assert_eq!(err, AuthError::NotFound { id: a.id.clone() });
    assert!(err.to_string().contains(&a.id));
}

#[test]
fn create_validates_input() {
    let store = TokenStore::new();
    assert!(matches!(
        store.create("", vec![scope("admin")], None),
        Err(AuthError::BadName { .. })
    ));
    assert!(matches!(
        store.create("a\nb", vec![scope("admin")], None),
        Err(AuthError::BadName { .. })
    ));
    assert!(matches!(
        store.create(&"n".repeat(101), vec![scope("admin")], None),
        Err(AuthError::BadName { .. })
    ));
    let err = store.create("x", vec![], None).unwrap_err();
    assert!(err.to_string().contains("no scopes"), "{err}");
    assert!(store.is_empty());
}

#[test]
fn records_round_trip_and_never_hold_secrets() {
    let store = TokenStore::new();
    let (a, secret_a) = store
        .create("a", vec![scope("read:*")], Some(Duration::from_secs(3600)))
        .unwrap();
    let (b, secret_b) = store.create("b", vec![scope("publish:x")], None).unwrap();
    let records = store.records();
    assert_eq!(records.len(), 2);
    let json = serde_json::to_string(&records).unwrap();
    assert!(!json.contains(secret_a.expose()) && !json.contains(&secret_b.expose()[17..]));
    assert!(json.contains(&hash_secret(secret_a.expose())));
    assert_eq!(
        store.record(&a.id).unwrap().hash,
        hash_secret(secret_a.expose())
    );

    let restored = TokenStore::new();
    let back: Vec<TokenRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(restored.load(back).unwrap(), 2);
    assert_eq!(restored.authenticate(secret_a.expose()), Some(a));
    assert_eq!(restored.authenticate(secret_b.expose()), Some(b));
    assert_eq!(restored.records(), records);
}

#[test]
fn load_is_all_or_nothing() {
    let store = TokenStore::new();
    let (_, secret) = store.create("keep", vec![scope("admin")], None).unwrap();
    let other = TokenStore::new();
    other.create("x", vec![scope("admin")], None).unwrap();
    let good = other.records().pop().unwrap();

    let mut bad_hash = good.clone();
    bad_hash.hash = "sha256:xyz".into();
    let mut bad_id = good.clone();
    bad_id.id = "not-an-id".into();
    let mut no_scopes = good.clone();
    no_scopes.scopes.clear();
    for (bad, needle) in [
        (vec![good.clone(), bad_hash], "64 hex digits"),
        (vec![bad_id], "12 lower-case hex digits"),
        (vec![no_scopes], "no scopes"),
        (vec![good.clone(), good.clone()], "appears twice"),
    ] {
        let err = store.load(bad).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
    // Unchanged after the failures.
    assert!(store.authenticate(secret.expose()).is_some());
    // Unknown members in a record are refused.
    let mut v = serde_json::to_value(&good).unwrap();
    v["secret"] = "oops".into();
    assert!(serde_json::from_value::<TokenRecord>(v).is_err());
}

#[test]
fn bootstrap_tokens() {
    let store = TokenStore::new();
    let secret = TokenSecret::generate().unwrap();
    let hashed = hash_secret(secret.expose());
    let from_config = BootstrapToken::from_hash("ops", vec![scope("admin")], &hashed).unwrap();
    let token = store.add_bootstrap(from_config.clone()).unwrap();
    assert_eq!(token.origin, TokenOrigin::Config);
    assert!(token.id.starts_with("config-"), "{}", token.id);
    assert_eq!(store.authenticate(secret.expose()), Some(token.clone()));
    // Not persisted, not revocable, listed.
    assert!(store.records().is_empty());
    assert_eq!(
        store.revoke(&token.id),
        Err(AuthError::NotRevocable {
            id: token.id.clone()
        })
    );
    assert_eq!(store.list(), std::slice::from_ref(&token));
    assert!(matches!(
        store.add_bootstrap(from_config),
        Err(AuthError::DuplicateBootstrap { .. })
    ));
    // Loading API records keeps bootstrap tokens.
    store.load(Vec::new()).unwrap();
    assert!(store.authenticate(secret.expose()).is_some());

    // Any sufficiently long plaintext works, also in the sbx_ shape with an
    // id the store does not know.
    let plain = "correct-horse-battery-staple-0123456789";
    let t = store
        .add_bootstrap(BootstrapToken::from_secret("env", vec![scope("metrics")], plain).unwrap())
        .unwrap();
    assert_eq!(t.origin, TokenOrigin::Env);
    assert_eq!(store.authenticate(plain).unwrap().id, t.id);
    assert!(
        store
            .authenticate("correct-horse-battery-staple-012345678")
            .is_none()
    );

    let err = BootstrapToken::from_secret("weak", vec![scope("admin")], "changeme").unwrap_err();
    assert!(matches!(err, AuthError::WeakSecret { .. }), "{err}");
    let err = BootstrapToken::from_hash("h", vec![scope("admin")], "abc").unwrap_err();
    assert!(err.to_string().contains("sha256:"), "{err}");
}

#[test]
fn bootstrap_from_env() {
    const VAR: &str = "SIGNALBOX_GOV_TEST_BOOTSTRAP_TOKEN";
    assert_eq!(
        BootstrapToken::from_env(VAR, "env", vec![scope("admin")]).unwrap(),
        None
    );
    let secret = TokenSecret::generate().unwrap();
    // SAFETY: no other test reads or writes this variable.
    unsafe { std::env::set_var(VAR, format!("{}\n", secret.expose())) };
    let b = BootstrapToken::from_env(VAR, "env", vec![scope("admin")])
        .unwrap()
        .unwrap();
    let store = TokenStore::new();
    store.add_bootstrap(b).unwrap();
    assert!(store.authenticate(secret.expose()).is_some());
    // SAFETY: as above.
    unsafe { std::env::set_var(VAR, "") };
    assert_eq!(
        BootstrapToken::from_env(VAR, "env", vec![scope("admin")]).unwrap(),
        None
    );
    // SAFETY: as above.
    unsafe { std::env::remove_var(VAR) };
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let store = TokenStore::new();
    let (token, secret) = store.create("t", vec![scope("admin")], None).unwrap();
    let random_part = &secret.expose()[17..];
    let bootstrap =
        BootstrapToken::from_secret("b", vec![scope("admin")], secret.expose()).unwrap();
    let outputs = [
        format!("{secret:?}"),
        format!("{token:?}"),
        format!("{store:?}"),
        format!("{bootstrap:?}"),
        format!("{:?}", store.records()),
        format!("{:?}", store.check(secret.expose())),
        format!("{:?}", store.check(&secret.expose().replace('A', "B"))),
    ];
    for out in &outputs {
        assert!(!out.contains(random_part), "secret leaked: {out}");
    }
    assert_eq!(
        format!("{secret:?}"),
        format!("TokenSecret(sbx_{}_[redacted])", token.id)
    );
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<TokenStore>();
}

// ---- middleware -----------------------------------------------------------------

fn app(store: Arc<TokenStore>) -> Router {
    async fn who(token: Option<axum::Extension<Token>>) -> String {
        token.map_or_else(|| "anonymous".to_owned(), |t| t.0.name)
    }
    Router::new()
        .route("/healthz", get(who))
        .route("/metrics", get(who))
        .route("/v1/buses", get(who))
        .route("/v1/buses/{bus}", get(who).put(who))
        .route("/v1/buses/{bus}/events", get(who).post(who))
        .route("/v1/buses/{bus}/events/{id}/trace", get(who))
        .layer(axum::middleware::from_fn_with_state(store, require_token))
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn problem(&self) -> Value {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{}",
            self.body
        );
        let v: Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(v["status"], self.status.as_u16());
        for member in ["type", "title", "detail"] {
            assert!(v[member].is_string(), "{member} in {v}");
        }
        v
    }

    fn challenge(&self) -> &str {
        self.headers[header::WWW_AUTHENTICATE].to_str().unwrap()
    }
}

async fn call(app: &Router, method: Method, path: &str, auth: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn middleware_401_403_and_pass() {
    let store = Arc::new(TokenStore::new());
    let (_, publisher) = store
        .create("publisher", vec![scope("publish:orders")], None)
        .unwrap();
    let (_, scraper) = store
        .create("scraper", vec![scope("metrics")], None)
        .unwrap();
    let (_, admin) = store.create("root", vec![scope("admin")], None).unwrap();
    let (expired_token, expired) = store
        .create("old", vec![scope("admin")], Some(Duration::ZERO))
        .unwrap();
    let app = app(store.clone());
    let bearer = |s: &TokenSecret| format!("Bearer {}", s.expose());

    // No token needed.
    let r = call(&app, Method::GET, "/healthz", None).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "anonymous"));

    // Missing token.
    let r = call(&app, Method::POST, "/v1/buses/orders/events", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let p = r.problem();
    assert_eq!(p["type"], "urn:signalbox:problem:unauthorized");
    assert_eq!(p["title"], "Unauthorized");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );
    assert_eq!(r.challenge(), "Bearer realm=\"signalbox\"");

    // Wrong scheme, empty token.
    for auth in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   "] {
        let r = call(&app, Method::GET, "/v1/buses/orders", Some(auth)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
        r.problem();
        assert!(
            r.challenge().contains("invalid_request"),
            "{}",
            r.challenge()
        );
    }

    // Unknown secret.
    let r = call(
        &app,
        Method::GET,
        "/v1/buses/orders",
        Some("Bearer sbx_0123456789ab_nope"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("not valid")
    );
    assert!(r.challenge().contains("error=\"invalid_token\""));

    // Expired.
    let r = call(
        &app,
        Method::GET,
        "/v1/buses/orders",
        Some(&bearer(&expired)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let detail = r.problem()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains(&expired_token.id) && detail.contains("expired"),
        "{detail}"
    );

    // Allowed, with the token passed on to the handler; scheme is case-insensitive.
    for auth in [
        bearer(&publisher),
        format!("bearer  {} ", publisher.expose()),
    ] {
        let r = call(&app, Method::POST, "/v1/buses/orders/events", Some(&auth)).await;
        assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "publisher"));
    }

    // Valid but not allowed: 403 naming the scope.
    let r = call(
        &app,
        Method::POST,
        "/v1/buses/billing/events",
        Some(&bearer(&publisher)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let p = r.problem();
    assert_eq!(p["type"], "urn:signalbox:problem:forbidden");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("'publish:billing'"), "{detail}");
    assert!(detail.contains("publisher"), "{detail}");
    assert!(
        r.challenge()
            .contains("error=\"insufficient_scope\", scope=\"publish:billing\"")
    );
    let r = call(
        &app,
        Method::GET,
        "/v1/buses/orders/events",
        Some(&bearer(&publisher)),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "publishing does not imply reading"
    );
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("'read:orders'")
    );
    let r = call(&app, Method::GET, "/metrics", Some(&bearer(&publisher))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.problem()["detail"]
            .as_str()
            .unwrap()
            .contains("'metrics' or 'admin'")
    );

    // Metrics scope.
    let r = call(&app, Method::GET, "/metrics", Some(&bearer(&scraper))).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "scraper"));
    // Any valid token may list buses (the listing shows only those it may
    // read); a scraper may not publish.
    let r = call(&app, Method::GET, "/v1/buses", Some(&bearer(&scraper))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(
        &app,
        Method::POST,
        "/v1/buses/orders/events",
        Some(&bearer(&scraper)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Admin does everything.
    for (m, p) in [
        (Method::GET, "/metrics"),
        (Method::GET, "/v1/buses"),
        (Method::PUT, "/v1/buses/orders"),
        (Method::GET, "/v1/buses/orders/events/x/trace"),
        (Method::POST, "/v1/buses/orders/events"),
    ] {
        let r = call(&app, m.clone(), p, Some(&bearer(&admin))).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (StatusCode::OK, "root"),
            "{m} {p}"
        );
    }

    // Revocation takes effect on the next request (another admin remains:
    // the last one cannot be revoked).
    let (_, other) = store.create("other", vec![Scope::Admin], None).unwrap();
    let id = store.authenticate(admin.expose()).unwrap().id;
    store.revoke(&id).unwrap();
    let r = call(&app, Method::GET, "/v1/buses", Some(&bearer(&admin))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let other_id = store.authenticate(other.expose()).unwrap().id;
    assert_eq!(
        store.revoke(&other_id),
        Err(AuthError::LastAdmin { id: other_id })
    );
}

#[test]
fn enforcement_never_switches_off() {
    let store = TokenStore::new();
    assert!(!store.enforced());
    let (t, _) = store.create("reader", vec![scope("read:*")], None).unwrap();
    assert!(store.enforced());
    // Not an admin: revocable, and the store stays enforced when empty.
    store.revoke(&t.id).unwrap();
    assert!(store.is_empty());
    assert!(store.enforced());
    let loaded = TokenStore::new();
    loaded.load(Vec::new()).unwrap();
    assert!(
        !loaded.enforced(),
        "no records, nothing recorded: still open"
    );
    loaded.enforce();
    assert!(loaded.enforced());
}
