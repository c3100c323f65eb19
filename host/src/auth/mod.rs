//! API tokens with scopes, and the middleware that checks them.
//!
//! # Tokens
//!
//! A client authenticates with a bearer token: `Authorization: Bearer
//! sbx_<id>_<secret>`. The secret is `sbx_`, the token's **id** (12 hex
//! digits, also how the token is listed and revoked), `_`, and 32 random bytes
//! from the operating system's CSPRNG in unpadded base64url (43 characters).
//! The `sbx_` prefix lets secret scanners recognise a leaked token.
//!
//! The server keeps only `sha256(secret)`. A fast hash is right here, where a
//! slow password hash (Argon2, bcrypt) would be wrong for passwords:
//! slow hashes exist because passwords have little entropy, so an attacker
//! who steals the hashes can try likely passwords one by one, and slowing
//! each try is the defence. A token secret has 256 random bits; there is no
//! likely guess to try, and finding a preimage of SHA-256 is infeasible at any
//! speed. Salting is unnecessary for the same reason (no two secrets are
//! alike, so precomputed tables are useless). And a fast hash keeps
//! authentication at about a microsecond per request, where a deliberately
//! slow one would make every request — and every attacker's bogus request —
//! cost tens of milliseconds of CPU.
//!
//! [`TokenStore::authenticate`] hashes the presented secret, finds the token
//! by the id the secret carries, and compares the hashes in constant time
//! ([`ct_eq`]), so response timing says nothing about how much of a guess was
//! right.
//!
//! # Scopes and actions
//!
//! A token carries [`Scope`]s: `admin` (everything), `metrics` (`GET
//! /metrics`), `publish:<bus>` and `read:<bus>`, where `<bus>` is a bus name
//! or `*` for every bus. [`required_action`] maps a request (method and path)
//! to the [`Action`] it needs, and [`Token::allows`] says whether a token may
//! perform it:
//!
//! | scope | `Admin` | `Metrics` | `Publish{b}` | `Read{b}` |
//! |---|---|---|---|---|
//! | `admin` | yes | yes | yes | yes |
//! | `metrics` | | yes | | |
//! | `publish:b` / `publish:*` | | | yes | |
//! | `read:b` / `read:*` | | | | yes |
//!
//! Publishing does not imply reading, nor reading publishing. Every scope
//! permits [`Action::Authenticated`]: what any valid token may do (ask who
//! it is, list the buses it may read, test a pattern).
//!
//! # The middleware
//!
//! [`require_token`] is an axum middleware for
//! [`axum::middleware::from_fn_with_state`] with an `Arc<TokenStore>`: it
//! answers `401` (no token, an unknown, revoked or expired one) with
//! `WWW-Authenticate: Bearer`, `403` when the token lacks the scope (naming
//! it), and otherwise passes the request on with the [`Token`] in its
//! extensions. Install it on the outermost router so it sees full paths.
//! Whether to install it at all is the host's decision.
//!
//! # Persistence and bootstrap
//!
//! The store is in memory; the host persists a [`TokenRecord`] (the token
//! and `sha256:<hex>` of its secret) per API token and loads them at start-up
//! ([`TokenStore::load`]). A first admin token can come from the
//! configuration as a pre-hashed value `sha256:<hex>`
//! ([`BootstrapToken::from_hash`], the value [`hash_secret`] prints) or from an
//! environment variable holding a plaintext secret
//! ([`BootstrapToken::from_env`]); see [`TokenStore::add_bootstrap`].
//!
//! # AWS access keys
//!
//! An API token can also have AWS access keys ([`aws`]), with which AWS
//! clients sign requests to the AWS front (SigV4). A key acts with its
//! token's scopes; its secret is derived from a server key kept outside the
//! data folder and never stored.
//!
//! # Randomness
//!
//! Secrets come from `getrandom`, which reads the operating system's CSPRNG
//! (`getrandom(2)` on Linux) directly: a tiny, widely used crate of the
//! rust-random project with no user-space generator state to seed, fork or
//! get wrong, which is all a handful of 32-byte secrets needs. (`fastrand`,
//! used elsewhere in the host, is not cryptographic and must never make
//! secrets.)

pub mod aws;
mod middleware;
mod scope;
mod token;

