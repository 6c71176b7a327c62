//! The Lambda layer: functions and how they run.
//!
//! Owns the function [`registry`] (records, validated by [`validate`], written through to the
//! store's documents under the [`collections`] named there), the [`invoker`] (qualifier → environment → event → result under the timeout → logs),
//! execution [`environment`]s with their [`runtime_api`] listeners, the [`sandbox`] seam, the
//! [`runtimes`] (our python/node bootstraps, interpreter discovery), function [`logs`] (capture
//! and framing; `nubo_observe::LogWriter` stores them), [`asynchronous`] invocation (the durable
//! event queue, retries, destinations) and the invoker's and queue's metrics.
//! Does not own any wire shape: the edge maps these types to botocore's.

pub mod asynchronous;
pub mod control;
pub mod error;
pub mod invoke;
pub mod logs;
pub mod runtimes;
pub mod sandbox;

mod environment;
mod metrics;
mod runtime_api;

pub use asynchronous::{AsyncConfig, AsyncInvoker, EventInvokeConfig, QueuedEvent};
pub use control::records::{AliasRecord, AliasSnapshot, FunctionRecord, FunctionSnapshot, LATEST};
pub use control::Registry;
pub use error::{ControlError, InvokeError};
pub use invoke::{InvokeRequest, InvokeResult, Invoker, InvokerConfig};
