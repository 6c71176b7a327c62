//! Naming a rest service's operation from its method and path, as botocore's `http.method` and
//! `http.requestUri` define it (`POST /2015-03-31/functions/{FunctionName}/invocations` → `Invoke`),
//! and reading the path's labels (percent-decoded) for the authorization table.

use http::Method;
use percent_encoding::percent_decode_str;

/// The body limit of an operation whose body the guard does not read: it streams to the handler
/// (S3's uploads), verified against the signature as it arrives.
pub(crate) const STREAMED: usize = usize::MAX;

/// One operation of a rest service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestOperation {
    /// The HTTP method.
    pub(crate) method: &'static str,
    /// The request URI template; `{Label}` is one path segment.
    pub(crate) template: &'static str,
    /// botocore's operation name.
    pub(crate) operation: &'static str,
    /// The largest body the operation accepts, read (and hashed) before verification.
    pub(crate) body_limit: usize,
}

/// An operation with its path labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matched {
    /// botocore's operation name.
    pub(crate) operation: &'static str,
    /// `(label, decoded value)` in template order.
    pub(crate) labels: Vec<(&'static str, String)>,
    /// The largest body it accepts.
    pub(crate) body_limit: usize,
}

/// The operation `method` + `path` names in `table`, if any. A trailing `/` is not significant
/// (Lambda's own clients send `/2015-03-31/functions/`).
pub(crate) fn find(table: &[RestOperation], method: &Method, path: &str) -> Option<Matched> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    table
        .iter()
        .filter(|op| op.method == method.as_str())
        .find_map(|op| {
            let labels = match_template(op.template, path)?;
            Some(Matched {
                operation: op.operation,
                labels,
                body_limit: op.body_limit,
            })
        })
}

fn match_template(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut labels = Vec::new();
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(labels),
            (Some(want), Some(got)) => {
                if let Some(label) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if got.is_empty() {
                        return None;
                    }
                    labels.push((
                        label,
                        percent_decode_str(got).decode_utf8_lossy().into_owned(),
                    ));
                } else if want != got {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[RestOperation] = &[
        RestOperation {
            method: "GET",
            template: "/2015-03-31/functions",
            operation: "ListFunctions",
            body_limit: 0,
        },
        RestOperation {
            method: "POST",
            template: "/2015-03-31/functions/{FunctionName}/invocations",
            operation: "Invoke",
            body_limit: 6,
        },
    ];

    #[test]
    fn names_operations_and_decodes_labels() {
        let found = find(
            TABLE,
            &Method::POST,
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations",
        )
        .unwrap();
        assert_eq!(found.operation, "Invoke");
        assert_eq!(
            found.labels,
            [(
                "FunctionName",
                "arn:aws:lambda:us-east-1:000000000000:function:f".to_owned()
            )]
        );
        assert_eq!(
            find(TABLE, &Method::GET, "/2015-03-31/functions/")
                .unwrap()
                .operation,
            "ListFunctions"
        );
        assert!(find(TABLE, &Method::GET, "/2015-03-31/functions/f/invocations").is_none());
        assert!(find(TABLE, &Method::POST, "/2015-03-31/functions//invocations").is_none());
        assert!(find(
            TABLE,
            &Method::POST,
            "/2015-03-31/functions/f/invocations/x"
        )
        .is_none());
    }
}
