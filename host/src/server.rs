//! `signalbox serve`: wiring and lifecycle.
//!
//! Start-up opens the store (replaying its WAL if the last stop was a crash),
//! loads tokens, binds the listener and prints `listening on http://ADDR` to
//! stderr — tests and scripts wait for that line to learn the port when they
//! asked for port 0. Then it compiles plugins and starts rules while the
//! listener answers `/healthz`, reports "starting" on `/readyz`, and holds
//! other requests until everything is up (see [`run_until`]).
//!
//! The listener ([`listener`]) caps connections, times out slow headers,
//! idle connections and slow bodies, backs off when `accept` fails (say,
//! out of file descriptors), and puts every request through the `Host` and
//! `Origin` checks of [`crate::api::guard`].
//!
//! Shutdown on SIGINT or SIGTERM: stop accepting connections, end event
//! streams, let in-flight requests finish (at most `shutdown_timeout`), stop
//! background work, then sync the WAL and flush the store.

mod cluster;
mod listener;

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::auth::AuthSetting;
use crate::auth::{BootstrapToken, Scope, TokenRecord, TokenStore};
use crate::config::ServerConfig;
use crate::ingest::publish::Publisher;
use crate::plugin::{ArtifactCache, PluginEngine, PluginRuntime, PoolSize, Registry};
use crate::rules::Rules;
use crate::schema::Schemas;
use crate::sources::Sources;
use crate::store::catalogue::Scope as StoreScope;
use crate::store::{Store, StoreError};
use std::sync::Arc;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The store could not be opened or closed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address is unusable.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The plugin platform could not start.
    #[error(transparent)]
    Plugin(#[from] crate::plugin::PluginError),
    /// Refusing to listen beyond loopback without tokens.
    #[error(
        "refusing to listen on {0} without API tokens: anyone who can reach it could read and publish events and run plugins. Configure tokens ([[auth.tokens]] in the config file, or SIGNALBOX_ADMIN_TOKEN), listen on 127.0.0.1, or pass --allow-unauthenticated"
    )]
    Insecure(String),
    /// Access control could not be set up.
    #[error("access control: {0}")]
    Auth(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The CPU lacks instructions the storage engine was built for.
    #[error(
        "this CPU lacks SSE4.2 or CLMUL (x86-64-v2), which the storage engine is built to use; run Signalbox on a CPU from about 2010 or later"
    )]
    Cpu,
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: ServerConfig) -> Result<(), ServeError> {
    run_until(config, shutdown_signal()).await
}

