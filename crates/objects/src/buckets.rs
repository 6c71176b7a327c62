//! Buckets: create, look up, list, delete, and their configurations (tags, CORS, notifications).
//! Bucket records are held in memory and written through: store first, then memory.

use std::sync::Arc;

use nubo_store::{Change, ListQuery, Precondition, StoreError};

use crate::notifications::NotificationConfiguration;
use crate::records::{BucketRecord, CorsRule, PartRecord, BUCKETS, OBJECTS, PARTS, UPLOADS};
use crate::{now_ms, BucketName, ObjectError, ObjectStore};

impl ObjectStore {
    /// Creates a bucket in `region` for `owner`.
    pub async fn create_bucket(
        &self,
        name: &BucketName,
        region: &str,
        owner: &str,
    ) -> Result<Arc<BucketRecord>, ObjectError> {
        let _writer = self.bucket_writer.lock().await;
        if self.buckets.read().contains_key(name.as_str()) {
            return Err(ObjectError::BucketAlreadyOwnedByYou(name.to_string()));
        }
        let record = BucketRecord {
            name: name.to_string(),
            region: region.to_owned(),
            owner: owner.to_owned(),
            created_ms: now_ms(),
            tags: Vec::new(),
            cors: None,
            notifications: NotificationConfiguration::default(),
            policy: None,
        };
        let body = serde_json::to_string(&record).map_err(store_json)?;
        match self
            .documents
            .put(BUCKETS, name.as_str(), body, Precondition::Absent)
            .await
        {
            Ok(_) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(ObjectError::BucketAlreadyOwnedByYou(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        let record = Arc::new(record);
        self.buckets
            .write()
            .insert(name.to_string(), record.clone());
        Ok(record)
    }

    /// A bucket, or `NoSuchBucket`.
    pub fn bucket(&self, name: &str) -> Result<Arc<BucketRecord>, ObjectError> {
        self.buckets
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| ObjectError::NoSuchBucket(name.to_owned()))
    }

    /// Every bucket, by name.
    pub fn buckets(&self) -> Vec<Arc<BucketRecord>> {
        self.buckets.read().values().cloned().collect()
    }

    /// Deletes an empty bucket (its unfinished multipart uploads go with it).
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        let _gate = self.gate.write().await;
        let _writer = self.bucket_writer.lock().await;
        self.bucket(name)?;
        let prefix = format!("{name}/");
        let any = self
            .documents
            .list(
                OBJECTS,
                ListQuery {
                    prefix: prefix.clone(),
                    start_after: None,
                    limit: Some(1),
                },
            )
            .await?;
        if !any.is_empty() {
            return Err(ObjectError::BucketNotEmpty(name.to_owned()));
        }
        let parts = self
            .documents
            .list(PARTS, ListQuery::prefix(prefix.clone()))
            .await?;
        self.documents
            .commit(vec![
                Change::delete(BUCKETS, name),
                Change::delete_prefix(UPLOADS, &prefix),
                Change::delete_prefix(PARTS, &prefix),
            ])
            .await?;
        self.buckets.write().remove(name);
        let blobs: Vec<String> = parts
            .iter()
            .filter_map(|doc| serde_json::from_str::<PartRecord>(&doc.body).ok())
            .map(|part| part.blob)
            .collect();
        self.forget_blobs(blobs).await;
        Ok(())
    }

    /// Changes a bucket's record with `change` (store first, then memory).
    async fn modify_bucket(
        &self,
        name: &str,
        change: impl FnOnce(&mut BucketRecord),
    ) -> Result<Arc<BucketRecord>, ObjectError> {
        let _writer = self.bucket_writer.lock().await;
        let mut record = (*self.bucket(name)?).clone();
        change(&mut record);
        let body = serde_json::to_string(&record).map_err(store_json)?;
        self.documents
            .put(BUCKETS, name, body, Precondition::None)
            .await?;
        let record = Arc::new(record);
        self.buckets.write().insert(name.to_owned(), record.clone());
        Ok(record)
    }

    /// Replaces (empty: removes) the bucket's tags.
    pub async fn set_bucket_tags(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
    ) -> Result<(), ObjectError> {
        self.modify_bucket(name, |b| b.tags = tags).await.map(drop)
    }

    /// Replaces (`None`: removes) the bucket's CORS rules.
    pub async fn set_bucket_cors(
        &self,
        name: &str,
        cors: Option<Vec<CorsRule>>,
    ) -> Result<(), ObjectError> {
        self.modify_bucket(name, |b| b.cors = cors).await.map(drop)
    }

    /// Replaces (`None`: removes) the bucket policy.
    pub async fn set_bucket_policy(
        &self,
        name: &str,
        policy: Option<String>,
    ) -> Result<(), ObjectError> {
        self.modify_bucket(name, |b| b.policy = policy)
            .await
            .map(drop)
    }

    /// Replaces the bucket's notification configuration.
    pub async fn set_bucket_notifications(
        &self,
        name: &str,
        notifications: NotificationConfiguration,
    ) -> Result<(), ObjectError> {
        self.modify_bucket(name, |b| b.notifications = notifications)
            .await
            .map(drop)
    }
}

/// A record that does not serialize is a bug, reported as a store failure.
pub(crate) fn store_json(e: serde_json::Error) -> ObjectError {
    ObjectError::Store(StoreError::Backend(format!("record serialization: {e}")))
}
