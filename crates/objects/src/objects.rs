//! Objects: put, get and head (ranges, conditions), delete, copy, tagging.

use std::collections::VecDeque;
use std::sync::Arc;

use md5::{Digest, Md5};
use nubo_store::{Change, Precondition, StoreError};

use crate::body::Written;
use crate::buckets::store_json;
use crate::conditions::{ByteRange, Conditions};
use crate::records::{object_key, BucketRecord, ObjectAttributes, ObjectRecord, Segment, OBJECTS};
use crate::{now_ms, BodySource, BucketName, ObjectBody, ObjectError, ObjectKey, ObjectStore};

/// The largest object a single PUT (or copy) writes: 5 GiB.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// A PutObject.
#[derive(Debug, Clone)]
pub struct PutObject {
    /// Bucket.
    pub bucket: BucketName,
    /// Key.
    pub key: ObjectKey,
    /// Headers, metadata, tags.
    pub attributes: ObjectAttributes,
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
}

/// An object read: its record, the span served and the bytes.
#[derive(Debug)]
pub struct ObjectRead {
    /// The object.
    pub record: ObjectRecord,
    /// The inclusive span served, when a range was asked.
    pub range: Option<(u64, u64)>,
    /// The bytes (empty for a HEAD).
    pub body: ObjectBody,
}

/// Whether a copy keeps the source's attributes or takes the request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataDirective {
    /// `COPY` (default): the source's headers and metadata (tags per the tagging directive).
    Copy,
    /// `REPLACE`: the request's.
    Replace(ObjectAttributes),
}

/// The source of a CopyObject / UploadPartCopy.
#[derive(Debug, Clone)]
pub struct CopySource {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// `x-amz-copy-source-if-*`.
    pub conditions: Conditions,
    /// `x-amz-copy-source-range` (UploadPartCopy).
    pub range: Option<ByteRange>,
}

pub(crate) fn md5_hex(md5: &[u8; 16]) -> String {
    hex::encode(md5)
}

impl ObjectStore {
    /// Stores an object from `source`. Returns the record and the record it replaced.
    pub async fn put_object(
        &self,
        put: PutObject,
        source: &mut dyn BodySource,
    ) -> Result<ObjectRecord, ObjectError> {
        self.bucket(put.bucket.as_str())?;
        let Written { blob, size, md5 } = self
            .write_blob(source, MAX_OBJECT_BYTES, put.content_md5)
            .await?;
        let record = ObjectRecord {
            size,
            etag: md5_hex(&md5),
            modified_ms: now_ms(),
            attributes: put.attributes,
            segments: vec![Segment { blob, size }],
            parts_count: None,
        };
        self.commit_object(put.bucket.as_str(), put.key.as_str(), &record, Vec::new)
            .await?;
        Ok(record)
    }

