//! Archives (`CreateArchive`, `DescribeArchive`, `ListArchives`,
//! `DeleteArchive`) and replays (`StartReplay`, `DescribeReplay`,
//! `ListReplays`, `CancelReplay`).
//!
//! Signalbox's bus log already is an archive: every event is kept for the
//! bus's retention. An EventBridge archive is therefore a named view of its
//! bus — the bus and an optional event pattern — and creating one with
//! `RetentionDays` extends the bus's retention to at least that many days
//! (`0`, "forever" in EventBridge, leaves it as it is). A replay is a
//! Signalbox replay ([`crate::rules::replay`]) of the events the bus
//! received between `EventStartTime` and `EventEndTime` that the archive's
//! pattern selects, into the rules named by `FilterArns` (every rule of the
//! bus when absent); targets see `replay-name` in the envelope, set to the
//! Signalbox replay's id.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{
    Archive, ArchiveRef, ArchiveState, CancelReplayResponse, CreateArchiveRequest,
    CreateArchiveResponse, DescribeArchiveResponse, DescribeReplayResponse, ListArchivesRequest,
    ListArchivesResponse, ListReplaysRequest, ListReplaysResponse, Replay, ReplayDestination,
    ReplayRef, ReplayState, StartReplayRequest, StartReplayResponse, Timestamp,
};
use super::protocol::{AwsError, ErrorCode};
use super::{AwsRecord, Ctx, bus_name, page, record, records, remove, save};
use crate::auth::Action;
use crate::event::time::parse_rfc3339;
use crate::pattern::envelope::format_rfc3339_secs;
use crate::rules::replay::{Position, ReplayRequest, ReplayState as SbState};

/// An archive as the front keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArchiveRecord {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The bus.
    pub bus: String,
    /// The bus's ARN, as sent.
    pub event_source_arn: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Only events this pattern selects (the text sent).
    #[serde(default)]
    pub event_pattern: Option<String>,
    /// As sent (0: as long as the bus keeps events).
    pub retention_days: i32,
    /// Created, ms since the epoch.
    pub created: i64,
}

/// A replay as the front keeps it: its EventBridge side, and the Signalbox
/// replay that does the work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplayRecord {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The Signalbox replay (`rp-N`).
    pub replay_id: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The archive's ARN.
    pub event_source_arn: String,
    /// Where events go, as sent.
    pub destination: ReplayDestination,
    /// Start of the window, ms.
    pub start: i64,
    /// End of the window, ms.
    pub end: i64,
}

async fn archive(ctx: &Ctx<'_>, name: &str) -> Result<ArchiveRecord, AwsError> {
    match record(ctx, "archive", name).await? {
        Some(AwsRecord::Archive(a)) => Ok(a),
        _ => Err(AwsError::new(
            ErrorCode::ResourceNotFoundException,
            format!("Archive {name} does not exist."),
        )),
    }
}

async fn all_archives(ctx: &Ctx<'_>) -> Result<Vec<ArchiveRecord>, AwsError> {
    Ok(records(ctx, "archive")
        .await?
        .into_iter()
        .filter_map(|(_, r)| match r {
            AwsRecord::Archive(a) => Some(a),
            _ => None,
        })
        .collect())
}

/// Forgets the archives of a deleted bus.
pub(super) async fn forget_bus(ctx: &Ctx<'_>, bus: &str) -> Result<(), AwsError> {
    for a in all_archives(ctx).await? {
        if a.bus == bus {
            remove(ctx, "archive", &a.name).await?;
        }
    }
    Ok(())
}

