//! The function registry: the in-memory view of every function of every scope, written through
//! to the store.
//!
//! Reads (every invoke) look a function up in memory by scope and name, with no allocation;
//! writes (the control plane) take the layer's one [`Writer`], change a copy of the function's
//! state, commit it to the store and only then swap the copy in, so a crash never leaves memory
//! ahead of disk ([`nubo_store::write_through`]).
//!
//! Per function it holds `$LATEST`, the published versions (immutable snapshots, numbered from 1,
//! numbers never reused) and the aliases. Reserved concurrency lives on `$LATEST`; each scope keeps
//! its reservations' total so the invoker's throttle check is one read. Provisioned-concurrency
//! and event-invoke settings are [`Mirror`]s beside it, deleted in the same commit as what they
//! belong to. Resource-based policies live in the function's state ([`super::permissions`]). The
//! writes live with their resource: [`super::functions`], [`super::versions`],
//! [`super::aliases`], [`super::concurrency`], [`super::event_invoke`], [`super::permissions`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nubo_store::{CodeStore, Documents, ListQuery, Mirror, Transaction, WriteThrough, Writer};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{QualifierKind, Scope};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use super::collections::{self, ALIASES, EVENT_INVOKE_CONFIGS, FUNCTIONS, POLICIES, PROVISIONED};
use super::concurrency::ProvisionedConfig;
use super::event_invoke::EventInvokeConfig;
use super::permissions::FunctionPolicy;
use super::records::{AliasRecord, AliasSnapshot, FunctionRecord, FunctionSnapshot, LATEST};
use crate::ControlError;

/// What a change listener hears: which function changed, and which revisions no longer run
/// anywhere (their environments can go).
#[derive(Debug)]
pub struct FunctionChange<'a> {
    /// The function's scope.
    pub scope: &'a Scope,
    /// The function's name.
    pub name: &'a str,
    /// Revisions of versions that were replaced or deleted.
    pub retired: &'a [String],
    /// False when the function itself was deleted.
    pub exists: bool,
}

type Listener = Box<dyn Fn(&FunctionChange<'_>) + Send + Sync>;

/// Everything about one function; replaced whole (copy, change, swap) on every write.
#[derive(Debug, Clone)]
pub(crate) struct FunctionState {
    pub(crate) latest: FunctionSnapshot,
    pub(crate) versions: BTreeMap<u64, FunctionSnapshot>,
    pub(crate) aliases: BTreeMap<String, AliasSnapshot>,
    /// Resource-based policies by qualifier (`$LATEST` for the function's own).
    pub(crate) policies: BTreeMap<String, Arc<FunctionPolicy>>,
}

impl FunctionState {
    pub(crate) fn new(latest: FunctionSnapshot) -> Self {
        Self {
            latest,
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            policies: BTreeMap::new(),
        }
    }

    /// `$LATEST` or a published version, by its name.
    pub(crate) fn version_named(&self, version: &str) -> Option<&FunctionSnapshot> {
        if version == LATEST {
            return Some(&self.latest);
        }
        self.versions.get(&version.parse().ok()?)
    }

    /// The revisions environments run under (see [`FunctionRecord::environment_revision`]).
    fn revisions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.latest.environment_revision())
            .chain(self.versions.values().map(|v| v.environment_revision()))
    }
}

/// One scope's functions.
#[derive(Default)]
struct ScopeFunctions {
    functions: HashMap<String, Arc<FunctionState>>,
    reserved_total: usize,
}

/// Owns function records.
pub struct Registry {
    pub(super) through: Arc<WriteThrough>,
    code: CodeStore,
    default_scope: Scope,
    scopes: RwLock<HashMap<Scope, ScopeFunctions>>,
    pub(super) provisioned: Mirror<ProvisionedConfig>,
    pub(super) event_invoke: Mirror<EventInvokeConfig>,
    /// Layers' highest version numbers and their versions ([`super::layers`]).
    pub(super) layer_heads: Mirror<super::layers::LayerHead>,
    pub(super) layer_versions: Mirror<super::layers::LayerVersionRecord>,
    listeners: RwLock<Vec<Listener>>,
    /// The registry itself, for the tasks that settle changes (`super::lifecycle`).
    pub(super) me: Weak<Registry>,
    pub(super) settle_delay: Mutex<Duration>,
    pub(super) settled: Notify,
}

