//! Queues in SQLite: one table of messages for every queue, written on the connection with
//! `synchronous = FULL`, so a batch is on disk when its commit is acknowledged. Batches go to
//! the group-commit thread ([`super::group_commit`]), which folds whatever gathers while one
//! transaction syncs into the next.

use async_trait::async_trait;
use rusqlite::{params, Transaction};
use tokio::sync::oneshot;

use super::group_commit::Submission;
use super::{db, Inner, SqliteStore};
use crate::{Message, QueueOp, Queues, StoreError};

fn pick(inner: &Inner) -> &parking_lot::Mutex<rusqlite::Connection> {
    &inner.queues
}

fn stopped() -> StoreError {
    StoreError::Backend("the queue commit thread has stopped".into())
}

#[async_trait]
impl Queues for SqliteStore {
    fn submit(&self, ops: Vec<QueueOp>) -> crate::Commit {
        let (done, outcome) = oneshot::channel();
        let sent = self.committer.send(Submission { ops, done });
        Box::pin(async move {
            sent.map_err(|_| stopped())?;
            outcome.await.map_err(|_| stopped())?
        })
    }

    async fn messages(&self, queue: &str) -> Result<Vec<Message>, StoreError> {
        let queue = queue.to_owned();
        self.with(pick, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, body, attempts, not_before_ms, received_ms
                     FROM queue_messages WHERE queue = ?1 ORDER BY seq",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([queue], |row| {
                    Ok(Message {
                        id: row.get(0)?,
                        body: row.get(1)?,
                        attempts: row.get(2)?,
                        not_before_ms: row.get(3)?,
                        received_ms: row.get(4)?,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }
}

/// One batch's ops inside the group's transaction (already checked by the caller).
pub(super) fn apply_ops(tx: &Transaction<'_>, ops: &[QueueOp]) -> Result<(), StoreError> {
    for op in ops {
        match op {
            QueueOp::Enqueue { queue, message } => {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO queue_messages
                         (queue, id, body, attempts, not_before_ms, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db)?
                .execute(params![
                    queue,
                    message.id,
                    message.body,
                    message.attempts,
                    message.not_before_ms,
                    message.received_ms
                ])
                .map_err(db)?;
            }
            QueueOp::Reschedule {
                queue,
                id,
                attempts,
                not_before_ms,
            } => {
                tx.prepare_cached(
                    "UPDATE queue_messages SET attempts = ?3, not_before_ms = ?4
                     WHERE queue = ?1 AND id = ?2",
                )
                .map_err(db)?
                .execute(params![queue, id, attempts, not_before_ms])
                .map_err(db)?;
            }
            QueueOp::Remove { queue, id } => {
                tx.prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2")
                    .map_err(db)?
                    .execute(params![queue, id])
                    .map_err(db)?;
            }
        }
    }
    Ok(())
}
