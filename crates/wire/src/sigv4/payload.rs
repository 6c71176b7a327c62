//! The payload line of the canonical request: what `x-amz-content-sha256` (or its absence, or an S3
//! presigned URL) says about the body, and the check of a signed hex hash against the body.

use sha2::{Digest, Sha256};

use super::canonical::{UriMode, EMPTY_SHA256};
use super::error::SigV4Error;
use super::verify::{Payload, PayloadHash, VerifyRequest};

/// The payload hash as it enters the canonical request, before the body is checked against it.
pub(crate) enum ClaimedPayload<'a> {
    Header(&'a str, PayloadHash),
    Computed(String),
}

impl ClaimedPayload<'_> {
    pub(crate) fn canonical(&self) -> &str {
        match self {
            Self::Header(value, _) => value,
            Self::Computed(hex) => hex,
        }
    }

    /// Checks a signed hex hash against the body when the body is at hand.
    pub(crate) fn into_verified(self, payload: Payload<'_>) -> Result<PayloadHash, SigV4Error> {
        match self {
            Self::Computed(hex) => Ok(PayloadHash::Sha256Hex(hex)),
            Self::Header(_, PayloadHash::Sha256Hex(claimed)) => {
                let actual = match payload {
                    Payload::Bytes(body) => Some(Sha256::digest(body).into()),
                    Payload::Sha256(digest) => Some(digest),
                    Payload::Unavailable => None,
                };
                if let Some(actual) = actual {
                    let actual: [u8; 32] = actual;
                    let mut claimed_bytes = [0u8; 32];
                    if hex::decode_to_slice(&claimed, &mut claimed_bytes).is_err()
                        || claimed_bytes != actual
                    {
                        return Err(SigV4Error::ContentSha256Mismatch);
                    }
                }
                Ok(PayloadHash::Sha256Hex(claimed))
            }
            Self::Header(_, other) => Ok(other),
        }
    }
}

fn is_hex_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the request says its payload hash is (`presigned`: the query form).
pub(crate) fn payload_hash<'a>(
    request: &VerifyRequest<'a>,
    presigned: bool,
) -> Result<ClaimedPayload<'a>, SigV4Error> {
    let header = super::verify::header_str(request.headers, "x-amz-content-sha256");
    let s3 = request.uri_mode == UriMode::S3;
    if presigned && s3 {
        // S3 presigned URLs sign UNSIGNED-PAYLOAD unless the URL names a hash.
        return Ok(
            match super::verify::query_param(request.query, "X-Amz-Content-Sha256") {
                Some(value) if is_hex_sha256(value) => ClaimedPayload::Header(
                    value,
                    PayloadHash::Sha256Hex(value.to_ascii_lowercase()),
                ),
                _ => ClaimedPayload::Header("UNSIGNED-PAYLOAD", PayloadHash::Unsigned),
            },
        );
    }
    match header {
        Some(value) => {
            let kind = match value {
                "UNSIGNED-PAYLOAD" => PayloadHash::Unsigned,
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => {
                    PayloadHash::StreamingSigned { trailer: false }
                }
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
                    PayloadHash::StreamingSigned { trailer: true }
                }
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadHash::StreamingUnsignedTrailer,
                hex if is_hex_sha256(hex) => PayloadHash::Sha256Hex(hex.to_ascii_lowercase()),
                _ => return Err(SigV4Error::InvalidContentSha256),
            };
            Ok(ClaimedPayload::Header(value, kind))
        }
        None if s3 && !presigned => Err(SigV4Error::MissingContentSha256),
        None => match request.payload {
            Payload::Bytes([]) => Ok(ClaimedPayload::Computed(EMPTY_SHA256.to_owned())),
            Payload::Bytes(body) => Ok(ClaimedPayload::Computed(hex::encode(Sha256::digest(body)))),
            Payload::Sha256(digest) => Ok(ClaimedPayload::Computed(hex::encode(digest))),
            Payload::Unavailable => Err(SigV4Error::MissingContentSha256),
        },
    }
}
