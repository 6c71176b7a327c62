//! Which S3 operation a request is: addressing (path style `/{bucket}/{key}` or virtual-host
//! style `{bucket}.s3[.{region}].localhost`), then method + subresource (`?tagging`, `?uploads`,
//! `?uploadId`, …) + `x-amz-copy-source`. One function, used by the guard's authorizer and by the
//! handlers alike, so the operation authorized is the operation served.

use http::request::Parts;
use http::Method;
use percent_encoding::percent_decode_str;

use crate::query::Query;

/// The largest body the guard reads for an XML operation (DeleteObjects: 1000 keys).
pub(crate) const XML_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The request's addressing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    /// The bucket, if the request names one.
    pub(crate) bucket: Option<String>,
    /// The key (decoded), if the request names one.
    pub(crate) key: Option<String>,
}

/// The bucket a virtual-host `Host` names: `{bucket}.s3.localhost` or
/// `{bucket}.s3.{region}.localhost` (with any port).
pub(crate) fn host_bucket(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let rest = host.strip_suffix(".localhost")?;
    let (bucket, service) = match rest.rsplit_once(".s3.") {
        Some((bucket, region)) if !region.contains('.') => (bucket, "s3"),
        _ => rest.rsplit_once('.')?,
    };
    (service == "s3" && !bucket.is_empty()).then_some(bucket)
}

/// Where a request points.
pub(crate) fn address(parts: &Parts) -> Address {
    let raw = parts.uri.path();
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("");
    if let Some(bucket) = host_bucket(host) {
        let key = raw.strip_prefix('/').unwrap_or(raw);
        return Address {
            bucket: Some(bucket.to_owned()),
            key: (!key.is_empty()).then(|| decode(key)),
        };
    }
    let path = raw.strip_prefix('/').unwrap_or(raw);
    match path.split_once('/') {
        _ if path.is_empty() => Address {
            bucket: None,
            key: None,
        },
        None => Address {
            bucket: Some(decode(path)),
            key: None,
        },
        Some((bucket, key)) => Address {
            bucket: Some(decode(bucket)),
            key: (!key.is_empty()).then(|| decode(key)),
        },
    }
}

/// Subresources Nubo does not serve: a request naming one is not mistaken for a plain GET/PUT.
const NOT_SERVED: &[&str] = &[
    "acl",
    "policyStatus",
    "versioning",
    "versions",
    "lifecycle",
    "website",
    "encryption",
    "logging",
    "replication",
    "requestPayment",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "ownershipControls",
    "publicAccessBlock",
    "object-lock",
    "retention",
    "legal-hold",
    "attributes",
    "restore",
    "select",
    "torrent",
    "intelligent-tiering",
    "session",
    "renameObject",
];

/// botocore's name of the operation, or `None` for one Nubo does not serve.
pub(crate) fn operation(parts: &Parts, address: &Address) -> Option<&'static str> {
    let query = Query::parse(parts.uri.query());
    let has = |name: &str| query.get(name).is_some();
    if NOT_SERVED.iter().any(|s| has(s)) {
        return None;
    }
    let copy = parts.headers.contains_key("x-amz-copy-source");
    let method = &parts.method;
    Some(match (&address.bucket, &address.key) {
        (None, _) if *method == Method::GET => "ListBuckets",
        (None, _) => return None,
        (Some(_), None) => match *method {
            Method::PUT if has("tagging") => "PutBucketTagging",
            Method::PUT if has("cors") => "PutBucketCors",
            Method::PUT if has("notification") => "PutBucketNotificationConfiguration",
            Method::PUT if has("policy") => "PutBucketPolicy",
            Method::PUT => "CreateBucket",
            Method::GET if has("location") => "GetBucketLocation",
            Method::GET if has("tagging") => "GetBucketTagging",
            Method::GET if has("cors") => "GetBucketCors",
            Method::GET if has("notification") => "GetBucketNotificationConfiguration",
            Method::GET if has("policy") => "GetBucketPolicy",
            Method::GET if has("uploads") => "ListMultipartUploads",
            Method::GET if query.get("list-type") == Some("2") => "ListObjectsV2",
            Method::GET => "ListObjects",
            Method::HEAD => "HeadBucket",
            Method::DELETE if has("tagging") => "DeleteBucketTagging",
            Method::DELETE if has("cors") => "DeleteBucketCors",
            Method::DELETE if has("policy") => "DeleteBucketPolicy",
            Method::DELETE => "DeleteBucket",
            Method::POST if has("delete") => "DeleteObjects",
            _ => return None,
        },
        (Some(_), Some(_)) if has("policy") => return None,
        (Some(_), Some(_)) => match *method {
            Method::PUT if has("partNumber") && has("uploadId") && copy => "UploadPartCopy",
            Method::PUT if has("partNumber") && has("uploadId") => "UploadPart",
            Method::PUT if has("tagging") => "PutObjectTagging",
            Method::PUT if copy => "CopyObject",
            Method::PUT => "PutObject",
            Method::GET if has("uploadId") => "ListParts",
            Method::GET if has("tagging") => "GetObjectTagging",
            Method::GET => "GetObject",
            Method::HEAD => "HeadObject",
            Method::DELETE if has("uploadId") => "AbortMultipartUpload",
            Method::DELETE if has("tagging") => "DeleteObjectTagging",
            Method::DELETE => "DeleteObject",
            Method::POST if has("uploads") => "CreateMultipartUpload",
            Method::POST if has("uploadId") => "CompleteMultipartUpload",
            _ => return None,
        },
    })
}

