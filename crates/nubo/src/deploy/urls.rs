//! URLs that work as printed: Nubo's API and Function URL hosts (`{id}.execute-api.localhost`)
//! need a resolver that knows `*.localhost`, which python's urllib and node's fetch on a stock
//! Linux do not; and AWS-style outputs (`https://{id}.execute-api.{region}.amazonaws.com/Prod/`)
//! name no Nubo at all. Both become the path-style form on the endpoint the CLI talks to
//! (`{endpoint}/_api/{id}/…`, `{endpoint}/_url/{id}/…`), which the edge routes without any Host.

/// An API's base URL.
pub(crate) fn api_url(endpoint: &str, id: &str) -> String {
    format!("{}/_api/{id}", endpoint.trim_end_matches('/'))
}

/// A Function URL as Nubo returns it (`http://{id}.lambda-url.{region}.localhost:4750/`) →
/// `{endpoint}/_url/{id}/`.
pub(crate) fn function_url(endpoint: &str, raw: &str) -> String {
    rewrite(endpoint, raw)
}

/// Rewrites every `execute-api` / `lambda-url` host URL inside `text`.
pub(crate) fn rewrite(endpoint: &str, text: &str) -> String {
    let endpoint = endpoint.trim_end_matches('/');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let start = rest[..scheme]
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map(|i| i + 1)
            .unwrap_or(0);
        let host_start = scheme + 3;
        let host_end = rest[host_start..]
            .find(['/', '"', ' ', '?'])
            .map(|i| host_start + i)
            .unwrap_or(rest.len());
        let host = &rest[host_start..host_end];
        let label = host.split('.').next().unwrap_or("");
        let prefix = if host.contains(".execute-api.") {
            Some("_api")
        } else if host.contains(".lambda-url.") {
            Some("_url")
        } else {
            None
        };
        match prefix {
            Some(p) if !label.is_empty() => {
                out.push_str(&rest[..start]);
                out.push_str(&format!("{endpoint}/{p}/{label}"));
                let tail = &rest[host_end..];
                if p == "_url" && !tail.starts_with('/') {
                    out.push('/');
                }
            }
            _ => out.push_str(&rest[..host_end]),
        }
        rest = &rest[host_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms_become_path_forms() {
        let e = "http://127.0.0.1:4750";
        assert_eq!(
            rewrite(
                e,
                "https://abc123.execute-api.us-east-1.amazonaws.com/Prod/hello/"
            ),
            "http://127.0.0.1:4750/_api/abc123/Prod/hello/"
        );
        assert_eq!(
            rewrite(e, "http://abc.execute-api.us-east-1.localhost:4750"),
            "http://127.0.0.1:4750/_api/abc"
        );
        assert_eq!(
            function_url(e, "http://u1.lambda-url.us-east-1.localhost:4750/"),
            "http://127.0.0.1:4750/_url/u1/"
        );
        assert_eq!(
            rewrite(e, "see http://x.lambda-url.r.localhost:1"),
            "see http://127.0.0.1:4750/_url/x/"
        );
        assert_eq!(
            rewrite(e, "http://127.0.0.1:4750/000000000000/q"),
            "http://127.0.0.1:4750/000000000000/q"
        );
        assert_eq!(rewrite(e, "plain"), "plain");
    }
}
