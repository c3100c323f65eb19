//! Rules: what users write (`RuleSpec`) and what the router runs
//! (`CompiledRule`).
//!
//! A rule selects events with an event pattern and/or a CESQL expression,
//! passes them through an optional chain of filter plugins and an optional
//! transform (a Wasm plugin or the built-in input transformer), and queues
//! the result for each of its targets. Compiling checks everything up front
//! — the pattern, the expression, that every plugin exists and is of the
//! right kind, that every target is well-formed — so a stored rule always
//! runs, and a bad rule is refused with the field at fault.
//!
//! Two settings shape what targets get. `envelope` says which envelope the
//! rule speaks: `"cloudevents"` (the default; HTTP targets get CloudEvents)
//! or `"aws"` (HTTP targets default to mode `"aws"` and receive the
//! EventBridge envelope, and transforms select from it — see
//! [`crate::chain::template::View`]). And a target may carry its own
//! `input`, a transform of the same shape as the rule's whose output is the
//! body that target alone receives (EventBridge's per-target `Input`,
//! `InputPath` and `InputTransformer`). Rules made through the AWS API also
//! carry `aws` (their EventBridge identity), and each of their targets the
//! EventBridge target as sent (`targets[].aws`), which the AWS front shows
//! back; such rules may have no targets, as in EventBridge.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chain::template::{self, CompiledTransform, OutputKind, TransformConfig, View};
use crate::chain::{Chain, Transform};
use crate::deliver::{CompiledTarget, TargetSpec, compile_target};
use crate::pattern::Pattern;
use crate::pattern::cesql::Expression;
use crate::plugin::{AllowList, PluginKind, PluginLimits, Registry, RulePlugin};

/// Most targets one rule may have. EventBridge allows five; a self-hosted
/// router has no reason to be that stingy, but each target has its own
/// worker and queue, so the number is still bounded.
pub const MAX_TARGETS_PER_RULE: usize = 100;

/// Most filter plugins in one rule's chain.
pub const MAX_FILTERS_PER_RULE: usize = 16;

/// A rule as written by users (`PUT /v1/buses/{bus}/rules/{rule}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Disabled rules keep their place in the bus and resume from it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// An EventBridge event pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    /// A CloudEvents SQL expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cesql: Option<String>,
    /// Filter plugins, run in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<PluginStep>,
    /// A transform: `{"plugin", "config"}` or the built-in input
    /// transformer (`{"constant"}`, `{"path"}`, `{"paths", "template"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Value>,
    /// Where matching events go.
    pub targets: Vec<Value>,
    /// Limits for this rule's plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PluginLimits>,
    /// What HTTP targets receive and transforms see: CloudEvents (the
    /// default) or the EventBridge envelope.
    #[serde(default, skip_serializing_if = "RuleEnvelope::is_cloudevents")]
    pub envelope: RuleEnvelope,
    /// The rule's EventBridge identity, for rules made through the AWS API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsRule>,
}

fn yes() -> bool {
    true
}

/// Which envelope a rule speaks (`"envelope"` in the rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleEnvelope {
    /// CloudEvents: HTTP targets default to binary mode; transforms see the
    /// CloudEvents envelope.
    #[default]
    CloudEvents,
    /// EventBridge: HTTP targets default to mode `aws` (the EventBridge
    /// envelope as the body); transforms see the EventBridge envelope.
    Aws,
}

impl RuleEnvelope {
    fn is_cloudevents(&self) -> bool {
        *self == RuleEnvelope::CloudEvents
    }
}

/// A rule's identity in the AWS API (`"aws"` in the rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRule {
    /// The name the AWS API knows the rule by (EventBridge allows names
    /// that are not Signalbox names; the AWS front derives one).
    pub name: String,
    /// The rule's ARN (`<aws.events.rule-arn>` in templates).
    pub arn: String,
    /// `RoleArn`, kept and shown back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The account that created the rule (`CreatedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// `ScheduleExpression`: the rule also selects the firings of the
    /// schedule source `aws.<rule>` that the AWS front keeps for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// The `EventPattern` as sent, when the rule has a schedule (its
    /// `pattern` then also selects the schedule's events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
}

/// The ARN of a rule without an [`AwsRule`] identity, as EventBridge spells
/// rule ARNs (`rule/NAME` on the default bus, `rule/BUS/NAME` elsewhere),
/// in the default account and region.
pub fn default_rule_arn(bus: &str, name: &str) -> String {
    use crate::pattern::envelope::{AWS_DEFAULT_ACCOUNT, AWS_DEFAULT_REGION};
    if bus == crate::store::DEFAULT_BUS {
        format!("arn:aws:events:{AWS_DEFAULT_REGION}:{AWS_DEFAULT_ACCOUNT}:rule/{name}")
    } else {
        format!("arn:aws:events:{AWS_DEFAULT_REGION}:{AWS_DEFAULT_ACCOUNT}:rule/{bus}/{name}")
    }
}

