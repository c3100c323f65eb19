//! Tests of webhook verification: providers' published vectors, vectors
//! computed independently with `openssl dgst -hmac`, refusals of every kind,
//! configuration and redaction, `SeenIds`, and property tests.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::*;

// --- helpers ---------------------------------------------------------------

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn from_signed(signed: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
    signed.into_iter().collect()
}

fn value<'a>(map: &'a HeaderMap, name: &str) -> &'a str {
    map.get(name).unwrap().to_str().unwrap()
}

fn verifier(config: VerifyConfig) -> Verifier {
    Verifier::new(&config).unwrap()
}

fn config(json: &str) -> VerifyConfig {
    serde_json::from_str(json).unwrap()
}

fn config_err(config: VerifyConfig) -> ConfigError {
    Verifier::new(&config).unwrap_err()
}

fn mismatch(header: &str) -> VerifyError {
    VerifyError::SignatureMismatch {
        header: header.to_owned(),
    }
}

fn missing(header: &str) -> VerifyError {
    VerifyError::MissingHeader {
        header: header.to_owned(),
    }
}

fn malformed_header(err: VerifyError) -> String {
    match err {
        VerifyError::MalformedHeader { header, .. } => header,
        other => panic!("expected a malformed header, got {other:?}"),
    }
}

/// Flips bits of one character of `s` (ASCII) so that it stays a valid
/// header value.
fn flip_char(s: &str, at: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[at] = if b[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

// --- GitHub ----------------------------------------------------------------

const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &[u8] = b"Hello, World!";
/// docs.github.com, "Validating webhook deliveries", worked example.
const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const GH_DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

#[test]
fn github_docs_example_verifies() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let h = headers(&[
        ("X-Hub-Signature-256", GH_SIG),
        ("X-GitHub-Delivery", GH_DELIVERY),
    ]);
    let ok = v.verify(&h, GH_BODY, 0).unwrap();
    assert_eq!(ok.id.as_deref(), Some(GH_DELIVERY));
    assert!(!ok.id_signed, "GitHub does not sign the delivery id");
    assert_eq!(ok.timestamp, None);
    assert_eq!(ok.replay_until, None);
    assert_eq!(
        ok.replay_key,
        "mac:757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    // No timestamp: any clock is fine.
    assert!(v.verify(&h, GH_BODY, i64::MAX).is_ok());
    assert!(v.verify(&h, GH_BODY, i64::MIN).is_ok());
}

#[test]
fn github_sign_reproduces_docs_example() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let h = from_signed(v.sign(GH_BODY, 0, Some(GH_DELIVERY)).unwrap());
    assert_eq!(value(&h, "x-hub-signature-256"), GH_SIG);
    assert_eq!(value(&h, "x-github-delivery"), GH_DELIVERY);
    let h = from_signed(v.sign(GH_BODY, 0, None).unwrap());
    assert_eq!(h.len(), 1);
}

#[test]
fn github_accepts_uppercase_hex_and_no_delivery_id() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let upper = format!("sha256={}", GH_SIG["sha256=".len()..].to_ascii_uppercase());
    let ok = v
        .verify(&headers(&[("x-hub-signature-256", &upper)]), GH_BODY, 0)
        .unwrap();
    assert_eq!(ok.id, None);
}

#[test]
fn github_refuses_wrong_body_secret_and_formats() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let good = headers(&[("X-Hub-Signature-256", GH_SIG)]);
    assert_eq!(
        v.verify(&good, b"Hello, World?", 0),
        Err(mismatch("X-Hub-Signature-256"))
    );
    assert_eq!(
        v.verify(&good, b"", 0),
        Err(mismatch("X-Hub-Signature-256"))
    );
    let other = verifier(VerifyConfig::github("It's a Secret to Everybody!"));
    assert_eq!(
        other.verify(&good, GH_BODY, 0),
        Err(mismatch("X-Hub-Signature-256"))
    );

    assert_eq!(
        v.verify(&HeaderMap::new(), GH_BODY, 0),
        Err(missing("X-Hub-Signature-256"))
    );
    // The legacy SHA-1 header is never used, even if right.
    let sha1 = headers(&[(
        "X-Hub-Signature",
        "sha1=0000000000000000000000000000000000000000",
    )]);
    assert_eq!(
        v.verify(&sha1, GH_BODY, 0),
        Err(missing("X-Hub-Signature-256"))
    );

    let hex = &GH_SIG["sha256=".len()..];
    for bad in [
        hex.to_owned(),                              // no prefix
        format!("sha1={hex}"),                       // wrong prefix
        format!("SHA256={hex}"),                     // prefix is case-sensitive
        format!("sha256={}", &hex[1..]),             // 63 digits
        format!("sha256={hex}0"),                    // 65 digits
        format!("sha256={}g", &hex[1..]),            // not hex
        format!("sha256= {hex}"),                    // stray space
        "sha256=".to_owned(),                        // empty
        format!("sha256={hex}{}", "0".repeat(5000)), // too long
    ] {
        let err = v
            .verify(&headers(&[("X-Hub-Signature-256", &bad)]), GH_BODY, 0)
            .unwrap_err();
        assert_eq!(malformed_header(err), "X-Hub-Signature-256", "{bad}");
    }
    // Sent twice: refused rather than guessed at, even if one is right.
    let twice = headers(&[
        ("X-Hub-Signature-256", GH_SIG),
        ("X-Hub-Signature-256", GH_SIG),
    ]);
    assert_eq!(
        v.verify(&twice, GH_BODY, 0),
        Err(VerifyError::MalformedHeader {
            header: "X-Hub-Signature-256".into(),
            reason: "sent more than once",
        })
    );
    // A malformed delivery id is reported, not silently dropped.
    let long_id = "a".repeat(MAX_ID_LEN + 1);
    let h = headers(&[
        ("X-Hub-Signature-256", GH_SIG),
        ("X-GitHub-Delivery", &long_id),
    ]);
    assert_eq!(
        malformed_header(v.verify(&h, GH_BODY, 0).unwrap_err()),
        "X-GitHub-Delivery"
    );
}

#[test]
fn github_non_ascii_header_is_malformed() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let mut h = HeaderMap::new();
    h.insert(
        "x-hub-signature-256",
        HeaderValue::from_bytes("sha256=é".as_bytes()).unwrap(),
    );
    assert_eq!(
        v.verify(&h, GH_BODY, 0),
        Err(VerifyError::MalformedHeader {
            header: "X-Hub-Signature-256".into(),
            reason: "not visible ASCII",
        })
    );
}

// --- Stripe ----------------------------------------------------------------

const STRIPE_SECRET: &str = "whsec_test_0123456789abcdefghijklmn";
const STRIPE_BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
const STRIPE_TS: i64 = 1_700_000_000;
/// `printf '1700000000.{body}' | openssl dgst -sha256 -hmac "$STRIPE_SECRET"`.
const STRIPE_V1: &str = "f44154fbd8d8d204733c2e2dcd561ec072f6d5d0ac901a256edec062770863b2";
const WRONG_HEX: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn stripe_header(v: &str) -> HeaderMap {
    headers(&[("Stripe-Signature", v)])
}

#[test]
fn stripe_known_answer_and_sign() {
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let h = stripe_header(&format!("t={STRIPE_TS},v1={STRIPE_V1}"));
    let ok = v.verify(&h, STRIPE_BODY, STRIPE_TS).unwrap();
    assert_eq!(ok.timestamp, Some(STRIPE_TS));
    assert_eq!(ok.id, None);
    assert_eq!(ok.replay_until, Some(STRIPE_TS + 300));
    assert_eq!(ok.replay_key, format!("mac:{STRIPE_V1}"));

    let signed = from_signed(v.sign(STRIPE_BODY, STRIPE_TS, None).unwrap());
    assert_eq!(
        value(&signed, "stripe-signature"),
        format!("t={STRIPE_TS},v1={STRIPE_V1}")
    );
}

