//! Concurrency: reserved concurrency (a function's own share of its scope's limit, kept on
//! `$LATEST`) and provisioned concurrency (environments initialized ahead of traffic for a version
//! or alias) — their rules, their stored settings and the keepers that hold provisioned
//! environments warm. The invoker's slots ([`crate::invoke`]) enforce both at run time.
//!
//! Each provisioned configuration has a keeper task that starts environments until `requested`
//! of them are initialized (their runtime waits in `next`), then tops the count up whenever one
//! is lost (a timeout or crash retires it). Each such environment holds a `Ticket`; dropping the
//! environment returns the ticket, so `available` is always the number that exist. Idle reaping
//! leaves them alone while their configuration stands.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nubo_store::Transaction;
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::collections;
use super::functions::put_record;
use super::records::FunctionSnapshot;
use super::registry::Registry;
use crate::{ControlError, Invoker};

/// What is stored for a provisioned-concurrency configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    /// `ProvisionedConcurrentExecutions`.
    pub requested: u32,
    /// ISO-8601 time of the last change.
    pub last_modified: String,
}

/// `Status` of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvisionedStatus {
    /// Environments are being initialized.
    InProgress,
    /// All requested environments are initialized.
    Ready,
    /// Initialization failed; the reason is reported.
    Failed(String),
}

impl ProvisionedStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Ready => "READY",
            Self::Failed(_) => "FAILED",
        }
    }
}

/// The live state of one configuration.
#[derive(Debug)]
pub struct Provisioned {
    /// The version or alias it is for (always qualified).
    pub function: FunctionRef,
    /// The stored settings.
    pub config: ProvisionedConfig,
    alive: AtomicUsize,
    active: AtomicBool,
    status: Mutex<ProvisionedStatus>,
}

impl Provisioned {
    fn new(function: FunctionRef, config: ProvisionedConfig) -> Arc<Self> {
        Arc::new(Self {
            function,
            config,
            alive: AtomicUsize::new(0),
            active: AtomicBool::new(true),
            status: Mutex::new(ProvisionedStatus::InProgress),
        })
    }

    /// The version or alias, as its qualifier.
    pub fn qualifier(&self) -> &str {
        self.function.qualifier.as_deref().unwrap_or_default()
    }

    /// Initialized environments that exist now.
    pub fn available(&self) -> usize {
        self.alive.load(Ordering::Acquire)
    }

    /// The status as Lambda reports it.
    pub fn status(&self) -> ProvisionedStatus {
        self.status.lock().clone()
    }

    /// Still configured (not deleted or replaced).
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }
}

/// Held by a provisioned environment; returns its place when the environment goes.
#[derive(Debug)]
pub(crate) struct Ticket(pub(crate) Arc<Provisioned>);

