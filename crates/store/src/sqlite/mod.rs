//! The embedded default store: one SQLite file in WAL mode.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::{LogEvent, QueueOp, QueuedEvent, Store, StoreError};

/// SQLite-backed [`Store`]. One connection behind a mutex: control-plane writes are rare and
/// short, and the hot path never reaches here (it reads in-memory views). The asynchronous queue
/// has its own connection with `synchronous = FULL`: an acknowledged event must survive a power
/// cut, not just a crash, and its batches must not wait behind log writes.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    queue: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS functions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function_name TEXT NOT NULL,
    stream TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_function ON log_events (function_name, id);
CREATE TABLE IF NOT EXISTS async_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    function_name TEXT NOT NULL,
    qualifier TEXT,
    payload BLOB NOT NULL,
    client_context TEXT,
    received_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    function_name TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (function_name, name)
);
CREATE TABLE IF NOT EXISTS provisioned_concurrency (
    function_name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
CREATE TABLE IF NOT EXISTS event_invoke_configs (
    name TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (name, qualifier)
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
";

fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// The benchmark's baseline: `count` single-row inserts, each its own fsync'd transaction, into a
/// fresh SQLite file in `dir` configured like the queue. Returns each insert's duration.
pub fn raw_insert_baseline(
    dir: &Path,
    count: usize,
    payload: &[u8],
) -> Result<Vec<std::time::Duration>, StoreError> {
    let conn = open_connection(&dir.join("baseline.db"), "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL)",
    )?;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = std::time::Instant::now();
        conn.execute("INSERT INTO t (payload) VALUES (?1)", [payload])?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

impl SqliteStore {
    /// Opens (creating if needed) `nubo.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("nubo.db");
        let conn = open_connection(&path, "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        let queue = open_connection(&path, "FULL")?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
            queue: Mutex::new(queue),
        })
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("SQLite (WAL) at {}", self.path.display())
    }

    fn insert_function(&self, name: &str, version: &str, document: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO functions (name, version, document) VALUES (?1, ?2, ?3)",
            params![name, version, document],
        )?;
        if inserted == 0 {
            return Err(StoreError::AlreadyExists(format!(
                "function {name}:{version}"
            )));
        }
        Ok(())
    }

    fn update_function(&self, name: &str, version: &str, document: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let updated = conn.execute(
            "UPDATE functions SET document = ?3 WHERE name = ?1 AND version = ?2",
            params![name, version, document],
        )?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("function {name}:{version}")));
        }
        Ok(())
    }

    fn all_functions(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows_of("SELECT name, version, document FROM functions ORDER BY name, version")
    }

    fn delete_function(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let existed: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM functions WHERE name = ?1 LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute("DELETE FROM functions WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM log_events WHERE function_name = ?1", [name])?;
        tx.execute("DELETE FROM event_invoke_configs WHERE name = ?1", [name])?;
        tx.execute("DELETE FROM aliases WHERE function_name = ?1", [name])?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1",
            [name],
        )?;
        tx.commit()?;
        Ok(existed.is_some())
    }

    fn delete_function_version(&self, name: &str, version: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM functions WHERE name = ?1 AND version = ?2",
            params![name, version],
        )?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![name, version],
        )?;
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE name = ?1 AND qualifier = ?2",
            params![name, version],
        )?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn put_alias(&self, function: &str, alias: &str, document: &str) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO aliases (function_name, name, document) VALUES (?1, ?2, ?3)
             ON CONFLICT (function_name, name) DO UPDATE SET document = excluded.document",
            params![function, alias, document],
        )?;
        Ok(())
    }

    fn delete_alias(&self, function: &str, alias: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM aliases WHERE function_name = ?1 AND name = ?2",
            params![function, alias],
        )?;
        tx.execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![function, alias],
        )?;
        tx.execute(
            "DELETE FROM event_invoke_configs WHERE name = ?1 AND qualifier = ?2",
            params![function, alias],
        )?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn all_aliases(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows_of(
            "SELECT function_name, name, document FROM aliases ORDER BY function_name, name",
        )
    }

    fn put_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO provisioned_concurrency (function_name, qualifier, document) VALUES (?1, ?2, ?3)
             ON CONFLICT (function_name, qualifier) DO UPDATE SET document = excluded.document",
            params![function, qualifier, document],
        )?;
        Ok(())
    }

    fn delete_provisioned_concurrency(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        let deleted = self.conn.lock().execute(
            "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![function, qualifier],
        )?;
        Ok(deleted > 0)
    }

    fn all_provisioned_concurrency(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows_of(
            "SELECT function_name, qualifier, document FROM provisioned_concurrency ORDER BY function_name, qualifier",
        )
    }

    fn append_log_events(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO log_events (function_name, stream, timestamp_ms, message) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for e in events {
                stmt.execute(params![
                    e.function_name,
                    e.stream,
                    e.timestamp_ms,
                    e.message
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn recent_log_events(
        &self,
        function_name: &str,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT function_name, stream, timestamp_ms, message FROM log_events
             WHERE function_name = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![function_name, limit as i64], |row| {
            Ok(LogEvent {
                function_name: row.get(0)?,
                stream: row.get(1)?,
                timestamp_ms: row.get(2)?,
                message: row.get(3)?,
            })
        })?;
        let mut events: Vec<LogEvent> = rows.collect::<Result<_, _>>()?;
        events.reverse();
        Ok(events)
    }

    fn apply_queue_ops(&self, ops: &[QueueOp]) -> Result<(), StoreError> {
        let mut conn = self.queue.lock();
        let tx = conn.transaction()?;
        for op in ops {
            match op {
                QueueOp::Enqueue(e) => {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO async_events (id, function_name, qualifier, payload, client_context, received_ms, attempts, not_before_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        e.id,
                        e.function_name,
                        e.qualifier,
                        e.payload,
                        e.client_context,
                        e.received_ms,
                        e.attempts,
                        e.not_before_ms
                    ])?;
                }
                QueueOp::Reschedule {
                    id,
                    attempts,
                    not_before_ms,
                } => {
                    tx.prepare_cached(
                        "UPDATE async_events SET attempts = ?2, not_before_ms = ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, attempts, not_before_ms])?;
                }
                QueueOp::Remove(id) => {
                    tx.prepare_cached("DELETE FROM async_events WHERE id = ?1")?
                        .execute([id])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn queued_events(&self) -> Result<Vec<QueuedEvent>, StoreError> {
        let conn = self.queue.lock();
        let mut stmt = conn.prepare(
            "SELECT id, function_name, qualifier, payload, client_context, received_ms, attempts, not_before_ms
             FROM async_events ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(QueuedEvent {
                id: row.get(0)?,
                function_name: row.get(1)?,
                qualifier: row.get(2)?,
                payload: row.get(3)?,
                client_context: row.get(4)?,
                received_ms: row.get(5)?,
                attempts: row.get(6)?,
                not_before_ms: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_event_invoke_config(
        &self,
        name: &str,
        qualifier: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO event_invoke_configs (name, qualifier, document) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, qualifier) DO UPDATE SET document = excluded.document",
            params![name, qualifier, document],
        )?;
        Ok(())
    }

    fn delete_event_invoke_config(&self, name: &str, qualifier: &str) -> Result<bool, StoreError> {
        let deleted = self.conn.lock().execute(
            "DELETE FROM event_invoke_configs WHERE name = ?1 AND qualifier = ?2",
            params![name, qualifier],
        )?;
        Ok(deleted > 0)
    }

    fn all_event_invoke_configs(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.rows_of(
            "SELECT name, qualifier, document FROM event_invoke_configs ORDER BY name, qualifier",
        )
    }

    fn put_document(&self, kind: &str, id: &str, document: &str) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO documents (kind, id, document) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, id) DO UPDATE SET document = excluded.document",
            params![kind, id, document],
        )?;
        Ok(())
    }

    fn delete_document(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = self.conn.lock().execute(
            "DELETE FROM documents WHERE kind = ?1 AND id = ?2",
            params![kind, id],
        )?;
        Ok(deleted > 0)
    }

    fn all_documents(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt =
            conn.prepare("SELECT id, document FROM documents WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteStore {
    /// Rows of (key, key, document) from a query without parameters.
    fn rows_of(&self, sql: &str) -> Result<Vec<(String, String, String)>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_by_kind_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store.put_document("a", "1", "{}").unwrap();
            store.put_document("a", "1", "{\"v\":2}").unwrap();
            store.put_document("b", "1", "{}").unwrap();
            assert!(store.delete_document("b", "1").unwrap());
            assert!(!store.delete_document("b", "1").unwrap());
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(
            store.all_documents("a").unwrap(),
            vec![("1".to_owned(), "{\"v\":2}".to_owned())]
        );
        assert!(store.all_documents("b").unwrap().is_empty());
    }

    #[test]
    fn functions_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store.insert_function("b", "$LATEST", "{\"n\":2}").unwrap();
            store.insert_function("a", "$LATEST", "{\"n\":1}").unwrap();
            assert!(matches!(
                store.insert_function("a", "$LATEST", "{}"),
                Err(StoreError::AlreadyExists(_))
            ));
            store.update_function("a", "$LATEST", "{\"n\":3}").unwrap();
            assert!(matches!(
                store.update_function("zz", "$LATEST", "{}"),
                Err(StoreError::NotFound(_))
            ));
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let all = store.all_functions().unwrap();
        assert_eq!(
            all.iter()
                .map(|r| (r.0.as_str(), r.2.as_str()))
                .collect::<Vec<_>>(),
            [("a", "{\"n\":3}"), ("b", "{\"n\":2}")]
        );
        assert!(store.delete_function("a").unwrap());
        assert!(!store.delete_function("a").unwrap());
        assert_eq!(store.all_functions().unwrap().len(), 1);
    }

    #[test]
    fn queued_events_survive_reopen_until_removed() {
        let dir = tempfile::tempdir().unwrap();
        let event = |id: &str| QueuedEvent {
            id: id.into(),
            function_name: "f".into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            client_context: None,
            received_ms: 1,
            attempts: 0,
            not_before_ms: 1,
        };
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store
                .apply_queue_ops(&[
                    QueueOp::Enqueue(event("a")),
                    QueueOp::Enqueue(event("b")),
                    QueueOp::Enqueue(event("c")),
                    QueueOp::Remove("b".into()),
                    QueueOp::Reschedule {
                        id: "c".into(),
                        attempts: 2,
                        not_before_ms: 99,
                    },
                ])
                .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let queued = store.queued_events().unwrap();
        assert_eq!(
            queued
                .iter()
                .map(|e| (e.id.as_str(), e.attempts, e.not_before_ms))
                .collect::<Vec<_>>(),
            [("a", 0, 1), ("c", 2, 99)]
        );
    }

    #[test]
    fn logs_are_kept_per_function_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let event = |f: &str, m: &str| LogEvent {
            function_name: f.into(),
            stream: "s".into(),
            timestamp_ms: 1,
            message: m.into(),
        };
        store
            .append_log_events(&[
                event("f", "one"),
                event("g", "other"),
                event("f", "two"),
                event("f", "three"),
            ])
            .unwrap();
        let recent = store.recent_log_events("f", 2).unwrap();
        assert_eq!(
            recent
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["two", "three"]
        );
    }
}