pub use aws::{AwsKey, AwsKeyring};
pub use middleware::require_token;
pub use scope::{Action, BusSelector, Scope, ScopeError, required_action};
pub use token::{
    AuthFailure, AwsCredentials, BootstrapToken, SECRET_PREFIX, Token, TokenOrigin, TokenRecord,
    TokenSecret, TokenStore, ct_eq, hash_secret,
};

/// The catalogue setting (key [`AuthSetting::KEY`]) saying the server once
/// had tokens, so authentication stays on after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthSetting {
    /// Authentication is enforced for good.
    pub enforced: bool,
}

impl AuthSetting {
    /// Its key among the settings.
    pub const KEY: &str = "auth";
}

impl crate::store::Record for AuthSetting {
    const COLLECTION: crate::store::Collection = crate::store::Collection::Settings;
}

impl crate::store::Record for TokenRecord {
    const COLLECTION: crate::store::Collection = crate::store::Collection::Tokens;
}

/// Errors of token management (not of authentication: see [`AuthFailure`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A token name is empty, too long or has control characters.
    #[error("invalid token name '{name}': {reason}")]
    BadName {
        /// The name as given.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A token was given no scope.
    #[error("token '{name}' has no scopes; give it at least one (e.g. 'publish:orders')")]
    NoScopes {
        /// The token's name.
        name: String,
    },
    /// A `sha256:<hex>` value is malformed.
    #[error("invalid token hash '{value}': {reason}")]
    BadHash {
        /// The value (cut to 80 characters).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A plaintext bootstrap secret is too short to be safe with a fast hash.
    #[error(
        "the secret of bootstrap token '{name}' must be 32 to 512 characters of random text; generate one (an 'sbx_…' token secret) rather than choosing it"
    )]
    WeakSecret {
        /// The token's name.
        name: String,
    },
    /// An environment variable holds bytes that are not UTF-8.
    #[error("environment variable {var} does not hold valid UTF-8")]
    BadEnv {
        /// The variable.
        var: String,
    },
    /// The same bootstrap secret is configured twice.
    #[error("bootstrap token '{name}' has the same secret as another bootstrap token")]
    DuplicateBootstrap {
        /// The second token's name.
        name: String,
    },
    /// No token has this id.
    #[error("there is no token with id '{id}'")]
    NotFound {
        /// The id.
        id: String,
    },
    /// Revoking this token would leave no token that can administer the
    /// server.
    #[error(
        "token '{id}' is the last token with the admin scope; create another admin token before revoking it"
    )]
    LastAdmin {
        /// The token's id.
        id: String,
    },
    /// Bootstrap tokens are configured, not managed through the API.
    #[error("token '{id}' comes from the configuration; remove it there to revoke it")]
    NotRevocable {
        /// The id.
        id: String,
    },
    /// A persisted record is unusable.
    #[error("token record '{id}' is invalid: {reason}")]
    BadRecord {
        /// The record's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("could not generate a token secret: {detail}")]
    Random {
        /// The error.
        detail: String,
    },
    /// The server has no key to derive AWS secret access keys from.
    #[error(
        "this server cannot issue AWS access keys: it has no AWS key file (set aws.key_file, or HOME)"
    )]
    NoAwsKeyring,
    /// An AWS account id is not 12 digits.
    #[error("'{account}' is not an AWS account id (12 digits)")]
    BadAccount {
        /// The value as given.
        account: String,
    },
    /// The token already has the most AWS access keys allowed.
    #[error(
        "token '{id}' already has {} AWS access keys; delete one first",
        aws::MAX_KEYS_PER_TOKEN
    )]
    TooManyAwsKeys {
        /// The token's id.
        id: String,
    },
    /// AWS access keys belong to tokens created through the API (they are
    /// kept in the token's record).
    #[error(
        "token '{id}' comes from the configuration; AWS access keys can only be issued for tokens created through the API"
    )]
    AwsKeysNeedApiToken {
        /// The token's id.
        id: String,
    },
    /// The token has no AWS access key with this id.
    #[error("the token has no AWS access key '{key}'")]
    AwsKeyNotFound {
        /// The access key id.
        key: String,
    },
}

#[cfg(test)]
mod tests;
