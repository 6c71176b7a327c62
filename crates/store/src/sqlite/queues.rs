//! Queues in SQLite: one table of messages for every queue, written on the connection with
//! `synchronous = FULL`, so a batch is on disk when `apply` returns.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{db, write_transaction, Inner, SqliteStore};
use crate::{Message, QueueOp, Queues, StoreError};

fn pick(inner: &Inner) -> &parking_lot::Mutex<Connection> {
    &inner.queues
}

#[async_trait]
impl Queues for SqliteStore {
    async fn apply(&self, ops: Vec<QueueOp>) -> Result<(), StoreError> {
        self.with(pick, move |conn| apply(conn, &ops)).await
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

fn apply(conn: &mut Connection, ops: &[QueueOp]) -> Result<(), StoreError> {
    let tx = write_transaction(conn)?;
    for op in ops {
        // Checked inside the transaction: an invalid op anywhere in the batch rolls back the ops
        // before it (the transaction is dropped uncommitted).
        op.check()?;
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
    tx.commit().map_err(db)
}
