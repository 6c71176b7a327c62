//! What can go wrong with buckets and objects, one variant per failure a client can act on. The
//! edge maps each to S3's error code and status in one table (`edge/src/s3_api/errors.rs`).

use nubo_store::StoreError;
use nubo_wire::AwsError;

/// Errors of the object layer.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The bucket name breaks S3's naming rules.
    #[error("The specified bucket is not valid.")]
    InvalidBucketName(String),
    /// No such bucket.
    #[error("The specified bucket does not exist")]
    NoSuchBucket(String),
    /// The caller already owns a bucket of that name.
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou(String),
    /// The bucket still has objects.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty(String),
    /// No such key.
    #[error("The specified key does not exist.")]
    NoSuchKey(String),
    /// A key longer than 1024 bytes (or empty).
    #[error("Your key is too long")]
    KeyTooLong(String),
    /// No such multipart upload.
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload(String),
    /// A part CompleteMultipartUpload names is missing or its ETag differs.
    #[error("One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart,
    /// Parts not in ascending order.
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    /// A part other than the last is below 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    EntityTooSmall,
    /// Over the size limit of the operation.
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    /// `Content-MD5` does not match the body.
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    /// `Content-MD5` is not base64 of 16 bytes.
    #[error("The Content-MD5 you specified was invalid.")]
    InvalidDigest,
    /// The range does not overlap the object.
    #[error("The requested range is not satisfiable")]
    InvalidRange {
        /// The object's size.
        size: u64,
    },
    /// `If-Match` / `If-Unmodified-Since` failed.
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed(&'static str),
    /// `If-None-Match` / `If-Modified-Since` held: 304.
    #[error("Not Modified")]
    NotModified,
    /// A request argument the model allows but S3 refuses.
    #[error("{0}")]
    InvalidArgument(String),
    /// A copy onto itself without a change.
    #[error("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")]
    InvalidCopyRequest,
    /// The body source failed (a signature, checksum or a broken connection); the edge's own
    /// error, passed through untouched.
    #[error("{}", .0.message)]
    Body(AwsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
