//! The function registry: the in-memory view of every function, written through to the store.
//!
//! Reads (every invoke) take a snapshot from memory; writes (the control plane) are serialized,
//! persisted first and then published, so a crash never leaves memory ahead of disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use nubo_store::{CodeStore, Store};
use nubo_wire::Identity;
use parking_lot::RwLock;

use crate::function::{
    CodeRef, ConfigurationUpdate, FunctionRecord, FunctionSnapshot, FunctionSpec, LATEST,
};
use crate::validate::MAX_ZIP_BYTES;
use crate::ControlError;

/// Owns function records.
pub struct Registry {
    store: Arc<dyn Store>,
    code: CodeStore,
    identity: Identity,
    functions: RwLock<HashMap<String, FunctionSnapshot>>,
    writes: tokio::sync::Mutex<()>,
    listeners: RwLock<Vec<Box<dyn Fn(&str) + Send + Sync>>>,
}

fn now_last_modified() -> String {
    nubo_wire::timefmt::last_modified(time::OffsetDateTime::now_utc())
}

fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Registry {
    /// Loads every function from the store.
    pub fn load(
        store: Arc<dyn Store>,
        code: CodeStore,
        identity: Identity,
    ) -> Result<Self, ControlError> {
        let mut functions = HashMap::new();
        for (name, version, document) in store.all_functions()? {
            if version != LATEST {
                continue;
            }
            match serde_json::from_str::<FunctionRecord>(&document) {
                Ok(record) => {
                    functions.insert(name, Arc::new(record));
                }
                Err(e) => {
                    tracing::error!(function = %name, error = %e, "skipping an unreadable function record")
                }
            }
        }
        Ok(Self {
            store,
            code,
            identity,
            functions: RwLock::new(functions),
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
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// A function's `$LATEST` snapshot.
    pub fn get(&self, name: &str) -> Option<FunctionSnapshot> {
        self.functions.read().get(name).cloned()
    }

    /// A function by name and qualifier, or the AWS not-found error.
    pub fn resolve(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let not_found = || {
            let arn = match qualifier {
                Some(q) => nubo_wire::arn::qualified_function_arn(&self.identity, name, q),
                None => nubo_wire::arn::function_arn(&self.identity, name),
            };
            ControlError::NotFound(format!("Function not found: {arn}"))
        };
        match qualifier {
            None | Some(LATEST) => self.get(name).ok_or_else(not_found),
            // Published versions and aliases arrive with the versions issue.
            Some(_) => Err(not_found()),
        }
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
        let code = self.code.clone();
        let artifact = tokio::task::spawn_blocking(move || code.put_zip(&zip))
            .await
            .map_err(|e| {
                ControlError::Store(nubo_store::StoreError::Io(std::io::Error::other(e)))
            })??;
        Ok(CodeRef {
            sha256_hex: artifact.sha256_hex,
            sha256_base64: artifact.sha256_base64,
            size: artifact.size,
        })
    }

    async fn persist(&self, record: &FunctionRecord, insert: bool) -> Result<(), ControlError> {
        let store = self.store.clone();
        let document = serde_json::to_string(record)
            .map_err(|e| ControlError::InvalidParameter(e.to_string()))?;
        let (name, version) = (record.name.clone(), record.version.clone());
        tokio::task::spawn_blocking(move || {
            if insert {
                store.insert_function(&name, &version, &document)
            } else {
                store.update_function(&name, &version, &document)
            }
        })
        .await
        .map_err(|e| ControlError::Store(nubo_store::StoreError::Io(std::io::Error::other(e))))??;
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
        };
        match self.persist(&record, true).await {
            Err(ControlError::Store(nubo_store::StoreError::AlreadyExists(_))) => {
                return Err(conflict())
            }
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

    /// DeleteFunction (the whole function; qualifiers arrive with versions).
    pub async fn delete(&self, name: &str, qualifier: Option<&str>) -> Result<(), ControlError> {
        let _guard = self.writes.lock().await;
        if let Some(q) = qualifier {
            if q == LATEST {
                return Err(ControlError::InvalidParameter(
                    "$LATEST version cannot be deleted without deleting the function.".into(),
                ));
            }
            return Err(self
                .resolve(name, Some(q))
                .err()
                .unwrap_or_else(|| ControlError::NotFound(name.into())));
        }
        self.resolve(name, None)?;
        let store = self.store.clone();
        let owned = name.to_owned();
        tokio::task::spawn_blocking(move || store.delete_function(&owned))
            .await
            .map_err(|e| {
                ControlError::Store(nubo_store::StoreError::Io(std::io::Error::other(e)))
            })??;
        self.functions.write().remove(name);
        self.changed(name);
        Ok(())
    }
}
