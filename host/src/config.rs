//! Server configuration: the TOML file, environment and flags, resolved into
//! one [`ServerConfig`].
//!
//! Precedence is flags, then environment (`SIGNALBOX_LISTEN`,
//! `SIGNALBOX_DATA_DIR`, `SIGNALBOX_CONFIG`), then the config file, then the
//! defaults below. Unknown keys in the file are errors, so a typo never
//! silently falls back to a default.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! data_dir = "./signalbox-data"
//! shutdown_timeout = "30s"
//!
//! [store]
//! sync = "batch"          # "always" | "batch" | "os"
//! sync_interval = "50ms"  # WAL fsync period in "batch" mode
//!
//! [limits]
//! max_event_bytes = 1048576     # per event (buses may lower it)
//! max_batch_events = 1000       # per batch request
//! max_request_bytes = 16777216  # per request body
//! max_rules_per_bus = 1000      # rules on one bus
//!
//! [retention]
//! default = "7d"      # for the default bus and new buses
//! interval = "1m"     # how often expired events are deleted
//!
//! [log]
//! level = "info"      # or a RUST_LOG-style filter, e.g. "signalbox=debug"
//! format = "text"     # or "json"
//!
//! [auth]
//! allow_unauthenticated = false  # needed to listen beyond loopback without tokens
//! [[auth.tokens]]                # or create tokens with `signalbox token create`
//! name = "ops"
//! scopes = ["admin"]
//! hash = "sha256:…"              # `signalbox token hash` prints a secret and its hash
//!
//! [tls]                 # optional: serve HTTPS
//! cert_file = "cert.pem"
//! key_file = "key.pem"
//!
//! [plugins]
//! max_bytes = 67108864  # largest component accepted on upload
//! instances = 1000      # live plugin instances (pooling allocator slots)
//! max_plugins = 1000    # stored plugin versions, all names together
//!
//! [aws]                         # the AWS EventBridge API (docs/aws.md)
//! max_put_events_bytes = 262144 # PutEvents entries per call, AWS's size formula; up to 1048576
//! key_file = "…/aws.key"        # derives AWS secret access keys; outside the data folder
//!
//! [cluster]                     # run on NATS JetStream instead of RocksDB (docs/cluster.md)
//! servers = ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]  # or --cluster / SIGNALBOX_CLUSTER
//! node = "signalbox-1"          # unique, stable; default: made once and kept in the data folder
//! replicas = 3                  # copies JetStream keeps of every stream and bucket
//! credentials_file = "…/signalbox.creds"   # or token = "…", or user = "…" and password = "…"
//! tls_ca_file = "…/ca.pem"      # trust for tls:// servers
//! trace_age = "24h"             # how long traces are kept
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::store::{StoreOptions, SyncMode};

/// Default listen address: loopback only, so a fresh server is not exposed.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data folder, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./signalbox-data";

/// Request and event size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Event streams (`?follow=true`) open at once, server-wide (default
    /// 256). Each holds a task and a read buffer; more are refused with 503.
    pub max_followers: usize,
    /// Largest event, unless a bus sets a lower limit (default 1 MiB).
    pub max_event_bytes: usize,
    /// Most events in one batch request (default 1,000).
    pub max_batch_events: usize,
    /// Largest request body (default 16 MiB).
    pub max_request_bytes: usize,
    /// Most rules on one bus (default 1,000). The matcher copes with far
    /// more; the limit exists so one tenant cannot exhaust memory by accident.
    pub max_rules_per_bus: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_followers: 256,
            max_event_bytes: 1 << 20,
            max_batch_events: 1000,
            max_request_bytes: 16 << 20,
            max_rules_per_bus: 1000,
        }
    }
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `signalbox=debug,info`.
    pub level: String,
    /// Emit JSON lines instead of human-readable text.
    pub json: bool,
}

/// Everything `signalbox serve` needs, fully resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Where RocksDB and plugin files live.
    pub data_dir: PathBuf,
    /// Store tuning and durability.
    pub store: StoreOptions,
    /// Size limits.
    pub limits: Limits,
    /// Logging.
    pub log: LogConfig,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Plugin platform settings.
    pub plugins: PluginSettings,
    /// HTTPS for the listener, if configured.
    pub tls: Option<TlsConfig>,
    /// Access control.
    pub auth: AuthConfig,
    /// The listener's protections against slow and foreign clients.
    pub http: HttpSettings,
    /// The only folder `log` targets may write files to (default
    /// `<data_dir>/target-logs`).
    pub log_dir: PathBuf,
    /// The AWS front.
    pub aws: AwsConfig,
    /// Cluster mode: the state lives in NATS JetStream (`None`: embedded
    /// RocksDB in `data_dir`).
    pub cluster: Option<crate::store::nats::ClusterOptions>,
}

