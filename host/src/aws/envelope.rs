//! EventBridge events as CloudEvents: what `PutEvents` stores, and the
//! events `TestEventPattern` is given.
//!
//! Signalbox stores CloudEvents. No official CloudEvents ↔ EventBridge
//! mapping exists; this one follows AWS's own samples:
//!
//! | EventBridge   | CloudEvent                                            |
//! |---------------|-------------------------------------------------------|
//! | `id`          | `id` (a new UUID per `PutEvents` entry)               |
//! | `source`      | `source` (percent-encoded if need be, see below)      |
//! | `detail-type` | `type`                                                |
//! | `time`        | `time` (RFC 3339, whole seconds, UTC)                 |
//! | `detail`      | `data`, with `datacontenttype: application/json`      |
//! | `account`     | extension `awsaccount`                                |
//! | `region`      | extension `awsregion`                                 |
//! | `resources`   | extension `awsresources`, the JSON text of the array  |
//! | `TraceHeader` | extension `awstraceheader`                            |
//!
//! Extension names must be `[a-z0-9]+` and should say where they come from,
//! hence the `aws` prefix; the constants live with the envelope writer in
//! [`crate::pattern::envelope`], which also builds the EventBridge envelope
//! back from any CloudEvent and gives AWS events EventBridge's members for
//! pattern matching. `resources` travels as JSON text: unlike a
//! comma-joined list it round-trips every string exactly, ARNs with commas
//! included; it is only set when there are resources.
//!
//! CloudEvents requires `source` to be a URI-reference, EventBridge accepts
//! any string. A `Source` with characters a URI-reference cannot hold (a
//! space, say) is percent-encoded for the CloudEvent's `source`, and the
//! original is kept in `awssource`, which the EventBridge envelope prefers,
//! so the round trip is exact.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::Timestamp;
use super::putevents::CheckedEntry;
use crate::event::{CloudEvent, Data, ExtensionValue};
use crate::pattern::envelope::{
    AWS_ACCOUNT, AWS_REGION, AWS_RESOURCES, AWS_SOURCE, AWS_TRACE_HEADER,
};

/// The CloudEvent for a checked `PutEvents` entry, with id `id`, put by
/// `account` in `region`; `now` is the call's time, used when the entry
/// has no `Time`.
pub fn cloudevent_from_put_entry(
    entry: &CheckedEntry<'_>,
    id: String,
    account: &str,
    region: &str,
    now: Timestamp,
) -> CloudEvent {
    let time = entry.entry.time.unwrap_or(now);
    let (source, changed) = uri_reference(entry.source);
    let mut event = CloudEvent {
        id,
        source,
        ty: entry.detail_type.to_owned(),
        datacontenttype: Some("application/json".to_owned()),
        dataschema: None,
        subject: None,
        time: Some(time.to_rfc3339_secs()),
        extensions: Vec::new(),
        data: Some(Data::Json(entry.detail.trim().into())),
    };
    if changed {
        event.set_extension(AWS_SOURCE, ExtensionValue::String(entry.source.to_owned()));
    }
    event.set_extension(AWS_ACCOUNT, ExtensionValue::String(account.to_owned()));
    event.set_extension(AWS_REGION, ExtensionValue::String(region.to_owned()));
    if let Some(resources) = entry.entry.resources.as_ref().filter(|r| !r.is_empty()) {
        event.set_extension(
            AWS_RESOURCES,
            ExtensionValue::String(serde_json::to_string(resources).unwrap_or_default()),
        );
    }
    if let Some(trace) = entry.entry.trace_header.as_ref().filter(|t| !t.is_empty()) {
        event.set_extension(AWS_TRACE_HEADER, ExtensionValue::String(trace.clone()));
    }
    event
}

/// Why a `TestEventPattern` event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or a required member (`id`, `account`, `source`, `time`,
    /// `region`, `resources`, `detail-type`) is missing or of the wrong
    /// type.
    #[error("Parameter Event is not valid: {0}")]
    Invalid(String),
    /// `time` is not an RFC 3339 timestamp.
    #[error("Parameter Event is not valid: time '{0}' is not an RFC 3339 timestamp.")]
    BadTime(String),
}

