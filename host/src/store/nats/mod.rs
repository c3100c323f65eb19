//! The cluster engine: the state seam's five interfaces on NATS JetStream,
//! so that several Signalbox nodes share one state and none holds any.
//!
//! | what | where in JetStream |
//! |---|---|
//! | each bus's log | stream `SB_BUS_<id>`, subject `sb.<id>.<hash of the event id>` (file storage, `replicas`, `max_age` = the bus's retention, `Nats-Msg-Id` de-duplication when the bus has a dedup window) |
//! | buses and the catalogue (rules, plugins' records, tokens, schemas, sources, replays, settings) | KV bucket `sb_catalogue`, watched by every node |
//! | plugin components | object store `sb_blobs`, by sha256 |
//! | rules' positions and gaps, bus ids | KV bucket `sb_state` |
//! | delivery queues | stream `SB_QUEUE`, one subject per delivery (`q.<bus>.<rule>.<target>.<seq>.<sub>`, one message kept per subject: a retry replaces it, a tombstone with a TTL removes it) |
//! | dead letters | stream `SB_DEAD`, the same layout under `d.` |
//! | traces | stream `SB_TRACE`, subject `t.<bus>.<seq>`, kept for `trace_age` |
//! | which nodes are alive | KV bucket `sb_nodes`: each node's heartbeat |
//!
//! Work is spread by **ownership**: every rule (its worker and its targets'
//! workers) and every pull or schedule source runs on exactly one live node,
//! picked by rendezvous hashing over the nodes whose heartbeats move
//! ([`NatsStore::owns`]). When a node stops (or stops heart-beating), the
//! others see it within a few seconds and take its work over from the
//! positions and queues it left in JetStream. While views converge two nodes
//! may briefly run the same rule: the results are the same deliveries under
//! the same keys, so that costs duplicates, never losses.
//!
//! A [`super::Batch`] is applied in an order that keeps at-least-once
//! without a transaction: new deliveries, dead letters and trace steps
//! first, then removals, then the rule's position. A crash in between makes
//! the rule redo work whose results are already there (same keys).
//!
//! See `docs/cluster.md` for deployment, guarantees and failure modes.

mod catalogue;
mod log;
mod members;
mod state;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream};
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};

use super::catalogue::{Collection, Scope};
use super::{Backend, BoxFuture, StoreError};

pub use members::Members;

/// How a node reaches the cluster (`[cluster]` in the config file).
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// NATS server URLs (`nats://host:port`); any one is enough to join.
    pub servers: Vec<String>,
    /// This node's name: unique in the cluster, stable across restarts.
    pub node: String,
    /// Copies JetStream keeps of every stream and bucket (1, 3 or 5; 3 in
    /// production, so a NATS node can fail).
    pub replicas: usize,
    /// A NATS credentials file (`.creds`).
    pub credentials_file: Option<std::path::PathBuf>,
    /// A NATS token.
    pub token: Option<String>,
    /// A NATS user and password.
    pub user: Option<(String, String)>,
    /// A CA certificate to trust for TLS to NATS (`tls://` URLs use TLS).
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// How long traces are kept.
    pub trace_age: Duration,
    /// Retention of buses created without one.
    pub default_retention: Duration,
    /// Whether this process is a node that takes work (false for tools such
    /// as `cluster import`, which must not be handed rules).
    pub member: bool,
}

/// What changed in the cluster, for the host to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterChange {
    /// Nodes came or went: ownership may have moved.
    Members,
    /// Another node changed a catalogue record.
    Record {
        /// Its collection.
        collection: Collection,
        /// Its scope.
        scope: Scope,
        /// Its key.
        key: String,
    },
    /// A bus was created, changed or deleted on another node.
    Bus(String),
    /// The change feed was interrupted: reload everything.
    Resync,
}

fn err(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Cluster(format!("{context}: {e}"))
}

