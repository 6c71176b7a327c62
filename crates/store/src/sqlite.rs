//! The embedded default store: one SQLite file in WAL mode.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};

use crate::{LogEvent, Store, StoreError};

/// SQLite-backed [`Store`]. One connection behind a mutex: control-plane writes are rare and
/// short, and the hot path never reaches here (it reads in-memory views).
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
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
";

impl SqliteStore {
    /// Opens (creating if needed) `nubo.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("nubo.db");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
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
        let conn = self.conn.lock();
        let mut stmt =
            conn.prepare("SELECT name, version, document FROM functions ORDER BY name, version")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        tx.commit()?;
        Ok(existed.is_some())
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
