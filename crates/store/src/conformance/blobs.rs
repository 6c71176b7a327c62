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
