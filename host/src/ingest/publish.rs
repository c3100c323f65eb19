//! Publishing: the one path by which events enter a bus.
//!
//! Every producer — the HTTP API in each of its modes, and everything else
//! that puts events on a bus — hands [`Publisher::publish`] the entries it
//! parsed. The publisher applies the bus's rate limit and schema policy,
//! appends the valid events (resolving once they are durable), records
//! schema warnings in their traces and counts everything in `/metrics`.
//! What comes back says, entry by entry, which seq each event got or why it
//! was rejected; how to show that to the producer is the caller's business.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::quota::Quotas;
use crate::event::CloudEvent;
use crate::event::time::now_micros;
use crate::event::validate::EventError;
use crate::metrics::METRICS;
use crate::schema::Schemas;
use crate::store::{Bus, Seq, Store, StoreError};

/// Entries whose events together hold more than this many bytes are checked
/// against schemas on the blocking pool, not on the runtime's threads.
const SCHEMA_OFFLOAD_BYTES: usize = 64 << 10;

/// What happened to one entry.
#[derive(Debug)]
pub enum Entry {
    /// Stored (or, when `duplicate`, recognized as an event the bus already
    /// had, which keeps its seq).
    Stored {
        /// Its position in the bus.
        seq: Seq,
        /// Whether it was a duplicate within the bus's dedup window.
        duplicate: bool,
        /// The event as stored.
        event: CloudEvent,
    },
    /// Refused, and why.
    Rejected(EventError),
}

/// The outcome of a publish, entry by entry in input order.
#[derive(Debug, Default)]
pub struct Published {
    /// One per input entry.
    pub entries: Vec<Entry>,
    /// Entries stored or recognized as duplicates.
    pub accepted: usize,
    /// Entries rejected.
    pub failed: usize,
}

/// Why nothing was published.
#[derive(Debug, Error)]
pub enum PublishError {
    /// The bus's rate limit has no room for this many events now.
    #[error("bus '{bus}' accepts {rate} events per second; retry after {:.1} s", retry_after.as_secs_f64())]
    RateLimited {
        /// The bus.
        bus: String,
        /// Its sustained rate.
        rate: f64,
        /// When enough room will be free.
        retry_after: Duration,
    },
    /// Storing failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task failed.
    #[error("an internal task failed: {0}")]
    Task(String),
}

/// Publishes events onto buses. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    store: Store,
    schemas: Arc<Schemas>,
    quotas: Arc<Quotas>,
}

impl Publisher {
    /// A publisher storing in `store` and checking against `schemas`.
    pub fn new(store: Store, schemas: Arc<Schemas>) -> Publisher {
        Publisher {
            store,
            schemas,
            quotas: Arc::new(Quotas::default()),
        }
    }

    /// The store events go to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The schema registries events are checked against.
    pub fn schemas(&self) -> &Arc<Schemas> {
        &self.schemas
    }

    /// Publishes parsed entries onto `bus`; `via` names the producer in
    /// metrics (`binary`, `structured`, `batch`, a source's kind, …).
    /// Resolves once every stored event is durable.
    pub async fn publish(
        &self,
        bus: &Arc<Bus>,
        entries: Vec<Result<CloudEvent, EventError>>,
        via: &str,
    ) -> Result<Published, PublishError> {
        let received_at = now_micros();
        let m = &*METRICS;
        if let Err(wait) =
            self.quotas
                .take(bus.id, bus.config.rate_limit.as_ref(), entries.len() as u64)
        {
            m.rate_limited.get(&[("bus", &bus.name)]).inc();
            return Err(PublishError::RateLimited {
                bus: bus.name.clone(),
                rate: bus.config.rate_limit.map_or(0.0, |r| r.events_per_s),
                retry_after: wait,
            });
        }
        let (entries, warnings) = if !bus.config.schemas.checks_events() {
            // The default: nothing to check, and no hop to the blocking pool
            // for nothing (two thread wake-ups per large batch).
            (entries, Vec::new())
        } else {
            let bytes: usize = entries
                .iter()
                .map(|e| e.as_ref().map_or(0, CloudEvent::size))
                .sum();
            let schemas = self.schemas.clone();
            let bus = bus.clone();
            let mut entries = entries;
            let check = move || {
                let warnings = schemas.check(&bus, &mut entries);
                (entries, warnings)
            };
            // Linear, but milliseconds for a 16 MiB batch: large ones run on
            // the blocking pool so they do not hold up other requests.
            if bytes > SCHEMA_OFFLOAD_BYTES {
                tokio::task::spawn_blocking(check)
                    .await
                    .map_err(|e| PublishError::Task(e.to_string()))?
            } else {
                check()
            }
        };
        let total = entries.len();
        let mut valid = Vec::with_capacity(total);
        let mut rejected: Vec<Option<EventError>> = Vec::with_capacity(total);
        let mut stored_bytes = 0u64;
        for entry in entries {
            match entry {
                Ok(e) => {
                    stored_bytes += e.size() as u64;
                    valid.push(e);
                    rejected.push(None);
                }
                Err(e) => rejected.push(Some(e)),
            }
        }
        let mut seqs = Vec::new();
        if !valid.is_empty() {
            let appended = self.store.append(bus, &valid, received_at).await?;
            seqs = appended.seqs(valid.len());
            if !warnings.is_empty() {
                self.schemas
                    .record_warnings(&self.store, bus, &valid, &seqs, warnings)
                    .await;
            }
        }
        let duplicates = seqs.iter().filter(|(_, d)| *d).count();
        let failed = total - valid.len();
        let stored = valid.len() - duplicates;
        let count = |outcome: &str, n: usize| {
            if n > 0 {
                m.ingest_events
                    .get(&[("bus", &bus.name), ("mode", via), ("outcome", outcome)])
                    .add(n as u64);
            }
        };
        count("accepted", stored);
        count("rejected", failed);
        count("duplicate", duplicates);
        m.ingest_bytes
            .get(&[("bus", &bus.name), ("mode", via)])
            .add(stored_bytes);
        let mut out = Vec::with_capacity(total);
        let mut ok = valid.into_iter().zip(seqs);
        for slot in rejected {
            out.push(match slot {
                None => {
                    let (event, (seq, duplicate)) = ok.next().expect("one seq per valid event");
                    Entry::Stored {
                        seq,
                        duplicate,
                        event,
                    }
                }
                Some(e) => Entry::Rejected(e),
            });
        }
        Ok(Published {
            entries: out,
            accepted: total - failed,
            failed,
        })
    }
}
