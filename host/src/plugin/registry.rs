//! The plugin registry: uploaded components, by name and immutable version.
//!
//! An upload is checked ([`super::inspect`]), compiled and type-checked
//! before it is accepted, so a stored plugin always runs. The component's
//! bytes go to the store as a blob named by their SHA-256 and its metadata
//! to the catalogue's `plugins` collection ([`crate::store::catalogue`]); at
//! start-up every stored plugin is loaded again from the compiled-artifact
//! cache, so a restart does not recompile.
//!
//! A version, once uploaded, never changes: uploading the same bytes again is
//! a no-op, different bytes are a conflict. A version that a rule uses cannot
//! be deleted.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::PluginError;
use super::engine::hex;
use super::inspect::{PluginKind, inspect};
use super::runtime::{LoadedPlugin, PluginRuntime};
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::store::Store;
use crate::store::catalogue::{Collection, Record, Scope};

/// Default limit on the size of an uploaded component (Python components
/// built with componentize-py are 20–40 MB).
pub const DEFAULT_MAX_PLUGIN_BYTES: usize = 64 << 20;
/// Default limit on stored plugin versions: each holds compiled code in
/// memory, so the count bounds the server's footprint.
pub const DEFAULT_MAX_PLUGINS: usize = 1000;

/// What the registry knows about one plugin version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Plugin name.
    pub name: String,
    /// Version (immutable).
    pub version: String,
    /// The world it targets.
    pub kind: PluginKind,
    /// sha256 of the component (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: usize,
    /// When it was uploaded (RFC 3339).
    pub uploaded_at: String,
    /// The contract version it was built against: the newest
    /// `signalbox:plugin` version it imports (`signalbox:plugin@0.1` when it
    /// imports nothing of the contract).
    pub wit: String,
    /// Interfaces it imports.
    pub imports: Vec<String>,
    /// How long compiling it took, in milliseconds (0 when loaded from the
    /// cache).
    #[serde(default)]
    pub compile_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct PluginRecord {
    #[serde(flatten)]
    info: PluginInfo,
}

impl Record for PluginRecord {
    const COLLECTION: Collection = Collection::Plugins;
}

/// Waits for a store call from a blocking thread (loading and compiling
/// run on the blocking pool).
fn wait<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(f)
}

/// Counts from loading stored plugins at start-up.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadReport {
    /// Plugins loaded.
    pub plugins: usize,
    /// Of those, loaded from the compiled cache.
    pub from_cache: usize,
    /// Time taken.
    pub elapsed: Duration,
}

/// Loaded plugins by (name, version).
type Loaded = BTreeMap<(String, String), (PluginInfo, Arc<LoadedPlugin>)>;

type InUse = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// Stored plugins, compiled and ready.
pub struct Registry {
    runtime: PluginRuntime,
    store: Store,
    max_bytes: usize,
    max_plugins: usize,
    loaded: RwLock<Loaded>,
    /// One compile at a time. A permit is held by the compile itself, not by
    /// the request that asked for it, so a client that disconnects cannot
    /// free the slot while its compile runs on.
    compiling: Arc<Semaphore>,
    /// Versions being uploaded now: a second upload of the same version
    /// waits for (and is judged against) the first.
    pending: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// Longest a compile may take before the upload is refused.
    compile_timeout: Duration,
    in_use: RwLock<Option<InUse>>,
}

/// Upload limits of a registry.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Largest component accepted.
    pub max_bytes: usize,
    /// Stored versions, all names together.
    pub max_plugins: usize,
    /// Longest a compile may take.
    pub compile_timeout: Duration,
}

/// A version reserved for one upload; released on drop (also when the
/// request is cancelled).
struct Reservation<'r> {
    registry: &'r Registry,
    key: (String, String),
}

impl<'r> Reservation<'r> {
    fn take(registry: &'r Registry, key: &(String, String)) -> Option<Reservation<'r>> {
        let mut pending = registry.pending.lock().expect("pending uploads");
        pending.insert(key.clone()).then(|| Reservation {
            registry,
            key: key.clone(),
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.registry
            .pending
            .lock()
            .expect("pending uploads")
            .remove(&self.key);
    }
}

/// Checks a plugin name (see [`crate::names`]).
pub fn check_name(name: &str) -> Result<(), PluginError> {
    crate::names::check(crate::names::Kind::Plugin, name)
        .map_err(|e| PluginError::BadName(e.to_string()))
}

/// Checks a version string: 1 to 64 of `A-Za-z0-9.+_-`.
pub fn check_version(version: &str) -> Result<(), PluginError> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PluginError::BadName(format!(
            "'{version}' is not a valid version: use 1 to 64 characters from A-Z, a-z, 0-9, '.', '+', '_' and '-'"
        )))
    }
}

