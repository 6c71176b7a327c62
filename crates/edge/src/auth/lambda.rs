//! Lambda's operations by method + path (botocore's `lambda/2015-03-31` `requestUri`s), the
//! parameters its authorization table names, and the check AWS makes after authorizing
//! CreateFunction and UpdateFunctionConfiguration: Lambda itself may assume the execution role.

use std::sync::Arc;

use http::request::Parts;
use nubo_identity::policy::Policy;
use nubo_identity::IdentityRegistry;
use nubo_lambda::control::layers::parse_version_arn;
use nubo_lambda::Registry;
use nubo_wire::arn::RequestedFunction;
use nubo_wire::AwsError;
use serde::Deserialize;
use time::OffsetDateTime;

use super::rest::{self, Matched, RestOperation};
use super::{json_members, Asked, Authorizer, Parameters};
use crate::lambda_api::input_shapes;

/// AWS's limit on a CreateFunction/UpdateFunctionCode request body.
const CODE_BODY: usize = 70_167_211;
/// Invoke's 6 MB payload, and a little for a client that sends more than the limit (the handler
/// answers that with Lambda's own error).
const INVOKE_BODY: usize = 6 * 1024 * 1024 + 1024;
/// Every other operation's JSON.
const SMALL_BODY: usize = 256 * 1024;

const fn op(
    method: &'static str,
    template: &'static str,
    operation: &'static str,
    body_limit: usize,
) -> RestOperation {
    RestOperation {
        method,
        template,
        operation,
        body_limit,
    }
}

/// Every Lambda operation Nubo serves (each must also be in `nubo_identity::actions`' table).
pub(crate) const OPERATIONS: &[RestOperation] = &[
    op("POST", "/2015-03-31/functions", "CreateFunction", CODE_BODY),
    op("GET", "/2015-03-31/functions", "ListFunctions", SMALL_BODY),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}",
        "GetFunction",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}",
        "DeleteFunction",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/configuration",
        "GetFunctionConfiguration",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/configuration",
        "UpdateFunctionConfiguration",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/code",
        "UpdateFunctionCode",
        CODE_BODY,
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/invocations",
        "Invoke",
        INVOKE_BODY,
    ),
    op(
        "POST",
        "/2014-11-13/functions/{FunctionName}/invoke-async",
        "InvokeAsync",
        INVOKE_BODY,
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/policy",
        "AddPermission",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/policy",
        "GetPolicy",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}/policy/{StatementId}",
        "RemovePermission",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/versions",
        "PublishVersion",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/versions",
        "ListVersionsByFunction",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2015-03-31/functions/{FunctionName}/aliases",
        "CreateAlias",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/aliases",
        "ListAliases",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "GetAlias",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "UpdateAlias",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2015-03-31/functions/{FunctionName}/aliases/{Name}",
        "DeleteAlias",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        "PutFunctionConcurrency",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2017-10-31/functions/{FunctionName}/concurrency",
        "DeleteFunctionConcurrency",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2019-09-30/functions/{FunctionName}/concurrency",
        "GetFunctionConcurrency",
        SMALL_BODY,
    ),
    // `?List=ALL` turns the GET into ListProvisionedConcurrencyConfigs (see `route`).
    op(
        "GET",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "GetProvisionedConcurrencyConfig",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "PutProvisionedConcurrencyConfig",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2019-09-30/functions/{FunctionName}/provisioned-concurrency",
        "DeleteProvisionedConcurrencyConfig",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "GetFunctionEventInvokeConfig",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "PutFunctionEventInvokeConfig",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "UpdateFunctionEventInvokeConfig",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config",
        "DeleteFunctionEventInvokeConfig",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2019-09-25/functions/{FunctionName}/event-invoke-config/list",
        "ListFunctionEventInvokeConfigs",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2021-10-31/functions/{FunctionName}/url",
        "GetFunctionUrlConfig",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2021-10-31/functions/{FunctionName}/url",
        "CreateFunctionUrlConfig",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2021-10-31/functions/{FunctionName}/url",
        "UpdateFunctionUrlConfig",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2021-10-31/functions/{FunctionName}/url",
        "DeleteFunctionUrlConfig",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2021-10-31/functions/{FunctionName}/urls",
        "ListFunctionUrlConfigs",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2016-08-19/account-settings",
        "GetAccountSettings",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2015-03-31/event-source-mappings",
        "CreateEventSourceMapping",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/event-source-mappings",
        "ListEventSourceMappings",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2015-03-31/event-source-mappings/{UUID}",
        "GetEventSourceMapping",
        SMALL_BODY,
    ),
    op(
        "PUT",
        "/2015-03-31/event-source-mappings/{UUID}",
        "UpdateEventSourceMapping",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2015-03-31/event-source-mappings/{UUID}",
        "DeleteEventSourceMapping",
        SMALL_BODY,
    ),
    op("GET", "/2018-10-31/layers", "ListLayers", SMALL_BODY),
    op(
        "POST",
        "/2018-10-31/layers/{LayerName}/versions",
        "PublishLayerVersion",
        CODE_BODY,
    ),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions",
        "ListLayerVersions",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
        "GetLayerVersion",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}",
        "DeleteLayerVersion",
        SMALL_BODY,
    ),
    op(
        "POST",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
        "AddLayerVersionPermission",
        SMALL_BODY,
    ),
    op(
        "GET",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy",
        "GetLayerVersionPolicy",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2018-10-31/layers/{LayerName}/versions/{VersionNumber}/policy/{StatementId}",
        "RemoveLayerVersionPermission",
        SMALL_BODY,
    ),
    op("GET", "/2017-03-31/tags/{Resource}", "ListTags", SMALL_BODY),
    op(
        "POST",
        "/2017-03-31/tags/{Resource}",
        "TagResource",
        SMALL_BODY,
    ),
    op(
        "DELETE",
        "/2017-03-31/tags/{Resource}",
        "UntagResource",
        SMALL_BODY,
    ),
];

