//! The queue: accepted events, in the store and in memory.
//!
//! In the store, an event is a message of the `lambda-async` queue whose body is the event's
//! routing header (one JSON line: scope, function, qualifier, client context) followed by its
//! payload bytes. Changes are submitted straight to the store, which group-commits them (while
//! one transaction syncs, the next batches gather) in submission order. In memory, [`Queue`]
//! holds every accepted event not yet done with, ordered by when it is next due.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use nubo_store::{Message, QueueOp};
use nubo_wire::arn::FunctionRef;
use nubo_wire::{FunctionName, Qualifier, Scope};
use serde::{Deserialize, Serialize};

use crate::control::collections::ASYNC_QUEUE;

/// An accepted asynchronous invocation, kept until it has been delivered or given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The invocation's request id (returned to the caller with the 202); the message id.
    pub id: String,
    /// The function, in its scope, with the qualifier the caller gave, if any.
    pub function: FunctionRef,
    /// The event.
    pub payload: Vec<u8>,
    /// Client context, passed through.
    pub client_context: Option<String>,
    /// When it was accepted, epoch milliseconds.
    pub received_ms: i64,
    /// Attempts that ended in a function error so far.
    pub attempts: u32,
    /// Not to be delivered before this time, epoch milliseconds.
    pub not_before_ms: i64,
    /// Invocations before this event's in its chain (see [`crate::lineage`]).
    pub lineage: u32,
}

/// The first line of a queued message's body: where the event goes. Messages written before
/// scopes carry no account or region: they belong to the default scope.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventHeader<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    account: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    function: Cow<'a, str>,
    #[serde(borrow)]
    qualifier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_context: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    lineage: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl QueuedEvent {
    /// The qualifier the event runs under: the caller's, or `$LATEST`.
    pub fn qualifier(&self) -> Qualifier {
        self.function
            .qualifier
            .clone()
            .unwrap_or_else(Qualifier::latest)
    }

    /// The queue message: the header as one JSON line, `\n`, the payload.
    /// (serde_json escapes control characters, so the header holds no raw newline.)
    pub fn to_message(&self) -> Message {
        let header = EventHeader {
            account: Some(Cow::Borrowed(&self.function.scope.account_id)),
            region: Some(Cow::Borrowed(&self.function.scope.region)),
            function: Cow::Borrowed(&self.function.name),
            qualifier: self.function.qualifier.as_deref().map(Cow::Borrowed),
            client_context: self.client_context.as_deref().map(Cow::Borrowed),
            lineage: self.lineage,
        };
        let mut body = serde_json::to_vec(&header).expect("a header of strings serializes");
        body.reserve(1 + self.payload.len());
        body.push(b'\n');
        body.extend_from_slice(&self.payload);
        Message {
            id: self.id.clone(),
            body,
            attempts: self.attempts,
            not_before_ms: self.not_before_ms,
            received_ms: self.received_ms,
        }
    }

    /// Reads a queue message back; `None` if its body is not one of ours. A message without a
    /// scope belongs to `default`.
    pub fn from_message(message: Message, default: &Scope) -> Option<Self> {
        let split = message.body.iter().position(|&b| b == b'\n')?;
        let header: EventHeader<'_> = serde_json::from_slice(&message.body[..split]).ok()?;
        let scope = match (header.account, header.region) {
            (Some(account), Some(region)) => Scope {
                region: region.into_owned(),
                account_id: account.into_owned(),
            },
            _ => default.clone(),
        };
        let function = FunctionRef::new(
            scope,
            FunctionName::new(header.function.into_owned()).ok()?,
            header
                .qualifier
                .map(|q| Qualifier::new(q.into_owned()))
                .transpose()
                .ok()?,
        );
        Some(Self {
            function,
            client_context: header.client_context.map(Cow::into_owned),
            payload: message.body[split + 1..].to_vec(),
            id: message.id,
            received_ms: message.received_ms,
            attempts: message.attempts,
            not_before_ms: message.not_before_ms,
            lineage: header.lineage,
        })
    }
}

