//! Logs in SQLite: events indexed by (group, time, append order), and one summary row per stream
//! kept up to date in the same transaction as each batch (what DescribeLogStreams lists).

use std::collections::BTreeMap;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::{db, now_ms, prefix_end, write_transaction, Inner, SqliteStore, TextBytes};
use crate::{LogEvent, LogGroup, LogPage, LogQuery, LogStream, Logs, StoreError, StoredLogEvent};

/// CloudWatch's default (and largest) page.
const MAX_PAGE: usize = 10_000;

fn pick(inner: &Inner) -> &parking_lot::Mutex<Connection> {
    &inner.logs
}

/// A page token: the (timestamp, seq) of the last event returned.
fn token(timestamp_ms: i64, seq: i64) -> String {
    format!("f/{timestamp_ms}/{seq}")
}

fn parse_token(token: &str) -> Result<(i64, i64), StoreError> {
    let invalid = || StoreError::Invalid(format!("unknown log page token {token:?}"));
    let rest = token.strip_prefix("f/").ok_or_else(invalid)?;
    let (timestamp, seq) = rest.split_once('/').ok_or_else(invalid)?;
    Ok((
        timestamp.parse().map_err(|_| invalid())?,
        seq.parse().map_err(|_| invalid())?,
    ))
}

#[async_trait]
impl Logs for SqliteStore {
    async fn append(&self, events: Vec<LogEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        self.with(pick, move |conn| append(conn, &events)).await
    }

    async fn read(&self, query: LogQuery) -> Result<LogPage, StoreError> {
        let after = query.token.as_deref().map(parse_token).transpose()?;
        self.with(pick, move |conn| read(conn, &query, after)).await
    }

