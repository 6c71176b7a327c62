//! Multipart uploads: create, upload a part (from a body or a copy), list parts, complete, abort,
//! list uploads. A part is a blob of its own and a document; completing makes the parts' blobs the
//! object's segments in one commit (nothing is copied), so a crash before that commit leaves the
//! upload as it was and a crash after it leaves the object whole.

use nubo_store::{Change, ListQuery, Precondition, StoreError};

use crate::body::Written;
use crate::buckets::store_json;
use crate::objects::{md5_hex, multipart_etag, CopySource};
use crate::records::{
    object_key, part_key, ObjectAttributes, ObjectRecord, PartRecord, Segment, UploadRecord, PARTS,
    UPLOADS,
};
use crate::{now_ms, BodySource, BucketName, ObjectError, ObjectKey, ObjectStore};

/// The largest part: 5 GiB.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// The smallest part but the last: 5 MiB.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Part numbers run 1–10000.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// An upload in progress, as listed.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its id.
    pub id: String,
    /// The record.
    pub record: UploadRecord,
}

fn unreadable(e: serde_json::Error) -> ObjectError {
    ObjectError::Store(StoreError::Backend(format!(
        "unreadable upload record: {e}"
    )))
}

impl ObjectStore {
    /// Starts an upload; its id.
    pub async fn create_upload(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
        attributes: ObjectAttributes,
    ) -> Result<String, ObjectError> {
        self.bucket(bucket.as_str())?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let record = UploadRecord {
            key: key.to_string(),
            initiated_ms: now_ms(),
            attributes,
        };
        let body = serde_json::to_string(&record).map_err(store_json)?;
        self.documents
            .put(
                UPLOADS,
                &object_key(bucket.as_str(), &id),
                body,
                Precondition::Absent,
            )
            .await?;
        Ok(id)
    }

