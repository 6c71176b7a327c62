//! Provisioned concurrency: environments initialized ahead of traffic for a version or alias.
//!
//! Each configuration has a keeper task in the [`Invoker`](crate::Invoker) that starts environments
//! until `requested` of them are initialized (their runtime waits in `next`), then tops the count
//! up whenever one is lost (a timeout or crash retires it). Each such environment holds a
//! [`Ticket`]; dropping the environment returns the ticket, so `available` is always the number
//! that exist. Idle reaping leaves them alone while their configuration stands.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// What is stored for a configuration.
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
    /// Function name.
    pub function: String,
    /// Version number or alias name.
    pub qualifier: String,
    /// The stored settings.
    pub config: ProvisionedConfig,
    pub(crate) alive: AtomicUsize,
    pub(crate) active: AtomicBool,
    pub(crate) status: Mutex<ProvisionedStatus>,
}

impl Provisioned {
    pub(crate) fn new(function: String, qualifier: String, config: ProvisionedConfig) -> Arc<Self> {
        Arc::new(Self {
            function,
            qualifier,
            config,
            alive: AtomicUsize::new(0),
            active: AtomicBool::new(true),
            status: Mutex::new(ProvisionedStatus::InProgress),
        })
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
    pub(crate) fn new(owner: Arc<Provisioned>) -> Self {
        owner.alive.fetch_add(1, Ordering::AcqRel);
        Self(owner)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::AcqRel);
    }
}
