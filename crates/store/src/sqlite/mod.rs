//! The embedded default backend: one SQLite file in WAL mode holding documents, queues and logs.
//!
//! Three connections, one per concern, so no concern waits behind another's mutex:
//! - documents (`synchronous = NORMAL`): control-plane writes, rare and small;
//! - queues (`synchronous = FULL`): an acknowledged event must survive a power cut, not just a
//!   crash, and its batches must not wait behind log writes;
//! - logs (`synchronous = NORMAL`): batched appends from the log writer.
//!
//! Every write transaction is `BEGIN IMMEDIATE`: it takes SQLite's single write lock up front and
//! waits for it under the busy timeout, instead of starting as a reader and failing with
//! "database is locked" when it tries to upgrade while the queue or the log writer is committing.
//! Queue batches are committed by one thread of their own that group-commits them
//! ([`group_commit`]); every other call runs on tokio's blocking pool ([`crate::blocking::run`]),
//! never on a runtime worker.

mod documents;
mod group_commit;
mod logs;
mod queues;
mod schema;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior};

use crate::StoreError;

/// SQLite-backed [`crate::Documents`], [`crate::Queues`] and [`crate::Logs`].
pub struct SqliteStore {
    inner: Arc<Inner>,
    /// The queue's group-commit thread (it stops when the store is dropped).
    committer: std::sync::mpsc::Sender<group_commit::Submission>,
}

struct Inner {
    path: PathBuf,
    documents: Mutex<Connection>,
    queues: Mutex<Connection>,
    logs: Mutex<Connection>,
    /// Table rows and streams: writes (`synchronous = FULL`) and a pool of readers.
    tables: Mutex<Connection>,
    table_reads: tables::ReadPool,
}

/// A backend failure, as text: `rusqlite::Error` stays inside this module.
fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Read connections of the tables: point reads and ranges run beside the writer (WAL).
const TABLE_READERS: usize = 4;

/// How long a writer waits for SQLite's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(db)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
    Ok(conn)
}

/// A write transaction that holds the write lock from its first statement.
fn write_transaction(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)
}

/// The benchmark's baseline: `count` single-row inserts, each its own fsync'd transaction, into a
/// fresh SQLite file in `dir` configured like the queue. Returns each insert's duration.
pub fn raw_insert_baseline(
    dir: &Path,
    count: usize,
    payload: &[u8],
) -> Result<Vec<Duration>, StoreError> {
    let conn = open_connection(&dir.join("baseline.db"), "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL)",
    )
    .map_err(db)?;
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = std::time::Instant::now();
        conn.execute("INSERT INTO t (payload) VALUES (?1)", [payload])
            .map_err(db)?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

/// The benchmark's read baseline: `count` rows inserted into a fresh SQLite file in `dir` in one
/// transaction, then `count` point reads by primary key (each a prepared statement's lookup).
/// Returns each read's duration.
pub fn raw_point_read_baseline(
    dir: &Path,
    count: usize,
    payload: &[u8],
) -> Result<Vec<Duration>, StoreError> {
    let mut conn = open_connection(&dir.join("reads.db"), "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS t (k BLOB PRIMARY KEY, payload BLOB NOT NULL) WITHOUT ROWID",
    )
    .map_err(db)?;
    let tx = write_transaction(&mut conn)?;
    for i in 0..count {
        tx.execute(
            "INSERT OR REPLACE INTO t (k, payload) VALUES (?1, ?2)",
            rusqlite::params![format!("key-{i}").into_bytes(), payload],
        )
        .map_err(db)?;
    }
    tx.commit().map_err(db)?;
    let mut stmt = conn
        .prepare_cached("SELECT payload FROM t WHERE k = ?1")
        .map_err(db)?;
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let key = format!("key-{}", (i * 7919) % count).into_bytes();
        let started = std::time::Instant::now();
        let _: Vec<u8> = stmt.query_row([key], |r| r.get(0)).map_err(db)?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, migrating an older schema once. Blocking:
    /// call it before serving or through [`crate::StoreConfig::open`].
    pub fn open_file(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut documents = open_connection(path, "NORMAL")?;
        schema::prepare(&mut documents)?;
        let queues = open_connection(path, "FULL")?;
        let logs = open_connection(path, "NORMAL")?;
        let tables = open_connection(path, "FULL")?;
        tables.execute_batch(tables::SCHEMA).map_err(db)?;
        let table_reads = tables::ReadPool::new(
            (0..TABLE_READERS)
                .map(|_| open_connection(path, "NORMAL"))
                .collect::<Result<_, _>>()?,
        );
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            documents: Mutex::new(documents),
            queues: Mutex::new(queues),
            logs: Mutex::new(logs),
            tables: Mutex::new(tables),
            table_reads,
        });
        let committer = group_commit::start(inner.clone())?;
        Ok(Self { inner, committer })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `work` with one of the connections on the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        pick: fn(&Inner) -> &Mutex<Connection>,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        crate::blocking::run(move || work(&mut pick(&inner).lock())).await
    }
}

