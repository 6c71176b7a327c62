//! Who may do what, decided once per signed request before any handler runs:
//!
//! ```text
//! name the operation (method + path) ─► read the body (bounded) ─► verify (SigV4)
//!   ─► authenticate (access key → caller) ─► name the operation (Action) ─► parameters
//!   ─► authorization_requests (identity's table) ─► authorize (policy evaluation) ─► checks
//! ```
//!
//! [`Guard::admit`] is the whole flow; it returns the request with its body in memory and the
//! [`Authenticated`] caller, the [`RequestScope`] and (query services) the decoded form as
//! extensions, or the error the service's protocol renders. What differs per service — naming the
//! operation from a path, the parameters its resource ARN needs, a resource policy, a check after
//! authorization — is an [`Authorizer`] the service registers with ([`lambda`], [`apigateway`],
//! [`iam`], [`sts`], [`sqs`], [`events`]). A served service without one is refused (deny by default), and so is an
//! operation the authorizer cannot name.

pub(crate) mod apigateway;
mod body;
pub(crate) mod dynamodb;
pub(crate) mod events;
pub(crate) mod iam;
pub(crate) mod lambda;
pub(crate) mod logs;
pub(crate) mod monitoring;
pub(crate) mod rest;
pub(crate) mod s3;
pub(crate) mod sqs;
pub(crate) mod sts;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use bytes::Bytes;
use http::request::Parts;
use http::StatusCode;
use nubo_identity::actions::{authorization_requests, TableError};
use nubo_identity::policy::{ConditionKeys, Policy, PrincipalKind};
use nubo_identity::{Caller, IdentityRegistry};
use nubo_wire::protocol::query::{self, QueryRequest};
use nubo_wire::sigv4::{
    verify, AuthFamily, ChunkSignatureChain, KeyError, KeyRequest, Payload, PayloadHash,
    SigV4Error, SigningKeys, UriMode, VerifyOptions, VerifyRequest,
};
use nubo_wire::{AwsError, Protocol, Scope};
use time::OffsetDateTime;

use crate::scope::{signed_scope, CredentialScope, RequestScope};

/// How a streamed body (an S3 upload the guard did not read) is covered by the signature, as a
/// request extension: the handler checks the body against it as it streams in.
#[derive(Debug, Clone)]
pub(crate) struct StreamedPayload {
    /// What `x-amz-content-sha256` said.
    pub(crate) hash: PayloadHash,
    /// For `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: the chunk-signature chain.
    pub(crate) chain: Option<ChunkSignatureChain>,
}

/// The authenticated caller of a request, as a request extension.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Caller>);

/// What a request asked for, as far as its authorizer needs to know.
pub(crate) struct Asked<'a> {
    /// botocore's operation name.
    pub(crate) operation: &'a str,
    /// Path labels, for rest operations.
    pub(crate) labels: &'a [(&'static str, String)],
    /// Method, URI and headers.
    pub(crate) parts: &'a Parts,
    /// The whole body.
    pub(crate) body: &'a [u8],
    /// The decoded form of a query request.
    pub(crate) form: Option<&'a QueryRequest>,
    /// Who asks.
    pub(crate) caller: &'a Caller,
    /// The scope the request acts in.
    pub(crate) scope: &'a Scope,
}

impl Asked<'_> {
    /// A path label's value.
    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value.as_str())
    }

    /// A top-level member of a query request.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .and_then(|f| f.str(name))
            .filter(|v| !v.is_empty())
    }

    /// A query-string parameter of the URL (decoded).
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        crate::query::Query::parse(self.parts.uri.query())
            .get(name)
            .map(str::to_owned)
    }
}

