//! Lambda's state machine for `$LATEST`: CreateFunction answers `State: Pending`, an update
//! answers `LastUpdateStatus: InProgress`, and a moment later the function is `Active` /
//! `Successful` — each transition with a new `RevisionId`, as on AWS, so tools that wait
//! (Terraform, CDK, boto3's `function_active_v2` / `function_updated_v2` waiters) see what they
//! expect.
//!
//! Nothing is slow to prepare in Nubo (the code was stored and unpacked before the change
//! committed), so the registry settles a change as soon as it has committed — after the
//! configured settle delay, zero by default: a settling task per change, which takes the writer
//! like any other change. Until then the function refuses what AWS refuses: an invocation of a
//! `Pending` function, and another update or a PublishVersion while one is in progress
//! (`ResourceConflictException`, AWS's texts). A change interrupted by a crash is settled when
//! the registry loads.

use std::sync::Arc;
use std::time::Duration;

use nubo_wire::arn::FunctionRef;
use nubo_wire::{FunctionName, Scope};

use super::functions::{new_revision, put_record};
use super::records::{FunctionRecord, Lifecycle};
use super::registry::Registry;
use crate::ControlError;

/// AWS's refusal of an invocation or change of a function that is still being created.
pub fn pending_conflict() -> ControlError {
    ControlError::Conflict(
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
            .into(),
    )
}

/// AWS's refusal of a change while the previous one is in progress.
pub fn update_in_progress(function: &FunctionRef) -> ControlError {
    ControlError::Conflict(format!(
        "The operation cannot be performed at this time. An update is in progress for resource: {}",
        function.unqualified_arn()
    ))
}

/// Refuses a change of `$LATEST` while it is `Pending` or an update is in progress.
pub(super) fn check_settled(
    latest: &FunctionRecord,
    function: &FunctionRef,
) -> Result<(), ControlError> {
    match latest.lifecycle {
        Lifecycle::Creating => Err(pending_conflict()),
        Lifecycle::Updating => Err(update_in_progress(function)),
        Lifecycle::Ready => Ok(()),
    }
}

impl Registry {
    /// How long a change stays `Pending` / `InProgress` at least (`--settle-delay-ms`).
    pub fn set_settle_delay(&self, delay: Duration) {
        *self.settle_delay.lock() = delay;
    }

    /// Settles `$LATEST` of `function` later, if it is still at `revision` then.
    pub(super) fn schedule_settle(&self, function: &FunctionRef, revision: String) {
        let Some(registry) = self.me.upgrade() else {
            return;
        };
        let delay = *self.settle_delay.lock();
        let (scope, name) = (function.scope.clone(), function.name.clone());
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Err(e) = registry.settle(&scope, &name, &revision).await {
                tracing::warn!(function = %name, error = %e, "could not settle a function's change");
            }
        });
    }

    /// `Pending` → `Active`, `InProgress` → `Successful`, with a new revision; nothing when the
    /// function changed or went in the meantime.
    async fn settle(
        &self,
        scope: &Scope,
        name: &FunctionName,
        revision: &str,
    ) -> Result<(), ControlError> {
        let function = FunctionRef::new(scope.clone(), name.clone(), None);
        let current = self.get(scope, name);
        if current.is_none_or(|c| c.revision_id != revision || c.lifecycle == Lifecycle::Ready) {
            return Ok(());
        }
        let result = self
            .modify(&function, |state, transaction| {
                if state.latest.revision_id != revision {
                    return Ok(());
                }
                let mut record = (*state.latest).clone();
                record.lifecycle = Lifecycle::Ready;
                record.environment_revision = Some(record.environment_revision().to_owned());
                record.revision_id = new_revision();
                put_record(transaction, scope, &record)?;
                // A version published from the unsettled revision stays "published from" the
                // settled one: publishing again publishes nothing new.
                if let Some(newest) = state.versions.values_mut().next_back() {
                    if newest.source_revision.as_deref() == Some(revision) {
                        let mut version = (**newest).clone();
                        version.source_revision = Some(record.revision_id.clone());
                        put_record(transaction, scope, &version)?;
                        *newest = Arc::new(version);
                    }
                }
                state.latest = Arc::new(record);
                Ok(())
            })
            .await;
        self.settled.notify_waiters();
        match result {
            Err(ControlError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Waits until `$LATEST` of `function` is settled (or gone), at most `timeout`; true when it
    /// is. For callers that create and use a function in one go (`--deploy-examples`, tests).
    pub async fn wait_settled(&self, function: &FunctionRef, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let settled = self
                .get(&function.scope, &function.name)
                .is_none_or(|latest| latest.lifecycle == Lifecycle::Ready);
            if settled {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Settles every change a crash interrupted (called once, at load).
    pub(super) fn settle_interrupted(&self) {
        let unsettled: Vec<(Scope, FunctionName, String)> = self
            .all_latest()
            .into_iter()
            .filter(|(_, latest)| latest.lifecycle != Lifecycle::Ready)
            .filter_map(|(scope, latest)| {
                let name = FunctionName::new(latest.name.as_str()).ok()?;
                Some((scope, name, latest.revision_id.clone()))
            })
            .collect();
        for (scope, name, revision) in unsettled {
            self.schedule_settle(&FunctionRef::new(scope, name, None), revision);
        }
    }
}
