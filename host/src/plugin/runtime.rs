//! Running plugins: pre-instantiated components, per-rule instance pools,
//! limits and failure accounting.
//!
//! Three lifetimes, as in Spin:
//!
//! * [`PluginRuntime`] — process-wide: the engine and the linker with the
//!   host's imports.
//! * [`LoadedPlugin`] — per plugin version: the compiled component,
//!   type-checked against its world (`*Pre`), ready to instantiate.
//! * [`RulePlugin`] — per use of a plugin in a rule: its configuration,
//!   limits and allow-list, and a small pool of *its own* instances. An
//!   instance is created on demand (instantiate, then `init(config)`),
//!   reused for later events, and discarded after any trap, timeout or
//!   invalid output, so one bad event cannot leave state behind for the
//!   next. Instances are never shared between rules.
//!
//! Every call runs under a wall-clock deadline enforced twice: by epoch
//! interruption inside guest code (the guest yields to the async runtime at
//! every tick, so a busy plugin cannot starve other work, and traps once the
//! deadline passes) and by an async timeout around the whole call (which
//! also bounds time spent waiting in host calls such as HTTP). The timeout
//! is set up only once a call has to wait: most calls finish in their first
//! poll, and guest code that runs on yields at the next epoch tick, after
//! which the timeout applies.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::{self, Event};
use super::convert::{from_wit, to_wit};
use super::egress::AllowList;
use super::engine::PluginEngine;
use super::host::HostState;
use super::inspect::PluginKind;
use super::{CallError, CallErrorKind, PluginError};
use crate::event::time::{format_rfc3339_micros, now_micros};
use crate::event::{CloudEvent, SharedEvent};

/// Consecutive failures after which a rule's plugin is reported degraded.
pub const DEGRADED_AFTER: u32 = 5;

/// Calls after which an instance is replaced by a fresh one, bounding how
/// much state (or leaked memory) a plugin can accumulate.
pub const MAX_CALLS_PER_INSTANCE: u64 = 1_000_000;

/// Per-rule limits for a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Linear memory per instance, in MiB (default 64).
    pub memory_mb: u32,
    /// Wall-clock deadline per call, in milliseconds (default 1000).
    pub call_timeout_ms: u64,
    /// Most bytes a call may return (events out of a transform, extension
    /// values included; default 4 MiB).
    pub max_output_bytes: usize,
    /// Most events a transform may return for one event (default 100).
    pub max_output_events: usize,
    /// Most instances this rule keeps for the plugin, i.e. its concurrency
    /// (default 4).
    pub max_instances: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            memory_mb: 64,
            call_timeout_ms: 1000,
            max_output_bytes: 4 << 20,
            max_output_events: 100,
            max_instances: 4,
        }
    }
}

