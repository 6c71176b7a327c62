//! The control plane: what a function is and how it changes. Every record is validated here
//! ([`validate`]), held in memory by the [`Registry`] and written through to the store's documents
//! under the [`collections`] named there.
//!
//! One module per resource: [`records`] (the stored shapes), [`registry`] (the in-memory view and
//! its lookups), [`lifecycle`] (Pending → Active, InProgress → Successful), [`functions`], [`versions`], [`aliases`], [`concurrency`] (reserved and
//! provisioned, with the keepers of provisioned environments), [`event_invoke`] (asynchronous
//! invocation settings), [`permissions`] (resource-based policies and the invoke check every
//! invoking service makes).

pub mod aliases;
pub mod collections;
pub mod concurrency;
pub mod event_invoke;
pub mod functions;
pub mod layers;
pub mod lifecycle;
pub mod permissions;
pub mod records;
pub mod registry;
pub mod validate;
pub mod versions;

pub use registry::{FunctionChange, Registry};
