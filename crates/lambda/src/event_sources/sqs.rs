//! The SQS poller of one mapping: workers that receive batches (long polling, gathering for the
//! batching window), drop what the filters reject, invoke the function synchronously with the
//! SQS event, and delete what succeeded — all of it, or all but the `batchItemFailures` the
//! function reports. Failed messages stay in flight until the queue's visibility timeout, then
//! come back (and reach the queue's dead-letter queue after `maxReceiveCount`).
//!
//! Scaling: one worker to start; a worker that got a full batch starts another while the
//! mapping's `MaximumConcurrency` and the function's free concurrency allow; a worker that
//! finds the queue empty stops unless it is the last. No worker receives while the function has
//! no free concurrency slot, so the poller never takes more work than it can run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nubo_queues::{Queue, QueueError, QueueRegistry, ReceivedMessage};
use nubo_wire::arn::FunctionRef;
use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::pattern::Pattern;
use super::record::MappingRecord;
use crate::{InvokeError, InvokeRequest, Invoker};

/// The longest a receive waits (SQS's long-polling limit).
const LONG_POLL: Duration = Duration::from_secs(20);
/// Pause after a throttle or an unusable function or queue.
const BACKOFF: Duration = Duration::from_millis(200);

/// One mapping's running poller.
pub(crate) struct Poller {
    record: Arc<MappingRecord>,
    function: FunctionRef,
    patterns: Vec<Pattern>,
    invoker: Arc<Invoker>,
    queues: Arc<QueueRegistry>,
    stop: watch::Receiver<bool>,
    active: AtomicUsize,
}

/// Starts a poller; it runs until the returned sender says stop (or is dropped).
pub(crate) fn start(
    record: Arc<MappingRecord>,
    function: FunctionRef,
    invoker: Arc<Invoker>,
    queues: Arc<QueueRegistry>,
) -> watch::Sender<bool> {
    let (stop_tx, stop) = watch::channel(false);
    let poller = Arc::new(Poller {
        patterns: record.patterns(),
        record,
        function,
        invoker,
        queues,
        stop,
        active: AtomicUsize::new(0),
    });
    poller.spawn_worker();
    stop_tx
}

impl Poller {
    fn stopped(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }

    fn spawn_worker(self: &Arc<Self>) {
        self.active.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(self.clone().work());
    }

    fn max_workers(&self) -> usize {
        self.record.maximum_concurrency.unwrap_or(1000) as usize
    }

