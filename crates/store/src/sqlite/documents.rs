//! Documents in SQLite: one `WITHOUT ROWID` table keyed by (collection, key), so a prefix listing
//! is a range scan of the primary key; revisions come from one counter row bumped in the same
//! transaction as the writes.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::{db, prefix_end, write_transaction, Inner, SqliteStore, TextBytes};
use crate::{Change, Document, Documents, ListQuery, Outcome, Precondition, Revision, StoreError};

fn pick(inner: &Inner) -> &parking_lot::Mutex<Connection> {
    &inner.documents
}

#[async_trait]
impl Documents for SqliteStore {
    async fn get(&self, collection: &str, key: &str) -> Result<Option<Document>, StoreError> {
        let (collection, key) = (collection.to_owned(), key.to_owned());
        self.with(pick, move |conn| {
            conn.prepare_cached(
                "SELECT body, revision FROM documents WHERE collection = ?1 AND key = ?2",
            )
            .map_err(db)?
            .query_row(params![collection, key], |row| {
                Ok(Document {
                    key: key.clone(),
                    body: row.get(0)?,
                    revision: Revision::new(row.get::<_, i64>(1)? as u64),
                })
            })
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn list(&self, collection: &str, query: ListQuery) -> Result<Vec<Document>, StoreError> {
        let collection = collection.to_owned();
        self.with(pick, move |conn| list(conn, &collection, &query))
            .await
    }

    async fn commit(&self, changes: Vec<Change>) -> Result<Vec<Outcome>, StoreError> {
        for change in &changes {
            change.check()?;
        }
        self.with(pick, move |conn| commit(conn, &changes)).await
    }
}

fn list(
    conn: &Connection,
    collection: &str,
    query: &ListQuery,
) -> Result<Vec<Document>, StoreError> {
    // Only the bounds that apply go into the statement, so SQLite always sees a plain range on
    // the primary key.
    let end = prefix_end(&query.prefix);
    let mut sql = String::from(
        "SELECT key, body, revision FROM documents WHERE collection = ?1 AND key >= ?2",
    );
    let mut args: Vec<&dyn ToSql> = vec![&collection, &query.prefix];
    let end_bytes;
    if let Some(end) = &end {
        end_bytes = TextBytes(end);
        sql.push_str(" AND key < ?3");
        args.push(&end_bytes);
    }
    if let Some(after) = &query.start_after {
        sql.push_str(&format!(" AND key > ?{}", args.len() + 1));
        args.push(after);
    }
    let limit = query.limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
    sql.push_str(&format!(" ORDER BY key LIMIT ?{}", args.len() + 1));
    args.push(&limit);
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(args.as_slice(), |row| {
            Ok(Document {
                key: row.get(0)?,
                body: row.get(1)?,
                revision: Revision::new(row.get::<_, i64>(2)? as u64),
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn current_revision(
    tx: &rusqlite::Transaction<'_>,
    collection: &str,
    key: &str,
) -> Result<Option<Revision>, StoreError> {
    tx.prepare_cached("SELECT revision FROM documents WHERE collection = ?1 AND key = ?2")
        .map_err(db)?
        .query_row(params![collection, key], |row| row.get::<_, i64>(0))
        .optional()
        .map_err(db)
        .map(|r| r.map(|r| Revision::new(r as u64)))
}

fn check(
    precondition: Precondition,
    current: Option<Revision>,
    collection: &str,
    key: &str,
) -> Result<(), StoreError> {
    let name = || format!("{collection}/{key}");
    match (precondition, current) {
        (Precondition::None, _) => Ok(()),
        (Precondition::Absent, None) => Ok(()),
        (Precondition::Absent, Some(_)) => Err(StoreError::AlreadyExists(name())),
        (Precondition::Revision(expected), Some(found)) if expected == found => Ok(()),
        (Precondition::Revision(_), _) => Err(StoreError::Conflict(name())),
    }
}

fn commit(conn: &mut Connection, changes: &[Change]) -> Result<Vec<Outcome>, StoreError> {
    let tx = write_transaction(conn)?;
    let mut revision: i64 = tx
        .query_row(
            "SELECT value FROM store_meta WHERE name = 'document_revision'",
            [],
            |row| row.get(0),
        )
        .map_err(db)?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::Put {
                collection,
                key,
                body,
                precondition,
            } => {
                if *precondition != Precondition::None {
                    let current = current_revision(&tx, collection, key)?;
                    check(*precondition, current, collection, key)?;
                }
                revision += 1;
                tx.prepare_cached(
                    "INSERT INTO documents (collection, key, revision, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (collection, key)
                     DO UPDATE SET revision = excluded.revision, body = excluded.body",
                )
                .map_err(db)?
                .execute(params![collection, key, revision, body])
                .map_err(db)?;
                outcomes.push(Outcome::Put(Revision::new(revision as u64)));
            }
            Change::Delete {
                collection,
                key,
                precondition,
            } => {
                if *precondition != Precondition::None {
                    let current = current_revision(&tx, collection, key)?;
                    check(*precondition, current, collection, key)?;
                }
                let deleted = tx
                    .prepare_cached("DELETE FROM documents WHERE collection = ?1 AND key = ?2")
                    .map_err(db)?
                    .execute(params![collection, key])
                    .map_err(db)?;
                outcomes.push(Outcome::Deleted(deleted as u64));
            }
            Change::DeletePrefix { collection, prefix } => {
                // `check` refused an empty prefix, so there is always an upper end.
                let end = prefix_end(prefix).unwrap_or_default();
                let deleted = tx
                    .prepare_cached(
                        "DELETE FROM documents WHERE collection = ?1 AND key >= ?2 AND key < ?3",
                    )
                    .map_err(db)?
                    .execute(params![collection, prefix, TextBytes(&end)])
                    .map_err(db)?;
                outcomes.push(Outcome::Deleted(deleted as u64));
            }
        }
    }
    tx.execute(
        "UPDATE store_meta SET value = ?1 WHERE name = 'document_revision'",
        [revision],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(outcomes)
}