/// A plugin used in a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginStep {
    /// `name@version`.
    pub plugin: String,
    /// The plugin's configuration.
    #[serde(default)]
    pub config: Map<String, Value>,
}

/// A rule ready to run.
pub struct CompiledRule {
    /// The bus it belongs to.
    pub bus: String,
    /// Its name.
    pub name: String,
    /// As written.
    pub spec: RuleSpec,
    /// The pattern, if any.
    pub pattern: Option<Pattern>,
    /// The CESQL expression, if any.
    pub cesql: Option<Expression>,
    /// Its filters and transform.
    pub chain: Chain,
    /// Targets.
    pub targets: Vec<Arc<CompiledTarget>>,
    /// Each target's own `input` (same order as `targets`).
    pub inputs: Vec<Option<CompiledTransform>>,
}

/// A rule that cannot be compiled: which field and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// The member at fault, as a JSON-pointer-like path (`targets[1].url`).
    pub field: String,
    /// Why.
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a rule name (see [`crate::names`]).
pub fn check_rule_name(name: &str) -> Result<(), RuleError> {
    crate::names::check(crate::names::Kind::Rule, name)
        .map_err(|e| RuleError::new("rule", e.to_string()))
}

/// What compiling a rule may use besides the rule itself.
pub struct CompileEnv<'a> {
    /// Where plugins are looked up.
    pub registry: &'a Registry,
    /// The only folder `log` targets may write to.
    pub log_dir: &'a std::path::Path,
}

/// Compiles a rule.
pub fn compile(
    bus: &str,
    name: &str,
    spec: RuleSpec,
    env: &CompileEnv<'_>,
) -> Result<CompiledRule, RuleError> {
    let registry = env.registry;
    check_rule_name(name)?;
    let pattern = match &spec.pattern {
        None => None,
        Some(Value::String(s)) => {
            Some(Pattern::parse(s).map_err(|e| RuleError::new("pattern", e.to_string()))?)
        }
        Some(v) => {
            Some(Pattern::from_value(v).map_err(|e| RuleError::new("pattern", e.to_string()))?)
        }
    };
    let cesql = match &spec.cesql {
        None => None,
        Some(src) => {
            Some(Expression::parse(src).map_err(|e| RuleError::new("cesql", e.to_string()))?)
        }
    };
    if pattern.is_none() && cesql.is_none() {
        return Err(RuleError::new(
            "pattern",
            "a rule needs a 'pattern' or a 'cesql' expression (or both) to select events",
        ));
    }
    let limits = spec.limits.unwrap_or_default();
    limits.validate().map_err(|m| RuleError::new("limits", m))?;
    if spec.filters.len() > MAX_FILTERS_PER_RULE {
        return Err(RuleError::new(
            "filters",
            format!("at most {MAX_FILTERS_PER_RULE} filters per rule"),
        ));
    }
    let tag = format!("{bus}/{name}");
    let mut filters = Vec::new();
    for (i, step) in spec.filters.iter().enumerate() {
        let field = format!("filters[{i}].plugin");
        let plugin = plugin_of_kind(registry, &step.plugin, PluginKind::Filter, &field)?;
        filters.push(Arc::new(RulePlugin::new(
            plugin,
            crate::plugin::config_pairs(&step.config),
            limits,
            AllowList::default(),
            &format!("{tag}#filter{i}"),
        )));
    }
    let view = match spec.envelope {
        RuleEnvelope::CloudEvents => View::CloudEvents,
        RuleEnvelope::Aws => View::Aws {
            rule_name: spec
                .aws
                .as_ref()
                .map_or_else(|| name.to_owned(), |a| a.name.clone()),
            rule_arn: spec
                .aws
                .as_ref()
                .map_or_else(|| default_rule_arn(bus, name), |a| a.arn.clone()),
        },
    };
    let transform = match &spec.transform {
        None => None,
        Some(Value::Object(m)) if m.contains_key("plugin") => {
            let step: PluginStep = serde_json::from_value(Value::Object(m.clone()))
                .map_err(|e| RuleError::new("transform", e.to_string()))?;
            let plugin = plugin_of_kind(
                registry,
                &step.plugin,
                PluginKind::Transform,
                "transform.plugin",
            )?;
            Some(Transform::Plugin(Arc::new(RulePlugin::new(
                plugin,
                crate::plugin::config_pairs(&step.config),
                limits,
                AllowList::default(),
                &format!("{tag}#transform"),
            ))))
        }
        Some(v) => {
            let config: TransformConfig = serde_json::from_value(v.clone())
                .map_err(|e| RuleError::new("transform", e.to_string()))?;
            Some(Transform::Builtin(
                CompiledTransform::with_view(&config, view.clone())
                    .map_err(|e| RuleError::new("transform", e.to_string()))?,
            ))
        }
    };
    // EventBridge rules exist before their targets (PutRule, then
    // PutTargets); other rules without targets would do nothing.
    if spec.targets.is_empty() && spec.aws.is_none() {
        return Err(RuleError::new(
            "targets",
            "a rule needs at least one target",
        ));
    }
    if spec.targets.len() > MAX_TARGETS_PER_RULE {
        return Err(RuleError::new(
            "targets",
            format!("at most {MAX_TARGETS_PER_RULE} targets per rule"),
        ));
    }
    let mut targets: Vec<Arc<CompiledTarget>> = Vec::new();
    let mut inputs = Vec::new();
    for (i, t) in spec.targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        let (t, input) = split_target(t, spec.envelope, &view, &field)?;
        inputs.push(input);
        let parsed: TargetSpec =
            serde_json::from_value(t).map_err(|e| RuleError::new(field.clone(), e.to_string()))?;
        let compiled = compile_target(parsed, registry, limits, &format!("{tag}@"), env.log_dir)
            .map_err(|e| RuleError::new(format!("{field}.{}", e.field), e.message))?;
        if targets.iter().any(|x| x.id == compiled.id) {
            return Err(RuleError::new(
                format!("{field}.id"),
                format!("target id '{}' is used twice", compiled.id),
            ));
        }
        targets.push(Arc::new(compiled));
    }
    Ok(CompiledRule {
        bus: bus.to_owned(),
        name: name.to_owned(),
        spec,
        pattern,
        cesql,
        chain: Chain { filters, transform },
        targets,
        inputs,
    })
}