impl PluginLimits {
    /// Checks the limits are within what the engine supports.
    pub fn validate(&self) -> Result<(), String> {
        let max_mb = (super::engine::MAX_MEMORY_BYTES >> 20) as u32;
        if self.memory_mb == 0 || self.memory_mb > max_mb {
            return Err(format!("memory_mb must be between 1 and {max_mb}"));
        }
        if self.call_timeout_ms == 0 || self.call_timeout_ms > 300_000 {
            return Err("call_timeout_ms must be between 1 and 300000".into());
        }
        if self.max_instances == 0 || self.max_instances > 64 {
            return Err("max_instances must be between 1 and 64".into());
        }
        if self.max_output_bytes == 0 {
            return Err("max_output_bytes must be greater than 0".into());
        }
        if self.max_output_events == 0 || self.max_output_events > 10_000 {
            return Err("max_output_events must be between 1 and 10000".into());
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

/// The engine and the host imports every plugin links against.
#[derive(Clone)]
pub struct PluginRuntime {
    engine: PluginEngine,
    linker: Arc<Linker<HostState>>,
}

impl PluginRuntime {
    /// Builds the linker: WASI 0.2 (with a context that grants nothing, see
    /// [`HostState`]), `wasi:http` (used only by connectors; inspection
    /// rejects it elsewhere), the type-only `signalbox:plugin/types` and
    /// `signalbox:plugin/lazy` (how lazy filters read their event).
    pub fn new(engine: PluginEngine) -> Result<PluginRuntime, PluginError> {
        let mut linker = Linker::<HostState>::new(engine.engine());
        let e = |e: wasmtime::Error| PluginError::Engine(format!("{e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(e)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(e)?;
        linker.instance("signalbox:plugin/types@0.1.1").map_err(e)?;
        bindings::lazy_filter::signalbox::plugin::lazy::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut linker, |s| s)
        .map_err(e)?;
        Ok(PluginRuntime {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// Type-checks a compiled component against its world and prepares it
    /// for fast instantiation.
    pub fn prepare(
        &self,
        kind: PluginKind,
        component: &Component,
    ) -> Result<Prepared, PluginError> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| {
            PluginError::Invalid(format!("the component's imports do not link: {e:#}"))
        })?;
        let bad = |e: wasmtime::Error| {
            PluginError::Invalid(format!(
                "the component does not match the {kind} world: {e:#}"
            ))
        };
        Ok(match kind {
            PluginKind::Filter if component.get_export_index(None, "keep-lazy").is_some() => {
                Prepared::LazyFilter(bindings::lazy_filter::LazyFilterPre::new(pre).map_err(bad)?)
            }
            PluginKind::Filter => {
                Prepared::Filter(bindings::filter::FilterPre::new(pre).map_err(bad)?)
            }
            PluginKind::Transform => {
                Prepared::Transform(bindings::transform::TransformPre::new(pre).map_err(bad)?)
            }
            PluginKind::Connector => {
                Prepared::Connector(bindings::connector::ConnectorPre::new(pre).map_err(bad)?)
            }
        })
    }
}

/// A component ready to instantiate, by world.
#[derive(Clone)]
pub enum Prepared {
    /// A filter.
    Filter(bindings::filter::FilterPre<HostState>),
    /// A filter of the `lazy-filter` world.
    LazyFilter(bindings::lazy_filter::LazyFilterPre<HostState>),
    /// A transform.
    Transform(bindings::transform::TransformPre<HostState>),
    /// A connector.
    Connector(bindings::connector::ConnectorPre<HostState>),
}

/// One plugin version, compiled and type-checked.
pub struct LoadedPlugin {
    /// Plugin name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Its world.
    pub kind: PluginKind,
    /// sha256 of the component bytes (hex).
    pub sha256: String,
    /// Ready to instantiate.
    pub prepared: Prepared,
    /// The engine it was compiled for.
    pub engine: PluginEngine,
}

impl LoadedPlugin {
    /// `name@version`.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A live instance and its store.
struct Instance {
    store: Store<HostState>,
    bindings: Bound,
    calls: u64,
}

enum Bound {
    Filter(bindings::filter::Filter),
    LazyFilter(bindings::lazy_filter::LazyFilter),
    Transform(bindings::transform::Transform),
    Connector(bindings::connector::Connector),
}

/// What one call asks of a plugin, by world.
enum Request {
    /// `filter`: `keep(event)`, with the event copied into a WIT record.
    Keep(Event),
    /// `lazy-filter`: `keep-lazy()`, with the event lent to the instance.
    KeepLazy(SharedEvent),
    /// `transform`: `transform(event)`.
    Transform(Event),
    /// `connector`: `deliver(events)`.
    Deliver(Vec<Event>),
}

/// A plugin's answer to a [`Request`].
enum Reply {
    Keep(bool),
    Events(Vec<Event>),
    Delivered(Result<(), bindings::DeliveryError>),
}

/// Runs one call on a live instance. The outer error is a trap; the inner
/// one is the plugin's own error message.
async fn invoke(
    bound: &Bound,
    store: &mut Store<HostState>,
    request: Request,
) -> wasmtime::Result<Result<Reply, String>> {
    let message = |e: bindings::Error| cut_message(e.message);
    Ok(match (bound, request) {
        (Bound::Filter(f), Request::Keep(e)) => f
            .call_keep(&mut *store, &e)
            .await?
            .map(Reply::Keep)
            .map_err(message),
        (Bound::LazyFilter(f), Request::KeepLazy(e)) => {
            store.data_mut().lend(e);
            let out = f.call_keep_lazy(&mut *store).await;
            store.data_mut().end_lend();
            out?.map(Reply::Keep).map_err(message)
        }
        (Bound::Transform(t), Request::Transform(e)) => t
            .call_transform(&mut *store, &e)
            .await?
            .map(Reply::Events)
            .map_err(message),
        (Bound::Connector(c), Request::Deliver(events)) => Ok(Reply::Delivered(
            c.call_deliver(&mut *store, &events).await?,
        )),
        _ => unreachable!("kind checked when the rule was built"),
    })
}

/// Polls `fut` once: its output if it is ready, else `fut` itself to be
/// awaited further.
async fn poll_once<F: Future + Unpin>(mut fut: F) -> Result<F::Output, F> {
    let ready = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut fut).poll(cx))).await;
    match ready {
        Poll::Ready(out) => Ok(out),
        Poll::Pending => Err(fut),
    }
}

/// Longest plugin-supplied message kept (errors in traces and status).
pub const MAX_PLUGIN_MESSAGE: usize = 1024;

/// At most [`MAX_PLUGIN_MESSAGE`] bytes of a plugin's message, cut at a
/// character boundary.
pub fn cut_message(mut m: String) -> String {
    if m.len() > MAX_PLUGIN_MESSAGE {
        let mut end = MAX_PLUGIN_MESSAGE;
        while !m.is_char_boundary(end) {
            end -= 1;
        }
        m.truncate(end);
        m.push_str("… (cut)");
    }
    m
}

/// How a rule's use of a plugin is doing, for the API.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// `name@version`.
    pub plugin: String,
    /// Repeated failures: the last [`DEGRADED_AFTER`] or more calls failed.
    pub degraded: bool,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed for any reason.
    pub failures: u64,
    /// Calls that trapped (including deadline and memory-limit traps).
    pub traps: u64,
    /// Instances discarded and replaced.
    pub instance_replacements: u64,
    /// Instances alive now.
    pub instances: u32,
    /// The most recent failure.
    pub last_error: Option<LastError>,
}

/// A failure, as shown in status.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    /// When (RFC 3339).
    pub at: String,
    /// What kind of failure.
    pub kind: CallErrorKind,
    /// The reason.
    pub message: String,
}

#[derive(Default)]
struct Health {
    calls: AtomicU64,
    failures: AtomicU64,
    traps: AtomicU64,
    replacements: AtomicU64,
    consecutive: AtomicU32,
    live: AtomicU32,
    last_error: std::sync::Mutex<Option<LastError>>,
}

/// A plugin as used by one rule: its own configuration, limits, allow-list
/// and instances.
pub struct RulePlugin {
    plugin: Arc<LoadedPlugin>,
    config: Vec<(String, String)>,
    limits: PluginLimits,
    allow: Arc<AllowList>,
    tag: Arc<str>,
    idle: std::sync::Mutex<Vec<Instance>>,
    permits: Semaphore,
    health: Health,
    latency: Arc<crate::metrics::Histogram>,
}

impl RulePlugin {
    /// Sets up (but does not yet instantiate) a plugin for a rule. `tag`
    /// names the rule and step in logs, e.g. `orders/high-value#filter0`.
    pub fn new(
        plugin: Arc<LoadedPlugin>,
        config: Vec<(String, String)>,
        limits: PluginLimits,
        allow: AllowList,
        tag: &str,
    ) -> RulePlugin {
        let plugin_ref = plugin.reference();
        let kind = plugin.kind.as_str();
        RulePlugin {
            tag: format!("{tag} ({})", plugin.reference()).into(),
            plugin,
            config,
            permits: Semaphore::new(limits.max_instances as usize),
            limits,
            allow: Arc::new(allow),
            idle: std::sync::Mutex::new(Vec::new()),
            health: Health::default(),
            latency: crate::metrics::METRICS
                .plugin_call_latency
                .get(&[("plugin", &plugin_ref), ("kind", kind)]),
        }
    }

