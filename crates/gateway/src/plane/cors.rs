//! CORS as HTTP APIs and Function URLs apply it: preflights answered by the gateway, the
//! integration's own CORS headers replaced on every other response.

use crate::http_api::model::Cors;

/// A compiled CORS configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorsPolicy {
    allow_origins: Vec<String>,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<i64>,
    allow_credentials: bool,
}

impl From<&Cors> for CorsPolicy {
    fn from(cors: &Cors) -> Self {
        Self {
            allow_origins: cors.allow_origins.clone().unwrap_or_default(),
            allow_methods: cors.allow_methods.clone().unwrap_or_default(),
            allow_headers: cors.allow_headers.clone().unwrap_or_default(),
            expose_headers: cors.expose_headers.clone().unwrap_or_default(),
            max_age: cors.max_age,
            allow_credentials: cors.allow_credentials.unwrap_or(false),
        }
    }
}

impl CorsPolicy {
    /// The `Access-Control-Allow-Origin` value for a request `Origin`, if allowed.
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some(if self.allow_credentials {
                origin.to_owned()
            } else {
                "*".to_owned()
            });
        }
        self.allow_origins
            .iter()
            .find(|o| o.eq_ignore_ascii_case(origin))
            .map(|_| origin.to_owned())
    }

    /// Whether this request is a preflight the gateway answers itself.
    pub fn is_preflight(method: &http::Method, headers: &http::HeaderMap) -> bool {
        method == http::Method::OPTIONS
            && headers.contains_key(http::header::ORIGIN)
            && headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers of the preflight answer (status 204).
    pub fn preflight_headers(&self, headers: &http::HeaderMap) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let origin = headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(allowed) = self.allowed_origin(origin) else {
            return out;
        };
        let requested = headers
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let method_ok = self
            .allow_methods
            .iter()
            .any(|m| m == "*" || m.eq_ignore_ascii_case(requested));
        if !method_ok {
            return out;
        }
        out.push(("access-control-allow-origin".into(), allowed));
        out.push((
            "access-control-allow-methods".into(),
            self.allow_methods.join(","),
        ));
        if !self.allow_headers.is_empty() {
            out.push((
                "access-control-allow-headers".into(),
                self.allow_headers.join(","),
            ));
        }
        if let Some(max_age) = self.max_age {
            out.push(("access-control-max-age".into(), max_age.to_string()));
        }
        if self.allow_credentials {
            out.push(("access-control-allow-credentials".into(), "true".into()));
        }
        out
    }

    /// Replaces the integration's CORS headers with the policy's for an actual request.
    pub fn apply(&self, request: &http::HeaderMap, response: &mut Vec<(String, String)>) {
        response.retain(|(name, _)| !name.to_ascii_lowercase().starts_with("access-control-"));
        let Some(origin) = request
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let Some(allowed) = self.allowed_origin(origin) else {
            return;
        };
        response.push(("access-control-allow-origin".into(), allowed));
        if !self.expose_headers.is_empty() {
            response.push((
                "access-control-expose-headers".into(),
                self.expose_headers.join(","),
            ));
        }
        if self.allow_credentials {
            response.push(("access-control-allow-credentials".into(), "true".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CorsPolicy {
        CorsPolicy::from(&Cors {
            allow_origins: Some(vec!["https://app.example.com".into()]),
            allow_methods: Some(vec!["GET".into(), "POST".into()]),
            allow_headers: Some(vec!["content-type".into()]),
            expose_headers: Some(vec!["x-total".into()]),
            max_age: Some(300),
            allow_credentials: None,
        })
    }

    #[test]
    fn preflight_for_an_allowed_origin_and_method() {
        let mut h = http::HeaderMap::new();
        h.insert("origin", "https://app.example.com".parse().unwrap());
        h.insert("access-control-request-method", "POST".parse().unwrap());
        assert!(CorsPolicy::is_preflight(&http::Method::OPTIONS, &h));
        let out = policy().preflight_headers(&h);
        assert!(out.contains(&(
            "access-control-allow-origin".into(),
            "https://app.example.com".into()
        )));
        assert!(out.contains(&("access-control-max-age".into(), "300".into())));
        h.insert("origin", "https://evil.example.com".parse().unwrap());
        assert!(policy().preflight_headers(&h).is_empty());
    }

    #[test]
    fn integration_cors_headers_are_replaced() {
        let mut h = http::HeaderMap::new();
        h.insert("origin", "https://app.example.com".parse().unwrap());
        let mut response = vec![("Access-Control-Allow-Origin".to_owned(), "*".to_owned())];
        policy().apply(&h, &mut response);
        assert_eq!(
            response[0],
            (
                "access-control-allow-origin".into(),
                "https://app.example.com".into()
            )
        );
        assert_eq!(
            response[1],
            ("access-control-expose-headers".into(), "x-total".into())
        );
    }
}
