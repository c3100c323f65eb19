//! Rules (`PutRule`, `DescribeRule`, `DeleteRule`, `EnableRule`,
//! `DisableRule`, `ListRules`, `ListRuleNamesByTarget`) and
//! `TestEventPattern`.
//!
//! An EventBridge rule is a Signalbox rule with `"envelope": "aws"` and an
//! `aws` identity (its EventBridge name and ARN): its `EventPattern` is the
//! rule's `pattern`, kept as the text sent, and `State` its `enabled`.
//! Rules made through `/v1` are visible here too, under their own names.

use serde_json::{Value, json};

use super::model::{
    DeleteRuleRequest, DescribeRuleRequest, DescribeRuleResponse, ListRuleNamesByTargetRequest,
    ListRuleNamesByTargetResponse, ListRulesRequest, ListRulesResponse, PutRuleRequest,
    PutRuleResponse, Rule, RuleRef, RuleState, TestEventPatternRequest, TestEventPatternResponse,
};
use super::protocol::{AwsError, ErrorCode};
use super::{Ctx, bus_name, derived_name, page, rules_error};
use crate::auth::Action;
use crate::names::Kind;
use crate::pattern::{Matcher, Pattern};
use crate::rules::rule::{AwsRule, RuleEnvelope, RuleSpec};

/// A rule found by its EventBridge name.
pub(super) struct FoundRule {
    /// The bus.
    pub bus: String,
    /// Its Signalbox name.
    pub name: String,
    /// Its definition.
    pub spec: RuleSpec,
}

impl FoundRule {
    /// The name the AWS API knows it by.
    pub fn aws_name(&self) -> &str {
        self.spec.aws.as_ref().map_or(&self.name, |a| &a.name)
    }

    /// Its ARN.
    pub fn arn(&self, ctx: &Ctx<'_>) -> String {
        match &self.spec.aws {
            Some(a) => a.arn.clone(),
            None => rule_arn(ctx, &self.bus, &self.name),
        }
    }
}

/// A rule ARN as EventBridge spells it: `rule/NAME` on the default bus,
/// `rule/BUS/NAME` on others.
pub(super) fn rule_arn(ctx: &Ctx<'_>, bus: &str, aws_name: &str) -> String {
    if bus == crate::store::DEFAULT_BUS {
        ctx.arn(&format!("rule/{aws_name}"))
    } else {
        ctx.arn(&format!("rule/{bus}/{aws_name}"))
    }
}

/// The rule called `aws_name` on `bus`, if there is one.
pub(super) async fn find(
    ctx: &Ctx<'_>,
    bus: &str,
    aws_name: &str,
) -> Result<Option<FoundRule>, AwsError> {
    if ctx.state.store().bus(bus).is_none() {
        return Err(AwsError::bus_not_found(bus));
    }
    let name = derived_name(Kind::Rule, aws_name);
    let Some(spec) = ctx.state.rules().rule_spec(bus, &name).await else {
        return Ok(None);
    };
    let known_as = spec.aws.as_ref().map_or(name.as_str(), |a| a.name.as_str());
    Ok((known_as == aws_name).then(|| FoundRule {
        bus: bus.to_owned(),
        name,
        spec,
    }))
}

/// Like [`find`], answering `ResourceNotFoundException` when there is no
/// such rule.
pub(super) async fn get(ctx: &Ctx<'_>, bus: &str, aws_name: &str) -> Result<FoundRule, AwsError> {
    find(ctx, bus, aws_name)
        .await?
        .ok_or_else(|| AwsError::rule_not_found(aws_name, bus))
}

/// Stores a rule's new definition.
pub(super) async fn store(ctx: &Ctx<'_>, rule: &FoundRule) -> Result<(), AwsError> {
    ctx.state
        .rules()
        .put_rule(&rule.bus, &rule.name, rule.spec.clone())
        .await
        .map(|_| ())
        .map_err(|e| rules_error(e, &rule.bus))
}

fn state_of(spec: &RuleSpec) -> RuleState {
    if spec.enabled {
        RuleState::Enabled
    } else {
        RuleState::Disabled
    }
}

/// The rule's pattern as EventBridge shows it: the text sent, or the JSON
/// of a pattern written as a value through `/v1`.
fn pattern_text(spec: &RuleSpec) -> Option<String> {
    if let Some(a) = spec
        .aws
        .as_ref()
        .filter(|a| a.schedule_expression.is_some())
    {
        return a.event_pattern.clone();
    }
    match &spec.pattern {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => Some(v.to_string()),
        None => None,
    }
}

