//! The seam's interfaces on [`RocksStore`].
//!
//! RocksDB calls block. Those that touch little and recent data (the head of
//! the log, a target's queue head, committing a batch to the memtable and
//! WAL) run where they are called: a thread hand-off would cost more than
//! the call. Those that may walk a lot (long reads, counts, dead-letter
//! pages, traces, look-ups by id) run on the blocking pool.

use tokio::sync::watch;

use super::RocksStore;
use crate::event::CloudEvent;
use crate::store::queue::{Batch, DeadLetterPage, Delivery, DeliveryKey, RuleGaps, TraceStep};
use crate::store::{
    Appended, Backend, BoxFuture, Bus, BusConfig, BusId, BusLog, DeliveryQueue, Lookup,
    RuleProgress, Seq, StoreError, StoredEvent, Traces,
};

/// Reads up to this many events run inline; longer ones on the blocking
/// pool (they may touch disk).
const INLINE_READ: usize = 64;

impl RocksStore {
    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&RocksStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let s = self.clone();
        tokio::task::spawn_blocking(move || f(&s))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

impl BusLog for RocksStore {
    fn bus(&self, name: &str) -> Option<std::sync::Arc<Bus>> {
        RocksStore::bus(self, name)
    }

    fn buses(&self) -> Vec<std::sync::Arc<Bus>> {
        RocksStore::buses(self)
    }

    fn default_retention(&self) -> std::time::Duration {
        self.options().default_retention
    }

    fn put_bus(
        &self,
        name: String,
        config: BusConfig,
    ) -> BoxFuture<'_, Result<(std::sync::Arc<Bus>, bool), StoreError>> {
        Box::pin(async move { RocksStore::put_bus(self, &name, config).await })
    }

    fn delete_bus(&self, name: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { RocksStore::delete_bus(self, &name).await })
    }

    fn append<'a>(
        &'a self,
        bus: &'a Bus,
        events: &'a [CloudEvent],
        received_at: i64,
    ) -> BoxFuture<'a, Result<Appended, StoreError>> {
        Box::pin(RocksStore::append(self, bus, events, received_at))
    }

    fn read<'a>(
        &'a self,
        bus: &'a Bus,
        after: Seq,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<StoredEvent>, StoreError>> {
        Box::pin(async move {
            if limit <= INLINE_READ {
                // The head of the log was just written: it is in the
                // memtable and reading it takes microseconds.
                return self.read_blocking(bus, after, limit);
            }
            let name = bus.name.clone();
            self.off_thread(move |s| {
                let bus = s
                    .bus(&name)
                    .ok_or_else(|| StoreError::BusNotFound(name.clone()))?;
                s.read_blocking(&bus, after, limit)
            })
            .await
        })
    }

    fn first_seq<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<Seq>, StoreError>> {
        Box::pin(async move { self.first_seq_blocking(bus) })
    }

    fn seq_at_time<'a>(&'a self, bus: &'a Bus, at: i64) -> BoxFuture<'a, Result<Seq, StoreError>> {
        let name = bus.name.clone();
        Box::pin(self.off_thread(move |s| {
            let bus = s
                .bus(&name)
                .ok_or_else(|| StoreError::BusNotFound(name.clone()))?;
            s.seq_at_time_blocking(&bus, at)
        }))
    }

    fn log_bytes<'a>(&'a self, bus: &'a Bus) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        // RocksDB estimates from its SST index blocks: cheap, but it sees
        // only flushed data (the C API's flag that adds memtables is not
        // exposed by the crate).
        Box::pin(async move { Ok(Some(self.log_bytes_blocking(bus))) })
    }

    fn get_by_id<'a>(
        &'a self,
        bus: &'a Bus,
        id: &'a str,
        source: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Lookup, StoreError>> {
        let (name, id, source) = (bus.name.clone(), id.to_owned(), source.map(str::to_owned));
        Box::pin(self.off_thread(move |s| {
            let bus = s
                .bus(&name)
                .ok_or_else(|| StoreError::BusNotFound(name.clone()))?;
            s.get_by_id_blocking(&bus, &id, source.as_deref())
        }))
    }

    fn run_retention(&self, shutdown: watch::Receiver<bool>) -> BoxFuture<'_, ()> {
        Box::pin(RocksStore::run_retention(self, shutdown))
    }
}

impl RuleProgress for RocksStore {
    fn cursor<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<Option<Seq>, StoreError>> {
        Box::pin(async move { RocksStore::cursor(self, bus, rule) })
    }

    fn gaps<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<RuleGaps, StoreError>> {
        Box::pin(async move { self.rule_gaps(bus, rule) })
    }

    fn commit(&self, batch: Batch) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.commit_blocking(batch) })
    }

    fn delete_rule_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { RocksStore::delete_rule_state(self, bus, rule) })
    }
}

impl DeliveryQueue for RocksStore {
    fn deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
        after: Option<(Seq, u32)>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(Vec<Delivery>, bool), StoreError>> {
        // The head of a queue is recent: read it here (see the module docs).
        Box::pin(
            async move { RocksStore::deliveries(self, bus, rule, target, after, limit, max_bytes) },
        )
    }

    fn count_deliveries<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (rule, target) = (rule.to_owned(), target.to_owned());
        Box::pin(self.off_thread(move |s| RocksStore::count_deliveries(s, bus, &rule, &target)))
    }

    fn dead_letter_page<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
        after: Option<&'a DeliveryKey>,
        limit: usize,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<(DeadLetterPage, bool), StoreError>> {
        let (rule, target, after) = (rule.to_owned(), target.map(str::to_owned), after.cloned());
        Box::pin(self.off_thread(move |s| {
            RocksStore::dead_letter_page(
                s,
                bus,
                &rule,
                target.as_deref(),
                after.as_ref(),
                limit,
                max_bytes,
            )
        }))
    }

    fn count_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (rule, target) = (rule.to_owned(), target.to_owned());
        Box::pin(self.off_thread(move |s| RocksStore::count_dead_letters(s, bus, &rule, &target)))
    }

    fn purge_dead_letters<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: Option<&'a str>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (rule, target) = (rule.to_owned(), target.map(str::to_owned));
        Box::pin(
            self.off_thread(move |s| {
                RocksStore::purge_dead_letters(s, bus, &rule, target.as_deref())
            }),
        )
    }

    fn delete_target_state<'a>(
        &'a self,
        bus: BusId,
        rule: &'a str,
        target: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { RocksStore::delete_target_state(self, bus, rule, target) })
    }
}

impl Traces for RocksStore {
    fn trace(&self, bus: BusId, seq: Seq) -> BoxFuture<'_, Result<Vec<TraceStep>, StoreError>> {
        Box::pin(self.off_thread(move |s| RocksStore::trace(s, bus, seq)))
    }
}

impl Backend for RocksStore {
    fn health(&self) -> Result<(), String> {
        RocksStore::health(self)
    }

    fn engine_stats(&self) -> Vec<(&'static str, &'static str, u64)> {
        RocksStore::engine_stats(self)
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.off_thread(RocksStore::close_blocking))
    }
}