/// Runs the server until `stop` completes.
///
/// Start-up happens in two halves. The store opens, tokens load and the
/// listener binds first, so a bad address or an insecure setting fails
/// fast; `listening on …` is printed then. Plugins compile (or load from the
/// cache) and rules start after that, while the listener already answers
/// `/healthz` and `/readyz` (503 until ready) and holds every other request
/// until the server is ready, so orchestrators see the process alive and
/// clients see no errors.
pub async fn run_until(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    check_cpu()?;
    let store = match &config.cluster {
        Some(cluster) => {
            // The data folder still holds this node's plugin cache and name.
            std::fs::create_dir_all(&config.data_dir)?;
            let store = Store::open_nats(cluster.clone()).await?;
            tracing::info!(
                servers = %cluster.servers.join(","),
                node = %cluster.node,
                replicas = cluster.replicas,
                "Joined the cluster."
            );
            store
        }
        None => {
            let data_dir = config.data_dir.clone();
            let store_options = config.store.clone();
            let store =
                tokio::task::spawn_blocking(move || Store::open_rocks(&data_dir, store_options))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??;
            tracing::info!(
                data_dir = %config.data_dir.display(),
                sync = ?config.store.sync,
                "Store opened."
            );
            store
        }
    };
    // Subscribed before anything loads, so no change made on another node
    // falls between loading and following.
    let changes = store.cluster().map(|c| c.changes());
    let tokens = Arc::new(load_tokens(&store, &config).await?);
    let tls = match &config.tls {
        Some(t) => Some(load_tls(&t.cert_file, &t.key_file)?),
        None => None,
    };
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr: SocketAddr = listener.local_addr()?;
    if !tokens.enforced() && !addr.ip().is_loopback() && !config.auth.allow_unauthenticated {
        return Err(ServeError::Insecure(addr.to_string()));
    }
    if !tokens.enforced() && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "Listening beyond loopback WITHOUT authentication (allow_unauthenticated).");
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let gate = listener::Gate::new(store.clone(), config.http.request_timeout);
    let guard = Arc::new(crate::api::guard::Guard::new(
        addr,
        &config.http.allowed_hosts,
        &config.http.allowed_origins,
        config.http.request_timeout,
    ));
    let scheme = if tls.is_some() { "https" } else { "http" };
    announce_listening(&format!("{scheme}://{addr}"));
    tracing::info!(%addr, "Listening.");

    let (stopping_tx, mut stopping_rx) = watch::channel(false);
    let graceful = {
        let shutdown_tx = shutdown_tx.clone();
        let gate = gate.clone();
        async move {
            stop.await;
            tracing::info!("Shutting down: no new connections; finishing in-flight requests.");
            gate.stopping();
            let _ = shutdown_tx.send(true);
            let _ = stopping_tx.send(true);
        }
    };
    let server = tokio::spawn(listener::serve(
        listener,
        gate.router(guard),
        tls,
        config.http.clone(),
        graceful,
    ));

    let started = start_services(&config, &store, &tokens, &shutdown_rx, &gate).await;
    let Services {
        rules: router,
        sources,
        retention,
        registry,
        schemas,
    } = match started {
        Ok(s) => s,
        Err(error) => {
            server.abort();
            let _ = store.close().await;
            return Err(error);
        }
    };

    let follower = changes.map(|changes| {
        tokio::spawn(cluster::follow(
            cluster::Followers {
                store: store.clone(),
                rules: router.clone(),
                registry: registry.clone(),
                tokens: tokens.clone(),
                sources: sources.clone(),
                schemas: schemas.clone(),
            },
            changes,
            shutdown_rx.clone(),
        ))
    });

    let timeout = config.shutdown_timeout;
    let deadline = async move {
        let _ = stopping_rx.wait_for(|s| *s).await;
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| std::io::Error::other(e.to_string()))??,
        _ = deadline => tracing::warn!(?timeout, "In-flight requests did not finish in time; stopping anyway."),
    }

    let _ = shutdown_tx.send(true);
    if let Some(f) = follower {
        let _ = tokio::time::timeout(Duration::from_secs(5), f).await;
    }
    // Sources first: they make events; then what routes them.
    let _ = tokio::time::timeout(Duration::from_secs(10), sources.shutdown()).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), router.shutdown()).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), retention).await;
    drop(router);
    store.close().await?;
    tracing::info!("Store closed. Bye.");
    Ok(())
}

