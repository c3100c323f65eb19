//! The per-bus dispatcher: every new event is read once and matched once
//! against all rules of the bus.
//!
//! The dispatcher holds the bus's shared [`Matcher`] (all enabled rules'
//! patterns in one automaton) and follows the head of the bus log. For each
//! new event it finds the matching rules and hands the event to each of
//! those rules' workers that are *attached* — caught up with the head. It
//! then tells every attached worker how far it has dispatched, so rules that
//! matched nothing still advance their cursors.
//!
//! The dispatcher never waits for a worker: if a worker's inbox is full (a
//! slow plugin chain), the worker is detached. A detached worker (also every
//! worker just after start-up, or after being enabled) reads the log itself
//! from its own cursor, matching with its own single-rule matcher, and asks
//! to attach again once it has caught up. Nothing is lost either way:
//! workers advance their cursor only over events they have handled, and
//! they ignore anything at or before their cursor.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::rule::CompiledRule;
use crate::matching::RuleSet;
use crate::pattern::RuleId;
use crate::store::{Bus, Seq, Store, StoredEvent};

/// What a worker receives while attached.
pub enum Work {
    /// An event that matched the rule's pattern (CESQL is checked too).
    Event(Arc<StoredEvent>),
    /// Everything up to this seq has been dispatched.
    Progress(Seq),
    /// Events `from..=to` expired before the dispatcher read them: no rule
    /// will see them.
    Gap {
        /// The first missing seq.
        from: Seq,
        /// The last missing seq.
        to: Seq,
    },
}

/// Inbox size of an attached worker; a full inbox detaches it.
pub const INBOX: usize = 4096;

/// Reads of at most this many events at the head of the log are made on the
/// dispatcher's own task.
const INLINE_READ: Seq = 64;

/// Commands to the dispatcher.
pub enum Command {
    /// A rule was added or replaced (its old matcher entry is removed).
    Put {
        /// Matcher id.
        id: RuleId,
        /// The rule.
        rule: Arc<CompiledRule>,
    },
    /// A rule was removed or disabled.
    Remove {
        /// Matcher id.
        id: RuleId,
    },
    /// A caught-up worker asks to receive events from the head.
    Attach {
        /// Matcher id.
        id: RuleId,
        /// The worker's cursor.
        cursor: Seq,
        /// Its inbox.
        inbox: mpsc::Sender<Work>,
        /// Whether it was attached.
        reply: oneshot::Sender<bool>,
    },
}

struct Entry {
    rule: Arc<CompiledRule>,
    inbox: Option<mpsc::Sender<Work>>,
}

/// Runs the dispatcher of `bus` until `shutdown` fires or the command
/// channel closes.
pub async fn run(
    store: Store,
    bus: Arc<Bus>,
    mut commands: mpsc::Receiver<Command>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut set = RuleSet::new();
    let mut rules: HashMap<RuleId, Entry> = HashMap::new();
    let mut position = bus.last_seq();
    let mut committed = bus.subscribe();
    let mut matched = Vec::new();
    loop {
        // With no rules there is nobody to hand events to: skip the read. A
        // rule added later catches up from its own cursor before attaching.
        if set.is_empty() {
            position = position.max(bus.last_seq());
        }
        // Dispatch everything committed so far. After a failed read the
        // loop tries again after a pause even if nothing new is committed
        // (on a quiet bus nothing else would wake it).
        let mut retry = false;
        while position < bus.last_seq() {
            let from = position;
            // The head before the read: an empty read means everything up
            // to it expired (retention), not that nothing was written.
            let head = bus.last_seq();
            // A short read of the head (just written, so in memory) is
            // cheap enough for the engine to serve inline; a long one
            // (catching up after a burst) it serves off the runtime.
            let limit = if head - from <= INLINE_READ {
                INLINE_READ as usize
            } else {
                512
            };
            let batch = match store.read(&bus, from, limit).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(bus = %bus.name, %error, "Dispatcher cannot read the bus.");
                    retry = true;
                    break;
                }
            };
            let gap_to = match batch.first() {
                None => head,
                Some(e) => e.seq - 1,
            };
            if gap_to > from {
                // Retention removed what we had not reached yet: tell the
                // rules, which record it, and move on.
                for entry in rules.values_mut() {
                    if let Some(inbox) = &entry.inbox
                        && inbox
                            .try_send(Work::Gap {
                                from: from + 1,
                                to: gap_to,
                            })
                            .is_err()
                    {
                        entry.inbox = None;
                    }
                }
                position = gap_to;
            }
            if batch.is_empty() {
                continue;
            }
            for e in batch {
                let seq = e.seq;
                let e = Arc::new(e);
                let selection = set.select(&e.event, &mut matched);
                if let Some(error) = selection.error {
                    tracing::error!(bus = %bus.name, seq, %error, "Cannot match an event's envelope.");
                }
                if selection.budget_exhausted {
                    crate::metrics::METRICS
                        .match_budget_exhausted
                        .get(&[("bus", &bus.name)])
                        .inc();
                    tracing::warn!(bus = %bus.name, seq, "Matching this event hit the work limit (a pattern's array-consistency search); rules it could not settle did not match.");
                }
                for id in &matched {
                    let Some(entry) = rules.get_mut(id) else {
                        continue;
                    };
                    let Some(inbox) = &entry.inbox else { continue };
                    if inbox.try_send(Work::Event(e.clone())).is_err() {
                        tracing::debug!(bus = %bus.name, rule = %entry.rule.name, "Rule worker behind; detaching it to catch up on its own.");
                        entry.inbox = None;
                    }
                }
                position = seq;
            }
            for entry in rules.values_mut() {
                if let Some(inbox) = &entry.inbox
                    && inbox.try_send(Work::Progress(position)).is_err()
                {
                    entry.inbox = None;
                }
            }
        }
        tokio::select! {
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Put { id, rule } => {
                        set.put(id, rule.pattern.as_ref(), rule.cesql.as_ref());
                        rules.insert(id, Entry { rule, inbox: None });
                    }
                    Command::Remove { id } => {
                        set.remove(id);
                        rules.remove(&id);
                    }
                    Command::Attach { id, cursor, inbox, reply } => {
                        let ok = match rules.get_mut(&id) {
                            Some(entry) if cursor >= position => {
                                entry.inbox = Some(inbox);
                                true
                            }
                            _ => false,
                        };
                        let _ = reply.send(ok);
                    }
                }
            }
            r = committed.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)), if retry => {},
            _ = shutdown.changed() => return,
        }
    }
}
