//! S3's domain: buckets, objects and multipart uploads, on the store's [`Documents`] (one JSON
//! document per bucket, object, upload and part) and [`Blobs`] (the bytes).
//!
//! **Durability.** An object's bytes stream into a blob upload (never whole in memory), are
//! fsynced and renamed into place under a fresh key, and only then is the object's document
//! committed — one store transaction, compare-and-set against the document the writer read, so a
//! concurrent overwrite is never lost and the replaced blobs are deleted exactly once. What a
//! crash leaves between the two steps (an upload file, a published blob no document names) is
//! invisible — listings and reads go through documents — and swept at the next start
//! ([`ObjectStore::open`]). Nothing half-written is ever listed or served.
//!
//! **Reads** open every blob of the asked range before the first byte goes out (an overwrite
//! that deletes them afterwards cannot cut a response short: an open file outlives its name).
//!
//! Owns: names ([`BucketName`], [`ObjectKey`]), records ([`records`]), conditional requests and
//! ranges ([`conditions`]), listing with prefix/delimiter/pagination ([`listing`]), multipart
//! uploads ([`multipart`]) and which notification configurations an event matches
//! ([`notifications`]). Does not own: S3's wire shapes, authorization, payload signatures and
//! checksums (the edge's, which hands bodies in as a [`BodySource`] that fails at its end when a
//! check fails), or delivering notifications.

mod body;
mod buckets;
pub mod conditions;
pub mod cors;
mod error;
pub mod listing;
pub mod multipart;
mod names;
pub mod notifications;
mod objects;
pub mod records;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use nubo_store::{Blobs, Documents, ListQuery};
use parking_lot::RwLock;

pub use body::{BodySource, ObjectBody};
pub use error::ObjectError;
pub use names::{BucketName, ObjectKey, MAX_KEY_BYTES};
pub use objects::{CopySource, MetadataDirective, ObjectRead, PutObject, MAX_OBJECT_BYTES};
pub use records::{BucketRecord, ContentHeaders, ObjectAttributes, ObjectRecord};

use records::{
    BucketRecord as Bucket, ObjectRecord as Object, PartRecord, BUCKETS, OBJECTS, PARTS,
};

/// Buckets, objects and uploads over a document store and a blob store.
pub struct ObjectStore {
    documents: Arc<dyn Documents>,
    blobs: Arc<dyn Blobs>,
    /// Every bucket, in memory (few, read on every request).
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
    /// Serializes bucket document writes.
    bucket_writer: tokio::sync::Mutex<()>,
    /// Object commits hold it shared; DeleteBucket exclusively, so an object never lands in a
    /// bucket that is being deleted.
    gate: tokio::sync::RwLock<()>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("buckets", &self.buckets.read().len())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

/// A fresh blob key.
pub(crate) fn new_blob_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl ObjectStore {
    /// Loads the buckets and sweeps what interrupted writes left: upload files, and blobs no
    /// object or part names (published just before a crash, or replaced just before one).
    pub async fn open(
        documents: Arc<dyn Documents>,
        blobs: Arc<dyn Blobs>,
    ) -> Result<Arc<Self>, ObjectError> {
        let mut buckets = BTreeMap::new();
        for doc in documents.list(BUCKETS, ListQuery::all()).await? {
            match serde_json::from_str::<Bucket>(&doc.body) {
                Ok(bucket) => {
                    buckets.insert(bucket.name.clone(), Arc::new(bucket));
                }
                Err(e) => {
                    tracing::error!(bucket = %doc.key, error = %e, "skipping an unreadable bucket")
                }
            }
        }
        let store = Self {
            documents,
            blobs,
            buckets: RwLock::new(buckets),
            bucket_writer: tokio::sync::Mutex::new(()),
            gate: tokio::sync::RwLock::new(()),
        };
        store.sweep().await?;
        Ok(Arc::new(store))
    }

    async fn sweep(&self) -> Result<(), ObjectError> {
        let interrupted = self.blobs.sweep_uploads().await?;
        let mut referenced = HashSet::new();
        let mut unreadable = 0;
        for doc in self.documents.list(OBJECTS, ListQuery::all()).await? {
            match serde_json::from_str::<Object>(&doc.body) {
                Ok(object) => referenced.extend(object.segments.into_iter().map(|s| s.blob)),
                Err(_) => unreadable += 1,
            }
        }
        for doc in self.documents.list(PARTS, ListQuery::all()).await? {
            match serde_json::from_str::<PartRecord>(&doc.body) {
                Ok(part) => {
                    referenced.insert(part.blob);
                }
                Err(_) => unreadable += 1,
            }
        }
        // A record this binary cannot read may name any blob: deleting "orphans" then could
        // delete data. Keep everything and say so.
        if unreadable > 0 {
            tracing::error!(
                unreadable,
                "some object records are unreadable; object data is not swept"
            );
            return Ok(());
        }
        let mut orphans = 0;
        for key in self.blobs.keys().await? {
            if !referenced.contains(&key) {
                self.blobs.delete(&key).await?;
                orphans += 1;
            }
        }
        if interrupted + orphans > 0 {
            tracing::info!(
                interrupted,
                orphans,
                "removed object data left by interrupted writes"
            );
        }
        Ok(())
    }

    /// Deletes blobs nothing refers to any more; a failure only leaves garbage for the next sweep.
    pub(crate) async fn forget_blobs(&self, blobs: Vec<String>) {
        for blob in blobs {
            if let Err(e) = self.blobs.delete(&blob).await {
                tracing::warn!(%blob, error = %e, "could not delete replaced object data");
            }
        }
    }
}

#[cfg(test)]
mod tests;