/// `[aws]`: the AWS EventBridge API (`crate::aws`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Limits of the AWS front.
    pub settings: crate::aws::Settings,
    /// The key AWS secret access keys are derived from: a file outside the
    /// data folder, created (mode 0600) when missing. Default:
    /// `$XDG_STATE_HOME/signalbox/aws.key`, else
    /// `$HOME/.local/state/signalbox/aws.key`. Without one, no AWS keys can
    /// be issued or checked (the front still works on a server without
    /// tokens).
    pub key_file: Option<PathBuf>,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            settings: crate::aws::Settings::default(),
            key_file: default_cache_key_file().map(|p| p.with_file_name("aws.key")),
        }
    }
}

/// `[http]`: how the listener treats clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Connections served at once (default 1,024); past it the listener
    /// stops accepting until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, and how long an idle
    /// keep-alive connection stays open (default 30 s).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body (default 60 s).
    pub request_timeout: Duration,
    /// `Host` names accepted besides the listen address and, on loopback,
    /// `localhost`, `127.0.0.1` and `[::1]`. A `Host` outside the list is
    /// refused (403): that stops DNS rebinding. Empty on a non-loopback
    /// listener means any `Host`.
    pub allowed_hosts: Vec<String>,
    /// Browser origins (`https://console.example.com`) allowed to call the
    /// API from another origin (CORS). A request from any other foreign
    /// origin that could change state is refused (403).
    pub allowed_origins: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}

/// `[auth]`: API tokens.
///
/// A server with no tokens (none here, none in `SIGNALBOX_ADMIN_TOKEN`, none
/// created through the API) accepts every request — which is only allowed
/// when it listens on loopback, or with `allow_unauthenticated = true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Start without tokens on a non-loopback address anyway.
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Tokens given by hash (`signalbox token hash` prints one).
    #[serde(default)]
    pub tokens: Vec<ConfigToken>,
}

/// A token in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigToken {
    /// A name for logs and listings.
    pub name: String,
    /// Scopes: `admin`, `metrics`, `publish:<bus|*>`, `read:<bus|*>`.
    pub scopes: Vec<String>,
    /// `sha256:<hex>` of the secret.
    pub hash: String,
}

/// `[tls]`: serve HTTPS with this certificate chain and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `[plugins]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    /// Longest a plugin upload may take to compile (default 60 s).
    pub compile_timeout: Duration,
    /// The key that authenticates compiled plugins in the cache: a file
    /// outside the data folder, created (mode 0600) when missing. Default:
    /// `$XDG_STATE_HOME/signalbox/cache.key`, else
    /// `$HOME/.local/state/signalbox/cache.key`. Without a usable key the
    /// cache is not trusted and plugins are compiled at start-up.
    pub cache_key_file: Option<PathBuf>,
    /// Largest component accepted on upload (default 64 MiB).
    pub max_bytes: usize,
    /// Live plugin instances the engine's pool can hold (default 1000).
    pub instances: u32,
    /// Stored plugin versions, all names together (default 1000).
    pub max_plugins: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            compile_timeout: Duration::from_secs(60),
            cache_key_file: default_cache_key_file(),
            max_bytes: crate::plugin::registry::DEFAULT_MAX_PLUGIN_BYTES,
            instances: crate::plugin::PoolSize::default().instances,
            max_plugins: crate::plugin::registry::DEFAULT_MAX_PLUGINS,
        }
    }
}

/// Where the plugin cache key lives unless configured: the user's state
/// folder, which is not part of the data folder (copying or restoring a
/// data folder must not carry the key that makes its native code trusted).
pub fn default_cache_key_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("signalbox").join("cache.key"))
}

