//! The catalogue on RocksDB: where each collection lives, the one-time
//! move of records into the places this release keeps them, and plugin
//! blobs as files.
//!
//! | collection | column family | key |
//! |---|---|---|
//! | rules | `rules` | `bus_id \| name` |
//! | plugins | `plugins` | `name \0 version` |
//! | tokens | `meta` | `token/<id>` |
//! | schemas | `schemas` | `bus_id \| schema/ \| type \0 version` |
//! | replays | `replays` | `bus_id \| id` |
//! | sources | `sources` | `bus_id \| def/ \| name` |
//! | source_state | `sources` | `bus_id \| state/ \| name` |
//! | settings | `meta` | `setting/<name>` |
//! | aws | `meta` | `aws/<kind>/<name>` |
//!
//! These are the layouts releases before the storage seam wrote, except
//! replays, which lived in `schemas` under `bus_id | replay/<id>`, and the
//! `auth` setting, which was the bare key `auth/enforced` in `meta`:
//! [`migrate`] moves them when a data folder is opened.

use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use super::{RocksStore, columns, keys};
use crate::store::catalogue::{Catalogue, Collection, Scope};
use crate::store::{BoxFuture, StoreError};

/// Prefix of replays in the `schemas` column family before they had their
/// own.
const OLD_REPLAY_PREFIX: &[u8] = b"replay/";

/// The key that said "authentication is enforced" before settings were
/// records.
const OLD_AUTH_ENFORCED: &[u8] = b"auth/enforced";

/// Moves records written by earlier releases to where this one keeps them.
/// Idempotent; runs at open, before anything reads the catalogue.
pub(super) fn migrate(db: &DB) -> Result<(), StoreError> {
    let schemas = db.cf_handle(columns::SCHEMAS).expect("schemas column");
    let replays = db.cf_handle(columns::REPLAYS).expect("replays column");
    let mut batch = WriteBatch::default();
    for item in db.iterator_cf(schemas, IteratorMode::Start) {
        let (k, v) = item?;
        if k.len() > 4 && k[4..].starts_with(OLD_REPLAY_PREFIX) {
            let mut new = k[..4].to_vec();
            new.extend_from_slice(&k[4 + OLD_REPLAY_PREFIX.len()..]);
            batch.put_cf(replays, new, v);
            batch.delete_cf(schemas, k);
        }
    }
    let meta = db.cf_handle(columns::META).expect("meta column");
    if db.get_cf(meta, OLD_AUTH_ENFORCED)?.is_some() {
        batch.put_cf(meta, b"setting/auth", br#"{"enforced":true,"v":1}"#);
        batch.delete_cf(meta, OLD_AUTH_ENFORCED);
    }
    if !batch.is_empty() {
        let n = batch.len() / 2;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        db.write_opt(batch, &opts)?;
        tracing::info!(
            records = n,
            "Moved catalogue records to where this release keeps them."
        );
    }
    Ok(())
}

/// A collection's column family and key prefix for a scope.
fn place(collection: Collection, scope: Scope) -> Result<(&'static str, Vec<u8>), StoreError> {
    let wrong = || StoreError::Record {
        collection: collection.name(),
        key: String::new(),
        reason: format!("records of this collection are not kept per {scope:?}"),
    };
    Ok(match (collection, scope) {
        (Collection::Rules, Scope::Bus(b)) => (columns::RULES, keys::bus_start(b).to_vec()),
        (Collection::Schemas, Scope::Bus(b)) => {
            let mut p = keys::bus_start(b).to_vec();
            p.extend_from_slice(b"schema/");
            (columns::SCHEMAS, p)
        }
        (Collection::Replays, Scope::Bus(b)) => (columns::REPLAYS, keys::bus_start(b).to_vec()),
        (Collection::Sources, Scope::Bus(b)) => {
            let mut p = keys::bus_start(b).to_vec();
            p.extend_from_slice(b"def/");
            (columns::SOURCES, p)
        }
        (Collection::SourceState, Scope::Bus(b)) => {
            let mut p = keys::bus_start(b).to_vec();
            p.extend_from_slice(b"state/");
            (columns::SOURCES, p)
        }
        (Collection::Plugins, Scope::Server) => (columns::PLUGINS, Vec::new()),
        (Collection::Tokens, Scope::Server) => (columns::META, b"token/".to_vec()),
        (Collection::Settings, Scope::Server) => (columns::META, b"setting/".to_vec()),
        (Collection::Aws, Scope::Server) => (columns::META, b"aws/".to_vec()),
        _ => return Err(wrong()),
    })
}

/// The stored key of a record: the place's prefix and the key, with
/// plugins' `name@version` as `name \0 version`.
fn full_key(collection: Collection, prefix: &[u8], key: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    match (collection, key.split_once('@')) {
        (Collection::Plugins, Some((name, version))) => {
            k.extend_from_slice(name.as_bytes());
            k.push(0);
            k.extend_from_slice(version.as_bytes());
        }
        _ => k.extend_from_slice(key.as_bytes()),
    }
    k
}

/// The record key back from a stored key (after the prefix).
fn record_key(collection: Collection, rest: &[u8]) -> String {
    let s = String::from_utf8_lossy(rest);
    match collection {
        Collection::Plugins => s.replacen('\0', "@", 1),
        _ => s.into_owned(),
    }
}

impl RocksStore {
    fn blob_path(&self, sha256: &str) -> std::path::PathBuf {
        self.path()
            .join("plugins")
            .join("blobs")
            .join(format!("{sha256}.wasm"))
    }

    /// Runs a small blocking catalogue operation off the runtime's threads
    /// (writes are synced, which can take milliseconds).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&RocksStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let s = self.clone();
        tokio::task::spawn_blocking(move || f(&s))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn synced() -> WriteOptions {
        let mut o = WriteOptions::default();
        o.set_sync(true);
        o
    }
}

fn valid_sha(sha256: &str) -> Result<(), StoreError> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(StoreError::Record {
            collection: "blobs",
            key: sha256.chars().take(80).collect(),
            reason: "not a sha256 in hex".into(),
        })
    }
}

