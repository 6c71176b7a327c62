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
pub mod collections;
pub mod credentials;
pub mod error;
pub mod function;
pub mod invoker;
pub mod logs;
pub mod provisioned;
pub mod registry;
pub mod runtimes;
pub mod sandbox;
pub mod validate;

mod environment;
mod metrics;
mod queued_event;
mod runtime_api;

pub use asynchronous::{AsyncConfig, AsyncInvoker, EventInvokeConfig, QueuedEvent};
pub use error::{ControlError, InvokeError};
pub use function::{AliasRecord, AliasSnapshot, FunctionRecord, FunctionSnapshot, LATEST};
pub use invoker::{InvokeRequest, InvokeResult, Invoker, InvokerConfig};
pub use registry::Registry;
