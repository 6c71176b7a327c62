//! The authorizer resource of HTTP APIs: CreateAuthorizer, GetAuthorizer(s), UpdateAuthorizer,
//! DeleteAuthorizer. Two kinds: `JWT` (issuer + audience; keys from the issuer's JWKS) and
//! `REQUEST` (a Lambda function, payload format 1.0 or 2.0, simple or IAM-policy responses).
//! Routes name one with `authorizationType: JWT | CUSTOM` and `authorizerId`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{new_id, ApiDocument};
use super::patch::Patch;
use super::resource::ApiResource;
use crate::GatewayError;

/// `jwtConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtConfiguration {
    /// Accepted `aud` (or `client_id`) values.
    #[serde(default)]
    pub audience: Vec<String>,
    /// The `iss` a token must carry; its `/.well-known/openid-configuration` names the JWKS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// An HTTP API authorizer as stored and rendered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerRecord {
    /// ~7 lowercase alphanumerics.
    pub authorizer_id: String,
    /// Name.
    pub name: String,
    /// `JWT` or `REQUEST`.
    pub authorizer_type: String,
    /// `$request.header.Authorization`, `$request.querystring.x`, `$context.x`, `$stageVariables.x`.
    #[serde(default)]
    pub identity_source: Vec<String>,
    /// JWT: issuer and audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_configuration: Option<JwtConfiguration>,
    /// REQUEST: the function (an ARN or the apigateway `…/invocations` form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_uri: Option<String>,
    /// REQUEST: `1.0` or `2.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_payload_format_version: Option<String>,
    /// REQUEST 2.0: `{"isAuthorized": bool, "context": {...}}` answers instead of IAM policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_simple_responses: Option<bool>,
    /// REQUEST: cache TTL, 0–3600 (default 0: no caching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_credentials_arn: Option<String>,
    /// Stored and echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
}

/// CreateAuthorizer / UpdateAuthorizer members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerInput {
    /// Name.
    pub name: Option<String>,
    /// `JWT` or `REQUEST`.
    pub authorizer_type: Option<String>,
    /// Identity sources.
    pub identity_source: Option<Vec<String>>,
    /// JWT configuration.
    pub jwt_configuration: Option<JwtConfiguration>,
    /// Function.
    pub authorizer_uri: Option<String>,
    /// `1.0` / `2.0`.
    pub authorizer_payload_format_version: Option<String>,
    /// Simple responses.
    pub enable_simple_responses: Option<bool>,
    /// TTL.
    pub authorizer_result_ttl_in_seconds: Option<i64>,
    /// Credentials.
    pub authorizer_credentials_arn: Option<String>,
    /// Validation expression.
    pub identity_validation_expression: Option<String>,
}