/// Splits `name@version`.
pub fn parse_reference(reference: &str) -> Result<(&str, &str), PluginError> {
    let (name, version) = reference.split_once('@').ok_or_else(|| {
        PluginError::BadName(format!(
            "'{reference}' is not a plugin reference like name@version"
        ))
    })?;
    check_name(name)?;
    check_version(version)?;
    Ok((name, version))
}

/// The contract version a component was built against: the newest
/// `signalbox:plugin` version among its imports (`signalbox:plugin@0.1.1`).
/// A component importing nothing of the contract says only its major
/// version (`signalbox:plugin@0.1`), the one the host checked it against.
fn built_against(imports: &[String]) -> String {
    let version = |name: &str| -> Option<(u64, u64, u64)> {
        let v = name.strip_prefix("signalbox:plugin/")?.split_once('@')?.1;
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    };
    match imports.iter().filter_map(|n| version(n)).max() {
        Some((a, b, c)) => format!("signalbox:plugin@{a}.{b}.{c}"),
        None => "signalbox:plugin@0.1".to_owned(),
    }
}

fn record_key(name: &str, version: &str) -> String {
    format!("{name}@{version}")
}

impl Registry {
    /// Opens the registry and loads every stored plugin. Blocking (call it
    /// on the blocking pool): loading compiles plugins missing from the
    /// artifact cache.
    ///
    /// Uploads larger than `max_bytes`, or beyond `max_plugins` stored
    /// versions, are refused; plugins already stored always load, even if a
    /// lowered limit would not admit them today.
    pub fn open(
        store: Store,
        runtime: PluginRuntime,
        limits: UploadLimits,
    ) -> Result<(Registry, LoadReport), PluginError> {
        let registry = Registry {
            runtime,
            store,
            max_bytes: limits.max_bytes,
            max_plugins: limits.max_plugins,
            loaded: RwLock::new(BTreeMap::new()),
            compiling: Arc::new(Semaphore::new(1)),
            pending: std::sync::Mutex::new(std::collections::HashSet::new()),
            compile_timeout: limits.compile_timeout,
            in_use: RwLock::new(None),
        };
        let start = Instant::now();
        let mut report = LoadReport::default();
        for (_, record) in wait(registry.store.list::<PluginRecord>(Scope::Server))? {
            let info = record.info;
            let loaded = match wait(registry.store.get_blob(&info.sha256)) {
                Ok(Some(bytes)) => {
                    registry.build(&info.name, &info.version, info.kind, &bytes, &info.sha256)
                }
                Ok(None) => Err(PluginError::Engine(format!(
                    "its component (sha256 {}) is missing from the store",
                    info.sha256
                ))),
                Err(e) => Err(e.into()),
            };
            match loaded {
                Ok((plugin, from_cache, _)) => {
                    report.plugins += 1;
                    report.from_cache += usize::from(from_cache);
                    registry.loaded.write().expect("registry lock").insert(
                        (info.name.clone(), info.version.clone()),
                        (info, Arc::new(plugin)),
                    );
                }
                Err(error) => {
                    tracing::error!(plugin = %format!("{}@{}", info.name, info.version), %error, "Cannot load a stored plugin; rules using it will report it missing.");
                }
            }
        }
        report.elapsed = start.elapsed();
        Ok((registry, report))
    }

    /// Registers the function that lists the rules using `name@version`
    /// (set by the router once rules exist).
    pub fn set_in_use_check(&self, f: impl Fn(&str) -> Vec<String> + Send + Sync + 'static) {
        *self.in_use.write().expect("registry lock") = Some(Arc::new(f));
    }

    /// The runtime plugins run in.
    pub fn runtime(&self) -> &PluginRuntime {
        &self.runtime
    }

