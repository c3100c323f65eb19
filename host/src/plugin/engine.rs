//! The process-wide wasmtime engine: configuration, the epoch ticker, and
//! compiling components once with an on-disk cache.
//!
//! One [`Engine`] serves every plugin. It is configured for many small,
//! untrusted, long-lived instances:
//!
//! * **Cranelift** at `speed`: plugins run per event, compile cost is paid
//!   once per upload.
//! * **Pooling allocator** with copy-on-write memory images: instantiating a
//!   component maps its initial memory instead of copying it, so replacing a
//!   trapped instance costs microseconds, even for CPython or SpiderMonkey
//!   images of tens of megabytes.
//! * **Epoch interruption** ticked every [`EPOCH_TICK`] by a background
//!   thread: the per-call deadline costs one counter check in loop headers,
//!   far cheaper than fuel.
//!
//! Compiled artifacts are cached in `<data>/plugins/cache` keyed by the
//! component's sha256 and the engine's compatibility hash, so a restart (or a
//! second rule using the same plugin) does not recompile.
//!
//! # The cache's trust boundary
//!
//! A cached artifact is native code, and `Component::deserialize` trusts its
//! input completely: whoever can write an artifact that gets loaded runs
//! code as the server. So each artifact carries a MAC — HMAC-SHA256 over the
//! component's sha256, the engine's compatibility hash and the artifact —
//! under a key that lives *outside* the data folder ([`ArtifactCache::key`],
//! `plugins.cache_key_file`). Bytes copied in from another machine, a
//! restored backup or anyone who can write only the data folder fail the
//! check and are recompiled from the (sandboxed) component instead. Without
//! a key, nothing is read from or written to the cache.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::PluginError;

/// How often the epoch advances. Deadlines are rounded up to this.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Most linear memory any plugin may be configured to use. Per-rule limits
/// (default 64 MiB) are enforced below this by a store limiter.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// Pool sizing. Every live plugin instance takes one component-instance slot;
/// the defaults allow 1,000 concurrently (each rule keeps a few).
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Live component instances.
    pub instances: u32,
}

impl Default for PoolSize {
    fn default() -> Self {
        PoolSize { instances: 1000 }
    }
}

/// Where compiled artifacts are cached, and the key that authenticates
/// them.
#[derive(Clone)]
pub struct ArtifactCache {
    /// The folder (`<data>/plugins/cache`).
    pub dir: PathBuf,
    /// The MAC key; it must not be stored in the data folder.
    pub key: [u8; 32],
}

