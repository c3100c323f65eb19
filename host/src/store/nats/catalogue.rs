//! The catalogue in a KV bucket, plugin bytes in the object store, and the
//! watch that tells every node what the others changed.
//!
//! Keys are `<collection>.<scope>.<hex key>` (scope `s` for the server,
//! `b<id>` for a bus) and `bus.<hex name>` for buses.

use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

use super::log::BusRecord;
use super::{ClusterChange, NatsStore, err};
use crate::store::catalogue::{Catalogue, Collection, RawRecords, Scope};
use crate::store::{BoxFuture, BusId, BusLog, StoreError};

/// In `written`: a write of this key is under way.
pub(super) const PENDING: u64 = u64::MAX;

const COLLECTIONS: [Collection; 9] = [
    Collection::Rules,
    Collection::Plugins,
    Collection::Tokens,
    Collection::Schemas,
    Collection::Replays,
    Collection::Settings,
    Collection::Sources,
    Collection::SourceState,
    Collection::Aws,
];

fn scope_token(scope: Scope) -> String {
    match scope {
        Scope::Server => "s".into(),
        Scope::Bus(id) => format!("b{id}"),
    }
}

fn prefix(collection: Collection, scope: Scope) -> String {
    format!("{}.{}.", collection.name(), scope_token(scope))
}

fn key_of(collection: Collection, scope: Scope, key: &str) -> String {
    format!("{}{}", prefix(collection, scope), hex::encode(key))
}

/// A record key back into its parts.
fn parse(key: &str) -> Option<(Collection, Scope, String)> {
    let mut parts = key.splitn(3, '.');
    let c = parts.next()?;
    let collection = COLLECTIONS.into_iter().find(|x| x.name() == c)?;
    let s = parts.next()?;
    let scope = if s == "s" {
        Scope::Server
    } else {
        Scope::Bus(s.strip_prefix('b')?.parse().ok()?)
    };
    let k = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    Some((collection, scope, k))
}

impl NatsStore {
    /// Keys of the catalogue bucket that start with `prefix`.
    pub(super) async fn catalogue_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .inner
            .catalogue
            .keys()
            .await
            .map_err(|e| err("cannot list the catalogue", e))?
            .try_collect()
            .await
            .map_err(|e| err("cannot list the catalogue", e))?;
        Ok(keys.into_iter().filter(|k| k.starts_with(prefix)).collect())
    }

    pub(super) async fn put_catalogue_key(
        &self,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), StoreError> {
        // Marked before the write: the watch may bring its echo before the
        // write's acknowledgement does.
        self.inner
            .written
            .lock()
            .expect("written lock")
            .insert(key.to_owned(), PENDING);
        let put = self.inner.catalogue.put(key, value.into()).await;
        let mut written = self.inner.written.lock().expect("written lock");
        match put {
            Ok(rev) => {
                written.insert(key.to_owned(), rev);
                Ok(())
            }
            Err(e) => {
                written.remove(key);
                Err(err("cannot write the catalogue", e))
            }
        }
    }

    pub(super) async fn delete_catalogue_key(&self, key: &str) -> Result<(), StoreError> {
        // A delete's echo is not skipped: reloading a record that is gone
        // only confirms it is gone.
        self.inner.written.lock().expect("written lock").remove(key);
        self.inner
            .catalogue
            .delete(key)
            .await
            .map_err(|e| err("cannot write the catalogue", e))?;
        Ok(())
    }

    /// Deletes every catalogue record of a bus.
    pub(super) async fn delete_bus_records(&self, bus: BusId) -> Result<(), StoreError> {
        let scope = format!("b{bus}");
        for k in self.catalogue_keys("").await? {
            if k.split('.').nth(1) == Some(scope.as_str()) {
                self.delete_catalogue_key(&k).await?;
            }
        }
        Ok(())
    }
}

