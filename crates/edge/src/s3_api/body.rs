//! A PutObject/UploadPart body as the object layer reads it: piece by piece off the connection,
//! aws-chunked framing removed (chunk signatures checked before any byte is handed on), and every
//! check S3 makes of a body — the signed `x-amz-content-sha256`, `x-amz-decoded-content-length`, a
//! `x-amz-checksum-*` header or trailer — made by the end, so a failed check stores nothing.

use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use nubo_objects::{BodySource, ObjectError};
use nubo_wire::sigv4::{AuthFamily, AwsChunkedDecoder, ChunkMode, PayloadHash};
use nubo_wire::AwsError;
use sha2::{Digest, Sha256};

use super::errors::S3Errors;
use crate::auth::StreamedPayload;

/// A checksum algorithm S3 accepts, with its running state.
pub(crate) enum Checksum {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Checksum {
    /// The algorithm a `x-amz-checksum-<name>` header or trailer names.
    pub(crate) fn named(header: &str) -> Option<Self> {
        Some(match header.strip_prefix("x-amz-checksum-")? {
            "crc32" => Self::Crc32(crc32fast::Hasher::new()),
            "crc32c" => Self::Crc32c(0),
            "sha1" => Self::Sha1(sha1::Sha1::new()),
            "sha256" => Self::Sha256(Sha256::new()),
            _ => return None,
        })
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Crc32(_) => "CRC32",
            Self::Crc32c(_) => "CRC32C",
            Self::Sha1(_) => "SHA1",
            Self::Sha256(_) => "SHA256",
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(v) => *v = crc32c::crc32c_append(*v, data),
            Self::Sha1(h) => sha1::Digest::update(h, data),
            Self::Sha256(h) => h.update(data),
        }
    }

    /// The base64 value, as the header carries it.
    pub(crate) fn finish(self) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Self::Crc32(h) => b64(&h.finalize().to_be_bytes()),
            Self::Crc32c(v) => b64(&v.to_be_bytes()),
            Self::Sha1(h) => b64(&sha1::Digest::finalize(h)),
            Self::Sha256(h) => b64(&h.finalize()),
        }
    }
}

/// The checksum a request asks for: the algorithm, and the header (or trailer) carrying the value.
fn requested_checksum(headers: &HeaderMap) -> Option<(Checksum, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(trailer) = header("x-amz-trailer") {
        let name = trailer.trim().to_ascii_lowercase();
        return Checksum::named(&name).map(|c| (c, name));
    }
    headers.keys().find_map(|name| {
        let name = name.as_str();
        Checksum::named(name).map(|c| (c, name.to_owned()))
    })
}

/// How long a body may pause between pieces.
const IDLE: Duration = Duration::from_secs(20);

/// The request body of an upload.
pub(crate) struct RequestBody {
    body: Body,
    decoder: Option<AwsChunkedDecoder>,
    sha256: Option<(Sha256, String)>,
    checksum: Option<(Checksum, String)>,
    headers: HeaderMap,
    decoded_length: Option<u64>,
    received: u64,
    done: bool,
}

fn body_error(err: AwsError) -> ObjectError {
    ObjectError::Body(err)
}

