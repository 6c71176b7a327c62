//! Streams: a record of every item change of a table whose stream is enabled, written in the
//! same store transaction as the change, read back by `dynamodbstreams` and event-source
//! mappings.
//!
//! A stream has one shard (records of one key are in order because all records are); its
//! records are the Lambda event's record shape (`eventID`, `eventName`, `dynamodb.Keys`,
//! `NewImage`/`OldImage` as the view type asks, `SizeBytes`, `eventSourceARN`), with
//! `dynamodb.SequenceNumber` added when read. Records are kept 24 hours.

use std::sync::Arc;

use nubo_store::TableWrite;
use serde_json::{json, Value as Json};

use crate::keys;
use crate::registry::Tables;
use crate::schema::TableRecord;
use crate::value::{item_size, item_to_json, Item};
use crate::TablesError;

/// How long records are kept.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// The store write of a change's stream record, when the table has a stream and the item
/// changed. `by_ttl` marks deletions the TTL sweeper made.
pub fn change_record(
    record: &TableRecord,
    old: Option<&Item>,
    new: Option<&Item>,
    now_ms: i64,
    by_ttl: bool,
) -> Option<TableWrite> {
    let stream = record.stream.as_ref()?;
    let event = match (old, new) {
        (None, Some(_)) => "INSERT",
        (Some(a), Some(b)) if a == b => return None,
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
        (None, None) => return None,
    };
    let any = new.or(old)?;
    let key = keys::key_attributes(&record.key, any);
    let mut size = item_size(&key);
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": now_ms / 1000,
        "Keys": item_to_json(&key),
        "StreamViewType": stream.view_type,
    });
    let view = stream.view_type.as_str();
    if matches!(view, "NEW_IMAGE" | "NEW_AND_OLD_IMAGES") {
        if let Some(new) = new {
            dynamodb["NewImage"] = item_to_json(new);
            size += item_size(new);
        }
    }
    if matches!(view, "OLD_IMAGE" | "NEW_AND_OLD_IMAGES") {
        if let Some(old) = old {
            dynamodb["OldImage"] = item_to_json(old);
            size += item_size(old);
        }
    }
    dynamodb["SizeBytes"] = json!(size);
    let mut body = json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.region,
        "dynamodb": dynamodb,
        "eventSourceARN": record.stream_arn(),
    });
    if by_ttl {
        body["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    Some(TableWrite::Append {
        stream: record.stream_storage()?,
        created_ms: now_ms,
        body: serde_json::to_vec(&body).ok()?,
    })
}

/// The sequence number as DynamoDB writes it (a decimal string, padded).
pub fn sequence_text(sequence: u64) -> String {
    format!("{sequence:021}")
}

/// The one shard's id of a stream.
pub fn shard_id(record: &TableRecord) -> String {
    let label = record
        .stream
        .as_ref()
        .map(|s| s.label.as_str())
        .unwrap_or("");
    let digits: String = label.chars().filter(char::is_ascii_digit).collect();
    format!(
        "shardId-{digits:0>20}-{}",
        &record.storage_id.replace('-', "")[..8]
    )
}

/// A record as read back: its sequence number and the record with `SequenceNumber` filled in.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// Its sequence number.
    pub sequence: u64,
    /// The record (the Lambda event's shape).
    pub record: Json,
    /// Its partition key bytes' text, for ordering per key.
    pub created_ms: i64,
}

impl Tables {
    /// The table whose current stream has this ARN.
    pub fn stream_table(&self, arn: &str) -> Result<Arc<TableRecord>, TablesError> {
        self.all()
            .into_iter()
            .map(|t| t.record())
            .find(|r| r.stream_arn().as_deref() == Some(arn))
            .ok_or_else(|| {
                TablesError::NotFound(format!(
                    "Requested resource not found: Stream: {arn} not found"
                ))
            })
    }

    /// Records of a table's stream after `after`, oldest first.
    pub async fn stream_records(
        &self,
        record: &TableRecord,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StreamRecord>, TablesError> {
        let Some(storage) = record.stream_storage() else {
            return Ok(Vec::new());
        };
        let entries = self.rows.stream_read(&storage, after, limit).await?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let mut record: Json = serde_json::from_slice(&entry.body).ok()?;
                record["dynamodb"]["SequenceNumber"] = json!(sequence_text(entry.sequence));
                Some(StreamRecord {
                    sequence: entry.sequence,
                    record,
                    created_ms: entry.created_ms,
                })
            })
            .collect())
    }

    /// The first and last sequence numbers a table's stream holds.
    pub async fn stream_bounds(
        &self,
        record: &TableRecord,
    ) -> Result<Option<(u64, u64)>, TablesError> {
        match record.stream_storage() {
            Some(storage) => Ok(self.rows.stream_bounds(&storage).await?),
            None => Ok(None),
        }
    }

    /// Deletes expired items (TTL) of every table with TTL enabled, and stream records older
    /// than the retention. Returns how many items it deleted.
    pub async fn sweep(&self, now_ms: i64) -> Result<usize, TablesError> {
        let mut deleted = 0;
        for table in self.all() {
            let record = table.record();
            if let Some(storage) = record.stream_storage() {
                self.rows
                    .write(vec![TableWrite::Trim {
                        stream: storage,
                        before_ms: now_ms - RETENTION_MS,
                    }])
                    .await?;
            }
            let Some(attribute) = record.ttl_attribute.clone() else {
                continue;
            };
            deleted += self.expire(&table, &attribute, now_ms).await?;
        }
        Ok(deleted)
    }

    async fn expire(
        &self,
        table: &crate::registry::Table,
        attribute: &str,
        now_ms: i64,
    ) -> Result<usize, TablesError> {
        let now_s = now_ms / 1000;
        // DynamoDB ignores TTL values more than five years in the past.
        let oldest = now_s - 5 * 365 * 24 * 3600;
        let mut deleted = 0;
        let mut after = None;
        loop {
            let record = table.record();
            let rows = self
                .rows
                .scan(nubo_store::ScanRange {
                    table: record.storage_id.clone(),
                    index: String::new(),
                    hash_from: 0,
                    hash_to: u16::MAX,
                    after: after.clone(),
                    limit: 500,
                })
                .await?;
            let done = rows.len() < 500;
            for row in rows {
                after = Some((
                    row.hash,
                    row.pk.clone(),
                    row.sk.clone(),
                    row.reference.clone(),
                ));
                let item = crate::items::decode(&row.body)?;
                let expired = match item.get(attribute) {
                    Some(crate::value::Value::N(n)) => n
                        .to_string()
                        .split('.')
                        .next()
                        .and_then(|s| s.parse::<i64>().ok())
                        .is_some_and(|at| at <= now_s && at >= oldest),
                    _ => false,
                };
                if !expired {
                    continue;
                }
                let _writes = table.writes.lock().await;
                let record = table.record();
                let key = keys::item_key(&record, &item)?;
                // Re-read under the lock: a write since the scan may have extended the item.
                let Some(body) = self.rows.get(&record.storage_id, &key.pk, &key.sk).await? else {
                    continue;
                };
                let current = crate::items::decode(&body)?;
                if current != item {
                    continue;
                }
                let mut writes = Vec::new();
                crate::items::plan_delete_by_ttl(&record, &key, &current, now_ms, &mut writes)?;
                self.rows.write(writes).await?;
                deleted += 1;
            }
            if done {
                return Ok(deleted);
            }
        }
    }
}
