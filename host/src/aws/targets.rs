//! Targets (`PutTargets`, `RemoveTargets`, `ListTargetsByRule`): EventBridge
//! targets as Signalbox targets.
//!
//! | EventBridge target | Signalbox target |
//! |---|---|
//! | `Arn` of an API destination | `http`, mode `aws`, with the destination's URL and method and its connection's auth and parameters (`destinations`) |
//! | `Arn` of an event bus | `bus` |
//! | `Input` | `input: {"constant": …}` |
//! | `InputPath` | `input: {"path": …}` |
//! | `InputTransformer` | `input: {"paths": …, "template": …}` |
//! | `RetryPolicy` | `retry: {"max_attempts": retries + 1, "max_age": …}` (EventBridge's defaults, 185 retries over 24 h, when absent) |
//! | `DeadLetterConfig` | `dead_letter: true` (Signalbox's own dead-letter queue; the ARN is kept, not used) |
//! | `HttpParameters` | the URL's `*` path parameters, query and headers (static values only) |
//!
//! Each target keeps the EventBridge target as sent under `aws`, which
//! `ListTargetsByRule` shows back. Targets of other AWS services (SQS,
//! Lambda, …) fail one by one in `FailedEntries`.

use serde_json::{Map, Value, json};

use super::model::{
    ListTargetsByRuleRequest, ListTargetsByRuleResponse, PutTargetsRequest, PutTargetsResponse,
    RemoveTargetsRequest, RemoveTargetsResponse, Target, TargetResultEntry,
};
use super::protocol::{AwsError, ErrorCode};
use super::rules::{self, FoundRule};
use super::{Ctx, bus_name, derived_name, page};
use crate::auth::Action;
use crate::chain::template::{CompiledTransform, OutputKind, TransformConfig, View};
use crate::names::Kind;
use crate::rules::rule::{MAX_TARGETS_PER_RULE, RuleEnvelope};

/// Why one target cannot be put.
enum Failure {
    /// Only this target fails (`FailedEntries`).
    Entry(&'static str, String),
    /// The whole request fails (EventBridge refuses bad input settings so).
    Request(AwsError),
}

impl From<AwsError> for Failure {
    fn from(e: AwsError) -> Failure {
        Failure::Request(e)
    }
}

/// The EventBridge view of a target as stored: the target as sent through
/// `PutTargets`, or one made up for a target written through `/v1` (an
/// event bus ARN for `bus` targets, `arn:signalbox:<type>:::<id>` for the
/// others).
pub(super) fn aws_target(ctx: &Ctx<'_>, target: &Value) -> Target {
    if let Some(t) = target
        .get("aws")
        .and_then(|a| serde_json::from_value::<Target>(a.clone()).ok())
    {
        return t;
    }
    let id = target.get("id").and_then(Value::as_str).unwrap_or_default();
    let kind = target
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let arn = match (kind, target.get("bus").and_then(Value::as_str)) {
        ("bus", Some(bus)) => ctx.bus_arn(bus),
        _ => format!("arn:signalbox:{kind}:::{id}"),
    };
    Target::new(id, arn)
}

/// `(service, resource)` of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
fn split_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, _region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (prefix == "arn").then_some((service, resource))
}

/// The view transforms of `rule` are compiled for.
fn view_of(ctx: &Ctx<'_>, rule: &FoundRule) -> View {
    match rule.spec.envelope {
        RuleEnvelope::CloudEvents => View::CloudEvents,
        RuleEnvelope::Aws => View::Aws {
            rule_name: rule.aws_name().to_owned(),
            rule_arn: rule.arn(ctx),
        },
    }
}

/// The target's `input`: its `Input`, `InputPath` or `InputTransformer`,
/// checked the way the rule will compile it.
fn input_of(t: &Target, view: &View) -> Result<Option<Value>, AwsError> {
    let set = [
        t.input.is_some(),
        t.input_path.is_some(),
        t.input_transformer.is_some(),
    ];
    if set.iter().filter(|s| **s).count() > 1 {
        return Err(AwsError::validation(format!(
            "Only one of Input, InputPath, or InputTransformer must be provided for target {}.",
            t.id
        )));
    }
    let input = if let Some(text) = &t.input {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            AwsError::validation(format!("Input for target {} is not valid JSON: {e}", t.id))
        })?;
        json!({"constant": value})
    } else if let Some(path) = &t.input_path {
        json!({"path": path})
    } else if let Some(tr) = &t.input_transformer {
        let mut v = json!({"template": tr.input_template});
        if let Some(paths) = &tr.input_paths_map {
            v["paths"] = json!(paths);
        }
        v
    } else {
        return Ok(None);
    };
    let mut config: TransformConfig = serde_json::from_value(input.clone())
        .map_err(|e| AwsError::validation(format!("Target {}: {e}", t.id)))?;
    config.output = OutputKind::Body;
    CompiledTransform::with_view(&config, view.clone()).map_err(|e| {
        let what = if t.input_path.is_some() {
            "InputPath"
        } else if t.input_transformer.is_some() {
            "InputTransformer"
        } else {
            "Input"
        };
        AwsError::validation(format!("{what} for target {} is not valid: {e}", t.id))
    })?;
    Ok(Some(input))
}

