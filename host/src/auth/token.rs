//! Tokens, their secrets, the in-memory token store and bootstrap tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::aws::{AwsKey, AwsKeyring};
use super::{Action, AuthError, Scope};
use crate::event::time::now_micros;

/// Every secret starts with this, so that secret scanners and people can
/// recognise a leaked Signalbox token.
pub const SECRET_PREFIX: &str = "sbx_";
/// Random bytes in a secret (256 bits).
const SECRET_RANDOM_BYTES: usize = 32;
/// Random bytes in a token id (48 bits, shown as 12 hex digits).
const ID_BYTES: usize = 6;
/// Presented secrets longer than this are refused without hashing.
const MAX_SECRET_LEN: usize = 512;
/// Plaintext bootstrap secrets must be at least this long.
const MIN_BOOTSTRAP_SECRET_LEN: usize = 32;
/// Longest token name.
const MAX_NAME_LEN: usize = 100;

/// Where a token came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenOrigin {
    /// Created through the API ([`TokenStore::create`]) and persisted by the host.
    #[default]
    Api,
    /// A pre-hashed secret in the configuration file.
    Config,
    /// A plaintext secret in an environment variable.
    Env,
}

/// An API token: who it is and what it may do. It never holds the secret,
/// so printing or serializing a `Token` cannot leak one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The token's id, also embedded in its secret (`sbx_<id>_…`).
    pub id: String,
    /// A human name, e.g. `ci-publisher`.
    pub name: String,
    /// What the token may do.
    pub scopes: Vec<Scope>,
    /// When it was created, in microseconds since the Unix epoch.
    pub created_at: i64,
    /// When it stops working, in microseconds since the Unix epoch; `None`
    /// for never.
    pub expires_at: Option<i64>,
    /// Where it came from; only [`TokenOrigin::Api`] tokens are persisted
    /// and can be revoked.
    #[serde(default)]
    pub origin: TokenOrigin,
}

impl Token {
    /// Whether one of the token's scopes permits `action`.
    pub fn allows(&self, action: &Action) -> bool {
        self.scopes.iter().any(|s| s.allows(action))
    }

    /// Whether the token has expired at `now` (microseconds since the epoch).
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// A token secret, shown to its owner once at creation. Its `Debug` output
/// shows the token id only; read the secret with [`TokenSecret::expose`].
/// It deliberately has no `Display` and no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// The secret itself, to hand to the token's owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A new random secret `sbx_<id>_<random>` with a random id; the secret
    /// [`TokenStore::create`] makes, usable on its own to produce a
    /// bootstrap secret for configuration (see [`hash_secret`]).
    pub fn generate() -> Result<TokenSecret, AuthError> {
        let id = random_id()?;
        new_secret(&id)
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match parse_id(&self.0) {
            Some(id) => write!(f, "TokenSecret({SECRET_PREFIX}{id}_[redacted])"),
            None => f.write_str("TokenSecret([redacted])"),
        }
    }
}

/// What the host persists for an API token: the token and the SHA-256 of its
/// secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// The token's id, also a natural storage key.
    pub id: String,
    /// The token's name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// Creation time, microseconds since the Unix epoch.
    pub created_at: i64,
    /// Expiry time, microseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// `sha256:<64 hex digits>` of the secret.
    pub hash: String,
    /// AWS access keys issued for the token (their secrets are derived,
    /// never stored: see [`super::aws`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_keys: Vec<AwsKey>,
}

/// Why a presented secret was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No token has this secret (never issued, revoked, or mistyped).
    #[error("the bearer token is not valid: it is unknown or has been revoked")]
    Invalid,
    /// The secret is right but the token has expired.
    #[error("token '{id}' has expired")]
    Expired {
        /// The token's id.
        id: String,
        /// When it expired, microseconds since the epoch.
        at: i64,
    },
}

