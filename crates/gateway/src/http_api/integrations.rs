//! The integration resource: CreateIntegration, UpdateIntegration, DeleteIntegration.

use std::collections::BTreeMap;

use nubo_wire::Scope;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::model::{new_id, ApiDocument, IntegrationRecord};
use super::patch::Patch;
use super::resource::ApiResource;
use crate::plane::lambda_function;
use crate::GatewayError;

/// CreateIntegration / UpdateIntegration members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationInput {
    /// `AWS_PROXY` or `HTTP_PROXY`.
    pub integration_type: Option<String>,
    /// Function ARN or URL.
    pub integration_uri: Option<String>,
    /// Method (HTTP_PROXY).
    pub integration_method: Option<String>,
    /// `1.0` or `2.0`.
    pub payload_format_version: Option<String>,
    /// 50–30 000.
    pub timeout_in_millis: Option<i64>,
    /// `INTERNET`.
    pub connection_type: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Parameter mappings (`append:header.x` → value), stored and echoed. On update the sent
    /// keys are merged in, and a key sent with `""` is removed.
    pub request_parameters: Option<Value>,
    /// Stored and echoed.
    pub response_parameters: Option<Value>,
}

fn check_timeout(timeout: &i64) -> Result<(), GatewayError> {
    if !(50..=30_000).contains(timeout) {
        return Err(GatewayError::bad_request(
            "TimeoutInMillis must be between 50 and 30000 for HTTP APIs",
        ));
    }
    Ok(())
}

fn check_connection(connection: &str) -> Result<(), GatewayError> {
    if connection != "INTERNET" {
        return Err(GatewayError::bad_request(
            "Only INTERNET connections are supported",
        ));
    }
    Ok(())
}