impl Ticket {
    fn new(owner: Arc<Provisioned>) -> Self {
        owner.alive.fetch_add(1, Ordering::AcqRel);
        Self(owner)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reserved concurrency and the stored provisioned settings.
impl Registry {
    /// Put/DeleteFunctionConcurrency. The unreserved pool must keep at least
    /// `min(100, account_limit / 10)` (Lambda keeps 100 of its default 1000).
    pub async fn set_reserved_concurrency(
        &self,
        function: &FunctionRef,
        reserved: Option<u32>,
        account_limit: usize,
    ) -> Result<FunctionSnapshot, ControlError> {
        let scope = function.scope.clone();
        self.modify(function, |state, transaction| {
            // Read under the writer, so two reservations cannot both take the last of the pool.
            let total = self.reserved_total(&scope);
            let others = total - state.latest.reserved_concurrency.unwrap_or(0) as usize;
            let minimum = (account_limit / 10).min(100);
            if let Some(n) = reserved {
                if others + n as usize > account_limit.saturating_sub(minimum) {
                    return Err(ControlError::InvalidParameter(format!(
                        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{minimum}]."
                    )));
                }
            }
            let mut record = (*state.latest).clone();
            record.reserved_concurrency = reserved;
            put_record(transaction, &scope, &record)?;
            state.latest = Arc::new(record);
            Ok(state.latest.clone())
        })
        .await
    }

    /// Every stored provisioned configuration (read once at start).
    fn provisioned_configs(&self) -> Vec<(FunctionRef, ProvisionedConfig)> {
        self.provisioned
            .snapshot()
            .iter()
            .filter_map(|(key, config)| {
                let (scope, name, qualifier) = collections::split(key)?;
                let function = FunctionRef::new(
                    scope,
                    nubo_wire::FunctionName::new(name).ok()?,
                    Some(nubo_wire::Qualifier::new(qualifier).ok()?),
                );
                Some((function, (**config).clone()))
            })
            .collect()
    }

    /// Stores a configuration for a version or alias that exists.
    async fn save_provisioned(
        &self,
        function: &FunctionRef,
        config: ProvisionedConfig,
    ) -> Result<(), ControlError> {
        let mut writer = self.writer().await;
        self.resolve(function)?;
        let mut transaction = Transaction::new();
        self.provisioned
            .put(&mut transaction, &provisioned_key(function), config)?;
        writer.commit(transaction).await?;
        Ok(())
    }

    /// Removes a configuration; false if there was none.
    async fn forget_provisioned(&self, function: &FunctionRef) -> Result<bool, ControlError> {
        let mut writer = self.writer().await;
        let key = provisioned_key(function);
        if self.provisioned.get(&key).is_none() {
            return Ok(false);
        }
        let mut transaction = Transaction::new();
        self.provisioned.delete(&mut transaction, &key);
        writer.commit(transaction).await?;
        Ok(true)
    }
}

fn provisioned_key(function: &FunctionRef) -> String {
    collections::key(
        &function.scope,
        &function.name,
        function.qualifier.as_deref().unwrap_or_default(),
    )
}

/// Provisioned concurrency's live side: configurations and their keepers.
impl Invoker {
    /// Starts (or replaces) a provisioned-concurrency configuration for a version or alias
    /// (`function` is qualified) and persists it.
    pub async fn put_provisioned(
        self: &Arc<Self>,
        function: &FunctionRef,
        requested: u32,
    ) -> Result<Arc<Provisioned>, ControlError> {
        if function.qualifier.as_ref().is_none_or(|q| q.is_latest()) {
            return Err(ControlError::InvalidParameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into(),
            ));
        }
        // Provisioned concurrency comes out of the function's reservation: every version's and
        // alias's configuration together.
        if let (Some(reserved), _) = self.registry.concurrency(&function.scope, &function.name) {
            let others: u64 = self
                .provisioned_of(&function.scope, &function.name)
                .iter()
                .filter(|p| p.function.qualifier != function.qualifier)
                .map(|p| u64::from(p.config.requested))
                .sum();
            if u64::from(requested) + others > u64::from(reserved) {
                return Err(ControlError::InvalidParameter(if others == 0 {
                    format!(
                        "ProvisionedConcurrentExecutions ({requested}) cannot be greater than the function's ReservedConcurrentExecutions ({reserved})."
                    )
                } else {
                    format!(
                        "ProvisionedConcurrentExecutions ({requested}) plus the {others} provisioned for the function's other versions and aliases cannot be greater than the function's ReservedConcurrentExecutions ({reserved})."
                    )
                }));
            }
        }
        let config = ProvisionedConfig {
            requested,
            last_modified: nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
        };
        self.registry
            .save_provisioned(function, config.clone())
            .await?;
        Ok(self.start_provisioned(function.clone(), config))
    }

    /// Re-creates every stored configuration (at start); returns how many.
    pub fn restore_provisioned(self: &Arc<Self>) -> usize {
        let stored = self.registry.provisioned_configs();
        let count = stored.len();
        for (function, config) in stored {
            self.start_provisioned(function, config);
        }
        count
    }

    fn start_provisioned(
        self: &Arc<Self>,
        function: FunctionRef,
        config: ProvisionedConfig,
    ) -> Arc<Provisioned> {
        let provisioned = Provisioned::new(function.clone(), config);
        let previous = self
            .provisioned
            .lock()
            .insert(function, provisioned.clone());
        if let Some(previous) = previous {
            self.stop_provisioned(&previous);
        }
        tokio::spawn(self.clone().keep_provisioned(provisioned.clone()));
        provisioned
    }