/// The Signalbox target for an EventBridge target.
async fn convert(ctx: &Ctx<'_>, t: &Target, view: &View) -> Result<Value, Failure> {
    let input = input_of(t, view)?;
    let retries = t
        .retry_policy
        .and_then(|r| r.maximum_retry_attempts)
        .unwrap_or(185);
    let max_age = t
        .retry_policy
        .and_then(|r| r.maximum_event_age_in_seconds)
        .unwrap_or(86_400);
    let mut out = Map::new();
    out.insert("id".into(), json!(derived_name(Kind::Target, &t.id)));
    out.insert(
        "retry".into(),
        json!({"max_attempts": retries + 1, "max_age": format!("{max_age}s")}),
    );
    out.insert(
        "dead_letter".into(),
        json!(
            t.dead_letter_config
                .as_ref()
                .is_some_and(|d| d.arn.is_some())
        ),
    );
    let unsupported = |what: &str| {
        Failure::Entry(
            "ValidationException",
            format!(
                "Target {}: {what}. Signalbox delivers to API destinations and event buses.",
                t.id
            ),
        )
    };
    let Some((service, resource)) = split_arn(&t.arn) else {
        return Err(unsupported(&format!("'{}' is not an ARN", t.arn)));
    };
    if service != "events" {
        return Err(unsupported(&format!("{service} targets are not supported")));
    }
    if let Some(name) = resource.strip_prefix("event-bus/") {
        if input.is_some() {
            return Err(Failure::Request(AwsError::validation(format!(
                "Target {}: Input, InputPath and InputTransformer are not supported for event bus targets.",
                t.id
            ))));
        }
        let bus =
            bus_name(Some(name)).map_err(|e| Failure::Entry("ValidationException", e.message))?;
        out.insert("type".into(), json!("bus"));
        out.insert("bus".into(), json!(bus));
    } else if let Some(rest) = resource.strip_prefix("api-destination/") {
        let name = rest.split('/').next().unwrap_or_default();
        let http = super::destinations::http_target(ctx, name, t.http_parameters.as_ref())
            .await
            .map_err(|e| match e.code {
                ErrorCode::ResourceNotFoundException => {
                    Failure::Entry("ResourceNotFoundException", e.message)
                }
                ErrorCode::ValidationException => Failure::Entry("ValidationException", e.message),
                _ => Failure::Request(e),
            })?;
        out.extend(http);
        if let Some(input) = input {
            out.insert("input".into(), input);
        }
    } else {
        return Err(unsupported(&format!(
            "'{resource}' is not an event bus or API destination"
        )));
    }
    out.insert(
        "aws".into(),
        serde_json::to_value(t).map_err(super::internal)?,
    );
    Ok(Value::Object(out))
}

/// `PutTargets`: adds targets to a rule or replaces those with the same
/// `Id`.
pub(super) async fn put(
    ctx: &Ctx<'_>,
    req: PutTargetsRequest,
) -> Result<PutTargetsResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rules::rule_arn(ctx, &bus, &req.rule))?;
    let mut rule = rules::get(ctx, &bus, &req.rule).await?;
    let view = view_of(ctx, &rule);
    let mut failed = Vec::new();
    let mut changed = false;
    for t in &req.targets {
        match convert(ctx, t, &view).await {
            Ok(value) => {
                let existing = rule
                    .spec
                    .targets
                    .iter()
                    .position(|x| aws_target(ctx, x).id == t.id);
                match existing {
                    Some(i) => rule.spec.targets[i] = value,
                    None => rule.spec.targets.push(value),
                }
                changed = true;
            }
            Err(Failure::Entry(code, message)) => failed.push(TargetResultEntry {
                target_id: Some(t.id.clone()),
                error_code: Some(code.to_owned()),
                error_message: Some(message),
            }),
            Err(Failure::Request(e)) => return Err(e),
        }
    }
    if rule.spec.targets.len() > MAX_TARGETS_PER_RULE {
        return Err(AwsError::new(
            ErrorCode::LimitExceededException,
            format!(
                "The requested resource exceeds the maximum number allowed: a rule has at most {MAX_TARGETS_PER_RULE} targets."
            ),
        ));
    }
    if changed {
        rules::store(ctx, &rule).await?;
    }
    Ok(PutTargetsResponse {
        failed_entry_count: failed.len() as i32,
        failed_entries: failed,
    })
}

/// `RemoveTargets`. Ids the rule does not have are ignored, as in
/// EventBridge.
pub(super) async fn remove(
    ctx: &Ctx<'_>,
    req: RemoveTargetsRequest,
) -> Result<RemoveTargetsResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rules::rule_arn(ctx, &bus, &req.rule))?;
    let mut rule = rules::get(ctx, &bus, &req.rule).await?;
    let before = rule.spec.targets.len();
    rule.spec
        .targets
        .retain(|t| !req.ids.contains(&aws_target(ctx, t).id));
    if rule.spec.targets.len() != before {
        if rule.spec.targets.is_empty() && rule.spec.aws.is_none() {
            return Err(AwsError::validation(format!(
                "Rule {} was made through Signalbox's /v1 API, where a rule needs a target; delete the rule instead.",
                req.rule
            )));
        }
        rules::store(ctx, &rule).await?;
    }
    Ok(RemoveTargetsResponse::default())
}