/// `CreateArchive`.
pub(super) async fn create(
    ctx: &Ctx<'_>,
    req: CreateArchiveRequest,
) -> Result<CreateArchiveResponse, AwsError> {
    let arn = ctx.arn(&format!("archive/{}", req.archive_name));
    ctx.require(&Action::Admin, &arn)?;
    let name = bus_name(Some(&req.event_source_arn))?;
    let store = ctx.state.store();
    let bus = store
        .bus(&name)
        .ok_or_else(|| AwsError::bus_not_found(&name))?;
    if let Some(p) = &req.event_pattern {
        let value: Value = serde_json::from_str(p).map_err(|e| pattern_error(&e.to_string()))?;
        crate::pattern::Pattern::from_value(&value).map_err(|e| pattern_error(&e.to_string()))?;
    }
    if record(ctx, "archive", &req.archive_name).await?.is_some() {
        return Err(AwsError::new(
            ErrorCode::ResourceAlreadyExistsException,
            format!("Archive {} already exists.", req.archive_name),
        ));
    }
    let days = req.retention_days.unwrap_or(0);
    let wanted = u64::try_from(days).unwrap_or(0) * 86_400;
    if wanted > bus.config.retention_secs {
        let mut config = bus.config.clone();
        config.retention_secs = wanted;
        store
            .put_bus(name.clone(), config)
            .await
            .map_err(super::internal)?;
    }
    let a = ArchiveRecord {
        name: req.archive_name,
        arn,
        bus: name,
        event_source_arn: req.event_source_arn,
        description: req.description,
        event_pattern: req.event_pattern,
        retention_days: days,
        created: Timestamp::now().millis(),
    };
    save(ctx, &AwsRecord::Archive(a.clone())).await?;
    Ok(CreateArchiveResponse {
        archive_arn: Some(a.arn),
        state: Some(ArchiveState::Enabled),
        state_reason: None,
        creation_time: Timestamp::from_millis(a.created),
    })
}

fn pattern_error(reason: &str) -> AwsError {
    AwsError::new(
        ErrorCode::InvalidEventPatternException,
        format!("Event pattern is not valid. Reason: {reason}"),
    )
}

/// `DescribeArchive`. `EventCount` and `SizeBytes` are not reported.
pub(super) async fn describe(
    ctx: &Ctx<'_>,
    req: ArchiveRef,
) -> Result<DescribeArchiveResponse, AwsError> {
    let a = archive(ctx, &req.archive_name).await?;
    ctx.require(&Action::Admin, &a.arn)?;
    Ok(DescribeArchiveResponse {
        archive_arn: Some(a.arn),
        archive_name: Some(a.name),
        event_source_arn: Some(a.event_source_arn),
        description: a.description,
        event_pattern: a.event_pattern,
        state: Some(ArchiveState::Enabled),
        retention_days: Some(a.retention_days),
        creation_time: Timestamp::from_millis(a.created),
        ..Default::default()
    })
}

/// `ListArchives`.
pub(super) async fn list(
    ctx: &Ctx<'_>,
    req: ListArchivesRequest,
) -> Result<ListArchivesResponse, AwsError> {
    ctx.require(&Action::Admin, "*")?;
    let items: Vec<(String, Archive)> = all_archives(ctx)
        .await?
        .into_iter()
        .filter(|a| {
            req.name_prefix
                .as_deref()
                .is_none_or(|p| a.name.starts_with(p))
        })
        .filter(|a| {
            req.event_source_arn
                .as_deref()
                .is_none_or(|s| super::model::bus_name_of(s) == a.bus)
        })
        .filter(|_| req.state.is_none_or(|s| s == ArchiveState::Enabled))
        .map(|a| {
            (
                a.name.clone(),
                Archive {
                    archive_name: Some(a.name),
                    event_source_arn: Some(a.event_source_arn),
                    state: Some(ArchiveState::Enabled),
                    retention_days: Some(a.retention_days),
                    creation_time: Timestamp::from_millis(a.created),
                    ..Default::default()
                },
            )
        })
        .collect();
    let (archives, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListArchivesResponse {
        archives,
        next_token,
    })
}

/// `DeleteArchive`: the archive goes; the bus keeps its events (and its
/// retention).
pub(super) async fn delete(
    ctx: &Ctx<'_>,
    req: ArchiveRef,
) -> Result<super::model::Empty, AwsError> {
    let a = archive(ctx, &req.archive_name).await?;
    ctx.require(&Action::Admin, &a.arn)?;
    remove(ctx, "archive", &a.name).await?;
    Ok(super::model::Empty {})
}

