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

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chain::template::{CompiledTransform, TransformConfig};
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
}

fn yes() -> bool {
    true
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
                CompiledTransform::new(&config)
                    .map_err(|e| RuleError::new("transform", e.to_string()))?,
            ))
        }
    };
    if spec.targets.is_empty() {
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
    for (i, t) in spec.targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        let parsed: TargetSpec = serde_json::from_value(t.clone())
            .map_err(|e| RuleError::new(field.clone(), e.to_string()))?;
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
    })
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
