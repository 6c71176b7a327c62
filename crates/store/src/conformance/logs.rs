//! Logs: time order, ranges, stream filters, paging, stream and group listings, durability.

use super::Backend;
use crate::{LogEvent, LogQuery, StoreError};

const GROUP: &str = "/aws/lambda/conformance";

fn event(group: &str, stream: &str, timestamp_ms: i64, message: &str) -> LogEvent {
    LogEvent {
        group: group.into(),
        stream: stream.into(),
        timestamp_ms,
        message: message.into(),
    }
}

fn query(group: &str) -> LogQuery {
    LogQuery {
        group: group.into(),
        ..LogQuery::default()
    }
}

fn messages(page: &crate::LogPage) -> Vec<&str> {
    page.events
        .iter()
        .map(|e| e.event.message.as_str())
        .collect()
}

/// Events come back by timestamp, ties in append order, only from the group asked for.
pub async fn logs_read_in_time_order(backend: &dyn Backend) {
    let logs = backend.open().await.logs;
    logs.append(vec![
        event(GROUP, "s1", 20, "b"),
        event(GROUP, "s2", 10, "a"),
        event("other", "s1", 15, "elsewhere"),
        event(GROUP, "s1", 20, "c"),
    ])
    .await
    .unwrap();
    logs.append(vec![
        event(GROUP, "s2", 5, "first"),
        event(GROUP, "s1", 30, "d"),
    ])
    .await
    .unwrap();
    logs.append(Vec::new()).await.unwrap();
    let page = logs.read(query(GROUP)).await.unwrap();
    assert_eq!(messages(&page), ["first", "a", "b", "c", "d"]);
    assert_eq!(page.next_token, None);
    let first = &page.events[0];
    assert_eq!(first.event, event(GROUP, "s2", 5, "first"));
    assert!(first.ingestion_ms > 0);
    assert_eq!(
        messages(&logs.read(query("other")).await.unwrap()),
        ["elsewhere"]
    );
    assert!(logs.read(query("none")).await.unwrap().events.is_empty());
}

/// Start is inclusive, end exclusive; a stream list narrows the group.
pub async fn logs_filter_by_time_range_and_stream(backend: &dyn Backend) {
    let logs = backend.open().await.logs;
    logs.append(
        (0..10)
            .map(|i| {
                event(
                    GROUP,
                    if i % 2 == 0 { "even" } else { "odd" },
                    i,
                    &i.to_string(),
                )
            })
            .collect(),
    )
    .await
    .unwrap();
    let range = logs
        .read(LogQuery {
            start_ms: Some(3),
            end_ms: Some(7),
            ..query(GROUP)
        })
        .await
        .unwrap();
    assert_eq!(messages(&range), ["3", "4", "5", "6"]);
    let odd = logs
        .read(LogQuery {
            streams: vec!["odd".into()],
            start_ms: Some(4),
            ..query(GROUP)
        })
        .await
        .unwrap();
    assert_eq!(messages(&odd), ["5", "7", "9"]);
    let both = logs
        .read(LogQuery {
            streams: vec!["odd".into(), "even".into()],
            end_ms: Some(3),
            ..query(GROUP)
        })
        .await
        .unwrap();
    assert_eq!(messages(&both), ["0", "1", "2"]);
}

/// Pages of `limit` events with a forward token; the pages together are the whole read.
pub async fn logs_page_forward_with_tokens(backend: &dyn Backend) {
    let logs = backend.open().await.logs;
    // Equal timestamps across the page boundaries: the token must not skip or repeat ties.
    logs.append(
        (0..25)
            .map(|i| event(GROUP, "s", i / 3, &format!("m{i:02}")))
            .collect(),
    )
    .await
    .unwrap();
    let whole = logs.read(query(GROUP)).await.unwrap();
    assert_eq!(whole.events.len(), 25);
    let mut paged = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = logs
            .read(LogQuery {
                limit: Some(10),
                token: token.clone(),
                ..query(GROUP)
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.events.len() <= 10);
        paged.extend(page.events);
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, whole.events);
    let bad = logs
        .read(LogQuery {
            token: Some("not a token".into()),
            ..query(GROUP)
        })
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
}

