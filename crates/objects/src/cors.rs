//! Which CORS rule of a bucket answers a browser's request: the first whose origins, methods and
//! (for a preflight) requested headers all match, as S3 evaluates them. Origins and headers may
//! carry one `*` wildcard; header names compare case-insensitively.

use crate::records::CorsRule;

fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.starts_with(prefix)
                && value.ends_with(suffix)
        }
    }
}

impl CorsRule {
    /// Whether this rule allows `origin` to use `method` with `headers` (requested headers of a
    /// preflight; none for an actual request).
    pub fn allows(&self, origin: &str, method: &str, headers: &[&str]) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| wildcard(o, origin, false))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.allowed_headers
                    .iter()
                    .any(|allowed| wildcard(allowed, h.trim(), true))
            })
    }

    /// Whether the rule allows every origin (then S3 answers `*`, not the origin).
    pub fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// The first rule that allows the request.
pub fn matching<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[&str],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| r.allows(origin, method, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn origins_methods_and_headers() {
        let rules = [
            rule(
                &["https://*.example.com"],
                &["GET", "PUT"],
                &["x-amz-*", "Content-Type"],
            ),
            rule(&["*"], &["GET"], &[]),
        ];
        let first = matching(
            &rules,
            "https://app.example.com",
            "PUT",
            &["content-type", "X-Amz-Date"],
        );
        assert!(first.is_some_and(|r| !r.any_origin()));
        assert!(matching(&rules, "https://evil.com", "PUT", &[]).is_none());
        assert!(matching(&rules, "https://evil.com", "GET", &[]).is_some_and(CorsRule::any_origin));
        assert!(matching(&rules, "https://app.example.com", "PUT", &["authorization"]).is_none());
        assert!(matching(&rules, "https://app.example.com", "DELETE", &[]).is_none());
    }
}