/// The rule named by an EventBridge rule ARN (`…:rule/NAME` or
/// `…:rule/BUS/NAME`) on `bus`: its Signalbox name.
async fn rule_of_arn(ctx: &Ctx<'_>, bus: &str, arn: &str) -> Result<String, AwsError> {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    let path = resource.strip_prefix("rule/").ok_or_else(|| {
        AwsError::validation(format!("FilterArns: '{arn}' is not the ARN of a rule."))
    })?;
    let (rule_bus, name) = match path.split_once('/') {
        Some((b, n)) => (b, n),
        None => (crate::store::DEFAULT_BUS, path),
    };
    if rule_bus != bus {
        return Err(AwsError::validation(format!(
            "FilterArns: rule '{arn}' is not on the destination event bus {bus}."
        )));
    }
    Ok(super::rules::get(ctx, bus, name).await?.name)
}

/// `StartReplay`.
pub(super) async fn start_replay(
    ctx: &Ctx<'_>,
    req: StartReplayRequest,
) -> Result<StartReplayResponse, AwsError> {
    let arn = ctx.arn(&format!("replay/{}", req.replay_name));
    ctx.require(&Action::Admin, &arn)?;
    let archive_name = req
        .event_source_arn
        .rsplit(':')
        .next()
        .and_then(|r| r.strip_prefix("archive/"))
        .unwrap_or(&req.event_source_arn);
    let a = archive(ctx, archive_name).await?;
    let destination = bus_name(Some(&req.destination.arn))?;
    if destination != a.bus {
        return Err(AwsError::validation(format!(
            "Parameter Destination.Arn is not valid: events of archive {} can only be replayed to its event bus {}.",
            a.name, a.bus
        )));
    }
    if req.event_start_time >= req.event_end_time {
        return Err(AwsError::validation(
            "Parameter EventStartTime is not valid: it must be before EventEndTime.",
        ));
    }
    if record(ctx, "replay", &req.replay_name).await?.is_some() {
        return Err(AwsError::new(
            ErrorCode::ResourceAlreadyExistsException,
            format!("Replay {} already exists.", req.replay_name),
        ));
    }
    let rules = match &req.destination.filter_arns {
        Some(arns) if !arns.is_empty() => {
            let mut out = Vec::new();
            for arn in arns {
                out.push(rule_of_arn(ctx, &a.bus, arn).await?);
            }
            out
        }
        _ => super::rules::all(ctx, &a.bus)
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect(),
    };
    if rules.is_empty() {
        return Err(AwsError::validation(format!(
            "Event bus {} has no rules to replay events into.",
            a.bus
        )));
    }
    let pattern = match &a.event_pattern {
        Some(p) => Some(serde_json::from_str::<Value>(p).map_err(super::internal)?),
        None => None,
    };
    let sb = ctx
        .state
        .rules()
        .start_replay(
            &a.bus,
            ReplayRequest {
                from: Position::Time(format_rfc3339_secs(req.event_start_time.micros())),
                to: Some(Position::Time(format_rfc3339_secs(
                    req.event_end_time.micros(),
                ))),
                rules,
                rate_per_s: None,
                pattern,
            },
        )
        .await
        .map_err(|e| super::rules_error(e, &a.bus))?;
    let r = ReplayRecord {
        name: req.replay_name,
        arn,
        replay_id: sb.id.clone(),
        description: req.description,
        event_source_arn: req.event_source_arn,
        destination: req.destination,
        start: req.event_start_time.millis(),
        end: req.event_end_time.millis(),
    };
    save(ctx, &AwsRecord::Replay(r.clone())).await?;
    Ok(StartReplayResponse {
        replay_arn: Some(r.arn),
        state: Some(ReplayState::Starting),
        state_reason: None,
        replay_start_time: parse_time(&sb.created_at),
    })
}

fn parse_time(rfc3339: &str) -> Option<Timestamp> {
    parse_rfc3339(rfc3339).ok().and_then(Timestamp::from_micros)
}

/// A replay's EventBridge state, from its Signalbox state.
fn state_of(status: Option<&crate::rules::replay::ReplayStatus>) -> (ReplayState, Option<String>) {
    match status {
        None => (
            ReplayState::Failed,
            Some("The replay's progress was lost.".to_owned()),
        ),
        Some(s) => match s.state {
            SbState::Running | SbState::Paused => (ReplayState::Running, None),
            SbState::Completed => (ReplayState::Completed, None),
            SbState::Cancelled => (ReplayState::Cancelled, None),
            SbState::Failed => (ReplayState::Failed, s.error.clone()),
        },
    }
}