/// The parameters an authorization table's templates name: `(name, value)`.
pub(crate) type Parameters = Vec<(&'static str, String)>;

/// What differs per service in authorization.
pub(crate) trait Authorizer: Send + Sync + 'static {
    /// The operation the method and path name (rest services) with its body limit; `None` when
    /// the operation is named in the body (query) or by nothing the authorizer knows.
    fn route(&self, parts: &Parts) -> Option<rest::Matched>;

    /// The body limit when [`Authorizer::route`] named nothing.
    fn default_body_limit(&self) -> usize {
        1024 * 1024
    }

    /// The parameters the service's authorization table needs for `asked`.
    fn parameters(
        &self,
        asked: &Asked<'_>,
        identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError>;

    /// The resource's own policy, when it has one (a role's trust policy for AssumeRole).
    fn resource_policy(
        &self,
        _asked: &Asked<'_>,
        _parameters: &Parameters,
        _identity: &IdentityRegistry,
    ) -> Option<Arc<Policy>> {
        None
    }

    /// A check after authorization (CreateFunction: Lambda may assume the role).
    fn after_authorization(
        &self,
        _asked: &Asked<'_>,
        _parameters: &Parameters,
        _identity: &IdentityRegistry,
        _now: OffsetDateTime,
    ) -> Result<(), AwsError> {
        Ok(())
    }
}

/// The operation a rest request was named as (botocore's name), for handlers whose input shapes
/// differ per operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OperationName(pub(crate) &'static str);

/// Where a signed request is going, as the registry knows it.
pub(crate) struct Target {
    /// The signing name.
    pub(crate) service: String,
    /// The protocol its errors are written in.
    pub(crate) protocol: Protocol,
    /// Whether Nubo serves the binding the request goes to.
    pub(crate) served: bool,
    /// How the service's operations are authorized.
    pub(crate) authorizer: Option<Arc<dyn Authorizer>>,
    /// A query-compatible service's legacy error codes (SQS), for the guard's errors too.
    pub(crate) query_codes: Option<crate::registry::QueryCodes>,
}

/// Verification and authorization, with what they need.
pub(crate) struct Guard {
    identity: Arc<IdentityRegistry>,
    body_idle: Duration,
}

/// Bodies above this size are hashed and scanned with the worker handed off (`block_in_place`).
const LARGE_BODY: usize = 1024 * 1024;

/// Runs `work` with the async worker handed to another thread first when `large` (the
/// multi-threaded runtime moves its other tasks away); small bodies run in place.
fn off_worker_if<T>(large: bool, work: impl FnOnce() -> T) -> T {
    if large {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// How long a signed request's body may pause between chunks.
pub(crate) const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The signature-error family of a protocol.
pub(crate) fn family(protocol: Protocol) -> AuthFamily {
    match protocol {
        Protocol::RestJson => AuthFamily::RestJson,
        Protocol::Json(_) => AuthFamily::Json,
        Protocol::Query { .. } => AuthFamily::Query,
        Protocol::RestXml => AuthFamily::S3,
    }
}

/// S3 signs its paths byte for byte; every other service normalizes them.
fn uri_mode(service: &str) -> UriMode {
    if service == "s3" {
        UriMode::S3
    } else {
        UriMode::Normalized
    }
}

/// AWS's clock-skew window: 15 minutes for S3, STS and DynamoDB, 5 for the rest.
fn verify_options(service: &str) -> VerifyOptions {
    let minutes = match service {
        "s3" | "sts" | "dynamodb" => 15,
        _ => 5,
    };
    VerifyOptions {
        max_skew: time::Duration::minutes(minutes),
    }
}

/// A required member the request left out, in the protocol family's words.
pub(crate) fn missing(member: &str, family: AuthFamily) -> AwsError {
    let message = format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    );
    match family {
        AuthFamily::Query => AwsError::new("ValidationError", StatusCode::BAD_REQUEST, message),
        _ => AwsError::validation(message),
    }
}

/// The JSON members of a body (empty is `{}`), with the error Lambda gives for malformed JSON.
pub(crate) fn json_members<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        AwsError::invalid_request_content(format!("Could not parse request body into json: {e}"))
    })
}

