//! S3 (rest-xml, signing name `s3`): buckets, objects, multipart uploads, tagging, CORS and
//! notification configurations, over `nubo_objects::ObjectStore`.
//!
//! Requests are addressed path style (`/{bucket}/{key}`, what boto3 and the CLI send to an
//! `--endpoint-url`) or virtual-host style (`{bucket}.s3[.{region}].localhost`); `operations`
//! names the operation once for the guard and the handlers alike. Uploads (PutObject,
//! UploadPart) are not read by the guard: their body streams to storage through `body`, which
//! removes aws-chunked framing and checks the signed payload hash, chunk signatures and
//! checksums before the object layer publishes anything. Downloads stream from open files.
//! Errors are S3's XML (`errors`), with the request id; HEAD errors carry no body.

mod body;
mod buckets;
pub(crate) mod cors;
pub(crate) mod errors;
mod listing;
mod multipart;
pub(crate) mod notifications;
mod objects;
pub(crate) mod operations;
mod tags;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use nubo_objects::ObjectError;
use nubo_wire::protocol::rest_xml;
use nubo_wire::xml::{XmlOutput, XmlWriter};
use nubo_wire::{AwsError, Protocol, Scope};

use self::errors::{from_objects, S3Errors};
use self::operations::Address;
use crate::auth::s3::S3Authorizer;
use crate::auth::Authenticated;
use crate::query::Query;
use crate::registry::Service;
use crate::response::RequestId;
use crate::scope::RequestScope;
use crate::EdgeState;

/// S3's XML namespace.
pub(crate) const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The `s3` service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    Service::new("s3")
        .rest(
            Protocol::RestXml,
            Router::new().fallback(handle).with_state(state.clone()),
        )
        .authorized_by(S3Authorizer::new(state.objects.clone()))
}

/// A handler's result.
pub(crate) type S3Result = Result<Response, S3Error>;

/// A handler's error: S3's, from the object layer or any wire-level check (`?` takes both).
#[derive(Debug)]
pub(crate) struct S3Error(pub(crate) AwsError);

impl From<ObjectError> for S3Error {
    fn from(err: ObjectError) -> Self {
        Self(from_objects(err))
    }
}

impl From<AwsError> for S3Error {
    fn from(err: AwsError) -> Self {
        Self(err)
    }
}

/// One S3 request, as its handler sees it.
pub(crate) struct S3Request {
    pub(crate) state: Arc<EdgeState>,
    pub(crate) parts: Parts,
    /// Behind a mutex only so the request is `Sync` (handlers borrow it across awaits).
    pub(crate) body: std::sync::Mutex<Body>,
    pub(crate) address: Address,
    pub(crate) query: Query,
    pub(crate) request_id: String,
}

impl S3Request {
    /// The bucket (every handler but ListBuckets has one).
    pub(crate) fn bucket(&self) -> &str {
        self.address.bucket.as_deref().unwrap_or_default()
    }

    /// The key (object handlers have one).
    pub(crate) fn key(&self) -> &str {
        self.address.key.as_deref().unwrap_or_default()
    }

    /// A header's value, if it is text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The scope the request acts in.
    pub(crate) fn scope(&self) -> Scope {
        self.parts
            .extensions
            .get::<RequestScope>()
            .map(|s| s.0.clone())
            .unwrap_or_default()
    }

    /// The caller's principal id, for event records.
    pub(crate) fn principal_id(&self) -> String {
        self.parts
            .extensions
            .get::<Authenticated>()
            .map(|a| a.0.principal.id.clone())
            .unwrap_or_default()
    }

    /// The client's address.
    pub(crate) fn source_ip(&self) -> String {
        self.parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into())
    }

    /// Takes the (streamed) body.
    pub(crate) fn take_body(&mut self) -> Body {
        let body = self.body.get_mut().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(body, Body::empty())
    }

    /// The whole (small, already read by the guard) body.
    pub(crate) async fn xml_body(self) -> Result<(Self, bytes::Bytes), AwsError> {
        let Self {
            state,
            parts,
            body,
            address,
            query,
            request_id,
        } = self;
        let body = body.into_inner().unwrap_or_else(|e| e.into_inner());
        let bytes = crate::lambda_api::read_body(
            body,
            operations::XML_BODY_LIMIT,
            "Your request was too big.",
        )
        .await
        .map_err(|e| e.0)?;
        Ok((
            Self {
                state,
                parts,
                body: std::sync::Mutex::new(Body::empty()),
                address,
                query,
                request_id,
            },
            bytes,
        ))
    }
}

