//! The Lambda proxy events of WebSocket APIs (`apigw-events.md` §3): CONNECT (with the upgrade
//! request's headers and query), MESSAGE (the frame as `body`, no headers) and DISCONNECT (the
//! close code and reason), each with the `requestContext` AWS sends.

use base64::Engine;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::pipeline::events::clf_time;

use super::connections::ConnectionRecord;

/// What every event of one connection shares.
#[derive(Debug, Clone)]
pub struct SocketFacts {
    /// The connection.
    pub record: ConnectionRecord,
    /// `requestContext.domainName`: the host the client connected to.
    pub domain_name: String,
    /// `identity.userAgent`.
    pub user_agent: Option<String>,
    /// `requestContext.authorizer` (an `AWS_IAM` `$connect`'s caller), carried to every event.
    pub authorizer: Option<Value>,
}

/// Which event.
pub enum SocketEvent<'a> {
    /// `$connect`: the upgrade request.
    Connect {
        /// Its headers.
        headers: &'a http::HeaderMap,
        /// Its raw query.
        query: &'a str,
    },
    /// A message, routed to `route_key`.
    Message {
        /// The selected route.
        route_key: &'a str,
        /// The frame.
        body: &'a [u8],
        /// A binary frame (sent base64-encoded).
        binary: bool,
        /// `messageId`.
        message_id: &'a str,
    },
    /// `$disconnect`.
    Disconnect {
        /// The close code (1005 when the client sent none).
        code: u16,
        /// Why.
        reason: &'a str,
    },
}

fn epoch_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A short id in AWS's shape for WebSocket request and message ids (`Kf2dGd9lywMCEng=`).
pub fn short_id() -> String {
    let bytes = uuid::Uuid::new_v4();
    base64::engine::general_purpose::URL_SAFE.encode(&bytes.as_bytes()[..11])
}

fn headers_of(headers: &http::HeaderMap, domain: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let Ok(value) = value.to_str() else { continue };
        // AWS's event names headers as sent; hyper keeps them lower-case, so the canonical
        // capitalisation stands in (`Sec-WebSocket-Key`, `Host`).
        let name = canonical(name.as_str());
        single.insert(name.clone(), Value::from(value));
        match multi.get_mut(&name) {
            Some(Value::Array(values)) => values.push(Value::from(value)),
            _ => {
                multi.insert(name, json!([value]));
            }
        }
    }
    single.insert("Host".into(), Value::from(domain));
    multi.insert("Host".into(), json!([domain]));
    (single, multi)
}

fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| match part {
            "websocket" => "WebSocket".to_owned(),
            _ => {
                let mut chars = part.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn query_of(raw: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    if raw.is_empty() {
        return None;
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let (key, value) = (decode(key), decode(value));
        single.insert(key.clone(), Value::from(value.clone()));
        match multi.get_mut(&key) {
            Some(Value::Array(values)) => values.push(Value::from(value)),
            _ => {
                multi.insert(key, json!([value]));
            }
        }
    }
    Some((single, multi))
}

/// The event for `event` on the connection `facts` describes.
pub fn event(facts: &SocketFacts, event: &SocketEvent<'_>, request_id: &str) -> Value {
    let now = OffsetDateTime::now_utc();
    let record = &facts.record;
    let (route_key, event_type) = match event {
        SocketEvent::Connect { .. } => ("$connect", "CONNECT"),
        SocketEvent::Message { route_key, .. } => (*route_key, "MESSAGE"),
        SocketEvent::Disconnect { .. } => ("$disconnect", "DISCONNECT"),
    };
    let identity = match event {
        SocketEvent::Message { .. } => json!({
            "sourceIp": record.source_ip, "userAgent": facts.user_agent,
            "cognitoIdentityPoolId": null, "accountId": null, "caller": null, "user": null,
            "userArn": null, "accessKey": null, "principalOrgId": null,
            "cognitoIdentityId": null, "cognitoAuthenticationType": null,
            "cognitoAuthenticationProvider": null,
        }),
        _ => json!({ "sourceIp": record.source_ip, "userAgent": facts.user_agent }),
    };
    let mut context = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(now),
        "messageDirection": "IN",
        "stage": record.stage,
        "connectedAt": record.connected_at,
        "requestTimeEpoch": epoch_ms(now),
        "identity": identity,
        "requestId": request_id,
        "domainName": facts.domain_name,
        "connectionId": record.connection_id,
        "apiId": record.api_id,
    });
    if let Some(authorizer) = &facts.authorizer {
        context["authorizer"] = authorizer.clone();
    }
    let mut out = Map::new();
    match event {
        SocketEvent::Connect { headers, query } => {
            let (single, multi) = headers_of(headers, &facts.domain_name);
            out.insert("headers".into(), Value::Object(single));
            out.insert("multiValueHeaders".into(), Value::Object(multi));
            if let Some((single, multi)) = query_of(query) {
                out.insert("queryStringParameters".into(), Value::Object(single));
                out.insert(
                    "multiValueQueryStringParameters".into(),
                    Value::Object(multi),
                );
            }
        }
        SocketEvent::Message {
            body,
            binary,
            message_id,
            ..
        } => {
            context["messageId"] = Value::from(*message_id);
            let body = if *binary {
                base64::engine::general_purpose::STANDARD.encode(body)
            } else {
                String::from_utf8_lossy(body).into_owned()
            };
            out.insert("body".into(), Value::from(body));
        }
        SocketEvent::Disconnect { code, reason } => {
            context["disconnectStatusCode"] = Value::from(*code);
            context["disconnectReason"] = Value::from(*reason);
            out.insert(
                "headers".into(),
                json!({ "Host": facts.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" }),
            );
            out.insert(
                "multiValueHeaders".into(),
                json!({ "Host": [facts.domain_name], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""] }),
            );
        }
    }
    out.insert("requestContext".into(), context);
    out.insert(
        "isBase64Encoded".into(),
        Value::from(matches!(event, SocketEvent::Message { binary: true, .. })),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_wire::Scope;

    fn facts() -> SocketFacts {
        SocketFacts {
            record: ConnectionRecord {
                connection_id: "AAAA1234=".into(),
                api_id: "abcd1234".into(),
                stage: "prod".into(),
                scope: Scope::default(),
                connected_at: 1_707_503_007_396,
                source_ip: "192.0.2.1".into(),
                user_agent: None,
                node: "local".into(),
            },
            domain_name: "127.0.0.1:4750".into(),
            user_agent: None,
            authorizer: None,
        }
    }

    #[test]
    fn connect_message_and_disconnect_have_aws_shapes() {
        let mut headers = http::HeaderMap::new();
        headers.insert("sec-websocket-key", "k==".parse().unwrap());
        let connect = event(
            &facts(),
            &SocketEvent::Connect {
                headers: &headers,
                query: "token=a%20b&x=1&x=2",
            },
            "r1",
        );
        assert_eq!(connect["requestContext"]["eventType"], "CONNECT");
        assert_eq!(connect["requestContext"]["routeKey"], "$connect");
        assert_eq!(connect["headers"]["Sec-WebSocket-Key"], "k==");
        assert_eq!(connect["headers"]["Host"], "127.0.0.1:4750");
        assert_eq!(connect["queryStringParameters"]["token"], "a b");
        assert_eq!(
            connect["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert!(connect["requestContext"].get("messageId").is_none());

        let message = event(
            &facts(),
            &SocketEvent::Message {
                route_key: "join",
                body: b"{\"action\":\"join\"}",
                binary: false,
                message_id: "m1",
            },
            "r2",
        );
        assert_eq!(message["requestContext"]["eventType"], "MESSAGE");
        assert_eq!(message["requestContext"]["messageId"], "m1");
        assert_eq!(message["body"], "{\"action\":\"join\"}");
        assert!(message.get("headers").is_none());
        assert_eq!(message["isBase64Encoded"], false);

        let gone = event(
            &facts(),
            &SocketEvent::Disconnect {
                code: 1005,
                reason: "Client-side close frame status not set",
            },
            "r3",
        );
        assert_eq!(gone["requestContext"]["disconnectStatusCode"], 1005);
        assert_eq!(gone["requestContext"]["connectedAt"], 1_707_503_007_396_i64);
        assert_eq!(gone["requestContext"]["connectionId"], "AAAA1234=");
    }
}
