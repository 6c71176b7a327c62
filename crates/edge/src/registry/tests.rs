//! The registry with test services of every kind: rest, json, query, both, and not served.

use axum::routing::get;
use http::StatusCode;
use nubo_wire::xml::{XmlElement, XmlWriter};
use serde_json::{json, Value};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::{AwsError, Protocol, Scope};

use super::*;
use crate::response::RequestId;
use crate::scope::RequestScope;

/// Test services of every kind, plus every not-served one.
pub(crate) fn registry() -> Registry {
    let mut registry = Registry::default();
    // A rest-xml service not served (S3 is served now; none of botocore's others is listed).
    registry.register(Service::new("xmlsvc").not_served(Protocol::RestXml));
    registry.register(Service::new("restsvc").rest(
        Protocol::RestJson,
        Router::new().route(
            "/scope",
            get(|RequestScope(scope): RequestScope| async move { scope.region }),
        ),
    ));
    registry.register(
        Service::new("jsonsvc").json(
            JsonOperations::new(JsonVersion::V1_0)
                .max_body(64)
                .operation(
                    "Test_20240101.Echo",
                    |context: OperationContext, input: Value| async move {
                        Ok::<_, AwsError>(json!({
                            "Input": input,
                            "Region": context.scope.region,
                            "RequestId": context.request_id,
                        }))
                    },
                ),
        ),
    );
    registry.register(
        Service::new("dual")
            .json(
                JsonOperations::new(JsonVersion::V1_1).operation(
                    "Dual.Greet",
                    |_: OperationContext, _: Value| async {
                        Ok::<_, AwsError>(json!({"Via": "json"}))
                    },
                ),
            )
            .query(QueryOperations::new("https://dual.example/doc/").operation(
                "Greet",
                |context: OperationContext, request: QueryRequest| async move {
                    let name = request.str("Name").unwrap_or_default().to_owned();
                    let region = context.scope.region;
                    Ok::<_, AwsError>(move |w: &mut XmlWriter| {
                        w.text_element("Greeting", &format!("hello {name} in {region}"));
                    })
                },
            )),
    );
    crate::services::register_not_served(&mut registry);
    registry
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut req = builder.body(Body::from(body.to_owned())).unwrap();
    req.extensions_mut().insert(RequestId("rid".into()));
    req.extensions_mut().insert(RequestScope(Scope {
        region: "eu-west-1".into(),
        account_id: "000000000000".into(),
    }));
    req
}

pub(crate) async fn read(response: Response) -> (StatusCode, http::HeaderMap, String) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn json_call<'a>(target: &'a str, version: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("x-amz-target", target), ("content-type", version)]
}

const FORM: (&str, &str) = (
    "content-type",
    "application/x-www-form-urlencoded; charset=utf-8",
);

#[tokio::test]
async fn rest_services_route_by_path_and_see_the_scope() {
    let (status, _, body) = read(
        registry()
            .dispatch("restsvc", request("GET", "/scope", &[], ""))
            .await,
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "eu-west-1"));
}

