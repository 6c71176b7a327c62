//! Per-request scope: the account and region a request acts in.
//!
//! The edge reads a signed request's credential scope (`AKID/20240101/eu-west-1/lambda/aws4_request`,
//! from the `Authorization` header or a presigned URL's `X-Amz-Credential`), dispatches on its
//! service, and inserts a [`RequestScope`] with its region. Unsigned and data-plane requests get the
//! server's default scope (`--region`, `--account-id`). Handlers take it as an extractor:
//!
//! ```text
//! async fn create(RequestScope(scope): RequestScope, …) -> ApiResult { … scope.region … }
//! ```
//!
//! The account is the identity registry's (one account per server); the region check lives in
//! `signed_scope`, the one place a credential becomes a scope.

use axum::extract::{FromRequestParts, Request};
use http::request::Parts;
use nubo_wire::sigv4::parse_authorization;
use nubo_wire::{AwsError, Scope};

use crate::response::ApiError;

/// The scope a request acts in, as a request extension and an axum extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestScope(pub Scope);

impl<S: Send + Sync> FromRequestParts<S> for RequestScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The edge inserts a scope into every request before routing; a handler reached without
        // one is a wiring mistake, reported as ours rather than as the client's.
        parts
            .extensions
            .get::<RequestScope>()
            .cloned()
            .ok_or_else(|| ApiError(AwsError::service("No scope was set for this request")))
    }
}

/// What a signed request's credential scope names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CredentialScope {
    /// The access key id.
    pub(crate) access_key_id: String,
    /// The scope's `YYYYMMDD`.
    pub(crate) day: String,
    /// The region the request was signed for.
    pub(crate) region: String,
    /// The signing name of the service: what the edge dispatches on.
    pub(crate) service: String,
    /// An S3 SigV2 presigned URL (`AWSAccessKeyId`/`Signature`/`Expires`): no day or region in
    /// it; the request acts in the server's default region.
    pub(crate) legacy_v2: bool,
}

/// The credential scope of a signed request: `None` when unsigned, an
/// `IncompleteSignatureException` when the signature's form is malformed.
pub(crate) fn credential_scope(req: &Request) -> Option<Result<CredentialScope, AwsError>> {
    if let Some(header) = req.headers().get(http::header::AUTHORIZATION) {
        let Ok(header) = header.to_str() else {
            return Some(Err(AwsError::incomplete_signature(
                "Authorization header is not valid text",
            )));
        };
        return Some(parse_authorization(header).map(|a| CredentialScope {
            access_key_id: a.access_key_id.to_owned(),
            day: a.date.to_owned(),
            region: a.region.to_owned(),
            service: a.service.to_owned(),
            legacy_v2: false,
        }));
    }
    if let Some(query) = req.uri().query() {
        if nubo_wire::sigv2::is_presigned_v2(query) {
            return Some(Ok(CredentialScope {
                access_key_id: nubo_wire::sigv2::access_key_id(query).unwrap_or_default(),
                day: String::new(),
                region: String::new(),
                service: "s3".to_owned(),
                legacy_v2: true,
            }));
        }
    }
    let credential = req
        .uri()
        .query()?
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
    let credential = percent_encoding::percent_decode_str(credential)
        .decode_utf8_lossy()
        .into_owned();
    let parts: Vec<&str> = credential.split('/').collect();
    Some(match parts.as_slice() {
        [access_key_id, day, region, service, "aws4_request"]
            if !access_key_id.is_empty() && !service.is_empty() =>
        {
            Ok(CredentialScope {
                access_key_id: (*access_key_id).to_owned(),
                day: (*day).to_owned(),
                region: (*region).to_owned(),
                service: (*service).to_owned(),
                legacy_v2: false,
            })
        }
        _ => Err(AwsError::incomplete_signature(format!(
            "Credential is malformed: '{credential}'."
        ))),
    })
}