#[test]
fn stripe_any_v1_may_match_and_other_schemes_are_ignored() {
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    for header in [
        format!("t={STRIPE_TS},v1={WRONG_HEX},v1={STRIPE_V1}"),
        format!("t={STRIPE_TS},v1={STRIPE_V1},v1={WRONG_HEX}"),
        format!("v1={WRONG_HEX},v1={STRIPE_V1},t={STRIPE_TS},v0={WRONG_HEX}"),
        // The shape of a test-mode header: a fake v0 next to the real v1.
        format!("t={STRIPE_TS},v1={STRIPE_V1},v0={WRONG_HEX}"),
        // Tolerated: spaces around elements, unknown and bare elements.
        format!("t={STRIPE_TS}, v1={STRIPE_V1}, x=1, junk"),
    ] {
        assert!(
            v.verify(&stripe_header(&header), STRIPE_BODY, STRIPE_TS)
                .is_ok(),
            "{header}"
        );
    }
    // Only wrong v1s.
    let h = stripe_header(&format!("t={STRIPE_TS},v1={WRONG_HEX},v1={WRONG_HEX}"));
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS),
        Err(mismatch("Stripe-Signature"))
    );
    // A right MAC under another scheme name is never accepted (downgrade).
    let h = stripe_header(&format!("t={STRIPE_TS},v1={WRONG_HEX},v0={STRIPE_V1}"));
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS),
        Err(mismatch("Stripe-Signature"))
    );
    let h = stripe_header(&format!("t={STRIPE_TS},v0={STRIPE_V1}"));
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS),
        Err(VerifyError::MalformedHeader {
            header: "Stripe-Signature".into(),
            reason: "no v1= signature",
        })
    );
}