    async fn upload_record(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<(UploadRecord, nubo_store::Revision, String), ObjectError> {
        self.bucket(bucket)?;
        let doc = self
            .documents
            .get(UPLOADS, &object_key(bucket, id))
            .await?
            .ok_or_else(|| ObjectError::NoSuchUpload(id.to_owned()))?;
        let record: UploadRecord = serde_json::from_str(&doc.body).map_err(unreadable)?;
        if record.key != key {
            return Err(ObjectError::NoSuchUpload(id.to_owned()));
        }
        Ok((record, doc.revision, doc.body))
    }

    /// Uploads part `number` from `source` (or a copy source's body); its record.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        source: &mut dyn BodySource,
        content_md5: Option<[u8; 16]>,
    ) -> Result<PartRecord, ObjectError> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(ObjectError::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            ));
        }
        self.upload_record(bucket, key, id).await?;
        let Written { blob, size, md5 } =
            self.write_blob(source, MAX_PART_BYTES, content_md5).await?;
        let part = PartRecord {
            number,
            etag: md5_hex(&md5),
            size,
            modified_ms: now_ms(),
            blob,
        };
        match self.commit_part(bucket, key, id, &part).await {
            Ok(()) => Ok(part),
            Err(e) => {
                self.forget_blobs(vec![part.blob.clone()]).await;
                Err(e)
            }
        }
    }

    /// Commits a part while the upload still stands (its document rewritten unchanged under
    /// compare-and-set, so an abort or complete in between makes this fail, not leak).
    async fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        part: &PartRecord,
    ) -> Result<(), ObjectError> {
        let upload_key = object_key(bucket, id);
        let doc_key = part_key(bucket, id, part.number);
        let body = serde_json::to_string(part).map_err(store_json)?;
        loop {
            let (_, revision, upload_body) = self.upload_record(bucket, key, id).await?;
            let current = self.documents.get(PARTS, &doc_key).await?;
            let precondition = current
                .as_ref()
                .map_or(Precondition::Absent, |d| Precondition::Revision(d.revision));
            let changes = vec![
                Change::put(UPLOADS, &upload_key, upload_body)
                    .when(Precondition::Revision(revision)),
                Change::put(PARTS, &doc_key, body.clone()).when(precondition),
            ];
            match self.documents.commit(changes).await {
                Ok(_) => {
                    if let Some(old) =
                        current.and_then(|d| serde_json::from_str::<PartRecord>(&d.body).ok())
                    {
                        self.forget_blobs(vec![old.blob]).await;
                    }
                    return Ok(());
                }
                Err(StoreError::Conflict(_) | StoreError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// UploadPartCopy: part `number` from (a range of) another object.
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        number: u32,
        source: &CopySource,
    ) -> Result<PartRecord, ObjectError> {
        self.upload_record(bucket, key, id).await?;
        let mut read = self.copy_source(source).await?;
        self.upload_part(bucket, key, id, number, &mut read.body, None)
            .await
    }

    /// The parts uploaded so far, in number order, after `marker`, at most `max`; and whether
    /// more follow.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        marker: u32,
        max: usize,
    ) -> Result<(UploadRecord, Vec<PartRecord>, bool), ObjectError> {
        let (record, _, _) = self.upload_record(bucket, key, id).await?;
        let docs = self
            .documents
            .list(
                PARTS,
                ListQuery {
                    prefix: format!("{bucket}/{id}/"),
                    start_after: (marker > 0).then(|| part_key(bucket, id, marker)),
                    limit: Some(max + 1),
                },
            )
            .await?;
        let mut parts: Vec<PartRecord> = docs
            .iter()
            .filter_map(|d| serde_json::from_str(&d.body).ok())
            .collect();
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok((record, parts, truncated))
    }

    /// Completes an upload from the named parts (ascending numbers, matching ETags).
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        wanted: &[(u32, String)],
    ) -> Result<ObjectRecord, ObjectError> {
        let (upload, revision, _) = self.upload_record(bucket, key, id).await?;
        if wanted.is_empty() {
            return Err(ObjectError::InvalidArgument(
                "You must specify at least one part".into(),
            ));
        }
        if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ObjectError::InvalidPartOrder);
        }
        let docs = self
            .documents
            .list(PARTS, ListQuery::prefix(format!("{bucket}/{id}/")))
            .await?;
        let stored: Vec<PartRecord> = docs
            .iter()
            .filter_map(|d| serde_json::from_str(&d.body).ok())
            .collect();
        let mut chosen = Vec::with_capacity(wanted.len());
        for (i, (number, etag)) in wanted.iter().enumerate() {
            let part = stored
                .iter()
                .find(|p| p.number == *number && p.etag == etag.trim_matches('"'))
                .ok_or(ObjectError::InvalidPart)?;
            if i + 1 < wanted.len() && part.size < MIN_PART_BYTES {
                return Err(ObjectError::EntityTooSmall);
            }
            chosen.push(part);
        }
        let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
        let record = ObjectRecord {
            size: chosen.iter().map(|p| p.size).sum(),
            etag: multipart_etag(&etags),
            modified_ms: now_ms(),
            attributes: upload.attributes,
            segments: chosen
                .iter()
                .map(|p| Segment {
                    blob: p.blob.clone(),
                    size: p.size,
                })
                .collect(),
            parts_count: Some(chosen.len() as u32),
        };
        let unused: Vec<String> = stored
            .iter()
            .filter(|p| !chosen.iter().any(|c| c.blob == p.blob))
            .map(|p| p.blob.clone())
            .collect();
        let upload_key = object_key(bucket, id);
        let parts_prefix = format!("{bucket}/{id}/");
        let result = self
            .try_commit_object(bucket, key, &record, || {
                vec![
                    Change::delete(UPLOADS, &upload_key).when(Precondition::Revision(revision)),
                    Change::delete_prefix(PARTS, &parts_prefix),
                ]
            })
            .await;
        match result {
            Ok(()) => {
                self.forget_blobs(unused).await;
                Ok(record)
            }
            // The upload changed under us (a part re-uploaded, an abort): nothing was written.
            Err(ObjectError::Store(StoreError::Conflict(_))) => {
                Err(ObjectError::NoSuchUpload(id.to_owned()))
            }
            Err(e) => Err(e),
        }
    }

    /// Aborts an upload and deletes its parts.
    pub async fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> Result<(), ObjectError> {
        self.upload_record(bucket, key, id).await?;
        let prefix = format!("{bucket}/{id}/");
        let docs = self
            .documents
            .list(PARTS, ListQuery::prefix(prefix.clone()))
            .await?;
        self.documents
            .commit(vec![
                Change::delete(UPLOADS, &object_key(bucket, id)),
                Change::delete_prefix(PARTS, &prefix),
            ])
            .await?;
        let blobs: Vec<String> = docs
            .iter()
            .filter_map(|d| serde_json::from_str::<PartRecord>(&d.body).ok())
            .map(|p| p.blob)
            .collect();
        self.forget_blobs(blobs).await;
        Ok(())
    }

    /// Uploads in progress in a bucket whose key starts with `prefix`, in id order.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Upload>, ObjectError> {
        self.bucket(bucket)?;
        let base = format!("{bucket}/");
        let docs = self
            .documents
            .list(UPLOADS, ListQuery::prefix(base.clone()))
            .await?;
        let mut uploads: Vec<Upload> = docs
            .into_iter()
            .filter_map(|d| {
                let record: UploadRecord = serde_json::from_str(&d.body).ok()?;
                record.key.starts_with(prefix).then(|| Upload {
                    id: d.key[base.len()..].to_owned(),
                    record,
                })
            })
            .collect();
        uploads.sort_by(|a, b| {
            a.record
                .key
                .cmp(&b.record.key)
                .then(a.record.initiated_ms.cmp(&b.record.initiated_ms))
        });
        Ok(uploads)
    }
}