/// The schedule source that fires a scheduled rule: `aws.<rule>` (a rule
/// name has at most 59 characters when the front derives it, so this is
/// a valid name; the dot keeps it apart from names the front derives).
fn schedule_source(rule: &str) -> String {
    format!("aws.{rule}")
}

/// What selects a scheduled rule's firings: EventBridge's `Scheduled
/// Event`s from `aws.events` naming the rule.
fn schedule_selector(arn: &str) -> Value {
    json!({"source": ["aws.events"], "detail-type": ["Scheduled Event"], "resources": [arn]})
}

/// The schedule source's definition for a rule: one `Scheduled Event` per
/// firing, shaped as EventBridge's (empty `detail`, the rule's ARN in
/// `resources`), in UTC as EventBridge's rule schedules are.
fn schedule_definition(ctx: &Ctx<'_>, expression: &str, arn: &str) -> Value {
    json!({
        "type": "schedule",
        "description": format!("The schedule of EventBridge rule {arn} (managed through the AWS API)"),
        "expression": expression,
        "event": {
            "type": "Scheduled Event",
            "source": "aws.events",
            "data": {},
            "extensions": {
                crate::pattern::envelope::AWS_ACCOUNT: ctx.account,
                crate::pattern::envelope::AWS_REGION: ctx.region,
                crate::pattern::envelope::AWS_RESOURCES: json!([arn]).to_string(),
            },
        },
    })
}

/// Checks a `ScheduleExpression` the way the schedule source will.
fn check_schedule(ctx: &Ctx<'_>, expression: &str, arn: &str) -> Result<Value, AwsError> {
    let def = schedule_definition(ctx, expression, arn);
    crate::sources::validate(def.clone()).map_err(|e| {
        AwsError::validation(format!(
            "Parameter ScheduleExpression is not valid: {}",
            e.message
        ))
    })?;
    Ok(def)
}

/// A failure of a rule's schedule source (a server fault: the expression
/// was checked before anything changed).
fn schedule_error(e: crate::sources::SourcesError) -> AwsError {
    super::internal(format!("The rule's schedule: {e}"))
}

/// Puts, pauses or removes a rule's schedule source to match the rule.
async fn sync_schedule(
    ctx: &Ctx<'_>,
    rule: &FoundRule,
    def: Option<Value>,
) -> Result<(), AwsError> {
    let sources = ctx.state.sources();
    let name = schedule_source(&rule.name);
    match def {
        Some(def) => {
            sources
                .put(&rule.bus, &name, def)
                .await
                .map_err(schedule_error)?;
            sources
                .set_paused(&rule.bus, &name, !rule.spec.enabled)
                .await
                .map_err(schedule_error)?;
        }
        None => match sources.delete(&rule.bus, &name).await {
            Ok(()) | Err(crate::sources::SourcesError::NoSource(_)) => {}
            Err(e) => return Err(schedule_error(e)),
        },
    }
    Ok(())
}

/// Parses an `EventPattern`, answering `InvalidEventPatternException` with
/// the pattern's own message (which names the path and operator).
fn parse_pattern(text: &str) -> Result<Pattern, AwsError> {
    let invalid = |reason: String| {
        AwsError::new(
            ErrorCode::InvalidEventPatternException,
            format!("Event pattern is not valid. Reason: {reason}"),
        )
    };
    let value: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    Pattern::from_value(&value).map_err(|e| invalid(e.to_string()))
}

