//! The service registry: every AWS service the edge answers for, by signing name, and how a
//! request finds its operation inside one.
//!
//! A [`Service`] has one binding per protocol it speaks (SQS speaks json and query, most services
//! one). A binding's operations are found:
//! - by method + path for rest-json and rest-xml — an axum [`Router`] whose fallback answers
//!   unknown operations;
//! - by the full `X-Amz-Target` for json ([`JsonOperations`]);
//! - by `Action=` for query ([`QueryOperations`]);
//! - not at all for a service that is not served yet: every request gets the error an AWS service
//!   of that protocol gives for an operation it does not have, so an SDK raises its usual
//!   `ClientError` instead of failing to parse a bare 400.
//!
//! Handlers of json and query operations are typed: `async fn(OperationContext, Input) ->
//! Result<Output, AwsError>`; the binding decodes the input and encodes the output or the error in
//! its protocol. The registry itself is built in [`crate::services`], one line per service.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use nubo_wire::protocol::json::{self, JsonVersion};
use nubo_wire::protocol::query;
use nubo_wire::protocol::WireResponse;
use nubo_wire::{AwsError, Protocol};
use tower::ServiceExt;

use crate::auth::{Authenticated, Authorizer, Target};
use crate::response::RequestId;
use crate::scope::RequestScope;

mod operations;

pub(crate) use operations::{JsonOperations, OperationContext, QueryCodes, QueryOperations};

enum Operations {
    Rest(Router),
    Json(JsonOperations),
    Query(QueryOperations),
    NotServed,
}

struct Binding {
    protocol: Protocol,
    operations: Operations,
}

/// One AWS service: its signing name, a binding per protocol it speaks (the primary first), and
/// how its operations are authorized ([`crate::auth`]; a served service without it is refused).
pub(crate) struct Service {
    signing_name: &'static str,
    bindings: Vec<Binding>,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl Service {
    /// A service with no bindings yet.
    pub(crate) fn new(signing_name: &'static str) -> Self {
        Self {
            signing_name,
            bindings: Vec::new(),
            authorizer: None,
        }
    }

    /// How the service's operations are authorized.
    pub(crate) fn authorized_by(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Operations routed by method + path (rest-json, rest-xml).
    pub(crate) fn rest(mut self, protocol: Protocol, router: Router) -> Self {
        self.bindings.push(Binding {
            protocol,
            operations: Operations::Rest(router),
        });
        self
    }

    /// Operations routed by `X-Amz-Target`.
    pub(crate) fn json(mut self, operations: JsonOperations) -> Self {
        self.bindings.push(Binding {
            protocol: Protocol::Json(operations.version),
            operations: Operations::Json(operations),
        });
        self
    }

    /// Operations routed by `Action=`.
    pub(crate) fn query(mut self, operations: QueryOperations) -> Self {
        self.bindings.push(Binding {
            protocol: Protocol::Query {
                xml_namespace: operations.xml_namespace,
            },
            operations: Operations::Query(operations),
        });
        self
    }

    /// A protocol the service speaks but Nubo does not serve yet.
    pub(crate) fn not_served(mut self, protocol: Protocol) -> Self {
        self.bindings.push(Binding {
            protocol,
            operations: Operations::NotServed,
        });
        self
    }

    /// The binding a request is meant for: the json one when it names an `X-Amz-Target`, the
    /// query one when it is a form or a `GET` with `Action=`, else the primary.
    fn binding_for(&self, req: &Request) -> Option<&Binding> {
        let wanted = request_protocol(req);
        self.bindings
            .iter()
            .find(|b| wanted.is_some_and(|w| same_kind(b.protocol, w)))
            .or_else(|| self.bindings.first())
    }
}

fn same_kind(a: Protocol, b: Protocol) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

/// The protocol a request's own shape says it speaks, if it says: `X-Amz-Target` → json (the
/// version from the content type), a form body or `?Action=` → query.
pub(crate) fn request_protocol(req: &Request) -> Option<Protocol> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if req.headers().contains_key(json::TARGET_HEADER) {
        let version = JsonVersion::from_content_type(content_type).unwrap_or(JsonVersion::V1_1);
        return Some(Protocol::Json(version));
    }
    let form = content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    let action_in_query = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")));
    (form || action_in_query).then_some(Protocol::Query { xml_namespace: "" })
}

/// Every service the edge knows, by signing name.
#[derive(Default)]
pub(crate) struct Registry {
    services: HashMap<&'static str, Service>,
}

impl Registry {
    /// Adds a service. Registering one signing name twice is a wiring mistake, caught at start.
    pub(crate) fn register(&mut self, service: Service) {
        assert!(
            !service.bindings.is_empty(),
            "service '{}' has no binding",
            service.signing_name
        );
        let name = service.signing_name;
        let previous = self.services.insert(name, service);
        assert!(previous.is_none(), "service '{name}' registered twice");
    }

    /// The protocol an error about a request to `signing_name` must be written in.
    pub(crate) fn protocol_for(&self, signing_name: &str, req: &Request) -> Protocol {
        self.services
            .get(signing_name)
            .and_then(|service| service.binding_for(req))
            .map(|binding| binding.protocol)
            .or_else(|| request_protocol(req))
            .unwrap_or(Protocol::RestJson)
    }