async fn replay(ctx: &Ctx<'_>, name: &str) -> Result<ReplayRecord, AwsError> {
    match record(ctx, "replay", name).await? {
        Some(AwsRecord::Replay(r)) => Ok(r),
        _ => Err(AwsError::new(
            ErrorCode::ResourceNotFoundException,
            format!("Replay {name} does not exist."),
        )),
    }
}

/// `DescribeReplay`.
pub(super) async fn describe_replay(
    ctx: &Ctx<'_>,
    req: ReplayRef,
) -> Result<DescribeReplayResponse, AwsError> {
    let r = replay(ctx, &req.replay_name).await?;
    ctx.require(&Action::Admin, &r.arn)?;
    let status = ctx.state.rules().replay(&r.replay_id);
    let (state, state_reason) = state_of(status.as_ref());
    Ok(DescribeReplayResponse {
        replay_name: Some(r.name),
        replay_arn: Some(r.arn),
        description: r.description,
        state: Some(state),
        state_reason,
        event_source_arn: Some(r.event_source_arn),
        destination: Some(r.destination),
        event_start_time: Timestamp::from_millis(r.start),
        event_end_time: Timestamp::from_millis(r.end),
        event_last_replayed_time: None,
        replay_start_time: status.as_ref().and_then(|s| parse_time(&s.created_at)),
        replay_end_time: status
            .as_ref()
            .and_then(|s| s.finished_at.as_deref())
            .and_then(parse_time),
    })
}

/// `ListReplays`.
pub(super) async fn list_replays(
    ctx: &Ctx<'_>,
    req: ListReplaysRequest,
) -> Result<ListReplaysResponse, AwsError> {
    ctx.require(&Action::Admin, "*")?;
    let mut items = Vec::new();
    for (name, rec) in records(ctx, "replay").await? {
        let AwsRecord::Replay(r) = rec else { continue };
        if req
            .name_prefix
            .as_deref()
            .is_some_and(|p| !name.starts_with(p))
            || req
                .event_source_arn
                .as_deref()
                .is_some_and(|a| a != r.event_source_arn)
        {
            continue;
        }
        let status = ctx.state.rules().replay(&r.replay_id);
        let (state, state_reason) = state_of(status.as_ref());
        if req.state.is_some_and(|s| s != state) {
            continue;
        }
        items.push((
            name,
            Replay {
                replay_name: Some(r.name),
                event_source_arn: Some(r.event_source_arn),
                state: Some(state),
                state_reason,
                event_start_time: Timestamp::from_millis(r.start),
                event_end_time: Timestamp::from_millis(r.end),
                event_last_replayed_time: None,
                replay_start_time: status.as_ref().and_then(|s| parse_time(&s.created_at)),
                replay_end_time: status
                    .as_ref()
                    .and_then(|s| s.finished_at.as_deref())
                    .and_then(parse_time),
            },
        ));
    }
    let (replays, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListReplaysResponse {
        replays,
        next_token,
    })
}

/// `CancelReplay`.
pub(super) async fn cancel_replay(
    ctx: &Ctx<'_>,
    req: ReplayRef,
) -> Result<CancelReplayResponse, AwsError> {
    let r = replay(ctx, &req.replay_name).await?;
    ctx.require(&Action::Admin, &r.arn)?;
    let not_cancellable = || {
        AwsError::new(
            ErrorCode::IllegalStatusException,
            format!("Replay {} is not in a state that can be cancelled.", r.name),
        )
    };
    match ctx
        .state
        .rules()
        .control_replay(&r.replay_id, SbState::Cancelled)
        .await
    {
        Ok(Some(_)) => Ok(CancelReplayResponse {
            replay_arn: Some(r.arn.clone()),
            state: Some(ReplayState::Cancelling),
            state_reason: None,
        }),
        Ok(None) | Err(_) => Err(not_cancellable()),
    }
}