/// The queue operation that stores an event.
pub(crate) fn enqueue(event: &QueuedEvent) -> QueueOp {
    QueueOp::Enqueue {
        queue: ASYNC_QUEUE.into(),
        message: event.to_message(),
    }
}

/// Every accepted, undelivered event and when it is next due.
#[derive(Default)]
pub(crate) struct Queue {
    pub(crate) events: HashMap<String, Pending>,
    /// When events accepted by this process were acknowledged (precise end-to-end latency).
    pub(crate) accepted_at: HashMap<String, Instant>,
    due: BinaryHeap<Reverse<(i64, u64, String)>>,
    seq: u64,
}

/// An event waiting, and how many throttles in a row it has met (its backoff).
pub(crate) struct Pending {
    pub(crate) event: Arc<QueuedEvent>,
    pub(crate) throttles: u32,
}

impl Queue {
    /// Puts an event in line for its `not_before_ms`.
    pub(crate) fn schedule(&mut self, event: Arc<QueuedEvent>, throttles: u32) {
        self.seq += 1;
        self.due
            .push(Reverse((event.not_before_ms, self.seq, event.id.clone())));
        self.events
            .insert(event.id.clone(), Pending { event, throttles });
    }

    /// Takes every event due at `now`; returns them and when the next one is due.
    pub(crate) fn take_due(&mut self, now: i64) -> (Vec<(Arc<QueuedEvent>, u32)>, Option<i64>) {
        let mut due = Vec::new();
        loop {
            match self.due.peek() {
                Some(Reverse((at, _, _))) if *at <= now => {
                    let Some(Reverse((_, _, id))) = self.due.pop() else {
                        break (due, None);
                    };
                    if let Some(pending) = self.events.get(&id) {
                        due.push((pending.event.clone(), pending.throttles));
                    }
                }
                Some(Reverse((at, _, _))) => break (due, Some(*at)),
                None => break (due, None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(qualifier: Option<&str>, client_context: Option<&str>, payload: &[u8]) -> QueuedEvent {
        QueuedEvent {
            id: "e1".into(),
            function: FunctionRef::new(
                Scope::default(),
                FunctionName::new("f").unwrap(),
                qualifier.map(|q| Qualifier::new(q).unwrap()),
            ),
            payload: payload.to_vec(),
            client_context: client_context.map(str::to_owned),
            received_ms: 100,
            attempts: 1,
            not_before_ms: 300,
            lineage: 0,
        }
    }

    #[test]
    fn events_round_trip_through_queue_messages() {
        let mut elsewhere = event(Some("1"), None, b"");
        elsewhere.function.scope = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        for e in [
            event(None, None, b"{}"),
            event(
                Some("live"),
                Some("line\nbreak \"quoted\""),
                b"{\"a\":\"\\n\"}\n",
            ),
            elsewhere,
            QueuedEvent {
                lineage: 7,
                ..event(None, None, b"{}")
            },
        ] {
            assert_eq!(
                QueuedEvent::from_message(e.to_message(), &Scope::default()),
                Some(e)
            );
        }
        let foreign = Message {
            id: "x".into(),
            body: b"not ours".to_vec(),
            attempts: 0,
            not_before_ms: 0,
            received_ms: 0,
        };
        assert_eq!(QueuedEvent::from_message(foreign, &Scope::default()), None);
    }

    #[test]
    fn bodies_written_before_scopes_belong_to_the_default_scope() {
        // What `nubo-store` writes for a version-0 `async_events` row (keys in its order).
        let message = Message {
            id: "e1".into(),
            body:
                b"{\"clientContext\":\"ctx\",\"function\":\"f\",\"qualifier\":\"live\"}\n{\"n\":2}"
                    .to_vec(),
            attempts: 1,
            not_before_ms: 300,
            received_ms: 100,
        };
        assert_eq!(
            QueuedEvent::from_message(message, &Scope::default()),
            Some(event(Some("live"), Some("ctx"), b"{\"n\":2}"))
        );
    }
}
