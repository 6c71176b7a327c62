//! API Gateway operations (apigatewayv2 under `/v2`, REST APIs under `/restapis`, `/apikeys`,
//! `/usageplans`, `/tags`) by method + path. The table is the identity crate's own: each of its
//! rules is `apigateway:METHOD` on `arn:aws:apigateway:{region}::/apis/…`, which is the request's
//! method and path without `/v2` — so the operations a request can name and the resources they are
//! authorized on cannot drift apart. The path's labels are the parameters.

use std::sync::OnceLock;

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::AwsError;

use super::rest::{self, Matched, RestOperation};
use super::{Asked, Authorizer, Parameters};

/// apigatewayv2's largest request body (an OpenAPI document for ImportApi).
const BODY_LIMIT: usize = 6 * 1024 * 1024;
const RESOURCE_PREFIX: &str = "arn:aws:apigateway:{region}::";

/// `(method, /v2 path template, operation)` for every rule of the identity crate's table.
fn operations() -> &'static [RestOperation] {
    static TABLE: OnceLock<Vec<RestOperation>> = OnceLock::new();
    TABLE.get_or_init(|| {
        nubo_identity::actions::rules("apigateway")
            .unwrap_or_default()
            .iter()
            .filter_map(|rule| {
                let check = rule.checks.first()?;
                let method = check.action.strip_prefix("apigateway:")?;
                let path = check.resource.strip_prefix(RESOURCE_PREFIX)?;
                Some(RestOperation {
                    method,
                    template: if path.starts_with("/apis") {
                        Box::leak(format!("/v2{path}").into_boxed_str())
                    } else {
                        path
                    },
                    operation: rule.operation,
                    body_limit: BODY_LIMIT,
                })
            })
            .collect()
    })
}

/// API Gateway's authorizer.
pub(crate) struct ApiGatewayAuthorizer;

impl Authorizer for ApiGatewayAuthorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        rest::find(operations(), &parts.method, parts.uri.path())
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        Ok(asked
            .labels
            .iter()
            .map(|(name, value)| (*name, value.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn every_rule_is_a_route() {
        let table = operations();
        assert_eq!(
            table.len(),
            nubo_identity::actions::rules("apigateway").unwrap().len()
        );
        let found = rest::find(table, &Method::PATCH, "/v2/apis/a1b2/routes/r9").unwrap();
        assert_eq!(found.operation, "UpdateRoute");
        assert_eq!(
            found.labels,
            [("ApiId", "a1b2".to_owned()), ("RouteId", "r9".to_owned())]
        );
        assert_eq!(
            rest::find(table, &Method::PUT, "/v2/apis")
                .unwrap()
                .operation,
            "ImportApi"
        );
        assert_eq!(
            rest::find(table, &Method::PUT, "/v2/apis/x")
                .unwrap()
                .operation,
            "ReimportApi"
        );
        let put = rest::find(
            table,
            &Method::PUT,
            "/restapis/r1/resources/x/methods/GET/integration/responses/200",
        )
        .unwrap();
        assert_eq!(put.operation, "PutIntegrationResponse");
        assert_eq!(
            rest::find(table, &Method::POST, "/restapis/r1/resources/p1")
                .unwrap()
                .operation,
            "CreateResource"
        );
    }
}
