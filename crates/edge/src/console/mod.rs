//! The web console at `/_nubo/console`: static HTML and JavaScript embedded in the binary (no
//! build step), served unsigned. It holds no server-side session: the page signs every request
//! in the browser (SigV4, `assets/aws.js`) with the access key the user signs in with, and calls
//! the same public APIs as the CLI and the SDKs (Lambda, API Gateway v2, CloudWatch Logs and
//! metrics, SQS, S3, IAM, STS), so the identity layer authorizes the console's user exactly as it
//! would their SDK. Usage comes from `/_nubo/usage` (loopback or the metrics token). Charts use
//! uPlot (MIT, `assets/uPlot.*`, vendored as released).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// The console's files: (path under `/_nubo/console/`, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "aws.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/aws.js"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_str!("assets/uPlot.min.css"),
    ),
];

/// Scripts and styles from this origin only; the page's own `<style>` block is inline.
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/// `GET /_nubo/console[/…]`: `rest` is what follows `console`.
pub(crate) fn serve(rest: &str) -> Response {
    if rest.is_empty() {
        // Relative asset paths resolve under the directory form.
        return redirect("/_nubo/console/");
    }
    let file = rest.trim_start_matches('/');
    let Some((_, content_type, content)) = ASSETS.iter().find(|(path, _, _)| *path == file) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut response = Response::new(Body::from(*content));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether an unsigned `GET /` is a browser asking for a page (it is sent to the console).
pub(crate) fn wants_console(req: &axum::extract::Request) -> bool {
    req.method() == http::Method::GET
        && req.uri().path() == "/"
        && req.uri().query().is_none()
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

pub(crate) fn redirect(to: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_page_and_its_assets() {
        assert_eq!(serve("").status(), StatusCode::FOUND);
        let page = serve("/");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        for asset in ["/app.js", "/aws.js", "/uPlot.iife.min.js", "/uPlot.min.css"] {
            assert_eq!(serve(asset).status(), StatusCode::OK, "{asset}");
        }
        assert_eq!(serve("/nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(serve("/../Cargo.toml").status(), StatusCode::NOT_FOUND);
    }
}
