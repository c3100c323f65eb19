//! Which nodes are alive, and which of them runs what.
//!
//! Every node writes a heartbeat (`n.<name>` in the `sb_nodes` bucket)
//! every [`BEAT`], and reads everyone's. A node is alive while its
//! heartbeat's revision keeps moving as this node observes it — no clocks
//! are compared, so skew between machines does not matter. A node that
//! stops cleanly deletes its heartbeat, so the others take its work at once;
//! one that dies is noticed after [`LIVE`].
//!
//! Ownership is rendezvous hashing (highest random weight) over the live
//! names: every node computes the same owner for a key from the same view,
//! and when a node comes or goes only the keys it owned (or now owns) move.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use super::{ClusterChange, NatsStore, err};
use crate::store::StoreError;

/// How often a node writes its heartbeat and reads the others'.
pub const BEAT: Duration = Duration::from_millis(500);

/// A heartbeat that has not moved for this long is a dead node's.
pub const LIVE: Duration = Duration::from_secs(3);

/// The nodes this node believes alive.
pub struct Members {
    me: String,
    inner: Mutex<View>,
}

#[derive(Default)]
struct View {
    /// name → (last revision seen, when it last moved)
    seen: BTreeMap<String, (u64, Instant)>,
    live: BTreeSet<String>,
}

/// FNV-1a: stable across builds and versions, so every node agrees.
fn weight(node: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0xff]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bits mix poorly for short inputs: finish with a
    // SplitMix64-style avalanche.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Members {
    /// A view holding only this node.
    pub fn new(me: String) -> Members {
        let mut view = View::default();
        view.live.insert(me.clone());
        Members {
            me,
            inner: Mutex::new(view),
        }
    }

    /// Whether this node owns `key` among the live nodes.
    pub fn owns(&self, key: &str) -> bool {
        let view = self.inner.lock().expect("members lock");
        view.live
            .iter()
            .max_by_key(|n| (weight(n, key), n.as_str()))
            .is_none_or(|owner| *owner == self.me)
    }

    /// The live node that owns `key`.
    pub fn owner(&self, key: &str) -> Option<String> {
        let view = self.inner.lock().expect("members lock");
        view.live
            .iter()
            .max_by_key(|n| (weight(n, key), n.as_str()))
            .cloned()
    }

    /// How many nodes are alive.
    pub fn live_count(&self) -> usize {
        self.inner.lock().expect("members lock").live.len()
    }

    /// The nodes as `cluster status` shows them.
    pub fn status(&self) -> Vec<serde_json::Value> {
        let view = self.inner.lock().expect("members lock");
        view.seen
            .iter()
            .map(|(name, (_, moved))| {
                serde_json::json!({
                    "name": name,
                    "alive": view.live.contains(name),
                    "this_node": *name == self.me,
                    "last_heartbeat_ms_ago": moved.elapsed().as_millis() as u64,
                })
            })
            .collect()
    }

    /// Takes in one reading of the heartbeats; true when the live set
    /// changed.
    fn observe(&self, beats: Vec<(String, u64)>) -> bool {
        let now = Instant::now();
        let mut view = self.inner.lock().expect("members lock");
        let present: BTreeSet<String> = beats.iter().map(|(n, _)| n.clone()).collect();
        view.seen.retain(|n, _| present.contains(n));
        for (name, rev) in beats {
            match view.seen.get_mut(&name) {
                Some((r, t)) if *r != rev => {
                    *r = rev;
                    *t = now;
                }
                Some(_) => {}
                None => {
                    // A heartbeat seen for the first time counts as alive
                    // until it fails to move: joining must not make this
                    // node briefly run everything.
                    view.seen.insert(name, (rev, now));
                }
            }
        }
        let mut live: BTreeSet<String> = view
            .seen
            .iter()
            .filter(|(_, (_, t))| now.duration_since(*t) < LIVE)
            .map(|(n, _)| n.clone())
            .collect();
        live.insert(self.me.clone());
        let changed = live != view.live;
        if changed {
            tracing::info!(nodes = ?live, "Cluster membership changed.");
        }
        view.live = live;
        changed
    }
}

fn beat_key(node: &str) -> String {
    format!("n.{}", hex::encode(node))
}

