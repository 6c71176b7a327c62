//! The function registry: the in-memory view of every function, written through to the store.
//!
//! Reads (every invoke) take a snapshot from memory; writes (the control plane) are serialized,
//! persisted first and then published, so a crash never leaves memory ahead of disk.
//!
//! Per function it holds `$LATEST`, the published versions (immutable snapshots, numbered from 1,
//! numbers never reused) and the aliases. Reserved concurrency lives on `$LATEST`; the registry
//! keeps the account-wide total so the invoker's throttle check is one atomic read.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use nubo_store::{Change, CodeStore, Documents, ListQuery, Precondition, StoreError};
use nubo_wire::Scope;
use parking_lot::RwLock;

use super::collections::{self, ALIASES, EVENT_INVOKE_CONFIGS, FUNCTIONS, PROVISIONED};
use super::records::{
    AliasRecord, AliasSnapshot, CodeRef, ConfigurationUpdate, FunctionRecord, FunctionSnapshot,
    FunctionSpec, LATEST,
};
use super::validate::MAX_ZIP_BYTES;
use crate::ControlError;

/// Called with a function's name after any change to it.
type Listener = Box<dyn Fn(&str) + Send + Sync>;

/// Owns function records.
pub struct Registry {
    documents: Arc<dyn Documents>,
    code: CodeStore,
    scope: Scope,
    functions: RwLock<HashMap<String, FunctionSnapshot>>,
    versions: RwLock<HashMap<String, BTreeMap<u64, FunctionSnapshot>>>,
    aliases: RwLock<HashMap<String, BTreeMap<String, AliasSnapshot>>>,
    reserved_total: AtomicUsize,
    writes: tokio::sync::Mutex<()>,
    listeners: RwLock<Vec<Listener>>,
}

fn now_last_modified() -> String {
    nubo_wire::timefmt::last_modified(time::OffsetDateTime::now_utc())
}

fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Registry {
    /// Loads every function from the store.
    pub async fn load(
        documents: Arc<dyn Documents>,
        code: CodeStore,
        scope: Scope,
    ) -> Result<Self, ControlError> {
        let mut functions = HashMap::new();
        let mut versions: HashMap<String, BTreeMap<u64, FunctionSnapshot>> = HashMap::new();
        for stored in documents.list(FUNCTIONS, ListQuery::all()).await? {
            let Some((name, version)) = collections::split(&stored.key) else {
                tracing::error!(key = %stored.key, "skipping a function record with a malformed key");
                continue;
            };
            let (name, version) = (name.to_owned(), version.to_owned());
            match serde_json::from_str::<FunctionRecord>(&stored.body) {
                Ok(record) if version == LATEST => {
                    functions.insert(name, Arc::new(record));
                }
                Ok(record) => match version.parse::<u64>() {
                    Ok(n) => {
                        versions
                            .entry(name)
                            .or_default()
                            .insert(n, Arc::new(record));
                    }
                    Err(_) => {
                        tracing::error!(function = %name, %version, "skipping a record with an unknown version")
                    }
                },
                Err(e) => {
                    tracing::error!(function = %name, error = %e, "skipping an unreadable function record")
                }
            }
        }
        let mut aliases: HashMap<String, BTreeMap<String, AliasSnapshot>> = HashMap::new();
        for stored in documents.list(ALIASES, ListQuery::all()).await? {
            let Some((function, alias)) = collections::split(&stored.key) else {
                tracing::error!(key = %stored.key, "skipping an alias with a malformed key");
                continue;
            };
            match serde_json::from_str::<AliasRecord>(&stored.body) {
                Ok(record) => {
                    aliases
                        .entry(function.to_owned())
                        .or_default()
                        .insert(alias.to_owned(), Arc::new(record));
                }
                Err(e) => {
                    tracing::error!(function = %function, %alias, error = %e, "skipping an unreadable alias")
                }
            }
        }
        let reserved: usize = functions
            .values()
            .filter_map(|f| f.reserved_concurrency)
            .map(|n| n as usize)
            .sum();
        Ok(Self {
            documents,
            code,
            scope,
            functions: RwLock::new(functions),
            versions: RwLock::new(versions),
            aliases: RwLock::new(aliases),
            reserved_total: AtomicUsize::new(reserved),
            writes: tokio::sync::Mutex::new(()),
            listeners: RwLock::new(Vec::new()),
        })
    }

    /// Calls `listener(function_name)` after any change to a function (used to retire environments).
    pub fn on_change(&self, listener: impl Fn(&str) + Send + Sync + 'static) {
        self.listeners.write().push(Box::new(listener));
    }

    fn changed(&self, name: &str) {
        for listener in self.listeners.read().iter() {
            listener(name);
        }
    }

    /// The code store (environments run from its trees).
    pub fn code(&self) -> &CodeStore {
        &self.code
    }

    /// Account and region.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// A function's `$LATEST` snapshot.
    pub fn get(&self, name: &str) -> Option<FunctionSnapshot> {
        self.functions.read().get(name).cloned()
    }

    fn not_found(&self, name: &str, qualifier: Option<&str>) -> ControlError {
        let arn = match qualifier {
            Some(q) => nubo_wire::arn::qualified_function_arn(&self.scope, name, q),
            None => nubo_wire::arn::function_arn(&self.scope, name),
        };
        ControlError::NotFound(format!("Function not found: {arn}"))
    }

    /// A published version's snapshot.
    pub fn version(&self, name: &str, version: u64) -> Option<FunctionSnapshot> {
        self.versions.read().get(name)?.get(&version).cloned()
    }

    /// `$LATEST` or a published version, by its name.
    fn version_named(&self, name: &str, version: &str) -> Option<FunctionSnapshot> {
        if version == LATEST {
            return self.get(name);
        }
        self.version(name, version.parse().ok()?)
    }

    /// A function by name and qualifier (`$LATEST`, a version, or an alias — its primary
    /// version), or the AWS not-found error.
    pub fn resolve(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let found = match qualifier {
            None | Some(LATEST) => self.get(name),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                q.parse().ok().and_then(|n| self.version(name, n))
            }
            Some(alias) => self
                .alias(name, alias)
                .and_then(|a| self.version_named(name, &a.function_version)),
        };
        found.ok_or_else(|| self.not_found(name, qualifier))
    }

    /// The version an invocation runs: like [`Self::resolve`], but an alias with a routing
    /// configuration picks its additional version with the configured probability.
    pub fn resolve_for_invoke(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionSnapshot, ControlError> {
        if let Some(alias) = qualifier
            .filter(|q| *q != LATEST && !q.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|q| self.alias(name, q))
        {
            if let Some((version, weight)) = alias.additional_version_weights.iter().next() {
                if fastrand::f64() < *weight {
                    if let Some(snapshot) = self.version_named(name, version) {
                        return Ok(snapshot);
                    }
                }
            }
        }
        self.resolve(name, qualifier)
    }

    /// `$LATEST` then every published version, in order (ListVersionsByFunction).
    pub fn versions_of(&self, name: &str) -> Option<Vec<FunctionSnapshot>> {
        let latest = self.get(name)?;
        let mut all = vec![latest];
        if let Some(versions) = self.versions.read().get(name) {
            all.extend(versions.values().cloned());
        }
        Some(all)
    }

    /// Revision ids still in use by a function (its `$LATEST` and versions): environments of any
    /// other revision can go.
    pub fn live_revisions(&self, name: &str) -> Vec<String> {
        let mut live: Vec<String> = self
            .get(name)
            .map(|f| f.revision_id.clone())
            .into_iter()
            .collect();
        if let Some(versions) = self.versions.read().get(name) {
            live.extend(versions.values().map(|v| v.revision_id.clone()));
        }
        live
    }

    /// Whether `revision` is still the current revision of `version` (hot path: no allocation).
    pub fn is_live(&self, name: &str, version: &str, revision: &str) -> bool {
        self.version_named(name, version)
            .is_some_and(|f| f.revision_id == revision)
    }

    /// Stored provisioned-concurrency settings (read once at start).
    pub async fn stored_provisioned(
        &self,
    ) -> Result<Vec<(String, String, super::concurrency::ProvisionedConfig)>, ControlError> {
        Ok(self
            .documents
            .list(PROVISIONED, ListQuery::all())
            .await?
            .into_iter()
            .filter_map(|stored| {
                let (f, q) = collections::split(&stored.key)?;
                Some((
                    f.to_owned(),
                    q.to_owned(),
                    serde_json::from_str(&stored.body).ok()?,
                ))
            })
            .collect())
    }

    /// Persists a provisioned-concurrency setting.
    pub async fn save_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        config: &super::concurrency::ProvisionedConfig,
    ) -> Result<(), ControlError> {
        let document = serde_json::to_string(config)
            .map_err(|e| ControlError::InvalidParameter(e.to_string()))?;
        self.documents
            .put(
                PROVISIONED,
                &collections::key(name, qualifier),
                document,
                Precondition::None,
            )
            .await?;
        Ok(())
    }

    /// Removes a provisioned-concurrency setting; false if there was none.
    pub async fn forget_provisioned(
        &self,
        name: &str,
        qualifier: &str,
    ) -> Result<bool, ControlError> {
        Ok(self
            .documents
            .delete(
                PROVISIONED,
                &collections::key(name, qualifier),
                Precondition::None,
            )
            .await?)
    }

    /// One alias.
    pub fn alias(&self, name: &str, alias: &str) -> Option<AliasSnapshot> {
        self.aliases.read().get(name)?.get(alias).cloned()
    }

    /// A function's aliases, ordered by name.
    pub fn aliases_of(&self, name: &str) -> Vec<AliasSnapshot> {
        self.aliases
            .read()
            .get(name)
            .map(|a| a.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Sum of every function's reserved concurrency.
    pub fn reserved_total(&self) -> usize {
        self.reserved_total.load(Ordering::Acquire)
    }

    /// Every function's `$LATEST`, ordered by name (stable for pagination).
    pub fn list(&self) -> Vec<FunctionSnapshot> {
        let mut all: Vec<FunctionSnapshot> = self.functions.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Number of functions and total bytes of code (GetAccountSettings).
    pub fn usage(&self) -> (usize, u64) {
        let functions = self.functions.read();
        (
            functions.len(),
            functions.values().map(|f| f.code.size).sum(),
        )
    }

    async fn store_code(&self, zip: Bytes) -> Result<CodeRef, ControlError> {
        if zip.len() > MAX_ZIP_BYTES {
            return Err(ControlError::RequestTooLarge(format!(
                "Zipped size must be smaller than {MAX_ZIP_BYTES} bytes"
            )));
        }
        let artifact = self.code.put_zip(zip).await?;
        Ok(CodeRef {
            sha256_hex: artifact.sha256_hex,
            sha256_base64: artifact.sha256_base64,
            size: artifact.size,
        })
    }

    /// Writes a function version's record: a new one must not exist yet (`insert`), an update
    /// replaces what is there (writes are serialized by `writes`, so it is ours).
    async fn persist(&self, record: &FunctionRecord, insert: bool) -> Result<(), ControlError> {
        let document = serde_json::to_string(record)
            .map_err(|e| ControlError::InvalidParameter(e.to_string()))?;
        let precondition = if insert {
            Precondition::Absent
        } else {
            Precondition::None
        };
        self.documents
            .put(
                FUNCTIONS,
                &collections::key(&record.name, &record.version),
                document,
                precondition,
            )
            .await?;
        Ok(())
    }

    fn publish(&self, record: FunctionRecord) -> FunctionSnapshot {
        let snapshot = Arc::new(record);
        self.functions
            .write()
            .insert(snapshot.name.clone(), snapshot.clone());
        self.changed(&snapshot.name);
        snapshot
    }

    /// CreateFunction.
    pub async fn create(
        &self,
        spec: FunctionSpec,
        zip: Bytes,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let conflict_message = format!("Function already exist: {}", spec.name);
        let conflict = || ControlError::Conflict(conflict_message.clone());
        if self.get(&spec.name).is_some() {
            return Err(conflict());
        }
        let code = self.store_code(zip).await?;
        let record = FunctionRecord {
            name: spec.name,
            version: LATEST.into(),
            runtime: spec.runtime,
            role: spec.role,
            handler: spec.handler,
            description: spec.description,
            timeout_seconds: spec.timeout_seconds,
            memory_mb: spec.memory_mb,
            ephemeral_storage_mb: spec.ephemeral_storage_mb,
            environment: spec.environment,
            tags: spec.tags,
            architectures: spec.architectures,
            tracing_mode: spec.tracing_mode,
            layers: spec.layers,
            dead_letter_target: spec.dead_letter_target,
            log_format: spec.log_format,
            code,
            last_modified: now_last_modified(),
            revision_id: new_revision(),
            reserved_concurrency: None,
            last_published_version: 0,
            source_revision: None,
        };
        match self.persist(&record, true).await {
            Err(ControlError::Store(StoreError::AlreadyExists(_))) => return Err(conflict()),
            other => other?,
        }
        Ok(self.publish(record))
    }

    fn check_revision(
        current: &FunctionRecord,
        expected: Option<&str>,
    ) -> Result<(), ControlError> {
        match expected {
            Some(expected) if expected != current.revision_id => Err(ControlError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
            )),
            _ => Ok(()),
        }
    }

    /// UpdateFunctionCode.
    pub async fn update_code(
        &self,
        name: &str,
        zip: Bytes,
        revision_id: Option<&str>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let current = self.resolve(name, None)?;
        Self::check_revision(&current, revision_id)?;
        let code = self.store_code(zip).await?;
        let mut record = (*current).clone();
        record.code = code;
        record.last_modified = now_last_modified();
        record.revision_id = new_revision();
        self.persist(&record, false).await?;
        Ok(self.publish(record))
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_configuration(
        &self,
        name: &str,
        update: ConfigurationUpdate,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let current = self.resolve(name, None)?;
        Self::check_revision(&current, update.revision_id.as_deref())?;
        let mut record = (*current).clone();
        macro_rules! apply {
            ($($field:ident),*) => { $( if let Some(v) = update.$field { record.$field = v; } )* };
        }
        apply!(
            runtime,
            role,
            description,
            timeout_seconds,
            memory_mb,
            ephemeral_storage_mb,
            environment,
            tracing_mode,
            layers,
            dead_letter_target,
            log_format
        );
        if let Some(handler) = update.handler {
            record.handler = Some(handler);
        }
        record.last_modified = now_last_modified();
        record.revision_id = new_revision();
        self.persist(&record, false).await?;
        Ok(self.publish(record))
    }

    /// Replaces a function's tags (TagResource / UntagResource), which does not change its revision.
    pub async fn set_tags(
        &self,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let current = self.resolve(name, None)?;
        let mut record = (*current).clone();
        record.tags = tags;
        self.persist(&record, false).await?;
        let snapshot = Arc::new(record);
        self.functions
            .write()
            .insert(snapshot.name.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// DeleteFunction: the whole function, or one published version (`qualifier`).
    pub async fn delete(&self, name: &str, qualifier: Option<&str>) -> Result<(), ControlError> {
        let _guard = self.writes.lock().await;
        if let Some(q) = qualifier {
            if q == LATEST {
                return Err(ControlError::InvalidParameter(
                    "$LATEST version cannot be deleted without deleting the function.".into(),
                ));
            }
            let Some(number) = q
                .parse::<u64>()
                .ok()
                .filter(|_| q.bytes().all(|b| b.is_ascii_digit()))
            else {
                return Err(ControlError::InvalidParameter(
                    "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias."
                        .into(),
                ));
            };
            if self.version(name, number).is_none() {
                return Err(self.not_found(name, Some(q)));
            }
            let referencing: Vec<String> = self
                .aliases_of(name)
                .iter()
                .filter(|a| a.function_version == q || a.additional_version_weights.contains_key(q))
                .map(|a| a.name.clone())
                .collect();
            if !referencing.is_empty() {
                return Err(ControlError::Conflict(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    referencing.join(", ")
                )));
            }
            // The version and its settings go in one transaction.
            let key = collections::key(name, q);
            self.documents
                .commit(vec![
                    Change::delete(FUNCTIONS, &key),
                    Change::delete(PROVISIONED, &key),
                    Change::delete(EVENT_INVOKE_CONFIGS, &key),
                ])
                .await?;
            if let Some(versions) = self.versions.write().get_mut(name) {
                versions.remove(&number);
            }
            self.changed(name);
            return Ok(());
        }
        self.resolve(name, None)?;
        // Every version, alias and setting of the function goes in one transaction. Its logs
        // stay, as Lambda keeps a deleted function's log group.
        let prefix = collections::function_prefix(name);
        self.documents
            .commit(
                [FUNCTIONS, ALIASES, PROVISIONED, EVENT_INVOKE_CONFIGS]
                    .into_iter()
                    .map(|collection| Change::delete_prefix(collection, &prefix))
                    .collect(),
            )
            .await?;
        let removed = self.functions.write().remove(name);
        self.versions.write().remove(name);
        self.aliases.write().remove(name);
        if let Some(reserved) = removed.and_then(|f| f.reserved_concurrency) {
            self.reserved_total
                .fetch_sub(reserved as usize, Ordering::AcqRel);
        }
        self.changed(name);
        Ok(())
    }

    /// PublishVersion: an immutable snapshot of `$LATEST`. Publishing an unchanged `$LATEST`
    /// again returns the version already published from it.
    pub async fn publish_version(
        &self,
        name: &str,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
        description: Option<String>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let latest = self.resolve(name, None)?;
        Self::check_revision(&latest, revision_id)?;
        if let Some(sha) = code_sha256 {
            if sha != latest.code.sha256_base64 {
                return Err(ControlError::InvalidParameter(format!(
                    "CodeSha256 ({sha}) is different from current CodeSha256 in $LATEST ({}). Please try again.",
                    latest.code.sha256_base64
                )));
            }
        }
        let newest = self
            .versions
            .read()
            .get(name)
            .and_then(|v| v.values().next_back().cloned());
        if let Some(newest) = newest {
            if newest.source_revision.as_deref() == Some(latest.revision_id.as_str()) {
                return Ok(newest);
            }
        }
        let number = latest.last_published_version + 1;
        let mut version = (*latest).clone();
        version.version = number.to_string();
        if let Some(description) = description {
            version.description = description;
        }
        version.last_modified = now_last_modified();
        version.revision_id = new_revision();
        version.source_revision = Some(latest.revision_id.clone());
        version.reserved_concurrency = None;
        self.persist(&version, true).await?;
        // The counter moves on $LATEST without changing its revision: nothing about it changed.
        let mut head = (*latest).clone();
        head.last_published_version = number;
        self.persist(&head, false).await?;
        self.functions
            .write()
            .insert(name.to_owned(), Arc::new(head));
        let version = Arc::new(version);
        self.versions
            .write()
            .entry(name.to_owned())
            .or_default()
            .insert(number, version.clone());
        Ok(version)
    }

    /// Checks an alias's versions and weights.
    fn check_alias_target(
        &self,
        name: &str,
        version: &str,
        weights: &BTreeMap<String, f64>,
    ) -> Result<(), ControlError> {
        if self.version_named(name, version).is_none() {
            return Err(self.not_found(name, Some(version)));
        }
        if weights.len() > 1 {
            return Err(ControlError::InvalidParameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
            ));
        }
        for (extra, weight) in weights {
            if !(0.0..=1.0).contains(weight) || weight.is_nan() {
                return Err(ControlError::Validation(format!(
                    "1 validation error detected: Value '{weight}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"
                )));
            }
            if version == LATEST || extra == LATEST {
                return Err(ControlError::InvalidParameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
            if extra == version {
                return Err(ControlError::InvalidParameter(format!(
                    "Invalid function version {extra}. Function version {extra} is already included in routing configuration."
                )));
            }
            if self.version_named(name, extra).is_none() {
                return Err(ControlError::InvalidParameter(format!(
                    "Function version {extra} does not exist for function {name}"
                )));
            }
        }
        Ok(())
    }

    async fn persist_alias(&self, alias: AliasRecord) -> Result<AliasSnapshot, ControlError> {
        let document = serde_json::to_string(&alias)
            .map_err(|e| ControlError::InvalidParameter(e.to_string()))?;
        self.documents
            .put(
                ALIASES,
                &collections::key(&alias.function_name, &alias.name),
                document,
                Precondition::None,
            )
            .await?;
        let snapshot = Arc::new(alias);
        self.aliases
            .write()
            .entry(snapshot.function_name.clone())
            .or_default()
            .insert(snapshot.name.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
        description: String,
        weights: BTreeMap<String, f64>,
    ) -> Result<AliasSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        self.resolve(name, None)?;
        if self.alias(name, alias).is_some() {
            return Err(ControlError::Conflict(format!(
                "Alias already exists: {}",
                nubo_wire::arn::qualified_function_arn(&self.scope, name, alias)
            )));
        }
        self.check_alias_target(name, version, &weights)?;
        self.persist_alias(AliasRecord {
            function_name: name.to_owned(),
            name: alias.to_owned(),
            function_version: version.to_owned(),
            description,
            additional_version_weights: weights,
            revision_id: new_revision(),
        })
        .await
    }

    /// UpdateAlias: `None` leaves a member as it is.
    pub async fn update_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<String>,
        description: Option<String>,
        weights: Option<BTreeMap<String, f64>>,
        revision_id: Option<&str>,
    ) -> Result<AliasSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        self.resolve(name, None)?;
        let current = self.alias(name, alias).ok_or_else(|| {
            ControlError::NotFound(format!(
                "Alias not found: {}",
                nubo_wire::arn::qualified_function_arn(&self.scope, name, alias)
            ))
        })?;
        if let Some(expected) = revision_id {
            if expected != current.revision_id {
                return Err(ControlError::PreconditionFailed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
                ));
            }
        }
        let mut next = (*current).clone();
        if let Some(v) = version {
            next.function_version = v;
        }
        if let Some(d) = description {
            next.description = d;
        }
        if let Some(w) = weights {
            next.additional_version_weights = w;
        }
        self.check_alias_target(
            name,
            &next.function_version,
            &next.additional_version_weights,
        )?;
        next.revision_id = new_revision();
        self.persist_alias(next).await
    }

    /// DeleteAlias (idempotent for a missing alias, as Lambda is).
    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), ControlError> {
        let _guard = self.writes.lock().await;
        self.resolve(name, None)?;
        // The alias and its settings go in one transaction.
        let key = collections::key(name, alias);
        self.documents
            .commit(vec![
                Change::delete(ALIASES, &key),
                Change::delete(PROVISIONED, &key),
                Change::delete(EVENT_INVOKE_CONFIGS, &key),
            ])
            .await?;
        if let Some(aliases) = self.aliases.write().get_mut(name) {
            aliases.remove(alias);
        }
        Ok(())
    }

    /// Put/DeleteFunctionConcurrency. The unreserved pool must keep at least
    /// `min(100, account_limit / 10)` (Lambda keeps 100 of its default 1000).
    pub async fn set_reserved_concurrency(
        &self,
        name: &str,
        reserved: Option<u32>,
        account_limit: usize,
    ) -> Result<FunctionSnapshot, ControlError> {
        let _guard = self.writes.lock().await;
        let current = self.resolve(name, None)?;
        let others = self.reserved_total() - current.reserved_concurrency.unwrap_or(0) as usize;
        let minimum = (account_limit / 10).min(100);
        if let Some(n) = reserved {
            if others + n as usize > account_limit.saturating_sub(minimum) {
                return Err(ControlError::InvalidParameter(format!(
                    "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                )));
            }
        }
        let mut record = (*current).clone();
        record.reserved_concurrency = reserved;
        self.persist(&record, false).await?;
        self.reserved_total
            .store(others + reserved.unwrap_or(0) as usize, Ordering::Release);
        let snapshot = Arc::new(record);
        self.functions
            .write()
            .insert(name.to_owned(), snapshot.clone());
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_store::StoreConfig;

    fn zip(body: &str) -> Bytes {
        use std::io::Write;
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        writer
            .start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(body.as_bytes()).unwrap();
        Bytes::from(writer.finish().unwrap().into_inner())
    }

    fn spec(name: &str) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            runtime: "python3.12".into(),
            role: "arn:aws:iam::000000000000:role/r".into(),
            handler: Some("app.handler".into()),
            description: String::new(),
            timeout_seconds: 3,
            memory_mb: 128,
            ephemeral_storage_mb: 512,
            environment: BTreeMap::new(),
            tags: BTreeMap::new(),
            architectures: vec!["x86_64".into()],
            tracing_mode: "PassThrough".into(),
            layers: Vec::new(),
            dead_letter_target: None,
            log_format: "Text".into(),
        }
    }

    async fn open(dir: &std::path::Path) -> Registry {
        let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
        let code = CodeStore::with_blobs(dir, stores.blobs).unwrap();
        Registry::load(stores.documents, code, Scope::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn versions_are_immutable_numbered_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let registry = open(dir.path()).await;
        registry.create(spec("f"), zip("v1")).await.unwrap();
        let v1 = registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();
        assert_eq!(v1.version, "1");
        // Unchanged $LATEST: the same version again.
        let again = registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();
        assert_eq!(again.revision_id, v1.revision_id);
        registry.update_code("f", zip("v2"), None).await.unwrap();
        let v2 = registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();
        assert_eq!(v2.version, "2");
        assert_ne!(v1.code.sha256_hex, v2.code.sha256_hex);
        registry.delete("f", Some("2")).await.unwrap();
        registry
            .update_configuration(
                "f",
                ConfigurationUpdate {
                    description: Some("changed".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        drop(registry);

        let registry = open(dir.path()).await;
        let versions: Vec<String> = registry
            .versions_of("f")
            .unwrap()
            .iter()
            .map(|v| v.version.clone())
            .collect();
        assert_eq!(versions, ["$LATEST", "1"]);
        assert_eq!(registry.resolve("f", Some("1")).unwrap().code, v1.code);
        // Numbers are never reused, even after a delete and a reload.
        let v3 = registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();
        assert_eq!(v3.version, "3");
    }

    #[tokio::test]
    async fn aliases_validate_their_targets_and_route_by_weight() {
        let dir = tempfile::tempdir().unwrap();
        let registry = open(dir.path()).await;
        registry.create(spec("f"), zip("v1")).await.unwrap();
        registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();
        registry.update_code("f", zip("v2"), None).await.unwrap();
        registry
            .publish_version("f", None, None, None)
            .await
            .unwrap();

        let missing = registry
            .create_alias("f", "a", "9", String::new(), BTreeMap::new())
            .await;
        assert!(matches!(missing, Err(ControlError::NotFound(_))));
        let weights = |w: f64| BTreeMap::from([("2".to_owned(), w)]);
        let heavy = registry
            .create_alias("f", "a", "1", String::new(), weights(1.5))
            .await;
        assert!(matches!(heavy, Err(ControlError::Validation(_))));
        let latest = registry
            .create_alias("f", "a", LATEST, String::new(), weights(0.5))
            .await;
        assert!(matches!(latest, Err(ControlError::InvalidParameter(_))));

        registry
            .create_alias("f", "a", "1", String::new(), weights(0.5))
            .await
            .unwrap();
        assert!(matches!(
            registry
                .create_alias("f", "a", "1", String::new(), BTreeMap::new())
                .await,
            Err(ControlError::Conflict(_))
        ));
        assert_eq!(registry.resolve("f", Some("a")).unwrap().version, "1");
        let twos = (0..2000)
            .filter(|_| registry.resolve_for_invoke("f", Some("a")).unwrap().version == "2")
            .count();
        assert!(
            (800..1200).contains(&twos),
            "{twos} of 2000 went to version 2"
        );
        assert!(matches!(
            registry.delete("f", Some("2")).await,
            Err(ControlError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn reservations_keep_the_unreserved_minimum() {
        let dir = tempfile::tempdir().unwrap();
        let registry = open(dir.path()).await;
        registry.create(spec("f"), zip("v1")).await.unwrap();
        registry.create(spec("g"), zip("v1")).await.unwrap();
        registry
            .set_reserved_concurrency("f", Some(600), 1000)
            .await
            .unwrap();
        // 600 + 301 would leave 99 unreserved, under the minimum of 100.
        assert!(matches!(
            registry
                .set_reserved_concurrency("g", Some(301), 1000)
                .await,
            Err(ControlError::InvalidParameter(_))
        ));
        registry
            .set_reserved_concurrency("g", Some(300), 1000)
            .await
            .unwrap();
        assert_eq!(registry.reserved_total(), 900);
        // Changing a reservation replaces it rather than adding to it.
        registry
            .set_reserved_concurrency("f", Some(10), 1000)
            .await
            .unwrap();
        assert_eq!(registry.reserved_total(), 310);
        registry.delete("g", None).await.unwrap();
        assert_eq!(registry.reserved_total(), 10);
        drop(registry);
        assert_eq!(open(dir.path()).await.reserved_total(), 10);
    }
}