/// Streams of a group with their spans, by name and prefix; groups by prefix.
pub async fn logs_list_streams_and_groups(backend: &dyn Backend) {
    let logs = backend.open().await.logs;
    logs.append(vec![
        event(GROUP, "2026/01/02/[$LATEST]b", 30, "x"),
        event(GROUP, "2026/01/01/[$LATEST]a", 10, "x"),
        event(GROUP, "2026/01/01/[$LATEST]a", 12, "x"),
        event("/aws/lambda/other", "s", 1, "x"),
        event("api-access", "api/prod", 1, "x"),
    ])
    .await
    .unwrap();
    logs.append(vec![event(GROUP, "2026/01/01/[$LATEST]a", 5, "late")])
        .await
        .unwrap();
    let streams = logs.streams(GROUP, "").await.unwrap();
    let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["2026/01/01/[$LATEST]a", "2026/01/02/[$LATEST]b"]);
    let a = &streams[0];
    assert_eq!((a.first_event_ms, a.last_event_ms, a.events), (5, 12, 3));
    assert!(a.last_ingestion_ms > 0);
    let on_the_second = logs.streams(GROUP, "2026/01/02/").await.unwrap();
    assert_eq!(on_the_second.len(), 1);
    assert_eq!(
        logs.groups("/aws/lambda/").await.unwrap(),
        [GROUP, "/aws/lambda/other"]
    );
    assert_eq!(logs.groups("").await.unwrap().len(), 3);
}

/// Appended events are there after a reopen.
pub async fn logs_survive_reopen(backend: &dyn Backend) {
    {
        let logs = backend.open().await.logs;
        logs.append(vec![event(GROUP, "s", 1, "kept")])
            .await
            .unwrap();
    }
    let logs = backend.open().await.logs;
    assert_eq!(messages(&logs.read(query(GROUP)).await.unwrap()), ["kept"]);
    assert_eq!(logs.streams(GROUP, "").await.unwrap().len(), 1);
}

/// Groups exist once created or written to; empty streams list without events; deleting a group
/// removes its streams and events; retention expires only what is older than its days.
pub async fn logs_groups_streams_and_retention(backend: &dyn Backend) {
    const DAY: i64 = 86_400_000;
    let logs = backend.open().await.logs;
    assert!(logs.create_group("g/created").await.unwrap());
    assert!(!logs.create_group("g/created").await.unwrap());
    assert!(logs.create_stream("g/created", "empty").await.unwrap());
    assert!(!logs.create_stream("g/created", "empty").await.unwrap());
    let streams = logs.streams("g/created", "").await.unwrap();
    assert_eq!((streams.len(), streams[0].events), (1, 0));
    let now = 100 * DAY;
    logs.append(vec![
        event("g/created", "empty", now - 3 * DAY, "old"),
        event("g/created", "empty", now, "new"),
        event("g/written", "s", now - 3 * DAY, "kept: no retention"),
    ])
    .await
    .unwrap();
    let streams = logs.streams("g/created", "").await.unwrap();
    assert_eq!(
        (
            streams[0].first_event_ms,
            streams[0].last_event_ms,
            streams[0].events
        ),
        (now - 3 * DAY, now, 2)
    );
    let groups = logs.describe_groups("g/").await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["g/created", "g/written"]);
    assert_eq!(groups[0].events, 2);
    assert!(logs.set_retention("g/created", Some(1)).await.unwrap());
    assert!(!logs.set_retention("g/none", Some(1)).await.unwrap());
    assert_eq!(logs.expire(now).await.unwrap(), 1);
    assert_eq!(
        messages(&logs.read(query("g/created")).await.unwrap()),
        ["new"]
    );
    let streams = logs.streams("g/created", "").await.unwrap();
    assert_eq!((streams[0].first_event_ms, streams[0].events), (now, 1));
    assert_eq!(logs.read(query("g/written")).await.unwrap().events.len(), 1);
    let groups = logs.describe_groups("g/created").await.unwrap();
    assert_eq!(groups[0].retention_days, Some(1));
    assert!(logs.delete_group("g/created").await.unwrap());
    assert!(!logs.delete_group("g/created").await.unwrap());
    assert!(logs
        .read(query("g/created"))
        .await
        .unwrap()
        .events
        .is_empty());
    assert!(logs.streams("g/created", "").await.unwrap().is_empty());
    assert_eq!(logs.describe_groups("g/").await.unwrap().len(), 1);
    assert!(logs
        .rename_group("g/written", "a:b:g/written")
        .await
        .unwrap());
    assert!(!logs.rename_group("g/written", "x").await.unwrap());
    assert_eq!(
        logs.read(query("a:b:g/written"))
            .await
            .unwrap()
            .events
            .len(),
        1
    );
    assert!(logs.describe_groups("g/").await.unwrap().is_empty());
}
