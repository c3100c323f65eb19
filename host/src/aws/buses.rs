//! Event buses (`CreateEventBus`, `DeleteEventBus`, `DescribeEventBus`,
//! `ListEventBuses`) and `PutEvents`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::model::{
    CreateEventBusRequest, CreateEventBusResponse, DeleteEventBusRequest, DescribeEventBusRequest,
    DescribeEventBusResponse, EventBus, ListEventBusesRequest, ListEventBusesResponse,
    PutEventsRequest, PutEventsResponse, Timestamp,
};
use super::protocol::{AwsError, ErrorCode};
use super::putevents::{self, EntryError, EntryErrorCode, Limits};
use super::{Ctx, bus_name, internal, page, ts_micros};
use crate::auth::Action;
use crate::event::CloudEvent;
use crate::event::validate::EventError;
use crate::ingest::publish::{Entry, PublishError};
use crate::store::{Bus, BusConfig, DEFAULT_BUS, StoreError};

/// A bus and the events of a `PutEvents` call going onto it, each with
/// its entry's index.
type BusEntries = (Arc<Bus>, Vec<(usize, CloudEvent)>);

/// `CreateEventBus`: a bus with the server's default retention.
/// `EventSourceName` (partner buses) is refused; `KmsKeyIdentifier`,
/// `DeadLetterConfig`, `LogConfig` and `Tags` are accepted and not kept.
pub(super) async fn create(
    ctx: &Ctx<'_>,
    req: CreateEventBusRequest,
) -> Result<CreateEventBusResponse, AwsError> {
    let name = bus_name(Some(&req.name))?;
    ctx.require(&Action::Admin, &ctx.bus_arn(&name))?;
    if req.event_source_name.is_some() {
        return Err(AwsError::validation(
            "Partner event sources (EventSourceName) are not supported by Signalbox.",
        ));
    }
    let store = ctx.state.store();
    if store
        .find_bus(&name)
        .await
        .map_err(super::internal)?
        .is_some()
    {
        return Err(AwsError::new(
            ErrorCode::ResourceAlreadyExistsException,
            format!("Event bus {name} already exists."),
        ));
    }
    let config = BusConfig {
        description: req.description.clone().unwrap_or_default(),
        retention_secs: store.default_retention().as_secs(),
        ..BusConfig::default()
    };
    store
        .put_bus(name.clone(), config)
        .await
        .map_err(internal)?;
    Ok(CreateEventBusResponse {
        event_bus_arn: Some(ctx.bus_arn(&name)),
        description: req.description.filter(|d| !d.is_empty()),
        ..Default::default()
    })
}

/// `DeleteEventBus`: the bus, its events, rules and archives. Deleting a
/// bus that does not exist succeeds, as in EventBridge.
pub(super) async fn delete(ctx: &Ctx<'_>, req: DeleteEventBusRequest) -> Result<(), AwsError> {
    let name = bus_name(Some(&req.name))?;
    ctx.require(&Action::Admin, &ctx.bus_arn(&name))?;
    if name == DEFAULT_BUS {
        return Err(AwsError::validation("Cannot delete event bus default."));
    }
    ctx.state.rules().remove_bus(&name).await;
    match ctx.state.store().delete_bus(name.clone()).await {
        Ok(_) => {}
        Err(StoreError::BusNotFound(_)) => {}
        Err(e) => return Err(internal(e)),
    }
    super::archives::forget_bus(ctx, &name).await
}

fn bus_entry(ctx: &Ctx<'_>, bus: &Bus) -> EventBus {
    EventBus {
        name: Some(bus.name.clone()),
        arn: Some(ctx.bus_arn(&bus.name)),
        description: Some(bus.config.description.clone()).filter(|d| !d.is_empty()),
        policy: None,
        creation_time: Some(ts_micros(bus.created_at)),
        last_modified_time: Some(ts_micros(bus.updated_at)),
    }
}

/// `DescribeEventBus` (needs `read:<bus>`).
pub(super) async fn describe(
    ctx: &Ctx<'_>,
    req: DescribeEventBusRequest,
) -> Result<DescribeEventBusResponse, AwsError> {
    let name = bus_name(req.name.as_deref())?;
    ctx.require(&Action::Read { bus: name.clone() }, &ctx.bus_arn(&name))?;
    let bus = ctx
        .state
        .store()
        .find_bus(&name)
        .await
        .map_err(super::internal)?
        .ok_or_else(|| AwsError::bus_not_found(&name))?;
    let e = bus_entry(ctx, &bus);
    Ok(DescribeEventBusResponse {
        name: e.name,
        arn: e.arn,
        description: e.description,
        creation_time: e.creation_time,
        last_modified_time: e.last_modified_time,
        ..Default::default()
    })
}

/// `ListEventBuses`: the buses the caller may read, by name.
pub(super) fn list(
    ctx: &Ctx<'_>,
    req: ListEventBusesRequest,
) -> Result<ListEventBusesResponse, AwsError> {
    ctx.require(&Action::Authenticated, "*")?;
    let items: Vec<(String, EventBus)> = ctx
        .state
        .store()
        .buses()
        .iter()
        .filter(|b| {
            req.name_prefix
                .as_deref()
                .is_none_or(|p| b.name.starts_with(p))
        })
        .filter(|b| {
            ctx.allows(&Action::Read {
                bus: b.name.clone(),
            })
        })
        .map(|b| (b.name.clone(), bus_entry(ctx, b)))
        .collect();
    let (event_buses, next_token) = page(items, req.next_token.as_deref(), req.limit);
    Ok(ListEventBusesResponse {
        event_buses,
        next_token,
    })
}

