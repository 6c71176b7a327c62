//! Table rows and streams in SQLite (`nubo_store::TableRows`): writes on their own connection with
//! `synchronous = FULL` (an acknowledged PutItem survives a power cut), reads on a small pool of
//! read connections (WAL lets them run beside the writer), each call on the blocking pool.
//!
//! `table_rows` is one B-tree keyed by `(tbl, idx, pk, sk, ref)`: a GetItem is one point lookup, a
//! Query one range of it. `table_rows_scan` orders a Scan by `(hash, pk, sk, ref)` within a
//! table or index.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::{db, write_transaction, SqliteStore};
use crate::tables::{RowRange, ScanRange, StreamEntry, TableRow, TableRows, TableWrite};
use crate::StoreError;

/// Created at every open (the tables joined schema version 1 later, like `log_groups`).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS table_rows (
    tbl TEXT NOT NULL,
    idx TEXT NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    ref BLOB NOT NULL,
    hash INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (tbl, idx, pk, sk, ref)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS table_rows_scan ON table_rows (tbl, idx, hash, pk, sk, ref);
CREATE TABLE IF NOT EXISTS table_streams (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS table_streams_by_time ON table_streams (stream, created_ms);
INSERT OR IGNORE INTO store_meta (name, value) VALUES ('table_stream_sequence', 0);
";

/// The read connections of the tables.
pub(super) struct ReadPool {
    connections: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

impl ReadPool {
    pub(super) fn new(connections: Vec<Connection>) -> Self {
        Self {
            connections: connections.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A free connection if there is one, else the next in turn.
    fn with<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        for conn in &self.connections {
            if let Some(conn) = conn.try_lock() {
                return work(&conn);
            }
        }
        let at = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        work(&self.connections[at].lock())
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TableRow> {
    Ok(TableRow {
        pk: r.get(0)?,
        sk: r.get(1)?,
        reference: r.get(2)?,
        hash: r.get::<_, i64>(3)? as u16,
        body: r.get(4)?,
    })
}

impl SqliteStore {
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        crate::blocking::run(move || inner.table_reads.with(work)).await
    }
}

#[async_trait]
impl TableRows for SqliteStore {
    async fn get(&self, table: &str, pk: &[u8], sk: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (table, pk, sk) = (table.to_owned(), pk.to_vec(), sk.to_vec());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT body FROM table_rows WHERE tbl = ?1 AND idx = '' AND pk = ?2 AND sk = ?3 AND ref = x''",
            )
            .map_err(db)?
            .query_row(params![table, pk, sk], |r| r.get(0))
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn range(&self, range: RowRange) -> Result<Vec<TableRow>, StoreError> {
        self.read(move |conn| {
            let mut sql = String::from(
                "SELECT pk, sk, ref, hash, body FROM table_rows WHERE tbl = ?1 AND idx = ?2 AND pk = ?3",
            );
            let mut args: Vec<Box<dyn ToSql>> = vec![
                Box::new(range.table),
                Box::new(range.index),
                Box::new(range.pk),
            ];
            let mut bind = |sql: &mut String, clause: &str, value: Box<dyn ToSql>| {
                args.push(value);
                sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
            };
            if let Some(lower) = range.lower {
                let op = if lower.inclusive { ">=" } else { ">" };
                bind(&mut sql, &format!(" AND sk {op} ?"), Box::new(lower.sk));
            }
            if let Some(upper) = range.upper {
                let op = if upper.inclusive { "<=" } else { "<" };
                bind(&mut sql, &format!(" AND sk {op} ?"), Box::new(upper.sk));
            }
            if let Some((sk, reference)) = range.after {
                let op = if range.forward { ">" } else { "<" };
                bind(&mut sql, &format!(" AND (sk, ref) {op} (?, "), Box::new(sk));
                bind(&mut sql, "?)", Box::new(reference));
            }
            sql.push_str(if range.forward {
                " ORDER BY sk ASC, ref ASC"
            } else {
                " ORDER BY sk DESC, ref DESC"
            });
            bind(&mut sql, " LIMIT ?", Box::new(range.limit as i64));
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let rows = stmt.query_map(refs.as_slice(), row).map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn scan(&self, range: ScanRange) -> Result<Vec<TableRow>, StoreError> {
        self.read(move |conn| {
            let limit = range.limit as i64;
            let rows = match range.after {
                None => conn
                    .prepare_cached(
                        "SELECT pk, sk, ref, hash, body FROM table_rows
                         WHERE tbl = ?1 AND idx = ?2 AND hash BETWEEN ?3 AND ?4
                         ORDER BY hash, pk, sk, ref LIMIT ?5",
                    )
                    .map_err(db)?
                    .query_map(
                        params![
                            range.table,
                            range.index,
                            range.hash_from,
                            range.hash_to,
                            limit
                        ],
                        row,
                    )
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
                Some((hash, pk, sk, reference)) => conn
                    .prepare_cached(
                        "SELECT pk, sk, ref, hash, body FROM table_rows
                         WHERE tbl = ?1 AND idx = ?2 AND hash BETWEEN ?3 AND ?4
                           AND (hash, pk, sk, ref) > (?6, ?7, ?8, ?9)
                         ORDER BY hash, pk, sk, ref LIMIT ?5",
                    )
                    .map_err(db)?
                    .query_map(
                        params![
                            range.table,
                            range.index,
                            range.hash_from,
                            range.hash_to,
                            limit,
                            hash,
                            pk,
                            sk,
                            reference
                        ],
                        row,
                    )
                    .map_err(db)?
                    .collect::<Result<Vec<_>, _>>(),
            };
            rows.map_err(db)
        })
        .await
    }

    async fn write(&self, writes: Vec<TableWrite>) -> Result<(), StoreError> {
        self.with(|inner| &inner.tables, move |conn| apply(conn, writes))
            .await
    }

    async fn stream_read(
        &self,
        stream: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamEntry>, StoreError> {
        let stream = stream.to_owned();
        self.read(move |conn| {
            let rows = conn
                .prepare_cached(
                    "SELECT seq, created_ms, body FROM table_streams
                     WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )
                .map_err(db)?
                .query_map(params![stream, after as i64, limit as i64], |r| {
                    Ok(StreamEntry {
                        sequence: r.get::<_, i64>(0)? as u64,
                        created_ms: r.get(1)?,
                        body: r.get(2)?,
                    })
                })
                .map_err(db)?
                .collect::<Result<Vec<_>, _>>();
            rows.map_err(db)
        })
        .await
    }

    async fn stream_bounds(&self, stream: &str) -> Result<Option<(u64, u64)>, StoreError> {
        let stream = stream.to_owned();
        self.read(move |conn| {
            let bounds: (Option<i64>, Option<i64>) = conn
                .prepare_cached("SELECT MIN(seq), MAX(seq) FROM table_streams WHERE stream = ?1")
                .map_err(db)?
                .query_row([stream], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            Ok(match bounds {
                (Some(a), Some(b)) => Some((a as u64, b as u64)),
                _ => None,
            })
        })
        .await
    }
}

fn apply(conn: &mut Connection, writes: Vec<TableWrite>) -> Result<(), StoreError> {
    let tx = write_transaction(conn)?;
    for write in writes {
        match write {
            TableWrite::Put { table, index, row } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO table_rows (tbl, idx, pk, sk, ref, hash, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(db)?
                .execute(params![
                    table,
                    index,
                    row.pk,
                    row.sk,
                    row.reference,
                    row.hash,
                    row.body
                ])
                .map_err(db)?;
            }
            TableWrite::Delete {
                table,
                index,
                pk,
                sk,
                reference,
            } => {
                tx.prepare_cached(
                    "DELETE FROM table_rows WHERE tbl = ?1 AND idx = ?2 AND pk = ?3 AND sk = ?4 AND ref = ?5",
                )
                .map_err(db)?
                .execute(params![table, index, pk, sk, reference])
                .map_err(db)?;
            }
            TableWrite::Drop { table, index } => {
                match index {
                    Some(index) => tx
                        .execute(
                            "DELETE FROM table_rows WHERE tbl = ?1 AND idx = ?2",
                            params![table, index],
                        )
                        .map_err(db)?,
                    None => tx
                        .execute("DELETE FROM table_rows WHERE tbl = ?1", params![table])
                        .map_err(db)?,
                };
            }
            TableWrite::Append {
                stream,
                created_ms,
                body,
            } => {
                // One counter for every stream: a number is never reused, even after a trim.
                let sequence: i64 = tx
                    .prepare_cached(
                        "UPDATE store_meta SET value = value + 1
                         WHERE name = 'table_stream_sequence' RETURNING value",
                    )
                    .map_err(db)?
                    .query_row([], |r| r.get(0))
                    .map_err(db)?;
                tx.prepare_cached(
                    "INSERT INTO table_streams (stream, seq, created_ms, body) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db)?
                .execute(params![stream, sequence, created_ms, body])
                .map_err(db)?;
            }
            TableWrite::Trim { stream, before_ms } => {
                tx.execute(
                    "DELETE FROM table_streams WHERE stream = ?1 AND created_ms < ?2",
                    params![stream, before_ms],
                )
                .map_err(db)?;
            }
        }
    }
    tx.commit().map_err(db)
}