impl Guard {
    pub(crate) fn new(identity: Arc<IdentityRegistry>) -> Self {
        Self {
            identity,
            body_idle: BODY_IDLE_TIMEOUT,
        }
    }

    /// Admits a signed request to `target`, or says why not.
    pub(crate) async fn admit(
        &self,
        credential: &CredentialScope,
        target: &Target,
        default_scope: &Scope,
        req: Request,
    ) -> Result<Request, AwsError> {
        let family = family(target.protocol);
        let now = OffsetDateTime::now_utc();
        let (mut parts, body) = req.into_parts();
        let region_scope = signed_scope(credential, default_scope)?;
        if credential.legacy_v2 {
            return self
                .admit_v2(target, parts, body, region_scope.region, now, family)
                .await;
        }

        // An unknown key is refused before its body is read.
        self.known_key(credential, &parts, now)
            .map_err(|e| e.to_aws_error(family))?;

        let route = target
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.route(&parts));
        let operation = route.as_ref().map(|route| OperationName(route.operation));
        let limit = match (&route, &target.authorizer) {
            (Some(route), _) => route.body_limit,
            (None, Some(authorizer)) => authorizer.default_body_limit(),
            (None, None) => 1024 * 1024,
        };
        // S3 uploads stream to storage: verified without their body, checked as it streams.
        if limit == rest::STREAMED && target.served {
            return self
                .admit_streamed(target, route, parts, body, region_scope.region, now, family)
                .await;
        }
        let body = body::read(&parts.headers, body, limit, self.body_idle)
            .await
            .map_err(|e| match e {
                body::BodyError::TooLarge(limit) => AwsError::request_too_large(format!(
                    "Request must be smaller than {limit} bytes for this operation"
                )),
                body::BodyError::Stalled => AwsError::new(
                    "RequestTimeout",
                    StatusCode::REQUEST_TIMEOUT,
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                ),
                body::BodyError::Broken(why) => {
                    AwsError::invalid_request_content(format!("Could not read the request body: {why}"))
                }
            })?;

        // Hashing (and, for Lambda, scanning) a large body is CPU work: off the async worker.
        let large = body.len() > LARGE_BODY;
        let verified = off_worker_if(large, || {
            verify(
                &VerifyRequest {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    query: parts.uri.query().unwrap_or(""),
                    headers: &parts.headers,
                    payload: Payload::Bytes(&body),
                    uri_mode: uri_mode(&target.service),
                },
                self.identity.as_ref(),
                now,
                &verify_options(&target.service),
            )
        })
        .map_err(|e| e.to_aws_error(family))?;
        // Only S3 reads aws-chunked bodies; elsewhere a streaming payload is not what the
        // handlers would parse.
        if matches!(
            verified.payload,
            PayloadHash::StreamingSigned { .. } | PayloadHash::StreamingUnsignedTrailer
        ) {
            return Err(SigV4Error::InvalidContentSha256.to_aws_error(family));
        }
        let caller = self
            .identity
            .authenticate(&verified, now)
            .map_err(|e| e.to_aws_error(family))?;
        drop(verified);
        let scope = Scope {
            region: region_scope.region,
            account_id: self.identity.account_id().to_owned(),
        };

        let form = match target.protocol {
            Protocol::Query { .. } if target.served => {
                Some(query::decode(parts.uri.query(), &body)?)
            }
            _ => None,
        };
        if target.served {
            off_worker_if(large, || {
                self.authorize(
                    target,
                    route,
                    &parts,
                    &body,
                    form.as_ref(),
                    &caller,
                    &scope,
                    now,
                    family,
                )
            })?;
        }