/// `PutRule`: creates the rule (without targets) or changes its pattern,
/// schedule, state, description and role.
///
/// A `ScheduleExpression` (only on the default bus, as in EventBridge)
/// becomes a schedule source that puts EventBridge's `Scheduled Event` on
/// the bus at each firing, and the rule's pattern selects those events
/// (as well as what its `EventPattern` selects, when it has one).
pub(super) async fn put(ctx: &Ctx<'_>, req: PutRuleRequest) -> Result<PutRuleResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    let arn = rule_arn(ctx, &bus, &req.name);
    ctx.require(&Action::Admin, &arn)?;
    let pattern = req
        .event_pattern
        .as_deref()
        .filter(|p| !p.trim().is_empty());
    let schedule = req
        .schedule_expression
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    if pattern.is_none() && schedule.is_none() {
        return Err(AwsError::validation(
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        ));
    }
    if let Some(p) = pattern {
        parse_pattern(p)?;
    }
    let schedule_def = match schedule {
        Some(_) if bus != crate::store::DEFAULT_BUS => {
            return Err(AwsError::validation(
                "ScheduleExpression is supported only on the default event bus.",
            ));
        }
        Some(expression) => Some(check_schedule(ctx, expression, &arn)?),
        None => None,
    };
    // What the rule selects: the pattern, the schedule's firings, or either.
    let selects = match (pattern, schedule) {
        (Some(p), None) => Value::String(p.to_owned()),
        (None, _) => schedule_selector(&arn),
        (Some(p), Some(_)) => {
            let user: Value = serde_json::from_str(p).map_err(super::internal)?;
            json!({"$or": [user, schedule_selector(&arn)]})
        }
    };
    let enabled = req.state != Some(RuleState::Disabled);
    let found = find(ctx, &bus, &req.name).await?;
    let rule = match found {
        Some(mut r) => {
            r.spec.pattern = Some(selects);
            r.spec.enabled = enabled;
            if let Some(d) = req.description {
                r.spec.description = d;
            }
            if let Some(a) = r.spec.aws.as_mut() {
                a.role_arn = req.role_arn.or(a.role_arn.take());
                a.schedule_expression = schedule.map(str::to_owned);
                a.event_pattern = schedule.and(pattern).map(str::to_owned);
            }
            r
        }
        None => {
            let name = derived_name(Kind::Rule, &req.name);
            // Built from JSON so that members added to rules later take
            // their defaults here too.
            let mut spec: RuleSpec =
                serde_json::from_value(json!({"targets": []})).map_err(super::internal)?;
            spec.description = req.description.unwrap_or_default();
            spec.enabled = enabled;
            spec.pattern = Some(selects);
            spec.envelope = RuleEnvelope::Aws;
            spec.aws = Some(AwsRule {
                name: req.name.clone(),
                arn: arn.clone(),
                role_arn: req.role_arn,
                created_by: Some(ctx.account.clone()),
                schedule_expression: schedule.map(str::to_owned),
                event_pattern: schedule.and(pattern).map(str::to_owned),
            });
            super::rules::FoundRule { bus, name, spec }
        }
    };
    store(ctx, &rule).await?;
    if rule.spec.aws.is_some() {
        sync_schedule(ctx, &rule, schedule_def).await?;
    }
    Ok(PutRuleResponse {
        rule_arn: Some(rule.arn(ctx)),
    })
}

/// `DescribeRule`.
pub(super) async fn describe(
    ctx: &Ctx<'_>,
    req: DescribeRuleRequest,
) -> Result<DescribeRuleResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rule_arn(ctx, &bus, &req.name))?;
    let r = get(ctx, &bus, &req.name).await?;
    let aws = r.spec.aws.as_ref();
    Ok(DescribeRuleResponse {
        name: Some(r.aws_name().to_owned()),
        arn: Some(r.arn(ctx)),
        event_pattern: pattern_text(&r.spec),
        schedule_expression: aws.and_then(|a| a.schedule_expression.clone()),
        state: Some(state_of(&r.spec)),
        description: Some(r.spec.description.clone()).filter(|d| !d.is_empty()),
        role_arn: aws.and_then(|a| a.role_arn.clone()),
        managed_by: None,
        event_bus_name: Some(r.bus.clone()),
        created_by: Some(
            aws.and_then(|a| a.created_by.clone())
                .unwrap_or_else(|| ctx.account.clone()),
        ),
    })
}

/// `DeleteRule`: like EventBridge, only a rule without targets.
pub(super) async fn delete(ctx: &Ctx<'_>, req: DeleteRuleRequest) -> Result<(), AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rule_arn(ctx, &bus, &req.name))?;
    // Deleting a rule that does not exist succeeds, as in EventBridge.
    let Some(r) = find(ctx, &bus, &req.name).await? else {
        return Ok(());
    };
    if !r.spec.targets.is_empty() {
        return Err(AwsError::validation(
            "Rule can't be deleted since it has targets.",
        ));
    }
    ctx.state
        .rules()
        .delete_rule(&bus, &r.name)
        .await
        .map_err(|e| rules_error(e, &bus))?;
    if r.spec
        .aws
        .as_ref()
        .is_some_and(|a| a.schedule_expression.is_some())
    {
        sync_schedule(ctx, &r, None).await?;
    }
    Ok(())
}

