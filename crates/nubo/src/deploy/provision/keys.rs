//! REST API keys, usage plans and their keys (`AWS::ApiGateway::ApiKey`, `UsagePlan`,
//! `UsagePlanKey`), as SAM's `Auth.UsagePlan` generates them.

use serde_json::{json, Map, Value};

use nubo_stacks::{Deployed, Physical};
use nubo_wire::sigv4::uri_encode;

use super::{attributes, only, text, ApiProvisioner, Result};

/// `{A: 1}` → `{a: 1}` (CloudFormation's member names → API Gateway's).
fn camel(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let mut c = k.chars();
                    let key = c
                        .next()
                        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                        .unwrap_or_default();
                    (key, camel(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel).collect()),
        other => other.clone(),
    }
}

impl ApiProvisioner<'_> {
    pub(super) async fn api_key_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGateway::ApiKey",
            p,
            &["Name", "Enabled", "StageKeys", "Value", "Description"],
        )?;
        let name = p
            .get("Name")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 128, false));
        let mut body = json!({"name": name, "enabled": p.get("Enabled").cloned().unwrap_or(Value::Bool(false))});
        if let Some(v) = p.get("StageKeys") {
            body["stageKeys"] = camel(v);
        }
        for (from, to) in [("Value", "value"), ("Description", "description")] {
            if let Some(v) = p.get(from) {
                body[to] = v.clone();
            }
        }
        let key = self
            .rest(
                "apigateway",
                http::Method::POST,
                "/apikeys",
                &[],
                Some(&body),
            )
            .await?;
        Ok(Physical {
            id: key["id"].as_str().unwrap_or_default().to_owned(),
            attributes: attributes(&[("APIKeyId", key["id"].clone())]),
        })
    }

    pub(super) async fn usage_plan_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGateway::UsagePlan",
            p,
            &[
                "UsagePlanName",
                "ApiStages",
                "Quota",
                "Throttle",
                "Description",
            ],
        )?;
        let name = p
            .get("UsagePlanName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 128, false));
        let mut body = json!({"name": name});
        for (from, to) in [
            ("ApiStages", "apiStages"),
            ("Quota", "quota"),
            ("Throttle", "throttle"),
            ("Description", "description"),
        ] {
            if let Some(v) = p.get(from) {
                body[to] = camel(v);
            }
        }
        let plan = self
            .rest(
                "apigateway",
                http::Method::POST,
                "/usageplans",
                &[],
                Some(&body),
            )
            .await?;
        Ok(Physical {
            id: plan["id"].as_str().unwrap_or_default().to_owned(),
            attributes: Map::new(),
        })
    }

    pub(super) async fn usage_plan_key_create(&self, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGateway::UsagePlanKey",
            p,
            &["KeyId", "KeyType", "UsagePlanId"],
        )?;
        let plan = p.get("UsagePlanId").and_then(text).unwrap_or_default();
        let body = json!({"keyId": p.get("KeyId"), "keyType": p.get("KeyType").cloned().unwrap_or("API_KEY".into())});
        let key = self
            .rest(
                "apigateway",
                http::Method::POST,
                &format!("/usageplans/{}/keys", uri_encode(&plan)),
                &[],
                Some(&body),
            )
            .await?;
        Ok(Physical {
            id: key["id"].as_str().unwrap_or_default().to_owned(),
            attributes: Map::new(),
        })
    }

    pub(super) async fn api_key_delete(&self, old: &Deployed) -> Result<()> {
        self.rest(
            "apigateway",
            http::Method::DELETE,
            &format!("/apikeys/{}", uri_encode(&old.physical_id)),
            &[],
            None,
        )
        .await
        .map(drop)
    }

    pub(super) async fn usage_plan_delete(&self, old: &Deployed) -> Result<()> {
        self.rest(
            "apigateway",
            http::Method::DELETE,
            &format!("/usageplans/{}", uri_encode(&old.physical_id)),
            &[],
            None,
        )
        .await
        .map(drop)
    }

    pub(super) async fn usage_plan_key_delete(&self, old: &Deployed) -> Result<()> {
        let plan = old
            .properties
            .get("UsagePlanId")
            .and_then(text)
            .unwrap_or_default();
        let path = format!(
            "/usageplans/{}/keys/{}",
            uri_encode(&plan),
            uri_encode(&old.physical_id)
        );
        self.rest("apigateway", http::Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }
}
