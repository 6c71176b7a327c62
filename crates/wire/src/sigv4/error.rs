//! Why a signature was refused ([`SigV4Error`]), and the one table that turns each reason into the
//! error AWS returns for it in each protocol family ([`AuthFamily`]).
//!
//! Sources for the texts: the Common Errors page of every AWS API reference (codes and statuses),
//! moto's `core/exceptions.py` (`SignatureDoesNotMatch`, `InvalidClientTokenId`), AWS CLI users'
//! captures of `Signature expired: … is now earlier than … (… - 5 min.)` and `Signature not yet
//! current: … is still later than … (… + 5 min.)`, S3's documented error codes
//! (`InvalidAccessKeyId`, `RequestTimeTooSkewed`, `AuthorizationQueryParametersError`) and the S3
//! presign texts MinIO reproduces (`X-Amz-Expires must be less than a week …`). The statuses of the
//! JSON 1.x family (400) are DynamoDB's, as botocore's tests record them.

use http::StatusCode;

use crate::AwsError;

/// The protocol family of the service a request went to; AWS words the same refusal differently in
/// each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFamily {
    /// rest-json services: Lambda, API Gateway, the `@connections` API.
    RestJson,
    /// JSON 1.0/1.1 services: DynamoDB, SQS (JSON), CloudWatch Logs, EventBridge.
    Json,
    /// query services: IAM, STS, SQS (query).
    Query,
    /// S3 (rest-xml with its own codes).
    S3,
}

/// Why verification failed. Data needed for the message travels with the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    MissingAuthentication,
    /// The `Authorization` header or the presign parameters are malformed.
    Incomplete {
        /// AWS's explanation.
        message: String,
        /// True when the parts came from the query string (S3 names these differently).
        presigned: bool,
    },
    /// The access key id is not known.
    UnknownAccessKey,
    /// A session token that is not one of ours, or that does not belong to the access key id.
    InvalidToken,
    /// A session token past its expiry.
    ExpiredToken,
    /// The signature we computed differs from the one provided.
    SignatureMismatch(Box<MismatchDetails>),
    /// The credential scope contradicts the request (its date differs from `X-Amz-Date`).
    ScopeMismatch(String),
    /// The header form's `X-Amz-Date` is outside the allowed clock skew.
    Skewed(Box<SkewDetails>),
    /// A presigned URL past `X-Amz-Date + X-Amz-Expires`.
    PresignExpired,
    /// A presigned URL dated further in the future than the clock skew allows.
    PresignNotYetValid,
    /// `x-amz-content-sha256` is neither a hex SHA-256 nor one of the `UNSIGNED`/`STREAMING` names.
    InvalidContentSha256,
    /// An S3 request without `x-amz-content-sha256`.
    MissingContentSha256,
    /// The body's SHA-256 differs from the `x-amz-content-sha256` that was signed.
    ContentSha256Mismatch,
    /// An aws-chunked body whose framing is broken or which ended early.
    MalformedChunk(String),
}

/// What S3 puts in a `SignatureDoesNotMatch` body to help debugging (spec/sigv4.md §6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MismatchDetails {
    /// The access key the request claimed.
    pub access_key_id: String,
    /// The string to sign we computed.
    pub string_to_sign: String,
    /// The signature the request carried.
    pub signature_provided: String,
    /// The canonical request we computed.
    pub canonical_request: String,
}

/// The times of a clock-skew refusal, already in `X-Amz-Date` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkewDetails {
    /// The request's `X-Amz-Date`.
    pub request_time: String,
    /// `now − skew` (request too old) or `now + skew` (request ahead).
    pub bound: String,
    /// The server's now.
    pub server_time: String,
    /// The allowed skew in minutes.
    pub skew_minutes: u32,
    /// True when the request is dated in the future.
    pub ahead: bool,
}

/// AWS's text for a wrong signature outside S3 (moto `SignatureDoesNotMatchError`).
pub const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// S3's shorter text for the same.
pub const S3_SIGNATURE_MISMATCH: &str =
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
/// Unknown key or foreign token, every service but S3 (moto `InvalidClientTokenIdError`).
pub const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
/// An expired session token (the Common Errors `ExpiredTokenException` text, no full stop).
pub const EXPIRED_TOKEN: &str = "The security token included in the request is expired";

