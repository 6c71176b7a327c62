//! Functions: CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, tags and
//! DeleteFunction, as writes of the [`Registry`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nubo_store::{Change, Precondition, StoreError, Transaction};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{QualifierKind, Scope};

use super::collections::{self, ALIASES, FUNCTIONS, POLICIES};
use super::lifecycle::check_settled;
use super::records::{
    CodeRef, ConfigurationUpdate, FunctionRecord, FunctionSnapshot, FunctionSpec, Lifecycle, LATEST,
};
use super::registry::{FunctionState, Registry};
use super::validate::{self, MAX_ZIP_BYTES};
use crate::ControlError;

pub(super) fn now_last_modified() -> String {
    nubo_wire::timefmt::last_modified(time::OffsetDateTime::now_utc())
}

pub(super) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Stages the put of a version's record.
pub(super) fn put_record(
    transaction: &mut Transaction,
    scope: &Scope,
    record: &FunctionRecord,
) -> Result<(), ControlError> {
    transaction.put_json(
        FUNCTIONS,
        &collections::key(scope, &record.name, &record.version),
        record,
    )?;
    Ok(())
}

fn check_revision(current: &FunctionRecord, expected: Option<&str>) -> Result<(), ControlError> {
    match expected {
        Some(expected) if expected != current.revision_id => Err(ControlError::PreconditionFailed(
            validate::REVISION_MISMATCH.into(),
        )),
        _ => Ok(()),
    }
}

impl Registry {
    pub(super) async fn store_code(&self, zip: Bytes) -> Result<CodeRef, ControlError> {
        if zip.len() > MAX_ZIP_BYTES {
            return Err(ControlError::RequestTooLarge(format!(
                "Zipped size must be smaller than {MAX_ZIP_BYTES} bytes"
            )));
        }
        let artifact = self.code().put_zip(zip).await?;
        Ok(CodeRef {
            sha256_hex: artifact.sha256_hex,
            sha256_base64: artifact.sha256_base64,
            size: artifact.size,
            unzipped_size: artifact.unzipped_size,
        })
    }