    /// The upload size limit.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    fn build(
        &self,
        name: &str,
        version: &str,
        kind: PluginKind,
        bytes: &[u8],
        sha256: &str,
    ) -> Result<(LoadedPlugin, bool, Duration), PluginError> {
        let start = Instant::now();
        let compiled = self.runtime.engine().compile(bytes, sha256)?;
        let took = start.elapsed();
        let prepared = self.runtime.prepare(kind, &compiled.component)?;
        Ok((
            LoadedPlugin {
                name: name.to_owned(),
                version: version.to_owned(),
                kind,
                sha256: sha256.to_owned(),
                prepared,
                engine: self.runtime.engine().clone(),
            },
            compiled.from_cache,
            took,
        ))
    }

    /// Uploads a version. Returns its info and whether it was new.
    pub async fn put(
        self: &Arc<Self>,
        name: &str,
        version: &str,
        bytes: Vec<u8>,
    ) -> Result<(PluginInfo, bool), PluginError> {
        check_name(name)?;
        check_version(version)?;
        if bytes.len() > self.max_bytes {
            return Err(PluginError::TooLarge {
                size: bytes.len(),
                limit: self.max_bytes,
            });
        }
        let sha256 = hex(&Sha256::digest(&bytes));
        if let Some((info, _)) = self
            .loaded
            .read()
            .expect("registry lock")
            .get(&(name.to_owned(), version.to_owned()))
        {
            return if info.sha256 == sha256 {
                Ok((info.clone(), false))
            } else {
                Err(PluginError::Conflict(format!("{name}@{version}")))
            };
        }
        // One upload of a version at a time: the second waits for the
        // first and is then judged against what it stored.
        let key = (name.to_owned(), version.to_owned());
        let _reservation = loop {
            if let Some(r) = Reservation::take(self, &key) {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // One compile at a time: compiling a large component takes seconds
        // of all cores, and uploads are rare. The permit moves into the
        // compile, which keeps it until it ends, whether or not the client
        // is still waiting.
        let permit = self
            .compiling
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PluginError::Engine("shutting down".into()))?;
        let this = self.clone();
        let abandoned = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = abandoned.clone();
        let (name2, version2) = key.clone();
        let compile = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            this.put_blocking(&name2, &version2, &bytes, sha256, &flag)
        });
        match tokio::time::timeout(self.compile_timeout, compile).await {
            Ok(r) => r.map_err(|e| PluginError::Engine(e.to_string()))?,
            Err(_) => {
                // Cranelift cannot be interrupted; the compile finishes on
                // its own (holding the permit) and its result is dropped.
                abandoned.store(true, std::sync::atomic::Ordering::Release);
                Err(PluginError::Invalid(format!(
                    "compiling the component took longer than {} (plugins.compile_timeout); it is not stored",
                    crate::duration::format_duration(self.compile_timeout)
                )))
            }
        }
    }

    fn put_blocking(
        &self,
        name: &str,
        version: &str,
        bytes: &[u8],
        sha256: String,
        abandoned: &std::sync::atomic::AtomicBool,
    ) -> Result<(PluginInfo, bool), PluginError> {
        // Re-check under the compile permit: a concurrent upload of the same
        // version may have finished first.
        if let Some((info, _)) = self
            .loaded
            .read()
            .expect("registry lock")
            .get(&(name.to_owned(), version.to_owned()))
        {
            return if info.sha256 == sha256 {
                Ok((info.clone(), false))
            } else {
                Err(PluginError::Conflict(format!("{name}@{version}")))
            };
        }
        // Checked under the compile permit, which serializes uploads, so
        // concurrent uploads cannot overshoot the limit together.
        if self.loaded.read().expect("registry lock").len() >= self.max_plugins {
            return Err(PluginError::LimitReached {
                limit: self.max_plugins,
            });
        }
        let inspection = inspect(bytes)?;
        let (plugin, _, took) = self.build(name, version, inspection.kind, bytes, &sha256)?;
        if abandoned.load(std::sync::atomic::Ordering::Acquire) {
            return Err(PluginError::Invalid("the upload timed out".into()));
        }
        wait(self.store.put_blob(&sha256, bytes))?;
        let info = PluginInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            kind: inspection.kind,
            sha256,
            size: bytes.len(),
            uploaded_at: format_rfc3339_micros(now_micros()),
            wit: built_against(&inspection.imports),
            imports: inspection.imports,
            compile_ms: took.as_millis() as u64,
        };
        wait(self.store.put(
            Scope::Server,
            &record_key(name, version),
            &PluginRecord { info: info.clone() },
        ))?;
        self.loaded.write().expect("registry lock").insert(
            (name.to_owned(), version.to_owned()),
            (info.clone(), Arc::new(plugin)),
        );
        tracing::info!(plugin = %format!("{name}@{version}"), kind = %info.kind, size = info.size, compile_ms = info.compile_ms, "Plugin uploaded.");
        Ok((info, true))
    }

    /// Every version of every plugin, sorted by name then version.
    pub fn list(&self) -> Vec<PluginInfo> {
        self.loaded
            .read()
            .expect("registry lock")
            .values()
            .map(|(i, _)| i.clone())
            .collect()
    }

    /// The versions of one plugin.
    pub fn versions(&self, name: &str) -> Vec<PluginInfo> {
        self.list().into_iter().filter(|i| i.name == name).collect()
    }

    /// One version's info.
    pub fn info(&self, name: &str, version: &str) -> Option<PluginInfo> {
        self.loaded
            .read()
            .expect("registry lock")
            .get(&(name.to_owned(), version.to_owned()))
            .map(|(i, _)| i.clone())
    }

    /// A loaded plugin by `name@version`.
    pub fn get(&self, reference: &str) -> Result<Arc<LoadedPlugin>, PluginError> {
        let (name, version) = parse_reference(reference)?;
        self.loaded
            .read()
            .expect("registry lock")
            .get(&(name.to_owned(), version.to_owned()))
            .map(|(_, p)| p.clone())
            .ok_or_else(|| PluginError::NotFound(reference.to_owned()))
    }

    /// Re-reads one version (`name@version`) from the store: loads one
    /// uploaded through another node, forgets one deleted there. Blocking
    /// (it may compile).
    pub fn reload(&self, reference: &str) -> Result<(), PluginError> {
        let (name, version) = parse_reference(reference)?;
        let key = (name.to_owned(), version.to_owned());
        let Some(record) = wait(self.store.get::<PluginRecord>(Scope::Server, reference))? else {
            self.loaded.write().expect("registry lock").remove(&key);
            return Ok(());
        };
        let info = record.info;
        let same = self
            .loaded
            .read()
            .expect("registry lock")
            .get(&key)
            .is_some_and(|(i, _)| i.sha256 == info.sha256);
        if same {
            return Ok(());
        }
        let bytes = wait(self.store.get_blob(&info.sha256))?.ok_or_else(|| {
            PluginError::Engine(format!(
                "its component (sha256 {}) is missing from the store",
                info.sha256
            ))
        })?;
        let (plugin, _, _) = self.build(name, version, info.kind, &bytes, &info.sha256)?;
        self.loaded
            .write()
            .expect("registry lock")
            .insert(key, (info, Arc::new(plugin)));
        tracing::info!(plugin = %reference, "Plugin loaded from the cluster.");
        Ok(())
    }

    /// Deletes a version unless a rule uses it.
    pub async fn delete(&self, name: &str, version: &str) -> Result<(), PluginError> {
        let reference = format!("{name}@{version}");
        let key = (name.to_owned(), version.to_owned());
        let sha = match self.loaded.read().expect("registry lock").get(&key) {
            Some((info, _)) => info.sha256.clone(),
            None => return Err(PluginError::NotFound(reference)),
        };
        if let Some(check) = self.in_use.read().expect("registry lock").clone() {
            let rules = check(&reference);
            if !rules.is_empty() {
                return Err(PluginError::InUse {
                    plugin: reference,
                    rules,
                });
            }
        }
        self.store
            .delete::<PluginRecord>(Scope::Server, &record_key(name, version))
            .await?;
        let shared = {
            let mut loaded = self.loaded.write().expect("registry lock");
            loaded.remove(&key);
            // Other versions may share the same bytes.
            loaded.values().any(|(i, _)| i.sha256 == sha)
        };
        if !shared && let Err(error) = self.store.delete_blob(&sha).await {
            tracing::warn!(%error, sha256 = %sha, "Cannot delete a plugin's component; it stays on disk.");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_version_comes_from_the_imports() {
        let imports = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            built_against(&imports(&[
                "wasi:cli/stdout@0.2.6",
                "signalbox:plugin/types@0.1.0",
                "signalbox:plugin/lazy@0.1.1",
            ])),
            "signalbox:plugin@0.1.1"
        );
        assert_eq!(
            built_against(&imports(&["signalbox:plugin/types@0.1.0"])),
            "signalbox:plugin@0.1.0"
        );
        assert_eq!(
            built_against(&imports(&["wasi:io/streams@0.2.6"])),
            "signalbox:plugin@0.1"
        );
    }

    #[test]
    fn names_versions_and_references() {
        assert!(check_name("high-value").is_ok());
        assert!(check_name("High").is_err());
        assert!(check_version("1.0.0-rc.1+build.5").is_ok());
        assert!(check_version("1 0").is_err());
        assert!(check_version("").is_err());
        assert_eq!(parse_reference("a@1.0").unwrap(), ("a", "1.0"));
        assert!(parse_reference("a").is_err());
        assert!(parse_reference("A@1").is_err());
    }
}
