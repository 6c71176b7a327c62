//! How SQS messages reach the store: every send, receive, delete and visibility change submits
//! its queue operations and waits for the commit. The store group-commits (whatever gathers
//! while one transaction syncs goes into the next, the asynchronous-invocation queue's batches
//! included), so a durable send costs a share of an fsync under load rather than a whole one.

use std::sync::Arc;

use nubo_store::{QueueOp, Queues};

use crate::QueueError;

/// Hands operations to the store.
#[derive(Clone)]
pub(crate) struct Committer {
    store: Arc<dyn Queues>,
}

impl Committer {
    /// A committer over `store`.
    pub(crate) fn start(store: Arc<dyn Queues>) -> Self {
        Self { store }
    }

    /// Commits `ops` durably (nothing to do for none).
    pub(crate) async fn commit(&self, ops: Vec<QueueOp>) -> Result<(), QueueError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.store.submit(ops).await.map_err(|e| {
            tracing::error!(error = %e, "an SQS queue commit failed");
            QueueError::Store(e.to_string())
        })
    }
}
