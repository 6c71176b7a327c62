//! Queues: durability across a reopen, order, atomic batches, idempotent enqueue.

use super::Backend;
use crate::{Message, QueueOp, StoreError};

fn message(id: &str, body: &[u8]) -> Message {
    Message {
        id: id.into(),
        body: body.to_vec(),
        attempts: 0,
        not_before_ms: 1,
        received_ms: 1,
    }
}

fn enqueue(queue: &str, message: Message) -> QueueOp {
    QueueOp::Enqueue {
        queue: queue.into(),
        message,
    }
}

fn remove(queue: &str, id: &str) -> QueueOp {
    QueueOp::Remove {
        queue: queue.into(),
        id: id.into(),
    }
}

fn ids(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

/// Applied batches are there after a reopen, per queue, in enqueue order, bodies byte for byte.
pub async fn queues_survive_reopen_in_order(backend: &dyn Backend) {
    let binary = [0u8, 0xff, b'\n', 0xc3];
    {
        let queues = backend.open().await.queues;
        queues
            .apply(vec![
                enqueue("q1", message("a", b"{\"n\":1}")),
                enqueue("q1", message("b", b"{}")),
                enqueue("q2", message("x", b"other queue")),
                enqueue("q1", message("c", &binary)),
            ])
            .await
            .unwrap();
        queues
            .apply(vec![
                remove("q1", "b"),
                QueueOp::Reschedule {
                    queue: "q1".into(),
                    id: "c".into(),
                    attempts: 2,
                    not_before_ms: 99,
                },
                enqueue("q1", message("d", b"last")),
            ])
            .await
            .unwrap();
    }
    let queues = backend.open().await.queues;
    let q1 = queues.messages("q1").await.unwrap();
    assert_eq!(ids(&q1), ["a", "c", "d"]);
    assert_eq!(q1[0], message("a", b"{\"n\":1}"));
    assert_eq!(
        q1[1],
        Message {
            attempts: 2,
            not_before_ms: 99,
            ..message("c", &binary)
        }
    );
    assert_eq!(ids(&queues.messages("q2").await.unwrap()), ["x"]);
    assert!(queues.messages("q3").await.unwrap().is_empty());
}

/// A batch with an invalid op applies nothing; a batch may move a message between queues.
pub async fn queues_batches_are_atomic(backend: &dyn Backend) {
    let queues = backend.open().await.queues;
    queues
        .apply(vec![enqueue("events", message("e1", b"{}"))])
        .await
        .unwrap();
    let failed = queues
        .apply(vec![
            remove("events", "e1"),
            enqueue("events", message("e2", b"{}")),
            remove("events", ""),
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::Invalid(_))), "{failed:?}");
    assert_eq!(ids(&queues.messages("events").await.unwrap()), ["e1"]);
    let no_queue = queues.apply(vec![enqueue("", message("z", b""))]).await;
    assert!(
        matches!(no_queue, Err(StoreError::Invalid(_))),
        "{no_queue:?}"
    );

    queues
        .apply(vec![
            remove("events", "e1"),
            enqueue("destinations", message("record", b"{\"ok\":true}")),
        ])
        .await
        .unwrap();
    assert!(queues.messages("events").await.unwrap().is_empty());
    assert_eq!(
        ids(&queues.messages("destinations").await.unwrap()),
        ["record"]
    );
}

/// Enqueuing an id already queued changes nothing; ops on missing ids are no-ops.
pub async fn queues_enqueue_is_idempotent(backend: &dyn Backend) {
    let queues = backend.open().await.queues;
    queues
        .apply(vec![
            enqueue("q", message("a", b"first")),
            enqueue("q", message("a", b"second")),
            remove("q", "missing"),
            QueueOp::Reschedule {
                queue: "q".into(),
                id: "missing".into(),
                attempts: 1,
                not_before_ms: 5,
            },
        ])
        .await
        .unwrap();
    let all = queues.messages("q").await.unwrap();
    assert_eq!(all, [message("a", b"first")]);
    // The same id may live in another queue.
    queues
        .apply(vec![enqueue("other", message("a", b"elsewhere"))])
        .await
        .unwrap();
    assert_eq!(queues.messages("other").await.unwrap().len(), 1);
    assert_eq!(queues.messages("q").await.unwrap().len(), 1);
}