/// `EnableRule` and `DisableRule`.
pub(super) async fn set_enabled(
    ctx: &Ctx<'_>,
    req: RuleRef,
    enabled: bool,
) -> Result<(), AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &rule_arn(ctx, &bus, &req.name))?;
    let mut r = get(ctx, &bus, &req.name).await?;
    if r.spec.enabled != enabled {
        r.spec.enabled = enabled;
        store(ctx, &r).await?;
        if r.spec
            .aws
            .as_ref()
            .is_some_and(|a| a.schedule_expression.is_some())
        {
            // A disabled scheduled rule stops firing, as in EventBridge.
            ctx.state
                .sources()
                .set_paused(&bus, &schedule_source(&r.name), !enabled)
                .await
                .map_err(schedule_error)?;
        }
    }
    Ok(())
}

fn rule_entry(ctx: &Ctx<'_>, r: &FoundRule) -> Rule {
    let aws = r.spec.aws.as_ref();
    Rule {
        name: Some(r.aws_name().to_owned()),
        arn: Some(r.arn(ctx)),
        event_pattern: pattern_text(&r.spec),
        state: Some(state_of(&r.spec)),
        description: Some(r.spec.description.clone()).filter(|d| !d.is_empty()),
        schedule_expression: aws.and_then(|a| a.schedule_expression.clone()),
        role_arn: aws.and_then(|a| a.role_arn.clone()),
        managed_by: None,
        event_bus_name: Some(r.bus.clone()),
    }
}

/// Every rule of a bus, by EventBridge name.
pub(super) async fn all(ctx: &Ctx<'_>, bus: &str) -> Result<Vec<FoundRule>, AwsError> {
    if ctx.state.store().bus(bus).is_none() {
        return Err(AwsError::bus_not_found(bus));
    }
    let mut out: Vec<FoundRule> = ctx
        .state
        .rules()
        .rule_specs(bus)
        .await
        .into_iter()
        .map(|(name, spec)| FoundRule {
            bus: bus.to_owned(),
            name,
            spec,
        })
        .collect();
    out.sort_by(|a, b| a.aws_name().cmp(b.aws_name()));
    Ok(out)
}

/// `ListRules`.
pub(super) async fn list(
    ctx: &Ctx<'_>,
    req: ListRulesRequest,
) -> Result<ListRulesResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &ctx.bus_arn(&bus))?;
    let items: Vec<(String, Rule)> = all(ctx, &bus)
        .await?
        .iter()
        .filter(|r| {
            req.name_prefix
                .as_deref()
                .is_none_or(|p| r.aws_name().starts_with(p))
        })
        .map(|r| (r.aws_name().to_owned(), rule_entry(ctx, r)))
        .collect();
    let (rules, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListRulesResponse { rules, next_token })
}

/// `ListRuleNamesByTarget`: the rules of the bus with a target whose ARN
/// is `TargetArn`.
pub(super) async fn names_by_target(
    ctx: &Ctx<'_>,
    req: ListRuleNamesByTargetRequest,
) -> Result<ListRuleNamesByTargetResponse, AwsError> {
    let bus = bus_name(req.event_bus_name.as_deref())?;
    ctx.require(&Action::Admin, &ctx.bus_arn(&bus))?;
    let mut items = Vec::new();
    for r in all(ctx, &bus).await? {
        let hit = r
            .spec
            .targets
            .iter()
            .any(|t| super::targets::aws_target(ctx, t).arn == req.target_arn);
        if hit {
            let name = r.aws_name().to_owned();
            items.push((name.clone(), name));
        }
    }
    let (rule_names, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListRuleNamesByTargetResponse {
        rule_names,
        next_token,
    })
}

/// `TestEventPattern`: the pattern matched against the event as it is,
/// exactly as `POST /v1/test-pattern` with `{"pattern", "json"}` does.
pub(super) fn test_pattern(
    ctx: &Ctx<'_>,
    req: TestEventPatternRequest,
) -> Result<TestEventPatternResponse, AwsError> {
    ctx.require(&Action::Authenticated, "*")?;
    let pattern = parse_pattern(&req.event_pattern)?;
    super::envelope::check_test_event(&req.event)
        .map_err(|e| AwsError::validation(e.to_string()))?;
    let event: Value = serde_json::from_str(&req.event)
        .map_err(|e| AwsError::validation(format!("Parameter Event is not valid: {e}")))?;
    let mut m = Matcher::new();
    m.add(0, &pattern);
    let mut out = Vec::new();
    m.matches_value(&event, &mut out);
    Ok(TestEventPatternResponse {
        result: Some(!out.is_empty()),
    })
}
