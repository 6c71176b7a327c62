//! A small SigV4-signing HTTP client for the CLI and the benchmarks: both are clients of the same
//! API boto3 uses.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::path::PathBuf;

use nubo_wire::sigv4::{sign_with_token, Credentials, SigningRequest};

/// Where `nubo serve` listens unless told otherwise, and so where clients look first.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4750";
/// The region `nubo serve` acts in unless told otherwise (`--region`, `NUBO_REGION`), and so the
/// one clients sign for: resources live in the region a request is signed for.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A response, read whole.
pub struct Reply {
    /// HTTP status.
    pub status: http::StatusCode,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// A client of one Nubo endpoint, signing with one set of credentials.
pub struct Client {
    base: String,
    region: String,
    credentials: Credentials,
    session_token: Option<String>,
    http: HyperClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// `--endpoint`, else `NUBO_ENDPOINT`, else `AWS_ENDPOINT_URL`, else `NUBO_LISTEN`, else the default.
pub fn resolve_endpoint(flag: Option<String>, env: impl Fn(&str) -> Option<String>) -> String {
    let raw = flag
        .or_else(|| env("NUBO_ENDPOINT"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| env("NUBO_LISTEN"))
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let url = if raw.contains("://") {
        raw
    } else {
        format!("http://{raw}")
    };
    url.trim_end_matches('/').to_owned()
}

/// Where a client command's credentials come from: `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) when set, else the administrator's key
/// `nubo serve` wrote to `<data dir>/credentials` (`--data-dir`, else `NUBO_DATA_DIR`, else
/// `./.nubo`).
pub fn resolve_credentials(
    data_dir: Option<PathBuf>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Credentials, Option<String>)> {
    if let (Some(access_key_id), Some(secret_access_key)) =
        (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        let credentials = Credentials {
            access_key_id,
            secret_access_key,
        };
        return Ok((credentials, env("AWS_SESSION_TOKEN")));
    }
    let dir = data_dir
        .or_else(|| env("NUBO_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./.nubo"));
    let file = crate::credentials::credentials_file(&dir);
    match crate::credentials::read_profile(&file, crate::credentials::PROFILE) {
        Some(credentials) => Ok((credentials, None)),
        None => anyhow::bail!(
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point --data-dir \
             (NUBO_DATA_DIR) at the server's data dir, whose {} holds the administrator's key",
            file.display()
        ),
    }
}

/// The nearest `.nubo` folder holding credentials, from the current directory up.
fn find_data_dir() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|d| d.join(".nubo"))
        .find(|d| crate::credentials::credentials_file(d).is_file())
}

/// The `endpoint_url` `nubo serve` wrote to the data dir's config (the port it listens on).
fn configured_endpoint(data_dir: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(crate::credentials::config_file(data_dir)).ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "endpoint_url")
        .map(|(_, v)| v.trim().to_owned())
}

