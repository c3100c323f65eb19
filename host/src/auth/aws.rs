//! AWS access keys: how a token signs AWS API calls (SigV4).
//!
//! AWS clients authenticate with an access key id and a secret access key,
//! and prove they hold the secret by signing each request with it (HMAC,
//! Signature Version 4; see `crate::aws::sigv4`). Checking an HMAC needs the
//! secret itself, so unlike a token secret it cannot be kept as a one-way
//! hash. Signalbox does not keep it at all: the secret of access key id `K`
//! is
//!
//! ```text
//! base64url(HMAC-SHA256(server key, "signalbox-aws-secret-v1:" ‖ K))
//! ```
//!
//! where the server key is 32 random bytes in a file **outside the data
//! folder** (`aws.key_file`, created on first start like the plugin cache
//! key). The data folder holds only which token each key id belongs to, its
//! account and when it was issued ([`AwsKey`], inside the token's record).
//! So a copy of the data folder or a backup does not reveal any secret,
//! revoking the token or deleting the key makes the key id unknown, and
//! replacing the server key invalidates every AWS key at once.
//!
//! An access key id is `SBXA` and 16 characters of base32 (80 random bits),
//! the shape of AWS's `AKIA…` ids, so AWS tools accept it; it belongs to one
//! API token, whose scopes decide what requests signed with it may do.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::AuthError;

/// Every access key id Signalbox issues starts with this.
pub const ACCESS_KEY_PREFIX: &str = "SBXA";
/// Most AWS access keys one token may have (AWS allows two per user).
pub const MAX_KEYS_PER_TOKEN: usize = 10;
/// What the secret derivation is bound to, so the server key could serve
/// another purpose without the two ever colliding.
const DERIVATION_LABEL: &[u8] = b"signalbox-aws-secret-v1:";

/// An AWS access key of a token, as the token's record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKey {
    /// `SBXA…`, 20 characters.
    pub access_key_id: String,
    /// The AWS account requests signed with the key act as (12 digits).
    pub account: String,
    /// When it was issued, µs since the epoch.
    pub created_at: i64,
}

/// The server key secret access keys are derived from. `Debug` hides it.
#[derive(Clone)]
pub struct AwsKeyring {
    key: [u8; 32],
}

impl std::fmt::Debug for AwsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsKeyring([redacted])")
    }
}

impl AwsKeyring {
    /// A keyring from the server key (32 random bytes kept outside the data
    /// folder).
    pub fn new(key: [u8; 32]) -> AwsKeyring {
        AwsKeyring { key }
    }

    /// The secret access key of `access_key_id`: 43 characters of
    /// unpadded base64url.
    pub fn secret(&self, access_key_id: &str) -> String {
        // HMAC accepts any key length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(DERIVATION_LABEL);
        mac.update(access_key_id.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Checks an AWS account id: 12 digits.
pub fn check_account(account: &str) -> Result<(), AuthError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AuthError::BadAccount {
            account: account.chars().take(40).collect(),
        })
    }
}

/// A new random access key id: `SBXA` and 16 base32 characters.
pub fn new_access_key_id() -> Result<String, AuthError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 10];
    super::token::fill_random(&mut bytes)?;
    let mut out = String::with_capacity(20);
    out.push_str(ACCESS_KEY_PREFIX);
    // 80 bits, 5 at a time.
    let mut acc: u128 = 0;
    for b in bytes {
        acc = (acc << 8) | u128::from(b);
    }
    for i in (0..16).rev() {
        out.push(ALPHABET[((acc >> (i * 5)) & 31) as usize] as char);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Scope, TokenStore};

    #[test]
    fn secrets_are_derived_per_key_and_per_server_key() {
        let a = AwsKeyring::new([1; 32]);
        let b = AwsKeyring::new([2; 32]);
        let s = a.secret("SBXAAAAAAAAAAAAAAAAA");
        assert_eq!(s.len(), 43);
        assert_eq!(s, a.secret("SBXAAAAAAAAAAAAAAAAA"), "stable");
        assert_ne!(s, a.secret("SBXAAAAAAAAAAAAAAAAB"));
        assert_ne!(s, b.secret("SBXAAAAAAAAAAAAAAAAA"));
        assert!(!format!("{a:?}").contains('1'));
    }

    #[test]
    fn access_key_ids_look_like_aws_ones() {
        let id = new_access_key_id().unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with(ACCESS_KEY_PREFIX));
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
        );
        assert_ne!(id, new_access_key_id().unwrap());
    }

    #[test]
    fn keys_follow_their_token() {
        let store = TokenStore::new();
        let (token, _) = store.create("ci", vec![Scope::Admin], None).unwrap();
        // No keyring: nothing can be issued.
        assert!(matches!(
            store.issue_aws_key(&token.id, "000000000000"),
            Err(AuthError::NoAwsKeyring)
        ));
        store.set_aws_keyring(AwsKeyring::new([7; 32]));
        assert!(matches!(
            store.issue_aws_key(&token.id, "12345"),
            Err(AuthError::BadAccount { .. })
        ));
        let (key, secret) = store.issue_aws_key(&token.id, "123456789012").unwrap();
        let found = store.aws_credentials(&key.access_key_id).unwrap();
        assert_eq!(found.token.id, token.id);
        assert_eq!(found.secret, secret);
        assert_eq!(found.key.account, "123456789012");

        // The key survives a reload through the record, without its secret.
        let record = store.record(&token.id).unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(&key.access_key_id) && !json.contains(&secret));
        let again = TokenStore::new();
        again.set_aws_keyring(AwsKeyring::new([7; 32]));
        again.load([record]).unwrap();
        assert_eq!(
            again.aws_credentials(&key.access_key_id).unwrap().secret,
            secret
        );

        // Deleting the key or revoking the token makes it unknown.
        store.delete_aws_key(&token.id, &key.access_key_id).unwrap();
        assert!(store.aws_credentials(&key.access_key_id).is_err());
        let (key2, _) = store.issue_aws_key(&token.id, "000000000000").unwrap();
        let (other, _) = store.create("other", vec![Scope::Admin], None).unwrap();
        store.revoke(&token.id).unwrap();
        assert!(store.aws_credentials(&key2.access_key_id).is_err());
        assert!(store.aws_keys(&other.id).is_empty());
    }
}
