//! Warm environments waiting for work, keyed by the revision of the version they run.
//!
//! An environment only ever runs the revision it was started for, so the revision is the whole
//! key: a warm environment of a function's `$LATEST` is never handed an invocation of an updated
//! `$LATEST` or of a published version. When the registry retires revisions (an update, a deleted
//! version or function), their environments go.
//!
//! Environments also go before their execution-role credentials expire (12-hour sessions;
//! provisioned environments live indefinitely): one is never handed an invocation that could
//! outlast its credentials, and the reaper retires those within [`CREDENTIALS_MARGIN`] of
//! expiry, provisioned ones too (their keeper starts a replacement with fresh credentials).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::control::concurrency::Provisioned;
use crate::control::records::FunctionRecord;
use crate::environment::Environment;

/// How long before its credentials expire an idle environment is retired: more than the longest
/// invocation (15 minutes) and a reaper round.
pub(crate) const CREDENTIALS_MARGIN: Duration = Duration::from_secs(20 * 60);

/// Whether an environment's credentials would expire within `margin`.
fn expiring(env: &Environment, margin: Duration) -> bool {
    expires_within(env.credentials_expire, Instant::now(), margin)
}

/// Whether credentials expiring at `at` (never, for `None`) expire within `margin` of `now`.
fn expires_within(at: Option<Instant>, now: Instant, margin: Duration) -> bool {
    at.is_some_and(|at| at.saturating_duration_since(now) < margin)
}

/// Idle environments by revision, most recently used last.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Environment>>>,
}

impl Pool {
    /// The most recently used idle environment of exactly this revision, thawed.
    pub(crate) fn take(&self, function: &FunctionRecord) -> Option<Environment> {
        let env = self.take_idle(function)?;
        env.thaw();
        Some(env)
    }

    fn take_idle(&self, function: &FunctionRecord) -> Option<Environment> {
        // The invocation may run for the function's timeout; its credentials must last that.
        let margin = Duration::from_secs(u64::from(function.timeout_seconds) + 60);
        let mut unusable = Vec::new();
        let found = {
            let mut idle = self.idle.lock();
            let envs = idle.get_mut(function.environment_revision())?;
            loop {
                match envs.pop() {
                    Some(env) if !env.has_exited() && !expiring(&env, margin) => break Some(env),
                    Some(env) => unusable.push(env),
                    None => break None,
                }
            }
        };
        // Killed outside the lock.
        drop(unusable);
        found
    }

    /// Parks an environment after an invocation (or after its initialization, when provisioned).
    pub(crate) fn put(&self, mut env: Environment) {
        env.last_used = Instant::now();
        env.freeze();
        let mut idle = self.idle.lock();
        match idle.get_mut(&env.revision_id) {
            Some(envs) => envs.push(env),
            None => {
                idle.insert(env.revision_id.clone(), vec![env]);
            }
        }
    }

    /// Drops the idle environments of revisions no version runs any more.
    pub(crate) fn retire(&self, revisions: &[String]) {
        let retired: Vec<Vec<Environment>> = {
            let mut idle = self.idle.lock();
            revisions.iter().filter_map(|r| idle.remove(r)).collect()
        };
        // Killed outside the lock.
        drop(retired);
    }

    /// Drops the idle environments held for a provisioned-concurrency configuration.
    pub(crate) fn release(&self, owner: &Arc<Provisioned>) {
        let mut released = Vec::new();
        {
            let mut idle = self.idle.lock();
            for envs in idle.values_mut() {
                let (keep, gone): (Vec<_>, Vec<_>) = envs.drain(..).partition(|e| {
                    !e.provisioned
                        .as_ref()
                        .is_some_and(|t| Arc::ptr_eq(&t.0, owner))
                });
                *envs = keep;
                released.extend(gone);
            }
        }
        drop(released);
    }

    /// Drops environments idle for longer than `idle_timeout` (provisioned ones excepted while
    /// their configuration stands) and those whose process is gone; returns how many.
    pub(crate) fn reap(&self, idle_timeout: Duration) -> usize {
        let mut reaped = Vec::new();
        {
            let mut idle = self.idle.lock();
            for envs in idle.values_mut() {
                let (keep, old): (Vec<_>, Vec<_>) = envs.drain(..).partition(|e| {
                    let provisioned = e.provisioned.as_ref().is_some_and(|t| t.0.is_active());
                    !e.has_exited()
                        && !expiring(e, CREDENTIALS_MARGIN)
                        && (provisioned || e.idle_for() < idle_timeout)
                });
                *envs = keep;
                reaped.extend(old);
            }
            idle.retain(|_, envs| !envs.is_empty());
        }
        reaped.len()
    }

    /// Environments idle now.
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_go_before_their_credentials_expire() {
        let now = Instant::now();
        let hour = Duration::from_secs(3600);
        assert!(!expires_within(None, now, CREDENTIALS_MARGIN));
        assert!(!expires_within(Some(now + hour), now, CREDENTIALS_MARGIN));
        assert!(expires_within(
            Some(now + Duration::from_secs(60)),
            now,
            CREDENTIALS_MARGIN
        ));
        // Already expired.
        assert!(expires_within(
            Some(now),
            now + hour,
            Duration::from_secs(1)
        ));
        // A 15-minute invocation needs 16 minutes left.
        let margin = Duration::from_secs(900 + 60);
        assert!(expires_within(
            Some(now + Duration::from_secs(900)),
            now,
            margin
        ));
        assert!(!expires_within(
            Some(now + Duration::from_secs(1000)),
            now,
            margin
        ));
    }
}