/// Checks an event given to `TestEventPattern`: JSON with the members AWS
/// requires there (`id`, `account`, `source`, `time`, `region`,
/// `resources`, `detail-type`; `detail` is optional), of the right types.
/// The event is then matched as it is, like `/v1/test-pattern`'s `json`.
pub fn check_test_event(json: &str) -> Result<(), EnvelopeError> {
    #[derive(Deserialize)]
    #[allow(dead_code, reason = "the fields are only checked, not read")]
    struct Wire<'a> {
        id: String,
        #[serde(rename = "detail-type")]
        detail_type: String,
        source: String,
        account: String,
        time: String,
        region: String,
        resources: Vec<String>,
        #[serde(borrow, default)]
        detail: Option<&'a RawValue>,
    }
    let w: Wire<'_> =
        serde_json::from_str(json).map_err(|e| EnvelopeError::Invalid(e.to_string()))?;
    if Timestamp::parse_rfc3339(&w.time).is_none() {
        return Err(EnvelopeError::BadTime(w.time));
    }
    Ok(())
}

/// Percent-encodes what a URI-reference cannot hold (the characters the
/// host's `check_source` rejects, and a `%` that does not start an escape).
/// Returns the text and whether it changed.
pub fn uri_reference(s: &str) -> (String, bool) {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    for (i, &c) in b.iter().enumerate() {
        let escape_ok = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        let ok = c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c) || escape_ok;
        if ok {
            out.push(c as char);
        } else {
            changed = true;
            out.push_str(&format!("%{c:02X}"));
        }
    }
    (out, changed)
}

#[cfg(test)]
mod tests {
    use super::super::model::PutEventsRequestEntry;
    use super::super::putevents::check_entry;
    use super::*;
    use crate::pattern::envelope::{aws_envelope_text, envelope_text, is_aws_event, json_data};
    use crate::pattern::{Matcher, Pattern};

