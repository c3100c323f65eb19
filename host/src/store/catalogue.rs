//! The catalogue: definitions the host keeps, as typed, versioned records.
//!
//! Each kind of record lives in a [`Collection`], keyed by a string within a
//! [`Scope`] (the server, or one bus). The type that owns a record says
//! which collection holds it and which format version it writes, by
//! implementing [`Record`]; the store only ever sees JSON. Reading a record
//! written by an older release goes through [`Record::upgrade`]; one written
//! by a newer release is refused rather than misread.
//!
//! The engine's side is small ([`Catalogue`]: get, put, delete and list raw
//! values, and blobs for plugin bytes); [`super::Store`] adds the typed
//! layer on top, so every engine stores records the same way.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{BoxFuture, BusId, Store, StoreError};

/// Where a kind of record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Rule definitions, per bus, by rule name.
    Rules,
    /// Plugin versions, server-wide, by `name@version`.
    Plugins,
    /// API tokens, server-wide, by token id.
    Tokens,
    /// Schema versions, per bus, by `type` and version.
    Schemas,
    /// Replays, per bus, by replay id.
    Replays,
    /// Single server-wide settings, by name (e.g. `auth`).
    Settings,
    /// Event source definitions, per bus, by source name.
    Sources,
    /// Event sources' progress (a schedule's last firing), per bus, by
    /// source name.
    SourceState,
    /// What the AWS front keeps besides rules and buses (connections, API
    /// destinations, archives, replays), server-wide, by `kind/name`.
    Aws,
}

impl Collection {
    /// Whether its records belong to a bus ([`Scope::Bus`]) rather than to
    /// the server.
    pub fn per_bus(self) -> bool {
        matches!(
            self,
            Collection::Rules
                | Collection::Schemas
                | Collection::Replays
                | Collection::Sources
                | Collection::SourceState
        )
    }

    /// The collection's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Rules => "rules",
            Collection::Plugins => "plugins",
            Collection::Tokens => "tokens",
            Collection::Schemas => "schemas",
            Collection::Replays => "replays",
            Collection::Settings => "settings",
            Collection::Sources => "sources",
            Collection::SourceState => "source_state",
            Collection::Aws => "aws",
        }
    }
}

/// Whose a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole server.
    Server,
    /// One bus (deleted with it).
    Bus(BusId),
}

/// A type kept in the catalogue.
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Where records of this type live.
    const COLLECTION: Collection;
    /// The format version this release writes (starting at 1; records
    /// written before versions existed read as 1).
    const VERSION: u8 = 1;

    /// Reads a record of an older format `version` (the default: the same
    /// fields).
    fn upgrade(version: u8, value: Value) -> Result<Self, String> {
        let _ = version;
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
}

/// Records as stored: (key, bytes), in key order.
pub type RawRecords = Vec<(String, Vec<u8>)>;

/// The engine's side of the catalogue: raw values and blobs.
pub trait Catalogue: Send + Sync {
    /// A record's stored bytes.
    fn get_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Stores a record durably.
    fn put_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Deletes a record; false if there was none.
    fn delete_raw<'a>(
        &'a self,
        collection: Collection,
        scope: Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Every record of a collection within a scope, in key order.
    fn list_raw(
        &self,
        collection: Collection,
        scope: Scope,
    ) -> BoxFuture<'_, Result<RawRecords, StoreError>>;
    /// Stores a blob (plugin bytes) under its content hash.
    fn put_blob<'a>(
        &'a self,
        sha256: &'a str,
        bytes: &'a [u8],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// A blob.
    fn get_blob<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Deletes a blob.
    fn delete_blob<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}

fn encode<R: Record>(key: &str, record: &R) -> Result<Vec<u8>, StoreError> {
    let bad = |reason: String| StoreError::Record {
        collection: R::COLLECTION.name(),
        key: key.to_owned(),
        reason,
    };
    let mut value = serde_json::to_value(record).map_err(|e| bad(e.to_string()))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| bad("a record must be a JSON object".into()))?;
    obj.insert("v".into(), Value::from(R::VERSION));
    serde_json::to_vec(&value).map_err(|e| bad(e.to_string()))
}

fn decode<R: Record>(key: &str, bytes: &[u8]) -> Result<R, StoreError> {
    let bad = |reason: String| StoreError::Record {
        collection: R::COLLECTION.name(),
        key: key.to_owned(),
        reason,
    };
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let version = match value.as_object_mut().and_then(|o| o.remove("v")) {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| bad(format!("format version {v} is not a number")))?,
    };
    if version > R::VERSION {
        return Err(bad(format!(
            "written in format {version} by a newer Signalbox; this release reads up to {}",
            R::VERSION
        )));
    }
    if version == R::VERSION {
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    } else {
        R::upgrade(version, value).map_err(bad)
    }
}

impl Store {
    /// A record, if there is one.
    pub async fn get<R: Record>(&self, scope: Scope, key: &str) -> Result<Option<R>, StoreError> {
        match self.get_raw(R::COLLECTION, scope, key).await? {
            Some(bytes) => decode(key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a record (replacing one with the same key).
    pub async fn put<R: Record>(
        &self,
        scope: Scope,
        key: &str,
        record: &R,
    ) -> Result<(), StoreError> {
        let bytes = encode(key, record)?;
        self.put_raw(R::COLLECTION, scope, key, bytes).await
    }

    /// Deletes a record; false if there was none.
    pub async fn delete<R: Record>(&self, scope: Scope, key: &str) -> Result<bool, StoreError> {
        self.delete_raw(R::COLLECTION, scope, key).await
    }

    /// Every record of a type within a scope, in key order. A record that
    /// cannot be read is logged and left out, so one bad record never stops
    /// the rest from loading.
    pub async fn list<R: Record>(&self, scope: Scope) -> Result<Vec<(String, R)>, StoreError> {
        let raw = self.list_raw(R::COLLECTION, scope).await?;
        let mut out = Vec::with_capacity(raw.len());
        for (key, bytes) in raw {
            match decode(&key, &bytes) {
                Ok(r) => out.push((key, r)),
                Err(error) => {
                    tracing::error!(%error, "Skipping a catalogue record that cannot be read.")
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Thing {
        name: String,
    }

    impl Record for Thing {
        const COLLECTION: Collection = Collection::Settings;
        const VERSION: u8 = 2;
        fn upgrade(version: u8, mut value: Value) -> Result<Self, String> {
            assert_eq!(version, 1);
            let old = value["title"].take();
            Ok(Thing {
                name: old.as_str().unwrap_or_default().to_owned(),
            })
        }
    }

    #[test]
    fn records_carry_their_version_and_upgrade() {
        let bytes = encode("k", &Thing { name: "x".into() }).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&bytes).unwrap(),
            serde_json::json!({"name": "x", "v": 2})
        );
        assert_eq!(decode::<Thing>("k", &bytes).unwrap().name, "x");
        // No version: the first format.
        assert_eq!(
            decode::<Thing>("k", br#"{"title":"old"}"#).unwrap().name,
            "old"
        );
        let e = decode::<Thing>("k", br#"{"v":3,"name":"future"}"#).unwrap_err();
        assert!(e.to_string().contains("newer Signalbox"), "{e}");
    }
}