/// A layer's ARN (`LayerArn`) and a layer version's (`LayerVersionArn`) for the table, from
/// `{LayerName}` (a name or an ARN) and `{VersionNumber}`, or GetLayerVersionByArn's `Arn`. What
/// does not parse is left out: the handler answers it with the model's error.
fn layer_parameters(asked: &Asked<'_>, parameters: &mut Parameters) {
    if asked.operation == "GetLayerVersionByArn" {
        if let Some(arn) = asked
            .query_param("Arn")
            .filter(|a| parse_version_arn(a).is_some())
        {
            parameters.push(("LayerVersionArn", arn.to_string()));
        }
        return;
    }
    let Some(layer) = asked.label("LayerName") else {
        return;
    };
    let layer_arn = if layer.starts_with("arn:") {
        layer.to_owned()
    } else {
        nubo_lambda::control::layers::layer_arn(asked.scope, layer)
    };
    if let Some(version) = asked.label("VersionNumber") {
        parameters.push(("LayerVersionArn", format!("{layer_arn}:{version}")));
    }
    parameters.push(("LayerArn", layer_arn));
}

/// AWS's answer when the execution role does not exist or does not trust Lambda.
pub(crate) const ROLE_NOT_ASSUMABLE: &str =
    "The role defined for the function cannot be assumed by Lambda.";

/// The members of a Lambda request body authorization reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BodyMembers {
    function_name: Option<String>,
    role: Option<String>,
}

/// Lambda's authorizer; with the function registry, functions' resource-based policies take part
/// in every decision about them (Invoke above all).
pub(crate) struct LambdaAuthorizer {
    /// Where functions' policies are (`None` in unit tests of the table alone).
    pub(crate) functions: Option<Arc<Registry>>,
}

