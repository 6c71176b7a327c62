//! Documents: revisions, preconditions, prefix listing, atomic commits, durability.

use super::Backend;
use crate::{Change, ListQuery, Outcome, Precondition, Revision, StoreError};

const C: &str = "conformance-docs";

fn keys(docs: &[crate::Document]) -> Vec<&str> {
    docs.iter().map(|d| d.key.as_str()).collect()
}

/// Every write gives a new revision; a deleted and re-created document gets none of its old ones.
pub async fn documents_revisions_change_on_every_write(backend: &dyn Backend) {
    let docs = backend.open().await.documents;
    assert_eq!(docs.get(C, "a").await.unwrap(), None);
    let r1 = docs
        .put(C, "a", "{\"v\":1}".into(), Precondition::Absent)
        .await
        .unwrap();
    let got = docs.get(C, "a").await.unwrap().unwrap();
    assert_eq!((got.key.as_str(), got.body.as_str()), ("a", "{\"v\":1}"));
    assert_eq!(got.revision, r1);
    let r2 = docs
        .put(C, "a", "{\"v\":2}".into(), Precondition::None)
        .await
        .unwrap();
    assert_ne!(r2, r1);
    assert_eq!(docs.get(C, "a").await.unwrap().unwrap().revision, r2);
    assert!(docs.delete(C, "a", Precondition::None).await.unwrap());
    assert_eq!(docs.get(C, "a").await.unwrap(), None);
    let r3 = docs
        .put(C, "a", "{\"v\":3}".into(), Precondition::Absent)
        .await
        .unwrap();
    assert!(r3 != r1 && r3 != r2, "{r3:?} repeats an earlier revision");
}

/// Put-if-absent, put/delete-if-revision, and the errors when they do not hold.
pub async fn documents_preconditions_guard_writes(backend: &dyn Backend) {
    let docs = backend.open().await.documents;
    let r1 = docs
        .put(C, "k", "one".into(), Precondition::Absent)
        .await
        .unwrap();
    let again = docs.put(C, "k", "two".into(), Precondition::Absent).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    let r2 = docs
        .put(C, "k", "two".into(), Precondition::Revision(r1))
        .await
        .unwrap();
    let stale = docs
        .put(C, "k", "three".into(), Precondition::Revision(r1))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(docs.get(C, "k").await.unwrap().unwrap().body, "two");
    let missing = docs
        .put(C, "nope", "x".into(), Precondition::Revision(r2))
        .await;
    assert!(
        matches!(missing, Err(StoreError::Conflict(_))),
        "{missing:?}"
    );
    assert_eq!(docs.get(C, "nope").await.unwrap(), None);

    let stale_delete = docs.delete(C, "k", Precondition::Revision(r1)).await;
    assert!(
        matches!(stale_delete, Err(StoreError::Conflict(_))),
        "{stale_delete:?}"
    );
    assert!(docs.get(C, "k").await.unwrap().is_some());
    let absent_delete = docs.delete(C, "k", Precondition::Absent).await;
    assert!(
        matches!(absent_delete, Err(StoreError::Invalid(_))),
        "{absent_delete:?}"
    );
    assert!(docs
        .delete(C, "k", Precondition::Revision(r2))
        .await
        .unwrap());
    assert!(!docs.delete(C, "k", Precondition::None).await.unwrap());
    let empty = docs.put("", "k", "x".into(), Precondition::None).await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
}