/// Operations whose body streams to storage instead of being read by the guard.
pub(crate) fn streams_body(operation: &str) -> bool {
    matches!(operation, "PutObject" | "UploadPart")
}

/// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, maybe `?versionId=`.
pub(crate) fn copy_source(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get("x-amz-copy-source")?.to_str().ok()?;
    let value = value.split_once("?versionId=").map_or(value, |(v, _)| v);
    let decoded = percent_decode_str(value).decode_utf8_lossy();
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (bucket, key) = decoded.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, host: &str, copy: bool) -> Parts {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host);
        if copy {
            builder = builder.header("x-amz-copy-source", "/src/a%20b.txt");
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn op(method: &str, uri: &str) -> Option<&'static str> {
        let p = parts(method, uri, "localhost:4566", false);
        operation(&p, &address(&p))
    }

    #[test]
    fn names_operations() {
        assert_eq!(op("GET", "/"), Some("ListBuckets"));
        assert_eq!(op("PUT", "/b"), Some("CreateBucket"));
        assert_eq!(op("GET", "/b?list-type=2&prefix=a"), Some("ListObjectsV2"));
        assert_eq!(op("GET", "/b/"), Some("ListObjects"));
        assert_eq!(op("PUT", "/b/k?x-id=PutObject"), Some("PutObject"));
        assert_eq!(
            op("PUT", "/b/k?partNumber=1&uploadId=u"),
            Some("UploadPart")
        );
        assert_eq!(op("POST", "/b/k?uploads"), Some("CreateMultipartUpload"));
        assert_eq!(op("POST", "/b?delete"), Some("DeleteObjects"));
        assert_eq!(op("GET", "/b?acl"), None);
        assert_eq!(op("GET", "/b?policy"), Some("GetBucketPolicy"));
        assert_eq!(op("GET", "/b/k?acl"), None);
        assert_eq!(op("GET", "/b/k?response-content-type=x"), Some("GetObject"));
        let p = parts("PUT", "/b/k", "localhost", true);
        assert_eq!(operation(&p, &address(&p)), Some("CopyObject"));
        assert_eq!(
            copy_source(&p),
            Some(("src".to_owned(), "a b.txt".to_owned()))
        );
    }

    #[test]
    fn addresses_path_and_virtual_host_style() {
        let p = parts(
            "GET",
            "/b/photos/Happy%20Face%2B1.jpg",
            "localhost:9",
            false,
        );
        assert_eq!(
            address(&p),
            Address {
                bucket: Some("b".into()),
                key: Some("photos/Happy Face+1.jpg".into())
            }
        );
        let p = parts("GET", "/a//b", "my.bucket.s3.localhost:4566", false);
        assert_eq!(
            address(&p),
            Address {
                bucket: Some("my.bucket".into()),
                key: Some("a//b".into())
            }
        );
        let p = parts("GET", "/", "bkt.s3.eu-west-1.localhost", false);
        assert_eq!(address(&p).bucket.as_deref(), Some("bkt"));
        assert_eq!(host_bucket("localhost:4566"), None);
        assert_eq!(host_bucket("x.execute-api.localhost"), None);
    }
}