    /// Waits `duration` or until stopped; true if stopped.
    async fn pause(&self, duration: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => true,
            () = tokio::time::sleep(duration) => self.stopped(),
        }
    }

    /// Leaves if other workers remain (true), else stays (false).
    fn leave_if_not_last(&self) -> bool {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > 1).then(|| n - 1)
            })
            .is_ok()
    }

    async fn work(self: Arc<Self>) {
        loop {
            if self.stopped() {
                break;
            }
            let available = self.invoker.available_concurrency(&self.function);
            if available == 0 {
                if self.pause(BACKOFF).await {
                    break;
                }
                continue;
            }
            let queue = match self.queues.by_arn(&self.record.event_source_arn) {
                Ok(queue) => queue,
                Err(_) => {
                    if self.pause(Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            };
            let batch = self.gather(&queue).await;
            if batch.is_empty() {
                if self.leave_if_not_last() {
                    return;
                }
                continue;
            }
            let active = self.active.load(Ordering::Acquire);
            if batch.len() >= self.record.batch_size as usize
                && active < self.max_workers()
                && available > active
            {
                self.spawn_worker();
            }
            self.process(&queue, batch).await;
        }
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Receives one batch: up to `BatchSize` messages, waiting for the first, then gathering
    /// until the batch is full or the batching window has passed.
    async fn gather(&self, queue: &Arc<Queue>) -> Vec<ReceivedMessage> {
        let wanted = self.record.batch_size as usize;
        let window = Duration::from_secs(u64::from(self.record.maximum_batching_window));
        let mut batch: Vec<ReceivedMessage> = Vec::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let wait = match deadline {
                None => LONG_POLL,
                Some(at) => at.saturating_duration_since(tokio::time::Instant::now()),
            };
            let max = (wanted - batch.len()).min(nubo_queues::MAX_RECEIVE);
            let mut stop = self.stop.clone();
            let received = tokio::select! {
                r = self.queues.receive(queue, max, None, Some(wait)) => r,
                _ = stop.wait_for(|s| *s) => return batch,
            };
            match received {
                Ok(messages) => {
                    for message in messages {
                        // A message whose visibility ran out while the batch gathered may come
                        // again: keep the newer receive, once.
                        batch.retain(|m| m.message_id != message.message_id);
                        batch.push(message);
                    }
                }
                Err(QueueError::QueueDoesNotExist) => return batch,
                Err(e) => {
                    tracing::warn!(mapping = %self.record.uuid, error = %e, "receiving from the queue failed");
                    let _ = self.pause(BACKOFF).await;
                    return batch;
                }
            }
            if batch.len() >= wanted || window.is_zero() && !batch.is_empty() {
                return batch;
            }
            match deadline {
                None if !batch.is_empty() => {
                    deadline = Some(tokio::time::Instant::now() + window);
                }
                Some(at) if tokio::time::Instant::now() >= at => return batch,
                _ => {}
            }
            if deadline.is_none() && batch.is_empty() {
                // A long poll came back empty: let the worker decide whether to stay.
                return batch;
            }
        }
    }

    async fn process(&self, queue: &Arc<Queue>, batch: Vec<ReceivedMessage>) {
        let fifo = queue.meta().settings.fifo;
        let records: Vec<Value> = batch.iter().map(|m| self.sqs_record(m)).collect();
        let (mut kept, mut dropped) = (Vec::new(), Vec::new());
        for (message, record) in batch.iter().zip(records) {
            if self.patterns.is_empty()
                || self
                    .patterns
                    .iter()
                    .any(|p| p.matches(&filter_view(&record)))
            {
                kept.push((message, record));
            } else {
                dropped.push(message.receipt_handle.as_str());
            }
        }
        // Messages no filter matches are deleted, as Lambda does.
        self.delete(queue, &dropped).await;
        if kept.is_empty() {
            return;
        }
        let payload = json!({ "Records": kept.iter().map(|(_, r)| r).collect::<Vec<_>>() });
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
                let done: Vec<&str> = if self.record.report_batch_item_failures {
                    match failed_items(&result.payload, &kept) {
                        Some(failed) => succeeded(&kept, &failed, fifo),
                        None => Vec::new(),
                    }
                } else {
                    kept.iter()
                        .map(|(m, _)| m.receipt_handle.as_str())
                        .collect()
                };
                self.delete(queue, &done).await;
            }
            Ok(_) => {
                // A function error fails the whole batch: the messages come back after the
                // queue's visibility timeout.
            }
            Err(InvokeError::Throttled { .. }) => {
                for (message, _) in &kept {
                    let _ = self
                        .queues
                        .change_visibility(queue, &message.receipt_handle, 0)
                        .await;
                }
                let _ = self.pause(BACKOFF).await;
            }
            Err(e) => {
                tracing::warn!(mapping = %self.record.uuid, error = %e, "invoking the mapped function failed");
                let _ = self.pause(Duration::from_secs(1)).await;
            }
        }
    }

    async fn delete(&self, queue: &Arc<Queue>, handles: &[&str]) {
        if handles.is_empty() {
            return;
        }
        if let Err(e) = self.queues.delete_messages(queue, handles).await {
            tracing::warn!(mapping = %self.record.uuid, error = %e, "deleting processed messages failed");
        }
    }

    /// The SQS event record Lambda delivers for one message.
    fn sqs_record(&self, message: &ReceivedMessage) -> Value {
        let content = &message.content;
        let mut attributes = Map::new();
        attributes.insert(
            "ApproximateReceiveCount".into(),
            message.receive_count.to_string().into(),
        );
        attributes.insert("SentTimestamp".into(), message.sent_ms.to_string().into());
        attributes.insert("SenderId".into(), content.sender.clone().into());
        attributes.insert(
            "ApproximateFirstReceiveTimestamp".into(),
            message.first_receive_ms.to_string().into(),
        );
        if let Some(sequence) = content.sequence {
            attributes.insert(
                "SequenceNumber".into(),
                nubo_queues::format_sequence(sequence).into(),
            );
        }
        if let Some(group) = &content.group {
            attributes.insert("MessageGroupId".into(), group.clone().into());
        }
        if let Some(dedup) = &content.deduplication_id {
            attributes.insert("MessageDeduplicationId".into(), dedup.clone().into());
        }
        if let Some(trace) = &content.trace_header {
            attributes.insert("AWSTraceHeader".into(), trace.clone().into());
        }
        let message_attributes: Map<String, Value> = content
            .attributes
            .iter()
            .map(|(name, a)| {
                let mut value = json!({
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": a.data_type,
                });
                if let Some(s) = &a.string_value {
                    value["stringValue"] = json!(s);
                }
                if let Some(b) = &a.binary_value {
                    value["binaryValue"] = json!(nubo_queues::message::encode_binary(b));
                }
                (name.clone(), value)
            })
            .collect();
        let mut record = json!({
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": content.body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": content.body_md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": self.record.event_source_arn,
            "awsRegion": self.record.region,
        });
        if let Some(md5) = &content.attributes_md5 {
            record["md5OfMessageAttributes"] = json!(md5);
        }
        record
    }
}

