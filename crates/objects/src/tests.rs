//! The object layer over the real SQLite store and blob directory.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use nubo_store::conformance::{Backend, SqliteBackend};

use crate::conditions::{ByteRange, Conditions};
use crate::listing::ListParams;
use crate::{BodySource, BucketName, ObjectError, ObjectKey, ObjectStore, PutObject};

struct Pieces(std::collections::VecDeque<Bytes>);

#[async_trait]
impl BodySource for Pieces {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError> {
        Ok(self.0.pop_front())
    }
}

fn body(data: &[u8]) -> Pieces {
    let piece = if data.len() > 1000 { 65_536 } else { 7 };
    Pieces(data.chunks(piece).map(Bytes::copy_from_slice).collect())
}

async fn open(backend: &SqliteBackend) -> (Arc<ObjectStore>, nubo_store::Stores) {
    let stores = backend.open().await;
    let store = ObjectStore::open(stores.documents.clone(), stores.object_blobs.clone())
        .await
        .unwrap();
    (store, stores)
}

fn put(bucket: &str, key: &str) -> PutObject {
    PutObject {
        bucket: BucketName::parse(bucket).unwrap(),
        key: ObjectKey::parse(key).unwrap(),
        attributes: Default::default(),
        content_md5: None,
    }
}