    fn put_entry() -> PutEventsRequestEntry {
        PutEventsRequestEntry {
            time: Timestamp::from_secs_f64(1_447_277_394.789),
            source: Some("aws.ec2".into()),
            resources: Some(vec![
                "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111".into(),
            ]),
            detail_type: Some("EC2 Instance State-change Notification".into()),
            detail: Some(r#"{"instance-id": "i-0123456789", "state": "RUNNING"}"#.into()),
            event_bus_name: None,
            trace_header: None,
        }
    }

    fn event_of(entry: &PutEventsRequestEntry, id: &str) -> CloudEvent {
        let checked = check_entry(entry).unwrap();
        cloudevent_from_put_entry(
            &checked,
            id.into(),
            "123456789012",
            "us-east-1",
            Timestamp::from_secs(0).unwrap(),
        )
    }

    #[test]
    fn put_entry_maps_to_the_aws_envelope() {
        let ce = event_of(&put_entry(), "7bf73129-1428-4cd3-a780-95db273d1602");
        assert_eq!(ce.ty, "EC2 Instance State-change Notification");
        assert_eq!(ce.source, "aws.ec2");
        assert_eq!(ce.time.as_deref(), Some("2015-11-11T21:29:54Z"));
        assert_eq!(ce.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(
            ce.extension(AWS_RESOURCES),
            Some(&ExtensionValue::String(
                r#"["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"]"#.into()
            ))
        );
        for (name, _) in &ce.extensions {
            assert!(crate::event::validate::check_extension_name(name).is_ok());
        }
        assert!(is_aws_event(&ce));
        // The envelope of AWS's EC2 sample, field for field and in order.
        assert_eq!(
            aws_envelope_text(&ce),
            r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id": "i-0123456789", "state": "RUNNING"}}"#
        );
    }

    #[test]
    fn entry_without_time_uses_now() {
        let mut entry = put_entry();
        entry.time = None;
        entry.resources = None;
        entry.trace_header = Some("Root=1-5759e988-bd862e3fe1be46a994272793".into());
        let checked = check_entry(&entry).unwrap();
        let now = Timestamp::from_secs(1_700_000_000).unwrap();
        let ce = cloudevent_from_put_entry(&checked, "a".into(), "123456789012", "eu-west-1", now);
        assert_eq!(ce.time.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(ce.extension(AWS_RESOURCES), None);
        assert_eq!(
            ce.extension(AWS_TRACE_HEADER),
            Some(&ExtensionValue::String(
                "Root=1-5759e988-bd862e3fe1be46a994272793".into()
            ))
        );
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["resources"], serde_json::json!([]));
        assert_eq!(env["region"], "eu-west-1");
    }

    #[test]
    fn sources_that_are_not_uri_references_round_trip() {
        let mut entry = put_entry();
        entry.source = Some("my app/orders ü 100%".into());
        let ce = event_of(&entry, "id");
        assert_eq!(ce.source, "my%20app/orders%20%C3%BC%20100%25");
        assert!(crate::event::validate::check_source(&ce.source).is_ok());
        assert_eq!(
            ce.extension(AWS_SOURCE),
            Some(&ExtensionValue::String("my app/orders ü 100%".into()))
        );
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["source"], "my app/orders ü 100%");
        // Patterns see EventBridge's source too.
        let mut m = Matcher::new();
        m.add(
            1,
            &Pattern::parse(r#"{"source": ["my app/orders ü 100%"]}"#).unwrap(),
        );
        let mut out = Vec::new();
        m.matches_json(envelope_text(&ce, json_data(&ce)).as_bytes(), &mut out)
            .unwrap();
        assert_eq!(out, [1]);
        // A valid source gets no extra extension.
        assert_eq!(
            uri_reference("com.example/x%41"),
            ("com.example/x%41".into(), false)
        );
    }

    /// A pattern matches a stored PutEvents event exactly when it matches
    /// the EventBridge envelope of that event (what `TestEventPattern`
    /// sees): the same for every field EventBridge patterns use.
    #[test]
    fn aws_patterns_agree_on_stored_events_and_envelopes() {
        let mut entry = put_entry();
        entry.resources = Some(vec![
            "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111".into(),
            "arn:x,with,commas".into(),
        ]);
        let ce = event_of(&entry, "7bf73129-1428-4cd3-a780-95db273d1602");
        let stored = envelope_text(&ce, json_data(&ce));
        let aws = aws_envelope_text(&ce);
        let patterns = [
            (r#"{"source": ["aws.ec2"]}"#, true),
            (
                r#"{"detail-type": ["EC2 Instance State-change Notification"]}"#,
                true,
            ),
            (r#"{"detail-type": [{"prefix": "EC2 Instance"}]}"#, true),
            (r#"{"detail": {"state": ["RUNNING"]}}"#, true),
            (r#"{"detail": {"state": ["STOPPED"]}}"#, false),
            (r#"{"account": ["123456789012"]}"#, true),
            (r#"{"account": ["000000000000"]}"#, false),
            (r#"{"region": ["us-east-1"]}"#, true),
            (r#"{"region": [{"prefix": "eu-"}]}"#, false),
            (r#"{"resources": ["arn:x,with,commas"]}"#, true),
            (r#"{"resources": ["arn:x"]}"#, false),
            (r#"{"resources": [{"prefix": "arn:aws:ec2:"}]}"#, true),
            (r#"{"version": ["0"]}"#, true),
            (r#"{"id": ["7bf73129-1428-4cd3-a780-95db273d1602"]}"#, true),
            (r#"{"time": [{"prefix": "2015-11-11T"}]}"#, true),
            (r#"{"time": ["2015-11-11T21:29:54Z"]}"#, true),
            (r#"{"detail": {"instance-id": [{"exists": true}]}}"#, true),
            (
                r#"{"detail": {"missing": [{"exists": false}]}, "source": ["aws.ec2"]}"#,
                true,
            ),
        ];
        for (p, want) in patterns {
            let mut m = Matcher::new();
            m.add(1, &Pattern::parse(p).unwrap());
            let mut on_stored = Vec::new();
            m.matches_json(stored.as_bytes(), &mut on_stored).unwrap();
            let mut on_aws = Vec::new();
            m.matches_json(aws.as_bytes(), &mut on_aws).unwrap();
            assert_eq!(!on_stored.is_empty(), want, "stored event: {p}");
            assert_eq!(!on_aws.is_empty(), want, "EventBridge envelope: {p}");
        }
    }

    #[test]
    fn test_events_need_aws_members() {
        let ok = r#"{"id":"1","detail-type":"t","source":"s","account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[]}"#;
        assert_eq!(check_test_event(ok), Ok(()));
        let with_detail = ok.replace(r#""resources":[]"#, r#""resources":[],"detail":{"a":[1]}"#);
        assert_eq!(check_test_event(&with_detail), Ok(()));
        for bad in [
            "nope",
            "{}",
            r#"{"id":"1","source":"s"}"#,
            &ok.replace(r#""resources":[]"#, r#""resources":"x""#),
            &ok.replace(r#""account":"123456789012","#, ""),
        ] {
            assert!(
                matches!(check_test_event(bad), Err(EnvelopeError::Invalid(_))),
                "{bad}"
            );
        }
        assert_eq!(
            check_test_event(&ok.replace("2024-01-01T00:00:00Z", "yesterday")),
            Err(EnvelopeError::BadTime("yesterday".into()))
        );
    }

    #[test]
    fn cloudevents_from_elsewhere_get_defaults() {
        let mut ce = CloudEvent {
            id: "e-1".into(),
            source: "https://example.com/orders".into(),
            ty: "com.example.order.created".into(),
            datacontenttype: Some("application/json".into()),
            dataschema: None,
            subject: Some("order/1".into()),
            time: Some("2024-05-01T14:00:00.250+02:00".into()),
            extensions: vec![("partition".into(), ExtensionValue::Integer(3))],
            data: Some(Data::Json(r#"{"id": 1}"#.into())),
        };
        assert!(!is_aws_event(&ce));
        assert_eq!(
            aws_envelope_text(&ce),
            r#"{"version":"0","id":"e-1","detail-type":"com.example.order.created","source":"https://example.com/orders","account":"000000000000","time":"2024-05-01T12:00:00Z","region":"us-east-1","resources":[],"detail":{"id": 1}}"#
        );
        // The CloudEvents envelope of such an event has no EventBridge
        // members.
        assert!(!envelope_text(&ce, json_data(&ce)).contains("detail-type"));

        ce.datacontenttype = Some("text/plain".into());
        ce.data = Some(Data::Text("hello \"world\"".into()));
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["detail"], "hello \"world\"");

        ce.datacontenttype = None;
        ce.data = Some(Data::Binary(bytes::Bytes::from_static(&[0, 1, 2, 255])));
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["detail"], "AAEC/w==");

        ce.data = None;
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["detail"], serde_json::json!({}));

        ce.set_extension(AWS_RESOURCES, ExtensionValue::String("not json".into()));
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["resources"], serde_json::json!(["not json"]));

        ce.set_extension(
            crate::event::REPLAY_EXTENSION,
            ExtensionValue::String("rp-3".into()),
        );
        let env: serde_json::Value = serde_json::from_str(&aws_envelope_text(&ce)).unwrap();
        assert_eq!(env["replay-name"], "rp-3");
    }

    #[test]
    fn deep_detail_needs_no_recursion() {
        let n = 5_000;
        let detail = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        let ce = CloudEvent {
            id: "x".into(),
            source: "s".into(),
            ty: "t".into(),
            datacontenttype: None,
            dataschema: None,
            subject: None,
            time: None,
            extensions: vec![],
            data: Some(Data::Json(detail.as_str().into())),
        };
        assert!(aws_envelope_text(&ce).ends_with(&format!("\"detail\":{detail}}}")));
    }
}
