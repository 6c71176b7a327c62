//! From a verified signature to a caller: the registry serves SigV4's key lookups
//! ([`SigningKeys`]), resolves the access key to its principal and identity policies
//! ([`IdentityRegistry::authenticate`]), and the [`Caller`] is then authorized per operation.
//!
//! Signing keys are cached per (key id, day, region, service): deriving one costs four HMACs, more
//! than the rest of a verification. Session tokens are cached per access key id once opened, so a
//! warm session costs a string comparison, not an HMAC and a JSON parse. Both caches are bounded
//! and only save work: every lookup still checks the key's current status in the registry.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;
use time::OffsetDateTime;

use nubo_wire::sigv4::{KeyError, KeyRequest, SigV4Error, SigningKey, SigningKeys, Verified};

use crate::model::KeyStatus;
use crate::policy::{
    evaluate, AccessDenied, ConditionKeys, Decision, Policy, PolicySet, Principal, RequestContext,
};
use crate::registry::IdentityRegistry;
use crate::session::SessionClaims;

/// The dev credentials' key id and secret (`NUBO_DEV_CREDENTIALS=1`).
pub const DEV_ACCESS_KEY: &str = "test";
const DEV_SECRET: &str = "test";
/// Entries a cache holds before it starts over.
const CACHE_LIMIT: usize = 4096;

struct CachedKey {
    access_key_id: String,
    day: String,
    region: String,
    service: String,
    key: SigningKey,
}

struct CachedSession {
    token: String,
    claims: SessionClaims,
}

/// The caches of signing keys and opened session tokens.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: Mutex<HashMap<u64, CachedKey>>,
    sessions: Mutex<HashMap<String, Arc<CachedSession>>>,
}

fn scope_hash(r: &KeyRequest<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    (r.access_key_id, r.day, r.region, r.service).hash(&mut hasher);
    hasher.finish()
}

impl KeyCache {
    fn signing_key(&self, r: &KeyRequest<'_>, secret: impl FnOnce() -> String) -> SigningKey {
        let hash = scope_hash(r);
        if let Some(hit) = self.keys.lock().get(&hash) {
            if hit.access_key_id == r.access_key_id
                && hit.day == r.day
                && hit.region == r.region
                && hit.service == r.service
            {
                return hit.key.clone();
            }
        }
        let key = SigningKey::derive(&secret(), r.day, r.region, r.service);
        let mut keys = self.keys.lock();
        if keys.len() >= CACHE_LIMIT {
            keys.clear();
        }
        keys.insert(
            hash,
            CachedKey {
                access_key_id: r.access_key_id.to_owned(),
                day: r.day.to_owned(),
                region: r.region.to_owned(),
                service: r.service.to_owned(),
                key: key.clone(),
            },
        );
        key
    }

    /// Drops what is cached for a key id (deleted or deactivated keys).
    pub(crate) fn forget_key(&self, access_key_id: &str) {
        self.keys
            .lock()
            .retain(|_, k| k.access_key_id != access_key_id);
    }
}