#[test]
fn stripe_refuses_changed_body_timestamp_or_secret() {
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let good = stripe_header(&format!("t={STRIPE_TS},v1={STRIPE_V1}"));
    assert_eq!(
        v.verify(&good, br#"{"id":"evt_2","object":"event"}"#, STRIPE_TS),
        Err(mismatch("Stripe-Signature"))
    );
    let moved = stripe_header(&format!("t={},v1={STRIPE_V1}", STRIPE_TS + 1));
    assert_eq!(
        v.verify(&moved, STRIPE_BODY, STRIPE_TS),
        Err(mismatch("Stripe-Signature"))
    );
    let other = verifier(VerifyConfig::stripe("whsec_test_0123456789abcdefghijklmN"));
    assert_eq!(
        other.verify(&good, STRIPE_BODY, STRIPE_TS),
        Err(mismatch("Stripe-Signature"))
    );
}

#[test]
fn stripe_tolerance_both_ways_with_inclusive_bounds() {
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let h = stripe_header(&format!("t={STRIPE_TS},v1={STRIPE_V1}"));
    assert!(v.verify(&h, STRIPE_BODY, STRIPE_TS + 300).is_ok());
    assert!(v.verify(&h, STRIPE_BODY, STRIPE_TS - 300).is_ok());
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS + 301),
        Err(VerifyError::TimestampTooOld {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS - 301),
        Err(VerifyError::TimestampInFuture {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
    // Extreme clocks neither panic nor pass.
    assert!(matches!(
        v.verify(&h, STRIPE_BODY, i64::MAX),
        Err(VerifyError::TimestampTooOld { .. })
    ));
    assert!(matches!(
        v.verify(&h, STRIPE_BODY, i64::MIN),
        Err(VerifyError::TimestampInFuture { .. })
    ));

    let wide = verifier(config(&format!(
        r#"{{"scheme": "stripe", "secret": "{STRIPE_SECRET}", "tolerance": "10m"}}"#
    )));
    assert_eq!(wide.tolerance_secs(), Some(600));
    assert!(wide.verify(&h, STRIPE_BODY, STRIPE_TS + 600).is_ok());
    assert!(wide.verify(&h, STRIPE_BODY, STRIPE_TS + 601).is_err());
    assert_eq!(
        wide.verify(&h, STRIPE_BODY, STRIPE_TS)
            .unwrap()
            .replay_until,
        Some(STRIPE_TS + 600)
    );
}

#[test]
fn stripe_signature_checked_before_timestamp() {
    // A forged request with a stale timestamp is a mismatch, so "too old"
    // is only ever said of a genuine request.
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let h = stripe_header(&format!("t={STRIPE_TS},v1={WRONG_HEX}"));
    assert_eq!(
        v.verify(&h, STRIPE_BODY, STRIPE_TS + 10_000),
        Err(mismatch("Stripe-Signature"))
    );
}

#[test]
fn stripe_malformed_headers() {
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let cases = [
        (format!("v1={STRIPE_V1}"), "no t= element"),
        (
            format!("t={STRIPE_TS},t={STRIPE_TS},v1={STRIPE_V1}"),
            "more than one t= element",
        ),
        (
            format!("t=abc,v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (
            format!("t=0{STRIPE_TS},v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (
            format!("t=-{STRIPE_TS},v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (
            format!("t=+{STRIPE_TS},v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (
            format!("t={STRIPE_TS}000,v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (
            format!("t=,v1={STRIPE_V1}"),
            "t is not a Unix time in seconds",
        ),
        (format!("t={STRIPE_TS}"), "no v1= signature"),
        (
            format!("t={STRIPE_TS},v1={}", &STRIPE_V1[2..]),
            "a v1 signature is not 64 hex digits",
        ),
        (
            format!("t={STRIPE_TS},v1={STRIPE_V1},v1=zz"),
            "a v1 signature is not 64 hex digits",
        ),
    ];
    for (header, reason) in cases {
        assert_eq!(
            v.verify(&stripe_header(&header), STRIPE_BODY, STRIPE_TS),
            Err(VerifyError::MalformedHeader {
                header: "Stripe-Signature".into(),
                reason
            }),
            "{header}"
        );
    }
    assert_eq!(
        v.verify(&HeaderMap::new(), STRIPE_BODY, STRIPE_TS),
        Err(missing("Stripe-Signature"))
    );
}

#[test]
fn stripe_secret_must_be_a_signing_secret() {
    let err = config_err(VerifyConfig::stripe("sk_live_0123456789abcdefghijkl"));
    assert_eq!(err.field, "verify.secret");
    assert!(err.detail.contains("whsec_"), "{err}");
}

// --- Slack -----------------------------------------------------------------

/// docs.slack.dev, "Verifying requests from Slack", worked example.
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: i64 = 1_531_420_618;
const SLACK_BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn slack_headers(ts: &str, sig: &str) -> HeaderMap {
    headers(&[
        ("X-Slack-Request-Timestamp", ts),
        ("X-Slack-Signature", sig),
    ])
}

#[test]
fn slack_docs_example_verifies_and_signs() {
    let v = verifier(VerifyConfig::slack(SLACK_SECRET));
    let h = slack_headers(&SLACK_TS.to_string(), SLACK_SIG);
    let ok = v.verify(&h, SLACK_BODY, SLACK_TS + 60).unwrap();
    assert_eq!(ok.timestamp, Some(SLACK_TS));
    assert_eq!(ok.id, None);

    let signed = from_signed(v.sign(SLACK_BODY, SLACK_TS, None).unwrap());
    assert_eq!(value(&signed, "x-slack-signature"), SLACK_SIG);
    assert_eq!(value(&signed, "x-slack-request-timestamp"), "1531420618");
}

#[test]
fn slack_refusals() {
    let v = verifier(VerifyConfig::slack(SLACK_SECRET));
    let ts = SLACK_TS.to_string();
    let h = slack_headers(&ts, SLACK_SIG);
    assert_eq!(
        v.verify(&h, b"token=other", SLACK_TS),
        Err(mismatch("X-Slack-Signature"))
    );
    assert_eq!(
        v.verify(
            &slack_headers(&(SLACK_TS + 1).to_string(), SLACK_SIG),
            SLACK_BODY,
            SLACK_TS
        ),
        Err(mismatch("X-Slack-Signature"))
    );
    assert_eq!(
        v.verify(&h, SLACK_BODY, SLACK_TS + 301),
        Err(VerifyError::TimestampTooOld {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        v.verify(&h, SLACK_BODY, SLACK_TS - 1000),
        Err(VerifyError::TimestampInFuture {
            ahead_secs: 1000,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        v.verify(
            &headers(&[("X-Slack-Signature", SLACK_SIG)]),
            SLACK_BODY,
            SLACK_TS
        ),
        Err(missing("X-Slack-Request-Timestamp"))
    );
    assert_eq!(
        v.verify(
            &headers(&[("X-Slack-Request-Timestamp", &ts)]),
            SLACK_BODY,
            SLACK_TS
        ),
        Err(missing("X-Slack-Signature"))
    );
    let v1 = SLACK_SIG.replacen("v0=", "v1=", 1);
    assert_eq!(
        malformed_header(
            v.verify(&slack_headers(&ts, &v1), SLACK_BODY, SLACK_TS)
                .unwrap_err()
        ),
        "X-Slack-Signature"
    );
    for bad_ts in [
        "1531420618.5",
        " 1531420618x",
        "01531420618",
        "1531420618000",
        "-1",
    ] {
        assert_eq!(
            v.verify(&slack_headers(bad_ts, SLACK_SIG), SLACK_BODY, SLACK_TS),
            Err(VerifyError::MalformedHeader {
                header: "X-Slack-Request-Timestamp".into(),
                reason: "not a Unix time in seconds"
            }),
            "{bad_ts}"
        );
    }
    assert_eq!(
        malformed_header(
            v.verify(
                &slack_headers(&"9".repeat(40), SLACK_SIG),
                SLACK_BODY,
                SLACK_TS
            )
            .unwrap_err()
        ),
        "X-Slack-Request-Timestamp"
    );
}

// --- Standard Webhooks -----------------------------------------------------

/// The JavaScript reference library's `sign` test.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: i64 = 1_614_265_330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
/// The Rust reference library's `test_sign`.
const SW2_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SW2_ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const SW2_TS: i64 = 1_649_367_553;
const SW2_BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
const SW2_SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
/// Signatures from the reference libraries' multi-signature tests; none is
/// valid for SW_BODY.
const SW_OTHER: [&str; 3] = [
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
    "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
];

fn sw_headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
    headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", sig),
    ])
}

#[test]
fn standard_webhooks_reference_vectors() {
    for (secret, id, ts, body, sig) in [
        (SW_SECRET, SW_ID, SW_TS, SW_BODY, SW_SIG),
        (SW2_SECRET, SW2_ID, SW2_TS, SW2_BODY, SW2_SIG),
    ] {
        let v = verifier(VerifyConfig::standard_webhooks(secret));
        let signed = from_signed(v.sign(body, ts, Some(id)).unwrap());
        assert_eq!(value(&signed, "webhook-signature"), sig);
        assert_eq!(value(&signed, "webhook-id"), id);
        assert_eq!(value(&signed, "webhook-timestamp"), ts.to_string());
        let ok = v.verify(&signed, body, ts).unwrap();
        assert_eq!(ok.id.as_deref(), Some(id));
        assert!(ok.id_signed);
        assert_eq!(ok.timestamp, Some(ts));
        assert_eq!(ok.replay_until, Some(ts + 300));
        let mac = STANDARD.decode(&sig[3..]).unwrap();
        assert_eq!(ok.replay_key, format!("mac:{}", hex::encode(mac)));
    }
}

#[test]
fn standard_webhooks_secret_with_or_without_prefix() {
    let bare = SW_SECRET.strip_prefix("whsec_").unwrap();
    let v = verifier(VerifyConfig::standard_webhooks(bare));
    assert!(
        v.verify(&sw_headers(SW_ID, SW_TS, SW_SIG), SW_BODY, SW_TS)
            .is_ok()
    );
    // Unpadded base64 secrets decode to the same key.
    let unpadded = format!("whsec_{}", STANDARD_NO_PAD.encode(b"0123456789abcdefghij"));
    let padded = format!("whsec_{}", STANDARD.encode(b"0123456789abcdefghij"));
    assert_ne!(unpadded, padded);
    let a = verifier(VerifyConfig::standard_webhooks(&unpadded));
    let b = verifier(VerifyConfig::standard_webhooks(&padded));
    assert_eq!(
        a.sign(SW_BODY, SW_TS, Some(SW_ID)).unwrap(),
        b.sign(SW_BODY, SW_TS, Some(SW_ID)).unwrap()
    );
}

#[test]
fn standard_webhooks_multiple_signatures() {
    let v = verifier(VerifyConfig::standard_webhooks(SW_SECRET));
    let v1a = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";
    // The valid MAC under another version tag must not count.
    let v2_valid = SW_SIG.replacen("v1,", "v2,", 1);
    for sig in [
        format!("{} {} {SW_SIG} {}", SW_OTHER[0], SW_OTHER[1], SW_OTHER[2]),
        format!("{SW_SIG} {}", SW_OTHER[0]),
        format!("{v1a} {SW_SIG}"),
        format!("{v2_valid} {} {SW_SIG}", SW_OTHER[1]),
        format!("  {SW_SIG}  "),
        // Unpadded base64 is accepted.
        SW_SIG.trim_end_matches('=').to_owned(),
    ] {
        assert!(
            v.verify(&sw_headers(SW_ID, SW_TS, &sig), SW_BODY, SW_TS)
                .is_ok(),
            "{sig}"
        );
    }
    let none_valid = SW_OTHER.join(" ");
    assert_eq!(
        v.verify(&sw_headers(SW_ID, SW_TS, &none_valid), SW_BODY, SW_TS),
        Err(mismatch("webhook-signature"))
    );
    let only_other_versions = format!("{v1a} {v2_valid}");
    assert_eq!(
        v.verify(
            &sw_headers(SW_ID, SW_TS, &only_other_versions),
            SW_BODY,
            SW_TS
        ),
        Err(VerifyError::MalformedHeader {
            header: "webhook-signature".into(),
            reason: "no v1 signature"
        })
    );
    for bad in [
        "v1,dawfeoifkpqwoekfpqoekf".to_owned(), // from the reference tests
        "v1,".to_owned(),
        format!("{SW_SIG} v1,!!!!"),
        SW_SIG.replacen('=', "A", 1), // non-canonical: 33 bytes' worth
    ] {
        assert_eq!(
            malformed_header(
                v.verify(&sw_headers(SW_ID, SW_TS, &bad), SW_BODY, SW_TS)
                    .unwrap_err()
            ),
            "webhook-signature",
            "{bad}"
        );
    }
}

#[test]
fn standard_webhooks_refusals() {
    let v = verifier(VerifyConfig::standard_webhooks(SW_SECRET));
    let good = sw_headers(SW_ID, SW_TS, SW_SIG);
    assert_eq!(
        v.verify(&good, br#"{"test": 2432232315}"#, SW_TS),
        Err(mismatch("webhook-signature"))
    );
    assert_eq!(
        v.verify(
            &sw_headers("msg_p5jXN8AQM9LWM0D4loKWxJeK", SW_TS, SW_SIG),
            SW_BODY,
            SW_TS
        ),
        Err(mismatch("webhook-signature"))
    );
    assert_eq!(
        v.verify(&sw_headers(SW_ID, SW_TS + 1, SW_SIG), SW_BODY, SW_TS),
        Err(mismatch("webhook-signature"))
    );
    assert_eq!(
        v.verify(&good, SW_BODY, SW_TS + 301),
        Err(VerifyError::TimestampTooOld {
            age_secs: 301,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        v.verify(&good, SW_BODY, SW_TS - 301),
        Err(VerifyError::TimestampInFuture {
            ahead_secs: 301,
            tolerance_secs: 300
        })
    );
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = good.clone();
        h.remove(name);
        assert_eq!(v.verify(&h, SW_BODY, SW_TS), Err(missing(name)));
    }
    let h = sw_headers(SW_ID, SW_TS, SW_SIG);
    let mut h2 = h.clone();
    h2.insert("webhook-timestamp", HeaderValue::from_static("hello"));
    assert_eq!(
        malformed_header(v.verify(&h2, SW_BODY, SW_TS).unwrap_err()),
        "webhook-timestamp"
    );
    // A '.' would make "{id}.{ts}.{body}" ambiguous; the spec forbids it.
    let dotted = sw_headers("msg.1", SW_TS, SW_SIG);
    assert_eq!(
        malformed_header(v.verify(&dotted, SW_BODY, SW_TS).unwrap_err()),
        "webhook-id"
    );
    let long = sw_headers(&"m".repeat(MAX_ID_LEN + 1), SW_TS, SW_SIG);
    assert_eq!(
        malformed_header(v.verify(&long, SW_BODY, SW_TS).unwrap_err()),
        "webhook-id"
    );
}

#[test]
fn standard_webhooks_svix_headers() {
    let v = verifier(VerifyConfig::standard_webhooks(SW_SECRET));
    let svix = headers(&[
        ("svix-id", SW_ID),
        ("svix-timestamp", &SW_TS.to_string()),
        ("svix-signature", SW_SIG),
    ]);
    assert_eq!(
        v.verify(&svix, SW_BODY, SW_TS).unwrap().id.as_deref(),
        Some(SW_ID)
    );
    // Both families: webhook-* wins, and a wrong one is not rescued.
    let mut both = svix.clone();
    both.insert("webhook-id", HeaderValue::from_static(SW_ID));
    both.insert("webhook-timestamp", HeaderValue::from_static("1614265330"));
    both.insert("webhook-signature", HeaderValue::from_static(SW_OTHER[0]));
    assert_eq!(
        v.verify(&both, SW_BODY, SW_TS),
        Err(mismatch("webhook-signature"))
    );
    // Never a mix of families.
    let mixed = headers(&[
        ("svix-id", SW_ID),
        ("svix-timestamp", &SW_TS.to_string()),
        ("webhook-signature", SW_SIG),
    ]);
    assert_eq!(v.verify(&mixed, SW_BODY, SW_TS), Err(missing("webhook-id")));
    assert_eq!(
        v.verify(&HeaderMap::new(), SW_BODY, SW_TS),
        Err(missing("webhook-signature"))
    );
}

#[test]
fn standard_webhooks_secret_rules() {
    for (secret, needle) in [
        ("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "asymmetric"),
        ("whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "asymmetric"),
        ("whsec_not base64!", "base64"),
        ("whsec_MDEyMzQ1Njc4OWFiY2Rl", "too short"), // 15 bytes
    ] {
        let err = config_err(VerifyConfig::standard_webhooks(secret));
        assert_eq!(err.field, "verify.secret");
        assert!(err.detail.contains(needle), "{secret}: {err}");
    }
    // 16 bytes is enough.
    let sixteen = format!("whsec_{}", STANDARD.encode(b"0123456789abcdef"));
    assert!(VerifyConfig::standard_webhooks(&sixteen).validate().is_ok());
}

#[test]
fn standard_webhooks_sign_needs_a_clean_id() {
    let v = verifier(VerifyConfig::standard_webhooks(SW_SECRET));
    assert_eq!(
        v.sign(SW_BODY, SW_TS, None),
        Err(SignError::IdRequired {
            scheme: "standard-webhooks"
        })
    );
    for id in ["", "a.b", " id", "id\n", "é"] {
        assert_eq!(
            v.sign(SW_BODY, SW_TS, Some(id)),
            Err(SignError::InvalidId),
            "{id:?}"
        );
    }
    assert_eq!(
        v.sign(SW_BODY, -1, Some(SW_ID)),
        Err(SignError::InvalidTimestamp)
    );
    assert_eq!(
        v.sign(SW_BODY, 1_000_000_000_000, Some(SW_ID)),
        Err(SignError::InvalidTimestamp)
    );
}

// --- generic HMAC ----------------------------------------------------------

const GEN_SECRET: &str = "generic-secret-0123456789";
const GEN_BODY: &[u8] = br#"{"hello":"world"}"#;

/// `printf '{"hello":"world"}' | openssl dgst -<alg> -hmac "$GEN_SECRET"`,
/// as hex and (with `-binary | base64`) as base64.
const GEN_VECTORS: [(Algorithm, &str, &str); 3] = [
    (
        Algorithm::Sha1,
        "c31eaaf2d6f3b980dae413abe5f054706b6de62e",
        "wx6q8tbzuYDa5BOr5fBUcGtt5i4=",
    ),
    (
        Algorithm::Sha256,
        "5cfd11aceb53f786cb6dd9825d873fec3616acd2bcf907acda30fb2ccf27af71",
        "XP0RrOtT94bLbdmCXYc/7DYWrNK8+Qes2jD7LM8nr3E=",
    ),
    (
        Algorithm::Sha512,
        "d5e7eb1b34b7ca040dba20e6867d1ebb7d75d5af817ef9c63f24f384bf3defbb76ae35bce0f1ec75deb1e5ad3f5ccda7fdcdafba42cca43fdfedd16c96fb921a",
        "1efrGzS3ygQNuiDmhn0eu3111a+BfvnGPyTzhL8977t2rjW84PHsdd6x5a0/XM2n/c2vukLMpD/f7dFslvuSGg==",
    ),
];

fn hmac_config(algorithm: Algorithm, encoding: Encoding, prefix: Option<&str>) -> VerifyConfig {
    VerifyConfig::Hmac(HmacConfig {
        algorithm,
        encoding,
        prefix: prefix.map(str::to_owned),
        ..HmacConfig::new("X-Signature", GEN_SECRET)
    })
}

#[test]
fn hmac_every_algorithm_and_encoding_known_answers() {
    for (algorithm, hex_mac, b64_mac) in GEN_VECTORS {
        for (encoding, encoded) in [(Encoding::Hex, hex_mac), (Encoding::Base64, b64_mac)] {
            for prefix in [None, Some("sha=")] {
                let v = verifier(hmac_config(algorithm, encoding, prefix));
                let header = format!("{}{encoded}", prefix.unwrap_or(""));
                let h = headers(&[("X-Signature", &header)]);
                let ok = v.verify(&h, GEN_BODY, 0).unwrap();
                assert_eq!(ok.replay_key, format!("mac:{hex_mac}"));
                assert_eq!(ok.timestamp, None);
                // sign produces exactly the vector.
                let signed = from_signed(v.sign(GEN_BODY, 0, None).unwrap());
                assert_eq!(value(&signed, "x-signature"), header);
                // And refuses another body.
                assert_eq!(
                    v.verify(&h, b"{}", 0),
                    Err(mismatch("X-Signature")),
                    "{algorithm:?} {encoding:?}"
                );
                // The prefix is required when configured.
                if prefix.is_some() {
                    let bare = headers(&[("X-Signature", encoded)]);
                    assert_eq!(
                        v.verify(&bare, GEN_BODY, 0),
                        Err(VerifyError::MalformedHeader {
                            header: "X-Signature".into(),
                            reason: "does not start with the configured prefix"
                        })
                    );
                }
            }
        }
    }
}

#[test]
fn hmac_refuses_signatures_of_the_wrong_algorithm_or_encoding() {
    let [sha1, sha256, _] = GEN_VECTORS;
    // A SHA-1 MAC where SHA-256 is configured: wrong length, malformed.
    let v = verifier(hmac_config(Algorithm::Sha256, Encoding::Hex, None));
    let err = v
        .verify(&headers(&[("X-Signature", sha1.1)]), GEN_BODY, 0)
        .unwrap_err();
    assert_eq!(malformed_header(err), "X-Signature");
    // Base64 where hex is configured.
    let err = v
        .verify(&headers(&[("X-Signature", sha256.2)]), GEN_BODY, 0)
        .unwrap_err();
    assert_eq!(malformed_header(err), "X-Signature");
    // Hex where base64 is configured.
    let v = verifier(hmac_config(Algorithm::Sha256, Encoding::Base64, None));
    let err = v
        .verify(&headers(&[("X-Signature", sha256.1)]), GEN_BODY, 0)
        .unwrap_err();
    assert_eq!(malformed_header(err), "X-Signature");
    // Unpadded base64 is fine.
    let unpadded = sha256.2.trim_end_matches('=');
    assert!(
        v.verify(&headers(&[("X-Signature", unpadded)]), GEN_BODY, 0)
            .is_ok()
    );
    assert_eq!(
        v.verify(&HeaderMap::new(), GEN_BODY, 0),
        Err(missing("X-Signature"))
    );
}

fn timed_hmac() -> VerifyConfig {
    config(&format!(
        r#"{{"scheme": "hmac", "secret": "{GEN_SECRET}", "header": "X-Sig",
            "timestamp_header": "X-Ts", "tolerance": "2m", "id_header": "X-Id",
            "payload": "{{id}}:{{timestamp}}:{{body}}"}}"#
    ))
}

#[test]
fn hmac_template_with_timestamp_and_id() {
    let v = verifier(timed_hmac());
    assert_eq!(v.tolerance_secs(), Some(120));
    // `printf 'evt-42:1700000000:{body}' | openssl dgst -sha256 -hmac …`
    let mac = "e9666bd95d5ac9ca7b03ab9892e16ea6adf309e8665781c8d9f73e4d0477a03e";
    let h = headers(&[("X-Sig", mac), ("X-Ts", "1700000000"), ("X-Id", "evt-42")]);
    let ok = v.verify(&h, GEN_BODY, 1_700_000_000).unwrap();
    assert_eq!(ok.id.as_deref(), Some("evt-42"));
    assert!(ok.id_signed);
    assert_eq!(ok.timestamp, Some(1_700_000_000));
    assert_eq!(ok.replay_until, Some(1_700_000_120));

    let signed = from_signed(v.sign(GEN_BODY, 1_700_000_000, Some("evt-42")).unwrap());
    assert_eq!(signed, h);

    let other_id = headers(&[("X-Sig", mac), ("X-Ts", "1700000000"), ("X-Id", "evt-43")]);
    assert_eq!(
        v.verify(&other_id, GEN_BODY, 1_700_000_000),
        Err(mismatch("X-Sig"))
    );
    let other_ts = headers(&[("X-Sig", mac), ("X-Ts", "1700000001"), ("X-Id", "evt-42")]);
    assert_eq!(
        v.verify(&other_ts, GEN_BODY, 1_700_000_000),
        Err(mismatch("X-Sig"))
    );
    assert_eq!(
        v.verify(&h, GEN_BODY, 1_700_000_121),
        Err(VerifyError::TimestampTooOld {
            age_secs: 121,
            tolerance_secs: 120
        })
    );
    let no_id = headers(&[("X-Sig", mac), ("X-Ts", "1700000000")]);
    assert_eq!(
        v.verify(&no_id, GEN_BODY, 1_700_000_000),
        Err(missing("X-Id"))
    );
    let no_ts = headers(&[("X-Sig", mac), ("X-Id", "evt-42")]);
    assert_eq!(
        v.verify(&no_ts, GEN_BODY, 1_700_000_000),
        Err(missing("X-Ts"))
    );
    // ':' separates the signed parts, so it may not appear in the id.
    let colon = headers(&[("X-Sig", mac), ("X-Ts", "1700000000"), ("X-Id", "evt:42")]);
    assert_eq!(
        malformed_header(v.verify(&colon, GEN_BODY, 1_700_000_000).unwrap_err()),
        "X-Id"
    );
    assert_eq!(
        v.sign(GEN_BODY, 1_700_000_000, Some("evt:42")),
        Err(SignError::InvalidId)
    );
    assert_eq!(
        v.sign(GEN_BODY, 1_700_000_000, None),
        Err(SignError::IdRequired { scheme: "hmac" })
    );
}

#[test]
fn hmac_unsigned_id_is_optional_and_marked() {
    let cfg = VerifyConfig::Hmac(HmacConfig {
        id_header: Some("X-Delivery".into()),
        ..HmacConfig::new("X-Signature", GEN_SECRET)
    });
    let v = verifier(cfg);
    let sha256 = GEN_VECTORS[1].1;
    let ok = v
        .verify(
            &headers(&[("X-Signature", sha256), ("X-Delivery", "a.b:c")]),
            GEN_BODY,
            0,
        )
        .unwrap();
    assert_eq!(ok.id.as_deref(), Some("a.b:c"));
    assert!(!ok.id_signed);
    let ok = v
        .verify(&headers(&[("X-Signature", sha256)]), GEN_BODY, 0)
        .unwrap();
    assert_eq!(ok.id, None);
    let signed = from_signed(v.sign(GEN_BODY, 0, Some("d-1")).unwrap());
    assert_eq!(value(&signed, "x-delivery"), "d-1");
}

#[test]
fn hmac_literal_prefix_of_template_is_not_a_separator() {
    // Only literals between placeholders separate; "v1:" in front does not
    // constrain the id.
    let cfg = VerifyConfig::Hmac(HmacConfig {
        id_header: Some("X-Id".into()),
        payload: Some("v1:{id}.{body}".into()),
        ..HmacConfig::new("X-Signature", GEN_SECRET)
    });
    let v = verifier(cfg);
    let h = from_signed(v.sign(GEN_BODY, 0, Some("v1:x")).unwrap());
    assert!(v.verify(&h, GEN_BODY, 0).unwrap().id_signed);
    assert_eq!(v.sign(GEN_BODY, 0, Some("a.b")), Err(SignError::InvalidId));
}

#[test]
fn hmac_config_errors_name_the_field() {
    let base = || HmacConfig::new("X-Signature", GEN_SECRET);
    let cases: Vec<(HmacConfig, &str)> = vec![
        (HmacConfig::new("X Signature", GEN_SECRET), "verify.header"),
        (HmacConfig::new("", GEN_SECRET), "verify.header"),
        (
            HmacConfig {
                prefix: Some("sha 256=".into()),
                ..base()
            },
            "verify.prefix",
        ),
        (
            HmacConfig {
                prefix: Some("p".repeat(65)),
                ..base()
            },
            "verify.prefix",
        ),
        (
            HmacConfig {
                tolerance: Some(Duration::from_secs(60)),
                ..base()
            },
            "verify.tolerance",
        ),
        (
            HmacConfig {
                timestamp_header: Some("X-Ts".into()),
                ..base()
            },
            "verify.payload",
        ),
        (
            HmacConfig {
                payload: Some("{timestamp}.{body}".into()),
                ..base()
            },
            "verify.payload",
        ),
        (
            HmacConfig {
                payload: Some("{id}.{body}".into()),
                ..base()
            },
            "verify.payload",
        ),
        (
            HmacConfig {
                timestamp_header: Some("x-signature".into()),
                payload: Some("{timestamp}.{body}".into()),
                ..base()
            },
            "verify.timestamp_header",
        ),
        (
            HmacConfig {
                timestamp_header: Some("X-Ts".into()),
                payload: Some("{timestamp}.{body}".into()),
                id_header: Some("x-ts".into()),
                ..base()
            },
            "verify.id_header",
        ),
        (
            HmacConfig {
                timestamp_header: Some("X-Ts".into()),
                payload: Some("{timestamp}.{body}".into()),
                tolerance: Some(Duration::from_secs(7200)),
                ..base()
            },
            "verify.tolerance",
        ),
        (
            HmacConfig {
                secret: SecretField::Keep,
                ..base()
            },
            "verify.secret",
        ),
    ];
    for (cfg, field) in cases {
        let err = config_err(VerifyConfig::Hmac(cfg.clone()));
        assert_eq!(err.field, field, "{cfg:?}: {err}");
        assert!(err.to_string().starts_with(&format!("{field}: ")));
    }
}

#[test]
fn hmac_templates() {
    let ok = [
        "{body}",
        "{timestamp}.{body}",
        "{body}.{timestamp}",
        "v0:{timestamp}:{body}",
        "{timestamp}{body}",
        "{id}.{timestamp}.{body}",
        "é{body}ü",
    ];
    for t in ok {
        assert!(Template::parse(t).is_ok(), "{t}");
    }
    let bad = [
        ("", "must contain {body}"),
        ("{timestamp}", "must contain {body}"),
        (
            "{Body}",
            "the placeholders are {body}, {timestamp} and {id}",
        ),
        ("{body", "the placeholders are {body}, {timestamp} and {id}"),
        (
            "{{body}}",
            "the placeholders are {body}, {timestamp} and {id}",
        ),
        ("{body}}", "'}' outside a placeholder"),
        ("{body}.{body}", "each placeholder may appear only once"),
        (
            "{id}{body}",
            "{id} must be separated from the other placeholders by a literal, e.g. '.'",
        ),
        (
            "{body}.{timestamp}{id}",
            "{id} must be separated from the other placeholders by a literal, e.g. '.'",
        ),
    ];
    for (t, why) in bad {
        assert_eq!(Template::parse(t).unwrap_err(), why, "{t}");
    }
    assert!(Template::parse(&format!("{}{{body}}", "x".repeat(250))).is_ok());
    assert!(Template::parse(&format!("{}{{body}}", "x".repeat(251))).is_err());
    let t = Template::parse("a{id}:-{timestamp}.{body}z").unwrap();
    assert_eq!(t.separators, vec!['-', '.', ':']);
}

// --- configuration, serde, secrets ----------------------------------------

#[test]
fn config_json_shapes() {
    let shapes = [
        (
            r#"{"scheme": "github", "secret": "It's a Secret to Everybody"}"#,
            "github",
        ),
        (
            r#"{"scheme": "stripe", "secret": "whsec_test_0123456789abcdefghijklmn", "tolerance": "5m"}"#,
            "stripe",
        ),
        (
            r#"{"scheme": "slack", "secret": "8f742231b10e8888abcd99yyyzzz85a5"}"#,
            "slack",
        ),
        (
            r#"{"scheme": "standard_webhooks", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "tolerance": "300s"}"#,
            "standard-webhooks",
        ),
        (
            r#"{"scheme": "hmac", "secret": "generic-secret-0123456789", "header": "X-Signature",
                "algorithm": "sha512", "encoding": "base64", "prefix": "sha512=",
                "timestamp_header": "X-Timestamp", "tolerance": "1m",
                "payload": "{timestamp}.{body}", "id_header": "X-Webhook-Id"}"#,
            "hmac",
        ),
        (
            r#"{"scheme": "hmac", "secret": "generic-secret-0123456789", "header": "X-Sig"}"#,
            "hmac",
        ),
    ];
    for (json, scheme) in shapes {
        let cfg = config(json);
        assert_eq!(cfg.scheme(), scheme);
        let v = Verifier::new(&cfg).unwrap();
        assert_eq!(v.scheme_name(), scheme);
    }
}

#[test]
fn config_refuses_unknown_members_and_schemes() {
    for json in [
        r#"{"scheme": "github", "secret": "It's a Secret to Everybody", "tolerance": "5m"}"#,
        r#"{"scheme": "stripe", "secret": "whsec_x", "tolerence": "5m"}"#,
        r#"{"scheme": "hmac", "secret": "s", "header": "X", "algo": "sha256"}"#,
        r#"{"scheme": "hmac", "secret": "s", "header": "X", "algorithm": "md5"}"#,
        r#"{"scheme": "hmac", "secret": "s", "header": "X", "encoding": "base32"}"#,
        r#"{"scheme": "hmac", "secret": "s"}"#,
        r#"{"scheme": "gitlab", "secret": "s"}"#,
        r#"{"secret": "s"}"#,
        r#"{"scheme": "slack", "secret": 42}"#,
        r#"{"scheme": "slack", "secret": "s", "tolerance": "soon"}"#,
        r#"{"scheme": "slack", "secret": "s", "tolerance": 300}"#,
    ] {
        assert!(
            serde_json::from_str::<VerifyConfig>(json).is_err(),
            "{json}"
        );
    }
}

#[test]
fn secrets_are_redacted_everywhere() {
    let secret = "whsec_test_0123456789abcdefghijklmn";
    let cfg = VerifyConfig::Stripe(TimedConfig {
        secret: secret.into(),
        tolerance: Some(Duration::from_secs(300)),
    });
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(
        json,
        r#"{"scheme":"stripe","secret":"***","tolerance":"5m"}"#
    );
    assert!(!format!("{cfg:?}").contains(secret));
    let v = verifier(cfg.clone());
    assert!(!format!("{v:?}").contains(secret));
    assert!(!format!("{v:?}").contains("0123456789"));
    assert_eq!(format!("{:?}", Secret::new(secret)), "Secret(***)");

    let hmac = VerifyConfig::Hmac(HmacConfig::new("X-Sig", GEN_SECRET));
    let json = serde_json::to_string(&hmac).unwrap();
    assert_eq!(
        json,
        r#"{"scheme":"hmac","secret":"***","header":"X-Sig","algorithm":"sha256","encoding":"hex"}"#
    );
}

#[test]
fn update_keeps_the_stored_secret() {
    let stored = VerifyConfig::stripe("whsec_test_0123456789abcdefghijklmn");
    // A client GETs the config and PUTs it back with a longer tolerance;
    // "***", null and a missing secret all mean "keep".
    for json in [
        r#"{"scheme":"stripe","secret":"***","tolerance":"10m"}"#,
        r#"{"scheme":"stripe","secret":null,"tolerance":"10m"}"#,
        r#"{"scheme":"stripe","tolerance":"10m"}"#,
    ] {
        let mut update = config(json);
        assert!(update.secret().is_keep());
        let err = update.validate().unwrap_err();
        assert_eq!(err.field, "verify.secret");
        update.merge_secret_from(&stored);
        assert_eq!(update.secret(), stored.secret());
        let v = verifier(update);
        assert_eq!(v.tolerance_secs(), Some(600));
        let h = stripe_header(&format!("t={STRIPE_TS},v1={STRIPE_V1}"));
        assert!(v.verify(&h, STRIPE_BODY, STRIPE_TS).is_ok());
    }
    // A new secret replaces the stored one.
    let mut update = VerifyConfig::stripe("whsec_test_new_0123456789abcdefgh");
    update.merge_secret_from(&stored);
    assert_eq!(
        update.secret(),
        &SecretField::from("whsec_test_new_0123456789abcdefgh")
    );
    // Another scheme does not inherit the secret.
    let mut update = config(r#"{"scheme":"slack","secret":"***"}"#);
    update.merge_secret_from(&stored);
    assert!(update.secret().is_keep());
    assert_eq!(update.validate().unwrap_err().field, "verify.secret");
}

#[test]
fn secret_and_tolerance_rules() {
    // 16 bytes is the floor, 512 the ceiling.
    assert!(VerifyConfig::github("0123456789abcdef").validate().is_ok());
    let err = config_err(VerifyConfig::github("0123456789abcde"));
    assert_eq!(err.field, "verify.secret");
    assert!(err.detail.contains("16 bytes"));
    assert!(VerifyConfig::github(&"k".repeat(512)).validate().is_ok());
    assert_eq!(
        config_err(VerifyConfig::github(&"k".repeat(513))).field,
        "verify.secret"
    );
    // A stray newline from copy and paste.
    let err = config_err(VerifyConfig::slack("8f742231b10e8888abcd99yyyzzz85a5\n"));
    assert!(err.detail.contains("whitespace"), "{err}");

    for (t, ok) in [
        ("1s", true),
        ("5m", true),
        ("1h", true),
        ("0s", false),
        ("1h 1s", false),
        ("1500ms", false),
        ("2d", false),
    ] {
        let json = format!(r#"{{"scheme":"slack","secret":"{SLACK_SECRET}","tolerance":"{t}"}}"#);
        let result = config(&json).validate();
        assert_eq!(result.is_ok(), ok, "{t}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.field, "verify.tolerance");
        }
    }
    assert_eq!(
        verifier(VerifyConfig::slack(SLACK_SECRET)).tolerance_secs(),
        Some(DEFAULT_TOLERANCE_SECS)
    );
    assert_eq!(
        verifier(VerifyConfig::github(GH_SECRET)).tolerance_secs(),
        None
    );
}

#[test]
fn config_round_trips_through_json_except_the_secret() {
    let cfg = timed_hmac();
    let json = serde_json::to_string(&cfg).unwrap();
    let mut back: VerifyConfig = serde_json::from_str(&json).unwrap();
    assert!(back.secret().is_keep());
    back.merge_secret_from(&cfg);
    assert_eq!(back, cfg);
}

// --- errors ----------------------------------------------------------------

#[test]
fn errors_have_codes_and_leak_nothing() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let err = v
        .verify(
            &headers(&[("X-Hub-Signature-256", &format!("sha256={WRONG_HEX}"))]),
            GH_BODY,
            0,
        )
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "no signature in the X-Hub-Signature-256 header matches the request"
    );
    assert!(!text.contains("757107"), "no expected MAC");
    assert!(!text.contains(GH_SECRET));
    assert_eq!(err.code(), "signature-mismatch");
    assert_eq!(err.header(), Some("X-Hub-Signature-256"));

    let err = VerifyError::TimestampTooOld {
        age_secs: 412,
        tolerance_secs: 300,
    };
    assert_eq!(
        err.to_string(),
        "the signed timestamp is 412 s old, more than the 300 s tolerance"
    );
    assert_eq!(err.code(), "timestamp-too-old");
    assert_eq!(err.header(), None);
    let err = VerifyError::TimestampInFuture {
        ahead_secs: 9,
        tolerance_secs: 5,
    };
    assert_eq!(err.code(), "timestamp-in-future");
    assert!(err.to_string().contains("9 s in the future"));
    assert_eq!(missing("X").to_string(), "the request has no X header");
    assert_eq!(missing("X").code(), "missing-header");
    let err = VerifyError::MalformedHeader {
        header: "X".into(),
        reason: "empty",
    };
    assert_eq!(err.to_string(), "the X header is malformed: empty");
    assert_eq!(err.code(), "malformed-header");
}

#[test]
fn verified_remember_until() {
    let v = verifier(VerifyConfig::github(GH_SECRET));
    let ok = v
        .verify(&headers(&[("X-Hub-Signature-256", GH_SIG)]), GH_BODY, 0)
        .unwrap();
    assert_eq!(ok.remember_until(1000, 86_400), 87_400);
    assert_eq!(ok.remember_until(i64::MAX, 10), i64::MAX);
    let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
    let ok = v
        .verify(
            &stripe_header(&format!("t={STRIPE_TS},v1={STRIPE_V1}")),
            STRIPE_BODY,
            STRIPE_TS,
        )
        .unwrap();
    assert_eq!(ok.remember_until(0, 86_400), STRIPE_TS + 300);
}

// --- SeenIds ---------------------------------------------------------------

#[test]
fn seen_ids_refuses_replays_until_expiry() {
    let mut seen = SeenIds::new(10, 10_000);
    assert_eq!(seen.check_and_insert("a", 100, 0), Ok(()));
    assert_eq!(seen.check_and_insert("a", 100, 50), Err(SeenError::Replay));
    assert!(seen.contains("a", 99));
    assert!(!seen.contains("a", 100));
    // At the expiry it is gone, and may be inserted again.
    assert_eq!(seen.check_and_insert("a", 200, 100), Ok(()));
    assert_eq!(seen.len(), 1);
    // Already expired: nothing to remember.
    assert_eq!(seen.check_and_insert("b", 150, 150), Ok(()));
    assert!(!seen.contains("b", 150));
    assert_eq!(seen.len(), 1);
}

#[test]
fn seen_ids_caps_count_and_bytes_and_frees_on_expiry() {
    let mut seen = SeenIds::new(3, 1_000_000);
    for k in ["a", "b", "c"] {
        seen.check_and_insert(k, 10, 0).unwrap();
    }
    assert_eq!(seen.check_and_insert("d", 10, 5), Err(SeenError::Full));
    // The refused key was not remembered.
    assert!(!seen.contains("d", 5));
    // Once the others expire there is room again.
    assert_eq!(seen.check_and_insert("d", 20, 10), Ok(()));
    assert_eq!(seen.len(), 1);

    let per_entry = 10 + SEEN_ENTRY_OVERHEAD;
    let mut seen = SeenIds::new(1000, 2 * per_entry);
    seen.check_and_insert("0123456789", 10, 0).unwrap();
    seen.check_and_insert("abcdefghij", 10, 0).unwrap();
    assert_eq!(seen.bytes(), 2 * per_entry);
    assert_eq!(seen.check_and_insert("x", 10, 0), Err(SeenError::Full));
    seen.purge_expired(10);
    assert_eq!(seen.bytes(), 0);
    assert!(seen.is_empty());

    assert_eq!(
        SeenIds::default().check_and_insert(&"k".repeat(MAX_SEEN_KEY_LEN + 1), 10, 0),
        Err(SeenError::KeyTooLong)
    );
    // Zero capacity refuses everything that needs remembering.
    assert_eq!(
        SeenIds::new(0, 0).check_and_insert("a", 10, 0),
        Err(SeenError::Full)
    );
}

#[test]
fn seen_ids_expiry_is_raised_to_stay_in_order() {
    let mut seen = SeenIds::new(10, 10_000);
    seen.check_and_insert("late", 100, 0).unwrap();
    seen.check_and_insert("early", 50, 0).unwrap();
    // "early" lives as long as "late" (longer than asked, never shorter).
    assert!(seen.contains("early", 60));
    assert_eq!(
        seen.check_and_insert("early", 50, 60),
        Err(SeenError::Replay)
    );
    assert_eq!(seen.check_and_insert("early", 200, 100), Ok(()));
}

#[test]
fn seen_ids_forget() {
    let mut seen = SeenIds::new(10, 10_000);
    seen.check_and_insert("a", 10, 0).unwrap();
    seen.forget("a");
    assert!(!seen.contains("a", 0));
    // The forgotten entry still counts until it expires.
    assert_eq!(seen.len(), 1);
    seen.check_and_insert("a", 30, 1).unwrap();
    assert_eq!(seen.len(), 2);
    // The stale first entry expiring must not drop the new one.
    seen.purge_expired(10);
    assert_eq!(seen.len(), 1);
    assert!(seen.contains("a", 10));
    assert_eq!(seen.check_and_insert("a", 40, 11), Err(SeenError::Replay));
    seen.purge_expired(30);
    assert!(seen.is_empty());
    assert_eq!(seen.bytes(), 0);
    seen.forget("never-seen");
}

#[test]
fn seen_ids_with_verified_requests() {
    let v = verifier(VerifyConfig::standard_webhooks(SW_SECRET));
    let h = sw_headers(SW_ID, SW_TS, SW_SIG);
    let mut seen = SeenIds::default();
    let first = v.verify(&h, SW_BODY, SW_TS).unwrap();
    let until = first.remember_until(SW_TS, 0);
    assert_eq!(
        seen.check_and_insert(&first.replay_key, until, SW_TS),
        Ok(())
    );
    let again = v.verify(&h, SW_BODY, SW_TS + 10).unwrap();
    assert_eq!(
        seen.check_and_insert(&again.replay_key, until, SW_TS + 10),
        Err(SeenError::Replay)
    );
    // Past the window the timestamp check refuses it instead.
    assert!(v.verify(&h, SW_BODY, until + 1).is_err());
}

// --- properties ------------------------------------------------------------

/// One verifier per scheme (and generic variants): the verifier, the header
/// holding the signature, the text in that header just before the
/// signature, and whether the signature is hex (else base64).
fn all_schemes() -> Vec<(Verifier, &'static str, &'static str, bool)> {
    let mut out = vec![
        (
            verifier(VerifyConfig::github(GH_SECRET)),
            "x-hub-signature-256",
            "sha256=",
            true,
        ),
        (
            verifier(VerifyConfig::stripe(STRIPE_SECRET)),
            "stripe-signature",
            ",v1=",
            true,
        ),
        (
            verifier(VerifyConfig::slack(SLACK_SECRET)),
            "x-slack-signature",
            "v0=",
            true,
        ),
        (
            verifier(VerifyConfig::standard_webhooks(SW_SECRET)),
            "webhook-signature",
            "v1,",
            false,
        ),
        (verifier(timed_hmac()), "x-sig", "", true),
    ];
    for (algorithm, _, _) in GEN_VECTORS {
        for encoding in [Encoding::Hex, Encoding::Base64] {
            out.push((
                verifier(hmac_config(algorithm, encoding, Some("p="))),
                "x-signature",
                "p=",
                encoding == Encoding::Hex,
            ));
        }
    }
    out
}

/// Where the signature itself sits in a header value made by `sign`.
fn signature_span(value: &str, before: &str) -> std::ops::Range<usize> {
    value.find(before).unwrap() + before.len()..value.len()
}

const TS: i64 = 1_700_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn flipping_any_body_byte_fails(
        scheme in 0usize..11,
        body in proptest::collection::vec(any::<u8>(), 1..300),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (v, ..) = &all_schemes()[scheme];
        let h = from_signed(v.sign(&body, TS, Some("evt-1")).unwrap());
        prop_assert!(v.verify(&h, &body, TS).is_ok());
        let mut changed = body.clone();
        changed[at.index(body.len())] ^= mask;
        prop_assert!(
            matches!(v.verify(&h, &changed, TS), Err(VerifyError::SignatureMismatch { .. })),
            "scheme {}", v.scheme_name()
        );
    }

    #[test]
    fn flipping_any_mac_byte_fails(
        scheme in 0usize..11,
        body in proptest::collection::vec(any::<u8>(), 0..100),
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let (v, sig_header, before, is_hex) = &all_schemes()[scheme];
        let is_hex = *is_hex;
        let mut h = from_signed(v.sign(&body, TS, Some("evt-1")).unwrap());
        let sig = value(&h, sig_header).to_owned();
        let span = signature_span(&sig, before);
        let text = &sig[span.clone()];
        // Decode, flip one MAC byte, encode the same way.
        let mut mac = if is_hex { hex::decode(text).unwrap() } else { STANDARD.decode(text).unwrap() };
        let i = at.index(mac.len());
        mac[i] ^= mask;
        let encoded = if is_hex { hex::encode(&mac) } else { STANDARD.encode(&mac) };
        let forged = format!("{}{encoded}", &sig[..span.start]);
        h.insert(HeaderName::from_static(sig_header), HeaderValue::from_str(&forged).unwrap());
        prop_assert!(
            matches!(v.verify(&h, &body, TS), Err(VerifyError::SignatureMismatch { .. })),
            "scheme {}: {} -> {}", v.scheme_name(), sig, forged
        );
    }

    #[test]
    fn changing_any_signature_character_fails(
        scheme in 0usize..11,
        at in any::<prop::sample::Index>(),
    ) {
        let (v, sig_header, before, _) = &all_schemes()[scheme];
        let mut h = from_signed(v.sign(GEN_BODY, TS, Some("evt-1")).unwrap());
        let sig = value(&h, sig_header).to_owned();
        let span = signature_span(&sig, before);
        let forged = flip_char(&sig, span.start + at.index(span.len()));
        h.insert(HeaderName::from_static(sig_header), HeaderValue::from_str(&forged).unwrap());
        prop_assert!(v.verify(&h, GEN_BODY, TS).is_err(), "{} -> {}", sig, forged);
    }

    #[test]
    fn arbitrary_headers_never_panic_and_never_pass(
        scheme in 0usize..11,
        values in proptest::collection::vec("[ -~]{0,200}", 4),
        now in any::<i64>(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let (v, ..) = &all_schemes()[scheme];
        let names = [
            "x-hub-signature-256", "stripe-signature", "x-slack-signature",
            "x-slack-request-timestamp", "webhook-id", "webhook-timestamp",
            "webhook-signature", "svix-signature", "x-sig", "x-ts", "x-id", "x-signature",
        ];
        let mut h = HeaderMap::new();
        for (i, name) in names.iter().enumerate() {
            let s = &values[i % values.len()];
            if let Ok(value) = HeaderValue::from_str(s) {
                h.insert(*name, value);
            }
        }
        // Random headers forging a MAC would be a 2^-160 event at best.
        prop_assert!(v.verify(&h, &body, now).is_err());
    }

    #[test]
    fn arbitrary_stripe_headers_never_panic(s in "[ -~]{0,300}", now in any::<i64>()) {
        let v = verifier(VerifyConfig::stripe(STRIPE_SECRET));
        if let Ok(value) = HeaderValue::from_str(&s) {
            let mut h = HeaderMap::new();
            h.insert("stripe-signature", value);
            prop_assert!(v.verify(&h, STRIPE_BODY, now).is_err());
        }
    }

    #[test]
    fn templates_never_panic(s in "[{}a-z.:]{0,40}|\\PC{0,40}") {
        if let Ok(t) = Template::parse(&s) {
            prop_assert!(t.has(Part::Body));
        }
    }

    #[test]
    fn seen_ids_never_exceeds_its_caps(
        ops in proptest::collection::vec((0u8..20, 0i64..50, 0i64..5, any::<bool>()), 0..200),
    ) {
        let mut seen = SeenIds::new(8, 8 * (3 + SEEN_ENTRY_OVERHEAD));
        let mut now = 0;
        for (key, ttl, step, forget) in ops {
            now += step;
            let key = format!("k{key}");
            let was_live = seen.contains(&key, now);
            match seen.check_and_insert(&key, now + ttl, now) {
                Ok(()) => prop_assert!(!was_live),
                Err(SeenError::Replay) => prop_assert!(was_live),
                Err(SeenError::Full) => prop_assert!(!was_live),
                Err(SeenError::KeyTooLong) => prop_assert!(false),
            }
            if forget {
                seen.forget(&key);
            }
            prop_assert!(seen.len() <= 8);
            prop_assert!(seen.bytes() <= 8 * (3 + SEEN_ENTRY_OVERHEAD));
        }
    }
}