    /// The plugin.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// How many calls it may run at once (its instances).
    pub fn max_instances(&self) -> u32 {
        self.limits.max_instances
    }

    /// Runs a filter: keep (true) or drop (false).
    ///
    /// A `filter` gets a copy of the whole event; a `lazy-filter` reads
    /// `event` itself, lent to it, and copies only what it asks for.
    pub async fn keep(&self, event: &SharedEvent) -> Result<bool, CallError> {
        let request = match self.plugin.prepared {
            Prepared::LazyFilter(_) => Request::KeepLazy(event.clone()),
            _ => Request::Keep(to_wit((**event).as_ref())),
        };
        match self.call(request).await? {
            Reply::Keep(keep) => Ok(keep),
            _ => unreachable!("a filter call answers keep"),
        }
    }

    /// Runs a transform: the events replacing `event`.
    ///
    /// The returned list is checked as soon as it is out of the plugin —
    /// its length against `max_output_events`, then its size (extension
    /// values included) against `max_output_bytes` — before any event is
    /// converted or validated. wasmtime copies a returned list out whole
    /// (a list left in guest memory is freed by the automatic post-return
    /// before it could be read), so that copy is bounded by the instance's
    /// own memory limit (`memory_mb`), not by these two.
    pub async fn transform(&self, event: &CloudEvent) -> Result<Vec<CloudEvent>, CallError> {
        let out = match self.call(Request::Transform(to_wit(event))).await? {
            Reply::Events(out) => out,
            _ => unreachable!("a transform call answers events"),
        };
        let (max_events, max_bytes) = (self.limits.max_output_events, self.limits.max_output_bytes);
        if out.len() > max_events {
            return Err(self.failed(CallError::new(
                CallErrorKind::InvalidOutput,
                format!(
                    "the transform returned {} events; the limit is {max_events} (limits.max_output_events)",
                    out.len()
                ),
            )));
        }
        let size: usize = out.iter().map(wit_size).sum();
        if size > max_bytes {
            return Err(self.failed(CallError::new(
                CallErrorKind::InvalidOutput,
                format!(
                    "the transform returned {size} bytes; the limit is {max_bytes} (limits.max_output_bytes)"
                ),
            )));
        }
        out.into_iter()
            .map(|e| {
                from_wit(e).map_err(|err| {
                    self.failed(CallError::new(
                        CallErrorKind::InvalidOutput,
                        format!("the transform returned an invalid event: {err}"),
                    ))
                })
            })
            .collect()
    }

