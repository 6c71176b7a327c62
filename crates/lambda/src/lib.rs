//! The Lambda layer: functions and how they run, in every scope (account and region) at once.
//!
//! One home per feature:
//! - [`control`]: the control plane — records, validation ([`control::validate`]), the
//!   in-memory [`Registry`] written through to the store (functions, versions, aliases, reserved
//!   and provisioned concurrency, event-invoke settings), keyed by scope;
//! - [`invoke`]: the invoker — concurrency slots, the pool of warm environments, delivery to the
//!   Runtime API, outcomes and their error texts;
//! - [`asynchronous`]: `Event` invocations — the durable queue, the dispatcher, retries and
//!   destinations;
//! - execution environments with their Runtime API listeners, the [`sandbox`] seam, the
//!   [`runtimes`] (our python/node bootstraps, interpreter discovery), function [`logs`] (capture
//!   and START/END/REPORT framing; `nubo_observe::LogWriter` stores them) and the invoker's and
//!   queue's metrics.
//!
//! Does not own any wire shape: the edge maps these types to botocore's.

pub mod asynchronous;
pub mod control;
pub mod credentials;
pub mod error;
pub mod event_sources;
pub mod invoke;
pub mod lineage;
pub mod logs;
pub mod runtimes;
pub mod sandbox;

mod environment;
mod extensions;
mod metrics;
mod runtime_api;

pub use asynchronous::{AsyncConfig, AsyncInvoker, QueuedEvent};
pub use control::event_invoke::EventInvokeConfig;
pub use control::permissions::{FunctionPolicy, Permission};
pub use control::records::{AliasRecord, AliasSnapshot, FunctionRecord, FunctionSnapshot, LATEST};
pub use control::{FunctionChange, Registry};
pub use environment::{EndpointServer, EnvironmentEndpoint};
pub use error::{ControlError, InvokeError};
pub use event_sources::{EventSourceMappings, MappingRecord};
pub use invoke::{InvokeRequest, InvokeResult, Invoker, InvokerConfig};
