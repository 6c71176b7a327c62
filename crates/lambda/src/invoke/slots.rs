//! Concurrency slots: Lambda's concurrency model, per scope (each region of each account has its
//! own limit, as on AWS). A function with reserved concurrency runs within it (0 disables the
//! function); the others share what the reservations leave of the limit. A [`Slot`] is held for
//! the whole invocation and gives its place back when dropped, however the invocation ends, and
//! says so ([`Slots::freed`]): the asynchronous dispatcher waits for that instead of retrying
//! throttled deliveries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use nubo_wire::Scope;
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::InvokeError;

/// One scope's running invocations.
#[derive(Default)]
struct ScopeSlots {
    /// Invocations of functions without a reservation.
    unreserved: AtomicUsize,
    /// Invocations of each function with a reservation.
    functions: RwLock<HashMap<String, Arc<AtomicUsize>>>,
}

impl ScopeSlots {
    fn function(&self, name: &str) -> Arc<AtomicUsize> {
        if let Some(counter) = self.functions.read().get(name) {
            return counter.clone();
        }
        self.functions
            .write()
            .entry(name.to_owned())
            .or_default()
            .clone()
    }
}

/// Every scope's slots.
#[derive(Default)]
pub(crate) struct Slots {
    shared: Arc<Shared>,
    scopes: RwLock<HashMap<Scope, Arc<ScopeSlots>>>,
}

/// What every slot reports back to.
#[derive(Default)]
struct Shared {
    active: AtomicUsize,
    /// Signalled (one stored permit) whenever a slot is given back.
    freed: Notify,
}

/// A taken slot; dropping it releases the account-wide count and the function's or the
/// unreserved pool's.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    scope: Arc<ScopeSlots>,
    /// The function's own count when it has a reservation; else the slot is the scope's.
    reserved: Option<Arc<AtomicUsize>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        match &self.reserved {
            Some(counter) => counter.fetch_sub(1, Ordering::AcqRel),
            None => self.scope.unreserved.fetch_sub(1, Ordering::AcqRel),
        };
        self.shared.freed.notify_one();
    }
}

impl Slots {
    fn scope(&self, scope: &Scope) -> Arc<ScopeSlots> {
        if let Some(slots) = self.scopes.read().get(scope) {
            return slots.clone();
        }
        self.scopes
            .write()
            .entry(scope.clone())
            .or_default()
            .clone()
    }

    /// Takes a slot for an invocation of `name` in `scope`: within the function's `reserved`
    /// count if it has one, else within `limit − reserved_total` shared by the scope's others.
    pub(crate) fn acquire(
        &self,
        scope: &Scope,
        name: &str,
        reserved: Option<u32>,
        reserved_total: usize,
        limit: usize,
    ) -> Result<Slot, InvokeError> {
        let slots = self.scope(scope);
        // Counted first, then checked, so two racing callers cannot both take the last slot; a
        // refused count is taken back without signalling `freed` (nothing was given back).
        let (counter, limit, reason) = match reserved {
            Some(reserved) => (
                Some(slots.function(name)),
                reserved as usize,
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            ),
            None => (
                None,
                limit.saturating_sub(reserved_total),
                "ConcurrentInvocationLimitExceeded",
            ),
        };
        let count = counter.as_deref().unwrap_or(&slots.unreserved);
        if count.fetch_add(1, Ordering::AcqRel) >= limit {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(InvokeError::Throttled { reason });
        }
        self.shared.active.fetch_add(1, Ordering::AcqRel);
        Ok(Slot {
            shared: self.shared.clone(),
            scope: slots,
            reserved: counter,
        })
    }

    /// How many more invocations of `name` would get a slot now (the same rules as
    /// [`Slots::acquire`]); pollers ask before taking work they could not run.
    pub(crate) fn available(
        &self,
        scope: &Scope,
        name: &str,
        reserved: Option<u32>,
        reserved_total: usize,
        limit: usize,
    ) -> usize {
        let slots = self.scope(scope);
        match reserved {
            Some(reserved) => {
                (reserved as usize).saturating_sub(slots.function(name).load(Ordering::Acquire))
            }
            None => limit
                .saturating_sub(reserved_total)
                .saturating_sub(slots.unreserved.load(Ordering::Acquire)),
        }
    }

    /// Invocations running now, in every scope.
    pub(crate) fn active(&self) -> usize {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Resolves once a slot has been given back since the last time it resolved (one stored
    /// wake-up, so a release while nobody waits is not lost). One consumer: the asynchronous
    /// dispatcher.
    pub(crate) async fn freed(&self) {
        self.shared.freed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(region: &str) -> Scope {
        Scope {
            region: region.into(),
            ..Scope::default()
        }
    }

    #[test]
    fn reservations_and_the_unreserved_pool_are_per_scope() {
        let slots = Slots::default();
        let east = scope("us-east-1");
        // Limit 3, of which 1 reserved elsewhere: two unreserved slots.
        let a = slots.acquire(&east, "f", None, 1, 3).unwrap();
        let b = slots.acquire(&east, "g", None, 1, 3).unwrap();
        assert!(matches!(
            slots.acquire(&east, "h", None, 1, 3),
            Err(InvokeError::Throttled {
                reason: "ConcurrentInvocationLimitExceeded"
            })
        ));
        // Another region has its own limit.
        let west = slots.acquire(&scope("eu-west-1"), "f", None, 0, 3).unwrap();
        let reserved = slots.acquire(&east, "r", Some(1), 1, 3).unwrap();
        assert!(matches!(
            slots.acquire(&east, "r", Some(1), 1, 3),
            Err(InvokeError::Throttled {
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded"
            })
        ));
        assert_eq!(slots.active(), 4);
        drop((a, b, west, reserved));
        assert_eq!(slots.active(), 0);
        assert!(slots.acquire(&east, "h", None, 1, 3).is_ok());
    }

    #[tokio::test]
    async fn a_released_slot_wakes_whoever_waits_for_one() {
        let slots = Arc::new(Slots::default());
        let east = scope("us-east-1");
        let held = slots.acquire(&east, "r", Some(1), 1, 3).unwrap();
        // A refused acquire gives nothing back, so it wakes no one.
        assert!(slots.acquire(&east, "r", Some(1), 1, 3).is_err());
        let waiter = {
            let slots = slots.clone();
            tokio::spawn(async move { slots.freed().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(slots.acquire(&east, "r", Some(1), 1, 3).is_ok());
    }
}
