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

/// Batches submitted without waiting in between commit in submission order: a message enqueued,
/// then rescheduled, then removed in three unawaited submissions ends removed.
pub async fn queues_commit_in_submission_order(backend: &dyn Backend) {
    let queues = backend.open().await.queues;
    let mut commits = Vec::new();
    for n in 0..50 {
        let id = format!("m{n}");
        commits.push(queues.submit(vec![enqueue("ordered", message(&id, b"{}"))]));
        commits.push(queues.submit(vec![QueueOp::Reschedule {
            queue: "ordered".into(),
            id: id.clone(),
            attempts: 1,
            not_before_ms: 7,
        }]));
        if n % 2 == 0 {
            commits.push(queues.submit(vec![remove("ordered", &id)]));
        }
    }
    for commit in commits {
        commit.await.unwrap();
    }
    let left = queues.messages("ordered").await.unwrap();
    let expected: Vec<String> = (1..50).step_by(2).map(|n| format!("m{n}")).collect();
    assert_eq!(ids(&left), expected);
    assert!(left.iter().all(|m| m.attempts == 1 && m.not_before_ms == 7));
}

/// An invalid batch submitted between valid ones (likely the same group commit) fails alone.
pub async fn queues_group_commit_isolates_a_bad_batch(backend: &dyn Backend) {
    let queues = backend.open().await.queues;
    let first = queues.submit(vec![enqueue("mixed", message("a", b"{}"))]);
    let bad = queues.submit(vec![
        enqueue("mixed", message("b", b"{}")),
        enqueue("mixed", message("", b"{}")),
    ]);
    let last = queues.submit(vec![enqueue("mixed", message("c", b"{}"))]);
    let bad = bad.await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    first.await.unwrap();
    last.await.unwrap();
    assert_eq!(ids(&queues.messages("mixed").await.unwrap()), ["a", "c"]);
}

/// Many tasks submitting at once (the group-commit case): every acknowledged batch is there,
/// after a reopen.
pub async fn queues_concurrent_submitters_all_land(backend: &dyn Backend) {
    {
        let queues = backend.open().await.queues;
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..8 {
            let queues = queues.clone();
            tasks.spawn(async move {
                for n in 0..40 {
                    let id = format!("w{worker}-{n}");
                    queues
                        .apply(vec![enqueue("busy", message(&id, b"{}"))])
                        .await
                        .unwrap();
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    }
    let queues = backend.open().await.queues;
    let mut all: Vec<String> = ids(&queues.messages("busy").await.unwrap())
        .into_iter()
        .map(str::to_owned)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 320);
}
