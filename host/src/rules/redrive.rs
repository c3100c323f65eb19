//! Dead letters: moving them back into their queues (redrive), purging
//! them, counting them.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::rule::RuleError;
use super::{Rules, RulesError};
use crate::deliver::worker::TargetHandle;
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::store::queue::{DeadLetter, Delivery, DeliveryKey, TraceStep};

/// Dead letters read per redrive step, and about how many bytes of them.
const REDRIVE_PAGE: usize = 500;
const REDRIVE_PAGE_BYTES: usize = 8 << 20;

/// What a redrive did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Redriven {
    /// Letters moved back into their queues.
    pub redriven: u64,
    /// Letters left in place because they could not be read back.
    pub skipped: u64,
}

/// The delivery a dead letter becomes again: attempts reset, due now.
fn revive(key: &DeliveryKey, dl: &DeadLetter, now: i64) -> Option<Delivery> {
    let event = crate::event::json::parse_structured(dl.event.to_string().as_bytes())
        .ok()?
        .ok()?;
    let body = match (&dl.body_base64, &dl.body_content_type) {
        (Some(b64), Some(ct)) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            Some(crate::store::queue::PreparedBody {
                bytes: bytes.into(),
                content_type: ct.clone(),
            })
        }
        _ => None,
    };
    Some(Delivery::new(key.clone(), event, false, body, now))
}

impl Rules {
    /// Moves a rule's dead letters (optionally one target's) back into the
    /// delivery queues.
    ///
    /// Works target by target, page by page after the last key seen, so a
    /// target with many letters never hides another's, and a letter that
    /// cannot be read is skipped (and counted) instead of being read again
    /// forever. The router's lock is held only to look the rule up.
    pub async fn redrive(
        &self,
        bus_name: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<Redriven, RulesError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
        let targets = self.rule_targets(bus_name, name).await?;
        if let Some(t) = target
            && !targets.iter().any(|h| h.target.id == t)
        {
            return Err(RuleError::new("target", format!("the rule has no target '{t}'")).into());
        }
        let mut done = Redriven::default();
        for h in targets
            .iter()
            .filter(|h| target.is_none_or(|t| t == h.target.id))
        {
            let mut after: Option<DeliveryKey> = None;
            loop {
                let (page, more) = self
                    .store
                    .dead_letter_page(
                        bus.id,
                        name,
                        Some(&h.target.id),
                        after.as_ref(),
                        REDRIVE_PAGE,
                        REDRIVE_PAGE_BYTES,
                    )
                    .await?;
                let Some((last, _)) = page.last() else { break };
                after = Some(last.clone());
                let mut b = self.store.batch();
                let now = now_micros();
                let mut n = 0u64;
                for (key, dl) in &page {
                    let Some(d) = dl.as_ref().ok().and_then(|dl| revive(key, dl, now)) else {
                        tracing::warn!(bus = %bus.name, rule = %name, target = %key.target, seq = key.seq, "Skipping a dead letter that cannot be read back.");
                        done.skipped += 1;
                        continue;
                    };
                    let attempts = dl.as_ref().map_or(0, |dl| dl.attempts);
                    b.remove_dead_letter(key);
                    b.put_delivery(d);
                    let mut detail = serde_json::Map::new();
                    detail.insert("previous_attempts".into(), json!(attempts));
                    b.put_trace(
                        bus.id,
                        key.seq,
                        now,
                        TraceStep {
                            at: format_rfc3339_micros(now),
                            step: "redriven".into(),
                            rule: Some(name.to_owned()),
                            target: Some(key.target.clone()),
                            detail,
                        },
                    );
                    n += 1;
                }
                self.store.commit(b).await?;
                if n > 0 {
                    // Redriven keys are older than the worker's position.
                    h.rewound(n);
                    h.dead_letters_removed(n);
                    done.redriven += n;
                }
                if !more {
                    break;
                }
            }
        }
        Ok(done)
    }

    /// Deletes a rule's dead letters (optionally one target's). Returns how
    /// many.
    pub async fn purge_dead_letters(
        &self,
        bus_name: &str,
        name: &str,
        target: Option<&str>,
    ) -> Result<u64, RulesError> {
        let bus = self
            .store
            .bus(bus_name)
            .ok_or_else(|| RulesError::NoBus(bus_name.to_owned()))?;
        let targets = self.rule_targets(bus_name, name).await?;
        let n = self.store.purge_dead_letters(bus.id, name, target).await?;
        for h in targets
            .iter()
            .filter(|h| target.is_none_or(|t| t == h.target.id))
        {
            h.stats
                .dead_letters
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }

    /// How many dead letters each target of a rule holds now.
    pub async fn dead_letter_counts(
        &self,
        bus_name: &str,
        name: &str,
    ) -> Result<Vec<(String, u64)>, RulesError> {
        Ok(self
            .rule_targets(bus_name, name)
            .await?
            .iter()
            .map(|h| {
                (
                    h.target.id.clone(),
                    h.stats
                        .dead_letters
                        .load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect())
    }

    async fn rule_targets(
        &self,
        bus_name: &str,
        name: &str,
    ) -> Result<Arc<Vec<TargetHandle>>, RulesError> {
        let buses = self.buses.lock().await;
        Ok(buses
            .get(bus_name)
            .and_then(|p| p.rules.get(name))
            .ok_or_else(|| RulesError::NoRule(name.to_owned()))?
            .targets
            .clone())
    }
}
