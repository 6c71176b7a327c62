//! The account's IAM state in memory — users, access keys, roles, groups, customer managed
//! policies — with every change written through a small persistence seam ([`IdentityStore`]) as
//! one JSON document per entity, and rebuilt from those documents at start ([`IdentityRegistry::load`]).
//!
//! Reads on the request path (a key's secret, a principal's policies) take a read lock and clone
//! `Arc`s of policies compiled when they were written; nothing is parsed per request.

mod groups;
mod policies;
mod roles;
mod sts;
mod users;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::IamError;
use crate::model::{AccessKey, Document, Group, ManagedPolicy, Permissions, Role, User};
use crate::policy::{parse_identity_policy, parse_trust_policy, Policy};
use crate::session::{SessionClaims, SessionKey};

pub use policies::{PolicyInfo, PolicyVersionInfo, VERSIONS_PER_POLICY};
pub use roles::NewRole;
pub use sts::{AssumedRole, CallerIdentity, FUNCTION_CREDENTIALS, LAMBDA_SERVICE};
pub use users::{ACCESS_KEYS_PER_USER, ATTACHED_POLICIES_PER_ENTITY};

/// Document kinds, as the store's generic `(kind, id) → document` rows name them.
pub mod kinds {
    /// Users, by lower-cased name.
    pub const USER: &str = "iam-user";
    /// Access keys, by key id.
    pub const ACCESS_KEY: &str = "iam-access-key";
    /// Roles, by lower-cased name.
    pub const ROLE: &str = "iam-role";
    /// Customer managed policies, by ARN.
    pub const POLICY: &str = "iam-policy";
    /// Groups, by lower-cased name.
    pub const GROUP: &str = "iam-group";
    /// The session-sealing key (one document, id `session-key`).
    pub const SECRET: &str = "iam-secret";
}

/// Where identity documents are written. The next round points this at the store's document
/// collections; [`MemoryStore`] serves tests and a data-less server.
pub trait IdentityStore: Send + Sync {
    /// Creates or replaces a document.
    fn put(&self, kind: &'static str, id: &str, document: &Value) -> Result<(), String>;
    /// Removes a document (absent is fine).
    fn delete(&self, kind: &'static str, id: &str) -> Result<(), String>;
}

/// Documents kept in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    documents: Mutex<BTreeMap<(String, String), Value>>,
}

impl MemoryStore {
    /// Everything written so far, as [`IdentityRegistry::load`] takes it.
    pub fn documents(&self) -> Vec<(String, String, Value)> {
        self.documents
            .lock()
            .iter()
            .map(|((k, i), v)| (k.clone(), i.clone(), v.clone()))
            .collect()
    }
}

impl IdentityStore for MemoryStore {
    fn put(&self, kind: &'static str, id: &str, document: &Value) -> Result<(), String> {
        self.documents
            .lock()
            .insert((kind.to_owned(), id.to_owned()), document.clone());
        Ok(())
    }

    fn delete(&self, kind: &'static str, id: &str) -> Result<(), String> {
        self.documents
            .lock()
            .remove(&(kind.to_owned(), id.to_owned()));
        Ok(())
    }
}

/// How the registry is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The account's twelve-digit id.
    pub account_id: String,
    /// Accept the well-known `test`/`test` key as the account root (`NUBO_DEV_CREDENTIALS=1`).
    pub dev_credentials: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) keys: HashMap<String, AccessKey>,
    pub(crate) roles: BTreeMap<String, Role>,
    pub(crate) policies: BTreeMap<String, ManagedPolicy>,
    pub(crate) groups: BTreeMap<String, Group>,
}

/// The account's identities.
pub struct IdentityRegistry {
    pub(crate) account: String,
    pub(crate) dev_credentials: bool,
    pub(crate) state: RwLock<State>,
    pub(crate) store: Arc<dyn IdentityStore>,
    pub(crate) sessions: SessionKey,
    pub(crate) cache: crate::authn::KeyCache,
}

impl std::fmt::Debug for IdentityRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRegistry")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The compiled AWS managed policies, by ARN.
fn aws_managed() -> &'static HashMap<String, Arc<Policy>> {
    static COMPILED: OnceLock<HashMap<String, Arc<Policy>>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        crate::managed::all()
            .iter()
            .map(|p| {
                let policy = parse_identity_policy(p.document).expect("AWS managed policies parse");
                (p.arn(), Arc::new(policy))
            })
            .collect()
    })
}

fn from_document<T: DeserializeOwned>(kind: &str, id: &str, value: Value) -> Result<T, IamError> {
    serde_json::from_value(value)
        .map_err(|e| IamError::ServiceFailure(format!("stored {kind} {id} is unreadable: {e}")))
}

/// Compiles a stored document again (documents are stored as text).
fn recompile(document: &mut Document, trust: bool) -> Result<(), IamError> {
    let policy = if trust {
        parse_trust_policy(&document.text)?
    } else {
        parse_identity_policy(&document.text)?
    };
    document.compiled = Some(Arc::new(policy));
    Ok(())
}

fn recompile_permissions(permissions: &mut Permissions) -> Result<(), IamError> {
    permissions
        .inline_policies
        .values_mut()
        .try_for_each(|d| recompile(d, false))
}

