//! Deliveries, dead letters, trace steps and rule gaps: the records the
//! router's working state is made of, and [`Batch`], the set of changes to
//! them that an engine applies atomically ([`super::RuleProgress::commit`]).
//!
//! A rule's new position, the deliveries it queued and their trace steps go
//! into one batch: after a crash either all of it is there or none, and the
//! rule re-handles the events after its position (at-least-once). A
//! delivery's outcome — removed, rescheduled, dead-lettered — and its trace
//! step likewise.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{BusId, DecodeError, Seq};
use crate::event::CloudEvent;

/// Identifies one delivery: an event (or one of the events a transform made
/// from it) for one target of one rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryKey {
    /// The bus.
    pub bus: BusId,
    /// The rule name.
    pub rule: String,
    /// The target id.
    pub target: String,
    /// The source event's sequence number.
    pub seq: Seq,
    /// Which of the events made from it (0 without a splitting transform).
    pub sub: u32,
}

/// A body prepared by a transform for an HTTP target in `body` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedBody {
    /// The bytes.
    pub bytes: Bytes,
    /// Their media type.
    pub content_type: String,
}

/// A pending delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Where it is in the queue.
    pub key: DeliveryKey,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it may next be attempted (µs since the epoch).
    pub next_attempt_at: i64,
    /// When it was queued (µs since the epoch); `max_age` counts from here.
    pub enqueued_at: i64,
    /// The status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The event to deliver (after the rule's transform).
    pub event: CloudEvent,
    /// Whether `event` is the bus log's event `key.seq` unchanged. An
    /// engine may then store a reference to the log instead of a copy (and
    /// must keep that event while the delivery is queued).
    pub logged: bool,
    /// A body to send instead of the event (HTTP `body` mode).
    pub body: Option<PreparedBody>,
}

/// A delivery that will not be retried, kept for inspection and redrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The rule.
    pub rule: String,
    /// The target id.
    pub target: String,
    /// The source event's sequence number.
    pub seq: Seq,
    /// Index among the events a transform made.
    pub sub: u32,
    /// The event, in the JSON format.
    pub event: serde_json::Value,
    /// A prepared body, base64, when the target sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The prepared body's content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_content_type: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Status of the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Why it was dead-lettered: `permanent_error`, `max_attempts`, `max_age`, `loop`.
    pub reason: String,
    /// When it was first queued (RFC 3339).
    pub enqueued_at: String,
    /// When it was dead-lettered (RFC 3339).
    pub dead_at: String,
}

/// One step in an event's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceStep {
    /// When (RFC 3339).
    pub at: String,
    /// `matched`, `filtered_out`, `transformed`, `failed`, `queued`,
    /// `attempt`, `delivered`, `dead_lettered`, `redriven`, `forwarded`.
    pub step: String,
    /// The rule, when the step belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The target, for delivery steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Details: reason, attempt number, status, error, duration.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// Events a rule never handled because retention deleted them first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleGaps {
    /// How many events the rule missed, in all.
    pub expired_events: u64,
    /// The most recent gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Gap>,
}

/// A range of events a rule missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// The first missing seq.
    pub from: Seq,
    /// The last missing seq.
    pub to: Seq,
    /// When the rule noticed (RFC 3339).
    pub detected_at: String,
}

impl Delivery {
    /// A delivery queued `now`, not yet attempted.
    pub fn new(
        key: DeliveryKey,
        event: CloudEvent,
        logged: bool,
        body: Option<PreparedBody>,
        now: i64,
    ) -> Delivery {
        Delivery {
            key,
            attempts: 0,
            next_attempt_at: now,
            enqueued_at: now,
            last_status: None,
            last_error: None,
            event,
            logged,
            body,
        }
    }

    /// About how much memory the delivery holds (for byte limits).
    pub fn approx_bytes(&self) -> usize {
        self.event.size()
            + self.body.as_ref().map_or(0, |b| b.bytes.len())
            + self.last_error.as_ref().map_or(0, String::len)
            + 128
    }
}