    /// CreateFunction, in `scope`.
    pub async fn create(
        &self,
        scope: &Scope,
        spec: FunctionSpec,
        zip: Bytes,
    ) -> Result<FunctionSnapshot, ControlError> {
        let mut writer = self.writer().await;
        let conflict = || ControlError::Conflict(format!("Function already exist: {}", spec.name));
        if self.get(scope, &spec.name).is_some() {
            return Err(conflict());
        }
        // Layers are checked (and the 250 MB over code + layers) before the code is unpacked.
        let unzipped = nubo_store::unzipped_size(&zip)?;
        let layers = self.attach_layers(scope, &spec.layers, unzipped)?;
        let code = self.store_code(zip).await?;
        let name = spec.name.as_str().to_owned();
        let record = FunctionRecord {
            name: name.clone(),
            version: LATEST.into(),
            runtime: spec.runtime,
            role: spec.role,
            handler: spec.handler,
            description: spec.description,
            timeout_seconds: spec.timeout_seconds,
            memory_mb: spec.memory_mb,
            ephemeral_storage_mb: spec.ephemeral_storage_mb,
            environment: spec.environment,
            environment_set: spec.environment_set,
            tags: spec.tags,
            architectures: spec.architectures,
            tracing_mode: spec.tracing_mode,
            layers,
            dead_letter_target: spec.dead_letter_target,
            log_format: spec.log_format,
            logging: spec.logging,
            code,
            last_modified: now_last_modified(),
            revision_id: new_revision(),
            reserved_concurrency: None,
            last_published_version: 0,
            source_revision: None,
            lifecycle: Lifecycle::Creating,
            environment_revision: None,
        };
        let mut transaction = Transaction::new();
        transaction.change(
            Change::put(
                FUNCTIONS,
                &collections::key(scope, &name, LATEST),
                serde_json::to_string(&record).map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .when(Precondition::Absent),
        );
        match writer.commit(transaction).await {
            Err(StoreError::AlreadyExists(_)) => return Err(conflict()),
            other => other?,
        }
        let snapshot = Arc::new(record);
        self.swap(
            scope,
            &name,
            None,
            Some(FunctionState::new(snapshot.clone())),
        );
        let function = FunctionRef::new(scope.clone(), spec.name, None);
        self.schedule_settle(&function, snapshot.revision_id.clone());
        Ok(snapshot)
    }

    /// Replaces `$LATEST` with `change` applied to a copy of it.
    async fn update_latest(
        &self,
        function: &FunctionRef,
        change: impl FnOnce(&mut FunctionRecord) -> Result<(), ControlError>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let scope = function.scope.clone();
        self.modify(function, |state, transaction| {
            let mut record = (*state.latest).clone();
            change(&mut record)?;
            put_record(transaction, &scope, &record)?;
            state.latest = Arc::new(record);
            Ok(state.latest.clone())
        })
        .await
    }

    /// An update of `$LATEST` (code or configuration): refused while another is in progress,
    /// `InProgress` until it settles.
    async fn update_settling(
        &self,
        function: &FunctionRef,
        change: impl FnOnce(&mut FunctionRecord) -> Result<(), ControlError>,
    ) -> Result<FunctionSnapshot, ControlError> {
        let updated = self
            .update_latest(function, |record| {
                check_settled(record, function)?;
                change(record)?;
                record.last_modified = now_last_modified();
                record.revision_id = new_revision();
                record.environment_revision = None;
                record.lifecycle = Lifecycle::Updating;
                Ok(())
            })
            .await?;
        self.schedule_settle(function, updated.revision_id.clone());
        Ok(updated)
    }

    /// UpdateFunctionCode.
    pub async fn update_code(
        &self,
        function: &FunctionRef,
        zip: Bytes,
        revision_id: Option<&str>,
    ) -> Result<FunctionSnapshot, ControlError> {
        // Checked before the upload is stored, and again under the writer.
        let latest = self.function(function)?;
        check_revision(&latest, revision_id)?;
        check_settled(&latest, function)?;
        let code = self.store_code(zip).await?;
        self.update_settling(function, |record| {
            check_revision(record, revision_id)?;
            super::layers::check_unzipped(code.unzipped_size, &record.layers)?;
            record.code = code;
            Ok(())
        })
        .await
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_configuration(
        &self,
        function: &FunctionRef,
        update: ConfigurationUpdate,
    ) -> Result<FunctionSnapshot, ControlError> {
        let layers = update
            .layers
            .as_ref()
            .map(|arns| {
                let latest = self.function(function)?;
                self.attach_layers(&function.scope, arns, latest.code.unzipped_size)
            })
            .transpose()?;
        self.update_settling(function, |record| {
            check_revision(record, update.revision_id.as_deref())?;
            if let Some(layers) = layers {
                record.layers = layers;
            }
            let environment_given = update.environment.is_some();
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
                dead_letter_target,
                log_format
            );
            if let Some(handler) = update.handler {
                record.handler = Some(handler);
            }
            if environment_given {
                record.environment_set = true;
            }
            let logging = update.logging;
            if logging.application_log_level.is_some() {
                record.logging.application_log_level = logging.application_log_level;
            }
            if logging.system_log_level.is_some() {
                record.logging.system_log_level = logging.system_log_level;
            }
            if logging.log_group.is_some() {
                record.logging.log_group = logging.log_group;
            }
            Ok(())
        })
        .await
    }

    /// Replaces a function's tags (TagResource / UntagResource), which does not change its revision.
    pub async fn set_tags(
        &self,
        function: &FunctionRef,
        tags: BTreeMap<String, String>,
    ) -> Result<FunctionSnapshot, ControlError> {
        self.update_latest(function, |record| {
            record.tags = tags;
            Ok(())
        })
        .await
    }

    /// DeleteFunction: the whole function, or the published version its qualifier names.
    pub async fn delete(&self, function: &FunctionRef) -> Result<(), ControlError> {
        let Some(qualifier) = &function.qualifier else {
            return self.delete_function(function).await;
        };
        let number = match qualifier.kind() {
            QualifierKind::Latest => {
                return Err(ControlError::InvalidParameter(
                    "$LATEST version cannot be deleted without deleting the function.".into(),
                ))
            }
            QualifierKind::Alias(_) => {
                return Err(ControlError::InvalidParameter(
                    "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias."
                        .into(),
                ))
            }
            QualifierKind::Version(number) => number,
        };
        let scope = function.scope.clone();
        self.modify(function, |state, transaction| {
            // A version that does not exist (any more) is deleted already, as on AWS.
            if !state.versions.contains_key(&number) {
                return Ok(());
            }
            let referencing: Vec<&str> = state
                .aliases
                .values()
                .filter(|a| {
                    a.function_version == qualifier.as_str()
                        || a.additional_version_weights
                            .contains_key(qualifier.as_str())
                })
                .map(|a| a.name.as_str())
                .collect();
            if !referencing.is_empty() {
                return Err(ControlError::Conflict(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    referencing.join(", ")
                )));
            }
            // The version and its settings go in one transaction.
            let key = collections::key(&scope, &function.name, qualifier);
            transaction.change(Change::delete(FUNCTIONS, &key));
            self.provisioned.delete(transaction, &key);
            self.event_invoke.delete(transaction, &key);
            transaction.change(Change::delete(POLICIES, &key));
            state.versions.remove(&number);
            state.policies.remove(qualifier.as_str());
            Ok(())
        })
        .await
    }

    async fn delete_function(&self, function: &FunctionRef) -> Result<(), ControlError> {
        let mut writer = self.writer().await;
        let current = self
            .state(&function.scope, &function.name)
            .ok_or_else(|| Registry::not_found(&function.scope, &function.name, None))?;
        // Every version, alias and setting of the function goes in one transaction. Its logs
        // stay, as Lambda keeps a deleted function's log group.
        let prefix = collections::function_prefix(&function.scope, &function.name);
        let mut transaction = Transaction::new();
        transaction.change(Change::delete_prefix(FUNCTIONS, &prefix));
        transaction.change(Change::delete_prefix(ALIASES, &prefix));
        transaction.change(Change::delete_prefix(POLICIES, &prefix));
        self.provisioned.delete_prefix(&mut transaction, &prefix);
        self.event_invoke.delete_prefix(&mut transaction, &prefix);
        writer.commit(transaction).await?;
        self.swap(&function.scope, &function.name, Some(&current), None);
        Ok(())
    }
}
