//! The Lambda proxy events a function receives: payload format 1.0 and 2.0 (`apigw-events.md`).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// What the gateway knows about the request when it builds an event.
#[derive(Debug, Clone)]
pub struct RequestFacts<'a> {
    /// Method.
    pub method: &'a http::Method,
    /// The path as the API saw it (with a named stage's prefix).
    pub raw_path: &'a str,
    /// Query string without `?`, as sent.
    pub raw_query: &'a str,
    /// Headers.
    pub headers: &'a http::HeaderMap,
    /// Body.
    pub body: &'a [u8],
    /// TCP peer address.
    pub source_ip: &'a str,
    /// `Host` as sent.
    pub domain_name: &'a str,
    /// The request id minted at ingress.
    pub request_id: &'a str,
    /// When the request arrived.
    pub received: OffsetDateTime,
}

/// What the route match contributed.
#[derive(Debug, Clone)]
pub struct RouteFacts<'a> {
    /// The API (or Function URL) id.
    pub api_id: &'a str,
    /// Account id.
    pub account_id: &'a str,
    /// Stage name (`$default`).
    pub stage: &'a str,
    /// Route key (`GET /items/{id}`, `$default`).
    pub route_key: &'a str,
    /// Route id.
    pub route_id: &'a str,
    /// The route's path template (`/items/{id}`), or `$default`.
    pub resource: &'a str,
    /// The path without the stage prefix.
    pub path: &'a str,
    /// Path parameters.
    pub path_parameters: &'a [(String, String)],
    /// Stage variables.
    pub stage_variables: &'a BTreeMap<String, String>,
}

