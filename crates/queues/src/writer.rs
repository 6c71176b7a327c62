//! The one writer of SQS messages to the store: every send, receive, delete and visibility
//! change hands its queue operations here and waits for the commit; whatever gathers while one
//! transaction syncs goes into the next (group commit), so a durable send costs a share of an
//! fsync under load rather than a whole one.

use std::sync::Arc;

use nubo_store::{QueueOp, Queues};
use tokio::sync::{mpsc, oneshot};

use crate::QueueError;

/// Most operations one commit takes.
const MAX_BATCH_OPS: usize = 4096;

struct Batch {
    ops: Vec<QueueOp>,
    ack: oneshot::Sender<Result<(), String>>,
}

/// Hands operations to the writer task.
#[derive(Clone)]
pub(crate) struct Committer {
    sender: mpsc::UnboundedSender<Batch>,
}

impl Committer {
    /// Starts the writer task.
    pub(crate) fn start(store: Arc<dyn Queues>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write(store, receiver));
        Self { sender }
    }

    /// Commits `ops` durably (nothing to do for none).
    pub(crate) async fn commit(&self, ops: Vec<QueueOp>) -> Result<(), QueueError> {
        if ops.is_empty() {
            return Ok(());
        }
        let (ack, acked) = oneshot::channel();
        self.sender
            .send(Batch { ops, ack })
            .map_err(|_| QueueError::Store("the queue writer has stopped".into()))?;
        match acked.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(QueueError::Store(e)),
            Err(_) => Err(QueueError::Store("the queue writer has stopped".into())),
        }
    }
}

async fn write(store: Arc<dyn Queues>, mut batches: mpsc::UnboundedReceiver<Batch>) {
    while let Some(first) = batches.recv().await {
        let mut ops = first.ops;
        let mut acks = vec![first.ack];
        while ops.len() < MAX_BATCH_OPS {
            match batches.try_recv() {
                Ok(more) => {
                    ops.extend(more.ops);
                    acks.push(more.ack);
                }
                Err(_) => break,
            }
        }
        let result = store.apply(ops).await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, "an SQS queue commit failed");
        }
        for ack in acks {
            let _ = ack.send(result.clone());
        }
    }
}