/// `requestParameters` after a request: the sent mappings merged into the stored ones, a mapping
/// sent with an empty value removed (apigatewayv2's documented way to delete one; on create an
/// empty mapping is simply not stored).
fn merge_request_parameters(
    stored: Option<Value>,
    sent: Option<Value>,
) -> Result<Option<Value>, GatewayError> {
    let Some(sent) = sent else { return Ok(stored) };
    let Value::Object(sent) = sent else {
        return Err(GatewayError::bad_request(
            "RequestParameters must be a map of parameter mappings",
        ));
    };
    let mut merged = match stored {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (key, value) in sent {
        if value.as_str() == Some("") {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    Ok(Some(Value::Object(merged)))
}

/// A validated integration record with a fresh id, for an API in `scope`.
pub(crate) fn new_record(
    scope: &Scope,
    input: IntegrationInput,
) -> Result<IntegrationRecord, GatewayError> {
    let mut record = IntegrationRecord {
        integration_id: new_id(7),
        integration_type: String::new(),
        integration_uri: None,
        integration_method: None,
        payload_format_version: String::new(),
        timeout_in_millis: 30_000,
        connection_type: "INTERNET".into(),
        description: None,
        request_parameters: None,
        response_parameters: None,
        api_gateway_managed: false,
    };
    apply(scope, &mut record, input, true)?;
    Ok(record)
}

/// Applies the members a request carries, then checks the whole integration.
fn apply(
    scope: &Scope,
    record: &mut IntegrationRecord,
    input: IntegrationInput,
    creating: bool,
) -> Result<(), GatewayError> {
    record.integration_type.patch(input.integration_type);
    match record.integration_type.as_str() {
        "AWS_PROXY" | "HTTP_PROXY" => {}
        "AWS" | "HTTP" | "MOCK" => {
            return Err(GatewayError::bad_request(format!(
                "Integration type {} is supported only for WebSocket APIs",
                record.integration_type
            )))
        }
        other => {
            return Err(GatewayError::bad_request(format!(
                "Invalid integration type {other}: must be AWS_PROXY or HTTP_PROXY"
            )))
        }
    }
    record.integration_uri.patch(input.integration_uri);
    record.integration_method.patch(input.integration_method);
    record
        .payload_format_version
        .patch(input.payload_format_version);
    record
        .timeout_in_millis
        .patch_checked(input.timeout_in_millis, check_timeout)?;
    record
        .connection_type
        .patch_checked(input.connection_type, |c| check_connection(c))?;
    record.description.patch(input.description);
    record.request_parameters =
        merge_request_parameters(record.request_parameters.take(), input.request_parameters)?;
    record.response_parameters.patch(input.response_parameters);
    check_target(scope, record, creating)
}

/// The integration's URI, method and payload format agree with its type.
fn check_target(
    scope: &Scope,
    record: &mut IntegrationRecord,
    creating: bool,
) -> Result<(), GatewayError> {
    let uri = record
        .integration_uri
        .as_deref()
        .ok_or_else(|| GatewayError::bad_request("IntegrationUri is required for HTTP APIs"))?;
    if record.integration_type == "AWS_PROXY" {
        if lambda_function(uri, scope).is_none() {
            return Err(GatewayError::bad_request(format!(
                "Invalid integration URI {uri}: expected a Lambda function ARN"
            )));
        }
        if creating && record.payload_format_version.is_empty() {
            return Err(GatewayError::bad_request(
                "PayloadFormatVersion is required for AWS_PROXY integrations of HTTP APIs",
            ));
        }
        if record.integration_method.is_none() {
            record.integration_method = Some("POST".into());
        }
    } else {
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(GatewayError::bad_request(format!(
                "Invalid integration URI {uri}: expected an http(s) URL"
            )));
        }
        if record.payload_format_version.is_empty() {
            record.payload_format_version = "1.0".into();
        }
        if record.integration_method.is_none() {
            record.integration_method = Some("ANY".into());
        }
    }
    match record.payload_format_version.as_str() {
        "2.0" if record.integration_type == "HTTP_PROXY" => Err(GatewayError::bad_request(
            "PayloadFormatVersion 2.0 is only supported for AWS_PROXY integrations",
        )),
        "1.0" | "2.0" => Ok(()),
        other => Err(GatewayError::bad_request(format!(
            "Invalid PayloadFormatVersion {other}: must be 1.0 or 2.0"
        ))),
    }
}

/// WebSocket APIs: Lambda proxy integrations only (their events have one shape, which AWS
/// reports as payload format `1.0`).
fn socket_integration(input: &mut IntegrationInput) -> Result<(), GatewayError> {
    match input.integration_type.as_deref() {
        Some("AWS_PROXY") | None => {}
        Some(other) => {
            return Err(GatewayError::bad_request(format!(
                "Integration type {other} is not supported by Nubo for WebSocket APIs yet: use AWS_PROXY"
            )))
        }
    }
    if input.payload_format_version.is_none() {
        input.payload_format_version = Some("1.0".into());
    }
    Ok(())
}

impl ApiResource for IntegrationRecord {
    const NAME: &'static str = "Integration";
    type Input = IntegrationInput;

    fn items(doc: &ApiDocument) -> &BTreeMap<String, Self> {
        &doc.integrations
    }

    fn items_mut(doc: &mut ApiDocument) -> &mut BTreeMap<String, Self> {
        &mut doc.integrations
    }

    /// CreateIntegration.
    fn create(doc: &mut ApiDocument, mut input: IntegrationInput) -> Result<Self, GatewayError> {
        if doc.is_websocket() {
            socket_integration(&mut input)?;
        }
        let record = new_record(&doc.scope, input)?;
        doc.integrations
            .insert(record.integration_id.clone(), record.clone());
        Ok(record)
    }

    /// UpdateIntegration.
    fn update(
        doc: &mut ApiDocument,
        id: &str,
        input: IntegrationInput,
    ) -> Result<Self, GatewayError> {
        let mut record = Self::find(doc, id)?.clone();
        if doc.is_websocket() && input.integration_type.is_some() {
            let mut input = IntegrationInput {
                integration_type: input.integration_type.clone(),
                ..Default::default()
            };
            socket_integration(&mut input)?;
        }
        apply(&doc.scope, &mut record, input, false)?;
        doc.integrations.insert(id.to_owned(), record.clone());
        Ok(record)
    }

    /// Not while a route targets it.
    fn check_delete(doc: &ApiDocument, id: &str) -> Result<(), GatewayError> {
        let target = format!("integrations/{id}");
        if doc
            .routes
            .values()
            .any(|r| r.target.as_deref() == Some(&target))
        {
            return Err(GatewayError::Conflict(format!(
                "Integration {id} is used by a route; change the route first"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{new_api, registry};
    use super::*;
    use serde_json::json;

    fn lambda() -> IntegrationInput {
        IntegrationInput {
            integration_type: Some("AWS_PROXY".into()),
            integration_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:f".into()),
            payload_format_version: Some("2.0".into()),
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_value_removes_a_request_parameter() {
        let stored = Some(json!({"append:header.a": "1", "remove:header.b": "''"}));
        let merged = merge_request_parameters(
            stored,
            Some(json!({"remove:header.b": "", "overwrite:header.c": "$request.path"})),
        )
        .unwrap();
        assert_eq!(
            merged,
            Some(json!({"append:header.a": "1", "overwrite:header.c": "$request.path"}))
        );
        assert_eq!(
            merge_request_parameters(None, Some(json!({"append:header.a": ""}))).unwrap(),
            Some(json!({}))
        );
        assert!(merge_request_parameters(None, Some(json!(["x"]))).is_err());
        assert_eq!(
            merge_request_parameters(Some(json!({"k": "v"})), None).unwrap(),
            Some(json!({"k": "v"}))
        );
    }

    #[tokio::test]
    async fn definitions_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let api = registry(dir.path()).await;
        let scope = Scope::default();
        let id = new_api(&api, &scope, "v").await;
        let bad = |input: IntegrationInput| api.create::<IntegrationRecord>(&scope, &id, input);
        assert!(bad(IntegrationInput {
            payload_format_version: None,
            ..lambda()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            timeout_in_millis: Some(49),
            ..lambda()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            integration_type: Some("MOCK".into()),
            ..lambda()
        })
        .await
        .is_err());
        assert!(bad(IntegrationInput {
            integration_type: Some("HTTP_PROXY".into()),
            integration_uri: Some("ftp://x".into()),
            payload_format_version: None,
            ..Default::default()
        })
        .await
        .is_err());
        // A function of another region is the integration's own business (it resolves there).
        assert!(bad(IntegrationInput {
            integration_uri: Some("arn:aws:lambda:eu-west-1:000000000000:function:f".into()),
            ..lambda()
        })
        .await
        .is_ok());
    }
}