/// A configuration problem, reported before the server starts.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting, as a dotted path.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// The config file as written. Every section and key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    shutdown_timeout: Option<String>,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    plugins: RawPlugins,
    tls: Option<TlsConfig>,
    #[serde(default)]
    auth: AuthConfig,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    targets: RawTargets,
    #[serde(default)]
    aws: RawAws,
    cluster: Option<RawCluster>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    #[serde(default)]
    servers: Vec<String>,
    node: Option<String>,
    replicas: Option<usize>,
    credentials_file: Option<PathBuf>,
    token: Option<String>,
    user: Option<String>,
    password: Option<String>,
    tls_ca_file: Option<PathBuf>,
    trace_age: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    max_put_events_bytes: Option<usize>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    max_connections: Option<usize>,
    header_read_timeout: Option<String>,
    request_timeout: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    log_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    compile_timeout: Option<String>,
    cache_key_file: Option<PathBuf>,
    max_bytes: Option<usize>,
    instances: Option<u32>,
    max_plugins: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    sync: Option<SyncMode>,
    sync_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_followers: Option<usize>,
    max_event_bytes: Option<usize>,
    max_batch_events: Option<usize>,
    max_request_bytes: Option<usize>,
    max_rules_per_bus: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    default: Option<String>,
    interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    format: Option<String>,
}

/// Values given on the command line or in the environment (clap merges the
/// two), which beat the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config` / `SIGNALBOX_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--listen` / `SIGNALBOX_LISTEN`.
    pub listen: Option<String>,
    /// `--data-dir` / `SIGNALBOX_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--allow-unauthenticated`.
    pub allow_unauthenticated: bool,
    /// `--cluster` / `SIGNALBOX_CLUSTER`: NATS URLs, comma-separated.
    pub cluster: Option<String>,
    /// `--node` / `SIGNALBOX_NODE`: this node's name in the cluster.
    pub node: Option<String>,
}

/// `[cluster]` and `--cluster`: `None` unless some NATS server is named.
fn resolve_cluster(
    raw: Option<RawCluster>,
    servers: Option<String>,
    node: Option<String>,
    data_dir: &Path,
    default_retention: Duration,
) -> Result<Option<crate::store::nats::ClusterOptions>, ConfigError> {
    let raw = raw.unwrap_or_default();
    let servers: Vec<String> = match servers {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => raw.servers,
    };
    if servers.is_empty() {
        return Ok(None);
    }
    for s in &servers {
        let ok = ["nats://", "tls://"].iter().any(|p| s.starts_with(p))
            && s.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
        if !ok {
            return Err(ConfigError::Invalid {
                key: "cluster.servers",
                message: format!(
                    "'{s}' is not a NATS URL: write nats://HOST:PORT or tls://HOST:PORT"
                ),
            });
        }
    }
    let replicas = raw.replicas.unwrap_or(1);
    if !(1..=5).contains(&replicas) {
        return Err(ConfigError::Invalid {
            key: "cluster.replicas",
            message: format!("must be between 1 and 5 (JetStream's limit), got {replicas}"),
        });
    }
    let node = match node.or(raw.node) {
        Some(n) => n,
        None => node_name(data_dir)?,
    };
    if node.is_empty() || node.len() > 64 || node.chars().any(|c| c.is_control()) {
        return Err(ConfigError::Invalid {
            key: "cluster.node",
            message: "must be 1 to 64 printable characters".into(),
        });
    }
    let user = match (raw.user, raw.password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Invalid {
                key: "cluster.user / cluster.password",
                message: "give both or neither".into(),
            });
        }
    };
    Ok(Some(crate::store::nats::ClusterOptions {
        servers,
        node,
        replicas,
        credentials_file: raw.credentials_file,
        token: raw.token,
        user,
        tls_ca_file: raw.tls_ca_file,
        trace_age: duration("cluster.trace_age", raw.trace_age)?
            .unwrap_or(Duration::from_secs(24 * 3600)),
        default_retention,
        member: true,
    }))
}

/// A node name made once and kept in the data folder, so a restarted node
/// is the same node.
fn node_name(data_dir: &Path) -> Result<String, ConfigError> {
    let path = data_dir.join("node-name");
    if let Ok(n) = std::fs::read_to_string(&path) {
        return Ok(n.trim().to_owned());
    }
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|e| ConfigError::Invalid {
        key: "cluster.node",
        message: format!("cannot make a node name: {e}"),
    })?;
    let name = format!("node-{}", hex::encode(b));
    let write = std::fs::create_dir_all(data_dir).and_then(|()| std::fs::write(&path, &name));
    write.map_err(|e| ConfigError::Invalid {
        key: "cluster.node",
        message: format!("cannot keep the node name in {}: {e}", path.display()),
    })?;
    Ok(name)
}