/// A token configured outside the store's records: a pre-hashed secret from
/// the configuration file or a plaintext secret from an environment variable.
/// Bootstrap tokens never expire, are not part of [`TokenStore::records`] and
/// cannot be revoked through the API; remove them from the configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    name: String,
    scopes: Vec<Scope>,
    origin: TokenOrigin,
    hash: [u8; 32],
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapToken")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl BootstrapToken {
    /// A token from a configured hash `sha256:<64 hex digits>` (as printed by
    /// [`hash_secret`]).
    pub fn from_hash(name: &str, scopes: Vec<Scope>, hash: &str) -> Result<Self, AuthError> {
        check_name_and_scopes(name, &scopes)?;
        Ok(BootstrapToken {
            name: name.to_owned(),
            scopes,
            origin: TokenOrigin::Config,
            hash: parse_hash(hash)?,
        })
    }

    /// A token from a plaintext secret, which must be at least 32 characters
    /// (a `sbx_…` secret from [`TokenSecret::generate`] is best): the store
    /// keeps a fast hash, which is safe only for high-entropy secrets.
    pub fn from_secret(name: &str, scopes: Vec<Scope>, secret: &str) -> Result<Self, AuthError> {
        check_name_and_scopes(name, &scopes)?;
        if secret.len() < MIN_BOOTSTRAP_SECRET_LEN || secret.len() > MAX_SECRET_LEN {
            return Err(AuthError::WeakSecret {
                name: name.to_owned(),
            });
        }
        Ok(BootstrapToken {
            name: name.to_owned(),
            scopes,
            origin: TokenOrigin::Env,
            hash: sha256(secret.as_bytes()),
        })
    }

    /// A token from the plaintext secret in environment variable `var`, or
    /// `None` if the variable is not set (or empty).
    pub fn from_env(var: &str, name: &str, scopes: Vec<Scope>) -> Result<Option<Self>, AuthError> {
        match std::env::var(var) {
            Ok(secret) if secret.is_empty() => Ok(None),
            Ok(secret) => Self::from_secret(name, scopes, secret.trim()).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(AuthError::BadEnv {
                var: var.to_owned(),
            }),
        }
    }
}

/// `sha256:<hex>` of a secret: the form [`BootstrapToken::from_hash`] and
/// [`TokenRecord::hash`] use. For a `signalbox token hash` style helper.
pub fn hash_secret(secret: &str) -> String {
    format!("sha256:{}", hex(&sha256(secret.as_bytes())))
}

struct Entry {
    token: Token,
    hash: [u8; 32],
    /// AWS access keys of an API token.
    aws_keys: Vec<AwsKey>,
}

#[derive(Default)]
struct Inner {
    /// API tokens by id.
    by_id: HashMap<String, Entry>,
    /// Bootstrap tokens, compared one by one (there are few).
    bootstrap: Vec<Entry>,
    /// Which API token each AWS access key id belongs to.
    aws_index: HashMap<String, String>,
}

