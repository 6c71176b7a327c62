//! The control plane: what a function is and how it changes. Every record is validated here
//! ([`validate`]), held in memory by the [`Registry`] and written through to the store's documents
//! under the [`collections`] named there.
//!
//! One module per resource: [`records`] (the stored shapes), the [`registry`] (functions, versions,
//! aliases), [`concurrency`] (reserved and provisioned concurrency).

pub mod collections;
pub mod concurrency;
pub mod records;
pub mod registry;
pub mod validate;

pub use registry::Registry;
