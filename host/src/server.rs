//! `signalbox serve`: wiring and lifecycle.
//!
//! Start-up opens the store (replaying its WAL if the last stop was a crash),
//! starts background work (retention), binds the listener and prints
//! `listening on http://ADDR` to stderr — tests and scripts wait for that
//! line to learn the port when they asked for port 0.
//!
//! Shutdown on SIGINT or SIGTERM: stop accepting connections, end event
//! streams, let in-flight requests finish (at most `shutdown_timeout`), stop
//! background work, then sync the WAL and flush the store.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, AppState};
use crate::config::ServerConfig;
use crate::pipeline::Router;
use crate::plugin::{PluginEngine, PluginRuntime, PoolSize, Registry};
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
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: ServerConfig) -> Result<(), ServeError> {
    run_until(config, shutdown_signal()).await
}

/// Runs the server until `stop` completes.
pub async fn run_until(
    config: ServerConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let data_dir = config.data_dir.clone();
    let store_options = config.store.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir, store_options))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        sync = ?config.store.sync,
        "Store opened."
    );

    let plugins_dir = config.data_dir.join("plugins");
    let registry = {
        let store = store.clone();
        let settings = config.plugins;
        tokio::task::spawn_blocking(move || -> Result<_, ServeError> {
            let engine = PluginEngine::new(
                Some(&plugins_dir.join("cache")),
                PoolSize {
                    instances: settings.instances,
                },
            )?;
            let runtime = PluginRuntime::new(engine)?;
            Ok(Registry::open(
                store,
                runtime,
                &plugins_dir,
                settings.max_bytes,
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

    let router = Router::start(store.clone(), registry.clone())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;

    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr: SocketAddr = listener.local_addr()?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let retention = tokio::spawn({
        let store = store.clone();
        let rx = shutdown_rx.clone();
        async move { store.run_retention(rx).await }
    });

    let app = api::router(AppState::new(
        store.clone(),
        registry.clone(),
        router.clone(),
        config.limits,
        shutdown_rx.clone(),
    ));
    eprintln!("listening on http://{addr}");
    tracing::info!(%addr, "Listening.");

    let (stopping_tx, mut stopping_rx) = watch::channel(false);
    let graceful = {
        let shutdown_tx = shutdown_tx.clone();
        async move {
            stop.await;
            tracing::info!("Shutting down: no new connections; finishing in-flight requests.");
            let _ = shutdown_tx.send(true);
            let _ = stopping_tx.send(true);
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let timeout = config.shutdown_timeout;
    let deadline = async move {
        let _ = stopping_rx.wait_for(|s| *s).await;
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        r = server => r?,
        _ = deadline => tracing::warn!(?timeout, "In-flight requests did not finish in time; stopping anyway."),
    }

    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), router.shutdown()).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), retention).await;
    tokio::task::spawn_blocking(move || store.close())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
    tracing::info!("Store closed. Bye.");
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
