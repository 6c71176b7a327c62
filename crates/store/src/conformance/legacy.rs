//! A database as the first store (schema version 0) wrote it, for migration tests here and in the
//! crates whose records it held.

use std::path::Path;

use rusqlite::{params, Connection};

/// Rows of a version-0 database. Documents are (first key, second key, JSON text).
#[derive(Debug, Clone, Default)]
pub struct Version0 {
    /// `functions`: (name, version, document).
    pub functions: Vec<(String, String, String)>,
    /// `aliases`: (function, alias, document).
    pub aliases: Vec<(String, String, String)>,
    /// `provisioned_concurrency`: (function, qualifier, document).
    pub provisioned: Vec<(String, String, String)>,
    /// `event_invoke_configs`: (function, qualifier, document).
    pub event_invoke_configs: Vec<(String, String, String)>,
    /// `documents`: (kind, id, document).
    pub documents: Vec<(String, String, String)>,
    /// `async_events`.
    pub events: Vec<Version0Event>,
    /// `log_events`: (function name or access-log group, stream, timestamp, message).
    pub logs: Vec<(String, String, i64, String)>,
}

/// A row of version 0's `async_events`.
#[derive(Debug, Clone, Default)]
pub struct Version0Event {
    /// Request id.
    pub id: String,
    /// Function name.
    pub function_name: String,
    /// Qualifier given by the caller.
    pub qualifier: Option<String>,
    /// The event.
    pub payload: Vec<u8>,
    /// Client context.
    pub client_context: Option<String>,
    /// Accepted at, epoch ms.
    pub received_ms: i64,
    /// Failed attempts.
    pub attempts: u32,
    /// Next attempt, epoch ms.
    pub not_before_ms: i64,
}

/// Version 0's schema, verbatim.
const VERSION_0_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS functions (
    name TEXT NOT NULL, version TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, function_name TEXT NOT NULL, stream TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS log_events_by_function ON log_events (function_name, id);
CREATE TABLE IF NOT EXISTS async_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, function_name TEXT NOT NULL,
    qualifier TEXT, payload BLOB NOT NULL, client_context TEXT, received_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL, not_before_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (
    function_name TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (function_name, name));
CREATE TABLE IF NOT EXISTS provisioned_concurrency (
    function_name TEXT NOT NULL, qualifier TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier));
CREATE TABLE IF NOT EXISTS event_invoke_configs (
    name TEXT NOT NULL, qualifier TEXT NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (name, qualifier));
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, id TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (kind, id));
";

impl Version0 {
    /// Writes these rows into a new version-0 database at `path` (WAL, as version 0 ran it).
    pub fn write(&self, path: &Path) {
        let conn = Connection::open(path).expect("create the database");
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(VERSION_0_SCHEMA).unwrap();
        let tables = [
            ("functions", "name, version", &self.functions),
            ("aliases", "function_name, name", &self.aliases),
            (
                "provisioned_concurrency",
                "function_name, qualifier",
                &self.provisioned,
            ),
            (
                "event_invoke_configs",
                "name, qualifier",
                &self.event_invoke_configs,
            ),
            ("documents", "kind, id", &self.documents),
        ];
        for (table, keys, rows) in tables {
            for (a, b, document) in rows {
                conn.execute(
                    &format!("INSERT INTO {table} ({keys}, document) VALUES (?1, ?2, ?3)"),
                    params![a, b, document],
                )
                .unwrap();
            }
        }
        for e in &self.events {
            conn.execute(
                "INSERT INTO async_events (id, function_name, qualifier, payload, client_context,
                     received_ms, attempts, not_before_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.id,
                    e.function_name,
                    e.qualifier,
                    e.payload,
                    e.client_context,
                    e.received_ms,
                    e.attempts,
                    e.not_before_ms
                ],
            )
            .unwrap();
        }
        for (function_name, stream, timestamp_ms, message) in &self.logs {
            conn.execute(
                "INSERT INTO log_events (function_name, stream, timestamp_ms, message)
                 VALUES (?1, ?2, ?3, ?4)",
                params![function_name, stream, timestamp_ms, message],
            )
            .unwrap();
        }
    }
}

/// Writes `rows` as version 0 did into `<data_dir>/nubo.db` (the default store location).
pub fn write_version_0_database(data_dir: &Path, rows: &Version0) {
    std::fs::create_dir_all(data_dir).unwrap();
    rows.write(&data_dir.join("nubo.db"));
}