fn check_source(source: &str) -> Result<(), GatewayError> {
    let known = [
        "$request.header.",
        "$request.querystring.",
        "$context.",
        "$stageVariables.",
    ];
    if known
        .iter()
        .any(|p| source.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
    {
        Ok(())
    } else {
        Err(GatewayError::bad_request(format!(
            "Invalid identity source {source}: expected $request.header.<name>, \
             $request.querystring.<name>, $context.<variable> or $stageVariables.<name>"
        )))
    }
}

/// The checks AWS makes of a whole authorizer.
fn validate(record: &AuthorizerRecord) -> Result<(), GatewayError> {
    if record.name.is_empty() {
        return Err(GatewayError::bad_request("Name is required"));
    }
    for source in &record.identity_source {
        check_source(source)?;
    }
    match record.authorizer_type.as_str() {
        "JWT" => {
            let config = record.jwt_configuration.as_ref();
            if config
                .and_then(|c| c.issuer.as_deref())
                .is_none_or(str::is_empty)
            {
                return Err(GatewayError::bad_request(
                    "JwtConfiguration.Issuer is required for a JWT authorizer",
                ));
            }
            if config.is_none_or(|c| c.audience.is_empty()) {
                return Err(GatewayError::bad_request(
                    "JwtConfiguration.Audience is required for a JWT authorizer",
                ));
            }
            if record.identity_source.len() != 1 {
                return Err(GatewayError::bad_request(
                    "A JWT authorizer takes exactly one identity source",
                ));
            }
        }
        "REQUEST" => {
            if record.authorizer_uri.as_deref().is_none_or(str::is_empty) {
                return Err(GatewayError::bad_request(
                    "AuthorizerUri is required for a REQUEST authorizer",
                ));
            }
            let format = record.authorizer_payload_format_version.as_deref();
            if !matches!(format, Some("1.0") | Some("2.0")) {
                return Err(GatewayError::bad_request(
                    "AuthorizerPayloadFormatVersion must be 1.0 or 2.0 for a REQUEST authorizer",
                ));
            }
            if record.enable_simple_responses == Some(true) && format != Some("2.0") {
                return Err(GatewayError::bad_request(
                    "EnableSimpleResponses requires AuthorizerPayloadFormatVersion 2.0",
                ));
            }
            let ttl = record.authorizer_result_ttl_in_seconds.unwrap_or(0);
            if !(0..=3600).contains(&ttl) {
                return Err(GatewayError::bad_request(
                    "AuthorizerResultTtlInSeconds must be between 0 and 3600",
                ));
            }
            if ttl > 0 && record.identity_source.is_empty() {
                return Err(GatewayError::bad_request(
                    "IdentitySource is required when authorizer caching is enabled",
                ));
            }
        }
        other => {
            return Err(GatewayError::bad_request(format!(
                "Invalid AuthorizerType {other}: JWT or REQUEST"
            )))
        }
    }
    Ok(())
}

fn apply(record: &mut AuthorizerRecord, input: AuthorizerInput) -> Result<(), GatewayError> {
    record.name.patch(input.name);
    record.authorizer_type.patch(input.authorizer_type);
    record.identity_source.patch(input.identity_source);
    record.jwt_configuration.patch(input.jwt_configuration);
    record.authorizer_uri.patch(input.authorizer_uri);
    record
        .authorizer_payload_format_version
        .patch(input.authorizer_payload_format_version);
    record
        .enable_simple_responses
        .patch(input.enable_simple_responses);
    record
        .authorizer_result_ttl_in_seconds
        .patch(input.authorizer_result_ttl_in_seconds);
    record
        .authorizer_credentials_arn
        .patch(input.authorizer_credentials_arn);
    record
        .identity_validation_expression
        .patch(input.identity_validation_expression);
    validate(record)
}

impl ApiResource for AuthorizerRecord {
    const NAME: &'static str = "Authorizer";
    type Input = AuthorizerInput;

    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self> {
        &doc.authorizers
    }

    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self> {
        &mut doc.authorizers
    }

    /// CreateAuthorizer.
    fn create(doc: &mut ApiDocument, input: AuthorizerInput) -> Result<Self, GatewayError> {
        let mut record = AuthorizerRecord {
            authorizer_id: new_id(7),
            name: String::new(),
            authorizer_type: String::new(),
            identity_source: Vec::new(),
            jwt_configuration: None,
            authorizer_uri: None,
            authorizer_payload_format_version: None,
            enable_simple_responses: None,
            authorizer_result_ttl_in_seconds: None,
            authorizer_credentials_arn: None,
            identity_validation_expression: None,
        };
        apply(&mut record, input)?;
        doc.authorizers
            .insert(record.authorizer_id.clone(), record.clone());
        Ok(record)
    }

    /// UpdateAuthorizer.
    fn update(
        doc: &mut ApiDocument,
        id: &str,
        input: AuthorizerInput,
    ) -> Result<Self, GatewayError> {
        let mut record = Self::find(doc, id)?.clone();
        apply(&mut record, input)?;
        // A route's authorization type must keep matching its authorizer's kind.
        let kind = route_kind(&record.authorizer_type);
        if doc
            .routes
            .values()
            .any(|r| r.authorizer_id.as_deref() == Some(id) && r.authorization_type != kind)
        {
            return Err(GatewayError::bad_request(format!(
                "Authorizer {id} is used by routes of another authorization type"
            )));
        }
        doc.authorizers.insert(id.to_owned(), record.clone());
        Ok(record)
    }

    fn check_delete(doc: &ApiDocument, id: &str) -> Result<(), GatewayError> {
        if doc
            .routes
            .values()
            .any(|r| r.authorizer_id.as_deref() == Some(id))
        {
            return Err(GatewayError::Conflict(format!(
                "Authorizer {id} is used by a route; change the route first"
            )));
        }
        Ok(())
    }
}

/// The route `authorizationType` an authorizer kind goes with.
pub fn route_kind(authorizer_type: &str) -> &'static str {
    if authorizer_type == "JWT" {
        "JWT"
    } else {
        "CUSTOM"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt() -> AuthorizerInput {
        AuthorizerInput {
            name: Some("j".into()),
            authorizer_type: Some("JWT".into()),
            identity_source: Some(vec!["$request.header.Authorization".into()]),
            jwt_configuration: Some(JwtConfiguration {
                audience: vec!["a".into()],
                issuer: Some("http://127.0.0.1:1/".into()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn authorizers_are_checked_as_aws_checks_them() {
        let mut doc: ApiDocument = serde_json::from_value(serde_json::json!({
            "api": {"apiId": "a", "name": "n", "protocolType": "HTTP",
                    "routeSelectionExpression": "", "apiKeySelectionExpression": "",
                    "createdDate": ""}
        }))
        .unwrap();
        let created = AuthorizerRecord::create(&mut doc, jwt()).unwrap();
        assert_eq!(created.authorizer_type, "JWT");
        let mut no_audience = jwt();
        no_audience
            .jwt_configuration
            .as_mut()
            .unwrap()
            .audience
            .clear();
        assert!(AuthorizerRecord::create(&mut doc, no_audience).is_err());
        let lambda = AuthorizerInput {
            name: Some("l".into()),
            authorizer_type: Some("REQUEST".into()),
            authorizer_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
            authorizer_payload_format_version: Some("1.0".into()),
            enable_simple_responses: Some(true),
            ..Default::default()
        };
        assert!(AuthorizerRecord::create(&mut doc, lambda.clone()).is_err());
        let v2 = AuthorizerInput {
            authorizer_payload_format_version: Some("2.0".into()),
            identity_source: Some(vec!["$request.querystring.token".into()]),
            authorizer_result_ttl_in_seconds: Some(60),
            ..lambda
        };
        AuthorizerRecord::create(&mut doc, v2).unwrap();
        let bad_source = AuthorizerInput {
            identity_source: Some(vec!["header.x".into()]),
            ..jwt()
        };
        assert!(AuthorizerRecord::create(&mut doc, bad_source).is_err());
    }
}