    /// Commits `record` under `bucket/key`, compare-and-set against whatever is there, with
    /// `extra` changes in the same transaction; then deletes the blobs of the replaced object.
    /// On failure the new record's blobs are deleted.
    pub(crate) async fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        extra: impl Fn() -> Vec<Change>,
    ) -> Result<(), ObjectError> {
        let result = self.try_commit_object(bucket, key, record, extra).await;
        if result.is_err() {
            let blobs = record.segments.iter().map(|s| s.blob.clone()).collect();
            self.forget_blobs(blobs).await;
        }
        result
    }

    pub(crate) async fn try_commit_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        extra: impl Fn() -> Vec<Change>,
    ) -> Result<(), ObjectError> {
        let _gate = self.gate.read().await;
        self.bucket(bucket)?;
        let doc_key = object_key(bucket, key);
        let ours = format!("{OBJECTS}/{doc_key}");
        let body = serde_json::to_string(record).map_err(store_json)?;
        loop {
            let current = self.documents.get(OBJECTS, &doc_key).await?;
            let precondition = current
                .as_ref()
                .map_or(Precondition::Absent, |d| Precondition::Revision(d.revision));
            let mut changes = vec![Change::put(OBJECTS, &doc_key, body.clone()).when(precondition)];
            changes.extend(extra());
            match self.documents.commit(changes).await {
                Ok(_) => {
                    if let Some(old) = current {
                        if let Ok(old) = serde_json::from_str::<ObjectRecord>(&old.body) {
                            let keep: Vec<&str> =
                                record.segments.iter().map(|s| s.blob.as_str()).collect();
                            let gone: Vec<String> = old
                                .segments
                                .into_iter()
                                .map(|s| s.blob)
                                .filter(|b| !keep.contains(&b.as_str()))
                                .collect();
                            drop(keep);
                            self.forget_blobs(gone).await;
                        }
                    }
                    return Ok(());
                }
                // Another writer got there first (our document check): read again and retry.
                Err(StoreError::AlreadyExists(what) | StoreError::Conflict(what))
                    if what == ours =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// An object's record, or `NoSuchKey` (`NoSuchBucket` first).
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, ObjectError> {
        self.bucket(bucket)?;
        self.object_record(bucket, key).await
    }

    async fn object_record(&self, bucket: &str, key: &str) -> Result<ObjectRecord, ObjectError> {
        let doc = self
            .documents
            .get(OBJECTS, &object_key(bucket, key))
            .await?
            .ok_or_else(|| ObjectError::NoSuchKey(key.to_owned()))?;
        serde_json::from_str(&doc.body).map_err(|e| {
            ObjectError::Store(StoreError::Backend(format!(
                "unreadable object record: {e}"
            )))
        })
    }

    /// Reads an object (or `range` of it) after checking `conditions`.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        conditions: &Conditions,
        range: Option<ByteRange>,
    ) -> Result<ObjectRead, ObjectError> {
        self.bucket(bucket)?;
        // An overwrite between reading the record and opening its blobs deletes them: read again.
        for _ in 0..3 {
            let record = self.object_record(bucket, key).await?;
            conditions.check(&record)?;
            let span = match range {
                Some(range) => Some(range.resolve(record.size)?),
                None => None,
            };
            let (first, last) = span.unwrap_or((0, record.size.saturating_sub(1)));
            let length = if record.size == 0 {
                0
            } else {
                last - first + 1
            };
            if let Some(body) = self.open_span(&record, first, length).await? {
                return Ok(ObjectRead {
                    record,
                    range: span,
                    body,
                });
            }
        }
        Err(ObjectError::Store(StoreError::Backend(format!(
            "the data of {bucket}/{key} kept changing while it was opened"
        ))))
    }

    /// Opens the blobs covering `[first, first + length)`; `None` if one has gone.
    async fn open_span(
        &self,
        record: &ObjectRecord,
        first: u64,
        length: u64,
    ) -> Result<Option<ObjectBody>, ObjectError> {
        let mut readers = VecDeque::new();
        let (mut start, end) = (first, first + length);
        let mut offset = 0u64;
        for segment in &record.segments {
            let (seg_start, seg_end) = (offset, offset + segment.size);
            offset = seg_end;
            if length == 0 || seg_end <= start || seg_start >= end {
                continue;
            }
            let within = start - seg_start;
            let take = end.min(seg_end) - start;
            match self.blobs.open(&segment.blob, within, Some(take)).await? {
                Some(read) => readers.push_back(read.reader),
                None => return Ok(None),
            }
            start += take;
        }
        Ok(Some(ObjectBody::new(readers, length)))
    }

    /// Deletes an object; its record if there was one (S3 answers 204 either way).
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, ObjectError> {
        let _gate = self.gate.read().await;
        self.bucket(bucket)?;
        let doc_key = object_key(bucket, key);
        loop {
            let Some(current) = self.documents.get(OBJECTS, &doc_key).await? else {
                return Ok(None);
            };
            let change =
                Change::delete(OBJECTS, &doc_key).when(Precondition::Revision(current.revision));
            match self.documents.commit(vec![change]).await {
                Ok(_) => {
                    let record: Option<ObjectRecord> = serde_json::from_str(&current.body).ok();
                    if let Some(record) = &record {
                        let blobs = record.segments.iter().map(|s| s.blob.clone()).collect();
                        self.forget_blobs(blobs).await;
                    }
                    return Ok(record);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Copies `source` to `bucket/key`, with the source's attributes or the request's.
    pub async fn copy_object(
        &self,
        source: &CopySource,
        bucket: &BucketName,
        key: &ObjectKey,
        directive: MetadataDirective,
        tags: Option<Vec<(String, String)>>,
    ) -> Result<ObjectRecord, ObjectError> {
        self.bucket(bucket.as_str())?;
        if source.bucket == bucket.as_str()
            && source.key == key.as_str()
            && directive == MetadataDirective::Copy
            && tags.is_none()
        {
            return Err(ObjectError::InvalidCopyRequest);
        }
        let mut read = self.copy_source(source).await?;
        let Written { blob, size, md5 } = self
            .write_blob(&mut read.body, MAX_OBJECT_BYTES, None)
            .await?;
        let mut attributes = match directive {
            MetadataDirective::Copy => read.record.attributes.clone(),
            MetadataDirective::Replace(attributes) => attributes,
        };
        attributes.tags = tags.unwrap_or_else(|| read.record.attributes.tags.clone());
        let record = ObjectRecord {
            size,
            etag: md5_hex(&md5),
            modified_ms: now_ms(),
            attributes,
            segments: vec![Segment { blob, size }],
            parts_count: None,
        };
        self.commit_object(bucket.as_str(), key.as_str(), &record, Vec::new)
            .await?;
        Ok(record)
    }

    /// Reads a copy source after its conditions (a 304 is a 412 for copies, as in S3).
    pub(crate) async fn copy_source(&self, source: &CopySource) -> Result<ObjectRead, ObjectError> {
        self.get_object(
            &source.bucket,
            &source.key,
            &source.conditions,
            source.range,
        )
        .await
        .map_err(|e| match e {
            ObjectError::NotModified => {
                ObjectError::PreconditionFailed("x-amz-copy-source-If-None-Match")
            }
            other => other,
        })
    }

    /// Replaces an object's tags (empty: removes them).
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), ObjectError> {
        let _gate = self.gate.read().await;
        self.bucket(bucket)?;
        let doc_key = object_key(bucket, key);
        loop {
            let current = self
                .documents
                .get(OBJECTS, &doc_key)
                .await?
                .ok_or_else(|| ObjectError::NoSuchKey(key.to_owned()))?;
            let mut record: ObjectRecord = serde_json::from_str(&current.body).map_err(|e| {
                ObjectError::Store(StoreError::Backend(format!(
                    "unreadable object record: {e}"
                )))
            })?;
            record.attributes.tags = tags.clone();
            let body = serde_json::to_string(&record).map_err(store_json)?;
            let change =
                Change::put(OBJECTS, &doc_key, body).when(Precondition::Revision(current.revision));
            match self.documents.commit(vec![change]).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The bucket a write goes to must exist (used by the edge before it reads a body).
    pub fn writable_bucket(&self, bucket: &str) -> Result<Arc<BucketRecord>, ObjectError> {
        self.bucket(bucket)
    }
}

/// MD5 of a multipart upload: of the parts' binary MD5s, then `-N`.
pub(crate) fn multipart_etag(part_md5_hexes: &[&str]) -> String {
    let mut md5 = Md5::new();
    for hex_text in part_md5_hexes {
        if let Ok(bytes) = hex::decode(hex_text) {
            md5.update(bytes);
        }
    }
    format!("{}-{}", hex::encode(md5.finalize()), part_md5_hexes.len())
}
