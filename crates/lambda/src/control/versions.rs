//! Versions: PublishVersion (ListVersionsByFunction reads the [`Registry`]).

use std::sync::Arc;

use nubo_wire::arn::FunctionRef;

use super::functions::{new_revision, now_last_modified, put_record};
use super::lifecycle::check_settled;
use super::records::{FunctionSnapshot, Lifecycle};
use super::registry::Registry;
use crate::ControlError;

impl Registry {
    /// PublishVersion: an immutable snapshot of `$LATEST`. Publishing an unchanged `$LATEST`
    /// again returns the version already published from it. Refused while `$LATEST` is being
    /// created or updated, as on AWS.
    pub async fn publish_version(
        &self,
        function: &FunctionRef,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
        description: Option<String>,
    ) -> Result<FunctionSnapshot, ControlError> {
        self.publish(function, code_sha256, revision_id, description, true)
            .await
    }

    /// The version a CreateFunction or UpdateFunctionCode with `Publish` publishes, as part of
    /// the change itself (so while it is still settling).
    pub async fn publish_with_change(
        &self,
        function: &FunctionRef,
    ) -> Result<FunctionSnapshot, ControlError> {
        self.publish(function, None, None, None, false).await
    }

    async fn publish(
        &self,
        function: &FunctionRef,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
        description: Option<String>,
        settled_only: bool,
    ) -> Result<FunctionSnapshot, ControlError> {
        let scope = function.scope.clone();
        self.modify(function, |state, transaction| {
            let latest = state.latest.clone();
            if settled_only {
                check_settled(&latest, function)?;
            }
            if revision_id.is_some_and(|expected| expected != latest.revision_id) {
                return Err(ControlError::PreconditionFailed(
                    super::validate::REVISION_MISMATCH.into(),
                ));
            }
            if let Some(sha) = code_sha256 {
                if sha != latest.code.sha256_base64 {
                    return Err(ControlError::InvalidParameter(format!(
                        "CodeSha256 ({sha}) is different from current CodeSha256 in $LATEST ({}). Please try again.",
                        latest.code.sha256_base64
                    )));
                }
            }
            if let Some(newest) = state.versions.values().next_back() {
                if newest.source_revision.as_deref() == Some(latest.revision_id.as_str()) {
                    return Ok(newest.clone());
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
            version.lifecycle = Lifecycle::Ready;
            version.environment_revision = None;
            put_record(transaction, &scope, &version)?;
            // The counter moves on $LATEST without changing its revision: nothing about it changed.
            let mut head = (*latest).clone();
            head.last_published_version = number;
            put_record(transaction, &scope, &head)?;
            state.latest = Arc::new(head);
            let version = Arc::new(version);
            state.versions.insert(number, version.clone());
            Ok(version)
        })
        .await
    }
}