/// What filters see: the record with its body parsed when it is JSON.
fn filter_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        if let Ok(parsed) = serde_json::from_str::<Value>(body) {
            view["body"] = parsed;
        }
    }
    view
}

/// The message ids a `ReportBatchItemFailures` response names, or `None` when the response
/// fails the whole batch (an invalid entry, an unknown id).
fn failed_items(payload: &[u8], batch: &[(&ReceivedMessage, Value)]) -> Option<Vec<String>> {
    let response: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => return None,
    };
    let Some(failures) = response
        .as_object()
        .and_then(|o| o.get("batchItemFailures"))
    else {
        return Some(Vec::new());
    };
    let Some(entries) = failures.as_array() else {
        return failures.is_null().then(Vec::new);
    };
    let mut failed = Vec::new();
    for entry in entries {
        let object = entry.as_object()?;
        if object.keys().any(|k| k != "itemIdentifier") {
            return None;
        }
        let id = object
            .get("itemIdentifier")?
            .as_str()
            .filter(|s| !s.is_empty())?;
        if !batch.iter().any(|(m, _)| m.message_id == id) {
            return None;
        }
        failed.push(id.to_owned());
    }
    Some(failed)
}

/// The handles to delete: every message not reported failed — for FIFO queues, not after a
/// failed message of the same group either (order within a group is kept).
fn succeeded<'a>(
    batch: &'a [(&ReceivedMessage, Value)],
    failed: &[String],
    fifo: bool,
) -> Vec<&'a str> {
    let mut blocked_groups: Vec<&str> = Vec::new();
    let mut done = Vec::new();
    for (message, _) in batch {
        let group = message.content.group.as_deref().unwrap_or("");
        let is_failed = failed.contains(&message.message_id);
        if is_failed {
            if fifo {
                blocked_groups.push(group);
            }
            continue;
        }
        if fifo && blocked_groups.contains(&group) {
            continue;
        }
        done.push(message.receipt_handle.as_str());
    }
    done
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use nubo_queues::{MessageAttributes, MessageContent, ReceivedMessage};
    use serde_json::{json, Value};

    use super::{failed_items, succeeded};

    fn message(id: &str, group: Option<&str>) -> ReceivedMessage {
        let mut content = MessageContent::new("b".into(), MessageAttributes::new(), "s".into());
        content.group = group.map(str::to_owned);
        ReceivedMessage {
            message_id: id.into(),
            receipt_handle: format!("h-{id}"),
            content: Arc::new(content),
            sent_ms: 0,
            receive_count: 1,
            first_receive_ms: 0,
        }
    }

    #[test]
    fn batch_item_failure_responses() {
        let (a, b) = (message("a", None), message("b", None));
        let batch: Vec<(&ReceivedMessage, Value)> = vec![(&a, Value::Null), (&b, Value::Null)];
        let parse = |response: Value| failed_items(response.to_string().as_bytes(), &batch);
        // Success: nothing reported, in every spelling Lambda accepts.
        for ok in [
            json!(null),
            json!({}),
            json!({"batchItemFailures": null}),
            json!({"batchItemFailures": []}),
            json!("done"),
        ] {
            assert_eq!(parse(ok.clone()), Some(vec![]), "{ok}");
        }
        assert_eq!(
            parse(json!({"batchItemFailures": [{"itemIdentifier": "b"}]})),
            Some(vec!["b".to_owned()])
        );
        // The whole batch fails: an unknown id, an empty or missing identifier, a bad key.
        for bad in [
            json!({"batchItemFailures": [{"itemIdentifier": "zzz"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{"itemIdentifer": "a"}]}),
            json!({"batchItemFailures": "a"}),
        ] {
            assert_eq!(parse(bad.clone()), None, "{bad}");
        }
        assert_eq!(failed_items(b"not json", &batch), None);
    }

    #[test]
    fn fifo_keeps_what_follows_a_failure_in_its_group() {
        let (a1, a2, b1) = (
            message("a1", Some("a")),
            message("a2", Some("a")),
            message("b1", Some("b")),
        );
        let batch: Vec<(&ReceivedMessage, Value)> =
            vec![(&a1, Value::Null), (&a2, Value::Null), (&b1, Value::Null)];
        let failed = vec!["a1".to_owned()];
        assert_eq!(succeeded(&batch, &failed, true), vec!["h-b1"]);
        assert_eq!(succeeded(&batch, &failed, false), vec!["h-a2", "h-b1"]);
    }
}