/// Takes a target as written apart: the members that are the rule's
/// business (`input`, compiled for the rule's view, and `aws`, kept as is)
/// come out, and with the `aws` envelope an `http` target without a `mode`
/// gets mode `aws`. The rest is the target's own ([`TargetSpec`]).
fn split_target(
    target: &Value,
    envelope: RuleEnvelope,
    view: &View,
    field: &str,
) -> Result<(Value, Option<CompiledTransform>), RuleError> {
    let mut t = target.clone();
    let Some(obj) = t.as_object_mut() else {
        return Ok((t, None));
    };
    obj.remove("aws");
    let input = obj.remove("input");
    let is_http = obj.get("type").and_then(Value::as_str) == Some("http");
    if envelope == RuleEnvelope::Aws && is_http && !obj.contains_key("mode") {
        obj.insert("mode".into(), Value::String("aws".into()));
    }
    let Some(input) = input else {
        return Ok((t, None));
    };
    let ifield = format!("{field}.input");
    let mode = obj.get("mode").and_then(Value::as_str).unwrap_or("binary");
    if !is_http || !matches!(mode, "body" | "aws") {
        return Err(RuleError::new(
            ifield,
            "a target's own input makes the HTTP body it receives: it needs an http target in mode \"body\" or \"aws\"",
        ));
    }
    if input.get("output").is_some() {
        return Err(RuleError::new(
            format!("{ifield}.output"),
            "a target's input always makes the body; leave out 'output'",
        ));
    }
    let mut config: TransformConfig =
        serde_json::from_value(input).map_err(|e| RuleError::new(ifield.clone(), e.to_string()))?;
    config.output = OutputKind::Body;
    let compiled = CompiledTransform::with_view(&config, view.clone()).map_err(|e| {
        let f = if e.field.is_empty() {
            ifield.clone()
        } else {
            format!("{ifield}.{}", e.field)
        };
        RuleError::new(f, e.detail)
    })?;
    Ok((t, Some(compiled)))
}

fn plugin_of_kind(
    registry: &Registry,
    reference: &str,
    kind: PluginKind,
    field: &str,
) -> Result<Arc<crate::plugin::LoadedPlugin>, RuleError> {
    let plugin = registry
        .get(reference)
        .map_err(|e| RuleError::new(field, e.to_string()))?;
    if plugin.kind != kind {
        return Err(RuleError::new(
            field,
            format!(
                "{reference} is a {} plugin; this step needs a {kind}",
                plugin.kind
            ),
        ));
    }
    Ok(plugin)
}