/// Listing walks a collection's keys under a prefix in byte order, with paging.
pub async fn documents_list_by_prefix_in_key_order(backend: &dyn Backend) {
    let docs = backend.open().await.documents;
    let written = ["g/1", "f/2", "f/10", "f/$LATEST", "fg/1", "f/1", "é/1", "f"];
    for key in written {
        docs.put(C, key, key.into(), Precondition::None)
            .await
            .unwrap();
    }
    docs.put("conformance-other", "f/x", "x".into(), Precondition::None)
        .await
        .unwrap();

    let all = docs.list(C, ListQuery::all()).await.unwrap();
    let mut sorted = written.to_vec();
    sorted.sort_unstable();
    assert_eq!(keys(&all), sorted);
    assert!(all.iter().all(|d| d.body == d.key));

    let under_f = docs.list(C, ListQuery::prefix("f/")).await.unwrap();
    assert_eq!(keys(&under_f), ["f/$LATEST", "f/1", "f/10", "f/2"]);
    let accented = docs.list(C, ListQuery::prefix("é")).await.unwrap();
    assert_eq!(keys(&accented), ["é/1"]);
    assert!(docs
        .list(C, ListQuery::prefix("zz"))
        .await
        .unwrap()
        .is_empty());

    let page = |start_after: Option<&str>| ListQuery {
        prefix: "f/".into(),
        start_after: start_after.map(str::to_owned),
        limit: Some(3),
    };
    let first = docs.list(C, page(None)).await.unwrap();
    assert_eq!(keys(&first), ["f/$LATEST", "f/1", "f/10"]);
    let second = docs.list(C, page(Some("f/10"))).await.unwrap();
    assert_eq!(keys(&second), ["f/2"]);
}

/// A commit applies every change or none; prefix deletes stay inside their collection and prefix.
pub async fn documents_commits_are_atomic(backend: &dyn Backend) {
    let docs = backend.open().await.documents;
    let existing = docs
        .put(C, "f/$LATEST", "latest".into(), Precondition::None)
        .await
        .unwrap();
    let failed = docs
        .commit(vec![
            Change::put(C, "f/1", "v1"),
            Change::delete(C, "f/$LATEST"),
            Change::put(C, "f/2", "v2").when(Precondition::Revision(existing)),
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
    let left = docs.list(C, ListQuery::all()).await.unwrap();
    assert_eq!(keys(&left), ["f/$LATEST"]);
    assert_eq!(left[0].revision, existing);

    let outcomes = docs
        .commit(vec![
            Change::put(C, "f/1", "v1"),
            Change::put(C, "f/2", "v2"),
            Change::put(C, "fg/1", "other function"),
            Change::put("conformance-other", "f/1", "other collection"),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Put(_))));

    let outcomes = docs
        .commit(vec![
            Change::delete_prefix(C, "f/"),
            Change::delete(C, "missing"),
            Change::put(C, "g/1", "new"),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes[0], Outcome::Deleted(3));
    assert_eq!(outcomes[1], Outcome::Deleted(0));
    assert!(matches!(outcomes[2], Outcome::Put(_)));
    let left = docs.list(C, ListQuery::all()).await.unwrap();
    assert_eq!(keys(&left), ["fg/1", "g/1"]);
    let other = docs
        .list("conformance-other", ListQuery::all())
        .await
        .unwrap();
    assert_eq!(keys(&other), ["f/1"]);

    let everything = docs.commit(vec![Change::delete_prefix(C, "")]).await;
    assert!(
        matches!(everything, Err(StoreError::Invalid(_))),
        "{everything:?}"
    );
}

/// What was committed is there after a reopen, with its revision.
pub async fn documents_survive_reopen(backend: &dyn Backend) {
    let revision: Revision;
    {
        let docs = backend.open().await.documents;
        docs.put(C, "a/1", "one".into(), Precondition::None)
            .await
            .unwrap();
        revision = docs
            .put(C, "a/2", "two".into(), Precondition::None)
            .await
            .unwrap();
        docs.delete(C, "a/1", Precondition::None).await.unwrap();
    }
    let docs = backend.open().await.documents;
    let all = docs.list(C, ListQuery::all()).await.unwrap();
    assert_eq!(keys(&all), ["a/2"]);
    assert_eq!((all[0].body.as_str(), all[0].revision), ("two", revision));
    let next = docs
        .put(C, "a/2", "three".into(), Precondition::Revision(revision))
        .await
        .unwrap();
    assert_ne!(next, revision);
}