        parts.extensions.insert(RequestScope(scope));
        parts.extensions.insert(Authenticated(Arc::new(caller)));
        if let Some(operation) = operation {
            parts.extensions.insert(operation);
        }
        if let Some(form) = form {
            parts.extensions.insert(form);
        }
        Ok(Request::from_parts(parts, Body::from(body)))
    }

    /// Admits a request whose body the guard does not read (S3's PutObject and UploadPart): the
    /// signature is verified over the headers with the body's hash as claimed, and the request
    /// goes on with its body unread and a [`StreamedPayload`] saying how to check it.
    #[allow(clippy::too_many_arguments)]
    async fn admit_streamed(
        &self,
        target: &Target,
        route: Option<rest::Matched>,
        mut parts: Parts,
        body: Body,
        region: String,
        now: OffsetDateTime,
        family: AuthFamily,
    ) -> Result<Request, AwsError> {
        let verified = verify(
            &VerifyRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &parts.headers,
                payload: Payload::Unavailable,
                uri_mode: uri_mode(&target.service),
            },
            self.identity.as_ref(),
            now,
            &verify_options(&target.service),
        )
        .map_err(|e| e.to_aws_error(family))?;
        let streamed = StreamedPayload {
            hash: verified.payload.clone(),
            chain: verified.chunk_chain(),
        };
        let caller = self
            .identity
            .authenticate(&verified, now)
            .map_err(|e| e.to_aws_error(family))?;
        drop(verified);
        let scope = Scope {
            region,
            account_id: self.identity.account_id().to_owned(),
        };
        self.authorize(
            target,
            route,
            &parts,
            &Bytes::new(),
            None,
            &caller,
            &scope,
            now,
            family,
        )?;
        parts.extensions.insert(RequestScope(scope));
        parts.extensions.insert(Authenticated(Arc::new(caller)));
        parts.extensions.insert(streamed);
        Ok(Request::from_parts(parts, body))
    }

    /// Admits an S3 SigV2 presigned request: the signature covers no body (uploads through such
    /// a URL are unsigned payloads), so the body is left for the handler, as for streamed uploads.
    async fn admit_v2(
        &self,
        target: &Target,
        mut parts: Parts,
        body: Body,
        region: String,
        now: OffsetDateTime,
        family: AuthFamily,
    ) -> Result<Request, AwsError> {
        if target.service != "s3" || !target.served {
            return Err(SigV4Error::MissingAuthentication.to_aws_error(family));
        }
        let route = target
            .authorizer
            .as_ref()
            .and_then(|authorizer| authorizer.route(&parts));
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let verified = nubo_wire::sigv2::verify(
            &nubo_wire::sigv2::V2Request {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                host_bucket: crate::s3_api::operations::host_bucket(host),
                region: &region,
            },
            self.identity.as_ref(),
            now,
        )
        .map_err(|e| e.to_aws_error(family))?;
        let caller = self
            .identity
            .authenticate(&verified, now)
            .map_err(|e| e.to_aws_error(family))?;
        drop(verified);
        let scope = Scope {
            region,
            account_id: self.identity.account_id().to_owned(),
        };
        // Bodies an authorizer reads (DeleteObjects' keys) are read here, as in the SigV4 path;
        // uploads stream.
        let limit = route.as_ref().map_or(rest::STREAMED, |r| r.body_limit);
        let (body, read) = if limit == rest::STREAMED {
            (body, Bytes::new())
        } else {
            let read = body::read(&parts.headers, body, limit, self.body_idle)
                .await
                .map_err(|_| {
                    AwsError::request_too_large(format!(
                        "Request must be smaller than {limit} bytes for this operation"
                    ))
                })?;
            (Body::from(read.clone()), read)
        };
        self.authorize(
            target, route, &parts, &read, None, &caller, &scope, now, family,
        )?;
        parts.extensions.insert(RequestScope(scope));
        parts.extensions.insert(Authenticated(Arc::new(caller)));
        parts.extensions.insert(StreamedPayload {
            hash: PayloadHash::Unsigned,
            chain: None,
        });
        Ok(Request::from_parts(parts, body))
    }

    /// Whether the claimed key (and session token) is one of ours; fills the signing-key cache
    /// the verification then hits.
    fn known_key(
        &self,
        credential: &CredentialScope,
        parts: &Parts,
        now: OffsetDateTime,
    ) -> Result<(), SigV4Error> {
        let token = parts
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                crate::query::Query::parse(parts.uri.query())
                    .get("X-Amz-Security-Token")
                    .map(str::to_owned)
            });
        let request = KeyRequest {
            access_key_id: &credential.access_key_id,
            session_token: token.as_deref(),
            day: &credential.day,
            region: &credential.region,
            service: &credential.service,
            now,
        };
        self.identity
            .signing_key(&request)
            .map(|_| ())
            .map_err(|e| match e {
                KeyError::UnknownAccessKey => SigV4Error::UnknownAccessKey,
                KeyError::InvalidToken => SigV4Error::InvalidToken,
                KeyError::ExpiredToken => SigV4Error::ExpiredToken,
            })
    }

    #[allow(clippy::too_many_arguments)]
    fn authorize(
        &self,
        target: &Target,
        route: Option<rest::Matched>,
        parts: &Parts,
        body: &Bytes,
        form: Option<&QueryRequest>,
        caller: &Caller,
        scope: &Scope,
        now: OffsetDateTime,
        family: AuthFamily,
    ) -> Result<(), AwsError> {
        let Some(authorizer) = &target.authorizer else {
            tracing::error!(service = %target.service, "a served service has no authorizer");
            return Err(AwsError::service(
                "This service's operations cannot be authorized",
            ));
        };
        let (operation, labels) = match (&route, form) {
            (Some(route), _) => (route.operation, route.labels.as_slice()),
            (None, Some(form)) => (form.action.as_str(), &[][..]),
            (None, None) => {
                return Err(target.protocol.unknown_operation(format!(
                    "Nubo's {} API has no operation {} {}",
                    target.service,
                    parts.method,
                    parts.uri.path()
                )))
            }
        };
        let asked = Asked {
            operation,
            labels,
            parts,
            body,
            form,
            caller,
            scope,
        };
        let parameters = authorizer.parameters(&asked, &self.identity)?;
        let borrowed: Vec<(&str, &str)> = parameters
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let requests = match authorization_requests(&target.service, operation, scope, &borrowed) {
            Ok(requests) => requests,
            // An operation the service does not serve: its handler table answers that.
            Err(TableError::UnknownOperation { .. }) if form.is_some() => return Ok(()),
            Err(TableError::MissingParameter { parameter, .. }) => {
                // The account root may do anything in its account, also without naming a user.
                // Every parameter Lambda's table names is a path label or a member its model
                // requires, so the handler refuses the request anyway — with every model
                // constraint it breaks counted, as AWS reports them, rather than this one alone.
                if caller.principal.kind == PrincipalKind::Account || target.service == "lambda" {
                    return Ok(());
                }
                return Err(missing(&lower_camel(&parameter), family));
            }
            Err(e) => {
                tracing::error!(service = %target.service, %operation, error = %e, "no authorization rule");
                return Err(AwsError::service(format!(
                    "Nubo cannot authorize {operation}"
                )));
            }
        };
        let policy = authorizer.resource_policy(&asked, &parameters, &self.identity);
        let keys = condition_keys(parts, scope);
        for request in &requests {
            caller
                .authorize(
                    request.action,
                    &request.resource,
                    policy.as_deref(),
                    Some(&scope.account_id),
                    &keys,
                    now,
                )
                .map_err(|denied| denied.to_aws_error(family))?;
        }
        authorizer.after_authorization(&asked, &parameters, &self.identity, now)
    }
}

/// The condition keys every request carries.
fn condition_keys(parts: &Parts, scope: &Scope) -> ConditionKeys {
    let source_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".into());
    ConditionKeys::default()
        .with("aws:SecureTransport", "false")
        .with("aws:SourceIp", source_ip)
        .with("aws:RequestedRegion", scope.region.clone())
}

/// `UserName` → `userName`, as validation messages name members.
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