impl Authorizer for LambdaAuthorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        let mut matched = rest::find(OPERATIONS, &parts.method, parts.uri.path())?;
        if matched.operation == "GetProvisionedConcurrencyConfig"
            && crate::query::Query::parse(parts.uri.query()).get("List") == Some("ALL")
        {
            matched.operation = "ListProvisionedConcurrencyConfigs";
        }
        if matched.operation == "ListLayers"
            && crate::query::Query::parse(parts.uri.query()).get("find") == Some("LayerVersion")
        {
            matched.operation = "GetLayerVersionByArn";
        }
        Some(matched)
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        let mut parameters = Parameters::new();
        let reads_body = matches!(
            asked.operation,
            "CreateFunction" | "UpdateFunctionConfiguration"
        );
        let members: BodyMembers = if reads_body {
            json_members(asked.body)?
        } else {
            BodyMembers::default()
        };
        let named = asked
            .label("FunctionName")
            .map(str::to_owned)
            .or(members.function_name);
        if let Some(named) = named {
            let query_qualifier = asked.query_param("Qualifier");
            let shapes = input_shapes(asked.operation);
            match RequestedFunction::parse(&named, query_qualifier.as_deref(), asked.scope, shapes)
            {
                Ok(reference) => {
                    parameters.push(("FunctionName", reference.name.to_owned()));
                    if let Some(qualifier) = reference.qualifier {
                        parameters.push(("Qualifier", qualifier.to_owned()));
                    }
                }
                // CreateFunction reports every member's violations at once: its handler does.
                Err(e)
                    if asked.operation == "CreateFunction" && e.code == "ValidationException" =>
                {
                    parameters.push(("FunctionName", named.clone()));
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(role) = members.role {
            parameters.push(("Role", role));
        }
        if let Some(uuid) = asked.label("UUID") {
            parameters.push(("UUID", uuid.to_owned()));
        }
        if let Some(resource) = asked.label("Resource") {
            parameters.push(("Resource", resource.to_owned()));
        }
        layer_parameters(asked, &mut parameters);
        Ok(parameters)
    }

    fn resource_policy(
        &self,
        asked: &Asked<'_>,
        parameters: &Parameters,
        _identity: &IdentityRegistry,
    ) -> Option<Arc<Policy>> {
        let functions = self.functions.as_ref()?;
        let param = |name: &str| {
            parameters
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(arn) = param("LayerVersionArn") {
            let (scope, name, version) = parse_version_arn(arn)?;
            let record = functions.layer_version(&scope, &name, version).ok()?;
            return Some(record.policy.as_ref()?.compiled().clone());
        }
        let policy =
            functions.policy_named(asked.scope, param("FunctionName")?, param("Qualifier"))?;
        Some(policy.compiled().clone())
    }

    fn after_authorization(
        &self,
        asked: &Asked<'_>,
        parameters: &Parameters,
        identity: &IdentityRegistry,
        now: OffsetDateTime,
    ) -> Result<(), AwsError> {
        let Some((_, role)) = parameters.iter().find(|(name, _)| *name == "Role") else {
            return Ok(());
        };
        // A value that is not a role ARN at all is the handler's validation error to give.
        if !role.starts_with("arn:aws:iam::") || !role.contains(":role/") {
            return Ok(());
        }
        // A role in another account is refused by the control plane ("Cross-account pass role
        // is not allowed."), before any question of trust.
        if role.split(':').nth(4) != Some(asked.scope.account_id.as_str()) {
            return Ok(());
        }
        identity
            .lambda_can_assume(role, now)
            .map_err(|_| AwsError::invalid_parameter(ROLE_NOT_ASSUMABLE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation the table names is one the identity crate can authorize.
    #[test]
    fn every_operation_has_an_authorization_rule() {
        for op in OPERATIONS {
            nubo_identity::actions::rule("lambda", op.operation)
                .unwrap_or_else(|e| panic!("{}: {e}", op.operation));
        }
        nubo_identity::actions::rule("lambda", "ListProvisionedConcurrencyConfigs").unwrap();
    }
}