impl ArtifactCache {
    /// Reads the key from `path`, creating it (random, mode 0600, parent
    /// folders 0700) when it does not exist. The file holds 64 hex digits.
    pub fn load_key(path: &Path) -> Result<[u8; 32], String> {
        match std::fs::read_to_string(path) {
            Ok(text) => parse_key(text.trim())
                .ok_or_else(|| format!("{} does not hold a 64-hex-digit key", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| e.to_string())?;
                if let Some(dir) = path.parent() {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                // Written whole under a private name, then linked into
                // place: another server starting at the same moment either
                // wins the link (and we read its key) or loses it; nobody
                // ever reads half a key.
                let tmp = path.with_extension(format!("tmp{}", std::process::id()));
                let written = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .and_then(|mut f| {
                        use std::io::Write as _;
                        f.write_all(hex(&key).as_bytes())?;
                        f.sync_all()
                    })
                    .and_then(|()| std::fs::hard_link(&tmp, path));
                let _ = std::fs::remove_file(&tmp);
                match written {
                    Ok(()) => Ok(key),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_key(path),
                    Err(e) => Err(format!("cannot create {}: {e}", path.display())),
                }
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// The shared engine plus the artifact cache.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache: Option<ArtifactCache>,
    compat: String,
}

impl PluginEngine {
    /// Builds the engine and starts its epoch ticker. `cache` is where
    /// compiled artifacts go (`None`: compile in memory only, as
    /// `signalbox plugin test` does).
    pub fn new(cache: Option<ArtifactCache>, pool: PoolSize) -> Result<PluginEngine, PluginError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .cranelift_opt_level(OptLevel::Speed)
            .epoch_interruption(true)
            .memory_init_cow(true)
            .parallel_compilation(true)
            // Deep recursion traps cleanly instead of exhausting the host
            // stack; fibers get room for the guest stack plus host frames.
            .max_wasm_stack(1 << 20)
            .async_stack_size(2 << 20);
        if pool.instances > 0 {
            let n = pool.instances;
            let mut p = PoolingAllocationConfig::new();
            p.total_component_instances(n)
                .total_core_instances(n * 8)
                .total_memories(n * 2)
                .total_tables(n * 4)
                .total_stacks(n)
                .max_core_instances_per_component(64)
                .max_memories_per_component(8)
                .max_tables_per_component(16)
                .max_memories_per_module(2)
                .max_tables_per_module(4)
                .table_elements(100_000)
                .max_component_instance_size(16 << 20)
                .max_core_instance_size(16 << 20)
                .max_memory_size(MAX_MEMORY_BYTES)
                // Keep a little memory resident so reused slots start warm
                // without holding on to big heaps.
                .linear_memory_keep_resident(1 << 20)
                .table_keep_resident(64 << 10);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        start_ticker(&engine);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let compat = format!("{:016x}", h.finish());
        if let Some(c) = &cache {
            std::fs::create_dir_all(&c.dir).map_err(|e| {
                PluginError::Engine(format!("cannot create {}: {e}", c.dir.display()))
            })?;
        }
        Ok(PluginEngine {
            engine,
            cache,
            compat,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component, or loads it from the cache. Blocking (seconds for
    /// large components): call from a blocking thread.
    ///
    /// `sha256` is the component's digest (hex); the cache file name
    /// includes it and the engine's compatibility hash, and a sidecar file
    /// holds the artifact's MAC (see the module docs).
    pub fn compile(&self, wasm: &[u8], sha256: &str) -> Result<Compiled, PluginError> {
        let Some(cache) = &self.cache else {
            let component = Component::new(&self.engine, wasm)
                .map_err(|e| PluginError::Invalid(format!("{e:#}")))?;
            return Ok(Compiled {
                component,
                from_cache: false,
            });
        };
        let artifact = cache.dir.join(format!("{sha256}-{}.cwasm", self.compat));
        let mac_file = artifact.with_extension("cwasm.mac");
        if let (Ok(bytes), Ok(recorded)) =
            (std::fs::read(&artifact), std::fs::read_to_string(&mac_file))
        {
            if self.verify_mac(cache, sha256, &bytes, recorded.trim()) {
                // SAFETY: the MAC, under a key the data folder does not
                // hold, shows these bytes are what `precompile_component` of
                // an engine with this compatibility hash wrote for this very
                // component, so they are a valid artifact for this engine.
                let loaded = unsafe { Component::deserialize(&self.engine, &bytes) };
                match loaded {
                    Ok(component) => {
                        return Ok(Compiled {
                            component,
                            from_cache: true,
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, path = %artifact.display(), "Cached plugin artifact unusable; recompiling.")
                    }
                }
            } else {
                tracing::warn!(path = %artifact.display(), "Cached plugin artifact fails its authentication check (written elsewhere, or tampered with); recompiling.");
            }
        }
        let bytes = self
            .engine
            .precompile_component(wasm)
            .map_err(|e| PluginError::Invalid(format!("{e:#}")))?;
        // SAFETY: produced just now by this engine's own compiler.
        let component = unsafe { Component::deserialize(&self.engine, &bytes) }
            .map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        let tmp = artifact.with_extension("tmp");
        let mac = self.mac(cache, sha256, &bytes);
        let written = std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::write(&mac_file, hex(&mac)))
            .and_then(|_| std::fs::rename(&tmp, &artifact));
        if let Err(error) = written {
            tracing::warn!(%error, "Cannot write the plugin artifact cache; the next start will recompile.");
        }
        Ok(Compiled {
            component,
            from_cache: false,
        })
    }
}

impl PluginEngine {
    /// HMAC-SHA256 binding an artifact to this engine and its component.
    fn mac(&self, cache: &ArtifactCache, sha256: &str, artifact: &[u8]) -> [u8; 32] {
        use hmac::Mac as _;
        let mut m = hmac::Hmac::<Sha256>::new_from_slice(&cache.key).expect("any key length");
        m.update(b"signalbox plugin artifact v1\0");
        m.update(self.compat.as_bytes());
        m.update(b"\0");
        m.update(sha256.as_bytes());
        m.update(b"\0");
        m.update(artifact);
        m.finalize().into_bytes().into()
    }

    /// Checks a recorded MAC in constant time.
    fn verify_mac(
        &self,
        cache: &ArtifactCache,
        sha256: &str,
        artifact: &[u8],
        hex_mac: &str,
    ) -> bool {
        let Some(recorded) = parse_key(hex_mac) else {
            return false;
        };
        use subtle::ConstantTimeEq as _;
        self.mac(cache, sha256, artifact).ct_eq(&recorded).into()
    }
}

/// A compiled component.
pub struct Compiled {
    /// The component, ready to instantiate.
    pub component: Component,
    /// Whether it came from the on-disk cache.
    pub from_cache: bool,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Advances the engine's epoch every [`EPOCH_TICK`]. An engine lives for
/// the whole process (one per server or CLI run), so the thread does too.
fn start_ticker(engine: &Engine) {
    let engine = engine.clone();
    let _ = std::thread::Builder::new()
        .name("signalbox-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
}