/// Dead letters with their keys; one that could not be decoded is an error
/// in its place.
pub type DeadLetterPage = Vec<(DeliveryKey, Result<DeadLetter, DecodeError>)>;

/// One change in a [`Batch`].
#[derive(Debug, Clone)]
pub enum Op {
    /// Sets a rule's position.
    SetCursor {
        /// The bus.
        bus: BusId,
        /// The rule.
        rule: String,
        /// The last seq it handled.
        seq: Seq,
    },
    /// Records what a rule missed.
    SetGaps {
        /// The bus.
        bus: BusId,
        /// The rule.
        rule: String,
        /// Its gaps.
        gaps: RuleGaps,
    },
    /// Queues a delivery, or replaces it (a new attempt count and due time).
    PutDelivery(Box<Delivery>),
    /// Removes a delivery (delivered, dead-lettered or dropped).
    RemoveDelivery(DeliveryKey),
    /// Records a dead letter.
    PutDeadLetter(DeliveryKey, Box<DeadLetter>),
    /// Removes a dead letter (redriven).
    RemoveDeadLetter(DeliveryKey),
    /// Records a step of an event's trace.
    PutTrace {
        /// The bus.
        bus: BusId,
        /// The event.
        seq: Seq,
        /// When (µs since the epoch; orders the steps).
        at: i64,
        /// The step as JSON: a serialized [`TraceStep`].
        json: Vec<u8>,
    },
}

/// Changes applied together, all or none.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The changes, in the order they were added.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Takes the changes out.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Appends `other`'s changes after this batch's: applying the result
    /// is applying the two in turn, atomically together.
    pub fn append(&mut self, other: Batch) {
        if self.ops.is_empty() {
            self.ops = other.ops;
        } else {
            self.ops.extend(other.ops);
        }
    }

    /// Sets a rule's position.
    pub fn set_cursor(&mut self, bus: BusId, rule: &str, seq: Seq) {
        self.ops.push(Op::SetCursor {
            bus,
            rule: rule.to_owned(),
            seq,
        });
    }

    /// Records what a rule missed.
    pub fn set_rule_gaps(&mut self, bus: BusId, rule: &str, gaps: &RuleGaps) {
        self.ops.push(Op::SetGaps {
            bus,
            rule: rule.to_owned(),
            gaps: gaps.clone(),
        });
    }

    /// Queues (or replaces) a delivery.
    pub fn put_delivery(&mut self, d: Delivery) {
        self.ops.push(Op::PutDelivery(Box::new(d)));
    }

    /// Removes a delivery.
    pub fn remove_delivery(&mut self, key: DeliveryKey) {
        self.ops.push(Op::RemoveDelivery(key));
    }

    /// Records a dead letter.
    pub fn put_dead_letter(&mut self, key: &DeliveryKey, dl: DeadLetter) {
        self.ops.push(Op::PutDeadLetter(key.clone(), Box::new(dl)));
    }

    /// Removes a dead letter.
    pub fn remove_dead_letter(&mut self, key: &DeliveryKey) {
        self.ops.push(Op::RemoveDeadLetter(key.clone()));
    }

    /// Records a trace step of event `seq`.
    pub fn put_trace(&mut self, bus: BusId, seq: Seq, at: i64, step: TraceStep) {
        // A map of strings and JSON values always serializes.
        let json = serde_json::to_vec(&step).expect("a trace step serializes");
        self.put_trace_json(bus, seq, at, json);
    }

    /// Records a trace step of event `seq` already written as JSON, in the
    /// shape of a serialized [`TraceStep`] (the hot path writes one without
    /// building it).
    pub fn put_trace_json(&mut self, bus: BusId, seq: Seq, at: i64, json: Vec<u8>) {
        self.ops.push(Op::PutTrace { bus, seq, at, json });
    }
}
