//! `QueueRegistry`: every queue of every scope, loaded at start and written through to the store
//! (documents for the queues, the store's durable queues for their messages), and the operations
//! clients call — the edge's SQS API, Lambda's event-source pollers and destinations alike.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use nubo_store::{Change, Documents, ListQuery, QueueOp, Queues};
use nubo_wire::Scope;
use parking_lot::RwLock;

use crate::attributes::{self, AttributeMap};
use crate::queue::{Prepared, Queue, QueueRecord, ReceivedMessage, SendInput, Sent};
use crate::receipt::Receipt;
use crate::writer::Committer;
use crate::{Held, QueueError};

/// The documents collection of queues.
pub const COLLECTION: &str = "sqs-queue";
/// The most messages one receive returns.
pub const MAX_RECEIVE: usize = 10;

fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

/// A queue name's rules: 1–80 of `[A-Za-z0-9_-]`, plus `.fifo` for FIFO queues.
pub fn check_name(name: &str, fifo: bool) -> Result<(), QueueError> {
    let stem = name.strip_suffix(".fifo");
    let base = stem.unwrap_or(name);
    let chars_ok = !base.is_empty()
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fifo || stem.is_some() {
        if stem.is_none() || !chars_ok || name.len() > 80 || !fifo {
            return Err(QueueError::InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
                    .into(),
            ));
        }
        return Ok(());
    }
    if !chars_ok || name.len() > 80 {
        return Err(QueueError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        ));
    }
    Ok(())
}

/// A send staged for another layer's transaction (Lambda's destinations and dead-letter queues
/// commit it with the removal of their event): the store operations to commit, then
/// [`StagedSend::committed`] makes the message visible.
pub struct StagedSend {
    /// The store operations that enqueue the message.
    pub ops: Vec<nubo_store::QueueOp>,
    queue: Arc<Queue>,
    prepared: Option<Prepared>,
}

impl StagedSend {
    /// The commit happened: receivers may have the message.
    pub fn committed(mut self) {
        if let Some(prepared) = self.prepared.take() {
            self.queue.insert(vec![prepared]);
        }
    }
}

impl Drop for StagedSend {
    fn drop(&mut self) {
        // Never committed: release what the send reserved (a FIFO deduplication id).
        if let Some(prepared) = &self.prepared {
            self.queue.abandon(prepared);
        }
    }
}

/// Every queue, by `{account}/{region}/{name}`.
pub struct QueueRegistry {
    documents: Arc<dyn Documents>,
    committer: Committer,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
    /// Serializes control-plane writes (create, delete, attributes, tags).
    control: tokio::sync::Mutex<()>,
}

fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