/// Names of the shared streams and buckets.
const CATALOGUE: &str = "sb_catalogue";
const STATE: &str = "sb_state";
const NODES: &str = "sb_nodes";
const BLOBS: &str = "sb_blobs";
const QUEUE: &str = "SB_QUEUE";
const DEAD: &str = "SB_DEAD";
const TRACE: &str = "SB_TRACE";

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct NatsStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    js: jetstream::Context,
    opts: ClusterOptions,
    catalogue: kv::Store,
    catalogue_stream: stream::Stream,
    state: kv::Store,
    state_stream: stream::Stream,
    nodes: kv::Store,
    blobs: object_store::ObjectStore,
    queue: stream::Stream,
    dead: stream::Stream,
    traces: stream::Stream,
    buses: RwLock<HashMap<String, log::BusEntry>>,
    /// Look-ups of buses this node does not know that may ask the
    /// catalogue at once (see `find_bus`).
    bus_misses: tokio::sync::Semaphore,
    /// Catalogue keys this node wrote, with the revision: the watch skips
    /// its own echoes.
    written: Mutex<HashMap<String, u64>>,
    /// Per target, the keys of its queued deliveries (see `state`).
    indexes: Mutex<HashMap<state::TargetKey, Arc<tokio::sync::Mutex<state::Index>>>>,
    members: members::Members,
    changes: broadcast::Sender<ClusterChange>,
    closed: AtomicBool,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl NatsStore {
    /// Connects to the cluster, creates what is missing, loads the buses
    /// and joins the membership.
    pub async fn open(opts: ClusterOptions) -> Result<NatsStore, StoreError> {
        let client = connect(&opts).await?;
        // A cluster that is just starting has no JetStream leader yet (and
        // one that lost its quorum has none for a while): wait for one
        // rather than fail.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match Self::open_with(client.clone(), opts.clone()).await {
                Ok(s) => return Ok(s),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::warn!(error = %e, "JetStream is not ready; retrying.");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_with(
        client: async_nats::Client,
        opts: ClusterOptions,
    ) -> Result<NatsStore, StoreError> {
        // JetStream's API answers slowly while a replicated group elects its
        // leader (seconds on a busy machine): allow for it.
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(20));
        let replicas = opts.replicas;
        let kv_config = |bucket: &str, max_age: Duration| kv::Config {
            bucket: bucket.to_owned(),
            history: 1,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            max_age,
            ..Default::default()
        };
        // Existing buckets and streams are opened as they are (another node
        // made them; an update would cost a replicated proposal per start).
        let mut buckets = Vec::new();
        for (bucket, max_age) in [
            (CATALOGUE, Duration::ZERO),
            (STATE, Duration::ZERO),
            (NODES, Duration::from_secs(3600)),
        ] {
            let kv = match js.get_key_value(bucket).await {
                Ok(kv) => kv,
                Err(_) => js
                    .create_key_value(kv_config(bucket, max_age))
                    .await
                    .map_err(|e| err(&format!("cannot create the {bucket} bucket"), e))?,
            };
            buckets.push(kv);
        }
        let nodes = buckets.pop().expect("three buckets");
        let state = buckets.pop().expect("three buckets");
        let catalogue = buckets.pop().expect("three buckets");
        let catalogue_stream = js
            .get_stream(format!("KV_{CATALOGUE}"))
            .await
            .map_err(|e| err("cannot open the catalogue bucket", e))?;
        let state_stream = js
            .get_stream(format!("KV_{STATE}"))
            .await
            .map_err(|e| err("cannot open the state bucket", e))?;
        let blobs = match js.get_object_store(BLOBS).await {
            Ok(s) => s,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: BLOBS.to_owned(),
                    storage: stream::StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| err("cannot create the plugin object store", e))?,
        };
        let keyed = |name: &str, subject: &str, max_age: Duration| stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{subject}.>")],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            max_messages_per_subject: 1,
            allow_direct: true,
            allow_message_ttl: true,
            max_age,
            max_consumers: -1,
            ..Default::default()
        };
        let mut streams = Vec::new();
        for config in [
            keyed(QUEUE, "q", Duration::ZERO),
            keyed(DEAD, "d", Duration::ZERO),
            stream::Config {
                max_messages_per_subject: -1,
                allow_message_ttl: false,
                ..keyed(TRACE, "t", opts.trace_age)
            },
        ] {
            let name = config.name.clone();
            let s = match js.get_stream(&name).await {
                Ok(s) => s,
                Err(_) => js
                    .get_or_create_stream(config)
                    .await
                    .map_err(|e| err(&format!("cannot create stream {name}"), e))?,
            };
            streams.push(s);
        }
        let traces = streams.pop().expect("three streams");
        let dead = streams.pop().expect("three streams");
        let queue = streams.pop().expect("three streams");
        let (stop, _) = watch::channel(false);
        let (changes, _) = broadcast::channel(4096);
        let members = members::Members::new(opts.node.clone());
        let store = NatsStore {
            inner: Arc::new(Inner {
                client,
                js,
                opts,
                catalogue,
                catalogue_stream,
                state,
                state_stream,
                nodes,
                blobs,
                queue,
                dead,
                traces,
                buses: RwLock::new(HashMap::new()),
                bus_misses: tokio::sync::Semaphore::new(8),
                written: Mutex::new(HashMap::new()),
                indexes: Mutex::new(HashMap::new()),
                members,
                changes,
                closed: AtomicBool::new(false),
                stop,
                tasks: Mutex::new(Vec::new()),
            }),
        };
        // Follow the catalogue from before the buses are loaded, so no
        // change falls between the two.
        let watch = store
            .inner
            .catalogue
            .watch_all()
            .await
            .map_err(|e| err("cannot watch the catalogue", e))?;
        store.load_buses().await?;
        use super::BusLog;
        if store.bus(super::DEFAULT_BUS).is_none() {
            store
                .put_bus(super::DEFAULT_BUS.to_owned(), super::BusConfig::default())
                .await?;
        }
        store.spawn(catalogue::follow(store.clone(), watch));
        if store.inner.opts.member {
            members::join(&store).await?;
            store.spawn(members::run(store.clone()));
        }
        Ok(store)
    }

    /// A key's current value, read from the bucket stream's leader. KV gets
    /// may be answered by any replica (direct gets), which can be a moment
    /// behind: a node reloading what the watch just announced, or taking
    /// over a rule's position, must see the latest write.
    async fn kv_get(&self, bucket: &str, key: &str) -> Result<Option<bytes::Bytes>, StoreError> {
        let stream = if bucket == CATALOGUE {
            &self.inner.catalogue_stream
        } else {
            &self.inner.state_stream
        };
        match stream
            .get_last_raw_message_by_subject(&format!("$KV.{bucket}.{key}"))
            .await
        {
            Ok(m) => {
                let deleted = m
                    .headers
                    .get("KV-Operation")
                    .is_some_and(|op| op.as_str() == "DEL" || op.as_str() == "PURGE");
                Ok((!deleted).then_some(m.payload))
            }
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
            {
                Ok(None)
            }
            Err(e) => Err(err(&format!("cannot read {bucket}"), e)),
        }
    }

    fn spawn(&self, f: impl std::future::Future<Output = ()> + Send + 'static) {
        self.inner
            .tasks
            .lock()
            .expect("tasks lock")
            .push(tokio::spawn(f));
    }

    fn stopped(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.opts.node
    }

    /// Whether this node runs the work named `key` (see the module docs).
    pub fn owns(&self, key: &str) -> bool {
        self.inner.members.owns(key)
    }

    /// A feed of what changes elsewhere in the cluster.
    pub fn changes(&self) -> broadcast::Receiver<ClusterChange> {
        self.inner.changes.subscribe()
    }

    /// What `signalbox cluster status` shows: nodes, streams, consumers.
    pub async fn status(&self) -> Result<serde_json::Value, StoreError> {
        let mut streams = Vec::new();
        let mut names = self.inner.js.stream_names();
        let mut all = Vec::new();
        while let Some(n) = names.next().await {
            all.push(n.map_err(|e| err("cannot list streams", e))?);
        }
        all.sort();
        for name in all {
            let mut s = match self.inner.js.get_stream(&name).await {
                Ok(s) => s,
                Err(_) => continue,
            };
            let info = match s.info().await {
                Ok(i) => i.clone(),
                Err(_) => continue,
            };
            let cluster = info.cluster.as_ref().map(|c| {
                serde_json::json!({
                    "leader": c.leader,
                    "replicas": c.replicas.iter().map(|r| serde_json::json!({
                        "name": r.name, "current": r.current, "lag": r.lag,
                    })).collect::<Vec<_>>(),
                })
            });
            let mut consumers = Vec::new();
            let mut list = s.consumers();
            while let Some(Ok(c)) = list.next().await {
                consumers.push(serde_json::json!({
                    "name": c.name,
                    "pending": c.num_pending,
                    "ack_pending": c.num_ack_pending,
                    "redelivered": c.num_redelivered,
                }));
            }
            streams.push(serde_json::json!({
                "name": name,
                "messages": info.state.messages,
                "bytes": info.state.bytes,
                "first_seq": info.state.first_sequence,
                "last_seq": info.state.last_sequence,
                "replicas": info.config.num_replicas,
                "cluster": cluster,
                "consumers": consumers,
            }));
        }
        Ok(serde_json::json!({
            "mode": "cluster",
            "node": self.node(),
            "servers": self.inner.opts.servers,
            "connected_server": self.inner.client.server_info().server_name,
            "replicas": self.inner.opts.replicas,
            "nodes": self.inner.members.status(),
            "streams": streams,
        }))
    }
}

