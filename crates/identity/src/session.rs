//! Temporary credentials without storage: the session token carries its own claims (who, which
//! role, until when), sealed with a server key, and the secret access key is derived from the
//! access key id under the same key.
//!
//! Why stateless: AssumeRole and the per-environment credentials Lambda hands every execution
//! environment (refreshed while it lives) would otherwise write a row per session and read it on
//! every signed call; here validating a token is one HMAC and a small JSON parse, nothing is
//! written, every node of a cluster that shares the key accepts every session, and a restart keeps
//! sessions valid. The cost is revocation: a token lives until it expires (at most 12 hours), so
//! "revoke sessions" must be a policy condition on `aws:TokenIssueTime` or a key rotation, as on AWS.
//!
//! Token: `NUBO1.<base64url(claims JSON)>.<base64url(HMAC-SHA256(key, "nubo-session-token\n" +
//! claims part))>`. Secret: the first 40 characters of `base64(HMAC-SHA256(key,
//! "nubo-session-secret\n" + access key id))`. The claims are readable (like a JWT) but carry
//! nothing secret; the secret never leaves the server except in the AssumeRole response.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use nubo_wire::sigv4::KeyError;

use crate::keys::{random_bytes, temporary_key_id};

const TOKEN_PREFIX: &str = "NUBO1.";
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// `ASIA…`, the session's access key id.
    #[serde(rename = "k")]
    pub access_key_id: String,
    /// The role's account.
    #[serde(rename = "a")]
    pub account: String,
    /// The role's ARN (with path).
    #[serde(rename = "r")]
    pub role_arn: String,
    /// The role's unique id (`AROA…`).
    #[serde(rename = "i")]
    pub role_id: String,
    /// `RoleSessionName`.
    #[serde(rename = "s")]
    pub session_name: String,
    /// Issued at, Unix seconds (`aws:TokenIssueTime`).
    #[serde(rename = "t")]
    pub issued: i64,
    /// Expires at, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
}

impl SessionClaims {
    /// The role's name: the last segment of its ARN.
    pub fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(&self.role_arn)
    }
}

/// A set of temporary credentials, as AssumeRole returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The 40-character secret.
    pub secret_access_key: String,
    /// The sealed token.
    pub session_token: String,
    /// When they stop working.
    pub expiration: OffsetDateTime,
}

/// The server key that seals tokens and derives session secrets.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// A fresh random key (first start).
    pub fn generate() -> Self {
        Self(random_bytes())
    }

    /// The key from its stored hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// The stored form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, label: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(label.as_bytes());
        mac.update(b"\n");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The secret access key of a session's access key id.
    pub fn secret_for(&self, access_key_id: &str) -> String {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(self.mac("nubo-session-secret", access_key_id.as_bytes()));
        encoded[..40].to_owned()
    }

    /// Issues credentials for a session of `role_arn` lasting `duration`.
    pub fn issue(
        &self,
        account: &str,
        role_arn: &str,
        role_id: &str,
        session_name: &str,
        now: OffsetDateTime,
        duration: time::Duration,
    ) -> TemporaryCredentials {
        let expiration = now + duration;
        let claims = SessionClaims {
            access_key_id: temporary_key_id(),
            account: account.to_owned(),
            role_arn: role_arn.to_owned(),
            role_id: role_id.to_owned(),
            session_name: session_name.to_owned(),
            issued: now.unix_timestamp(),
            expires: expiration.unix_timestamp(),
        };
        let body = B64URL.encode(serde_json::to_vec(&claims).expect("claims serialize"));
        let seal = B64URL.encode(self.mac("nubo-session-token", body.as_bytes()));
        TemporaryCredentials {
            secret_access_key: self.secret_for(&claims.access_key_id),
            access_key_id: claims.access_key_id,
            session_token: format!("{TOKEN_PREFIX}{body}.{seal}"),
            expiration: OffsetDateTime::from_unix_timestamp(claims.expires).unwrap_or(expiration),
        }
    }

    /// Opens a token presented with `access_key_id` at `now`.
    pub fn open(
        &self,
        token: &str,
        access_key_id: &str,
        now: OffsetDateTime,
    ) -> Result<SessionClaims, KeyError> {
        let rest = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(KeyError::InvalidToken)?;
        let (body, seal) = rest.split_once('.').ok_or(KeyError::InvalidToken)?;
        let seal = B64URL.decode(seal).map_err(|_| KeyError::InvalidToken)?;
        let expected = self.mac("nubo-session-token", body.as_bytes());
        if seal.len() != 32 || !bool::from(expected.ct_eq(&seal)) {
            return Err(KeyError::InvalidToken);
        }
        let json = B64URL.decode(body).map_err(|_| KeyError::InvalidToken)?;
        let claims: SessionClaims =
            serde_json::from_slice(&json).map_err(|_| KeyError::InvalidToken)?;
        if claims.access_key_id != access_key_id {
            return Err(KeyError::InvalidToken);
        }
        if now.unix_timestamp() >= claims.expires {
            return Err(KeyError::ExpiredToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

    fn issue(key: &SessionKey) -> TemporaryCredentials {
        key.issue(
            "000000000000",
            "arn:aws:iam::000000000000:role/service-role/exec",
            "AROAEXAMPLE",
            "my-function",
            NOW,
            Duration::hours(1),
        )
    }

    #[test]
    fn a_token_opens_until_it_expires() {
        let key = SessionKey::generate();
        let creds = issue(&key);
        assert!(creds.access_key_id.starts_with("ASIA"));
        assert_eq!(creds.secret_access_key.len(), 40);
        let claims = key
            .open(&creds.session_token, &creds.access_key_id, NOW)
            .unwrap();
        assert_eq!(claims.role_name(), "exec");
        assert_eq!(
            key.secret_for(&claims.access_key_id),
            creds.secret_access_key
        );
        assert_eq!(
            key.open(
                &creds.session_token,
                &creds.access_key_id,
                NOW + Duration::hours(1)
            ),
            Err(KeyError::ExpiredToken)
        );
    }

    #[test]
    fn forged_foreign_or_mismatched_tokens_are_invalid() {
        let key = SessionKey::generate();
        let creds = issue(&key);
        let other = SessionKey::generate();
        assert_eq!(
            other.open(&creds.session_token, &creds.access_key_id, NOW),
            Err(KeyError::InvalidToken)
        );
        assert_eq!(
            key.open(&creds.session_token, "ASIAOTHEROTHEROTHER1", NOW),
            Err(KeyError::InvalidToken)
        );
        // Extending the expiry in the claims breaks the seal.
        let (body, seal) = creds.session_token[TOKEN_PREFIX.len()..]
            .split_once('.')
            .unwrap();
        let mut claims: SessionClaims =
            serde_json::from_slice(&B64URL.decode(body).unwrap()).unwrap();
        claims.expires += 86_400;
        let forged = format!(
            "{TOKEN_PREFIX}{}.{seal}",
            B64URL.encode(serde_json::to_vec(&claims).unwrap())
        );
        assert_eq!(
            key.open(&forged, &creds.access_key_id, NOW),
            Err(KeyError::InvalidToken)
        );
        assert_eq!(
            key.open("garbage", &creds.access_key_id, NOW),
            Err(KeyError::InvalidToken)
        );
        let restored = SessionKey::from_hex(&key.to_hex()).unwrap();
        assert!(restored
            .open(&creds.session_token, &creds.access_key_id, NOW)
            .is_ok());
    }
}