    async fn streams(&self, group: &str, prefix: &str) -> Result<Vec<LogStream>, StoreError> {
        let (group, prefix) = (group.to_owned(), prefix.to_owned());
        self.with(pick, move |conn| {
            let end = prefix_end(&prefix);
            let mut sql = String::from(
                "SELECT stream, first_event_ms, last_event_ms, last_ingestion_ms, events
                 FROM log_streams WHERE log_group = ?1 AND stream >= ?2",
            );
            let mut args: Vec<&dyn ToSql> = vec![&group, &prefix];
            let end_bytes;
            if let Some(end) = &end {
                end_bytes = TextBytes(end);
                sql.push_str(" AND stream < ?3");
                args.push(&end_bytes);
            }
            sql.push_str(" ORDER BY stream");
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(args.as_slice(), |row| {
                    Ok(LogStream {
                        name: row.get(0)?,
                        first_event_ms: row.get(1)?,
                        last_event_ms: row.get(2)?,
                        last_ingestion_ms: row.get(3)?,
                        events: row.get::<_, i64>(4)? as u64,
                    })
                })
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn groups(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_owned();
        self.with(pick, move |conn| {
            let end = prefix_end(&prefix);
            let mut sql =
                String::from("SELECT DISTINCT log_group FROM log_streams WHERE log_group >= ?1");
            let mut args: Vec<&dyn ToSql> = vec![&prefix];
            let end_bytes;
            if let Some(end) = &end {
                end_bytes = TextBytes(end);
                sql.push_str(" AND log_group < ?2");
                args.push(&end_bytes);
            }
            sql.push_str(" ORDER BY log_group");
            let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(args.as_slice(), |row| row.get(0))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)
        })
        .await
    }

    async fn describe_groups(&self, prefix: &str) -> Result<Vec<LogGroup>, StoreError> {
        let prefix = prefix.to_owned();
        self.with(pick, move |conn| describe_groups(conn, &prefix))
            .await
    }

    async fn create_group(&self, group: &str) -> Result<bool, StoreError> {
        let group = group.to_owned();
        self.with(pick, move |conn| {
            let n = conn
                .execute(
                    "INSERT OR IGNORE INTO log_groups (log_group, created_ms) VALUES (?1, ?2)",
                    params![group, now_ms()],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn create_stream(&self, group: &str, stream: &str) -> Result<bool, StoreError> {
        let (group, stream) = (group.to_owned(), stream.to_owned());
        self.with(pick, move |conn| {
            let n = conn
                .execute(
                    "INSERT OR IGNORE INTO log_streams
                         (log_group, stream, first_event_ms, last_event_ms, last_ingestion_ms, events)
                     VALUES (?1, ?2, ?3, ?3, ?3, 0)",
                    params![group, stream, now_ms()],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_group(&self, group: &str) -> Result<bool, StoreError> {
        let group = group.to_owned();
        self.with(pick, move |conn| {
            let tx = write_transaction(conn)?;
            let existed = group_exists(&tx, &group)?;
            for sql in [
                "DELETE FROM log_events WHERE log_group = ?1",
                "DELETE FROM log_streams WHERE log_group = ?1",
                "DELETE FROM log_groups WHERE log_group = ?1",
            ] {
                tx.execute(sql, [&group]).map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(existed)
        })
        .await
    }

    async fn set_retention(&self, group: &str, days: Option<u32>) -> Result<bool, StoreError> {
        let group = group.to_owned();
        self.with(pick, move |conn| {
            let n = conn
                .execute(
                    "UPDATE log_groups SET retention_days = ?2 WHERE log_group = ?1",
                    params![group, days],
                )
                .map_err(db)?;
            Ok(n == 1)
        })
        .await
    }

    async fn rename_group(&self, from: &str, to: &str) -> Result<bool, StoreError> {
        let (from, to) = (from.to_owned(), to.to_owned());
        self.with(pick, move |conn| {
            let tx = write_transaction(conn)?;
            if !group_exists(&tx, &from)? || group_exists(&tx, &to)? {
                return Ok(false);
            }
            for sql in [
                "UPDATE log_events SET log_group = ?2 WHERE log_group = ?1",
                "UPDATE log_streams SET log_group = ?2 WHERE log_group = ?1",
                "UPDATE log_groups SET log_group = ?2 WHERE log_group = ?1",
            ] {
                tx.execute(sql, [&from, &to]).map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn expire(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.with(pick, move |conn| expire(conn, now_ms)).await
    }
}

fn describe_groups(conn: &Connection, prefix: &str) -> Result<Vec<LogGroup>, StoreError> {
    let end = prefix_end(prefix);
    let mut sql = String::from(
        "SELECT g.log_group, g.created_ms, g.retention_days,
                (SELECT COALESCE(SUM(events), 0) FROM log_streams s WHERE s.log_group = g.log_group),
                (SELECT COALESCE(SUM(length(CAST(message AS BLOB))), 0) FROM log_events e
                 WHERE e.log_group = g.log_group)
         FROM log_groups g WHERE g.log_group >= ?1",
    );
    let mut args: Vec<&dyn ToSql> = vec![&prefix];
    let end_bytes;
    if let Some(end) = &end {
        end_bytes = TextBytes(end);
        sql.push_str(" AND g.log_group < ?2");
        args.push(&end_bytes);
    }
    sql.push_str(" ORDER BY g.log_group");
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(args.as_slice(), |row| {
            Ok(LogGroup {
                name: row.get(0)?,
                created_ms: row.get(1)?,
                retention_days: row.get::<_, Option<i64>>(2)?.map(|d| d as u32),
                events: row.get::<_, i64>(3)? as u64,
                stored_bytes: row.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn group_exists(conn: &Connection, group: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM log_groups WHERE log_group = ?1",
        [group],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .map_err(db)
}

/// Removes events past their group's retention, then brings the touched streams' summaries up
/// to date (streams left empty stay, as CloudWatch keeps them).
fn expire(conn: &mut Connection, now_ms: i64) -> Result<u64, StoreError> {
    const DAY_MS: i64 = 86_400_000;
    let tx = write_transaction(conn)?;
    let groups: Vec<(String, i64)> = {
        let mut stmt = tx
            .prepare_cached(
                "SELECT log_group, retention_days FROM log_groups WHERE retention_days IS NOT NULL",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<_, _>>().map_err(db)?
    };
    let mut removed = 0u64;
    for (group, days) in groups {
        let cutoff = now_ms - days * DAY_MS;
        let n = tx
            .execute(
                "DELETE FROM log_events WHERE log_group = ?1 AND timestamp_ms < ?2",
                params![group, cutoff],
            )
            .map_err(db)?;
        if n == 0 {
            continue;
        }
        removed += n as u64;
        tx.execute(
            "UPDATE log_streams SET
                 events = (SELECT COUNT(*) FROM log_events e
                           WHERE e.log_group = log_streams.log_group AND e.stream = log_streams.stream),
                 first_event_ms = COALESCE((SELECT MIN(timestamp_ms) FROM log_events e
                           WHERE e.log_group = log_streams.log_group AND e.stream = log_streams.stream),
                           first_event_ms)
             WHERE log_group = ?1",
            [&group],
        )
        .map_err(db)?;
    }
    tx.commit().map_err(db)?;
    Ok(removed)
}

/// Per stream of a batch: (first, last, count).
type StreamSpans<'a> = BTreeMap<(&'a str, &'a str), (i64, i64, i64)>;

fn append(conn: &mut Connection, events: &[LogEvent]) -> Result<(), StoreError> {
    let ingestion = now_ms();
    let mut spans: StreamSpans<'_> = BTreeMap::new();
    let tx = write_transaction(conn)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO log_events (log_group, stream, timestamp_ms, ingestion_ms, message)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db)?;
        for e in events {
            insert
                .execute(params![
                    e.group,
                    e.stream,
                    e.timestamp_ms,
                    ingestion,
                    e.message
                ])
                .map_err(db)?;
            let span = spans
                .entry((e.group.as_str(), e.stream.as_str()))
                .or_insert((e.timestamp_ms, e.timestamp_ms, 0));
            span.0 = span.0.min(e.timestamp_ms);
            span.1 = span.1.max(e.timestamp_ms);
            span.2 += 1;
        }
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO log_streams
                     (log_group, stream, first_event_ms, last_event_ms, last_ingestion_ms, events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (log_group, stream) DO UPDATE SET
                     first_event_ms = CASE WHEN events = 0 THEN excluded.first_event_ms
                         ELSE min(first_event_ms, excluded.first_event_ms) END,
                     last_event_ms = CASE WHEN events = 0 THEN excluded.last_event_ms
                         ELSE max(last_event_ms, excluded.last_event_ms) END,
                     last_ingestion_ms = excluded.last_ingestion_ms,
                     events = events + excluded.events",
            )
            .map_err(db)?;
        let mut adopt = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO log_groups (log_group, created_ms) VALUES (?1, ?2)",
            )
            .map_err(db)?;
        let mut last_group = None;
        for ((group, stream), (first, last, count)) in &spans {
            upsert
                .execute(params![group, stream, first, last, ingestion, count])
                .map_err(db)?;
            // Spans are ordered by group: one insert per group of the batch.
            if last_group != Some(*group) {
                adopt.execute(params![group, ingestion]).map_err(db)?;
                last_group = Some(*group);
            }
        }
    }
    tx.commit().map_err(db)
}

fn read(
    conn: &Connection,
    query: &LogQuery,
    after: Option<(i64, i64)>,
) -> Result<LogPage, StoreError> {
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let mut sql = String::from(
        "SELECT seq, stream, timestamp_ms, ingestion_ms, message FROM log_events
         WHERE log_group = ?1",
    );
    let mut args: Vec<&dyn ToSql> = vec![&query.group];
    if !query.streams.is_empty() {
        sql.push_str(" AND stream IN (");
        for (i, stream) in query.streams.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            args.push(stream);
            sql.push_str(&format!("?{}", args.len()));
        }
        sql.push(')');
    }
    if let Some(start) = &query.start_ms {
        args.push(start);
        sql.push_str(&format!(" AND timestamp_ms >= ?{}", args.len()));
    }
    if let Some(end) = &query.end_ms {
        args.push(end);
        sql.push_str(&format!(" AND timestamp_ms < ?{}", args.len()));
    }
    let (after_time, after_seq);
    if let Some((time, seq)) = after {
        (after_time, after_seq) = (time, seq);
        args.push(&after_time);
        args.push(&after_seq);
        sql.push_str(&format!(
            " AND (timestamp_ms, seq) > (?{}, ?{})",
            args.len() - 1,
            args.len()
        ));
    }
    // One more than the page, to know whether another page follows.
    let fetch = (limit + 1) as i64;
    args.push(&fetch);
    sql.push_str(&format!(
        " ORDER BY timestamp_ms, seq LIMIT ?{}",
        args.len()
    ));
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let mut rows: Vec<(i64, StoredLogEvent)> = stmt
        .query_map(args.as_slice(), |row| {
            Ok((
                row.get(0)?,
                StoredLogEvent {
                    event: LogEvent {
                        group: query.group.clone(),
                        stream: row.get(1)?,
                        timestamp_ms: row.get(2)?,
                        message: row.get(4)?,
                    },
                    ingestion_ms: row.get(3)?,
                    id: format!("{:020}", row.get::<_, i64>(0)?),
                },
            ))
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let position = rows
        .last()
        .map(|(seq, e)| token(e.event.timestamp_ms, *seq));
    Ok(LogPage {
        events: rows.into_iter().map(|(_, e)| e).collect(),
        next_token: if more { position.clone() } else { None },
        position,
    })
}