async fn read_all(
    store: &ObjectStore,
    bucket: &str,
    key: &str,
    range: Option<ByteRange>,
) -> Vec<u8> {
    let mut read = store
        .get_object(bucket, key, &Conditions::default(), range)
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(piece) = read.body.next_piece().await.unwrap() {
        out.extend_from_slice(&piece);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_overwrite_delete_and_survive_reopen() {
    let backend = SqliteBackend::new();
    let (store, stores) = open(&backend).await;
    let b = BucketName::parse("photos").unwrap();
    store
        .create_bucket(&b, "us-east-1", "000000000000")
        .await
        .unwrap();
    assert!(matches!(
        store.create_bucket(&b, "us-east-1", "0").await,
        Err(ObjectError::BucketAlreadyOwnedByYou(_))
    ));
    let record = store
        .put_object(put("photos", "a/b.txt"), &mut body(b"hello world"))
        .await
        .unwrap();
    assert_eq!(record.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(
        read_all(&store, "photos", "a/b.txt", None).await,
        b"hello world"
    );
    assert_eq!(
        read_all(&store, "photos", "a/b.txt", Some(ByteRange::FromTo(6, 100))).await,
        b"world"
    );
    // Overwrite: the old blob goes.
    store
        .put_object(put("photos", "a/b.txt"), &mut body(b"second"))
        .await
        .unwrap();
    assert_eq!(stores.object_blobs.keys().await.unwrap().len(), 1);
    // A wrong Content-MD5 stores nothing.
    let mut bad = put("photos", "c");
    bad.content_md5 = Some([0; 16]);
    assert!(matches!(
        store.put_object(bad, &mut body(b"x")).await,
        Err(ObjectError::BadDigest)
    ));
    assert!(matches!(
        store.head_object("photos", "c").await,
        Err(ObjectError::NoSuchKey(_))
    ));
    assert!(matches!(
        store.delete_bucket("photos").await,
        Err(ObjectError::BucketNotEmpty(_))
    ));
    drop(store);
    // An orphan blob (published, never committed) is swept at open.
    let mut orphan = stores.object_blobs.upload().await.unwrap();
    orphan.write(b"orphan").await.unwrap();
    orphan.publish("deadbeef").await.unwrap();
    let (store, stores) = open(&backend).await;
    assert_eq!(stores.object_blobs.keys().await.unwrap().len(), 1);
    assert_eq!(read_all(&store, "photos", "a/b.txt", None).await, b"second");
    assert!(store
        .delete_object("photos", "a/b.txt")
        .await
        .unwrap()
        .is_some());
    assert!(store
        .delete_object("photos", "a/b.txt")
        .await
        .unwrap()
        .is_none());
    assert!(stores.object_blobs.keys().await.unwrap().is_empty());
    store.delete_bucket("photos").await.unwrap();
    assert!(matches!(
        store.bucket("photos"),
        Err(ObjectError::NoSuchBucket(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_with_prefix_delimiter_and_pages() {
    let backend = SqliteBackend::new();
    let (store, _stores) = open(&backend).await;
    store
        .create_bucket(&BucketName::parse("list").unwrap(), "us-east-1", "0")
        .await
        .unwrap();
    for key in ["a/1", "a/2", "b", "c/x/1", "c/y", "d"] {
        store
            .put_object(put("list", key), &mut body(b"x"))
            .await
            .unwrap();
    }
    let params = |prefix: &str, delimiter: Option<&str>, after: Option<&str>, max| ListParams {
        prefix: prefix.into(),
        delimiter: delimiter.map(Into::into),
        start_after: after.map(Into::into),
        max_keys: max,
    };
    let page = store
        .list_objects("list", &params("", Some("/"), None, 1000))
        .await
        .unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["b", "d"]);
    assert_eq!(page.common_prefixes, ["a/", "c/"]);
    assert!(!page.truncated);
    let page = store
        .list_objects("list", &params("c/", Some("/"), None, 1000))
        .await
        .unwrap();
    assert_eq!(page.common_prefixes, ["c/x/"]);
    assert_eq!(page.objects[0].0, "c/y");
    // Pages of two, resumed after the last entry.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_objects("list", &params("", Some("/"), after.as_deref(), 2))
            .await
            .unwrap();
        seen.extend(page.objects.iter().map(|(k, _)| k.clone()));
        seen.extend(page.common_prefixes.iter().cloned());
        if !page.truncated {
            break;
        }
        after = page.last.clone();
    }
    seen.sort();
    assert_eq!(seen, ["a/", "b", "c/", "d"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_completes_from_parts_without_copying() {
    let backend = SqliteBackend::new();
    let (store, stores) = open(&backend).await;
    let b = BucketName::parse("big").unwrap();
    let k = ObjectKey::parse("file.bin").unwrap();
    store.create_bucket(&b, "us-east-1", "0").await.unwrap();
    let id = store
        .create_upload(&b, &k, Default::default())
        .await
        .unwrap();
    let first = vec![1u8; crate::multipart::MIN_PART_BYTES as usize];
    let p1 = store
        .upload_part("big", "file.bin", &id, 1, &mut body(&first), None)
        .await
        .unwrap();
    let p2 = store
        .upload_part("big", "file.bin", &id, 2, &mut body(b"tail"), None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .complete_upload(
                "big",
                "file.bin",
                &id,
                &[(2, p2.etag.clone()), (1, p1.etag.clone())]
            )
            .await,
        Err(ObjectError::InvalidPartOrder)
    ));
    assert!(matches!(
        store
            .complete_upload("big", "file.bin", &id, &[(1, "nope".into())])
            .await,
        Err(ObjectError::InvalidPart)
    ));
    let record = store
        .complete_upload(
            "big",
            "file.bin",
            &id,
            &[(1, p1.etag.clone()), (2, p2.etag.clone())],
        )
        .await
        .unwrap();
    assert!(record.etag.ends_with("-2"));
    assert_eq!(record.size, first.len() as u64 + 4);
    let data = read_all(&store, "big", "file.bin", None).await;
    assert_eq!(&data[first.len()..], b"tail");
    let span = read_all(
        &store,
        "big",
        "file.bin",
        Some(ByteRange::FromTo(
            first.len() as u64 - 2,
            first.len() as u64 + 1,
        )),
    )
    .await;
    assert_eq!(span, [1, 1, b't', b'a']);
    assert_eq!(stores.object_blobs.keys().await.unwrap().len(), 2);
    assert!(matches!(
        store.abort_upload("big", "file.bin", &id).await,
        Err(ObjectError::NoSuchUpload(_))
    ));
    // Abort deletes the parts' data.
    let id = store
        .create_upload(&b, &k, Default::default())
        .await
        .unwrap();
    store
        .upload_part("big", "file.bin", &id, 1, &mut body(b"x"), None)
        .await
        .unwrap();
    assert_eq!(store.list_uploads("big", "").await.unwrap().len(), 1);
    store.abort_upload("big", "file.bin", &id).await.unwrap();
    assert_eq!(stores.object_blobs.keys().await.unwrap().len(), 2);
}