    /// Where a signed request for `signing_name` goes: the protocol of its errors, whether it is
    /// served, and its service's authorizer.
    pub(crate) fn target(&self, signing_name: &str, req: &Request) -> Target {
        let service = self.services.get(signing_name);
        let binding = service.and_then(|service| service.binding_for(req));
        Target {
            service: signing_name.to_owned(),
            protocol: self.protocol_for(signing_name, req),
            served: binding.is_some_and(|b| !matches!(b.operations, Operations::NotServed)),
            authorizer: service.and_then(|s| s.authorizer.clone()),
            query_codes: binding.and_then(|b| match &b.operations {
                Operations::Json(json) => json.query_codes,
                Operations::Query(query) => query.error_codes,
                _ => None,
            }),
        }
    }

    /// Hands a signed request to its service's operation.
    pub(crate) async fn dispatch(&self, signing_name: &str, req: Request) -> Response {
        let Some(binding) = self
            .services
            .get(signing_name)
            .and_then(|service| service.binding_for(&req))
        else {
            let protocol = self.protocol_for(signing_name, &req);
            let err = protocol.unknown_operation(not_served_message(signing_name, &req));
            return wire(protocol.error_response(&err, &request_id_of(&req)));
        };
        // Rest services (Lambda's invoke among them) route and render errors themselves.
        if let Operations::Rest(router) = &binding.operations {
            return router.clone().oneshot(req).await.into_response();
        }
        let protocol = binding.protocol;
        let request_id = request_id_of(&req);
        let result = match &binding.operations {
            Operations::Json(operations) => {
                json_operation(operations, request_id.clone(), req).await
            }
            Operations::Query(operations) => {
                query_operation(operations, request_id.clone(), req).await
            }
            Operations::NotServed | Operations::Rest(_) => {
                Err(protocol.unknown_operation(not_served_message(signing_name, &req)))
            }
        };
        let codes = match &binding.operations {
            Operations::Json(json) => json.query_codes,
            Operations::Query(query) => query.error_codes,
            _ => None,
        };
        match result {
            Ok(response) => wire(response),
            Err(err) => wire(error_response(protocol, codes, err, &request_id)),
        }
    }
}

/// An error in a binding's protocol, with a query-compatible service's legacy code: in
/// `x-amzn-query-error` for json, as the code itself for query.
pub(crate) fn error_response(
    protocol: Protocol,
    codes: Option<QueryCodes>,
    mut err: AwsError,
    request_id: &str,
) -> WireResponse {
    let Some(legacy) = codes.and_then(|codes| codes(err.code)) else {
        return protocol.error_response(&err, request_id);
    };
    match protocol {
        Protocol::Json(_) => {
            let mut response = protocol.error_response(&err, request_id);
            let value = format!("{legacy};{}", err.xml_fault_type());
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response.headers_mut().insert("x-amzn-query-error", value);
            }
            response
        }
        _ => {
            err.code = legacy;
            protocol.error_response(&err, request_id)
        }
    }
}

/// The id minted at ingress (empty only if a test dispatches without one).
fn request_id_of(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

fn not_served_message(signing_name: &str, req: &Request) -> String {
    let operation = req
        .headers()
        .get(json::TARGET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|p| p.strip_prefix("Action="))
                    .map(str::to_owned)
            })
        });
    match operation {
        Some(operation) => {
            format!("Nubo does not serve the '{signing_name}' service yet (operation {operation})")
        }
        None => format!("Nubo does not serve the '{signing_name}' service yet"),
    }
}

fn context(req: &Request, request_id: String) -> OperationContext {
    let scope = req
        .extensions()
        .get::<RequestScope>()
        .map(|s| s.0.clone())
        .unwrap_or_default();
    let caller = req.extensions().get::<Authenticated>().map(|a| a.0.clone());
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    OperationContext {
        scope,
        request_id,
        caller,
        host,
        path: req.uri().path().to_owned(),
    }
}

async fn json_operation(
    operations: &JsonOperations,
    request_id: String,
    req: Request,
) -> Result<WireResponse, AwsError> {
    let target = json::target(req.headers())?;
    let handler = operations.handlers.get(target.full).ok_or_else(|| {
        json::JsonErrors::unknown_operation(format!(
            "Nubo does not serve the operation {} yet",
            target.full
        ))
    })?;
    let context = context(&req, request_id);
    let body = body(req.into_body(), operations.max_body).await?;
    let output = handler(context, body).await?;
    Ok(json::encoded_response(operations.version, output))
}

async fn query_operation(
    operations: &QueryOperations,
    request_id: String,
    req: Request,
) -> Result<WireResponse, AwsError> {
    let context = context(&req, request_id.clone());
    // Authorization decoded the form already; requests that did not pass it are decoded here.
    let decoded = req.extensions().get::<query::QueryRequest>().cloned();
    let request = match decoded {
        Some(request) => request,
        None => {
            let url_query = req.uri().query().map(str::to_owned);
            let body = body(req.into_body(), operations.max_body).await?;
            query::decode(url_query.as_deref(), &body)?
        }
    };
    let action = request.action.clone();
    let handler = operations.handlers.get(action.as_str()).ok_or_else(|| {
        query::QueryErrors::invalid_action(format!(
            "Could not find operation {action} for version {}",
            request.version.as_deref().unwrap_or("(none)")
        ))
    })?;
    let output = handler(context, request).await?;
    Ok(query::response(
        operations.xml_namespace,
        &action,
        &request_id,
        &*output,
    ))
}

async fn body(body: Body, limit: usize) -> Result<Bytes, AwsError> {
    crate::lambda_api::read_body(
        body,
        limit,
        &format!("Request must be smaller than {limit} bytes"),
    )
    .await
    .map_err(|e| e.0)
}

/// A wire-crate reply as an axum response.
pub(crate) fn wire(response: WireResponse) -> Response {
    response.map(Body::from)
}

#[cfg(test)]
pub(crate) mod tests;
