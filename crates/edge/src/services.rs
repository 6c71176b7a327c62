//! The services the edge answers for, one line each (see "Add a service" in ARCHITECTURE.md).
//!
//! Served services register their module's operations. Every other service a client may sign for
//! is listed in [`NOT_SERVED`] with its signing name and protocols as botocore's models give them,
//! so a request to it gets an error in its own protocol — XML for SNS and CloudFormation, `__type` JSON for
//! DynamoDB — that the SDK raises as a `ClientError` with a code.

use std::sync::Arc;

use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::Protocol;

use crate::auth::apigateway::ApiGatewayAuthorizer;
use crate::auth::lambda::LambdaAuthorizer;
use crate::registry::{Registry, Service};
use crate::{
    apigw_api, connections_api, dynamodb_api, events_api, iam_api, lambda_api, logs_api,
    monitoring_api, s3_api, sqs_api, sts_api, EdgeState,
};

/// Builds the registry: the served services, then the rest.
pub(crate) fn registry(state: &Arc<EdgeState>) -> Registry {
    let mut registry = Registry::default();
    registry.register(
        Service::new("lambda")
            .rest(Protocol::RestJson, lambda_api::router(state.clone()))
            .authorized_by(LambdaAuthorizer {
                functions: Some(state.invoker.registry().clone()),
            }),
    );
    registry.register(
        Service::new("apigateway")
            .rest(Protocol::RestJson, apigw_api::router(state.clone()))
            .authorized_by(ApiGatewayAuthorizer),
    );
    registry.register(iam_api::service(state));
    registry.register(sts_api::service(state));
    registry.register(sqs_api::service(state));
    registry.register(events_api::service(state));
    registry.register(s3_api::service(state));
    registry.register(logs_api::service(state));
    registry.register(monitoring_api::service(state));
    registry.register(connections_api::service(state));
    registry.register(dynamodb_api::service(state));
    register_not_served(&mut registry);
    registry
}

/// Registers every entry of [`NOT_SERVED`].
pub(crate) fn register_not_served(registry: &mut Registry) {
    for (signing_name, protocols) in NOT_SERVED {
        let service = protocols
            .iter()
            .fold(Service::new(signing_name), |service, protocol| {
                service.not_served(*protocol)
            });
        registry.register(service);
    }
}

const JSON_1_0: Protocol = Protocol::Json(JsonVersion::V1_0);
const JSON_1_1: Protocol = Protocol::Json(JsonVersion::V1_1);

const fn query(xml_namespace: &'static str) -> Protocol {
    Protocol::Query { xml_namespace }
}

/// Services not served yet: signing name → protocols, the one today's botocore uses first.
pub(crate) const NOT_SERVED: &[(&str, &[Protocol])] = &[
    ("ecr", &[JSON_1_1]),
    ("signer", &[Protocol::RestJson]),
    ("cloudformation", &[query(namespace::CLOUDFORMATION)]),
    ("xray", &[Protocol::RestJson]),
    ("sns", &[query(namespace::SNS)]),
    ("kinesis", &[JSON_1_1]),
    ("states", &[JSON_1_0]),
    ("secretsmanager", &[JSON_1_1]),
    ("ssm", &[JSON_1_1]),
    ("kms", &[JSON_1_1]),
    ("scheduler", &[Protocol::RestJson]),
];

/// The XML namespaces of query services' replies (botocore's `metadata.xmlNamespace`).
mod namespace {
    pub(super) const CLOUDFORMATION: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
    pub(super) const SNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
}
