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
//! second rule using the same plugin) does not recompile. A cached artifact is
//! only ever loaded if its own sha256 matches the one recorded when this
//! process's compiler wrote it: `Component::deserialize` trusts its input
//! completely, so bytes from anywhere else are never deserialized.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
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

/// The shared engine plus the artifact cache.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache_dir: Option<PathBuf>,
    compat: String,
}

impl PluginEngine {
    /// Builds the engine and starts its epoch ticker. `cache_dir` is where
    /// compiled artifacts go (`None`: compile in memory only, as
    /// `signalbox plugin test` does).
    pub fn new(cache_dir: Option<&Path>, pool: PoolSize) -> Result<PluginEngine, PluginError> {
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
        if let Some(dir) = cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                PluginError::Engine(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Ok(PluginEngine {
            engine,
            cache_dir: cache_dir.map(Path::to_owned),
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
    /// holds the artifact's own sha256.
    pub fn compile(&self, wasm: &[u8], sha256: &str) -> Result<Compiled, PluginError> {
        let Some(dir) = &self.cache_dir else {
            let component = Component::new(&self.engine, wasm)
                .map_err(|e| PluginError::Invalid(format!("{e:#}")))?;
            return Ok(Compiled {
                component,
                from_cache: false,
            });
        };
        let artifact = dir.join(format!("{sha256}-{}.cwasm", self.compat));
        let digest_file = artifact.with_extension("cwasm.sha256");
        if let (Ok(bytes), Ok(recorded)) = (
            std::fs::read(&artifact),
            std::fs::read_to_string(&digest_file),
        ) {
            if hex(&Sha256::digest(&bytes)) == recorded.trim() {
                // SAFETY: the bytes are exactly what `precompile_component`
                // of an engine with this compatibility hash wrote (their
                // sha256 matches the digest recorded next to them when they
                // were written), so they are a valid artifact for this engine.
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
                tracing::warn!(path = %artifact.display(), "Cached plugin artifact does not match its digest; recompiling.");
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
        let written = std::fs::write(&tmp, &bytes)
            .and_then(|_| std::fs::write(&digest_file, hex(&Sha256::digest(&bytes))))
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