    fn stop_provisioned(&self, provisioned: &Arc<Provisioned>) {
        provisioned.active.store(false, Ordering::Release);
        self.pool.release(provisioned);
    }

    /// Deletes a configuration; false if there was none.
    pub async fn delete_provisioned(&self, function: &FunctionRef) -> Result<bool, ControlError> {
        let existed = self.registry.forget_provisioned(function).await?;
        if let Some(p) = self.provisioned.lock().remove(function) {
            self.stop_provisioned(&p);
        }
        Ok(existed)
    }

    /// One configuration's live state.
    pub fn provisioned(&self, function: &FunctionRef) -> Option<Arc<Provisioned>> {
        self.provisioned.lock().get(function).cloned()
    }

    /// A function's configurations, ordered by qualifier.
    pub fn provisioned_of(&self, scope: &Scope, name: &str) -> Vec<Arc<Provisioned>> {
        let mut all: Vec<_> = self
            .provisioned
            .lock()
            .values()
            .filter(|p| p.function.scope == *scope && p.function.name == name)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.qualifier().cmp(b.qualifier()));
        all
    }

    /// Keeps `requested` initialized environments for the configuration while it stands.
    async fn keep_provisioned(self: Arc<Self>, provisioned: Arc<Provisioned>) {
        const PARALLEL_STARTS: usize = 4;
        while provisioned.is_active() {
            let Ok(function) = self.registry.resolve(&provisioned.function) else {
                // The version or alias is gone; its configuration went with it.
                self.provisioned.lock().remove(&provisioned.function);
                self.stop_provisioned(&provisioned);
                return;
            };
            let wanted = provisioned.config.requested as usize;
            let missing = wanted.saturating_sub(provisioned.available());
            if missing == 0 {
                let mut status = provisioned.status.lock();
                if *status == ProvisionedStatus::InProgress {
                    *status = ProvisionedStatus::Ready;
                }
            } else {
                let mut starts = tokio::task::JoinSet::new();
                for _ in 0..missing.min(PARALLEL_STARTS) {
                    let (me, function, owner) =
                        (self.clone(), function.clone(), provisioned.clone());
                    starts.spawn(async move { me.initialize_ahead(&function, owner).await });
                }
                while let Some(started) = starts.join_next().await {
                    if let Ok(Err(reason)) = started {
                        tracing::warn!(function = %provisioned.function.name, qualifier = %provisioned.qualifier(), %reason, "provisioned environment failed to initialize");
                        *provisioned.status.lock() = ProvisionedStatus::Failed(reason);
                        return;
                    }
                }
                continue;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts one environment, waits until its runtime is in `next`, and parks it in the pool.
    async fn initialize_ahead(
        &self,
        function: &FunctionSnapshot,
        owner: Arc<Provisioned>,
    ) -> Result<(), String> {
        let mut env = self
            .start_environment(&owner.function.scope, function, "provisioned-concurrency")
            .await
            .map_err(|e| e.to_string())?;
        let state = env.api.state.clone();
        let mut ready = state.ready.subscribe();
        let mut exit = env.exit.clone();
        let reported = state.init_error_reported.notified();
        tokio::pin!(reported);
        reported.as_mut().enable();
        let failed = |state: &crate::runtime_api::RuntimeApiState| {
            state
                .init_error()
                .and_then(|e| e.error_type)
                .unwrap_or_else(|| "Runtime.ExitError".into())
        };
        tokio::select! {
            _ = ready.wait_for(|r| *r) => {}
            _ = exit.wait_for(Option::is_some) => return Err(failed(&state)),
            _ = &mut reported => return Err(failed(&state)),
            _ = tokio::time::sleep(self.config.init_timeout) => return Err("Runtime.InitTimeout".into()),
        }
        if !owner.is_active() {
            return Ok(());
        }
        env.mark_initialized();
        env.provisioned = Some(Ticket::new(owner));
        self.pool.put(env);
        Ok(())
    }
}