    /// Runs a connector on a batch. The error says whether a retry may help.
    /// A connector reporting that the remote system refused the batch is a
    /// delivery failure, not a plugin malfunction: it does not count towards
    /// the plugin's degraded status.
    pub async fn deliver(&self, events: &[CloudEvent]) -> Result<(), CallError> {
        let wit: Vec<Event> = events.iter().map(to_wit).collect();
        let r = match self.call(Request::Deliver(wit)).await? {
            Reply::Delivered(r) => r,
            _ => unreachable!("a connector call answers delivered"),
        };
        r.map_err(|e| CallError {
            kind: CallErrorKind::PluginError,
            message: cut_message(e.message),
            retryable: e.retryable,
            status: e.status,
        })
    }

    /// Status for the API.
    pub fn status(&self) -> PluginStatus {
        let h = &self.health;
        PluginStatus {
            plugin: self.plugin.reference(),
            degraded: h.consecutive.load(Ordering::Relaxed) >= DEGRADED_AFTER,
            calls: h.calls.load(Ordering::Relaxed),
            failures: h.failures.load(Ordering::Relaxed),
            traps: h.traps.load(Ordering::Relaxed),
            instance_replacements: h.replacements.load(Ordering::Relaxed),
            instances: h.live.load(Ordering::Relaxed),
            last_error: h.last_error.lock().expect("health lock").clone(),
        }
    }

