//! The DynamoDB stream poller of one mapping: reads the table's stream after its checkpoint,
//! gathers up to `BatchSize` records within the batching window, invokes the function
//! synchronously with the DynamoDB event, and moves the checkpoint past the batch once it is
//! done with — processed, or given up on and described to the `OnFailure` destination.
//!
//! A failed batch (a function error, or the items `ReportBatchItemFailures` names: the batch
//! from the first failed item on) is retried until `MaximumRetryAttempts` or
//! `MaximumRecordAgeInSeconds` runs out; with `BisectBatchOnFunctionError` it is split in two
//! first and each half retried on its own. Records are delivered in stream order, one batch
//! at a time, so changes to one key reach the function in the order they were made.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nubo_queues::{QueueRegistry, SendInput};
use nubo_store::{Change, Documents};
use nubo_tables::streams::{sequence_text, shard_id, StreamRecord};
use nubo_tables::Tables;
use nubo_wire::arn::FunctionRef;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::record::MappingRecord;
use crate::{InvokeError, InvokeRequest, Invoker};

/// Where a mapping's position in its stream is kept (`{uuid}` → `{"after": n}`).
pub const CHECKPOINTS: &str = "lambda-stream-checkpoint";
/// How often an idle poller looks at the stream (Lambda polls a shard four times a second).
const POLL: Duration = Duration::from_millis(250);
/// The pause before a failed batch is retried.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

struct Poller {
    record: Arc<MappingRecord>,
    function: FunctionRef,
    invoker: Arc<Invoker>,
    tables: Arc<Tables>,
    queues: Arc<QueueRegistry>,
    documents: Arc<dyn Documents>,
    stop: watch::Receiver<bool>,
}

/// Starts a poller; it runs until the returned sender says stop (or is dropped).
pub(crate) fn start(
    record: Arc<MappingRecord>,
    function: FunctionRef,
    invoker: Arc<Invoker>,
    tables: Arc<Tables>,
    queues: Arc<QueueRegistry>,
    documents: Arc<dyn Documents>,
) -> watch::Sender<bool> {
    let (stop_tx, stop) = watch::channel(false);
    let poller = Poller {
        record,
        function,
        invoker,
        tables,
        queues,
        documents,
        stop,
    };
    tokio::spawn(poller.run());
    stop_tx
}

/// Whether an event source ARN is a DynamoDB stream's.
pub fn is_stream_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:dynamodb:") && arn.contains("/stream/")
}

enum Outcome {
    Done,
    /// The records from this index on failed.
    FailedFrom(usize),
    Throttled,
}

