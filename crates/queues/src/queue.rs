//! One queue in memory: its record (attributes, tags) and its messages, with the rules of each
//! operation. The memory is the authority on who holds a message — a receive marks its messages
//! in flight under the queue's lock before anything else can look — and every change is also
//! handed to the store as queue operations, committed before the operation answers.
//!
//! Message state maps onto the store's rows: `attempts` is the receive count, `not_before_ms`
//! when the message is next visible (delay or visibility timeout), `received_ms` when it was sent.
//! A receipt handle names the message and its receive count, so it stays valid across a restart
//! and stops working once another receive has taken the message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use nubo_store::{Message, QueueOp};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::attributes::QueueSettings;
use crate::message::{
    check_attributes, check_characters, content_deduplication_id, message_size, MessageContent,
};
use crate::receipt::Receipt;
pub use crate::types::{
    format_sequence, Counts, QueueMeta, QueueRecord, ReceivedMessage, SendInput, Sent,
};
use crate::QueueError;

/// How long FIFO queues remember a deduplication id.
pub(crate) const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;
/// How often a queue may be purged.
pub(crate) const PURGE_INTERVAL_MS: i64 = 60 * 1000;

/// A message in memory.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) id: String,
    pub(crate) content: Arc<MessageContent>,
    pub(crate) sent_ms: i64,
    pub(crate) receive_count: u32,
    pub(crate) visible_at_ms: i64,
    pub(crate) first_receive_ms: Option<i64>,
}

impl Held {
    pub(crate) fn to_store(&self) -> Message {
        Message {
            id: self.id.clone(),
            body: self.content.encode(),
            attempts: self.receive_count,
            not_before_ms: self.visible_at_ms,
            received_ms: self.sent_ms,
        }
    }

    pub(crate) fn from_store(message: Message) -> Option<Self> {
        let content = MessageContent::decode(&message.body)?;
        Some(Self {
            id: message.id,
            content: Arc::new(content),
            sent_ms: message.received_ms,
            receive_count: message.attempts,
            visible_at_ms: message.not_before_ms,
            // Not stored: after a restart the first receive is approximated by the send.
            first_receive_ms: (message.attempts > 0).then_some(message.received_ms),
        })
    }
}

#[derive(Default)]
pub(crate) struct QueueState {
    /// By arrival order.
    messages: BTreeMap<u64, Held>,
    order_of: HashMap<String, u64>,
    next_order: u64,
    next_sequence: u64,
    /// FIFO: deduplication id → (message id, sequence, expiry ms).
    deduplication: HashMap<String, (String, Option<u64>, i64)>,
    last_purge_ms: Option<i64>,
}

impl QueueState {
    fn insert(&mut self, order: u64, held: Held) {
        self.order_of.insert(held.id.clone(), order);
        self.messages.insert(order, held);
    }

    fn remove(&mut self, id: &str) -> Option<Held> {
        let order = self.order_of.remove(id)?;
        self.messages.remove(&order)
    }
}

/// A send that passed the checks: committed, then inserted.
pub(crate) enum Prepared {
    New { order: u64, held: Held, sent: Sent },
    Duplicate(Sent),
}

impl Prepared {
    pub(crate) fn sent(&self) -> &Sent {
        match self {
            Prepared::New { sent, .. } | Prepared::Duplicate(sent) => sent,
        }
    }
}

/// What one pass over the queue picked.
pub(crate) struct Picked {
    pub(crate) received: Vec<ReceivedMessage>,
    pub(crate) ops: Vec<QueueOp>,
    /// Messages moved out to the dead-letter queue.
    pub(crate) moved: Vec<Held>,
    /// When the next invisible message becomes visible.
    pub(crate) next_visible_ms: Option<i64>,
}

/// One queue.
pub struct Queue {
    meta: RwLock<Arc<QueueMeta>>,
    state: Mutex<QueueState>,
    pub(crate) notify: Notify,
    deleted: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("arn", &self.arn())
            .finish_non_exhaustive()
    }
}

fn valid_fifo_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
}