#[tokio::test]
async fn json_services_route_by_target_and_encode_typed_results() {
    let registry = registry();
    let headers = json_call("Test_20240101.Echo", "application/x-amz-json-1.0");
    let (status, headers, body) = read(
        registry
            .dispatch("jsonsvc", request("POST", "/", &headers, r#"{"A":1}"#))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-amz-json-1.0");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"Input": {"A": 1}, "Region": "eu-west-1", "RequestId": "rid"})
    );

    for (headers, body, code) in [
        (
            json_call("Test_20240101.Nope", "application/x-amz-json-1.0"),
            "{}",
            "UnknownOperationException",
        ),
        (
            json_call("Test_20240101.Echo", "application/x-amz-json-1.0"),
            "{",
            "SerializationException",
        ),
        (vec![], "{}", "UnknownOperationException"),
    ] {
        let (status, headers, body) = read(
            registry
                .dispatch("jsonsvc", request("POST", "/", &headers, body))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["x-amzn-errortype"], code);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["__type"],
            code
        );
    }

    // Over the service's body limit: 413, still in json.
    let headers = json_call("Test_20240101.Echo", "application/x-amz-json-1.0");
    let large = format!(r#"{{"A":"{}"}}"#, "x".repeat(100));
    let (status, headers, _) = read(
        registry
            .dispatch("jsonsvc", request("POST", "/", &headers, &large))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(headers["content-type"], "application/x-amz-json-1.0");
}

#[tokio::test]
async fn query_services_route_by_action_and_reply_in_xml() {
    let registry = registry();
    let (status, headers, body) = read(
        registry
            .dispatch(
                "dual",
                request(
                    "POST",
                    "/",
                    &[FORM],
                    "Action=Greet&Version=2024-01-01&Name=al+ice",
                ),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/xml");
    let reply = XmlElement::parse(body.as_bytes()).unwrap();
    assert_eq!(reply.name, "GreetResponse");
    assert_eq!(
        reply
            .child("GreetResult")
            .and_then(|r| r.child_text("Greeting")),
        Some("hello al ice in eu-west-1")
    );
    assert_eq!(
        reply
            .child("ResponseMetadata")
            .and_then(|m| m.child_text("RequestId")),
        Some("rid")
    );

    // Action in the URL query of a GET works the same.
    let (status, _, _) = read(
        registry
            .dispatch("dual", request("GET", "/?Action=Greet&Name=x", &[], ""))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    for (body, code) in [
        ("Action=Nope", "InvalidAction"),
        ("Name=x", "MissingAction"),
    ] {
        let (status, _, body) = read(
            registry
                .dispatch("dual", request("POST", "/", &[FORM], body))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let error = XmlElement::parse(body.as_bytes()).unwrap();
        assert_eq!(error.name, "ErrorResponse");
        assert_eq!(error.attribute("xmlns"), Some("https://dual.example/doc/"));
        assert_eq!(
            error.child("Error").and_then(|e| e.child_text("Code")),
            Some(code)
        );
        assert_eq!(error.child_text("RequestId"), Some("rid"));
    }
}

#[tokio::test]
async fn a_service_with_two_protocols_answers_each_in_its_own() {
    let registry = registry();
    let (_, headers, body) = read(
        registry
            .dispatch(
                "dual",
                request(
                    "POST",
                    "/",
                    &json_call("Dual.Greet", "application/x-amz-json-1.1"),
                    "{}",
                ),
            )
            .await,
    )
    .await;
    assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(body, r#"{"Via":"json"}"#);
}

/// (signing name, request headers, body) → (status, code) and where the code is found.
#[tokio::test]
async fn services_not_served_answer_in_their_own_protocol() {
    let registry = registry();
    let target = |t| {
        vec![
            ("x-amz-target", t),
            ("content-type", "application/x-amz-json-1.0"),
        ]
    };
    // json: `__type` body and header.
    for (service, headers) in [
        (
            "ecr",
            target("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"),
        ),
        ("states", target("AWSStepFunctions.ListStateMachines")),
        ("secretsmanager", target("secretsmanager.ListSecrets")),
        ("kms", target("TrentService.ListKeys")),
        ("kinesis", vec![]),
        ("someday", target("Someday.Operation")),
    ] {
        let (status, headers, body) = read(
            registry
                .dispatch(service, request("POST", "/", &headers, "{}"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{service}");
        assert_eq!(
            headers["x-amzn-errortype"], "UnknownOperationException",
            "{service}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["__type"], "UnknownOperationException", "{service}");
        assert!(
            body["message"].as_str().unwrap().contains(service),
            "{service}: {body}"
        );
    }
    // query: an XML ErrorResponse.
    for (service, namespace) in [
        ("sns", Some("http://sns.amazonaws.com/doc/2010-03-31/")),
        (
            "cloudformation",
            Some("http://cloudformation.amazonaws.com/doc/2010-05-15/"),
        ),
        ("someday", None),
    ] {
        let (status, headers, body) = read(
            registry
                .dispatch(service, request("POST", "/", &[FORM], "Action=GetUser"))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{service}");
        assert_eq!(headers["content-type"], "text/xml");
        let error = XmlElement::parse(body.as_bytes()).unwrap();
        assert_eq!(error.attribute("xmlns"), namespace);
        let detail = error.child("Error").unwrap();
        assert_eq!(
            detail.child_text("Code"),
            Some("InvalidAction"),
            "{service}"
        );
        assert_eq!(detail.child_text("Type"), Some("Sender"));
        assert_eq!(error.child_text("RequestId"), Some("rid"));
    }
    // rest-xml: S3's <Error>.
    let (status, headers, body) = read(
        registry
            .dispatch("xmlsvc", request("PUT", "/bucket", &[], ""))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(headers["x-amz-request-id"], "rid");
    let error = XmlElement::parse(body.as_bytes()).unwrap();
    assert_eq!(
        (error.name.as_str(), error.child_text("Code")),
        ("Error", Some("NotImplemented"))
    );
    // rest-json: code in the header.
    for service in ["xray", "someday"] {
        let (status, headers, _) = read(
            registry
                .dispatch(service, request("GET", "/x", &[], ""))
                .await,
        )
        .await;
        assert!(status.is_client_error(), "{service}");
        assert_eq!(headers["x-amzn-errortype"], "UnknownOperationException");
    }
}

#[test]
#[should_panic(expected = "registered twice")]
fn a_signing_name_is_registered_once() {
    let mut registry = registry();
    registry.register(Service::new("xmlsvc").not_served(Protocol::RestXml));
}