impl CompiledRule {
    /// The body target `index` receives for `event` (an output of the
    /// chain, received at `received_at`): its own input's output when it has
    /// an input, else `chain_body`. The error says why the input failed.
    pub fn target_body(
        &self,
        index: usize,
        event: &crate::event::CloudEvent,
        received_at: i64,
        chain_body: Option<&crate::store::queue::PreparedBody>,
    ) -> Result<Option<crate::store::queue::PreparedBody>, String> {
        match self.inputs.get(index).and_then(Option::as_ref) {
            None => Ok(chain_body.cloned()),
            Some(input) => match input.apply_received(event, received_at) {
                Ok(template::Output::Body(b)) => Ok(Some(b)),
                // Inputs are compiled with `output: body`.
                Ok(template::Output::Event(_)) => Ok(chain_body.cloned()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// Every plugin this rule uses, as `name@version`.
    pub fn plugin_references(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .chain
            .plugins()
            .into_iter()
            .map(|(_, p)| p.plugin().reference())
            .collect();
        for t in &self.targets {
            if let Some(p) = t.plugin() {
                out.push(p.plugin().reference());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn aws_view() -> View {
        View::Aws {
            rule_name: "r".into(),
            rule_arn: default_rule_arn("orders", "r"),
        }
    }

    #[test]
    fn the_aws_envelope_makes_http_targets_send_it() {
        let t = json!({"id": "a", "type": "http", "url": "http://x", "aws": {"Id": "A"}});
        let (out, input) = split_target(&t, RuleEnvelope::Aws, &aws_view(), "targets[0]").unwrap();
        assert_eq!(
            out,
            json!({"id": "a", "type": "http", "url": "http://x", "mode": "aws"})
        );
        assert!(input.is_none());
        // An explicit mode stays; other kinds and the CloudEvents envelope
        // are left alone.
        let t = json!({"id": "a", "type": "http", "url": "http://x", "mode": "binary"});
        assert_eq!(
            split_target(&t, RuleEnvelope::Aws, &aws_view(), "t")
                .unwrap()
                .0["mode"],
            "binary"
        );
        let t = json!({"id": "b", "type": "bus", "bus": "x"});
        assert_eq!(
            split_target(&t, RuleEnvelope::Aws, &aws_view(), "t")
                .unwrap()
                .0,
            t
        );
        let t = json!({"id": "a", "type": "http", "url": "http://x"});
        assert_eq!(
            split_target(&t, RuleEnvelope::CloudEvents, &View::CloudEvents, "t")
                .unwrap()
                .0,
            t
        );
    }

    #[test]
    fn a_target_input_is_compiled_for_the_rule_view() {
        let t = json!({"id": "a", "type": "http", "url": "http://x",
                       "input": {"paths": {"s": "$.detail.state"}, "template": "<s> by <aws.events.rule-name>"}});
        let (out, input) = split_target(&t, RuleEnvelope::Aws, &aws_view(), "targets[0]").unwrap();
        assert!(out.get("input").is_none());
        assert_eq!(input.unwrap().output_kind(), OutputKind::Body);
        // The CloudEvents view has no EventBridge variables.
        let e = split_target(
            &t,
            RuleEnvelope::CloudEvents,
            &View::CloudEvents,
            "targets[0]",
        )
        .unwrap_err();
        assert!(e.field.starts_with("targets[0].input"), "{e}");
        for (t, field) in [
            (
                json!({"id": "a", "type": "bus", "bus": "x", "input": {"constant": 1}}),
                "targets[0].input",
            ),
            (
                json!({"id": "a", "type": "http", "url": "http://x", "mode": "binary", "input": {"constant": 1}}),
                "targets[0].input",
            ),
            (
                json!({"id": "a", "type": "http", "url": "http://x", "input": {"constant": 1, "output": "event"}}),
                "targets[0].input.output",
            ),
        ] {
            let e = split_target(&t, RuleEnvelope::Aws, &aws_view(), "targets[0]").unwrap_err();
            assert_eq!(e.field, field, "{t}: {e}");
        }
    }

    #[test]
    fn rule_specs_read_the_new_members_and_old_ones_alike() {
        let old: RuleSpec = serde_json::from_value(json!({
            "pattern": {"source": ["s"]}, "targets": [{"id": "a", "type": "log"}]
        }))
        .unwrap();
        assert_eq!(old.envelope, RuleEnvelope::CloudEvents);
        assert!(old.aws.is_none());
        // Written back without them, as before.
        let v = serde_json::to_value(&old).unwrap();
        assert!(v.get("envelope").is_none() && v.get("aws").is_none());
        let new: RuleSpec = serde_json::from_value(json!({
            "pattern": "{\"source\": [\"s\"]}", "targets": [], "envelope": "aws",
            "aws": {"name": "MyRule", "arn": "arn:aws:events:us-east-1:000000000000:rule/MyRule"}
        }))
        .unwrap();
        assert_eq!(new.envelope, RuleEnvelope::Aws);
        assert_eq!(new.aws.unwrap().name, "MyRule");
        assert_eq!(
            default_rule_arn("default", "r"),
            "arn:aws:events:us-east-1:000000000000:rule/r"
        );
        assert_eq!(
            default_rule_arn("orders", "r"),
            "arn:aws:events:us-east-1:000000000000:rule/orders/r"
        );
    }
}
