//! The registry over a real SQLite store: sends, receives, visibility, redrive, FIFO, reopen.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use nubo_store::StoreConfig;
use nubo_wire::Scope;

use crate::{AttributeMap, QueueError, QueueRegistry, SendInput};

async fn open(dir: &std::path::Path) -> Arc<QueueRegistry> {
    let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
    QueueRegistry::load(stores.documents, stores.queues)
        .await
        .unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> AttributeMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn now() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

fn text(body: &str) -> SendInput {
    SendInput {
        body: body.into(),
        sender: "AIDATEST".into(),
        ..SendInput::default()
    }
}

#[tokio::test]
async fn send_receive_delete_and_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let scope = Scope::default();
    let queue = registry
        .create(&scope, "q1", &attrs(&[]), BTreeMap::new())
        .await
        .unwrap();
    let sent = registry.send(&queue, text("hi")).await.unwrap();
    assert_eq!(sent.body_md5, "49f68a5c8493ec2c0bf489821c21fc3b");

    let got = registry.receive(&queue, 10, Some(30), None).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].receive_count, 1);
    // In flight: a second consumer gets nothing.
    assert!(registry
        .receive(&queue, 10, None, None)
        .await
        .unwrap()
        .is_empty());
    // Back to visible, received again: the first handle no longer deletes it.
    registry
        .change_visibility(&queue, &got[0].receipt_handle, 0)
        .await
        .unwrap();
    let again = registry.receive(&queue, 10, Some(30), None).await.unwrap();
    assert_eq!(again[0].receive_count, 2);
    registry
        .delete_message(&queue, &got[0].receipt_handle)
        .await
        .unwrap();
    assert_eq!(queue.counts(now()).in_flight, 1);
    registry
        .delete_message(&queue, &again[0].receipt_handle)
        .await
        .unwrap();
    assert_eq!(queue.counts(0), Default::default());
    assert_eq!(
        registry
            .delete_message(&queue, "garbage")
            .await
            .unwrap_err(),
        QueueError::ReceiptHandleIsInvalid("garbage".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_never_share_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let queue = registry
        .create(&Scope::default(), "shared", &attrs(&[]), BTreeMap::new())
        .await
        .unwrap();
    let inputs = (0..300).map(|i| text(&i.to_string())).collect::<Vec<_>>();
    for chunk in inputs.chunks(10) {
        for result in registry.send_batch(&queue, chunk.to_vec()).await.unwrap() {
            result.unwrap();
        }
    }
    let mut consumers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (r, q) = (registry.clone(), queue.clone());
        consumers.spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = r.receive(&q, 3, Some(60), None).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|m| m.content.body.clone()));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(got) = consumers.join_next().await {
        all.extend(got.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!((total, all.len()), (300, 300));
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let queue = registry
        .create(&Scope::default(), "q", &attrs(&[]), BTreeMap::new())
        .await
        .unwrap();
    let (r, q) = (registry.clone(), queue.clone());
    let waiter =
        tokio::spawn(async move { r.receive(&q, 1, None, Some(Duration::from_secs(10))).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    registry.send(&queue, text("late")).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got[0].content.body, "late");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn redrive_moves_after_max_receives_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let scope = Scope::default();
    {
        let registry = open(dir.path()).await;
        let dlq = registry
            .create(&scope, "dlq", &attrs(&[]), BTreeMap::new())
            .await
            .unwrap();
        let policy = format!(
            r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"2"}}"#,
            dlq.arn()
        );
        let queue = registry
            .create(
                &scope,
                "src",
                &attrs(&[("RedrivePolicy", &policy), ("VisibilityTimeout", "0")]),
                BTreeMap::new(),
            )
            .await
            .unwrap();
        registry.send(&queue, text("poison")).await.unwrap();
        registry.send(&queue, text("kept")).await.unwrap();
        for _ in 0..2 {
            let got = registry.receive(&queue, 1, None, None).await.unwrap();
            assert_eq!(got[0].content.body, "poison");
        }
        // The third receive moves "poison" away and hands out "kept".
        let got = registry.receive(&queue, 10, Some(60), None).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].content.body, "kept");
        assert_eq!(dlq.counts(now()).visible, 1);
    }
    // Reopened: the DLQ holds "poison", "kept" is still in flight.
    let registry = open(dir.path()).await;
    let dlq = registry.get(&scope, &scope.account_id, "dlq").unwrap();
    let got = registry.receive(&dlq, 10, None, None).await.unwrap();
    assert_eq!(got[0].content.body, "poison");
    let queue = registry.get(&scope, &scope.account_id, "src").unwrap();
    assert!(registry
        .receive(&queue, 10, None, None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn fifo_groups_and_deduplication() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let scope = Scope::default();
    assert!(matches!(
        registry
            .create(
                &scope,
                "nofifo",
                &attrs(&[("FifoQueue", "true")]),
                BTreeMap::new()
            )
            .await,
        Err(QueueError::InvalidParameterValue(_))
    ));
    let queue = registry
        .create(
            &scope,
            "f.fifo",
            &attrs(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    let fifo = |body: &str, group: &str| SendInput {
        group: Some(group.into()),
        ..text(body)
    };
    let first = registry.send(&queue, fifo("a1", "a")).await.unwrap();
    let dup = registry.send(&queue, fifo("a1", "a")).await.unwrap();
    assert_eq!(first.message_id, dup.message_id);
    registry.send(&queue, fifo("a2", "a")).await.unwrap();
    registry.send(&queue, fifo("b1", "b")).await.unwrap();
    let got = registry.receive(&queue, 1, None, None).await.unwrap();
    assert_eq!(got[0].content.body, "a1");
    // Group a is blocked while a1 is in flight; b is not.
    let got = registry.receive(&queue, 10, None, None).await.unwrap();
    let bodies: Vec<&str> = got.iter().map(|m| m.content.body.as_str()).collect();
    assert_eq!(bodies, ["b1"]);
    assert!(matches!(
        registry.send(&queue, text("no group")).await,
        Err(QueueError::MissingParameter(_))
    ));
}

#[tokio::test]
async fn create_is_idempotent_only_with_equal_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let scope = Scope::default();
    let a = registry
        .create(
            &scope,
            "same",
            &attrs(&[("VisibilityTimeout", "10")]),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    let b = registry
        .create(
            &scope,
            "same",
            &attrs(&[("VisibilityTimeout", "10")]),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(
        registry
            .create(
                &scope,
                "same",
                &attrs(&[("VisibilityTimeout", "11")]),
                BTreeMap::new()
            )
            .await
            .unwrap_err(),
        QueueError::QueueNameExists("VisibilityTimeout".into())
    );
    let oversized = SendInput {
        body: "x".repeat(262_145),
        ..text("")
    };
    assert!(matches!(
        registry.send(&a, oversized).await,
        Err(QueueError::InvalidParameterValue(m)) if m.contains("262144")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing probe: cargo test -p nubo-queues -- --ignored --nocapture"]
async fn group_commit_probe() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let queue = registry
        .create(&Scope::default(), "probe", &attrs(&[]), BTreeMap::new())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..200 {
        registry.send(&queue, text("x")).await.unwrap();
    }
    let sequential = started.elapsed();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (r, q) = (registry.clone(), queue.clone());
        tasks.spawn(async move {
            for _ in 0..25 {
                r.send(&q, text("x")).await.unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    println!(
        "200 sends: sequential {sequential:?}, 8 tasks {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retention_drops_old_messages_and_delay_hides_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(dir.path()).await;
    let queue = registry
        .create(
            &Scope::default(),
            "short",
            &attrs(&[("MessageRetentionPeriod", "60"), ("DelaySeconds", "5")]),
            BTreeMap::new(),
        )
        .await
        .unwrap();
    registry.send(&queue, text("old")).await.unwrap();
    // Delayed: not visible yet, counted as delayed.
    assert_eq!(queue.counts(now()).delayed, 1);
    assert!(registry
        .receive(&queue, 10, None, None)
        .await
        .unwrap()
        .is_empty());
    // A minute later the retention period is over: the sweep removes it.
    let ops = queue.expire(now() + 61_000);
    assert_eq!(ops.len(), 1);
    assert_eq!(queue.counts(now() + 61_000), Default::default());
    // A per-message delay overrides the queue's.
    let quick = SendInput {
        delay: Some(0),
        ..text("now")
    };
    registry.send(&queue, quick).await.unwrap();
    assert_eq!(
        registry
            .receive(&queue, 10, None, None)
            .await
            .unwrap()
            .len(),
        1
    );
}