impl SigV4Error {
    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        Self::Incomplete {
            message: message.into(),
            presigned: false,
        }
    }

    pub(crate) fn presign(message: impl Into<String>) -> Self {
        Self::Incomplete {
            message: message.into(),
            presigned: true,
        }
    }

    /// The error AWS returns for this refusal in `family`.
    pub fn to_aws_error(&self, family: AuthFamily) -> AwsError {
        use AuthFamily::*;
        // JSON 1.x services answer authentication failures with 400; rest-json and query with 403.
        let auth_status = match family {
            Json => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        let err = |code: &'static str, status: StatusCode, message: &str| {
            AwsError::new(code, status, message)
        };
        match (self, family) {
            (Self::MissingAuthentication, S3) => err("AccessDenied", StatusCode::FORBIDDEN, "Access Denied"),
            (Self::MissingAuthentication, Query) => err(
                "MissingAuthenticationToken",
                StatusCode::FORBIDDEN,
                "Request is missing Authentication Token",
            ),
            (Self::MissingAuthentication, _) => err(
                "MissingAuthenticationTokenException",
                auth_status,
                "Missing Authentication Token",
            ),

            (Self::Incomplete { message, presigned }, S3) => err(
                if *presigned {
                    "AuthorizationQueryParametersError"
                } else {
                    "AuthorizationHeaderMalformed"
                },
                StatusCode::BAD_REQUEST,
                message,
            ),
            (Self::Incomplete { message, .. }, Query) => {
                err("IncompleteSignature", StatusCode::BAD_REQUEST, message)
            }
            (Self::Incomplete { message, .. }, _) => {
                err("IncompleteSignatureException", auth_status, message)
            }

            (Self::UnknownAccessKey, S3) => err(
                "InvalidAccessKeyId",
                StatusCode::FORBIDDEN,
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            (Self::InvalidToken, S3) => err(
                "InvalidToken",
                StatusCode::BAD_REQUEST,
                "The provided token is malformed or otherwise invalid.",
            ),
            (Self::UnknownAccessKey | Self::InvalidToken, Query) => {
                err("InvalidClientTokenId", StatusCode::FORBIDDEN, INVALID_TOKEN)
            }
            (Self::UnknownAccessKey | Self::InvalidToken, _) => {
                err("UnrecognizedClientException", auth_status, INVALID_TOKEN)
            }

            (Self::ExpiredToken, S3) => err(
                "ExpiredToken",
                StatusCode::BAD_REQUEST,
                "The provided token has expired.",
            ),
            (Self::ExpiredToken, Query) => err("ExpiredToken", StatusCode::FORBIDDEN, EXPIRED_TOKEN),
            (Self::ExpiredToken, _) => err("ExpiredTokenException", auth_status, EXPIRED_TOKEN),

            (Self::SignatureMismatch(details), S3) => err(
                "SignatureDoesNotMatch",
                StatusCode::FORBIDDEN,
                S3_SIGNATURE_MISMATCH,
            )
            .with_extra("AWSAccessKeyId", details.access_key_id.clone())
            .with_extra("StringToSign", details.string_to_sign.clone())
            .with_extra("SignatureProvided", details.signature_provided.clone())
            .with_extra("CanonicalRequest", details.canonical_request.clone()),
            (Self::ContentSha256Mismatch, S3) => err(
                "XAmzContentSHA256Mismatch",
                StatusCode::BAD_REQUEST,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            (Self::SignatureMismatch(_) | Self::ContentSha256Mismatch, Query) => {
                err("SignatureDoesNotMatch", StatusCode::FORBIDDEN, SIGNATURE_MISMATCH)
            }
            (Self::SignatureMismatch(_) | Self::ContentSha256Mismatch, _) => {
                err("InvalidSignatureException", auth_status, SIGNATURE_MISMATCH)
            }

            (Self::ScopeMismatch(message), S3) => {
                err("AuthorizationHeaderMalformed", StatusCode::BAD_REQUEST, message)
            }
            (Self::ScopeMismatch(message), Query) => {
                err("SignatureDoesNotMatch", StatusCode::FORBIDDEN, message)
            }
            (Self::ScopeMismatch(message), _) => {
                err("InvalidSignatureException", auth_status, message)
            }

            (Self::Skewed(skew), S3) => err(
                "RequestTimeTooSkewed",
                StatusCode::FORBIDDEN,
                "The difference between the request time and the current time is too large.",
            )
            .with_extra("RequestTime", skew.request_time.clone())
            .with_extra("ServerTime", skew.server_time.clone())
            .with_extra(
                "MaxAllowedSkewMilliseconds",
                (u64::from(skew.skew_minutes) * 60_000).to_string(),
            ),
            (Self::Skewed(skew), Query) => {
                err("SignatureDoesNotMatch", StatusCode::FORBIDDEN, &skew.message())
            }
            (Self::Skewed(skew), _) => {
                err("InvalidSignatureException", auth_status, &skew.message())
            }

            (Self::PresignExpired, S3) => {
                err("AccessDenied", StatusCode::FORBIDDEN, "Request has expired")
            }
            (Self::PresignNotYetValid, S3) => {
                err("AccessDenied", StatusCode::FORBIDDEN, "Request is not valid yet")
            }
            // The Common Errors `RequestExpired`: "more than 15 minutes after the request
            // expiration date (such as for pre-signed URLs), or … in the future".
            (Self::PresignExpired | Self::PresignNotYetValid, _) => {
                err("RequestExpired", StatusCode::BAD_REQUEST, "Request has expired.")
            }

            (Self::InvalidContentSha256, S3) => err(
                "InvalidArgument",
                StatusCode::BAD_REQUEST,
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
            ),
            (Self::MissingContentSha256, S3) => err(
                "InvalidRequest",
                StatusCode::BAD_REQUEST,
                "Missing required header for this request: x-amz-content-sha256",
            ),
            (Self::InvalidContentSha256 | Self::MissingContentSha256, Query) => err(
                "IncompleteSignature",
                StatusCode::BAD_REQUEST,
                "Invalid x-amz-content-sha256 header.",
            ),
            (Self::InvalidContentSha256 | Self::MissingContentSha256, _) => err(
                "IncompleteSignatureException",
                auth_status,
                "Invalid x-amz-content-sha256 header.",
            ),

            (Self::MalformedChunk(message), S3) => {
                err("IncompleteBody", StatusCode::BAD_REQUEST, message)
            }
            (Self::MalformedChunk(message), _) => {
                err("SerializationException", StatusCode::BAD_REQUEST, message)
            }
        }
    }
}

impl SkewDetails {
    /// `Signature expired: 20150830T123600Z is now earlier than 20150830T125100Z (20150830T125600Z
    /// - 5 min.)`, or `Signature not yet current: … is still later than … (… + 5 min.)`.
    pub fn message(&self) -> String {
        if self.ahead {
            format!(
                "Signature not yet current: {} is still later than {} ({} + {} min.)",
                self.request_time, self.bound, self.server_time, self.skew_minutes
            )
        } else {
            format!(
                "Signature expired: {} is now earlier than {} ({} - {} min.)",
                self.request_time, self.bound, self.server_time, self.skew_minutes
            )
        }
    }
}

impl std::fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rendered = self.to_aws_error(AuthFamily::RestJson);
        write!(f, "{}: {}", rendered.code, rendered.message)
    }
}

