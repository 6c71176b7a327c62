//! The schema (version 1, in `PRAGMA user_version`) and the one-time migration from the tables of
//! the first store (version 0: one table per Lambda record kind).

use rusqlite::{params, Connection, OptionalExtension};

use super::{db, write_transaction};
use crate::StoreError;

/// The schema this code reads and writes.
const VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (collection, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO store_meta (name, value) VALUES ('document_revision', 0);
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (queue, id)
);
CREATE TABLE IF NOT EXISTS log_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group TEXT NOT NULL,
    stream TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    ingestion_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_time ON log_events (log_group, timestamp_ms, seq);
CREATE TABLE IF NOT EXISTS log_streams (
    log_group TEXT NOT NULL,
    stream TEXT NOT NULL,
    first_event_ms INTEGER NOT NULL,
    last_event_ms INTEGER NOT NULL,
    last_ingestion_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (log_group, stream)
) WITHOUT ROWID;
";

/// Collection, queue and group names the migration gives version 0's Lambda-shaped tables. The
/// lambda crate owns these names (`nubo_lambda::control::collections`); they are repeated here because
/// this migration is the only code that must know where the old tables' rows go.
pub(crate) mod legacy_names {
    /// `functions` (name, version).
    pub(crate) const FUNCTIONS: &str = "lambda-function";
    /// `aliases` (function, alias).
    pub(crate) const ALIASES: &str = "lambda-alias";
    /// `provisioned_concurrency` (function, qualifier).
    pub(crate) const PROVISIONED: &str = "lambda-provisioned-concurrency";
    /// `event_invoke_configs` (function, qualifier).
    pub(crate) const EVENT_INVOKE_CONFIGS: &str = "lambda-event-invoke-config";
    /// `async_events`.
    pub(crate) const ASYNC_QUEUE: &str = "lambda-async";
    /// Function logs were keyed by function name: their group is this plus the name.
    pub(crate) const FUNCTION_LOG_GROUP_PREFIX: &str = "/aws/lambda/";
}

/// Tables added within version 1, created (and filled from what exists) at every open: log groups
/// with their creation time and retention; a group written before this table existed is adopted
/// with its first event's time.
const ADDITIONS: &str = "
CREATE TABLE IF NOT EXISTS log_groups (
    log_group TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    retention_days INTEGER
) WITHOUT ROWID;
INSERT OR IGNORE INTO log_groups (log_group, created_ms)
    SELECT log_group, MIN(first_event_ms) FROM log_streams GROUP BY log_group;
";

/// Brings the database to [`VERSION`]: creates it, or migrates version 0 in one transaction.
pub(super) fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db)?;
    if version > VERSION {
        return Err(StoreError::Config(format!(
            "the database has schema version {version}, newer than this Nubo's {VERSION}: \
             it was written by a newer release"
        )));
    }
    if version == VERSION {
        return conn.execute_batch(ADDITIONS).map_err(db);
    }
    let tx = write_transaction(conn)?;
    let legacy = tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'functions'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(db)?
        .is_some();
    if legacy {
        // Version 0 used the names `documents` and `log_events` for other shapes.
        tx.execute_batch(
            "ALTER TABLE documents RENAME TO legacy_documents;
             ALTER TABLE log_events RENAME TO legacy_log_events;
             DROP INDEX IF EXISTS log_events_by_function;",
        )
        .map_err(db)?;
    }
    tx.execute_batch(SCHEMA).map_err(db)?;
    if legacy {
        migrate_version_0(&tx)?;
    }
    tx.execute_batch(ADDITIONS).map_err(db)?;
    tx.pragma_update(None, "user_version", VERSION)
        .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(())
}