/// The scope a signed request acts in: the region it was signed for, and (until access keys map to
/// accounts) the server's default account. A region that cannot be a region name is refused as
/// AWS refuses it, before it can reach an ARN.
pub(crate) fn signed_scope(
    credential: &CredentialScope,
    default: &Scope,
) -> Result<Scope, AwsError> {
    if !is_region_name(&credential.region) {
        return Err(AwsError::invalid_signature(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            credential.region
        )));
    }
    Ok(Scope {
        region: credential.region.clone(),
        account_id: default.account_id.clone(),
    })
}

/// Lower-case letters, digits and dashes, starting with a letter: `us-east-1`, `eu-west-1`,
/// `us-gov-west-1`, and the `local` some tools sign with.
fn is_region_name(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn signed(authorization: &str) -> Request {
        Request::builder()
            .uri("/2015-03-31/functions")
            .header("authorization", authorization)
            .body(Body::empty())
            .unwrap()
    }

    const EU: &str = "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/lambda/aws4_request, \
                      SignedHeaders=host;x-amz-date, Signature=abcd";

    #[test]
    fn header_credential_names_service_and_region() {
        let credential = credential_scope(&signed(EU)).unwrap().unwrap();
        assert_eq!(
            credential,
            CredentialScope {
                access_key_id: "AKID".into(),
                day: "20240101".into(),
                region: "eu-west-1".into(),
                service: "lambda".into(),
                legacy_v2: false,
            }
        );
        let scope = signed_scope(&credential, &Scope::default()).unwrap();
        assert_eq!(scope.region, "eu-west-1");
        assert_eq!(scope.account_id, Scope::default().account_id);
    }

    #[test]
    fn presigned_credential_names_service_and_region() {
        let req = Request::builder()
            .uri("/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20240101%2Fap-southeast-2%2Fs3%2Faws4_request&X-Amz-Signature=ab")
            .body(Body::empty())
            .unwrap();
        let credential = credential_scope(&req).unwrap().unwrap();
        assert_eq!(
            (credential.region.as_str(), credential.service.as_str()),
            ("ap-southeast-2", "s3")
        );
    }

    #[test]
    fn unsigned_and_malformed() {
        let unsigned = Request::builder().uri("/").body(Body::empty()).unwrap();
        assert!(credential_scope(&unsigned).is_none());
        let malformed = signed("AWS4-HMAC-SHA256 Credential=AKID/2024/eu-west-1/lambda");
        assert_eq!(
            credential_scope(&malformed).unwrap().unwrap_err().code,
            "IncompleteSignatureException"
        );
        let presigned = Request::builder()
            .uri("/?X-Amz-Credential=AKID%2Fs3")
            .body(Body::empty())
            .unwrap();
        assert!(credential_scope(&presigned).unwrap().is_err());
    }

    #[test]
    fn regions_that_cannot_be_regions_are_refused() {
        for region in ["us-gov-west-1", "eu-central-2", "local"] {
            assert!(is_region_name(region), "{region}");
        }
        for region in [
            "",
            "US-EAST-1",
            "us east 1",
            "1us",
            "us-east-1'",
            &"a".repeat(33),
        ] {
            let credential = CredentialScope {
                access_key_id: "AKID".into(),
                day: "20240101".into(),
                region: region.into(),
                service: "lambda".into(),
                legacy_v2: false,
            };
            let err = signed_scope(&credential, &Scope::default()).unwrap_err();
            assert_eq!(err.code, "InvalidSignatureException", "{region:?}");
        }
    }

    #[tokio::test]
    async fn extractor_reads_the_extension() {
        let mut req = signed(EU);
        let scope = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        req.extensions_mut().insert(RequestScope(scope.clone()));
        let (mut parts, _) = req.into_parts();
        let RequestScope(extracted) = RequestScope::from_request_parts(&mut parts, &())
            .await
            .unwrap();
        assert_eq!(extracted, scope);

        let (mut bare, _) = signed(EU).into_parts();
        let err = RequestScope::from_request_parts(&mut bare, &())
            .await
            .unwrap_err();
        assert_eq!(err.0.code, "ServiceException");
    }
}