/// Follows the catalogue bucket: keeps buses up to date and tells the host
/// what other nodes changed.
pub(super) async fn follow(store: NatsStore, mut watch: async_nats::jetstream::kv::Watch) {
    let mut stop = store.stopped();
    loop {
        let next = tokio::select! {
            n = watch.next() => n,
            _ = stop.changed() => return,
        };
        let entry = match next {
            Some(Ok(e)) => e,
            Some(Err(error)) => {
                tracing::warn!(%error, "The catalogue watch failed; resynchronising.");
                let _ = store.inner.changes.send(ClusterChange::Resync);
                continue;
            }
            None => {
                // The watch ended (the connection dropped for long): start
                // a new one and have the host reload everything.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                match store.inner.catalogue.watch_all().await {
                    Ok(w) => {
                        watch = w;
                        let _ = store.load_buses().await;
                        let _ = store.inner.changes.send(ClusterChange::Resync);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Cannot watch the catalogue; retrying.")
                    }
                }
                continue;
            }
        };
        {
            // This node's own writes need no reloading.
            let mut written = store.inner.written.lock().expect("written lock");
            if let Some(rev) = written.get(&entry.key).copied()
                && (rev == PENDING || entry.revision <= rev)
            {
                if entry.revision == rev {
                    written.remove(&entry.key);
                }
                continue;
            }
        }
        let deleted = !matches!(entry.operation, async_nats::jetstream::kv::Operation::Put);
        if let Some(hex_name) = entry.key.strip_prefix("bus.") {
            let Some(name) = hex::decode(hex_name)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            else {
                continue;
            };
            if deleted {
                store.drop_bus(&name);
            } else if let Ok(record) = serde_json::from_slice::<BusRecord>(&entry.value)
                && let Err(error) = store.open_bus(record).await
            {
                tracing::warn!(bus = %name, %error, "Cannot follow a bus created on another node; retrying.");
                store.spawn(reopen(store.clone(), name));
                continue;
            }
            let _ = store.inner.changes.send(ClusterChange::Bus(name));
            continue;
        }
        if let Some((collection, scope, key)) = parse(&entry.key) {
            let _ = store.inner.changes.send(ClusterChange::Record {
                collection,
                scope,
                key,
            });
        }
    }
}

/// Retries opening a bus the watch could not open (JetStream was busy or
/// electing a leader), with a growing pause, until it is open, gone or
/// replaced, or about a minute has passed.
async fn reopen(store: NatsStore, name: String) {
    let mut pause = std::time::Duration::from_millis(500);
    for _ in 0..8 {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(10));
        let record = match store
            .kv_get(super::CATALOGUE, &super::log::bus_key(&name))
            .await
        {
            Ok(Some(bytes)) => match serde_json::from_slice::<BusRecord>(&bytes) {
                Ok(r) => r,
                Err(_) => return,
            },
            Ok(None) => return,
            Err(_) => continue,
        };
        if store.bus(&name).is_some_and(|b| b.id == record.id) {
            return;
        }
        match store.open_bus(record).await {
            Ok(_) => {
                tracing::info!(bus = %name, "Following a bus created on another node.");
                let _ = store.inner.changes.send(ClusterChange::Bus(name));
                return;
            }
            Err(error) => {
                tracing::warn!(bus = %name, %error, "Cannot follow a bus created on another node; retrying.")
            }
        }
    }
    tracing::error!(bus = %name, "Gave up following a bus created on another node; it is served from the log until this node restarts or resynchronises.");
}

impl Catalogue for NatsStore {
    fn get_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .kv_get(super::CATALOGUE, &key_of(collection, scope, key))
                .await?
                .map(|b| b.to_vec()))
        })
    }

    fn put_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.put_catalogue_key(&key_of(collection, scope, key), value)
                .await
        })
    }

    fn delete_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let k = key_of(collection, scope, key);
            let existed = self.kv_get(super::CATALOGUE, &k).await?.is_some();
            if existed {
                self.delete_catalogue_key(&k).await?;
            }
            Ok(existed)
        })
    }

    fn list_raw(
        &self,
        collection: Collection,
        scope: Scope,
    ) -> BoxFuture<'_, Result<RawRecords, StoreError>> {
        Box::pin(async move {
            let p = prefix(collection, scope);
            let mut out = Vec::new();
            for k in self.catalogue_keys(&p).await? {
                let Some(v) = self.kv_get(super::CATALOGUE, &k).await? else {
                    continue;
                };
                if let Some((_, _, key)) = parse(&k) {
                    out.push((key, v.to_vec()));
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        })
    }

    fn put_blob<'a>(
        &'a self,
        sha256: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.inner.blobs.info(sha256).await.is_ok() {
                return Ok(());
            }
            let mut reader = bytes;
            self.inner
                .blobs
                .put(sha256, &mut reader)
                .await
                .map_err(|e| err("cannot store a plugin in the object store", e))?;
            Ok(())
        })
    }

    fn get_blob<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let mut object = match self.inner.blobs.get(sha256).await {
                Ok(o) => o,
                Err(e)
                    if e.kind() == async_nats::jetstream::object_store::GetErrorKind::NotFound =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(err("cannot read a plugin from the object store", e)),
            };
            let mut out = Vec::new();
            object
                .read_to_end(&mut out)
                .await
                .map_err(|e| err("cannot read a plugin from the object store", e))?;
            Ok(Some(out))
        })
    }

    fn delete_blob<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            match self.inner.blobs.delete(sha256).await {
                Ok(()) => Ok(()),
                Err(e) if e.to_string().contains("not found") => Ok(()),
                Err(e) => Err(err("cannot delete a plugin from the object store", e)),
            }
        })
    }
}