/// `PutEvents`: each valid entry becomes a CloudEvent published through
/// [`crate::ingest::publish::Publisher`] onto its bus (one publish per bus,
/// in request order), so quotas, schemas and metrics apply as to `/v1`.
/// Whole-request problems (entry count, total size, a caller who may not
/// publish to any of the buses) are errors; everything else is answered
/// entry by entry.
pub(super) async fn put_events(
    ctx: &Ctx<'_>,
    req: PutEventsRequest,
) -> Result<PutEventsResponse, AwsError> {
    let limits = Limits {
        max_request_bytes: ctx.state.aws_settings().max_put_events_bytes,
    };
    putevents::check_request(&req, &limits)?;
    let store = ctx.state.store();
    let now = Timestamp::now();
    let server_max = ctx.state.limits().max_event_bytes;
    let mut results: Vec<Option<Result<String, EntryError>>> = vec![None; req.entries.len()];
    // Entries grouped by bus, keeping request order within each.
    let mut by_bus: BTreeMap<String, BusEntries> = BTreeMap::new();
    let mut denied = 0usize;
    for (i, entry) in req.entries.iter().enumerate() {
        let checked = match putevents::check_entry(entry) {
            Ok(c) => c,
            Err(e) => {
                results[i] = Some(Err(e));
                continue;
            }
        };
        let name = match bus_name(Some(checked.event_bus_name)) {
            Ok(n) => n,
            Err(e) => {
                results[i] = Some(Err(EntryError::new(
                    EntryErrorCode::InvalidArgument,
                    e.message,
                )));
                continue;
            }
        };
        if !ctx.allows(&Action::Publish { bus: name.clone() }) {
            denied += 1;
            results[i] = Some(Err(EntryError::new(
                EntryErrorCode::AccessDeniedException,
                format!("Not authorized to put events on event bus {name}."),
            )));
            continue;
        }
        // Also a bus created through another cluster node a moment ago.
        let bus = match store.find_bus(&name).await {
            Ok(Some(bus)) => bus,
            Ok(None) => {
                results[i] = Some(Err(EntryError::bus_not_found(checked.event_bus_name)));
                continue;
            }
            Err(e) => {
                // The SDKs retry an internal failure.
                results[i] = Some(Err(EntryError::new(
                    EntryErrorCode::InternalFailure,
                    format!("Looking up event bus {name} failed: {e}"),
                )));
                continue;
            }
        };
        let event = super::envelope::cloudevent_from_put_entry(
            &checked,
            super::new_uuid(),
            &ctx.account,
            &ctx.region,
            now,
        );
        let max = bus
            .config
            .max_event_bytes
            .map_or(server_max, |m| m as usize);
        if event.size() > max {
            results[i] = Some(Err(EntryError::new(
                EntryErrorCode::InvalidArgument,
                format!(
                    "The event is {} bytes as stored; event bus {name} accepts events up to {max} bytes.",
                    event.size()
                ),
            )));
            continue;
        }
        by_bus
            .entry(name)
            .or_insert_with(|| (bus, Vec::new()))
            .1
            .push((i, event));
    }
    // A caller who may publish to none of the buses named is refused as a
    // whole, as EventBridge refuses a PutEvents call IAM denies.
    if denied > 0 && denied == req.entries.len() {
        let token = ctx.token.as_ref();
        return Err(AwsError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: token '{}' ({}) is not authorized to perform: events:PutEvents on the event buses named: it needs scope 'publish:<bus>', 'publish:*' or 'admin'",
                token.map_or("", |t| t.name.as_str()),
                token.map_or("", |t| t.id.as_str()),
            ),
        ));
    }
    for (name, (bus, events)) in by_bus {
        let (indices, events): (Vec<usize>, Vec<CloudEvent>) = events.into_iter().unzip();
        let entries: Vec<Result<CloudEvent, EventError>> = events.into_iter().map(Ok).collect();
        match ctx.state.publisher().publish(&bus, entries, "aws").await {
            Ok(published) => {
                for (i, entry) in indices.into_iter().zip(published.entries) {
                    results[i] = Some(match entry {
                        Entry::Stored { event, .. } => Ok(event.id),
                        Entry::Rejected(e) => Err(EntryError::new(
                            EntryErrorCode::InvalidArgument,
                            format!("The event was refused: {}", e.detail),
                        )),
                    });
                }
            }
            Err(e) => {
                let (code, message) = match &e {
                    PublishError::RateLimited { .. } => {
                        (EntryErrorCode::ThrottlingException, e.to_string())
                    }
                    _ => (
                        EntryErrorCode::InternalFailure,
                        format!("Storing the event on {name} failed: {e}"),
                    ),
                };
                for i in indices {
                    results[i] = Some(Err(EntryError::new(code, message.clone())));
                }
            }
        }
    }
    Ok(putevents::response(results.into_iter().map(|r| {
        r.unwrap_or_else(|| {
            Err(EntryError::new(
                EntryErrorCode::InternalFailure,
                "The entry was not handled.",
            ))
        })
    })))
}