    /// Whether the plugin is currently degraded.
    pub fn is_degraded(&self) -> bool {
        self.health.consecutive.load(Ordering::Relaxed) >= DEGRADED_AFTER
    }

    /// Creates an instance and calls `init(config)` on it.
    async fn instantiate(&self) -> Result<Instance, CallError> {
        let state = HostState::new(
            self.tag.clone(),
            &self.plugin.reference(),
            (self.limits.memory_mb as usize) << 20,
            self.allow.clone(),
        );
        let mut store = Store::new(self.plugin.engine.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.data_mut().deadline = Instant::now() + self.limits.timeout();
        store.set_epoch_deadline(1);
        let inst = async {
            let bound = match &self.plugin.prepared {
                Prepared::Filter(p) => Bound::Filter(p.instantiate_async(&mut store).await?),
                Prepared::LazyFilter(p) => {
                    Bound::LazyFilter(p.instantiate_async(&mut store).await?)
                }
                Prepared::Transform(p) => Bound::Transform(p.instantiate_async(&mut store).await?),
                Prepared::Connector(p) => Bound::Connector(p.instantiate_async(&mut store).await?),
            };
            let init = match &bound {
                Bound::Filter(f) => f.call_init(&mut store, &self.config).await?,
                Bound::LazyFilter(f) => f.call_init(&mut store, &self.config).await?,
                Bound::Transform(t) => t.call_init(&mut store, &self.config).await?,
                Bound::Connector(c) => c.call_init(&mut store, &self.config).await?,
            };
            Ok::<_, wasmtime::Error>((bound, init))
        };
        match tokio::time::timeout(self.limits.timeout() + Duration::from_millis(100), inst).await {
            Err(_) => Err(CallError::new(
                CallErrorKind::Timeout,
                "instantiation and init did not finish in time",
            )),
            Ok(Err(e)) => Err(classify(&e, "instantiation failed")),
            Ok(Ok((_, Err(e)))) => Err(CallError::new(
                CallErrorKind::Init,
                cut_message(format!("init rejected the configuration: {}", e.message)),
            )),
            Ok(Ok((bindings, Ok(())))) => {
                self.health.live.fetch_add(1, Ordering::Relaxed);
                Ok(Instance {
                    store,
                    bindings,
                    calls: 0,
                })
            }
        }
    }

    /// Takes an instance (idle or new), runs `request` under the deadline,
    /// and returns the instance to the pool only if the call completed
    /// cleanly.
    async fn call(&self, request: Request) -> Result<Reply, CallError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CallError::new(CallErrorKind::Instantiate, "plugin shut down"))?;
        self.health.calls.fetch_add(1, Ordering::Relaxed);
        let idle = self.idle.lock().expect("idle pool").pop();
        let mut inst = match idle {
            Some(i) => i,
            None => match self.instantiate().await {
                Ok(i) => i,
                Err(e) => return Err(self.failed(e)),
            },
        };
        // One clock reading for both the deadline and the latency metric: a
        // warm filter call is about 1 µs and each reading costs tens of ns.
        let started = Instant::now();
        inst.store.data_mut().deadline = started + self.limits.timeout();
        inst.store.set_epoch_deadline(1);
        inst.calls += 1;
        let Instance {
            store, bindings, ..
        } = &mut inst;
        let deadline = started + self.limits.timeout() + Duration::from_millis(100);
        let outcome = {
            let call = std::pin::pin!(invoke(bindings, store, request));
            // Most calls finish within their first poll. Only a call that
            // has to wait (an HTTP request, a guest yielding at an epoch
            // tick) gets the async timeout: setting up its timer is a
            // measurable part of a ~1 µs filter call (`benches/plugin.rs`).
            match poll_once(call).await {
                Ok(done) => Ok(done),
                Err(call) => tokio::time::timeout_at(deadline.into(), call).await,
            }
        };
        self.latency.observe(started.elapsed());
        match outcome {
            Ok(Ok(Ok(v))) => {
                self.health.consecutive.store(0, Ordering::Relaxed);
                if inst.calls < MAX_CALLS_PER_INSTANCE {
                    self.idle.lock().expect("idle pool").push(inst);
                } else {
                    self.discard(inst, false);
                }
                Ok(v)
            }
            Ok(Ok(Err(message))) => {
                // The plugin reported an error: the instance is fine.
                self.idle.lock().expect("idle pool").push(inst);
                Err(self.failed(CallError::new(CallErrorKind::PluginError, message)))
            }
            Ok(Err(trap)) => {
                self.discard(inst, true);
                let e = classify(&trap, "the plugin trapped");
                self.health.traps.fetch_add(1, Ordering::Relaxed);
                Err(self.failed(e))
            }
            Err(_) => {
                self.discard(inst, true);
                self.health.traps.fetch_add(1, Ordering::Relaxed);
                Err(self.failed(CallError::new(
                    CallErrorKind::Timeout,
                    format!(
                        "the call did not finish within {} ms",
                        self.limits.call_timeout_ms
                    ),
                )))
            }
        }
    }

