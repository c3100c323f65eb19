//! Cluster mode's one extra duty for a node: follow what the other nodes
//! change. The store's change feed ([`crate::store::nats::ClusterChange`])
//! says which catalogue record moved or that nodes came or went; this task
//! reloads the part of the host that keeps it (rules, plugins, tokens,
//! sources) and hands rules and sources to their new owners.
//!
//! Changes are applied one at a time, in the order the catalogue took them:
//! a plugin uploaded and then a rule that uses it arrive in that order.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::auth::{AuthSetting, TokenRecord, TokenStore};
use crate::plugin::Registry;
use crate::rules::Rules;
use crate::sources::Sources;
use crate::store::Store;
use crate::store::catalogue::{Collection, Scope};
use crate::store::nats::ClusterChange;

/// What the task reloads.
pub struct Followers {
    pub store: Store,
    pub rules: Arc<Rules>,
    pub registry: Arc<Registry>,
    pub tokens: Arc<TokenStore>,
    pub sources: Arc<Sources>,
    pub schemas: Arc<crate::schema::Schemas>,
}

/// Runs until `stop`.
pub async fn follow(
    f: Followers,
    mut changes: broadcast::Receiver<ClusterChange>,
    mut stop: watch::Receiver<bool>,
) {
    // `changes` was subscribed before start-up loaded anything, so
    // nothing falls between the two.
    // Rules that could not start (JetStream briefly unavailable) are tried
    // again by a rebalance every few seconds.
    let mut retry = tokio::time::interval(std::time::Duration::from_secs(3));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let change = tokio::select! {
            c = changes.recv() => c,
            _ = retry.tick() => Ok(ClusterChange::Members),
            _ = stop.changed() => return,
        };
        match change {
            Ok(c) => apply(&f, c).await,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "Fell behind the cluster's changes; reloading everything."
                );
                resync(&f).await;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn apply(f: &Followers, change: ClusterChange) {
    match change {
        ClusterChange::Members => {
            if let Err(error) = f.rules.rebalance().await {
                tracing::warn!(%error, "Cannot move rules between nodes.");
            }
            f.sources.rebalance(false).await;
        }
        ClusterChange::Bus(name) => {
            if f.store.bus(&name).is_none() {
                f.sources.remove_bus(&name).await;
                f.rules.remove_bus(&name).await;
            }
        }
        ClusterChange::Record {
            collection,
            scope,
            key,
        } => record(f, collection, scope, &key).await,
        ClusterChange::Resync => resync(f).await,
    }
}

async fn record(f: &Followers, collection: Collection, scope: Scope, key: &str) {
    let bus = match scope {
        Scope::Bus(id) => f.store.buses().into_iter().find(|b| b.id == id),
        Scope::Server => None,
    };
    match collection {
        Collection::Rules => {
            if let Some(bus) = bus
                && let Err(error) = f.rules.reload_rule(&bus, key).await
            {
                tracing::warn!(bus = %bus.name, rule = %key, %error, "Cannot apply a rule changed on another node.");
            }
        }
        Collection::Plugins => {
            let registry = f.registry.clone();
            let reference = key.to_owned();
            let r = tokio::task::spawn_blocking(move || registry.reload(&reference)).await;
            if let Ok(Err(error)) = r {
                tracing::warn!(plugin = %key, %error, "Cannot load a plugin uploaded on another node.");
            }
        }
        Collection::Tokens | Collection::Settings | Collection::Aws => reload_tokens(f).await,
        Collection::Sources => {
            if let Some(bus) = bus
                && let Err(error) = f.sources.reload(&bus, key).await
            {
                tracing::warn!(bus = %bus.name, source = %key, %error, "Cannot apply a source changed on another node.");
            }
        }
        Collection::Schemas => {
            if let Some(bus) = bus
                && let Err(error) = f.schemas.reload_bus(&bus).await
            {
                tracing::warn!(bus = %bus.name, %error, "Cannot apply schemas changed on another node.");
            }
        }
        // A replay runs on the node that started it, and sources' own
        // state is read from the store where it is used.
        Collection::Replays | Collection::SourceState => {}
    }
}

async fn reload_tokens(f: &Followers) {
    match f.store.list::<TokenRecord>(Scope::Server).await {
        Ok(records) => {
            if let Err(error) = f.tokens.load(records.into_iter().map(|(_, t)| t)) {
                tracing::warn!(%error, "Cannot apply tokens changed on another node.");
            }
        }
        Err(error) => tracing::warn!(%error, "Cannot read tokens changed on another node."),
    }
    if let Ok(Some(s)) = f
        .store
        .get::<AuthSetting>(Scope::Server, AuthSetting::KEY)
        .await
        && s.enforced
    {
        f.tokens.enforce();
    }
}

async fn resync(f: &Followers) {
    reload_tokens(f).await;
    let registry = f.registry.clone();
    let store = f.store.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let stored = handle.block_on(store.list_raw(Collection::Plugins, Scope::Server));
        let mut keys: Vec<String> = stored
            .map(|v| v.into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default();
        keys.extend(
            registry
                .list()
                .into_iter()
                .map(|i| format!("{}@{}", i.name, i.version)),
        );
        keys.sort();
        keys.dedup();
        for k in keys {
            if let Err(error) = registry.reload(&k) {
                tracing::warn!(plugin = %k, %error, "Cannot reload a plugin.");
            }
        }
    })
    .await;
    if let Err(error) = f.rules.reload_all().await {
        tracing::warn!(%error, "Cannot reload rules.");
    }
    f.sources.rebalance(true).await;
    for bus in f.store.buses() {
        let _ = f.schemas.reload_bus(&bus).await;
    }
}