impl IdentityRegistry {
    /// A registry over `store`, rebuilt from `documents` (what the store holds for the kinds in
    /// [`kinds`]). Creates and stores the session key on first start.
    pub fn load(
        config: RegistryConfig,
        store: Arc<dyn IdentityStore>,
        documents: Vec<(String, String, Value)>,
    ) -> Result<Self, IamError> {
        let mut state = State::default();
        let mut session_key = None;
        for (kind, id, value) in documents {
            match kind.as_str() {
                kinds::USER => {
                    let mut user: User = from_document(&kind, &id, value)?;
                    recompile_permissions(&mut user.permissions)?;
                    state.users.insert(user.user_name.to_lowercase(), user);
                }
                kinds::ACCESS_KEY => {
                    let key: AccessKey = from_document(&kind, &id, value)?;
                    state.keys.insert(key.access_key_id.clone(), key);
                }
                kinds::ROLE => {
                    let mut role: Role = from_document(&kind, &id, value)?;
                    recompile(&mut role.assume_role_policy_document, true)?;
                    recompile_permissions(&mut role.permissions)?;
                    state.roles.insert(role.role_name.to_lowercase(), role);
                }
                kinds::POLICY => {
                    let mut policy: ManagedPolicy = from_document(&kind, &id, value)?;
                    for version in &mut policy.versions {
                        recompile(&mut version.document, false)?;
                    }
                    state.policies.insert(policy.arn.clone(), policy);
                }
                kinds::GROUP => {
                    let mut group: Group = from_document(&kind, &id, value)?;
                    recompile_permissions(&mut group.permissions)?;
                    state.groups.insert(group.group_name.to_lowercase(), group);
                }
                kinds::SECRET if id == "session-key" => {
                    session_key = value.as_str().and_then(SessionKey::from_hex);
                }
                _ => {}
            }
        }
        let sessions = match session_key {
            Some(key) => key,
            None => {
                let key = SessionKey::generate();
                store
                    .put(kinds::SECRET, "session-key", &Value::from(key.to_hex()))
                    .map_err(IamError::ServiceFailure)?;
                key
            }
        };
        Ok(Self {
            account: config.account_id,
            dev_credentials: config.dev_credentials,
            state: RwLock::new(state),
            store,
            sessions,
            cache: crate::authn::KeyCache::default(),
        })
    }

    /// An empty registry kept in memory (tests, benchmarks).
    pub fn in_memory(account_id: &str) -> Self {
        Self::load(
            RegistryConfig {
                account_id: account_id.to_owned(),
                dev_credentials: false,
            },
            Arc::new(MemoryStore::default()),
            Vec::new(),
        )
        .expect("an empty registry loads")
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account
    }

    pub(crate) fn persist<T: Serialize>(
        &self,
        kind: &'static str,
        id: &str,
        value: &T,
    ) -> Result<(), IamError> {
        let document = serde_json::to_value(value)
            .map_err(|e| IamError::ServiceFailure(format!("cannot serialize {kind} {id}: {e}")))?;
        self.store
            .put(kind, id, &document)
            .map_err(IamError::ServiceFailure)
    }

    pub(crate) fn unpersist(&self, kind: &'static str, id: &str) -> Result<(), IamError> {
        self.store
            .delete(kind, id)
            .map_err(IamError::ServiceFailure)
    }

    /// The compiled default version of a managed policy (customer or AWS).
    pub(crate) fn managed_policy(state: &State, arn: &str) -> Option<Arc<Policy>> {
        if let Some(policy) = aws_managed().get(arn) {
            return Some(policy.clone());
        }
        state
            .policies
            .get(arn)
            .and_then(|p| p.default_document())
            .and_then(|d| d.compiled.clone())
    }

    /// Whether `arn` names a policy that can be attached.
    pub(crate) fn policy_exists(state: &State, arn: &str) -> bool {
        aws_managed().contains_key(arn) || state.policies.contains_key(arn)
    }

    fn collect(state: &State, permissions: &Permissions, out: &mut Vec<Arc<Policy>>) {
        out.extend(
            permissions
                .inline_policies
                .values()
                .filter_map(|d| d.compiled.clone()),
        );
        out.extend(
            permissions
                .attached_policies
                .iter()
                .filter_map(|arn| Self::managed_policy(state, arn)),
        );
    }

    /// A user's identity policies: inline, attached, and those of every group it is in.
    pub(crate) fn user_policies(state: &State, user: &User) -> Vec<Arc<Policy>> {
        let mut out = Vec::new();
        Self::collect(state, &user.permissions, &mut out);
        for group in &user.groups {
            if let Some(group) = state.groups.get(&group.to_lowercase()) {
                Self::collect(state, &group.permissions, &mut out);
            }
        }
        out
    }

    /// A role's identity policies.
    pub(crate) fn role_policies(state: &State, role: &Role) -> Vec<Arc<Policy>> {
        let mut out = Vec::new();
        Self::collect(state, &role.permissions, &mut out);
        out
    }

    /// The session claims' role, if it still exists.
    pub(crate) fn session_role<'s>(state: &'s State, claims: &SessionClaims) -> Option<&'s Role> {
        state
            .roles
            .get(&claims.role_name().to_lowercase())
            .filter(|r| r.arn == claims.role_arn && r.role_id == claims.role_id)
    }

    /// First start: when the account has no users, creates `admin` with `AdministratorAccess` and
    /// an access key, and returns the key (the server writes it to the data dir and prints how to
    /// use it). `None` when users exist already.
    pub fn bootstrap_admin(&self) -> Result<Option<AccessKey>, IamError> {
        if !self.state.read().users.is_empty() {
            return Ok(None);
        }
        self.create_user("admin", None)?;
        self.attach_user_policy("admin", "arn:aws:iam::aws:policy/AdministratorAccess")?;
        self.create_access_key("admin").map(Some)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