impl std::error::Error for SigV4Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_refusal_reads_differently_per_family() {
        let e = SigV4Error::UnknownAccessKey;
        assert_eq!(
            e.to_aws_error(AuthFamily::RestJson).code,
            "UnrecognizedClientException"
        );
        assert_eq!(
            e.to_aws_error(AuthFamily::RestJson).status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            e.to_aws_error(AuthFamily::Json).status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            e.to_aws_error(AuthFamily::Query).code,
            "InvalidClientTokenId"
        );
        assert_eq!(e.to_aws_error(AuthFamily::S3).code, "InvalidAccessKeyId");
        let m = SigV4Error::SignatureMismatch(Box::default());
        assert_eq!(
            m.to_aws_error(AuthFamily::RestJson).code,
            "InvalidSignatureException"
        );
        assert_eq!(
            m.to_aws_error(AuthFamily::Query).code,
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            m.to_aws_error(AuthFamily::Query).message,
            SIGNATURE_MISMATCH
        );
        let s3 = m.to_aws_error(AuthFamily::S3);
        assert_eq!(s3.message, S3_SIGNATURE_MISMATCH);
        assert!(s3.extra.unwrap().contains_key("CanonicalRequest"));
        assert_eq!(
            SigV4Error::ExpiredToken
                .to_aws_error(AuthFamily::RestJson)
                .message,
            EXPIRED_TOKEN
        );
        assert_eq!(
            SigV4Error::PresignExpired
                .to_aws_error(AuthFamily::S3)
                .message,
            "Request has expired"
        );
    }

    #[test]
    fn skew_messages_match_aws() {
        let mut skew = SkewDetails {
            request_time: "20141106T010406Z".into(),
            bound: "20141106T011252Z".into(),
            server_time: "20141106T011752Z".into(),
            skew_minutes: 5,
            ahead: false,
        };
        assert_eq!(
            skew.message(),
            "Signature expired: 20141106T010406Z is now earlier than 20141106T011252Z (20141106T011752Z - 5 min.)"
        );
        skew.ahead = true;
        assert!(skew
            .message()
            .starts_with("Signature not yet current: 20141106T010406Z is still later than"));
    }
}