fn migrate_version_0(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    use legacy_names::*;
    // Every migrated document starts at revision 1; the counter continues from there.
    let copies = [
        ("SELECT ?1, name || '/' || version, 1, document FROM functions", FUNCTIONS),
        ("SELECT ?1, function_name || '/' || name, 1, document FROM aliases", ALIASES),
        (
            "SELECT ?1, function_name || '/' || qualifier, 1, document FROM provisioned_concurrency",
            PROVISIONED,
        ),
        (
            "SELECT ?1, name || '/' || qualifier, 1, document FROM event_invoke_configs",
            EVENT_INVOKE_CONFIGS,
        ),
    ];
    for (select, collection) in copies {
        tx.execute(
            &format!("INSERT INTO documents (collection, key, revision, body) {select}"),
            [collection],
        )
        .map_err(db)?;
    }
    tx.execute_batch(
        "INSERT INTO documents (collection, key, revision, body)
             SELECT kind, id, 1, document FROM legacy_documents;
         UPDATE store_meta SET value = 1 WHERE name = 'document_revision';",
    )
    .map_err(db)?;

    // Queued events: the lambda crate's message body is a JSON header line (function,
    // qualifier, client context) followed by the event's bytes.
    let mut events = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "SELECT id, function_name, qualifier, payload, client_context, received_ms,
                        attempts, not_before_ms
                 FROM async_events ORDER BY seq",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let header = serde_json::json!({
                "function": row.get::<_, String>(1).map_err(db)?,
                "qualifier": row.get::<_, Option<String>>(2).map_err(db)?,
                "clientContext": row.get::<_, Option<String>>(4).map_err(db)?,
            });
            let mut body = header.to_string().into_bytes();
            body.push(b'\n');
            body.extend_from_slice(&row.get::<_, Vec<u8>>(3).map_err(db)?);
            events.push((
                row.get::<_, String>(0).map_err(db)?,
                body,
                row.get::<_, i64>(6).map_err(db)?,
                row.get::<_, i64>(7).map_err(db)?,
                row.get::<_, i64>(5).map_err(db)?,
            ));
        }
    }
    for (id, body, attempts, not_before_ms, received_ms) in events {
        tx.execute(
            "INSERT INTO queue_messages (queue, id, body, attempts, not_before_ms, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ASYNC_QUEUE, id, body, attempts, not_before_ms, received_ms],
        )
        .map_err(db)?;
    }

    // Logs: function logs were keyed by function name (their streams are dated
    // `YYYY/MM/DD/[version]…`); access logs already by their log group.
    tx.execute(
        "INSERT INTO log_events (log_group, stream, timestamp_ms, ingestion_ms, message)
         SELECT CASE WHEN stream GLOB '[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[[]*'
                     THEN ?1 || function_name ELSE function_name END,
                stream, timestamp_ms, timestamp_ms, message
         FROM legacy_log_events ORDER BY id",
        [FUNCTION_LOG_GROUP_PREFIX],
    )
    .map_err(db)?;
    tx.execute_batch(
        "INSERT INTO log_streams
             (log_group, stream, first_event_ms, last_event_ms, last_ingestion_ms, events)
         SELECT log_group, stream, MIN(timestamp_ms), MAX(timestamp_ms), MAX(ingestion_ms), COUNT(*)
         FROM log_events GROUP BY log_group, stream;
         DROP TABLE functions;
         DROP TABLE aliases;
         DROP TABLE provisioned_concurrency;
         DROP TABLE event_invoke_configs;
         DROP TABLE legacy_documents;
         DROP TABLE async_events;
         DROP TABLE legacy_log_events;",
    )
    .map_err(db)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::legacy_names;
    use crate::conformance::{write_version_0_database, Version0, Version0Event};
    use crate::{ListQuery, LogQuery, StoreConfig};

    fn row(a: &str, b: &str, doc: &str) -> (String, String, String) {
        (a.into(), b.into(), doc.into())
    }

    #[tokio::test]
    async fn a_version_0_database_is_migrated_once_at_open() {
        let dir = tempfile::tempdir().unwrap();
        write_version_0_database(
            dir.path(),
            &Version0 {
                functions: vec![
                    row("f", "$LATEST", "{\"f\":\"latest\"}"),
                    row("f", "1", "{\"f\":1}"),
                    row("g", "$LATEST", "{\"g\":\"latest\"}"),
                ],
                aliases: vec![row("f", "live", "{\"alias\":1}")],
                provisioned: vec![row("f", "1", "{\"requested\":2}")],
                event_invoke_configs: vec![row("f", "$LATEST", "{\"retries\":0}")],
                documents: vec![
                    row("apigw-api", "abc123", "{\"api\":1}"),
                    row("function-url", "f", "{\"url\":1}"),
                ],
                events: vec![
                    Version0Event {
                        id: "e1".into(),
                        function_name: "f".into(),
                        payload: b"{\"n\":1}".to_vec(),
                        received_ms: 100,
                        not_before_ms: 100,
                        ..Default::default()
                    },
                    Version0Event {
                        id: "e2".into(),
                        function_name: "f".into(),
                        qualifier: Some("live".into()),
                        payload: b"{\"n\":2}".to_vec(),
                        client_context: Some("ctx".into()),
                        received_ms: 200,
                        attempts: 1,
                        not_before_ms: 300,
                    },
                ],
                logs: vec![
                    (
                        "f".into(),
                        "2026/01/01/[$LATEST]abc".into(),
                        10,
                        "START".into(),
                    ),
                    (
                        "my-access-logs".into(),
                        "abc123/prod".into(),
                        20,
                        "GET /".into(),
                    ),
                ],
            },
        );
        let config = StoreConfig::in_data_dir(dir.path());
        for _ in 0..2 {
            // The second open finds version 1 and changes nothing.
            let stores = config.open(dir.path()).await.unwrap();
            let docs = |collection: &'static str| {
                let documents = stores.documents.clone();
                async move {
                    documents
                        .list(collection, ListQuery::all())
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|d| (d.key, d.body))
                        .collect::<Vec<_>>()
                }
            };
            let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
            assert_eq!(
                docs(legacy_names::FUNCTIONS).await,
                [
                    pair("f/$LATEST", "{\"f\":\"latest\"}"),
                    pair("f/1", "{\"f\":1}"),
                    pair("g/$LATEST", "{\"g\":\"latest\"}")
                ]
            );
            assert_eq!(
                docs(legacy_names::ALIASES).await,
                [pair("f/live", "{\"alias\":1}")]
            );
            assert_eq!(
                docs(legacy_names::PROVISIONED).await,
                [pair("f/1", "{\"requested\":2}")]
            );
            assert_eq!(
                docs(legacy_names::EVENT_INVOKE_CONFIGS).await,
                [pair("f/$LATEST", "{\"retries\":0}")]
            );
            assert_eq!(docs("apigw-api").await, [pair("abc123", "{\"api\":1}")]);
            assert_eq!(docs("function-url").await, [pair("f", "{\"url\":1}")]);

            let queued = stores
                .queues
                .messages(legacy_names::ASYNC_QUEUE)
                .await
                .unwrap();
            assert_eq!(queued.len(), 2);
            assert_eq!(
                queued[0].body,
                b"{\"clientContext\":null,\"function\":\"f\",\"qualifier\":null}\n{\"n\":1}"
            );
            assert_eq!(
                (
                    queued[1].id.as_str(),
                    queued[1].attempts,
                    queued[1].not_before_ms,
                    queued[1].received_ms
                ),
                ("e2", 1, 300, 200)
            );
            assert_eq!(
                queued[1].body,
                b"{\"clientContext\":\"ctx\",\"function\":\"f\",\"qualifier\":\"live\"}\n{\"n\":2}"
            );

            let read = |group: &str| LogQuery {
                group: group.into(),
                ..LogQuery::default()
            };
            let function_logs = stores.logs.read(read("/aws/lambda/f")).await.unwrap();
            assert_eq!(function_logs.events.len(), 1);
            assert_eq!(function_logs.events[0].event.message, "START");
            let access = stores.logs.read(read("my-access-logs")).await.unwrap();
            assert_eq!(access.events[0].event.stream, "abc123/prod");
            assert_eq!(
                stores.logs.streams("/aws/lambda/f", "").await.unwrap()[0].events,
                1
            );
        }
        // New writes continue after the migrated revisions.
        let stores = config.open(dir.path()).await.unwrap();
        let migrated = stores
            .documents
            .get(legacy_names::FUNCTIONS, "f/1")
            .await
            .unwrap()
            .unwrap();
        let next = stores
            .documents
            .put(
                legacy_names::FUNCTIONS,
                "f/1",
                "{}".into(),
                crate::Precondition::Revision(migrated.revision),
            )
            .await
            .unwrap();
        assert!(next > migrated.revision);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nubo.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        drop(conn);
        let refused = crate::SqliteStore::open_file(&path).err().unwrap();
        assert!(refused.to_string().contains("newer"), "{refused}");
    }
}
