//! The chain: what a rule does to an event it selected, before delivery.
//!
//! ```text
//!   selected event ──▶ filter ──▶ filter ──▶ … ──▶ transform ──▶ outputs
//!                     (plugin)   (plugin)        (plugin or template)
//! ```
//!
//! A [`Chain`] is built once per rule version from its `filters` and
//! `transform`, and run for every event the rule selects — by the rule's
//! worker on live traffic and by replays alike, so both do exactly the same
//! thing. [`Chain::run`] answers with one [`ChainResult`]:
//!
//! * **deliver** these outputs: the event unchanged ([`Output::Same`]), new
//!   events a transform made ([`Output::Event`], validated as carefully as
//!   ingest validates: see [`crate::plugin::convert`]), or the event with a
//!   prepared body ([`Output::Body`], a template's `"output": "body"`);
//! * **filtered**: a filter said no, or a transform returned no events;
//! * **failed**: a plugin or the template failed, with the reason.
//!
//! Every step reports which plugin ran and how long it took ([`StepReport`]),
//! so an event's trace can show its path through the chain.
//!
//! The built-in input transformer ([`template`]) lives here too: it is the
//! chain's step that needs no plugin.

pub mod template;

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::event::{CloudEvent, SharedEvent};
use crate::plugin::RulePlugin;
use crate::store::queue::PreparedBody;
use template::CompiledTransform;

/// A rule's transform step.
pub enum Transform {
    /// A Wasm transform plugin.
    Plugin(Arc<RulePlugin>),
    /// The built-in input transformer.
    Builtin(CompiledTransform),
}

/// A rule's filters and transform.
#[derive(Default)]
pub struct Chain {
    /// Filter plugins, in order.
    pub filters: Vec<Arc<RulePlugin>>,
    /// The transform, if any.
    pub transform: Option<Transform>,
}

/// What to deliver for one selected event.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The event as it is in the bus log: no step changed it.
    Same,
    /// An event a transform made.
    Event(CloudEvent),
    /// The logged event, sent with this body (HTTP targets in `body` mode).
    Body(PreparedBody),
}

impl Output {
    /// The event to deliver and the body to send instead, if any, given the
    /// event as logged.
    ///
    /// The flag says whether the event is the logged one unchanged, so the
    /// delivery can refer to the log instead of keeping a copy.
    pub fn into_delivered(self, logged: &CloudEvent) -> (CloudEvent, Option<PreparedBody>, bool) {
        match self {
            Output::Same => (logged.clone(), None, true),
            Output::Event(e) => (e, None, false),
            Output::Body(b) => (logged.clone(), Some(b), true),
        }
    }
}

/// One step of a run, for the event's trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// `filter` or `transform`.
    pub step: &'static str,
    /// `name@version` of the plugin, or `template`.
    pub plugin: String,
    /// How long it took, in µs.
    pub duration_us: u64,
    /// `kept`, `dropped`, `transformed` or `failed`.
    pub outcome: &'static str,
}

/// What the chain made of one event.
#[derive(Debug)]
pub enum ChainResult {
    /// Deliver these (in order).
    Deliver(Vec<Output>),
    /// Dropped by this step (`name@version`).
    Filtered(String),
    /// This step (`name@version` or `transform`) failed, for this reason.
    Failed(String, String),
}

impl Chain {
    /// Runs the chain on one event, which Signalbox received at
    /// `received_at` (µs since the epoch; templates can insert it); also
    /// returns a report of each step.
    pub async fn run(
        &self,
        shared: &SharedEvent,
        received_at: i64,
    ) -> (ChainResult, Vec<StepReport>) {
        let event: &CloudEvent = (**shared).as_ref();
        let mut report = Vec::with_capacity(self.filters.len() + 1);
        let mut step = |step, plugin: String, started: Instant, outcome| {
            report.push(StepReport {
                step,
                plugin,
                duration_us: started.elapsed().as_micros() as u64,
                outcome,
            });
        };
        for f in &self.filters {
            let started = Instant::now();
            let reference = f.plugin().reference();
            match f.keep(shared).await {
                Ok(true) => step("filter", reference, started, "kept"),
                Ok(false) => {
                    step("filter", reference.clone(), started, "dropped");
                    return (ChainResult::Filtered(reference), report);
                }
                Err(e) => {
                    step("filter", reference.clone(), started, "failed");
                    return (
                        ChainResult::Failed(reference, format!("{:?}: {}", e.kind, e.message)),
                        report,
                    );
                }
            }
        }
        let started = Instant::now();
        let result = match &self.transform {
            None => return (ChainResult::Deliver(vec![Output::Same]), report),
            Some(Transform::Plugin(p)) => {
                let reference = p.plugin().reference();
                match p.transform(event).await {
                    Ok(events) if events.is_empty() => {
                        step("transform", reference.clone(), started, "dropped");
                        ChainResult::Filtered(reference)
                    }
                    Ok(events) => {
                        step("transform", reference, started, "transformed");
                        ChainResult::Deliver(events.into_iter().map(Output::Event).collect())
                    }
                    Err(e) => {
                        step("transform", reference.clone(), started, "failed");
                        ChainResult::Failed(reference, format!("{:?}: {}", e.kind, e.message))
                    }
                }
            }
            Some(Transform::Builtin(t)) => match t.apply_received(event, received_at) {
                Ok(template::Output::Event(e)) => {
                    step("transform", "template".into(), started, "transformed");
                    ChainResult::Deliver(vec![Output::Event(e)])
                }
                Ok(template::Output::Body(b)) => {
                    step("transform", "template".into(), started, "transformed");
                    ChainResult::Deliver(vec![Output::Body(b)])
                }
                Err(e) => {
                    step("transform", "template".into(), started, "failed");
                    ChainResult::Failed("transform".into(), e.to_string())
                }
            },
        };
        (result, report)
    }

    /// How many events the chain can work on at once: the fewest
    /// instances any of its plugins may have (1 without plugins, where
    /// running events side by side would gain nothing).
    pub fn parallelism(&self) -> usize {
        self.plugins()
            .iter()
            .map(|(_, p)| p.max_instances() as usize)
            .min()
            .unwrap_or(1)
            .max(1)
    }

    /// The plugins the chain uses, with their step name (for status).
    pub fn plugins(&self) -> Vec<(String, &Arc<RulePlugin>)> {
        let mut out: Vec<(String, &Arc<RulePlugin>)> = self
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("filter{i}"), f))
            .collect();
        if let Some(Transform::Plugin(p)) = &self.transform {
            out.push(("transform".into(), p));
        }
        out
    }
}
