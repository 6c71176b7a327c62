//! Delivering one due event and acting on its outcome: success, retry with backoff, or give up —
//! each ending in one queue commit that removes the event and hands its record to a destination.
//! A due event is handed over only with a concurrency slot already taken for it
//! ([`AsyncInvoker::hand_over`]), so events queued behind a busy function wait for a slot
//! instead of meeting throttles and backing off.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nubo_store::QueueOp;
use serde_json::Value;

use super::destinations::{dead_letter, destination, record, Handover};
use super::queue::QueuedEvent;
use super::{
    now_ms, AsyncInvoker, DEFAULT_MAXIMUM_EVENT_AGE_SECONDS, DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
};
use crate::control::collections::ASYNC_QUEUE;
use crate::control::event_invoke::EventInvokeConfig;
use crate::invoke::Slot;
use crate::lineage::{MAX_LINEAGE, RECURSION_CONDITION};
use crate::{ControlError, InvokeError, InvokeRequest, InvokeResult};

impl AsyncInvoker {
    /// The settings an event runs under: its qualifier's (or `$LATEST`'s), else Lambda's defaults.
    fn settings(&self, event: &QueuedEvent) -> Arc<EventInvokeConfig> {
        self.invoker
            .registry()
            .event_invoke_config(&event.function)
            .unwrap_or_default()
    }

    /// Whether the event is older than its `MaximumEventAgeInSeconds`.
    fn too_old(&self, event: &QueuedEvent, settings: &EventInvokeConfig) -> bool {
        let max_age_ms = i64::from(
            settings
                .maximum_event_age_seconds
                .unwrap_or(DEFAULT_MAXIMUM_EVENT_AGE_SECONDS),
        ) * 1000;
        now_ms() - event.received_ms > max_age_ms
    }

