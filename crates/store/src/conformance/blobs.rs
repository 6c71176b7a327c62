//! Blobs: round trip, replace, delete, key validation, durability.

use bytes::Bytes;

use super::Backend;
use crate::StoreError;

/// Put, get, contains, replace and delete; bad keys refused; blobs survive a reopen.
pub async fn blobs_round_trip_and_survive_reopen(backend: &dyn Backend) {
    let key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let bytes = Bytes::from_static(&[0, 1, 2, 0xff, b'P', b'K']);
    {
        let blobs = backend.open().await.blobs;
        assert_eq!(blobs.get(key).await.unwrap(), None);
        assert!(!blobs.contains(key).await.unwrap());
        blobs.put(key, Bytes::from_static(b"old")).await.unwrap();
        blobs.put(key, bytes.clone()).await.unwrap();
        blobs.put("other", Bytes::new()).await.unwrap();
        assert!(blobs.delete("other").await.unwrap());
        assert!(!blobs.delete("other").await.unwrap());
        for bad in ["", "../escape", "a/b", ".hidden", &"x".repeat(129)] {
            let refused = blobs.put(bad, Bytes::new()).await;
            assert!(
                matches!(refused, Err(StoreError::Invalid(_))),
                "{bad}: {refused:?}"
            );
        }
    }
    let blobs = backend.open().await.blobs;
    assert!(blobs.contains(key).await.unwrap());
    assert_eq!(blobs.get(key).await.unwrap(), Some(bytes));
    assert_eq!(blobs.get("other").await.unwrap(), None);
}

/// Streamed uploads: invisible until published, whole afterwards, range reads, abandoned uploads
/// leave nothing, interrupted ones are swept, `keys` lists what is published.
pub async fn blobs_stream_in_and_out(backend: &dyn Backend) {
    use tokio::io::AsyncReadExt;

    let blobs = backend.open().await.object_blobs;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut upload = blobs.upload().await.unwrap();
    for piece in data.chunks(65_536) {
        upload.write(piece).await.unwrap();
    }
    assert_eq!(upload.written(), data.len() as u64);
    assert!(
        blobs.keys().await.unwrap().is_empty(),
        "nothing before publish"
    );
    upload.publish("streamed").await.unwrap();
    assert_eq!(blobs.keys().await.unwrap(), ["streamed"]);

    let mut read = blobs.open("streamed", 0, None).await.unwrap().unwrap();
    assert_eq!(read.size, data.len() as u64);
    let mut back = Vec::new();
    read.reader.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, data);

    let mut range = blobs
        .open("streamed", 1000, Some(10))
        .await
        .unwrap()
        .unwrap();
    let mut part = Vec::new();
    range.reader.read_to_end(&mut part).await.unwrap();
    assert_eq!(part, &data[1000..1010]);
    assert!(blobs.open("missing", 0, None).await.unwrap().is_none());

    // Dropped before publish: gone.
    let mut dropped = blobs.upload().await.unwrap();
    dropped.write(b"half").await.unwrap();
    drop(dropped);
    assert_eq!(blobs.sweep_uploads().await.unwrap(), 0);
    assert_eq!(blobs.keys().await.unwrap(), ["streamed"]);

    // Replacing publishes over the old bytes at once.
    let mut again = blobs.upload().await.unwrap();
    again.write(b"new").await.unwrap();
    again.publish("streamed").await.unwrap();
    let mut read = blobs.open("streamed", 0, None).await.unwrap().unwrap();
    let mut back = Vec::new();
    read.reader.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"new");
    assert!(blobs.delete("streamed").await.unwrap());
    assert!(blobs.keys().await.unwrap().is_empty());
}