async fn beat(store: &NatsStore) -> Result<(), StoreError> {
    let value = serde_json::json!({
        "node": store.node(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    store
        .inner
        .nodes
        .put(beat_key(store.node()), value.to_string().into())
        .await
        .map_err(|e| err("cannot write this node's heartbeat", e))?;
    Ok(())
}

async fn read_beats(store: &NatsStore) -> Result<Vec<(String, u64)>, StoreError> {
    let keys: Vec<String> = store
        .inner
        .nodes
        .keys()
        .await
        .map_err(|e| err("cannot read heartbeats", e))?
        .try_collect()
        .await
        .map_err(|e| err("cannot read heartbeats", e))?;
    let mut out = Vec::new();
    for k in keys {
        let Some(name) = k
            .strip_prefix("n.")
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| String::from_utf8(b).ok())
        else {
            continue;
        };
        if let Ok(Some(e)) = store.inner.nodes.entry(&k).await
            && e.operation == async_nats::jetstream::kv::Operation::Put
        {
            out.push((name, e.revision));
        }
    }
    Ok(out)
}

/// Joins: writes the first heartbeat and takes the first view.
pub(super) async fn join(store: &NatsStore) -> Result<(), StoreError> {
    beat(store).await?;
    let beats = read_beats(store).await?;
    store.inner.members.observe(beats);
    Ok(())
}

/// Leaves cleanly: the others take this node's work at once.
pub(super) async fn leave(store: &NatsStore) {
    let _ = store.inner.nodes.purge(beat_key(store.node())).await;
}

/// Heart-beats and watches the others until the store closes. The others'
/// heartbeats arrive through one long-lived watch of the bucket (polling
/// its keys would make a consumer per poll).
pub(super) async fn run(store: NatsStore) {
    let mut stop = store.stopped();
    let beats: Arc<Mutex<Beats>> = Default::default();
    let watcher = tokio::spawn(watch_beats(store.clone(), beats.clone()));
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(error) = beat(&store).await {
            tracing::warn!(%error, "Cannot write this node's heartbeat.");
        }
        let snapshot: Vec<(String, u64)> = {
            let b = beats.lock().expect("beats lock");
            // Until the watch has delivered every heartbeat once, its map
            // lacks nodes that are alive: observing it would drop them,
            // and this node would run their rules for a moment (the view
            // `join` took stays until then).
            if !b.synced {
                continue;
            }
            b.revs.iter().map(|(n, r)| (n.clone(), *r)).collect()
        };
        if store.inner.members.observe(snapshot) {
            let _ = store.inner.changes.send(ClusterChange::Members);
        }
    }
    watcher.abort();
}

/// The heartbeats a watch of the bucket has delivered.
#[derive(Default)]
struct Beats {
    /// Node → revision of its heartbeat.
    revs: BTreeMap<String, u64>,
    /// Whether the watch has delivered every heartbeat there was when it
    /// started.
    synced: bool,
}

/// Keeps `beats` up to date from a watch of the bucket, starting again
/// when the watch ends.
async fn watch_beats(store: NatsStore, beats: Arc<Mutex<Beats>>) {
    loop {
        match store.inner.nodes.watch_with_history(">").await {
            Ok(mut w) => {
                while let Some(Ok(e)) = w.next().await {
                    let name = e
                        .key
                        .strip_prefix("n.")
                        .and_then(|h| hex::decode(h).ok())
                        .and_then(|b| String::from_utf8(b).ok());
                    let mut b = beats.lock().expect("beats lock");
                    if let Some(name) = name {
                        if e.operation == async_nats::jetstream::kv::Operation::Put {
                            b.revs.insert(name, e.revision);
                        } else {
                            b.revs.remove(&name);
                        }
                    }
                    // `delta` counts what the watch has still to deliver;
                    // this node's own heartbeats keep coming, so it reaches
                    // 0 even if the history was empty.
                    if e.delta == 0 {
                        b.synced = true;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "Cannot watch the cluster's heartbeats."),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_owner_and_few_keys_move_when_a_node_joins() {
        let names = ["a", "b", "c"];
        fn owner<'a>(live: &[&'a str], key: &str) -> &'a str {
            live.iter()
                .max_by_key(|n| (weight(n, key), **n))
                .copied()
                .unwrap()
        }
        let keys: Vec<String> = (0..3000).map(|i| format!("rule/default/r{i}")).collect();
        let mut per = BTreeMap::new();
        for k in &keys {
            *per.entry(owner(&names, k)).or_insert(0) += 1;
        }
        for n in names {
            let c = per[n];
            assert!((700..1300).contains(&c), "{n} owns {c} of 3000");
        }
        let moved = keys
            .iter()
            .filter(|k| owner(&names[..2], k) != owner(&names, k))
            .count();
        // Only c's keys move when c goes.
        assert_eq!(moved, per["c"]);
    }

    #[test]
    fn a_view_counts_a_node_dead_only_when_its_heartbeat_stops_moving() {
        let m = Members::new("a".into());
        assert!(m.observe(vec![("a".into(), 1), ("b".into(), 1)]));
        assert_eq!(m.live_count(), 2);
        assert!(!m.observe(vec![("a".into(), 2), ("b".into(), 2)]));
        // b's heartbeat disappears (it left cleanly).
        assert!(m.observe(vec![("a".into(), 3)]));
        assert_eq!(m.live_count(), 1);
        assert!(m.owns("anything"));
    }
}