/// The slow half of start-up: plugins, schemas, rules; then the API opens.
async fn start_services(
    config: &ServerConfig,
    store: &Store,
    tokens: &Arc<TokenStore>,
    shutdown_rx: &watch::Receiver<bool>,
    gate: &listener::Gate,
) -> Result<Services, ServeError> {
    gate.phase("loading plugins");
    let plugins_dir = config.data_dir.join("plugins");
    let registry = {
        let store = store.clone();
        let settings = config.plugins.clone();
        tokio::task::spawn_blocking(move || -> Result<_, ServeError> {
            let cache = match &settings.cache_key_file {
                None => {
                    tracing::warn!("No place for the plugin cache key (set plugins.cache_key_file, or HOME); plugins compile at every start.");
                    None
                }
                Some(path) => match ArtifactCache::load_key(path) {
                    Ok(key) => Some(ArtifactCache {
                        dir: plugins_dir.join("cache"),
                        key,
                    }),
                    Err(error) => {
                        tracing::warn!(%error, "Cannot use the plugin cache key; plugins compile at every start.");
                        None
                    }
                },
            };
            let engine = PluginEngine::new(
                cache,
                PoolSize {
                    instances: settings.instances,
                },
            )?;
            let runtime = PluginRuntime::new(engine)?;
            Ok(Registry::open(
                store,
                runtime,
                crate::plugin::registry::UploadLimits {
                    max_bytes: settings.max_bytes,
                    max_plugins: settings.max_plugins,
                    compile_timeout: settings.compile_timeout,
                },
            )?)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??
    };
    let (registry, report) = registry;
    let registry = Arc::new(registry);
    tracing::info!(
        plugins = report.plugins,
        from_cache = report.from_cache,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "Plugins loaded."
    );

    gate.phase("loading schemas");
    let schemas = Arc::new(Schemas::load(store.clone()).await?);
    gate.phase("starting rules");
    let router = Rules::start(
        store.clone(),
        registry.clone(),
        config.limits.max_rules_per_bus,
        config.log_dir.clone(),
    )
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?;

    let retention = tokio::spawn({
        let store = store.clone();
        let rx = shutdown_rx.clone();
        async move { store.run_retention(rx).await }
    });
    let registry_handle = registry.clone();
    let schemas_handle = schemas.clone();

    let publisher = Publisher::new(store.clone(), schemas);
    gate.phase("starting sources");
    let sources = Sources::start(store.clone(), publisher.clone())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;

    gate.open(api::router(
        AppState::new(
            publisher,
            registry,
            router.clone(),
            sources.clone(),
            tokens.clone(),
            config.limits,
            shutdown_rx.clone(),
        )
        .with_aws(config.aws.settings),
    ));
    tracing::info!("Ready.");
    Ok(Services {
        rules: router,
        sources,
        retention,
        registry: registry_handle,
        schemas: schemas_handle,
    })
}

/// What runs once the server is up, stopped in this order at shutdown.
struct Services {
    rules: Arc<Rules>,
    sources: Arc<Sources>,
    retention: tokio::task::JoinHandle<()>,
    registry: Arc<Registry>,
    schemas: Arc<Schemas>,
}

/// Prints `listening on URL` to stderr as one `write`.
///
/// Scripts and tests read this line to learn the port. `eprintln!` goes to an
/// unbuffered stderr one format piece at a time (13 writes for this line), so
/// a reader could see `listening on http://127.` and take it for the whole
/// address; one write of the whole line, newline included, cannot be split.
pub(crate) fn announce_listening(url: &str) {
    use std::io::Write as _;
    let line = format!("listening on {url}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// RocksDB's C++ is built for x86-64-v2 (see `.cargo/config.toml`): on a
/// CPU without SSE4.2 or CLMUL its checksums would crash the process with
/// SIGILL, so refuse to start with a message instead. Everything else in
/// the binary is baseline x86-64.
fn check_cpu() -> Result<(), ServeError> {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("sse4.2")
            || !std::arch::is_x86_feature_detected!("pclmulqdq")
        {
            return Err(ServeError::Cpu);
        }
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "Cannot listen for SIGTERM.");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Loads a PEM certificate chain and private key into a TLS acceptor
/// (rustls with the ring provider, TLS 1.2 and 1.3, HTTP/1.1 and h2 via
/// ALPN).
fn load_tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| ServeError::Tls(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("bad certificate in {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{} holds no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        ServeError::Tls(format!(
            "cannot read a private key from {}: {e}",
            key.display()
        ))
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ServeError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// Loads API tokens: those created through the API (stored), those in the
/// config file (by hash), and `SIGNALBOX_ADMIN_TOKEN` (a plaintext admin
/// secret, for bootstrapping).
async fn load_tokens(store: &Store, config: &ServerConfig) -> Result<TokenStore, ServeError> {
    let tokens = TokenStore::new();
    let err = |e: crate::auth::AuthError| ServeError::Auth(e.to_string());
    // AWS secret access keys are derived from a key outside the data
    // folder (`crate::auth::aws`); the plugin cache key's loader makes it.
    match &config.aws.key_file {
        None => tracing::warn!(
            "No place for the AWS key (set aws.key_file, or HOME): AWS access keys cannot be issued or checked."
        ),
        Some(path) => match crate::plugin::ArtifactCache::load_key(path) {
            Ok(key) => tokens.set_aws_keyring(crate::auth::AwsKeyring::new(key)),
            Err(error) => tracing::warn!(
                %error,
                "Cannot use the AWS key: AWS access keys cannot be issued or checked."
            ),
        },
    }
    let records: Vec<TokenRecord> = store
        .list::<TokenRecord>(StoreScope::Server)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    tokens.load(records).map_err(err)?;
    let setting = store
        .get::<AuthSetting>(StoreScope::Server, AuthSetting::KEY)
        .await?;
    if setting.is_some_and(|s| s.enforced) {
        tokens.enforce();
    }
    for t in &config.auth.tokens {
        let scopes = t
            .scopes
            .iter()
            .map(|s| {
                Scope::parse(s).map_err(|e| ServeError::Auth(format!("token '{}': {e}", t.name)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        tokens
            .add_bootstrap(BootstrapToken::from_hash(&t.name, scopes, &t.hash).map_err(err)?)
            .map_err(err)?;
    }
    if let Some(b) =
        BootstrapToken::from_env("SIGNALBOX_ADMIN_TOKEN", "admin-env", vec![Scope::Admin])
            .map_err(err)?
    {
        tokens.add_bootstrap(b).map_err(err)?;
    }
    Ok(tokens)
}