impl Client {
    /// A client of `base` signing as `credentials` in `region`.
    pub fn new(
        base: &str,
        region: &str,
        credentials: Credentials,
        session_token: Option<String>,
    ) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            region: region.to_owned(),
            credentials,
            session_token,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The same client, signing for `region` (the scope its requests act in).
    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// A client as the CLI builds one: endpoint, region and credentials from flags and the
    /// environment (see [`resolve_endpoint`] and [`resolve_credentials`]).
    pub fn from_env(endpoint: Option<String>, data_dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // Like git: a project folder below the one `nubo serve` runs in finds its data dir.
        let data_dir = data_dir
            .or_else(|| env("NUBO_DATA_DIR").map(PathBuf::from))
            .or_else(find_data_dir);
        let endpoint = endpoint.or_else(|| {
            let unset = ["NUBO_ENDPOINT", "AWS_ENDPOINT_URL", "NUBO_LISTEN"]
                .iter()
                .all(|k| env(k).is_none());
            data_dir
                .as_deref()
                .filter(|_| unset)
                .and_then(configured_endpoint)
        });
        let (credentials, token) = resolve_credentials(data_dir, env)?;
        // The server's default scope (its `--region` reads the same variable), not the AWS
        // SDKs' region: the CLI acts where `nubo serve` puts functions unless told otherwise.
        let region = env("NUBO_REGION").unwrap_or_else(|| DEFAULT_REGION.into());
        Ok(Self::new(
            &resolve_endpoint(endpoint, env),
            &region,
            credentials,
            token,
        ))
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a query-protocol call (IAM, STS) as a signed form `POST`.
    pub async fn query(
        &self,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut body = format!("Action={action}&Version={version}");
        for (name, value) in params {
            body.push('&');
            body.push_str(&nubo_wire::sigv4::uri_encode(name));
            body.push('=');
            body.push_str(&nubo_wire::sigv4::uri_encode(value));
        }
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
        )];
        self.send(
            service,
            http::Method::POST,
            "/",
            &[],
            &headers,
            body.into_bytes(),
        )
        .await
    }

    /// Sends a signed request to `service`; `path` is already URI-encoded.
    pub async fn send(
        &self,
        service: &str,
        method: http::Method,
        path: &str,
        query: &[(String, String)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let uri: http::Uri = self.base.parse()?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| anyhow::anyhow!("endpoint {} has no host", self.base))?;
        let query_string = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    nubo_wire::sigv4::uri_encode(k),
                    nubo_wire::sigv4::uri_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let url = if query_string.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query_string}", self.base)
        };
        let signed = sign_with_token(
            &SigningRequest {
                method: method.as_str(),
                encoded_path: path,
                query,
                host: &host,
                body: &body,
            },
            &self.credentials,
            self.session_token.as_deref(),
            &self.region,
            service,
            time::OffsetDateTime::now_utc(),
        );
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::HOST, &host);
        for (name, value) in signed
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .chain(headers.iter().map(|(n, v)| (*n, v.as_str())))
        {
            request = request.header(name, value);
        }
        self.execute(request.body(Full::new(Bytes::from(body)))?)
            .await
    }

    /// An unsigned `GET` of one of Nubo's own paths (`/_nubo/…`).
    pub async fn get_unsigned(&self, path: &str) -> anyhow::Result<Reply> {
        let request = http::Request::builder()
            .uri(format!("{}{path}", self.base))
            .body(Full::new(Bytes::new()))?;
        self.execute(request).await
    }

    async fn execute(&self, request: http::Request<Full<Bytes>>) -> anyhow::Result<Reply> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Nubo at {}: {e}", self.base))?;
        let (parts, body) = response.into_parts();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_precedence() {
        let none = |_: &str| None;
        assert_eq!(resolve_endpoint(None, none), "http://127.0.0.1:4750");
        assert_eq!(
            resolve_endpoint(Some("http://h:1/".into()), none),
            "http://h:1"
        );
        let env = |k: &str| match k {
            "AWS_ENDPOINT_URL" => Some("http://aws:2".to_owned()),
            "NUBO_LISTEN" => Some("0.0.0.0:3".to_owned()),
            _ => None,
        };
        assert_eq!(resolve_endpoint(None, env), "http://aws:2");
        let listen_only = |k: &str| (k == "NUBO_LISTEN").then(|| "127.0.0.1:9".to_owned());
        assert_eq!(resolve_endpoint(None, listen_only), "http://127.0.0.1:9");
        let nubo = |k: &str| {
            (k == "NUBO_ENDPOINT" || k == "AWS_ENDPOINT_URL").then(|| format!("http://{k}"))
        };
        assert_eq!(resolve_endpoint(None, nubo), "http://NUBO_ENDPOINT");
    }

    #[test]
    fn credentials_from_the_environment_then_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let keys = |k: &str| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIAENV".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("env-secret".to_owned()),
            "AWS_SESSION_TOKEN" => Some("token".to_owned()),
            _ => None,
        };
        let (credentials, token) = resolve_credentials(None, keys).unwrap();
        assert_eq!(credentials.access_key_id, "AKIAENV");
        assert_eq!(token.as_deref(), Some("token"));

        let none = |_: &str| None;
        assert!(resolve_credentials(Some(dir.path().to_owned()), none).is_err());
        crate::credentials::write_credentials(
            dir.path(),
            "admin",
            &Credentials {
                access_key_id: "AKIAFILE".into(),
                secret_access_key: "file-secret".into(),
            },
        )
        .unwrap();
        let (credentials, token) = resolve_credentials(Some(dir.path().to_owned()), none).unwrap();
        assert_eq!(
            (credentials.access_key_id.as_str(), token),
            ("AKIAFILE", None)
        );
        let data_dir_env =
            |k: &str| (k == "NUBO_DATA_DIR").then(|| dir.path().display().to_string());
        assert!(resolve_credentials(None, data_dir_env).is_ok());
    }
}