impl Registry {
    /// Loads every function from the store. Records written before scopes move into
    /// `default_scope` first; `default_scope` is also where unsigned requests and the CLI act.
    /// Changes a crash left unsettled are settled (see [`super::lifecycle`]).
    pub async fn load(
        documents: Arc<dyn Documents>,
        code: CodeStore,
        default_scope: Scope,
    ) -> Result<Arc<Self>, ControlError> {
        collections::adopt_unscoped(documents.as_ref(), &default_scope).await?;
        let mut states: HashMap<(Scope, String), FunctionState> = HashMap::new();
        let mut versions: Vec<(Scope, String, u64, FunctionSnapshot)> = Vec::new();
        for stored in documents.list(FUNCTIONS, ListQuery::all()).await? {
            let Some((scope, name, version)) = collections::split(&stored.key) else {
                tracing::error!(key = %stored.key, "skipping a function record with a malformed key");
                continue;
            };
            let record = match serde_json::from_str::<FunctionRecord>(&stored.body) {
                Ok(record) => Arc::new(record),
                Err(e) => {
                    tracing::error!(function = %name, error = %e, "skipping an unreadable function record");
                    continue;
                }
            };
            if version == LATEST {
                states.insert((scope, name.to_owned()), FunctionState::new(record));
            } else if let Ok(n) = version.parse::<u64>() {
                versions.push((scope, name.to_owned(), n, record));
            } else {
                tracing::error!(function = %name, %version, "skipping a record with an unknown version");
            }
        }
        for (scope, name, number, record) in versions {
            match states.get_mut(&(scope, name)) {
                Some(state) => {
                    state.versions.insert(number, record);
                }
                None => {
                    tracing::error!(key = %stored_key(&record), "skipping a version without its function")
                }
            }
        }
        for stored in documents.list(ALIASES, ListQuery::all()).await? {
            let Some((scope, function, alias)) = collections::split(&stored.key) else {
                tracing::error!(key = %stored.key, "skipping an alias with a malformed key");
                continue;
            };
            let (alias, state) = (
                alias.to_owned(),
                states.get_mut(&(scope, function.to_owned())),
            );
            match (serde_json::from_str::<AliasRecord>(&stored.body), state) {
                (Ok(record), Some(state)) => {
                    state.aliases.insert(alias, Arc::new(record));
                }
                (Ok(_), None) => {
                    tracing::error!(function = %function, %alias, "skipping an alias without its function")
                }
                (Err(e), _) => {
                    tracing::error!(function = %function, %alias, error = %e, "skipping an unreadable alias")
                }
            }
        }
        for stored in documents.list(POLICIES, ListQuery::all()).await? {
            let Some((scope, function, qualifier)) = collections::split(&stored.key) else {
                tracing::error!(key = %stored.key, "skipping a function policy with a malformed key");
                continue;
            };
            let (qualifier, state) = (
                qualifier.to_owned(),
                states.get_mut(&(scope, function.to_owned())),
            );
            match (serde_json::from_str::<FunctionPolicy>(&stored.body), state) {
                (Ok(policy), Some(state)) => {
                    state.policies.insert(qualifier, Arc::new(policy));
                }
                (Ok(_), None) => {
                    tracing::error!(function = %function, %qualifier, "skipping a policy without its function")
                }
                (Err(e), _) => {
                    tracing::error!(function = %function, %qualifier, error = %e, "skipping an unreadable function policy")
                }
            }
        }
        let mut scopes: HashMap<Scope, ScopeFunctions> = HashMap::new();
        for ((scope, name), state) in states {
            let scoped = scopes.entry(scope).or_default();
            scoped.reserved_total += state.latest.reserved_concurrency.unwrap_or(0) as usize;
            scoped.functions.insert(name, Arc::new(state));
        }
        let provisioned = Mirror::load(documents.as_ref(), PROVISIONED).await?;
        let event_invoke = Mirror::load(documents.as_ref(), EVENT_INVOKE_CONFIGS).await?;
        let layer_heads = Mirror::load(documents.as_ref(), super::layers::LAYERS).await?;
        let layer_versions =
            Mirror::load(documents.as_ref(), super::layers::LAYER_VERSIONS).await?;
        let registry = Arc::new_cyclic(|me| Self {
            layer_heads,
            layer_versions,
            provisioned,
            event_invoke,
            through: WriteThrough::new(documents),
            code,
            default_scope,
            scopes: RwLock::new(scopes),
            listeners: RwLock::new(Vec::new()),
            me: me.clone(),
            settle_delay: Mutex::new(Duration::ZERO),
            settled: Notify::new(),
        });
        registry.settle_interrupted();
        Ok(registry)
    }