impl Poller {
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    async fn pause(&self, duration: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(duration) => self.stopped(),
            _ = stop.changed() => true,
        }
    }

    async fn checkpoint(&self) -> u64 {
        match self.documents.get(CHECKPOINTS, &self.record.uuid).await {
            Ok(Some(document)) => serde_json::from_str::<Value>(&document.body)
                .ok()
                .and_then(|v| v["after"].as_u64())
                .unwrap_or(0),
            _ => self.record.stream.as_ref().map_or(0, |s| s.start_after),
        }
    }

    async fn save(&self, after: u64) {
        let change = Change::put(
            CHECKPOINTS,
            &self.record.uuid,
            json!({"after": after}).to_string(),
        );
        if let Err(e) = self.documents.commit(vec![change]).await {
            tracing::warn!(mapping = %self.record.uuid, error = %e, "saving a stream checkpoint failed");
        }
    }

    async fn run(self) {
        let mut after = self.checkpoint().await;
        let batch_size = self.record.batch_size.max(1) as usize;
        let window = Duration::from_secs(self.record.maximum_batching_window as u64);
        while !self.stopped() {
            let Ok(table) = self.tables.stream_table(&self.record.event_source_arn) else {
                if self.pause(Duration::from_secs(1)).await {
                    return;
                }
                continue;
            };
            let mut records = match self.tables.stream_records(&table, after, batch_size).await {
                Ok(records) => records,
                Err(e) => {
                    tracing::warn!(mapping = %self.record.uuid, error = %e, "reading the stream failed");
                    Vec::new()
                }
            };
            if records.is_empty() {
                if self.pause(POLL).await {
                    return;
                }
                continue;
            }
            if records.len() < batch_size && !window.is_zero() {
                let deadline = tokio::time::Instant::now() + window;
                while records.len() < batch_size && tokio::time::Instant::now() < deadline {
                    if self
                        .pause(POLL.min(deadline - tokio::time::Instant::now()))
                        .await
                    {
                        return;
                    }
                    let last = records.last().map_or(after, |r| r.sequence);
                    if let Ok(more) = self
                        .tables
                        .stream_records(&table, last, batch_size - records.len())
                        .await
                    {
                        records.extend(more);
                    }
                }
            }
            let last = records.last().map_or(after, |r| r.sequence);
            if !self.deliver(&table, records).await {
                return;
            }
            after = last;
            self.save(after).await;
        }
    }

    /// Delivers a batch until it is done with; false when the poller was stopped first.
    async fn deliver(
        &self,
        table: &nubo_tables::schema::TableRecord,
        records: Vec<StreamRecord>,
    ) -> bool {
        let settings = self.record.stream.clone().unwrap_or_default();
        let mut pending: VecDeque<(Vec<StreamRecord>, i64)> = VecDeque::from([(records, 0)]);
        while let Some((batch, retries)) = pending.pop_front() {
            if self.stopped() {
                return false;
            }
            let failed = match self.invoke(&batch).await {
                Outcome::Done => continue,
                Outcome::Throttled => {
                    pending.push_front((batch, retries));
                    if self.pause(RETRY_PAUSE).await {
                        return false;
                    }
                    continue;
                }
                Outcome::FailedFrom(at) => batch[at..].to_vec(),
            };
            let now_ms = crate::asynchronous::now_ms();
            let too_old = settings.maximum_record_age >= 0
                && failed
                    .first()
                    .is_some_and(|r| now_ms - r.created_ms > settings.maximum_record_age * 1000);
            let exhausted =
                settings.maximum_retry_attempts >= 0 && retries >= settings.maximum_retry_attempts;
            if too_old || exhausted {
                let condition = if too_old {
                    "RecordAgeExceeded"
                } else {
                    "RetryAttemptsExhausted"
                };
                self.give_up(table, &failed, condition, retries + 1).await;
                continue;
            }
            if settings.bisect_on_error && failed.len() > 1 {
                let mut first = failed;
                let second = first.split_off(first.len() / 2);
                pending.push_front((second, retries + 1));
                pending.push_front((first, retries + 1));
            } else {
                pending.push_front((failed, retries + 1));
            }
            if self.pause(RETRY_PAUSE).await {
                return false;
            }
        }
        true
    }

    async fn invoke(&self, batch: &[StreamRecord]) -> Outcome {
        let payload = json!({"Records": batch.iter().map(|r| &r.record).collect::<Vec<_>>()});
        let request = InvokeRequest {
            function: self.function.clone(),
            payload: Bytes::from(payload.to_string()),
            client_context: None,
            tail_log: false,
            request_id: None,
            lineage: 0,
            trace: None,
        };
        match self.invoker.invoke(request).await {
            Ok(result) if !result.function_error => {
                if !self.record.report_batch_item_failures {
                    return Outcome::Done;
                }
                match failed_from(&result.payload, batch) {
                    Some(at) => Outcome::FailedFrom(at),
                    None => Outcome::Done,
                }
            }
            Ok(_) => Outcome::FailedFrom(0),
            Err(InvokeError::Throttled { .. }) => Outcome::Throttled,
            Err(e) => {
                tracing::warn!(mapping = %self.record.uuid, error = %e, "invoking the mapped function failed");
                Outcome::FailedFrom(0)
            }
        }
    }

    /// Describes a batch given up on to the `OnFailure` destination (an SQS queue).
    async fn give_up(
        &self,
        table: &nubo_tables::schema::TableRecord,
        batch: &[StreamRecord],
        condition: &str,
        attempts: i64,
    ) {
        let Some(destination) = self
            .record
            .stream
            .as_ref()
            .and_then(|s| s.on_failure.clone())
        else {
            return;
        };
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return;
        };
        let at = |ms: i64| {
            nubo_wire::timefmt::iso_millis(
                time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            )
        };
        let now = crate::asynchronous::now_ms();
        let body = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": self.record.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": at(now),
            "DDBStreamBatchInfo": {
                "shardId": shard_id(table),
                "startSequenceNumber": sequence_text(first.sequence),
                "endSequenceNumber": sequence_text(last.sequence),
                "approximateArrivalOfFirstRecord": at(first.created_ms),
                "approximateArrivalOfLastRecord": at(last.created_ms),
                "batchSize": batch.len(),
                "streamArn": self.record.event_source_arn,
            },
        });
        let sent = match self.queues.by_arn(&destination) {
            Ok(queue) => self
                .queues
                .send(
                    &queue,
                    SendInput {
                        body: body.to_string(),
                        sender: "AIDAEXAMPLE".into(),
                        ..SendInput::default()
                    },
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::warn!(mapping = %self.record.uuid, error = %e, "sending a failed stream batch to its destination failed");
        }
    }
}

/// The index of the first record `batchItemFailures` names (`None`: all succeeded). An
/// unreadable response or an identifier not in the batch fails the whole batch, as on Lambda.
fn failed_from(payload: &[u8], batch: &[StreamRecord]) -> Option<usize> {
    let response: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => return if payload.is_empty() { None } else { Some(0) },
    };
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(failures)) => failures,
        Some(_) => return Some(0),
    };
    let mut first: Option<usize> = None;
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str)?;
        let at = batch
            .iter()
            .position(|r| r.record["dynamodb"]["SequenceNumber"].as_str() == Some(id));
        match at {
            Some(at) => first = Some(first.map_or(at, |f| f.min(at))),
            None => return Some(0),
        }
    }
    first
}
