//! The stored shapes: one document per bucket, object, multipart upload and part. Collections and
//! keys run from the general to the particular, so a bucket's objects are one prefix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::notifications::NotificationConfiguration;

/// Buckets, by name (bucket names are global to the server, as S3's are to a partition).
pub const BUCKETS: &str = "s3-bucket";
/// Objects, keyed `{bucket}/{key}`.
pub const OBJECTS: &str = "s3-object";
/// Multipart uploads in progress, keyed `{bucket}/{upload id}`.
pub const UPLOADS: &str = "s3-upload";
/// Uploaded parts, keyed `{bucket}/{upload id}/{part number:05}`.
pub const PARTS: &str = "s3-part";

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    /// Its name.
    pub name: String,
    /// The region it was created in.
    pub region: String,
    /// The account that owns it.
    pub owner: String,
    /// When it was created (ms since the epoch).
    pub created_ms: i64,
    /// Bucket tags, in the order they were set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// CORS rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<Vec<CorsRule>>,
    /// Where object events go.
    #[serde(default)]
    pub notifications: NotificationConfiguration,
    /// The bucket policy (a JSON policy document, checked by the edge before it is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// One CORS rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorsRule {
    /// `ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `AllowedHeaders`.
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// `AllowedMethods`.
    pub allowed_methods: Vec<String>,
    /// `AllowedOrigins`.
    pub allowed_origins: Vec<String>,
    /// `ExposeHeaders`.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// `MaxAgeSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i64>,
}

/// One stored piece of an object's bytes: a blob and its size. A single PUT has one; a
/// completed multipart upload has one per part (the parts' blobs become the object's, uncopied).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Segment {
    /// The blob's key.
    pub blob: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The headers an object keeps and returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContentHeaders {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding` (without `aws-chunked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// What a client says about an object when it writes one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectAttributes {
    /// Content headers.
    #[serde(default)]
    pub headers: ContentHeaders,
    /// User metadata (`x-amz-meta-*`, names lower-cased without the prefix).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Object tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

/// An object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    /// Size in bytes.
    pub size: u64,
    /// The entity tag, without quotes (hex MD5, or `hex-N` for a multipart upload).
    pub etag: String,
    /// Last written (ms since the epoch).
    pub modified_ms: i64,
    /// Headers, metadata, tags.
    #[serde(default)]
    pub attributes: ObjectAttributes,
    /// Where the bytes are, in order.
    pub segments: Vec<Segment>,
    /// Parts of a multipart upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<u32>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    /// The key it will complete into.
    pub key: String,
    /// When it started.
    pub initiated_ms: i64,
    /// What the object will carry.
    #[serde(default)]
    pub attributes: ObjectAttributes,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    /// 1–10000.
    pub number: u32,
    /// Hex MD5 of the part.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was uploaded.
    pub modified_ms: i64,
    /// The blob that holds it.
    pub blob: String,
}

/// `{bucket}/{key}`.
pub(crate) fn object_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// `{bucket}/{upload}/{part:05}`.
pub(crate) fn part_key(bucket: &str, upload: &str, part: u32) -> String {
    format!("{bucket}/{upload}/{part:05}")
}