impl IdentityRegistry {
    /// The claims of a session token presented with `access_key_id`.
    fn session(
        &self,
        access_key_id: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<SessionClaims, KeyError> {
        let cached = self.cache.sessions.lock().get(access_key_id).cloned();
        if let Some(hit) = cached.filter(|hit| hit.token == token) {
            if now.unix_timestamp() >= hit.claims.expires {
                return Err(KeyError::ExpiredToken);
            }
            return Ok(hit.claims.clone());
        }
        let claims = self.sessions.open(token, access_key_id, now)?;
        let mut sessions = self.cache.sessions.lock();
        if sessions.len() >= CACHE_LIMIT {
            sessions.clear();
        }
        sessions.insert(
            access_key_id.to_owned(),
            Arc::new(CachedSession {
                token: token.to_owned(),
                claims: claims.clone(),
            }),
        );
        Ok(claims)
    }

    /// Resolves a verified request to its caller: the principal and its identity policies.
    pub fn authenticate(
        &self,
        verified: &Verified<'_>,
        now: OffsetDateTime,
    ) -> Result<Caller, SigV4Error> {
        let akid = verified.access_key_id.as_ref();
        if let Some(token) = verified.session_token.as_deref() {
            let claims = self.session(akid, token, now).map_err(|e| match e {
                KeyError::ExpiredToken => SigV4Error::ExpiredToken,
                _ => SigV4Error::InvalidToken,
            })?;
            let state = self.state.read();
            // A deleted (or deleted and re-created) role keeps its sessions' signatures valid
            // until they expire, but grants them nothing, as on AWS.
            let policies = Self::session_role(&state, &claims)
                .map(|role| Self::role_policies(&state, role))
                .unwrap_or_default();
            let principal = Principal::assumed_role(
                &claims.account,
                &claims.role_arn,
                claims.role_name(),
                &claims.role_id,
                &claims.session_name,
            );
            return Ok(Caller {
                principal,
                policies,
                session: Some(claims),
            });
        }
        if let Some(account) = dev_account(akid).filter(|_| self.dev_credentials) {
            return Ok(Caller {
                principal: Principal::account_root(account.unwrap_or(&self.account)),
                policies: Vec::new(),
                session: None,
            });
        }
        let state = self.state.read();
        let user = state
            .keys
            .get(akid)
            .filter(|k| k.status == KeyStatus::Active)
            .and_then(|k| state.users.get(&k.user_name.to_lowercase()))
            .ok_or(SigV4Error::UnknownAccessKey)?;
        Ok(Caller {
            principal: Principal::user(&self.account, &user.path, &user.user_name, &user.user_id),
            policies: Self::user_policies(&state, user),
            session: None,
        })
    }
}

impl SigningKeys for IdentityRegistry {
    fn signing_key(&self, r: &KeyRequest<'_>) -> Result<SigningKey, KeyError> {
        if r.access_key_id.starts_with("ASIA") {
            let token = r.session_token.ok_or(KeyError::InvalidToken)?;
            self.session(r.access_key_id, token, r.now)?;
            return Ok(self
                .cache
                .signing_key(r, || self.sessions.secret_for(r.access_key_id)));
        }
        if r.session_token.is_some() {
            // A session token with a long-term key is someone else's token.
            return Err(KeyError::InvalidToken);
        }
        if self.dev_credentials && dev_account(r.access_key_id).is_some() {
            return Ok(self.cache.signing_key(r, || DEV_SECRET.to_owned()));
        }
        let secret = {
            let state = self.state.read();
            let key = state
                .keys
                .get(r.access_key_id)
                .filter(|k| k.status == KeyStatus::Active)
                .ok_or(KeyError::UnknownAccessKey)?;
            key.secret_access_key.clone()
        };
        Ok(self.cache.signing_key(r, || secret))
    }

    fn secret_access_key(&self, r: &KeyRequest<'_>) -> Result<String, KeyError> {
        if r.access_key_id.starts_with("ASIA") {
            let token = r.session_token.ok_or(KeyError::InvalidToken)?;
            self.session(r.access_key_id, token, r.now)?;
            return Ok(self.sessions.secret_for(r.access_key_id));
        }
        if r.session_token.is_some() {
            return Err(KeyError::InvalidToken);
        }
        if self.dev_credentials && r.access_key_id == DEV_ACCESS_KEY {
            return Ok(DEV_SECRET.to_owned());
        }
        let state = self.state.read();
        state
            .keys
            .get(r.access_key_id)
            .filter(|k| k.status == KeyStatus::Active)
            .map(|k| k.secret_access_key.clone())
            .ok_or(KeyError::UnknownAccessKey)
    }
}

/// Whether `access_key_id` is one of the dev credentials' keys (all with the secret `test`):
/// `Some(None)` for `test`, the root of the server's account; `Some(Some(account))` for a
/// twelve-digit key, the root of *that* account — another account's caller, for trying
/// resource-based policies across accounts (LocalStack's convention).
fn dev_account(access_key_id: &str) -> Option<Option<&str>> {
    if access_key_id == DEV_ACCESS_KEY {
        return Some(None);
    }
    (access_key_id.len() == 12 && access_key_id.bytes().all(|b| b.is_ascii_digit()))
        .then_some(Some(access_key_id))
}

/// An authenticated caller and the identity policies that apply to it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// Its identity policies, compiled.
    pub policies: Vec<Arc<Policy>>,
    /// For role sessions, the token's claims.
    pub session: Option<SessionClaims>,
}

impl Caller {
    /// An AWS service acting on its own behalf (API Gateway invoking a function).
    pub fn service(name: &str) -> Self {
        Self {
            principal: Principal::service(name),
            policies: Vec::new(),
            session: None,
        }
    }

    /// An unsigned caller (a Function URL with `AuthType: NONE`).
    pub fn anonymous() -> Self {
        Self {
            principal: Principal::anonymous(),
            policies: Vec::new(),
            session: None,
        }
    }

    /// May this caller perform `action` on `resource`? `resource_policy` is the resource's own
    /// policy (a function's, a role's trust policy), `resource_account` its owner.
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        resource_policy: Option<&Policy>,
        resource_account: Option<&str>,
        keys: &ConditionKeys,
        now: OffsetDateTime,
    ) -> Result<(), AccessDenied> {
        let context = RequestContext {
            principal: &self.principal,
            action,
            resource,
            keys,
            now,
        };
        let decision = evaluate(
            &context,
            &PolicySet {
                identity: &self.policies,
                resource: resource_policy,
                resource_account,
            },
        );
        match decision {
            Decision::Allow => Ok(()),
            denied => Err(AccessDenied::new(&context, denied)),
        }
    }
}