/// Text bound as raw bytes: the exclusive upper end of a prefix range need not be valid UTF-8,
/// and SQLite compares text byte by byte (the BINARY collation) anyway.
struct TextBytes<'a>(&'a [u8]);

impl ToSql for TextBytes<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0)))
    }
}

/// The smallest byte string greater than every string that starts with `prefix` (`None` when
/// there is none, for an empty prefix). UTF-8 never contains 0xFF, so the last byte can grow.
fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::conformance_suite!(crate::conformance::SqliteBackend::new());

    /// Queue batches, log batches and control-plane commits at once, from three connections:
    /// every write transaction takes the write lock up front, so none fails with "database is
    /// locked" (a deferred transaction that read first would, when another connection committed
    /// between its read and its write).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_of_every_concern_never_see_a_locked_database() {
        use crate::{Change, Documents, LogEvent, Logs, Message, QueueOp, Queues};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_file(&dir.path().join("nubo.db")).unwrap());
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..3 {
            let store = store.clone();
            tasks.spawn(async move {
                for i in 0..100 {
                    let key = format!("f{worker}/{i}");
                    store
                        .commit(vec![
                            Change::put("c", &key, "{}"),
                            Change::delete_prefix("c", "f"),
                        ])
                        .await?;
                    store
                        .apply(vec![QueueOp::Enqueue {
                            queue: "q".into(),
                            message: Message {
                                id: key.clone(),
                                body: vec![b'x'; 512],
                                attempts: 0,
                                not_before_ms: 0,
                                received_ms: 0,
                            },
                        }])
                        .await?;
                    let line = |n: i64| LogEvent {
                        group: "/aws/lambda/f".into(),
                        stream: key.clone(),
                        timestamp_ms: n,
                        message: "line".into(),
                    };
                    store.append((0..20).map(line).collect()).await?;
                }
                Ok::<(), StoreError>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        assert_eq!(store.messages("q").await.unwrap().len(), 300);
    }

    /// Durable enqueues from 8 concurrent submitters (the benchmark's 8 clients, without HTTP)
    /// beside raw fsync'd inserts, one transaction each, in the same directory.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "timing probe: cargo test -p nubo-store group_commit_probe -- --ignored --nocapture"]
    async fn group_commit_probe() {
        use crate::{Message, QueueOp, Queues};
        const PER_TASK: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open_file(&dir.path().join("nubo.db")).unwrap());
        let raw = raw_insert_baseline(dir.path(), 8 * PER_TASK, b"{\"noop\":true}").unwrap();
        let raw_rate = raw.len() as f64 / raw.iter().map(Duration::as_secs_f64).sum::<f64>();
        let started = std::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8 {
            let store = store.clone();
            tasks.spawn(async move {
                for n in 0..PER_TASK {
                    let message = Message {
                        id: format!("{worker}-{n}"),
                        body: b"{\"noop\":true}".to_vec(),
                        attempts: 0,
                        not_before_ms: 0,
                        received_ms: 0,
                    };
                    let queue = "probe".to_owned();
                    store
                        .apply(vec![QueueOp::Enqueue { queue, message }])
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let rate = (8 * PER_TASK) as f64 / started.elapsed().as_secs_f64();
        println!(
            "durable enqueues, 8 submitters: {rate:.0}/s; raw fsync'd inserts: {raw_rate:.0}/s; ratio {:.2}",
            rate / raw_rate
        );
    }

    #[test]
    fn prefix_ends_bound_exactly_the_keys_under_a_prefix() {
        assert_eq!(prefix_end("f/"), Some(b"f0".to_vec()));
        assert_eq!(prefix_end(""), None);
        let end = prefix_end("é").unwrap();
        assert!("é".as_bytes() < end.as_slice() && "éz".as_bytes() < end.as_slice());
        assert!("ê".as_bytes() >= end.as_slice());
    }
}