    /// Calls `listener` after any change to a function (the invoker retires environments, Function
    /// URLs of a deleted function go).
    pub fn on_change(&self, listener: impl Fn(&FunctionChange<'_>) + Send + Sync + 'static) {
        self.listeners.write().push(Box::new(listener));
    }

    /// The code store (environments run from its trees).
    pub fn code(&self) -> &CodeStore {
        &self.code
    }

    /// The scope of unsigned requests and the CLI (`--region`, the default account).
    pub fn default_scope(&self) -> &Scope {
        &self.default_scope
    }

    pub(crate) fn state(&self, scope: &Scope, name: &str) -> Option<Arc<FunctionState>> {
        self.scopes.read().get(scope)?.functions.get(name).cloned()
    }

    /// Runs `read` on a function's state under the read lock (the hot path: no reference count
    /// is taken on the state, only on what `read` returns).
    pub(super) fn read_state<T>(
        &self,
        scope: &Scope,
        name: &str,
        read: impl FnOnce(&FunctionState) -> Option<T>,
    ) -> Option<T> {
        let scopes = self.scopes.read();
        read(scopes.get(scope)?.functions.get(name)?)
    }

    /// A function's `$LATEST` snapshot.
    pub fn get(&self, scope: &Scope, name: &str) -> Option<FunctionSnapshot> {
        self.read_state(scope, name, |state| Some(state.latest.clone()))
    }

    /// The AWS not-found error for a function (qualified when `qualifier` is).
    pub fn not_found(scope: &Scope, name: &str, qualifier: Option<&str>) -> ControlError {
        let arn = match qualifier {
            Some(q) => nubo_wire::arn::qualified_function_arn(scope, name, q),
            None => nubo_wire::arn::function_arn(scope, name),
        };
        ControlError::NotFound(format!("Function not found: {arn}"))
    }

    /// The function a reference names, whatever its qualifier: its `$LATEST`, or not found.
    pub fn function(&self, function: &FunctionRef) -> Result<FunctionSnapshot, ControlError> {
        self.get(&function.scope, &function.name)
            .ok_or_else(|| Self::not_found(&function.scope, &function.name, None))
    }

    /// The version a reference names (`$LATEST`, a version, or an alias's primary version), or
    /// the AWS not-found error.
    pub fn resolve(&self, function: &FunctionRef) -> Result<FunctionSnapshot, ControlError> {
        let found = self
            .state(&function.scope, &function.name)
            .and_then(
                |state| match function.qualifier.as_ref().map(|q| q.kind()) {
                    None | Some(QualifierKind::Latest) => Some(state.latest.clone()),
                    Some(QualifierKind::Version(n)) => state.versions.get(&n).cloned(),
                    Some(QualifierKind::Alias(alias)) => {
                        let alias = state.aliases.get(alias)?;
                        state.version_named(&alias.function_version).cloned()
                    }
                },
            );
        found.ok_or_else(|| {
            Self::not_found(
                &function.scope,
                &function.name,
                function.qualifier.as_deref(),
            )
        })
    }

    /// The version an invocation runs: like [`Self::resolve`], but an alias with a routing
    /// configuration picks its additional version with the configured probability.
    pub fn resolve_for_invoke(
        &self,
        function: &FunctionRef,
    ) -> Result<FunctionSnapshot, ControlError> {
        if let Some(QualifierKind::Alias(alias)) = function.qualifier.as_ref().map(|q| q.kind()) {
            let routed = self.read_state(&function.scope, &function.name, |state| {
                let (version, weight) = state
                    .aliases
                    .get(alias)?
                    .additional_version_weights
                    .iter()
                    .next()?;
                (fastrand::f64() < *weight)
                    .then(|| state.version_named(version).cloned())
                    .flatten()
            });
            if let Some(snapshot) = routed {
                return Ok(snapshot);
            }
        }
        self.resolve(function)
    }

    /// A published version's snapshot.
    pub fn version(&self, scope: &Scope, name: &str, version: u64) -> Option<FunctionSnapshot> {
        self.state(scope, name)?.versions.get(&version).cloned()
    }

    /// `$LATEST` then every published version, in order (ListVersionsByFunction).
    pub fn versions_of(&self, scope: &Scope, name: &str) -> Option<Vec<FunctionSnapshot>> {
        let state = self.state(scope, name)?;
        let mut all = Vec::with_capacity(1 + state.versions.len());
        all.push(state.latest.clone());
        all.extend(state.versions.values().cloned());
        Some(all)
    }

    /// Whether `revision` is still the current revision of `version` (hot path: no allocation).
    pub fn is_live(&self, scope: &Scope, name: &str, version: &str, revision: &str) -> bool {
        self.read_state(scope, name, |state| {
            Some(state.version_named(version)?.environment_revision() == revision)
        })
        .unwrap_or(false)
    }

    /// One alias.
    pub fn alias(&self, scope: &Scope, name: &str, alias: &str) -> Option<AliasSnapshot> {
        self.state(scope, name)?.aliases.get(alias).cloned()
    }

    /// A function's aliases, ordered by name.
    pub fn aliases_of(&self, scope: &Scope, name: &str) -> Vec<AliasSnapshot> {
        self.state(scope, name)
            .map(|s| s.aliases.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A function's reserved concurrency and its scope's reservations in total (one lock).
    pub fn concurrency(&self, scope: &Scope, name: &str) -> (Option<u32>, usize) {
        let scopes = self.scopes.read();
        let Some(scoped) = scopes.get(scope) else {
            return (None, 0);
        };
        let reserved = scoped
            .functions
            .get(name)
            .and_then(|s| s.latest.reserved_concurrency);
        (reserved, scoped.reserved_total)
    }

    /// Sum of every function's reserved concurrency in a scope.
    pub fn reserved_total(&self, scope: &Scope) -> usize {
        self.scopes
            .read()
            .get(scope)
            .map_or(0, |s| s.reserved_total)
    }

    /// Every function's `$LATEST` in a scope, ordered by name (stable for pagination).
    pub fn list(&self, scope: &Scope) -> Vec<FunctionSnapshot> {
        let mut all: Vec<FunctionSnapshot> = self
            .scopes
            .read()
            .get(scope)
            .map(|s| s.functions.values().map(|f| f.latest.clone()).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Every function's `$LATEST` followed by its published versions, functions ordered by name
    /// (ListFunctions with `FunctionVersion=ALL`).
    pub fn list_all_versions(&self, scope: &Scope) -> Vec<FunctionSnapshot> {
        let mut states: Vec<Arc<FunctionState>> = self
            .scopes
            .read()
            .get(scope)
            .map(|s| s.functions.values().cloned().collect())
            .unwrap_or_default();
        states.sort_by(|a, b| a.latest.name.cmp(&b.latest.name));
        states
            .iter()
            .flat_map(|s| std::iter::once(&s.latest).chain(s.versions.values()))
            .cloned()
            .collect()
    }

    /// Every function's `$LATEST` in every scope.
    pub(super) fn all_latest(&self) -> Vec<(Scope, FunctionSnapshot)> {
        self.scopes
            .read()
            .iter()
            .flat_map(|(scope, s)| {
                s.functions
                    .values()
                    .map(move |f| (scope.clone(), f.latest.clone()))
            })
            .collect()
    }

    /// Every code artifact a version in any scope still runs: what the start-up sweep keeps.
    pub fn referenced_code(&self) -> std::collections::HashSet<String> {
        let mut referenced: std::collections::HashSet<String> = self
            .scopes
            .read()
            .values()
            .flat_map(|s| s.functions.values())
            .flat_map(|f| std::iter::once(&f.latest).chain(f.versions.values()))
            .flat_map(|version| {
                std::iter::once(version.code.sha256_hex.clone()).chain(
                    version
                        .layers
                        .iter()
                        .filter(|l| !l.sha256_hex.is_empty())
                        .map(|l| l.sha256_hex.clone()),
                )
            })
            .collect();
        referenced.extend(self.referenced_layer_code());
        referenced
    }

    /// Functions in every scope (the start-up line).
    pub fn count(&self) -> usize {
        self.scopes.read().values().map(|s| s.functions.len()).sum()
    }

    /// Number of functions and total bytes of code in a scope (GetAccountSettings).
    pub fn usage(&self, scope: &Scope) -> (usize, u64) {
        let scopes = self.scopes.read();
        let Some(scoped) = scopes.get(scope) else {
            return (0, 0);
        };
        (
            scoped.functions.len(),
            scoped.functions.values().map(|f| f.latest.code.size).sum(),
        )
    }

    /// Changes one existing function: `change` edits a copy of its state and stages the store
    /// writes; after the commit the copy replaces the state and listeners hear of it.
    pub(super) async fn modify<R>(
        &self,
        function: &FunctionRef,
        change: impl FnOnce(&mut FunctionState, &mut Transaction) -> Result<R, ControlError>,
    ) -> Result<R, ControlError> {
        let mut writer = self.through.writer().await;
        let current = self
            .state(&function.scope, &function.name)
            .ok_or_else(|| Self::not_found(&function.scope, &function.name, None))?;
        let mut next = (*current).clone();
        let mut transaction = Transaction::new();
        let result = change(&mut next, &mut transaction)?;
        writer.commit(transaction).await?;
        self.swap(&function.scope, &function.name, Some(&current), Some(next));
        Ok(result)
    }

    /// Puts `next` (or nothing) where `previous` was, keeps the scope's reservation total, and
    /// tells the listeners. Called with the writer held, after the store commit.
    pub(super) fn swap(
        &self,
        scope: &Scope,
        name: &str,
        previous: Option<&FunctionState>,
        next: Option<FunctionState>,
    ) {
        let reserved = |s: Option<&FunctionState>| {
            s.and_then(|s| s.latest.reserved_concurrency).unwrap_or(0) as usize
        };
        let (before, after) = (reserved(previous), reserved(next.as_ref()));
        let retired: Vec<String> = match (previous, &next) {
            (Some(old), Some(new)) => {
                let live: Vec<&str> = new.revisions().collect();
                old.revisions()
                    .filter(|r| !live.contains(r))
                    .map(str::to_owned)
                    .collect()
            }
            (Some(old), None) => old.revisions().map(str::to_owned).collect(),
            (None, _) => Vec::new(),
        };
        let exists = next.is_some();
        {
            let mut scopes = self.scopes.write();
            let scoped = scopes.entry(scope.clone()).or_default();
            scoped.reserved_total = scoped.reserved_total - before + after;
            match next {
                Some(state) => {
                    scoped.functions.insert(name.to_owned(), Arc::new(state));
                }
                None => {
                    scoped.functions.remove(name);
                }
            }
        }
        let change = FunctionChange {
            scope,
            name,
            retired: &retired,
            exists,
        };
        for listener in self.listeners.read().iter() {
            listener(&change);
        }
    }

    /// The writer every lambda control-plane change takes.
    pub(super) async fn writer(&self) -> Writer<'_> {
        self.through.writer().await
    }
}

fn stored_key(record: &FunctionRecord) -> String {
    format!("{}/{}", record.name, record.version)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