impl ServerConfig {
    /// Reads the config file (if any) and applies overrides and defaults.
    pub fn resolve(overrides: Overrides) -> Result<ServerConfig, ConfigError> {
        let raw = match &overrides.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Self::parse_file(path, &text)?
            }
            None => RawConfig::default(),
        };
        let defaults = StoreOptions::default();
        let limits_default = Limits::default();
        let limits = Limits {
            max_followers: raw
                .limits
                .max_followers
                .unwrap_or(limits_default.max_followers),
            max_event_bytes: raw
                .limits
                .max_event_bytes
                .unwrap_or(limits_default.max_event_bytes),
            max_batch_events: raw
                .limits
                .max_batch_events
                .unwrap_or(limits_default.max_batch_events),
            max_request_bytes: raw
                .limits
                .max_request_bytes
                .unwrap_or(limits_default.max_request_bytes),
            max_rules_per_bus: raw
                .limits
                .max_rules_per_bus
                .unwrap_or(limits_default.max_rules_per_bus),
        };
        let http_default = HttpSettings::default();
        let http = HttpSettings {
            max_connections: raw
                .http
                .max_connections
                .unwrap_or(http_default.max_connections),
            header_read_timeout: duration(
                "http.header_read_timeout",
                raw.http.header_read_timeout,
            )?
            .unwrap_or(http_default.header_read_timeout),
            request_timeout: duration("http.request_timeout", raw.http.request_timeout)?
                .unwrap_or(http_default.request_timeout),
            allowed_hosts: raw.http.allowed_hosts.unwrap_or_default(),
            allowed_origins: raw.http.allowed_origins.unwrap_or_default(),
        };
        for (i, o) in http.allowed_origins.iter().enumerate() {
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && !o.ends_with('/')
                && o.parse::<http::Uri>()
                    .is_ok_and(|u| u.path() == "/" && u.query().is_none());
            if !ok {
                return Err(ConfigError::Invalid {
                    key: "http.allowed_origins",
                    message: format!(
                        "entry {i}, '{o}', is not an origin: write scheme://host[:port], like https://console.example.com"
                    ),
                });
            }
        }
        if http.header_read_timeout.is_zero() || http.request_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                key: "http.header_read_timeout / http.request_timeout",
                message: "must be longer than 0".into(),
            });
        }
        for (key, v) in [
            ("http.max_connections", http.max_connections),
            ("limits.max_followers", limits.max_followers),
            ("limits.max_event_bytes", limits.max_event_bytes),
            ("limits.max_batch_events", limits.max_batch_events),
            ("limits.max_request_bytes", limits.max_request_bytes),
            ("limits.max_rules_per_bus", limits.max_rules_per_bus),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be greater than 0".into(),
                });
            }
        }
        let log_format = raw.log.format.unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            return Err(ConfigError::Invalid {
                key: "log.format",
                message: format!("'{log_format}' is not \"text\" or \"json\""),
            });
        }
        let data_dir: PathBuf = overrides
            .data_dir
            .or(raw.data_dir)
            .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let plugin_defaults = PluginSettings::default();
        let aws_defaults = AwsConfig::default();
        let max_put_events_bytes = raw
            .aws
            .max_put_events_bytes
            .unwrap_or(aws_defaults.settings.max_put_events_bytes);
        if !(1..=crate::aws::putevents::LIMIT_1_MB).contains(&max_put_events_bytes) {
            return Err(ConfigError::Invalid {
                key: "aws.max_put_events_bytes",
                message: format!(
                    "must be between 1 and {} (1 MiB, EventBridge's largest), got {max_put_events_bytes}",
                    crate::aws::putevents::LIMIT_1_MB
                ),
            });
        }
        let aws = AwsConfig {
            settings: crate::aws::Settings {
                max_put_events_bytes,
            },
            key_file: raw.aws.key_file.or(aws_defaults.key_file),
        };
        let config = ServerConfig {
            listen: overrides
                .listen
                .or(raw.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.into()),
            log_dir: raw
                .targets
                .log_dir
                .unwrap_or_else(|| data_dir.join("target-logs")),
            aws,
            cluster: None,
            data_dir,
            http,
            store: StoreOptions {
                sync: raw.store.sync.unwrap_or(defaults.sync),
                sync_interval: duration("store.sync_interval", raw.store.sync_interval)?
                    .unwrap_or(defaults.sync_interval),
                default_retention: duration("retention.default", raw.retention.default)?
                    .unwrap_or(defaults.default_retention),
                retention_interval: duration("retention.interval", raw.retention.interval)?
                    .unwrap_or(defaults.retention_interval),
            },
            limits,
            log: LogConfig {
                level: raw.log.level.unwrap_or_else(|| "info".into()),
                json: log_format == "json",
            },
            shutdown_timeout: duration("shutdown_timeout", raw.shutdown_timeout)?
                .unwrap_or(Duration::from_secs(30)),
            tls: raw.tls,
            auth: raw.auth,
            plugins: PluginSettings {
                compile_timeout: duration("plugins.compile_timeout", raw.plugins.compile_timeout)?
                    .unwrap_or(plugin_defaults.compile_timeout),
                cache_key_file: raw
                    .plugins
                    .cache_key_file
                    .or(plugin_defaults.cache_key_file),
                max_bytes: raw
                    .plugins
                    .max_bytes
                    .unwrap_or(PluginSettings::default().max_bytes),
                instances: raw
                    .plugins
                    .instances
                    .unwrap_or(PluginSettings::default().instances),
                max_plugins: raw
                    .plugins
                    .max_plugins
                    .unwrap_or(PluginSettings::default().max_plugins),
            },
        };
        let mut config = config;
        config.cluster = resolve_cluster(
            raw.cluster,
            overrides.cluster,
            overrides.node,
            &config.data_dir,
            config.store.default_retention,
        )?;
        config.auth.allow_unauthenticated |= overrides.allow_unauthenticated;
        if config.store.default_retention < Duration::from_secs(1) {
            return Err(ConfigError::Invalid {
                key: "retention.default",
                message:
                    "must be at least 1s (a retention of 0 would delete events as they arrive)"
                        .into(),
            });
        }
        if config.store.sync_interval.is_zero() || config.store.retention_interval.is_zero() {
            return Err(ConfigError::Invalid {
                key: "store.sync_interval / retention.interval",
                message: "must be longer than 0".into(),
            });
        }
        Ok(config)
    }

    fn parse_file(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

use crate::duration::parse_duration;

fn duration(key: &'static str, v: Option<String>) -> Result<Option<Duration>, ConfigError> {
    v.map(|s| parse_duration(&s).map_err(|message| ConfigError::Invalid { key, message }))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = ServerConfig::resolve(Overrides::default()).unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(c.store.sync, SyncMode::Batch);
        assert_eq!(c.limits.max_event_bytes, 1 << 20);
        assert_eq!(c.store.default_retention, Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            r#"
listen = "0.0.0.0:9000"
data_dir = "/var/lib/signalbox"
[store]
sync = "always"
[limits]
max_event_bytes = 2048
[retention]
default = "1d"
[log]
format = "json"
"#,
        )
        .unwrap();
        let c = ServerConfig::resolve(Overrides {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:0".into()),
            data_dir: None,
            allow_unauthenticated: false,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0", "flags beat the file");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/signalbox"));
        assert_eq!(c.store.sync, SyncMode::Always);
        assert_eq!(c.limits.max_event_bytes, 2048);
        assert_eq!(c.store.default_retention, Duration::from_secs(86_400));
        assert!(c.log.json);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for (text, needle) in [
            ("lisen = \"x\"", "lisen"),
            ("[store]\nsync = \"sometimes\"", "sometimes"),
            ("[retention]\ndefault = \"soon\"", "retention.default"),
            ("[limits]\nmax_event_bytes = 0", "max_event_bytes"),
            ("[log]\nformat = \"xml\"", "log.format"),
            (
                "[aws]\nmax_put_events_bytes = 1048577",
                "aws.max_put_events_bytes",
            ),
            (
                "[cluster]\nservers = [\"http://127.0.0.1:4222\"]",
                "cluster.servers",
            ),
            (
                "[cluster]\nservers = [\"nats://127.0.0.1:4222\"]\nreplicas = 7",
                "cluster.replicas",
            ),
            (
                "[cluster]\nservers = [\"nats://a:1\"]\nuser = \"u\"",
                "cluster.user",
            ),
        ] {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, text).unwrap();
            let e = ServerConfig::resolve(Overrides {
                config: Some(path),
                ..Default::default()
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }

    #[test]
    fn cluster_mode_from_the_flag_keeps_a_node_name_in_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let resolve = || {
            ServerConfig::resolve(Overrides {
                data_dir: Some(dir.path().join("data")),
                cluster: Some("nats://127.0.0.1:4222, nats://127.0.0.1:4223".into()),
                ..Default::default()
            })
            .unwrap()
        };
        let c = resolve().cluster.expect("cluster mode");
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.replicas, 1);
        assert!(c.node.starts_with("node-"), "{}", c.node);
        // The same data folder is the same node after a restart.
        assert_eq!(resolve().cluster.unwrap().node, c.node);
        assert!(
            ServerConfig::resolve(Overrides::default())
                .unwrap()
                .cluster
                .is_none()
        );
    }
}