/// `dd/Mon/yyyy:HH:mm:ss +0000`, as `requestContext.time`.
pub fn clf_time(at: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        at.day(),
        MONTHS[at.month() as usize - 1],
        at.year(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Whether a body of this content type travels as text (else base64).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || matches!(
            ct.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | ""
        )
}

/// The body as the event carries it: `(body, isBase64Encoded)`; `None` when empty.
fn event_body(facts: &RequestFacts<'_>) -> (Option<String>, bool) {
    if facts.body.is_empty() {
        return (None, false);
    }
    let content_type = facts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if is_text(content_type) {
        if let Ok(text) = std::str::from_utf8(facts.body) {
            return (Some(text.to_owned()), false);
        }
    }
    (
        Some(base64::engine::general_purpose::STANDARD.encode(facts.body)),
        true,
    )
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Query pairs, decoded, in order.
fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// Every value of a header, as text (bytes that are not UTF-8 replaced).
fn header_values(headers: &http::HeaderMap, name: &http::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn header_str(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn domain_prefix(domain: &str) -> &str {
    domain.split('.').next().unwrap_or(domain)
}

/// The `X-Forwarded-*` headers the gateway adds, as AWS's does: the caller's address appended
/// to any `X-Forwarded-For` it sent, and the port and protocol it reached the gateway on (kept
/// when a proxy in front of Nubo already set them).
fn forwarded_headers(facts: &RequestFacts<'_>) -> [(&'static str, String, bool); 3] {
    let forwarded_for = match facts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {}", facts.source_ip),
        None => facts.source_ip.to_owned(),
    };
    let port = facts
        .domain_name
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("80");
    [
        ("x-forwarded-for", forwarded_for, true),
        ("x-forwarded-port", port.to_owned(), false),
        ("x-forwarded-proto", "http".to_owned(), false),
    ]
}

/// The payload format 2.0 event.
pub fn event_v2(facts: &RequestFacts<'_>, route: &RouteFacts<'_>) -> Value {
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route.route_key));
    event.insert("rawPath".into(), json!(facts.raw_path));
    event.insert("rawQueryString".into(), json!(facts.raw_query));

    let mut cookies = Vec::new();
    let mut headers: Map<String, Value> = Map::new();
    for name in facts.headers.keys() {
        let values = header_values(facts.headers, name);
        if name == http::header::COOKIE {
            for value in &values {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        headers.insert(name.as_str().to_owned(), json!(values.join(",")));
    }
    for (name, value, replace) in forwarded_headers(facts) {
        if replace || !headers.contains_key(name) {
            headers.insert(name.to_owned(), json!(value));
        }
    }
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));

    let pairs = query_pairs(facts.raw_query);
    if !pairs.is_empty() {
        let mut query: Map<String, Value> = Map::new();
        for (k, v) in pairs {
            match query.get_mut(&k) {
                Some(Value::String(existing)) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                _ => {
                    query.insert(k, Value::String(v));
                }
            }
        }
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    if !route.path_parameters.is_empty() {
        let params: Map<String, Value> = route
            .path_parameters
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        event.insert("pathParameters".into(), Value::Object(params));
    }
    if !route.stage_variables.is_empty() {
        event.insert("stageVariables".into(), json!(route.stage_variables));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": route.account_id,
            "apiId": route.api_id,
            "domainName": facts.domain_name,
            "domainPrefix": domain_prefix(facts.domain_name),
            "http": {
                "method": facts.method.as_str(),
                "path": facts.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": facts.source_ip,
                "userAgent": header_str(facts.headers, "user-agent").unwrap_or_default(),
            },
            "requestId": facts.request_id,
            "routeKey": route.route_key,
            "stage": route.stage,
            "time": clf_time(facts.received),
            "timeEpoch": epoch_ms(facts.received),
        }),
    );
    let (body, base64) = event_body(facts);
    if let Some(body) = body {
        event.insert("body".into(), json!(body));
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

/// The payload format 1.0 event.
pub fn event_v1(facts: &RequestFacts<'_>, route: &RouteFacts<'_>) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for name in facts.headers.keys() {
        let values = header_values(facts.headers, name);
        if let Some(last) = values.last() {
            headers.insert(name.as_str().to_owned(), json!(last));
        }
        multi_headers.insert(name.as_str().to_owned(), json!(values));
    }
    for (name, value, replace) in forwarded_headers(facts) {
        if replace || !headers.contains_key(name) {
            headers.insert(name.to_owned(), json!(value));
            multi_headers.insert(name.to_owned(), json!([value]));
        }
    }
    let pairs = query_pairs(facts.raw_query);
    let (query, multi_query) = if pairs.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single: Map<String, Value> = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (k, v) in pairs {
            single.insert(k.clone(), json!(v));
            match multi.get_mut(&k) {
                Some(Value::Array(values)) => values.push(json!(v)),
                _ => {
                    multi.insert(k, json!([v]));
                }
            }
        }
        (Value::Object(single), Value::Object(multi))
    };
    let path_parameters = if route.path_parameters.is_empty() {
        Value::Null
    } else {
        Value::Object(
            route
                .path_parameters
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect(),
        )
    };
    let stage_variables = if route.stage_variables.is_empty() {
        Value::Null
    } else {
        json!(route.stage_variables)
    };
    let (body, base64) = event_body(facts);
    let user_agent = header_str(facts.headers, "user-agent");
    json!({
        "version": "1.0",
        "resource": route.resource,
        "path": route.path,
        "httpMethod": facts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": stage_variables,
        "requestContext": {
            "accountId": route.account_id,
            "apiId": route.api_id,
            "domainName": facts.domain_name,
            "domainPrefix": domain_prefix(facts.domain_name),
            "extendedRequestId": facts.request_id,
            "httpMethod": facts.method.as_str(),
            "identity": {
                "accessKey": null, "accountId": null, "caller": null,
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null, "principalOrgId": null,
                "sourceIp": facts.source_ip, "user": null, "userAgent": user_agent, "userArn": null,
            },
            "path": facts.raw_path,
            "protocol": "HTTP/1.1",
            "requestId": facts.request_id,
            "requestTime": clf_time(facts.received),
            "requestTimeEpoch": epoch_ms(facts.received),
            // HTTP APIs name the route by its key here (`ANY /{proxy+}`), not by its id.
            "resourceId": route.route_key,
            "resourcePath": route.resource,
            "stage": route.stage,
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> RequestFacts<'a> {
        RequestFacts {
            method: &http::Method::POST,
            raw_path: "/prod/items/42",
            raw_query: "tag=a&tag=b&q=x%20y",
            headers,
            body,
            source_ip: "127.0.0.1",
            domain_name: "abc.execute-api.localhost:4750",
            request_id: "rid",
            received: OffsetDateTime::from_unix_timestamp(1_583_348_638).unwrap(),
        }
    }

    fn route<'a>(
        params: &'a [(String, String)],
        vars: &'a BTreeMap<String, String>,
    ) -> RouteFacts<'a> {
        RouteFacts {
            api_id: "abc",
            account_id: "000000000000",
            stage: "prod",
            route_key: "POST /items/{id}",
            route_id: "r1",
            resource: "/items/{id}",
            path: "/items/42",
            path_parameters: params,
            stage_variables: vars,
        }
    }

    #[test]
    fn v2_joins_headers_splits_cookies_and_omits_empty_members() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-custom", "one".parse().unwrap());
        headers.append("x-custom", "two".parse().unwrap());
        headers.append("cookie", "a=1; b=2".parse().unwrap());
        let params = vec![("id".to_owned(), "42".to_owned())];
        let vars = BTreeMap::new();
        let event = event_v2(&facts(&headers, b""), &route(&params, &vars));
        assert_eq!(event["headers"]["x-custom"], "one,two");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["queryStringParameters"],
            json!({"tag": "a,b", "q": "x y"})
        );
        assert_eq!(event["pathParameters"], json!({"id": "42"}));
        assert!(event.get("stageVariables").is_none());
        assert!(event.get("body").is_none());
        assert_eq!(
            event["requestContext"]["time"],
            "04/Mar/2020:19:03:58 +0000"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_583_348_638_000i64);
        assert_eq!(event["requestContext"]["domainPrefix"], "abc");
    }

    #[test]
    fn v1_has_nulls_multi_values_and_binary_bodies_in_base64() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/octet-stream".parse().unwrap());
        let vars = BTreeMap::from([("v".to_owned(), "1".to_owned())]);
        let mut f = facts(&headers, &[0xff, 0x00]);
        f.raw_query = "";
        let event = event_v1(&f, &route(&[], &vars));
        assert_eq!(event["queryStringParameters"], Value::Null);
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["stageVariables"], json!({"v": "1"}));
        assert_eq!(
            event["multiValueHeaders"]["content-type"],
            json!(["application/octet-stream"])
        );
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["path"], "/items/42");
        assert_eq!(event["requestContext"]["path"], "/prod/items/42");
    }
}