/// `ListTargetsByRule`.
pub(super) async fn list(
    ctx: &Ctx<'_>,
    req: ListTargetsByRuleRequest,
) -> Result<ListTargetsByRuleResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rules::rule_arn(ctx, &bus, &req.rule))?;
    let rule = rules::get(ctx, &bus, &req.rule).await?;
    let mut items: Vec<(String, Target)> = rule
        .spec
        .targets
        .iter()
        .map(|t| aws_target(ctx, t))
        .map(|t| (t.id.clone(), t))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (targets, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListTargetsByRuleResponse {
        targets,
        next_token,
    })
}

/// Builds the targets of every rule that delivers to API destination
/// `name` again (its endpoint, method or connection changed).
pub(super) async fn refresh_destination(ctx: &Ctx<'_>, name: &str) -> Result<(), AwsError> {
    for bus in ctx.state.store().buses() {
        for mut rule in rules::all(ctx, &bus.name).await? {
            let view = view_of(ctx, &rule);
            let mut changed = false;
            for i in 0..rule.spec.targets.len() {
                let t = aws_target(ctx, &rule.spec.targets[i]);
                let uses = split_arn(&t.arn).is_some_and(|(s, r)| {
                    s == "events"
                        && r.strip_prefix("api-destination/")
                            .and_then(|r| r.split('/').next())
                            == Some(name)
                });
                if !uses {
                    continue;
                }
                match convert(ctx, &t, &view).await {
                    Ok(v) => {
                        rule.spec.targets[i] = v;
                        changed = true;
                    }
                    Err(Failure::Entry(_, m)) => {
                        tracing::warn!(rule = %rule.name, target = %t.id, error = %m, "Cannot rebuild a target after its API destination changed.");
                    }
                    Err(Failure::Request(e)) => return Err(e),
                }
            }
            if changed {
                rules::store(ctx, &rule).await?;
            }
        }
    }
    Ok(())
}

/// Whether any rule delivers to API destination `name`.
pub(super) async fn destination_in_use(ctx: &Ctx<'_>, name: &str) -> Result<bool, AwsError> {
    for bus in ctx.state.store().buses() {
        for rule in rules::all(ctx, &bus.name).await? {
            for t in &rule.spec.targets {
                let t = aws_target(ctx, t);
                let uses = split_arn(&t.arn).is_some_and(|(s, r)| {
                    s == "events"
                        && r.strip_prefix("api-destination/")
                            .and_then(|r| r.split('/').next())
                            == Some(name)
                });
                if uses {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_service_and_resource() {
        assert_eq!(
            split_arn("arn:aws:events:us-east-1:123456789012:event-bus/orders"),
            Some(("events", "event-bus/orders"))
        );
        assert_eq!(
            split_arn("arn:aws:events:us-east-1:123456789012:api-destination/d/1234"),
            Some(("events", "api-destination/d/1234"))
        );
        assert_eq!(
            split_arn("arn:aws:sqs:us-east-1:123456789012:queue:with:colons"),
            Some(("sqs", "queue:with:colons"))
        );
        assert_eq!(split_arn("not-an-arn"), None);
        assert_eq!(split_arn("urn:a:b:c:d:e"), None);
    }

    #[test]
    fn inputs_become_target_inputs() {
        let view = View::Aws {
            rule_name: "r".into(),
            rule_arn: "arn:aws:events:us-east-1:000000000000:rule/r".into(),
        };
        let mut t = Target::new("T1", "arn:aws:events:us-east-1:000000000000:event-bus/b");
        assert_eq!(input_of(&t, &view).unwrap(), None);
        t.input = Some(r#"{"a": [1, 2]}"#.into());
        assert_eq!(
            input_of(&t, &view).unwrap(),
            Some(json!({"constant": {"a": [1, 2]}}))
        );
        t.input_path = Some("$.detail".into());
        let e = input_of(&t, &view).unwrap_err();
        assert!(e.message.starts_with("Only one of Input"), "{}", e.message);
        t.input = None;
        assert_eq!(
            input_of(&t, &view).unwrap(),
            Some(json!({"path": "$.detail"}))
        );
        t.input_path = None;
        t.input_transformer = Some(super::super::model::InputTransformer {
            input_paths_map: Some([("s".to_owned(), "$.detail.state".to_owned())].into()),
            input_template: r#"{"state": <s>, "rule": <aws.events.rule-name>}"#.into(),
        });
        assert!(input_of(&t, &view).unwrap().is_some());
        t.input_transformer = Some(super::super::model::InputTransformer {
            input_paths_map: None,
            input_template: "<nope>".into(),
        });
        let e = input_of(&t, &view).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationException);
        assert!(e.message.contains("<nope>"), "{}", e.message);
        t.input_transformer = None;
        t.input = Some("{not json".into());
        assert!(input_of(&t, &view).is_err());
    }
}