impl Queue {
    pub(crate) fn new(record: QueueRecord, messages: Vec<Held>, now_ms: i64) -> Self {
        let settings = QueueSettings::from_attributes(&record.attributes);
        let mut state = QueueState::default();
        let mut max_sequence = 0;
        for held in messages {
            if let (Some(dedup), true) = (&held.content.deduplication_id, settings.fifo) {
                state.deduplication.insert(
                    dedup.clone(),
                    (
                        held.id.clone(),
                        held.content.sequence,
                        held.sent_ms + DEDUPLICATION_WINDOW_MS,
                    ),
                );
            }
            max_sequence = max_sequence.max(held.content.sequence.unwrap_or(0));
            let order = state.next_order;
            state.next_order += 1;
            state.insert(order, held);
        }
        // Sequence numbers grow across restarts, also when the queue was emptied.
        state.next_sequence = (max_sequence + 1).max(now_ms.max(0) as u64 * 1000);
        Self {
            meta: RwLock::new(Arc::new(QueueMeta { record, settings })),
            state: Mutex::new(state),
            notify: Notify::new(),
            deleted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The record and settings now.
    pub fn meta(&self) -> Arc<QueueMeta> {
        self.meta.read().clone()
    }

    pub(crate) fn set_record(&self, record: QueueRecord) {
        let settings = QueueSettings::from_attributes(&record.attributes);
        *self.meta.write() = Arc::new(QueueMeta { record, settings });
        // A shorter wait or visibility may let waiting receivers in.
        self.notify.notify_waiters();
    }

    /// The queue's ARN.
    pub fn arn(&self) -> String {
        self.meta().record.arn()
    }

    pub(crate) fn store_queue(&self) -> String {
        self.meta().record.store_queue.clone()
    }

    pub(crate) fn mark_deleted(&self) {
        self.deleted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Checks a send and reserves its order, sequence and deduplication id.
    pub(crate) fn prepare_send(
        &self,
        input: SendInput,
        now_ms: i64,
    ) -> Result<Prepared, QueueError> {
        let meta = self.meta();
        let settings = &meta.settings;
        if input.body.is_empty() {
            return Err(QueueError::MissingParameter(
                "The request must contain the parameter MessageBody.".into(),
            ));
        }
        check_characters(&input.body)?;
        check_attributes(&input.attributes)?;
        let size = message_size(&input.body, &input.attributes);
        if size > settings.max_message_size as usize {
            return Err(QueueError::InvalidParameterValue(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                settings.max_message_size
            )));
        }
        if let Some(delay) = input.delay {
            if settings.fifo {
                return Err(QueueError::invalid_value(
                    delay,
                    "DelaySeconds",
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
            if delay > 900 {
                return Err(QueueError::invalid_value(
                    delay,
                    "DelaySeconds",
                    "DelaySeconds must be >= 0 and <= 900.",
                ));
            }
        }
        if let Some(group) = &input.group {
            if !valid_fifo_id(group) {
                return Err(QueueError::invalid_value(
                    group,
                    "MessageGroupId",
                    "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                ));
            }
        }
        let deduplication_id = if settings.fifo {
            if input.group.is_none() {
                return Err(QueueError::MissingParameter(
                    "The request must contain the parameter MessageGroupId.".into(),
                ));
            }
            match &input.deduplication_id {
                Some(id) if !valid_fifo_id(id) => {
                    return Err(QueueError::invalid_value(
                        id,
                        "MessageDeduplicationId",
                        "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                    ))
                }
                Some(id) => Some(id.clone()),
                None if settings.content_based_deduplication => {
                    Some(content_deduplication_id(&input.body))
                }
                None => {
                    return Err(QueueError::InvalidParameterValue(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"
                            .into(),
                    ))
                }
            }
        } else {
            if input.deduplication_id.is_some() {
                return Err(QueueError::InvalidParameterValue(
                    "The request include parameter that is not valid for this queue type".into(),
                ));
            }
            None
        };

        let mut content = MessageContent::new(input.body, input.attributes, input.sender);
        content.group = input.group;
        content.trace_header = input.trace_header;
        content.deduplication_id = deduplication_id.clone();

        let mut state = self.state.lock();
        if let Some(dedup) = &deduplication_id {
            if let Some((id, sequence, expires)) = state.deduplication.get(dedup) {
                if *expires > now_ms {
                    return Ok(Prepared::Duplicate(Sent {
                        message_id: id.clone(),
                        body_md5: content.body_md5.clone(),
                        attributes_md5: content.attributes_md5.clone(),
                        sequence_number: sequence.map(format_sequence),
                    }));
                }
            }
        }
        let order = state.next_order;
        state.next_order += 1;
        if settings.fifo {
            content.sequence = Some(state.next_sequence);
            state.next_sequence += 1;
        }
        let id = uuid::Uuid::new_v4().to_string();
        if let Some(dedup) = &deduplication_id {
            state.deduplication.insert(
                dedup.clone(),
                (
                    id.clone(),
                    content.sequence,
                    now_ms + DEDUPLICATION_WINDOW_MS,
                ),
            );
        }
        drop(state);
        let delay = input.delay.unwrap_or(settings.delay);
        let sent = Sent {
            message_id: id.clone(),
            body_md5: content.body_md5.clone(),
            attributes_md5: content.attributes_md5.clone(),
            sequence_number: content.sequence.map(format_sequence),
        };
        Ok(Prepared::New {
            order,
            held: Held {
                id,
                content: Arc::new(content),
                sent_ms: now_ms,
                receive_count: 0,
                visible_at_ms: now_ms + i64::from(delay) * 1000,
                first_receive_ms: None,
            },
            sent,
        })
    }

    /// Forgets a reservation whose commit failed.
    pub(crate) fn abandon(&self, prepared: &Prepared) {
        if let Prepared::New { held, .. } = prepared {
            if let Some(dedup) = &held.content.deduplication_id {
                let mut state = self.state.lock();
                if state
                    .deduplication
                    .get(dedup)
                    .is_some_and(|(id, _, _)| *id == held.id)
                {
                    state.deduplication.remove(dedup);
                }
            }
        }
    }

    /// Makes committed sends visible to receivers.
    pub(crate) fn insert(&self, prepared: Vec<Prepared>) {
        let mut state = self.state.lock();
        let mut any = false;
        for p in prepared {
            if let Prepared::New { order, held, .. } = p {
                state.insert(order, held);
                any = true;
            }
        }
        drop(state);
        if any {
            self.notify.notify_waiters();
        }
    }

    /// Takes messages moved here from another queue (already committed), at the end of the line.
    pub(crate) fn adopt(&self, messages: Vec<Held>) {
        if messages.is_empty() {
            return;
        }
        let mut state = self.state.lock();
        for held in messages {
            let order = state.next_order;
            state.next_order += 1;
            state.insert(order, held);
        }
        drop(state);
        self.notify.notify_waiters();
    }

    /// Picks up to `max` visible messages and marks them in flight for `visibility_s`; messages
    /// received `redrive.1` times already move to the store queue `redrive.0` instead. FIFO: a
    /// group with a message in flight (or an earlier one still delayed) yields nothing.
    pub(crate) fn pick(
        &self,
        max: usize,
        visibility_s: Option<u32>,
        now_ms: i64,
        redrive: Option<(&str, u32)>,
    ) -> Picked {
        let meta = self.meta();
        let settings = &meta.settings;
        let store_queue = &meta.record.store_queue;
        let visibility_ms = i64::from(visibility_s.unwrap_or(settings.visibility_timeout)) * 1000;
        let retention_ms = i64::from(settings.retention) * 1000;
        let mut picked = Picked {
            received: Vec::new(),
            ops: Vec::new(),
            moved: Vec::new(),
            next_visible_ms: None,
        };
        let mut expired = Vec::new();
        let mut to_move = Vec::new();
        let mut blocked: HashSet<String> = HashSet::new();
        let mut state = self.state.lock();
        for held in state.messages.values_mut() {
            if picked.received.len() >= max {
                break;
            }
            if held.sent_ms + retention_ms <= now_ms {
                expired.push(held.id.clone());
                continue;
            }
            let group = held.content.group.as_deref().filter(|_| settings.fifo);
            if group.is_some_and(|g| blocked.contains(g)) {
                continue;
            }
            if held.visible_at_ms > now_ms {
                if let Some(g) = group {
                    blocked.insert(g.to_owned());
                }
                picked.next_visible_ms = Some(
                    picked
                        .next_visible_ms
                        .map_or(held.visible_at_ms, |t| t.min(held.visible_at_ms)),
                );
                continue;
            }
            if let Some((_, max_receives)) = redrive {
                if held.receive_count >= max_receives {
                    to_move.push(held.id.clone());
                    continue;
                }
            }
            held.receive_count += 1;
            held.visible_at_ms = now_ms + visibility_ms;
            let first = *held.first_receive_ms.get_or_insert(now_ms);
            picked.ops.push(QueueOp::Reschedule {
                queue: store_queue.clone(),
                id: held.id.clone(),
                attempts: held.receive_count,
                not_before_ms: held.visible_at_ms,
            });
            picked.received.push(ReceivedMessage {
                message_id: held.id.clone(),
                receipt_handle: Receipt {
                    message_id: held.id.clone(),
                    nonce: u64::from(held.receive_count),
                }
                .encode(),
                content: held.content.clone(),
                sent_ms: held.sent_ms,
                receive_count: held.receive_count,
                first_receive_ms: first,
            });
        }
        for id in expired {
            state.remove(&id);
            picked.ops.push(QueueOp::Remove {
                queue: store_queue.clone(),
                id,
            });
        }
        if let Some((dead_letter_queue, _)) = redrive {
            for id in to_move {
                if let Some(mut held) = state.remove(&id) {
                    held.visible_at_ms = now_ms;
                    picked.ops.push(QueueOp::Remove {
                        queue: store_queue.clone(),
                        id: id.clone(),
                    });
                    picked.ops.push(QueueOp::Enqueue {
                        queue: dead_letter_queue.to_owned(),
                        message: held.to_store(),
                    });
                    picked.moved.push(held);
                }
            }
        }
        picked
    }

    /// Deletes the message a receipt handle names, if that receive is still the latest; an
    /// older handle or a message already gone succeeds and changes nothing (as SQS does).
    pub(crate) fn delete(&self, receipt: &Receipt) -> Option<QueueOp> {
        let mut state = self.state.lock();
        let current = state
            .order_of
            .get(&receipt.message_id)
            .and_then(|order| state.messages.get(order))
            .is_some_and(|held| u64::from(held.receive_count) == receipt.nonce);
        if !current {
            return None;
        }
        state.remove(&receipt.message_id)?;
        Some(QueueOp::Remove {
            queue: self.store_queue(),
            id: receipt.message_id.clone(),
        })
    }

    /// Sets a received message's visibility timeout from now.
    pub(crate) fn change_visibility(
        &self,
        handle: &str,
        receipt: &Receipt,
        timeout_s: u32,
        now_ms: i64,
    ) -> Result<QueueOp, QueueError> {
        if timeout_s > 43_200 {
            return Err(QueueError::invalid_value(
                timeout_s,
                "VisibilityTimeout",
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let mut state = self.state.lock();
        let gone = || {
            QueueError::invalid_value(
                handle,
                "ReceiptHandle",
                "Message does not exist or is not available for visibility timeout change.",
            )
        };
        let order = *state.order_of.get(&receipt.message_id).ok_or_else(gone)?;
        let held = state.messages.get_mut(&order).ok_or_else(gone)?;
        if u64::from(held.receive_count) != receipt.nonce {
            return Err(gone());
        }
        if held.visible_at_ms <= now_ms {
            return Err(QueueError::MessageNotInflight);
        }
        held.visible_at_ms = now_ms + i64::from(timeout_s) * 1000;
        let op = QueueOp::Reschedule {
            queue: self.meta().record.store_queue.clone(),
            id: held.id.clone(),
            attempts: held.receive_count,
            not_before_ms: held.visible_at_ms,
        };
        drop(state);
        if timeout_s == 0 {
            self.notify.notify_waiters();
        }
        Ok(op)
    }

    /// Removes every message (at most once a minute).
    pub(crate) fn purge(&self, now_ms: i64) -> Result<Vec<QueueOp>, QueueError> {
        let store_queue = self.store_queue();
        let mut state = self.state.lock();
        if state
            .last_purge_ms
            .is_some_and(|at| now_ms - at < PURGE_INTERVAL_MS)
        {
            return Err(QueueError::PurgeQueueInProgress(self.arn()));
        }
        state.last_purge_ms = Some(now_ms);
        Ok(Self::drain(&mut state, &store_queue))
    }

    /// Every message, removed (the queue is being deleted).
    pub(crate) fn remove_all(&self) -> Vec<QueueOp> {
        let store_queue = self.store_queue();
        Self::drain(&mut self.state.lock(), &store_queue)
    }

    fn drain(state: &mut QueueState, store_queue: &str) -> Vec<QueueOp> {
        state.order_of.clear();
        std::mem::take(&mut state.messages)
            .into_values()
            .map(|held| QueueOp::Remove {
                queue: store_queue.to_owned(),
                id: held.id,
            })
            .collect()
    }

    /// Drops messages past their retention period and forgets expired deduplication ids.
    pub(crate) fn expire(&self, now_ms: i64) -> Vec<QueueOp> {
        let meta = self.meta();
        let retention_ms = i64::from(meta.settings.retention) * 1000;
        let mut state = self.state.lock();
        state
            .deduplication
            .retain(|_, (_, _, expires)| *expires > now_ms);
        let expired: Vec<String> = state
            .messages
            .values()
            .filter(|held| held.sent_ms + retention_ms <= now_ms)
            .map(|held| held.id.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|id| state.remove(&id))
            .map(|held| QueueOp::Remove {
                queue: meta.record.store_queue.clone(),
                id: held.id,
            })
            .collect()
    }

    /// How many messages are visible, in flight and delayed.
    pub fn counts(&self, now_ms: i64) -> Counts {
        let state = self.state.lock();
        let mut counts = Counts::default();
        for held in state.messages.values() {
            if held.visible_at_ms <= now_ms {
                counts.visible += 1;
            } else if held.receive_count > 0 {
                counts.in_flight += 1;
            } else {
                counts.delayed += 1;
            }
        }
        counts
    }
}
