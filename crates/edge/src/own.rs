//! Who may use Nubo's own paths besides `/_nubo/health` (open to all, it says only "ok"):
//!
//! - `/_nubo/metrics`: with `--metrics-token` set, only a request carrying
//!   `Authorization: Bearer <token>`; without one, only clients on a loopback address (metrics name
//!   functions and reveal load, so they are not for the network by default).
//! - `/_nubo/code/<sha256>.zip`: only through a URL the server presigned, as GetFunction's
//!   `Code.Location` is on AWS (an S3 URL valid for ten minutes). The signature is SigV4's query
//!   form under a key the server draws at start and never writes anywhere, so a URL dies with the
//!   process at the latest; the sha256 and the `Host` the client used are what it signs.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use nubo_wire::sigv4::{
    presign, verify, Credentials, Payload, SigningRequest, StaticKeys, UriMode, VerifyOptions,
    VerifyRequest,
};
use subtle::ConstantTimeEq;

use crate::EdgeState;

/// Why a request to one of Nubo's own paths is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    status: StatusCode,
    text: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.text).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

const fn refuse(status: StatusCode, text: &'static str) -> Refusal {
    Refusal { status, text }
}

/// How long a presigned code URL lives (AWS: 10 minutes).
pub const CODE_URL_SECONDS: u32 = 600;
const CODE_KEY_ID: &str = "NUBOCODEDOWNLOADKEY0";

/// Signs and checks `Code.Location` URLs.
pub struct CodeUrls {
    credentials: Credentials,
    keys: StaticKeys,
    region: String,
}

impl std::fmt::Debug for CodeUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeUrls").finish_non_exhaustive()
    }
}

impl CodeUrls {
    /// A fresh random key; URLs are scoped to `region`.
    pub fn new(region: &str) -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source is available");
        let secret = hex::encode(secret);
        Self {
            keys: StaticKeys::default().with(CODE_KEY_ID, &secret),
            credentials: Credentials {
                access_key_id: CODE_KEY_ID.into(),
                secret_access_key: secret,
            },
            region: region.to_owned(),
        }
    }

    /// `http://{host}/_nubo/code/{sha}.zip?X-Amz-…`, valid for [`CODE_URL_SECONDS`].
    pub fn location(&self, host: &str, sha256_hex: &str) -> String {
        let path = format!("/_nubo/code/{sha256_hex}.zip");
        let query = presign(
            &SigningRequest {
                method: "GET",
                encoded_path: &path,
                query: &[],
                host,
                body: b"",
            },
            &self.credentials,
            &self.region,
            "s3",
            time::OffsetDateTime::now_utc(),
            CODE_URL_SECONDS,
        );
        format!("http://{host}{path}?{query}")
    }

    /// Whether `req` is a live URL this server presigned; the refusal otherwise.
    pub(crate) fn check(&self, req: &Request, sha256_hex: &str) -> Result<(), Refusal> {
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse(StatusCode::NOT_FOUND, "no such code\n"));
        }
        let request = VerifyRequest {
            method: req.method().as_str(),
            path: req.uri().path(),
            query: req.uri().query().unwrap_or(""),
            headers: req.headers(),
            payload: Payload::Bytes(b""),
            uri_mode: UriMode::Normalized,
        };
        match verify(
            &request,
            &self.keys,
            time::OffsetDateTime::now_utc(),
            &VerifyOptions::default(),
        ) {
            Ok(verified) if verified.presigned => Ok(()),
            Ok(_) => Err(refuse(
                StatusCode::FORBIDDEN,
                "code downloads need the URL GetFunction returns\n",
            )),
            Err(nubo_wire::sigv4::SigV4Error::PresignExpired) => Err(refuse(
                StatusCode::FORBIDDEN,
                "Request has expired: call GetFunction for a new Code.Location\n",
            )),
            Err(_) => Err(refuse(
                StatusCode::FORBIDDEN,
                "code downloads need the URL GetFunction returns\n",
            )),
        }
    }
}

/// Whether `req` may read the metrics.
pub(crate) fn metrics_allowed(state: &EdgeState, req: &Request) -> Result<(), Refusal> {
    match &state.metrics_token {
        Some(token) => {
            let presented = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
                Ok(())
            } else {
                Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "metrics need the token given to --metrics-token\n",
                ))
            }
        }
        None => {
            let loopback = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|c| c.0.ip().is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(refuse(
                    StatusCode::FORBIDDEN,
                    "metrics are served to loopback clients only; set --metrics-token to scrape from elsewhere\n",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn get(url: &str) -> Request {
        let uri: http::Uri = url.parse().unwrap();
        let host = uri.authority().unwrap().to_string();
        Request::builder()
            .uri(uri.path_and_query().unwrap().as_str())
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn only_presigned_code_urls_are_served() {
        let sha = "a".repeat(64);
        let urls = CodeUrls::new("us-east-1");
        let location = urls.location("127.0.0.1:4750", &sha);
        assert!(location.starts_with(&format!(
            "http://127.0.0.1:4750/_nubo/code/{sha}.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
        )));
        assert!(urls.check(&get(&location), &sha).is_ok());
        let bare = format!("http://127.0.0.1:4750/_nubo/code/{sha}.zip");
        assert!(urls.check(&get(&bare), &sha).is_err());
        // Another server's URL, or another sha under this one's signature.
        let other = CodeUrls::new("us-east-1").location("127.0.0.1:4750", &sha);
        assert!(urls.check(&get(&other), &sha).is_err());
        let swapped = location.replace(&sha, &"b".repeat(64));
        assert!(urls.check(&get(&swapped), &"b".repeat(64)).is_err());
    }
}