async fn connect(opts: &ClusterOptions) -> Result<async_nats::Client, StoreError> {
    let mut c = async_nats::ConnectOptions::new()
        .name(format!("signalbox {}", opts.node))
        .connection_timeout(Duration::from_secs(5))
        .retry_on_initial_connect()
        .max_reconnects(None);
    if let Some(path) = &opts.credentials_file {
        c = c
            .credentials_file(path)
            .await
            .map_err(|e| err(&format!("cannot read {}", path.display()), e))?;
    }
    if let Some(t) = &opts.token {
        c = c.token(t.clone());
    }
    if let Some((u, p)) = &opts.user {
        c = c.user_and_password(u.clone(), p.clone());
    }
    if let Some(ca) = &opts.tls_ca_file {
        c = c.add_root_certificates(ca.clone()).require_tls(true);
    }
    let client = c
        .connect(opts.servers.clone())
        .await
        .map_err(|e| err(&format!("cannot connect to {}", opts.servers.join(",")), e))?;
    // `retry_on_initial_connect` returns before the first connection: wait
    // for it, so a wrong address fails start-up instead of hanging it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.connection_state() != async_nats::connection::State::Connected {
        if tokio::time::Instant::now() > deadline {
            return Err(err(
                "cannot connect",
                format!("no NATS server answered at {}", opts.servers.join(",")),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(client)
}

impl Backend for NatsStore {
    fn health(&self) -> Result<(), String> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err("the store is closed".into());
        }
        match self.inner.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            s => Err(format!("not connected to NATS ({s})")),
        }
    }

    fn engine_stats(&self) -> Vec<(&'static str, &'static str, u64)> {
        let s = self.inner.client.statistics();
        vec![
            (
                "signalbox_cluster_nodes",
                "Live Signalbox nodes this node sees.",
                self.inner.members.live_count() as u64,
            ),
            (
                "signalbox_cluster_nats_out_bytes",
                "Bytes sent to NATS.",
                s.out_bytes.load(Ordering::Relaxed),
            ),
            (
                "signalbox_cluster_nats_in_bytes",
                "Bytes received from NATS.",
                s.in_bytes.load(Ordering::Relaxed),
            ),
            (
                "signalbox_cluster_nats_reconnects",
                "Reconnections to NATS.",
                s.connects.load(Ordering::Relaxed).saturating_sub(1),
            ),
        ]
    }

    fn owns(&self, key: &str) -> bool {
        NatsStore::owns(self, key)
    }

    fn cluster(&self) -> Option<&NatsStore> {
        Some(self)
    }

    fn owner(&self, key: &str) -> Option<String> {
        self.inner.members.owner(key)
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if self.inner.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let _ = self.inner.stop.send(true);
            // NATS may be gone already (a whole deployment stopping): none
            // of this may hold the shutdown up.
            let quick = Duration::from_secs(2);
            if self.inner.opts.member {
                let _ = tokio::time::timeout(quick, members::leave(self)).await;
            }
            let tasks: Vec<_> = self
                .inner
                .tasks
                .lock()
                .expect("tasks lock")
                .drain(..)
                .collect();
            for t in tasks {
                t.abort();
                let _ = t.await;
            }
            for (_, b) in self.inner.buses.write().expect("buses lock").drain() {
                b.stop();
            }
            let _ = tokio::time::timeout(quick, self.inner.client.flush()).await;
            Ok(())
        })
    }
}
