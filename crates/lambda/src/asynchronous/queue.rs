//! An accepted asynchronous invocation and its form in the store's queue: a message whose body is
//! the event's routing header (one JSON line) followed by its payload bytes.

use std::borrow::Cow;

use nubo_store::Message;
use serde::{Deserialize, Serialize};

/// An accepted asynchronous invocation, kept until it has been delivered or given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The invocation's request id (returned to the caller with the 202); the message id.
    pub id: String,
    /// Function name.
    pub function_name: String,
    /// Qualifier the caller gave, if any.
    pub qualifier: Option<String>,
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
}

/// The first line of a queued message's body: where the event goes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventHeader<'a> {
    #[serde(borrow)]
    function: Cow<'a, str>,
    #[serde(borrow)]
    qualifier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_context: Option<Cow<'a, str>>,
}

impl QueuedEvent {
    /// The queue message: `{"function":…,"qualifier":…,"clientContext":…}` + `\n` + payload.
    /// (serde_json escapes control characters, so the header holds no raw newline.)
    pub fn to_message(&self) -> Message {
        let header = EventHeader {
            function: Cow::Borrowed(&self.function_name),
            qualifier: self.qualifier.as_deref().map(Cow::Borrowed),
            client_context: self.client_context.as_deref().map(Cow::Borrowed),
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

    /// Reads a queue message back; `None` if its body is not one of ours.
    pub fn from_message(message: Message) -> Option<Self> {
        let split = message.body.iter().position(|&b| b == b'\n')?;
        let header: EventHeader<'_> = serde_json::from_slice(&message.body[..split]).ok()?;
        Some(Self {
            function_name: header.function.into_owned(),
            qualifier: header.qualifier.map(Cow::into_owned),
            client_context: header.client_context.map(Cow::into_owned),
            payload: message.body[split + 1..].to_vec(),
            id: message.id,
            received_ms: message.received_ms,
            attempts: message.attempts,
            not_before_ms: message.not_before_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(qualifier: Option<&str>, client_context: Option<&str>, payload: &[u8]) -> QueuedEvent {
        QueuedEvent {
            id: "e1".into(),
            function_name: "f".into(),
            qualifier: qualifier.map(str::to_owned),
            payload: payload.to_vec(),
            client_context: client_context.map(str::to_owned),
            received_ms: 100,
            attempts: 1,
            not_before_ms: 300,
        }
    }

    #[test]
    fn events_round_trip_through_queue_messages() {
        for e in [
            event(None, None, b"{}"),
            event(
                Some("live"),
                Some("line\nbreak \"quoted\""),
                b"{\"a\":\"\\n\"}\n",
            ),
            event(Some("1"), None, b""),
        ] {
            assert_eq!(QueuedEvent::from_message(e.to_message()), Some(e));
        }
        let foreign = Message {
            id: "x".into(),
            body: b"not ours".to_vec(),
            attempts: 0,
            not_before_ms: 0,
            received_ms: 0,
        };
        assert_eq!(QueuedEvent::from_message(foreign), None);
    }

    #[test]
    fn bodies_written_by_the_store_migration_are_read() {
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
            QueuedEvent::from_message(message),
            Some(event(Some("live"), Some("ctx"), b"{\"n\":2}"))
        );
    }
}