impl RequestBody {
    /// The body of a request the guard admitted with a streamed payload.
    pub(crate) fn new(
        body: Body,
        headers: &HeaderMap,
        payload: Option<StreamedPayload>,
    ) -> Result<Self, AwsError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let decoded_length = header("x-amz-decoded-content-length")
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    S3Errors::invalid_argument("x-amz-decoded-content-length is not a number")
                })
            })
            .transpose()?;
        let (decoder, sha256) = match payload {
            Some(StreamedPayload {
                hash: PayloadHash::StreamingSigned { trailer },
                chain: Some(chain),
            }) => (
                Some(AwsChunkedDecoder::new(ChunkMode::Signed {
                    chain: Box::new(chain),
                    trailer,
                })),
                None,
            ),
            Some(StreamedPayload {
                hash: PayloadHash::StreamingUnsignedTrailer,
                ..
            }) => (
                Some(AwsChunkedDecoder::new(ChunkMode::UnsignedTrailer)),
                None,
            ),
            Some(StreamedPayload {
                hash: PayloadHash::Sha256Hex(hex),
                ..
            }) => (None, Some((Sha256::new(), hex))),
            _ => (None, None),
        };
        if decoder.is_some() && decoded_length.is_none() {
            return Err(S3Errors::missing_content_length(
                "You must provide the Content-Length HTTP header.",
            ));
        }
        Ok(Self {
            body,
            decoder,
            sha256,
            checksum: requested_checksum(headers),
            headers: headers.clone(),
            decoded_length,
            received: 0,
            done: false,
        })
    }

    /// Every check at the end of the body.
    fn finish(&mut self) -> Result<(), AwsError> {
        let mut trailers = Vec::new();
        if let Some(decoder) = self.decoder.take() {
            let (found, length) = decoder
                .finish()
                .map_err(|e| e.to_aws_error(AuthFamily::S3))?;
            trailers = found;
            if self
                .decoded_length
                .is_some_and(|declared| declared != length)
            {
                return Err(S3Errors::incomplete_body(
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                ));
            }
        }
        if let Some((hasher, claimed)) = self.sha256.take() {
            let actual = hex::encode(hasher.finalize());
            if actual != claimed {
                return Err(S3Errors::content_sha256_mismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
                .with_extra("ClientComputedContentSHA256", claimed)
                .with_extra("S3ComputedContentSHA256", actual));
            }
        }
        if let Some((checksum, header)) = self.checksum.take() {
            let expected = trailers
                .iter()
                .find(|(name, _)| *name == header)
                .map(|(_, value)| value.clone())
                .or_else(|| {
                    self.headers
                        .get(header.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                });
            let name = checksum.name();
            let actual = checksum.finish();
            match expected {
                Some(expected) if expected.trim() == actual => {}
                Some(_) => {
                    return Err(S3Errors::bad_checksum(format!(
                        "The {name} you specified did not match the calculated checksum."
                    )))
                }
                None => {
                    return Err(S3Errors::invalid_request(format!(
                        "x-amz-checksum-{} trailer or header is missing",
                        name.to_ascii_lowercase()
                    )))
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl BodySource for RequestBody {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ObjectError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let frame = match tokio::time::timeout(IDLE, self.body.frame()).await {
                Err(_) => {
                    return Err(body_error(AwsError::new(
                        "RequestTimeout",
                        http::StatusCode::BAD_REQUEST,
                        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
                    )))
                }
                Ok(None) => {
                    self.done = true;
                    self.finish().map_err(body_error)?;
                    return Ok(None);
                }
                Ok(Some(Err(e))) => {
                    return Err(body_error(S3Errors::incomplete_body(format!(
                        "The request body terminated unexpectedly: {e}"
                    ))))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let data = match &mut self.decoder {
                Some(decoder) => {
                    let mut out = Vec::new();
                    decoder
                        .feed(&data, &mut out)
                        .map_err(|e| body_error(e.to_aws_error(AuthFamily::S3)))?;
                    if out.is_empty() {
                        continue;
                    }
                    Bytes::from(out)
                }
                None => data,
            };
            if let Some((hasher, _)) = &mut self.sha256 {
                hasher.update(&data);
            }
            if let Some((checksum, _)) = &mut self.checksum {
                checksum.update(&data);
            }
            self.received += data.len() as u64;
            return Ok(Some(data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(header: &str, data: &[u8]) -> String {
        let mut checksum = Checksum::named(header).unwrap();
        checksum.update(data);
        checksum.finish()
    }

    #[test]
    fn checksums_match_the_sdks_values() {
        // Values the AWS SDKs compute for "hello world".
        assert_eq!(value("x-amz-checksum-crc32", b"hello world"), "DUoRhQ==");
        assert_eq!(value("x-amz-checksum-crc32c", b"hello world"), "yZRlqg==");
        assert_eq!(
            value("x-amz-checksum-sha1", b"hello world"),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            value("x-amz-checksum-sha256", b"hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert!(Checksum::named("x-amz-checksum-crc64nvme").is_none());
        assert!(Checksum::named("content-md5").is_none());
    }

    #[tokio::test]
    async fn a_wrong_payload_hash_fails_at_the_end() {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", "5".parse().unwrap());
        let payload = StreamedPayload {
            hash: PayloadHash::Sha256Hex(hex::encode(Sha256::digest(b"other"))),
            chain: None,
        };
        let mut body = RequestBody::new(Body::from("hello"), &headers, Some(payload)).unwrap();
        assert_eq!(body.next_chunk().await.unwrap().unwrap(), "hello");
        let Err(ObjectError::Body(err)) = body.next_chunk().await else {
            panic!("the mismatch must fail the end of the body");
        };
        assert_eq!(err.code, "XAmzContentSHA256Mismatch");
    }
}