    /// Starts a delivery for every waiting event whose function has a free concurrency slot,
    /// in order, taking the slot here; the others keep waiting (none counts as throttled). An
    /// event that can no longer run (too old; its function gone) is delivered without a slot,
    /// to be given up or dropped. Returns false once the invoker is shutting down.
    pub(super) async fn hand_over(
        self: &Arc<Self>,
        waiting: &mut VecDeque<(Arc<QueuedEvent>, u32)>,
    ) -> bool {
        // Functions found at their limit in this pass: their later events need not ask again.
        let mut full: HashSet<nubo_wire::arn::FunctionRef> = HashSet::new();
        for _ in 0..waiting.len() {
            let Some((event, throttles)) = waiting.pop_front() else {
                break;
            };
            let taken =
                (!full.contains(&event.function)).then(|| self.invoker.try_slot(&event.function));
            let slot = match taken {
                Some(Ok(slot)) => Some(slot),
                None | Some(Err(InvokeError::Throttled { .. })) => {
                    if !self.too_old(&event, &self.settings(&event)) {
                        full.insert(event.function.clone());
                        waiting.push_back((event, throttles));
                        continue;
                    }
                    None
                }
                // The invocation meets the same error and deals with it.
                Some(Err(_)) => None,
            };
            let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
                return false;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                worker.deliver(event, throttles, slot).await;
                drop(permit);
            });
        }
        true
    }

    /// Delivers one event through the invoker (in `slot` when one was taken for it) and acts on
    /// the outcome.
    pub(super) async fn deliver(
        &self,
        event: Arc<QueuedEvent>,
        throttles: u32,
        slot: Option<Slot>,
    ) {
        let settings = self.settings(&event);
        if self.too_old(&event, &settings) {
            self.metrics.age_exceeded.inc();
            self.give_up(&event, &settings, "EventAgeExceeded", None);
            return;
        }
        // The 17th event of a chain is stopped; its record (one further) still reaches the
        // OnFailure destination, and anything that record sets off is dropped.
        if event.lineage == MAX_LINEAGE || event.lineage > MAX_LINEAGE + 1 {
            self.stop_recursion(&event, &settings);
            return;
        }
        let request = InvokeRequest {
            function: event.function.clone(),
            payload: Bytes::from(event.payload.clone()),
            client_context: event.client_context.clone(),
            tail_log: false,
            request_id: Some(event.id.clone()),
            lineage: event.lineage,
            trace: None,
        };
        let outcome = match slot {
            Some(slot) => self.invoker.invoke_in(request, slot).await,
            None => self.invoker.invoke(request).await,
        };
        match outcome {
            Ok(result) if !result.function_error => {
                self.metrics.succeeded.inc();
                self.record_latency(&event);
                let record = settings
                    .on_success
                    .as_deref()
                    .map(|d| (d, record(&event, "Success", Some(&result))));
                self.finish(&event, record);
            }
            Ok(result) => {
                self.metrics.function_errors.inc();
                let attempts = event.attempts + 1;
                let allowed = settings
                    .maximum_retry_attempts
                    .unwrap_or(DEFAULT_MAXIMUM_RETRY_ATTEMPTS);
                if attempts > allowed {
                    self.give_up(&event, &settings, "RetriesExhausted", Some(&result));
                } else {
                    self.metrics.retries.inc();
                    let delay = self.config.retry_delay * 2u32.pow(attempts - 1);
                    self.retry(&event, attempts, delay, 0, true);
                }
            }
            Err(InvokeError::Control(ControlError::NotFound(_))) => {
                // The function was deleted while its events waited: nothing left to call.
                self.metrics.dropped.inc();
                self.finish(&event, None);
            }
            Err(e) => {
                // Throttles and platform errors: try again later, without counting an attempt.
                self.metrics.throttled.inc();
                tracing::debug!(event = %event.id, error = %e, "asynchronous delivery deferred");
                let delay = (self.config.throttle_delay * 2u32.saturating_pow(throttles.min(16)))
                    .min(self.config.max_throttle_delay);
                self.retry(&event, event.attempts, delay, throttles + 1, false);
            }
        }
    }

    /// An event whose chain already holds [`MAX_LINEAGE`] invocations is not run: it is given
    /// up as a recursive loop, its record going to `OnFailure`; what that record's delivery sets
    /// off in turn is dropped without a record.
    fn stop_recursion(&self, event: &QueuedEvent, settings: &EventInvokeConfig) {
        self.metrics.recursion_stopped.inc();
        tracing::warn!(
            event = %event.id,
            function = %event.function.name,
            invocations = event.lineage,
            "stopped a recursive loop of asynchronous invocations"
        );
        if event.lineage == MAX_LINEAGE {
            self.give_up(event, settings, RECURSION_CONDITION, None);
        } else {
            self.metrics.dropped.inc();
            self.finish(event, None);
        }
    }

    fn record_latency(&self, event: &QueuedEvent) {
        let accepted = self.queue.lock().accepted_at.get(&event.id).copied();
        let seconds = match accepted {
            Some(at) => at.elapsed().as_secs_f64(),
            None => (now_ms() - event.received_ms).max(0) as f64 / 1000.0,
        };
        self.metrics.end_to_end.record(seconds);
    }

    /// Puts the event back in line after `delay`; a function error's attempt is persisted.
    fn retry(
        &self,
        event: &QueuedEvent,
        attempts: u32,
        delay: Duration,
        throttles: u32,
        persist: bool,
    ) {
        let not_before_ms = now_ms() + delay.as_millis() as i64;
        let next = Arc::new(QueuedEvent {
            attempts,
            not_before_ms,
            ..event.clone()
        });
        if persist {
            self.write(vec![QueueOp::Reschedule {
                queue: ASYNC_QUEUE.into(),
                id: event.id.clone(),
                attempts,
                not_before_ms,
            }]);
        }
        self.queue.lock().schedule(next, throttles);
        self.wake.notify_one();
    }

    /// Ends an event that will not succeed: its record goes to `OnFailure`, if set.
    fn give_up(
        &self,
        event: &QueuedEvent,
        settings: &EventInvokeConfig,
        condition: &str,
        result: Option<&InvokeResult>,
    ) {
        let record = settings
            .on_failure
            .as_deref()
            .map(|d| (d, record(event, condition, result)));
        let dead_letter = self.dead_letter(event, condition, result);
        if record.is_none() && dead_letter.is_none() {
            self.metrics.dropped.inc();
        }
        self.finish_with(event, record, dead_letter);
    }

    /// The function's `DeadLetterConfig` queue, if it has one, gets the event.
    fn dead_letter(
        &self,
        event: &QueuedEvent,
        condition: &str,
        result: Option<&InvokeResult>,
    ) -> Option<Handover> {
        let queues = self.queues.get()?;
        let function = self.invoker.registry().resolve(&event.function).ok()?;
        let arn = function
            .dead_letter_target
            .as_deref()
            .filter(|a| !a.is_empty())?;
        let message = result
            .and_then(|r| serde_json::from_slice::<Value>(&r.payload).ok())
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| condition.to_owned());
        dead_letter(arn, queues, event, &message)
    }

    /// Removes the event and, in the same transaction, hands its record to the destination.
    fn finish(&self, event: &QueuedEvent, record: Option<(&str, Value)>) {
        self.finish_with(event, record, None);
    }

    /// [`Self::finish`], with the event also sent to a dead-letter queue in the same transaction.
    fn finish_with(
        &self,
        event: &QueuedEvent,
        record: Option<(&str, Value)>,
        dead_letter: Option<Handover>,
    ) {
        let mut ops = vec![QueueOp::Remove {
            queue: ASYNC_QUEUE.into(),
            id: event.id.clone(),
        }];
        let mut follow_up = None;
        let mut after_commit = Vec::new();
        if let Some((arn, record)) = record {
            match destination(arn, &event.function.scope, self.queues.get()) {
                Ok(destination) => {
                    // The record's chain holds the event's invocations and the event's own.
                    let handover = destination.hand_over(&record, event.lineage + 1);
                    ops.extend(handover.ops);
                    follow_up = handover.follow_up;
                    after_commit.extend(handover.after_commit);
                    self.metrics.destination_records.inc();
                }
                Err(reason) => {
                    tracing::warn!(destination = arn, %reason, "unusable destination; record dropped");
                    self.metrics.dropped.inc();
                }
            }
        }
        if let Some(handover) = dead_letter {
            ops.extend(handover.ops);
            after_commit.extend(handover.after_commit);
        }
        if after_commit.is_empty() {
            self.write(ops);
        } else {
            self.write_then(ops, after_commit);
        }
        let mut queue = self.queue.lock();
        queue.events.remove(&event.id);
        queue.accepted_at.remove(&event.id);
        if let Some(next) = follow_up {
            queue.schedule(next, 0);
            drop(queue);
            self.wake.notify_one();
        }
    }
}