impl QueueRegistry {
    /// Loads every queue and its messages, then starts the writer and the retention sweeper.
    pub async fn load(
        documents: Arc<dyn Documents>,
        store: Arc<dyn Queues>,
    ) -> Result<Arc<Self>, QueueError> {
        let now = now_ms();
        let mut queues = HashMap::new();
        for document in documents.list(COLLECTION, ListQuery::all()).await? {
            let record: QueueRecord = match serde_json::from_str(&document.body) {
                Ok(record) => record,
                Err(e) => {
                    tracing::error!(queue = %document.key, error = %e, "skipping an unreadable queue");
                    continue;
                }
            };
            let mut messages = Vec::new();
            for message in store.messages(&record.store_queue).await? {
                let id = message.id.clone();
                match Held::from_store(message) {
                    Some(held) => messages.push(held),
                    None => tracing::error!(message = %id, "skipping an unreadable SQS message"),
                }
            }
            queues.insert(document.key, Arc::new(Queue::new(record, messages, now)));
        }
        let this = Arc::new(Self {
            documents,
            committer: Committer::start(store),
            queues: RwLock::new(queues),
            control: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(sweep(Arc::downgrade(&this)));
        Ok(this)
    }

    /// How many queues there are.
    pub fn count(&self) -> usize {
        self.queues.read().len()
    }

    /// Message counts over every queue.
    pub fn totals(&self) -> crate::Counts {
        let now = now_ms();
        let queues: Vec<Arc<Queue>> = self.queues.read().values().cloned().collect();
        queues
            .iter()
            .map(|q| q.counts(now))
            .fold(crate::Counts::default(), |a, b| crate::Counts {
                visible: a.visible + b.visible,
                in_flight: a.in_flight + b.in_flight,
                delayed: a.delayed + b.delayed,
            })
    }

    /// Registers the SQS gauges, read at each scrape: `nubo_sqs_queues` and
    /// `nubo_sqs_messages_{visible,in_flight,delayed}` over every queue.
    pub fn register_metrics(self: &Arc<Self>, metrics: &nubo_observe::MetricsRegistry) {
        let weak = Arc::downgrade(self);
        metrics.gauge_fn("nubo_sqs_queues", "SQS queues, every scope", move || {
            weak.upgrade().map_or(0, |r| r.count() as i64)
        });
        type Pick = fn(&crate::Counts) -> usize;
        let gauges: [(&str, &str, Pick); 3] = [
            (
                "nubo_sqs_messages_visible",
                "SQS messages ready to receive, every queue",
                |c| c.visible,
            ),
            (
                "nubo_sqs_messages_in_flight",
                "SQS messages received and not yet deleted or visible again",
                |c| c.in_flight,
            ),
            (
                "nubo_sqs_messages_delayed",
                "SQS messages not yet visible after their delay",
                |c| c.delayed,
            ),
        ];
        for (name, help, pick) in gauges {
            let weak = Arc::downgrade(self);
            metrics.gauge_fn(name, help, move || {
                weak.upgrade().map_or(0, |r| pick(&r.totals()) as i64)
            });
        }
    }

    /// The queue `name` of `account` in `scope`'s region.
    pub fn get(&self, scope: &Scope, account: &str, name: &str) -> Result<Arc<Queue>, QueueError> {
        self.queues
            .read()
            .get(&key(account, &scope.region, name))
            .cloned()
            .ok_or(QueueError::QueueDoesNotExist)
    }

    /// The queue an ARN names.
    pub fn by_arn(&self, arn: &str) -> Result<Arc<Queue>, QueueError> {
        let mut parts = arn.splitn(6, ':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("arn"), Some(_), Some("sqs"), Some(region), Some(account), Some(name)) => self
                .queues
                .read()
                .get(&key(account, region, name))
                .cloned()
                .ok_or(QueueError::QueueDoesNotExist),
            _ => Err(QueueError::QueueDoesNotExist),
        }
    }

    /// Queues of `scope` whose names start with `prefix`, by name.
    pub fn list(&self, scope: &Scope, prefix: &str) -> Vec<Arc<Queue>> {
        let start = key(&scope.account_id, &scope.region, "");
        let mut found: Vec<(String, Arc<Queue>)> = self
            .queues
            .read()
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&start)
                    .is_some_and(|name| name.starts_with(prefix))
            })
            .map(|(k, q)| (k.clone(), q.clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.into_iter().map(|(_, q)| q).collect()
    }

    /// Creates a queue, or returns the existing one when every attribute asked for matches.
    pub async fn create(
        &self,
        scope: &Scope,
        name: &str,
        asked: &AttributeMap,
        tags: BTreeMap<String, String>,
    ) -> Result<Arc<Queue>, QueueError> {
        let fifo_asked = asked
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let fifo = fifo_asked || name.ends_with(".fifo");
        check_name(name, fifo_asked)?;
        let mut attributes = attributes::defaults(fifo);
        for (attribute, value) in asked {
            let value = attributes::check(attribute, value, fifo, true)?;
            // Standard queues do not show `FifoQueue`, even when asked for `false`.
            if attribute == "FifoQueue" && value == "false" {
                continue;
            }
            attributes.insert(attribute.clone(), value);
        }
        let own_arn = format!("arn:aws:sqs:{}:{}:{name}", scope.region, scope.account_id);
        self.check_redrive_target(&attributes, fifo, &own_arn)?;
        let _turn = self.control.lock().await;
        let key = key(&scope.account_id, &scope.region, name);
        if let Some(existing) = self.queues.read().get(&key).cloned() {
            let meta = existing.meta();
            for (attribute, value) in &attributes {
                if asked.contains_key(attribute)
                    && meta.record.attributes.get(attribute) != Some(value)
                {
                    return Err(QueueError::QueueNameExists(attribute.clone()));
                }
            }
            return Ok(existing);
        }
        let now = now_ms();
        let record = QueueRecord {
            name: name.to_owned(),
            account: scope.account_id.clone(),
            region: scope.region.clone(),
            store_queue: format!("sqs:{}", uuid::Uuid::new_v4()),
            attributes,
            tags,
            created: now / 1000,
            modified: now / 1000,
        };
        self.write(&record).await?;
        let queue = Arc::new(Queue::new(record, Vec::new(), now));
        self.queues.write().insert(key, queue.clone());
        Ok(queue)
    }

    /// A redrive policy must name an existing queue of the same kind, other than `own_arn`.
    fn check_redrive_target(
        &self,
        attributes: &AttributeMap,
        fifo: bool,
        own_arn: &str,
    ) -> Result<(), QueueError> {
        let Some(value) = attributes.get("RedrivePolicy") else {
            return Ok(());
        };
        let Some(policy) = attributes::check_redrive(value)? else {
            return Ok(());
        };
        if policy.dead_letter_target_arn == own_arn {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: A queue cannot be its own dead-letter queue."
            )));
        }
        let target = self.by_arn(&policy.dead_letter_target_arn).map_err(|_| {
            QueueError::InvalidParameterValue(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist."
            ))
        })?;
        if target.meta().settings.fifo != fifo {
            return Err(QueueError::InvalidParameterValue(format!(
                "Value {value} for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.."
            )));
        }
        Ok(())
    }

    async fn write(&self, record: &QueueRecord) -> Result<(), QueueError> {
        let body = serde_json::to_string(record)
            .map_err(|e| QueueError::Store(format!("encoding a queue: {e}")))?;
        self.documents
            .commit(vec![Change::put(COLLECTION, &record.key(), body)])
            .await?;
        Ok(())
    }

    /// Deletes a queue and its messages.
    pub async fn delete(&self, queue: &Arc<Queue>) -> Result<(), QueueError> {
        let _turn = self.control.lock().await;
        let record = queue.meta().record.clone();
        self.documents
            .commit(vec![Change::delete(COLLECTION, &record.key())])
            .await?;
        self.queues.write().remove(&record.key());
        queue.mark_deleted();
        // The messages go after the document: a crash in between leaves rows no queue names
        // (its store queue is unique to this incarnation), never a queue without its messages.
        self.committer.commit(queue.remove_all()).await
    }

    /// Changes a queue's record (attributes or tags) through `change`.
    async fn modify(
        &self,
        queue: &Arc<Queue>,
        change: impl FnOnce(&mut QueueRecord) -> Result<(), QueueError>,
    ) -> Result<(), QueueError> {
        let _turn = self.control.lock().await;
        if queue.is_deleted() {
            return Err(QueueError::QueueDoesNotExist);
        }
        let mut record = queue.meta().record.clone();
        change(&mut record)?;
        self.write(&record).await?;
        queue.set_record(record);
        Ok(())
    }

    /// `SetQueueAttributes`.
    pub async fn set_attributes(
        &self,
        queue: &Arc<Queue>,
        asked: &AttributeMap,
    ) -> Result<(), QueueError> {
        let fifo = queue.meta().settings.fifo;
        let mut checked = AttributeMap::new();
        for (attribute, value) in asked {
            checked.insert(
                attribute.clone(),
                attributes::check(attribute, value, fifo, false)?,
            );
        }
        let mut merged = queue.meta().record.attributes.clone();
        for (attribute, value) in &checked {
            if attribute == "RedrivePolicy" && value.is_empty() {
                merged.remove(attribute);
            } else {
                merged.insert(attribute.clone(), value.clone());
            }
        }
        self.check_redrive_target(&merged, fifo, &queue.arn())?;
        self.modify(queue, move |record| {
            record.attributes = merged;
            record.modified = now_ms() / 1000;
            Ok(())
        })
        .await
    }

    /// `TagQueue`.
    pub async fn tag(
        &self,
        queue: &Arc<Queue>,
        tags: BTreeMap<String, String>,
    ) -> Result<(), QueueError> {
        self.modify(queue, move |record| {
            record.tags.extend(tags);
            if record.tags.len() > 50 {
                return Err(QueueError::InvalidParameterValue(
                    "Too many tags added for queue. A queue can have at most 50 tags.".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    /// `UntagQueue`.
    pub async fn untag(&self, queue: &Arc<Queue>, keys: &[String]) -> Result<(), QueueError> {
        self.modify(queue, |record| {
            for k in keys {
                record.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    /// Sends messages: each entry is checked on its own; those that pass are committed together
    /// and then become visible. One result per entry, in order.
    pub async fn send_batch(
        &self,
        queue: &Arc<Queue>,
        inputs: Vec<SendInput>,
    ) -> Result<Vec<Result<Sent, QueueError>>, QueueError> {
        let now = now_ms();
        let store_queue = queue.store_queue();
        let prepared: Vec<Result<Prepared, QueueError>> = inputs
            .into_iter()
            .map(|input| queue.prepare_send(input, now))
            .collect();
        let ops = prepared
            .iter()
            .filter_map(|p| match p {
                Ok(Prepared::New { held, .. }) => Some(nubo_store::QueueOp::Enqueue {
                    queue: store_queue.clone(),
                    message: held.to_store(),
                }),
                _ => None,
            })
            .collect();
        if let Err(e) = self.committer.commit(ops).await {
            for p in prepared.iter().flatten() {
                queue.abandon(p);
            }
            return Err(e);
        }
        let results = prepared
            .iter()
            .map(|p| p.as_ref().map(|p| p.sent().clone()).map_err(Clone::clone))
            .collect();
        queue.insert(prepared.into_iter().flatten().collect());
        Ok(results)
    }

    /// Stages a send to the queue `arn` names, for the caller to commit with its own operations.
    pub fn stage_send(&self, arn: &str, input: SendInput) -> Result<StagedSend, QueueError> {
        let queue = self.by_arn(arn)?;
        let prepared = queue.prepare_send(input, now_ms())?;
        let ops = match &prepared {
            Prepared::New { held, .. } => vec![nubo_store::QueueOp::Enqueue {
                queue: queue.store_queue(),
                message: held.to_store(),
            }],
            Prepared::Duplicate(_) => Vec::new(),
        };
        Ok(StagedSend {
            ops,
            queue,
            prepared: Some(prepared),
        })
    }

    /// Sends one message.
    pub async fn send(&self, queue: &Arc<Queue>, input: SendInput) -> Result<Sent, QueueError> {
        self.send_batch(queue, vec![input])
            .await?
            .pop()
            .unwrap_or(Err(QueueError::Store("no send result".into())))
    }

    /// Receives up to `max` messages, waiting up to `wait` (the queue's
    /// `ReceiveMessageWaitTimeSeconds` when `None`) for the first to arrive.
    pub async fn receive(
        &self,
        queue: &Arc<Queue>,
        max: usize,
        visibility_s: Option<u32>,
        wait: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let wait = wait
            .unwrap_or_else(|| Duration::from_secs(u64::from(queue.meta().settings.receive_wait)));
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = queue.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if queue.is_deleted() {
                return Err(QueueError::QueueDoesNotExist);
            }
            let (received, next_visible) = self.receive_now(queue, max, visibility_s).await?;
            let now = tokio::time::Instant::now();
            if !received.is_empty() || now >= deadline {
                return Ok(received);
            }
            let until = match next_visible {
                Some(at) => {
                    let in_ms = (at - now_ms()).max(1) as u64;
                    deadline.min(now + Duration::from_millis(in_ms))
                }
                None => deadline,
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    /// One pass: picks, moves what its redrive policy sends away, commits.
    async fn receive_now(
        &self,
        queue: &Arc<Queue>,
        max: usize,
        visibility_s: Option<u32>,
    ) -> Result<(Vec<ReceivedMessage>, Option<i64>), QueueError> {
        let meta = queue.meta();
        let dead_letter = meta.settings.redrive.as_ref().and_then(|policy| {
            self.by_arn(&policy.dead_letter_target_arn)
                .ok()
                .map(|q| (q, policy.max_receive_count))
        });
        let store_name = dead_letter.as_ref().map(|(q, _)| q.store_queue());
        let redrive = dead_letter
            .as_ref()
            .zip(store_name.as_deref())
            .map(|((_, count), name)| (name, *count));
        let picked = queue.pick(max, visibility_s, now_ms(), redrive);
        self.committer.commit(picked.ops).await?;
        if let Some((target, _)) = dead_letter {
            target.adopt(picked.moved);
        }
        Ok((picked.received, picked.next_visible_ms))
    }

    /// Deletes a received message.
    pub async fn delete_message(&self, queue: &Arc<Queue>, handle: &str) -> Result<(), QueueError> {
        let receipt = Receipt::decode(handle)?;
        match queue.delete(&receipt) {
            Some(op) => self.committer.commit(vec![op]).await,
            None => Ok(()),
        }
    }

    /// Deletes several received messages in one commit (event-source pollers finishing a batch);
    /// handles that do not decode are skipped.
    pub async fn delete_messages(
        &self,
        queue: &Arc<Queue>,
        handles: &[&str],
    ) -> Result<(), QueueError> {
        let ops = handles
            .iter()
            .filter_map(|h| Receipt::decode(h).ok())
            .filter_map(|receipt| queue.delete(&receipt))
            .collect();
        self.committer.commit(ops).await
    }

    /// `DeleteMessageBatch`: every handle's removal in one commit. One result per handle, in
    /// order: a handle that does not decode fails alone; if the commit fails, every entry that
    /// would have been in it fails with it.
    pub async fn delete_message_batch(
        &self,
        queue: &Arc<Queue>,
        handles: &[&str],
    ) -> Vec<Result<(), QueueError>> {
        let mut ops = Vec::new();
        let results = handles
            .iter()
            .map(|handle| {
                let receipt = Receipt::decode(handle)?;
                ops.extend(queue.delete(&receipt));
                Ok(())
            })
            .collect();
        self.commit_batch(ops, results).await
    }

    /// `ChangeMessageVisibilityBatch`: every change in one commit, one result per entry as for
    /// [`Self::delete_message_batch`].
    pub async fn change_visibility_batch(
        &self,
        queue: &Arc<Queue>,
        entries: &[(&str, u32)],
    ) -> Vec<Result<(), QueueError>> {
        let now = now_ms();
        let mut ops = Vec::new();
        let results = entries
            .iter()
            .map(|&(handle, timeout_s)| {
                let receipt = Receipt::decode(handle)?;
                ops.push(queue.change_visibility(handle, &receipt, timeout_s, now)?);
                Ok(())
            })
            .collect();
        self.commit_batch(ops, results).await
    }

    /// Commits a batch request's ops at once; a failed commit fails every entry that was in it.
    async fn commit_batch(
        &self,
        ops: Vec<QueueOp>,
        mut results: Vec<Result<(), QueueError>>,
    ) -> Vec<Result<(), QueueError>> {
        if let Err(e) = self.committer.commit(ops).await {
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(QueueError::Store(e.to_string()));
            }
        }
        results
    }

    /// Changes a received message's visibility timeout.
    pub async fn change_visibility(
        &self,
        queue: &Arc<Queue>,
        handle: &str,
        timeout_s: u32,
    ) -> Result<(), QueueError> {
        let receipt = Receipt::decode(handle)?;
        let op = queue.change_visibility(handle, &receipt, timeout_s, now_ms())?;
        self.committer.commit(vec![op]).await
    }

    /// `PurgeQueue`.
    pub async fn purge(&self, queue: &Arc<Queue>) -> Result<(), QueueError> {
        let ops = queue.purge(now_ms())?;
        self.committer.commit(ops).await
    }

    /// Queues whose redrive policy names `arn` (`ListDeadLetterSourceQueues`).
    pub fn dead_letter_sources(&self, arn: &str) -> Vec<Arc<Queue>> {
        let mut found: Vec<Arc<Queue>> = self
            .queues
            .read()
            .values()
            .filter(|q| {
                q.meta()
                    .settings
                    .redrive
                    .as_ref()
                    .is_some_and(|p| p.dead_letter_target_arn == arn)
            })
            .cloned()
            .collect();
        found.sort_by_key(|q| q.arn());
        found
    }

    async fn expire_all(&self) {
        let queues: Vec<Arc<Queue>> = self.queues.read().values().cloned().collect();
        let now = now_ms();
        let ops: Vec<_> = queues.iter().flat_map(|q| q.expire(now)).collect();
        if let Err(e) = self.committer.commit(ops).await {
            tracing::warn!(error = %e, "removing expired SQS messages failed");
        }
    }
}

/// Removes messages past their retention period, every few seconds.
async fn sweep(registry: std::sync::Weak<QueueRegistry>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let Some(registry) = registry.upgrade() else {
            return;
        };
        registry.expire_all().await;
    }
}
