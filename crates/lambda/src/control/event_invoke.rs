//! Event-invoke configs: a function's asynchronous-invocation settings per qualifier
//! (`PutFunctionEventInvokeConfig` and friends), kept in the [`Registry`] so they go in the same
//! commit as the version, alias or function they belong to. The asynchronous invoker reads them
//! for every delivery.

use std::sync::Arc;

use nubo_store::Transaction;
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use serde::{Deserialize, Serialize};

use super::collections;
use super::records::LATEST;
use super::registry::Registry;
use crate::ControlError;

/// A function's asynchronous-invocation settings for one qualifier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    /// Retries after a function error (0–2); Lambda's default 2 when unset.
    pub maximum_retry_attempts: Option<u32>,
    /// Oldest an event may get before it is given up (60–21600 s); 6 h when unset.
    pub maximum_event_age_seconds: Option<u32>,
    /// Destination ARN for successful invocations.
    pub on_success: Option<String>,
    /// Destination ARN for failed ones.
    pub on_failure: Option<String>,
    /// Epoch seconds of the last change.
    pub last_modified: f64,
}

/// The key settings are kept under: the reference's qualifier, `$LATEST` when it has none.
fn key(function: &FunctionRef) -> String {
    collections::key(
        &function.scope,
        &function.name,
        function.qualifier.as_deref().unwrap_or(LATEST),
    )
}

impl Registry {
    /// The settings for a reference's qualifier (`$LATEST` when it has none).
    pub fn event_invoke_config(&self, function: &FunctionRef) -> Option<Arc<EventInvokeConfig>> {
        self.event_invoke.get(&key(function))
    }

    /// Every qualifier's settings of a function, ordered by qualifier.
    pub fn event_invoke_configs(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Vec<(String, Arc<EventInvokeConfig>)> {
        self.event_invoke
            .with_prefix(&collections::function_prefix(scope, name))
            .into_iter()
            .filter_map(|(key, config)| {
                let (_, _, qualifier) = collections::split(&key)?;
                Some((qualifier.to_owned(), config))
            })
            .collect()
    }

    /// Stores settings (validated by the caller) for a version or alias that exists; persisted
    /// before they apply.
    pub async fn put_event_invoke_config(
        &self,
        function: &FunctionRef,
        mut config: EventInvokeConfig,
    ) -> Result<Arc<EventInvokeConfig>, ControlError> {
        let mut writer = self.writer().await;
        self.resolve(function)?;
        config.last_modified =
            nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc()) as f64 / 1000.0;
        let mut transaction = Transaction::new();
        let stored = self
            .event_invoke
            .put(&mut transaction, &key(function), config)?;
        writer.commit(transaction).await?;
        Ok(stored)
    }

    /// Removes settings; false if there were none.
    pub async fn delete_event_invoke_config(
        &self,
        function: &FunctionRef,
    ) -> Result<bool, ControlError> {
        let mut writer = self.writer().await;
        let key = key(function);
        if self.event_invoke.get(&key).is_none() {
            return Ok(false);
        }
        let mut transaction = Transaction::new();
        self.event_invoke.delete(&mut transaction, &key);
        writer.commit(transaction).await?;
        Ok(true)
    }
}
