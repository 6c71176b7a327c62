//! S3 (signing name `s3`), from the Service Authorization Reference: bucket operations act on
//! `arn:aws:s3:::{Bucket}`, object operations on `arn:aws:s3:::{Bucket}/{Key}` (S3 ARNs name no
//! region or account). A copy also needs `s3:GetObject` on its source. DeleteObjects names its
//! keys in the body: the edge checks `s3:DeleteObject` on each of them after this table's
//! (empty) rule.

use super::{check, Rule};

const BUCKET: &str = "arn:aws:s3:::{Bucket}";
const OBJECT: &str = "arn:aws:s3:::{Bucket}/{Key}";
const SOURCE: &str = "arn:aws:s3:::{SourceBucket}/{SourceKey}";

macro_rules! s3 {
    ($operation:literal, $action:literal, $resource:expr) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("s3:", $action), $resource)],
        }
    };
}

/// The S3 table.
pub(super) const RULES: &[Rule] = &[
    s3!("ListBuckets", "ListAllMyBuckets", "*"),
    s3!("CreateBucket", "CreateBucket", BUCKET),
    s3!("HeadBucket", "ListBucket", BUCKET),
    s3!("DeleteBucket", "DeleteBucket", BUCKET),
    s3!("GetBucketLocation", "GetBucketLocation", BUCKET),
    s3!("ListObjects", "ListBucket", BUCKET),
    s3!("ListObjectsV2", "ListBucket", BUCKET),
    s3!("ListMultipartUploads", "ListBucketMultipartUploads", BUCKET),
    s3!("GetBucketTagging", "GetBucketTagging", BUCKET),
    s3!("PutBucketTagging", "PutBucketTagging", BUCKET),
    s3!("DeleteBucketTagging", "PutBucketTagging", BUCKET),
    s3!("GetBucketCors", "GetBucketCORS", BUCKET),
    s3!("PutBucketCors", "PutBucketCORS", BUCKET),
    s3!("DeleteBucketCors", "PutBucketCORS", BUCKET),
    s3!(
        "GetBucketNotificationConfiguration",
        "GetBucketNotification",
        BUCKET
    ),
    s3!(
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
        BUCKET
    ),
    s3!("GetBucketPolicy", "GetBucketPolicy", BUCKET),
    s3!("PutBucketPolicy", "PutBucketPolicy", BUCKET),
    s3!("DeleteBucketPolicy", "DeleteBucketPolicy", BUCKET),
    s3!("PutObject", "PutObject", OBJECT),
    s3!("GetObject", "GetObject", OBJECT),
    s3!("HeadObject", "GetObject", OBJECT),
    s3!("DeleteObject", "DeleteObject", OBJECT),
    Rule {
        operation: "DeleteObjects",
        checks: &[],
    },
    Rule {
        operation: "CopyObject",
        checks: &[check("s3:PutObject", OBJECT), check("s3:GetObject", SOURCE)],
    },
    s3!("CreateMultipartUpload", "PutObject", OBJECT),
    s3!("UploadPart", "PutObject", OBJECT),
    Rule {
        operation: "UploadPartCopy",
        checks: &[check("s3:PutObject", OBJECT), check("s3:GetObject", SOURCE)],
    },
    s3!("CompleteMultipartUpload", "PutObject", OBJECT),
    s3!("AbortMultipartUpload", "AbortMultipartUpload", OBJECT),
    s3!("ListParts", "ListMultipartUploadParts", OBJECT),
    s3!("GetObjectTagging", "GetObjectTagging", OBJECT),
    s3!("PutObjectTagging", "PutObjectTagging", OBJECT),
    s3!("DeleteObjectTagging", "DeleteObjectTagging", OBJECT),
];
