//! Response mapping: what the function returned → the HTTP response (payload 1.0 and 2.0).

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

/// A mapped response, before CORS and framing.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedResponse {
    /// Status.
    pub status: u16,
    /// Headers in order (`set-cookie` may repeat).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
}

/// The function's output does not make a response (AWS: 500 for HTTP APIs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedResponse(pub String);

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn status_of(value: &Value) -> Result<u16, MalformedResponse> {
    let status = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    status
        .filter(|s| (100..=599).contains(s))
        .map(|s| s as u16)
        .ok_or_else(|| MalformedResponse(format!("invalid statusCode {value}")))
}

/// Maps an explicit `{statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded}`.
fn explicit(object: &serde_json::Map<String, Value>) -> Result<MappedResponse, MalformedResponse> {
    let status = status_of(&object["statusCode"])?;
    let mut headers: Vec<(String, String)> = Vec::new();
    let multi = object.get("multiValueHeaders").and_then(Value::as_object);
    if let Some(single) = object.get("headers").and_then(Value::as_object) {
        for (name, value) in single {
            // A name in both maps takes only the multi-value values.
            if multi.is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(name))) {
                continue;
            }
            if let Some(v) = scalar(value) {
                headers.push((name.clone(), v));
            }
        }
    }
    if let Some(multi) = multi {
        for (name, values) in multi {
            for v in values.as_array().into_iter().flatten().filter_map(scalar) {
                headers.push((name.clone(), v));
            }
        }
    }
    if let Some(cookies) = object.get("cookies").and_then(Value::as_array) {
        for cookie in cookies.iter().filter_map(scalar) {
            headers.push(("set-cookie".into(), cookie));
        }
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => {
            if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
                Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(s.as_bytes())
                        .map_err(|e| MalformedResponse(format!("body is not base64: {e}")))?,
                )
            } else {
                Bytes::from(s.clone())
            }
        }
        Some(other) => Bytes::from(other.to_string()),
    };
    Ok(MappedResponse {
        status,
        headers,
        body,
    })
}

/// Payload 2.0: an object with `statusCode` is explicit; any other valid JSON is the body of a 200
/// `application/json` response (a JSON string contributes its contents).
pub fn map_v2(payload: &[u8]) -> Result<MappedResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| MalformedResponse(format!("output is not JSON: {e}")))?;
    if let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) {
        return explicit(object);
    }
    let body = match &value {
        Value::String(s) => Bytes::from(s.clone()),
        _ => Bytes::copy_from_slice(payload),
    };
    Ok(MappedResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    })
}

/// Payload 1.0: `statusCode` is required; there is no inference.
pub fn map_v1(payload: &[u8]) -> Result<MappedResponse, MalformedResponse> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| MalformedResponse(format!("output is not JSON: {e}")))?;
    match value.as_object() {
        Some(object) if object.contains_key("statusCode") => explicit(object),
        _ => Err(MalformedResponse("output has no statusCode".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_explicit_with_cookies_and_base64() {
        let out = map_v2(
            br#"{"statusCode":201,"headers":{"x-a":1},"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(out.status, 201);
        assert_eq!(out.body, Bytes::from_static(b"hi"));
        assert_eq!(
            out.headers,
            vec![
                ("x-a".into(), "1".into()),
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into())
            ]
        );
    }

    #[test]
    fn v2_infers_plain_values() {
        let dict = map_v2(br#"{"message":"hi"}"#).unwrap();
        assert_eq!(
            (dict.status, &dict.body[..]),
            (200, &br#"{"message":"hi"}"#[..])
        );
        let text = map_v2(br#""Hello from Lambda!""#).unwrap();
        assert_eq!(&text.body[..], b"Hello from Lambda!");
        assert!(map_v2(b"not json").is_err());
    }

    #[test]
    fn v1_needs_status_and_prefers_multi_value_headers() {
        assert!(map_v1(br#"{"body":"x"}"#).is_err());
        let out = map_v1(
            br#"{"statusCode":"200","headers":{"X-A":"1","x-b":"2"},"multiValueHeaders":{"x-a":["3","4"]}}"#,
        )
        .unwrap();
        assert_eq!(
            out.headers,
            vec![
                ("x-b".into(), "2".into()),
                ("x-a".into(), "3".into()),
                ("x-a".into(), "4".into())
            ]
        );
    }
}