impl Catalogue for RocksStore {
    fn get_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = key.to_owned();
        Box::pin(self.blocking(move |s| {
            let (cf, prefix) = place(collection, scope)?;
            Ok(s.inner
                .db
                .get_cf(s.cf(cf), full_key(collection, &prefix, &key))?)
        }))
    }

    fn put_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let key = key.to_owned();
        Box::pin(self.blocking(move |s| {
            let (cf, prefix) = place(collection, scope)?;
            s.inner.db.put_cf_opt(
                s.cf(cf),
                full_key(collection, &prefix, &key),
                value,
                &RocksStore::synced(),
            )?;
            Ok(())
        }))
    }

    fn delete_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let key = key.to_owned();
        Box::pin(self.blocking(move |s| {
            let (cf, prefix) = place(collection, scope)?;
            let k = full_key(collection, &prefix, &key);
            let existed = s.inner.db.get_pinned_cf(s.cf(cf), &k)?.is_some();
            s.inner
                .db
                .delete_cf_opt(s.cf(cf), k, &RocksStore::synced())?;
            Ok(existed)
        }))
    }

    fn list_raw(
        &self,
        collection: Collection,
        scope: Scope,
    ) -> BoxFuture<'_, Result<crate::store::catalogue::RawRecords, StoreError>> {
        Box::pin(self.blocking(move |s| {
            let (cf, prefix) = place(collection, scope)?;
            let iter = s
                .inner
                .db
                .iterator_cf(s.cf(cf), IteratorMode::From(&prefix, Direction::Forward));
            let mut out = Vec::new();
            for item in iter {
                let (k, v) = item?;
                if !k.starts_with(&prefix) {
                    break;
                }
                out.push((record_key(collection, &k[prefix.len()..]), v.to_vec()));
            }
            Ok(out)
        }))
    }

    fn put_blob<'a>(
        &'a self,
        sha256: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let (sha, bytes) = (sha256.to_owned(), bytes.to_vec());
        Box::pin(self.blocking(move |s| {
            valid_sha(&sha)?;
            let path = s.blob_path(&sha);
            if path.exists() {
                return Ok(());
            }
            let io = |e: std::io::Error| StoreError::Blob {
                path: path.clone(),
                reason: e.to_string(),
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let tmp = path.with_extension("tmp");
            {
                use std::io::Write as _;
                let mut f = std::fs::File::create(&tmp).map_err(io)?;
                f.write_all(&bytes).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            std::fs::rename(&tmp, &path).map_err(io)?;
            Ok(())
        }))
    }

    fn get_blob<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let sha = sha256.to_owned();
        Box::pin(self.blocking(move |s| {
            valid_sha(&sha)?;
            match std::fs::read(s.blob_path(&sha)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Blob {
                    path: s.blob_path(&sha),
                    reason: e.to_string(),
                }),
            }
        }))
    }

    fn delete_blob<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let sha = sha256.to_owned();
        Box::pin(self.blocking(move |s| {
            valid_sha(&sha)?;
            let _ = std::fs::remove_file(s.blob_path(&sha));
            Ok(())
        }))
    }
}
