//! S3's error codes, one line each, and the object layer's errors mapped onto them in one place.

use nubo_objects::ObjectError;
use nubo_store::StoreError;
use nubo_wire::AwsError;

nubo_wire::error_table! {
    /// S3's errors (codes and statuses from S3's error-code table).
    pub(crate) struct S3Errors {
        invalid_bucket_name => ("InvalidBucketName", BAD_REQUEST),
        no_such_bucket => ("NoSuchBucket", NOT_FOUND),
        bucket_already_owned_by_you => ("BucketAlreadyOwnedByYou", CONFLICT),
        bucket_not_empty => ("BucketNotEmpty", CONFLICT),
        no_such_key => ("NoSuchKey", NOT_FOUND),
        key_too_long => ("KeyTooLongError", BAD_REQUEST),
        no_such_upload => ("NoSuchUpload", NOT_FOUND),
        invalid_part => ("InvalidPart", BAD_REQUEST),
        invalid_part_order => ("InvalidPartOrder", BAD_REQUEST),
        entity_too_small => ("EntityTooSmall", BAD_REQUEST),
        entity_too_large => ("EntityTooLarge", BAD_REQUEST),
        bad_digest => ("BadDigest", BAD_REQUEST),
        invalid_digest => ("InvalidDigest", BAD_REQUEST),
        invalid_range => ("InvalidRange", RANGE_NOT_SATISFIABLE),
        precondition_failed => ("PreconditionFailed", PRECONDITION_FAILED),
        invalid_argument => ("InvalidArgument", BAD_REQUEST),
        invalid_request => ("InvalidRequest", BAD_REQUEST),
        malformed_xml => ("MalformedXML", BAD_REQUEST),
        missing_content_length => ("MissingContentLength", LENGTH_REQUIRED),
        incomplete_body => ("IncompleteBody", BAD_REQUEST),
        no_such_tag_set => ("NoSuchTagSet", NOT_FOUND),
        no_such_cors_configuration => ("NoSuchCORSConfiguration", NOT_FOUND),
        no_such_bucket_policy => ("NoSuchBucketPolicy", NOT_FOUND),
        cors_response => ("CORSResponse", FORBIDDEN),
        malformed_policy => ("MalformedPolicy", BAD_REQUEST),
        illegal_location_constraint => ("IllegalLocationConstraintException", BAD_REQUEST),
        invalid_location_constraint => ("InvalidLocationConstraint", BAD_REQUEST),
        invalid_tag => ("InvalidTag", BAD_REQUEST),
        bad_checksum => ("BadDigest", BAD_REQUEST),
        content_sha256_mismatch => ("XAmzContentSHA256Mismatch", BAD_REQUEST),
        internal_error => ("InternalError", INTERNAL_SERVER_ERROR),
        not_implemented => ("NotImplemented", NOT_IMPLEMENTED),
    }
}

/// The object layer's errors as S3 reports them (with S3's extra members).
pub(crate) fn from_objects(err: ObjectError) -> AwsError {
    let message = err.to_string();
    match err {
        ObjectError::InvalidBucketName(name) => {
            S3Errors::invalid_bucket_name(message).with_extra("BucketName", name)
        }
        ObjectError::NoSuchBucket(name) => {
            S3Errors::no_such_bucket(message).with_extra("BucketName", name)
        }
        ObjectError::BucketAlreadyOwnedByYou(name) => {
            S3Errors::bucket_already_owned_by_you(message).with_extra("BucketName", name)
        }
        ObjectError::BucketNotEmpty(name) => {
            S3Errors::bucket_not_empty(message).with_extra("BucketName", name)
        }
        ObjectError::NoSuchKey(key) => S3Errors::no_such_key(message).with_extra("Key", key),
        ObjectError::KeyTooLong(_) => S3Errors::key_too_long(message),
        ObjectError::NoSuchUpload(id) => {
            S3Errors::no_such_upload(message).with_extra("UploadId", id)
        }
        ObjectError::InvalidPart => S3Errors::invalid_part(message),
        ObjectError::InvalidPartOrder => S3Errors::invalid_part_order(message),
        ObjectError::EntityTooSmall => S3Errors::entity_too_small(message),
        ObjectError::EntityTooLarge => S3Errors::entity_too_large(message),
        ObjectError::BadDigest => S3Errors::bad_digest(message),
        ObjectError::InvalidDigest => S3Errors::invalid_digest(message),
        ObjectError::InvalidRange { size } => {
            S3Errors::invalid_range(message).with_extra("ActualObjectSize", size.to_string())
        }
        ObjectError::PreconditionFailed(condition) => {
            S3Errors::precondition_failed(message).with_extra("Condition", condition)
        }
        ObjectError::NotModified => {
            AwsError::new("NotModified", http::StatusCode::NOT_MODIFIED, message)
        }
        ObjectError::InvalidArgument(_) => S3Errors::invalid_argument(message),
        ObjectError::InvalidCopyRequest => S3Errors::invalid_request(message),
        ObjectError::Body(err) => err,
        ObjectError::Store(StoreError::Io(e)) => {
            tracing::error!(error = %e, "object storage failed");
            S3Errors::internal_error("We encountered an internal error. Please try again.")
        }
        ObjectError::Store(e) => {
            tracing::error!(error = %e, "object store failed");
            S3Errors::internal_error("We encountered an internal error. Please try again.")
        }
    }
}