/// The tokens the server accepts, in memory. `Send + Sync`: share it behind
/// an `Arc`; authentication takes a read lock.
///
/// The host persists [`TokenRecord`]s: it stores [`TokenStore::record`] after
/// [`create`](TokenStore::create), deletes the record after
/// [`revoke`](TokenStore::revoke), and calls [`load`](TokenStore::load) with
/// all records on start-up.
///
/// # Authentication never switches off
///
/// A store is *open* (every request passes) until it first holds a token;
/// from then on it is *enforced* for good ([`TokenStore::enforced`]): no
/// revocation, expiry or purge turns it open again, and the last token with
/// the `admin` scope cannot be revoked ([`AuthError::LastAdmin`]). The host
/// also persists the fact, so a restart does not reopen it either.
#[derive(Default)]
pub struct TokenStore {
    inner: RwLock<Inner>,
    enforced: std::sync::atomic::AtomicBool,
    /// Derives AWS secret access keys; without it none can be issued or
    /// verified.
    aws_keyring: RwLock<Option<AwsKeyring>>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.read();
        f.debug_struct("TokenStore")
            .field("tokens", &inner.by_id.len())
            .field("bootstrap", &inner.bootstrap.len())
            .finish()
    }
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> TokenStore {
        TokenStore::default()
    }

    /// Whether requests need a token. Once true, true for good.
    pub fn enforced(&self) -> bool {
        self.enforced.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Makes requests need a token from now on (a store that once held
    /// tokens, as recorded by the host).
    pub fn enforce(&self) {
        self.enforced
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Creates a token and returns it with its secret, which is not kept:
    /// show it to the owner once. `ttl` `None` means the token never expires.
    pub fn create(
        &self,
        name: &str,
        scopes: Vec<Scope>,
        ttl: Option<Duration>,
    ) -> Result<(Token, TokenSecret), AuthError> {
        check_name_and_scopes(name, &scopes)?;
        let created_at = now_micros();
        let expires_at = ttl
            .map(|d| created_at.saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)));
        // Draw ids until one is free; with 48-bit ids a second draw is rare.
        for _ in 0..8 {
            let id = random_id()?;
            let secret = new_secret(&id)?;
            let mut inner = self.write();
            if inner.by_id.contains_key(&id) {
                continue;
            }
            let token = Token {
                id: id.clone(),
                name: name.to_owned(),
                scopes,
                created_at,
                expires_at,
                origin: TokenOrigin::Api,
            };
            let hash = sha256(secret.0.as_bytes());
            inner.by_id.insert(
                id,
                Entry {
                    token: token.clone(),
                    hash,
                    aws_keys: Vec::new(),
                },
            );
            self.enforce();
            return Ok((token, secret));
        }
        Err(AuthError::Random {
            detail: "could not draw a free token id".to_owned(),
        })
    }

    /// Adds a bootstrap token and returns it. Its id is `config-…` or
    /// `env-…` followed by 8 hex digits of its hash, stable across restarts.
    pub fn add_bootstrap(&self, bootstrap: BootstrapToken) -> Result<Token, AuthError> {
        let mut inner = self.write();
        if inner.bootstrap.iter().any(|e| e.hash == bootstrap.hash) {
            return Err(AuthError::DuplicateBootstrap {
                name: bootstrap.name,
            });
        }
        let prefix = match bootstrap.origin {
            TokenOrigin::Env => "env",
            _ => "config",
        };
        let token = Token {
            id: format!("{prefix}-{}", &hex(&bootstrap.hash)[..8]),
            name: bootstrap.name,
            scopes: bootstrap.scopes,
            created_at: now_micros(),
            expires_at: None,
            origin: bootstrap.origin,
        };
        inner.bootstrap.push(Entry {
            token: token.clone(),
            hash: bootstrap.hash,
            aws_keys: Vec::new(),
        });
        self.enforce();
        Ok(token)
    }

    /// Revokes an API token and returns it; the host then deletes its record.
    /// The last unexpired token with the `admin` scope cannot be revoked:
    /// nobody could manage the server afterwards.
    pub fn revoke(&self, id: &str) -> Result<Token, AuthError> {
        let mut inner = self.write();
        if let Some(entry) = inner.by_id.get(id) {
            let now = now_micros();
            let is_admin =
                |e: &Entry| !e.token.is_expired_at(now) && e.token.scopes.contains(&Scope::Admin);
            if is_admin(entry) {
                let others = inner
                    .by_id
                    .values()
                    .filter(|e| e.token.id != id)
                    .chain(inner.bootstrap.iter())
                    .filter(|e| is_admin(e))
                    .count();
                if others == 0 {
                    return Err(AuthError::LastAdmin { id: id.to_owned() });
                }
            }
            if let Some(entry) = inner.by_id.remove(id) {
                for key in &entry.aws_keys {
                    inner.aws_index.remove(&key.access_key_id);
                }
                return Ok(entry.token);
            }
        }
        if inner.bootstrap.iter().any(|e| e.token.id == id) {
            return Err(AuthError::NotRevocable { id: id.to_owned() });
        }
        Err(AuthError::NotFound { id: id.to_owned() })
    }

    /// Removes API tokens that expired before `now` (microseconds since the
    /// epoch) and returns their ids, for the host to delete their records.
    pub fn purge_expired(&self, now: i64) -> Vec<String> {
        let mut inner = self.write();
        let expired: Vec<String> = inner
            .by_id
            .values()
            .filter(|e| e.token.is_expired_at(now))
            .map(|e| e.token.id.clone())
            .collect();
        for id in &expired {
            if let Some(entry) = inner.by_id.remove(id) {
                for key in &entry.aws_keys {
                    inner.aws_index.remove(&key.access_key_id);
                }
            }
        }
        expired
    }

    /// Every token, API and bootstrap, oldest first.
    pub fn list(&self) -> Vec<Token> {
        let inner = self.read();
        let mut out: Vec<Token> = inner
            .bootstrap
            .iter()
            .chain(inner.by_id.values())
            .map(|e| e.token.clone())
            .collect();
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    /// One token by id.
    pub fn get(&self, id: &str) -> Option<Token> {
        let inner = self.read();
        inner
            .by_id
            .get(id)
            .or_else(|| inner.bootstrap.iter().find(|e| e.token.id == id))
            .map(|e| e.token.clone())
    }

    /// Whether the store has no token at all.
    pub fn is_empty(&self) -> bool {
        let inner = self.read();
        inner.by_id.is_empty() && inner.bootstrap.is_empty()
    }

    /// The persistent record of API token `id`.
    pub fn record(&self, id: &str) -> Option<TokenRecord> {
        self.read().by_id.get(id).map(to_record)
    }

    /// The persistent records of all API tokens, by id.
    pub fn records(&self) -> Vec<TokenRecord> {
        let inner = self.read();
        let mut out: Vec<TokenRecord> = inner.by_id.values().map(to_record).collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Replaces the API tokens with these records (bootstrap tokens stay).
    /// All or nothing: a record with a bad hash, name or id leaves the store
    /// unchanged and names the record. Returns how many tokens were loaded.
    pub fn load(&self, records: impl IntoIterator<Item = TokenRecord>) -> Result<usize, AuthError> {
        let mut by_id = HashMap::new();
        let mut aws_index = HashMap::new();
        for r in records {
            let bad = |reason: String| AuthError::BadRecord {
                id: r.id.clone(),
                reason,
            };
            if !is_token_id(&r.id) {
                return Err(bad("the id is not 12 lower-case hex digits".to_owned()));
            }
            check_name_and_scopes(&r.name, &r.scopes).map_err(|e| bad(e.to_string()))?;
            let hash = parse_hash(&r.hash).map_err(|e| bad(e.to_string()))?;
            for key in &r.aws_keys {
                if aws_index
                    .insert(key.access_key_id.clone(), r.id.clone())
                    .is_some()
                {
                    return Err(bad(format!(
                        "AWS access key {} appears twice",
                        key.access_key_id
                    )));
                }
            }
            let entry = Entry {
                token: Token {
                    id: r.id.clone(),
                    name: r.name,
                    scopes: r.scopes,
                    created_at: r.created_at,
                    expires_at: r.expires_at,
                    origin: TokenOrigin::Api,
                },
                hash,
                aws_keys: r.aws_keys,
            };
            if by_id.insert(r.id.clone(), entry).is_some() {
                return Err(bad("the id appears twice".to_owned()));
            }
        }
        let n = by_id.len();
        {
            let mut inner = self.write();
            inner.by_id = by_id;
            inner.aws_index = aws_index;
        }
        if n > 0 {
            self.enforce();
        }
        Ok(n)
    }

    /// The token whose secret this is, if it is valid now.
    pub fn authenticate(&self, secret: &str) -> Option<Token> {
        self.check(secret).ok()
    }

    /// Like [`authenticate`](Self::authenticate), saying why a secret is refused.
    pub fn check(&self, secret: &str) -> Result<Token, AuthFailure> {
        self.check_at(secret, now_micros())
    }

    /// [`check`](Self::check) at a given time (microseconds since the epoch).
    ///
    /// Constant time with respect to the stored secrets: the presented secret
    /// is hashed and the token is looked up by the id the secret carries (ids
    /// are not secret); the hashes are then compared with [`ct_eq`], which
    /// looks at every byte whatever the first difference. Bootstrap tokens,
    /// whose secrets carry no id the store knows, are all compared the same
    /// way, without stopping at a match.
    pub fn check_at(&self, secret: &str, now: i64) -> Result<Token, AuthFailure> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(AuthFailure::Invalid);
        }
        let digest = sha256(secret.as_bytes());
        let inner = self.read();
        let mut found = parse_id(secret)
            .and_then(|id| inner.by_id.get(id))
            .filter(|e| ct_eq(&digest, &e.hash));
        if found.is_none() {
            for entry in &inner.bootstrap {
                if ct_eq(&digest, &entry.hash) {
                    found = Some(entry);
                }
            }
        }
        let entry = found.ok_or(AuthFailure::Invalid)?;
        match entry.token.expires_at {
            Some(at) if at <= now => Err(AuthFailure::Expired {
                id: entry.token.id.clone(),
                at,
            }),
            _ => Ok(entry.token.clone()),
        }
    }

    /// Sets the key AWS secret access keys are derived from (the server's
    /// `aws.key_file`).
    pub fn set_aws_keyring(&self, keyring: AwsKeyring) {
        *self.aws_keyring.write().unwrap_or_else(|e| e.into_inner()) = Some(keyring);
    }

    /// Whether AWS access keys can be issued and checked (the server has
    /// its AWS key).
    pub fn has_aws_keyring(&self) -> bool {
        self.keyring().is_some()
    }

    fn keyring(&self) -> Option<AwsKeyring> {
        self.aws_keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Issues an AWS access key for API token `id`, for `account` (12
    /// digits). Returns the key and its secret access key, which is not
    /// kept: show it to the owner once. The host then stores the token's
    /// [`record`](Self::record).
    pub fn issue_aws_key(&self, id: &str, account: &str) -> Result<(AwsKey, String), AuthError> {
        super::aws::check_account(account)?;
        let keyring = self.keyring().ok_or(AuthError::NoAwsKeyring)?;
        let mut inner = self.write();
        if !inner.by_id.contains_key(id) {
            return Err(if inner.bootstrap.iter().any(|e| e.token.id == id) {
                AuthError::AwsKeysNeedApiToken { id: id.to_owned() }
            } else {
                AuthError::NotFound { id: id.to_owned() }
            });
        }
        let count = inner.by_id.get(id).map_or(0, |e| e.aws_keys.len());
        if count >= super::aws::MAX_KEYS_PER_TOKEN {
            return Err(AuthError::TooManyAwsKeys { id: id.to_owned() });
        }
        for _ in 0..8 {
            let key_id = super::aws::new_access_key_id()?;
            if inner.aws_index.contains_key(&key_id) {
                continue;
            }
            let key = AwsKey {
                access_key_id: key_id.clone(),
                account: account.to_owned(),
                created_at: now_micros(),
            };
            inner.aws_index.insert(key_id.clone(), id.to_owned());
            if let Some(entry) = inner.by_id.get_mut(id) {
                entry.aws_keys.push(key.clone());
            }
            let secret = keyring.secret(&key_id);
            return Ok((key, secret));
        }
        Err(AuthError::Random {
            detail: "could not draw a free access key id".to_owned(),
        })
    }

    /// Deletes an AWS access key of API token `id`.
    pub fn delete_aws_key(&self, id: &str, access_key_id: &str) -> Result<(), AuthError> {
        let mut inner = self.write();
        let entry = inner
            .by_id
            .get_mut(id)
            .ok_or_else(|| AuthError::NotFound { id: id.to_owned() })?;
        let before = entry.aws_keys.len();
        entry.aws_keys.retain(|k| k.access_key_id != access_key_id);
        if entry.aws_keys.len() == before {
            return Err(AuthError::AwsKeyNotFound {
                key: access_key_id.to_owned(),
            });
        }
        inner.aws_index.remove(access_key_id);
        Ok(())
    }

    /// The AWS access keys of API token `id`.
    pub fn aws_keys(&self, id: &str) -> Vec<AwsKey> {
        self.read()
            .by_id
            .get(id)
            .map(|e| e.aws_keys.clone())
            .unwrap_or_default()
    }

    /// The token an AWS access key id belongs to, the key, and its secret
    /// access key (derived, for checking a signature) — if the key exists,
    /// its token is valid now and the server has its keyring.
    pub fn aws_credentials(&self, access_key_id: &str) -> Result<AwsCredentials, AuthFailure> {
        let keyring = self.keyring().ok_or(AuthFailure::Invalid)?;
        let inner = self.read();
        let entry = inner
            .aws_index
            .get(access_key_id)
            .and_then(|id| inner.by_id.get(id))
            .ok_or(AuthFailure::Invalid)?;
        let key = entry
            .aws_keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .ok_or(AuthFailure::Invalid)?
            .clone();
        if let Some(at) = entry.token.expires_at.filter(|at| *at <= now_micros()) {
            return Err(AuthFailure::Expired {
                id: entry.token.id.clone(),
                at,
            });
        }
        Ok(AwsCredentials {
            token: entry.token.clone(),
            secret: keyring.secret(access_key_id),
            key,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // Every update is a single insert, remove or swap, so a poisoned lock
        // still guards a consistent store.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn to_record(e: &Entry) -> TokenRecord {
    TokenRecord {
        id: e.token.id.clone(),
        name: e.token.name.clone(),
        scopes: e.token.scopes.clone(),
        created_at: e.token.created_at,
        expires_at: e.token.expires_at,
        hash: format!("sha256:{}", hex(&e.hash)),
        aws_keys: e.aws_keys.clone(),
    }
}

/// What [`TokenStore::aws_credentials`] finds for an access key id.
#[derive(Clone)]
pub struct AwsCredentials {
    /// The token the key belongs to (its scopes decide what the key may do).
    pub token: Token,
    /// The key.
    pub key: AwsKey,
    /// Its secret access key.
    pub secret: String,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("token", &self.token.id)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn check_name_and_scopes(name: &str, scopes: &[Scope]) -> Result<(), AuthError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(AuthError::BadName {
            name: name.to_owned(),
            reason: "it must be 1 to 100 characters",
        });
    }
    if name.chars().any(char::is_control) {
        return Err(AuthError::BadName {
            name: name.to_owned(),
            reason: "it must not contain control characters",
        });
    }
    if scopes.is_empty() {
        return Err(AuthError::NoScopes {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Compares two digests in time independent of where they differ
/// (`subtle`'s constant-time equality).
pub fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Parses `sha256:<64 hex digits>` (either case).
fn parse_hash(s: &str) -> Result<[u8; 32], AuthError> {
    let bad = |reason: &'static str| AuthError::BadHash {
        value: s.chars().take(80).collect(),
        reason,
    };
    let Some(hex_digits) = s.strip_prefix("sha256:") else {
        return Err(bad("it must start with 'sha256:'"));
    };
    if hex_digits.len() != 64 {
        return Err(bad("'sha256:' must be followed by 64 hex digits"));
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex_digits.as_bytes().chunks(2).enumerate() {
        let (Some(hi), Some(lo)) = (hex_val(pair[0]), hex_val(pair[1])) else {
            return Err(bad("it contains a character that is not a hex digit"));
        };
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The id in `sbx_<id>_<random>`, if the secret has that shape.
fn parse_id(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(SECRET_PREFIX)?;
    let (id, random) = rest.split_once('_')?;
    (is_token_id(id) && !random.is_empty()).then_some(id)
}

fn is_token_id(id: &str) -> bool {
    id.len() == ID_BYTES * 2 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_id() -> Result<String, AuthError> {
    let mut bytes = [0u8; ID_BYTES];
    fill_random(&mut bytes)?;
    Ok(hex(&bytes))
}

fn new_secret(id: &str) -> Result<TokenSecret, AuthError> {
    let mut random = [0u8; SECRET_RANDOM_BYTES];
    fill_random(&mut random)?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    Ok(TokenSecret(format!("{SECRET_PREFIX}{id}_{encoded}")))
}

/// Fills `buf` from the operating system's CSPRNG.
pub(super) fn fill_random(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|e| AuthError::Random {
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = sha256(b"abc");
        assert_eq!(
            hex(&h),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_hash(&format!("sha256:{}", hex(&h))).unwrap(), h);
        assert_eq!(
            parse_hash(&format!("sha256:{}", hex(&h).to_uppercase())).unwrap(),
            h
        );
    }

    #[test]
    fn bad_hashes() {
        let not_hex = format!("sha256:{}", "g".repeat(64));
        let non_ascii = format!("sha256:{}", "é".repeat(32));
        for (value, needle) in [
            ("md5:abc", "start with 'sha256:'"),
            ("sha256:abc", "64 hex digits"),
            (not_hex.as_str(), "not a hex digit"),
            (non_ascii.as_str(), "not a hex digit"),
        ] {
            let err = parse_hash(value).unwrap_err().to_string();
            assert!(err.contains(needle), "{value}: {err}");
        }
    }

    #[test]
    fn ids_parse_from_secrets() {
        assert_eq!(parse_id("sbx_0123456789ab_xyz"), Some("0123456789ab"));
        assert_eq!(parse_id("sbx_0123456789ab_"), None);
        assert_eq!(parse_id("sbx_0123456789AB_x"), None);
        assert_eq!(parse_id("sbx_short_x"), None);
        assert_eq!(parse_id("0123456789ab_x"), None);
        assert_eq!(parse_id(""), None);
    }

    #[test]
    fn constant_time_eq() {
        let a = sha256(b"a");
        assert!(ct_eq(&a, &a));
        for i in [0, 15, 31] {
            let mut b = a;
            b[i] ^= 1;
            assert!(!ct_eq(&a, &b), "difference at byte {i}");
        }
    }

    #[test]
    fn secrets_have_the_documented_shape() {
        let s = TokenSecret::generate().unwrap();
        let text = s.expose();
        let id = parse_id(text).unwrap();
        let random = &text[SECRET_PREFIX.len() + id.len() + 1..];
        assert_eq!(random.len(), 43, "32 bytes in unpadded base64url");
        assert!(
            random
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(TokenSecret::generate().unwrap(), s);
    }
}