    fn discard(&self, inst: Instance, replacement: bool) {
        drop(inst);
        self.health.live.fetch_sub(1, Ordering::Relaxed);
        if replacement {
            self.health.replacements.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a failure and returns it.
    fn failed(&self, mut e: CallError) -> CallError {
        // Traps carry the guest's backtrace and plugins write their own
        // error text: neither may grow traces and status without bound.
        e.message = cut_message(e.message);
        let h = &self.health;
        h.failures.fetch_add(1, Ordering::Relaxed);
        let n = h.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if n == DEGRADED_AFTER {
            tracing::warn!(plugin = %self.tag, error = %e.message, "Plugin degraded after repeated failures.");
        } else {
            tracing::debug!(plugin = %self.tag, error = %e.message, "Plugin call failed.");
        }
        *h.last_error.lock().expect("health lock") = Some(LastError {
            at: format_rfc3339_micros(now_micros()),
            kind: e.kind,
            message: e.message.clone(),
        });
        e
    }
}

/// Names a trap in words a plugin author can act on.
fn classify(e: &wasmtime::Error, context: &str) -> CallError {
    let text = format!("{e:#}");
    let (kind, what) = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (
            CallErrorKind::Timeout,
            "the call exceeded its deadline".to_owned(),
        ),
        Some(Trap::StackOverflow) => (CallErrorKind::Trap, "stack overflow".to_owned()),
        Some(Trap::UnreachableCodeReached) => (
            CallErrorKind::Trap,
            "unreachable code reached (a panic or abort in the plugin)".to_owned(),
        ),
        Some(Trap::MemoryOutOfBounds) => (
            CallErrorKind::Trap,
            "out-of-bounds memory access".to_owned(),
        ),
        Some(t) => (CallErrorKind::Trap, t.to_string()),
        None if text.contains("grow") && text.contains("memory") => (
            CallErrorKind::MemoryLimit,
            "the plugin tried to use more memory than the rule's memory_mb limit".to_owned(),
        ),
        None => (CallErrorKind::Trap, String::new()),
    };
    let message = if what.is_empty() {
        format!("{context}: {text}")
    } else {
        format!("{context}: {what} ({text})")
    };
    CallError::new(kind, message)
}

/// An event's size for the output limit: every string, extension names
/// and values, and the data.
fn wit_size(e: &Event) -> usize {
    e.id.len()
        + e.source.len()
        + e.type_.len()
        + e.subject.as_ref().map_or(0, String::len)
        + e.time.as_ref().map_or(0, String::len)
        + e.datacontenttype.as_ref().map_or(0, String::len)
        + e.dataschema.as_ref().map_or(0, String::len)
        + e.extensions
            .iter()
            .map(|(n, v)| {
                n.len()
                    + match v {
                        bindings::AttributeValue::Str(s) => s.len(),
                        _ => 8,
                    }
            })
            .sum::<usize>()
        + e.data.as_ref().map_or(0, Vec::len)
}