async fn handle(State(state): State<Arc<EdgeState>>, req: Request) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let head = req.method() == Method::HEAD;
    let method = req.method().clone();
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = req.into_parts();
    let address = operations::address(&parts);
    let bucket = address.bucket.clone();
    let operation = operations::operation(&parts, &address);
    let query = Query::parse(parts.uri.query());
    let request = S3Request {
        state: state.clone(),
        parts,
        body: std::sync::Mutex::new(body),
        address,
        query,
        request_id: request_id.clone(),
    };
    let result = match operation {
        Some(operation) => run(operation, request).await,
        None => Err(S3Error(S3Errors::not_implemented(
            "A header or query you provided implies functionality that is not implemented",
        ))),
    };
    let mut response = match result {
        Ok(response) => response,
        Err(S3Error(err)) => {
            let mut response = error_response(&err, head, &request_id);
            // An upload refused before (or while) its body was read leaves bytes on the
            // connection — or none at all, when the client waited for `100 Continue` — so the
            // connection cannot carry another request: say so, or the client reuses it and fails.
            if operation.is_some_and(operations::streams_body) {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    cors::decorate(
        &state,
        bucket.as_deref(),
        origin.as_deref(),
        &method,
        &mut response,
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(rest_xml::REQUEST_ID_HEADER, value.clone());
        response.headers_mut().insert("x-amz-id-2", value);
    }
    response
}

async fn run(operation: &'static str, request: S3Request) -> S3Result {
    match operation {
        "ListBuckets" => buckets::list(request).await,
        "CreateBucket" => buckets::create(request).await,
        "HeadBucket" => buckets::head(request).await,
        "DeleteBucket" => buckets::delete(request).await,
        "GetBucketLocation" => buckets::location(request).await,
        "GetBucketTagging" => buckets::get_tagging(request).await,
        "PutBucketTagging" => buckets::put_tagging(request).await,
        "DeleteBucketTagging" => buckets::delete_tagging(request).await,
        "GetBucketCors" => buckets::get_cors(request).await,
        "PutBucketCors" => buckets::put_cors(request).await,
        "DeleteBucketCors" => buckets::delete_cors(request).await,
        "GetBucketPolicy" => buckets::get_policy(request).await,
        "PutBucketPolicy" => buckets::put_policy(request).await,
        "DeleteBucketPolicy" => buckets::delete_policy(request).await,
        "GetBucketNotificationConfiguration" => notifications::get(request).await,
        "PutBucketNotificationConfiguration" => notifications::put(request).await,
        "ListObjects" => listing::list_v1(request).await,
        "ListObjectsV2" => listing::list_v2(request).await,
        "PutObject" => objects::put(request).await,
        "GetObject" => objects::get(request, false).await,
        "HeadObject" => objects::get(request, true).await,
        "DeleteObject" => objects::delete(request).await,
        "DeleteObjects" => objects::delete_many(request).await,
        "CopyObject" => objects::copy(request).await,
        "GetObjectTagging" => objects::get_tagging(request).await,
        "PutObjectTagging" => objects::put_tagging(request).await,
        "DeleteObjectTagging" => objects::delete_tagging(request).await,
        "CreateMultipartUpload" => multipart::create(request).await,
        "UploadPart" => multipart::upload_part(request).await,
        "UploadPartCopy" => multipart::upload_part_copy(request).await,
        "CompleteMultipartUpload" => multipart::complete(request).await,
        "AbortMultipartUpload" => multipart::abort(request).await,
        "ListParts" => multipart::list_parts(request).await,
        "ListMultipartUploads" => multipart::list_uploads(request).await,
        other => Err(S3Error(S3Errors::not_implemented(format!(
            "Nubo does not serve {other} yet"
        )))),
    }
}

/// S3's error reply; a HEAD's (and a 304's) carries no body.
fn error_response(err: &AwsError, head: bool, request_id: &str) -> Response {
    if head || err.status == StatusCode::NOT_MODIFIED {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = err.status;
        return response;
    }
    rest_xml::error_response(err, request_id).map(Body::from)
}

/// An XML reply `<root xmlns=S3>…</root>`.
pub(crate) fn xml(root: &str, output: impl Fn(&mut XmlWriter)) -> Response {
    let output: &dyn XmlOutput = &output;
    rest_xml::response(StatusCode::OK, root, Some(NAMESPACE), output).map(Body::from)
}

/// An empty reply with a status.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// `"etag"`, as headers and XML carry it.
pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// An object's modification time as S3's XML writes it (ISO 8601 with milliseconds).
pub(crate) fn iso(ms: i64) -> String {
    nubo_wire::timefmt::iso_millis(from_ms(ms))
}

pub(crate) fn from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Sets a header from text (values that cannot be headers are left out).
pub(crate) fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
