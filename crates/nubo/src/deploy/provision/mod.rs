//! The CLI's [`Provisioner`]: each resource type applied through Nubo's public AWS APIs, signed
//! as the user (the same calls boto3 or the AWS CLI would make), so a deploy can do exactly what
//! its caller may do and nothing more.

mod apis;
mod keys;
mod lambda;
mod roles;
mod storage;
mod tables;

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use nubo::client::{Client, Reply};
use nubo_stacks::{Deployed, Physical, Provisioner};

/// An AWS error as the service answered it.
#[derive(Debug)]
pub(crate) struct Failure {
    status: u16,
    code: String,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl Failure {
    fn local(message: impl Into<String>) -> Self {
        Self {
            status: 0,
            code: "Error".into(),
            message: message.into(),
        }
    }

    /// Whatever it was is gone already.
    fn not_found(&self) -> bool {
        self.status == 404
            || ["NotFound", "NoSuch", "NonExistent", "DoesNotExist"]
                .iter()
                .any(|k| self.code.contains(k))
    }
}

fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_owned())
}

fn failure(reply: &Reply) -> Failure {
    let body = String::from_utf8_lossy(&reply.body);
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    let code = reply
        .headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or(v).to_owned())
        .or_else(|| {
            json.as_ref()
                .and_then(|j| j.get("__type").or_else(|| j.get("code")))
                .and_then(Value::as_str)
                .map(|s| s.rsplit('#').next().unwrap_or(s).to_owned())
        })
        .or_else(|| xml_tag(&body, "Code"))
        .unwrap_or_else(|| "Error".into());
    let message = json
        .as_ref()
        .and_then(|j| j.get("message").or_else(|| j.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| xml_tag(&body, "Message"))
        .unwrap_or_else(|| body.chars().take(300).collect());
    Failure {
        status: reply.status.as_u16(),
        code,
        message,
    }
}

/// Applies resources through the signed client.
pub(crate) struct ApiProvisioner<'c> {
    pub(crate) client: &'c Client,
    /// The endpoint the user reaches Nubo at (URLs in attributes are built on it).
    pub(crate) endpoint: String,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) stack: String,
    /// Zipped code by `NuboCodeUri`.
    pub(crate) code: HashMap<String, Vec<u8>>,
}

type Result<T> = std::result::Result<T, Failure>;

impl ApiProvisioner<'_> {
    /// A rest-json call; the parsed reply (`null` when empty).
    async fn rest(
        &self,
        service: &str,
        method: http::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let headers = [("content-type", "application/json".to_owned())];
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let reply = self
            .client
            .send(service, method, path, &query, &headers, body)
            .await
            .map_err(|e| Failure::local(e.to_string()))?;
        if !reply.status.is_success() {
            return Err(failure(&reply));
        }
        Ok(serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
    }

    /// A json-protocol call (`X-Amz-Target: {prefix}.{operation}`).
    async fn target(
        &self,
        service: &str,
        prefix: &str,
        version: &str,
        operation: &str,
        body: &Value,
    ) -> Result<Value> {
        let headers = [
            ("content-type", format!("application/x-amz-json-{version}")),
            ("x-amz-target", format!("{prefix}.{operation}")),
        ];
        let reply = self
            .client
            .send(
                service,
                http::Method::POST,
                "/",
                &[],
                &headers,
                body.to_string().into_bytes(),
            )
            .await
            .map_err(|e| Failure::local(e.to_string()))?;
        if !reply.status.is_success() {
            return Err(failure(&reply));
        }
        Ok(serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
    }

    /// A query-protocol call; the XML reply.
    async fn query(
        &self,
        service: &str,
        action: &str,
        version: &str,
        params: &[(&str, &str)],
    ) -> Result<String> {
        let reply = self
            .client
            .query(service, action, version, params)
            .await
            .map_err(|e| Failure::local(e.to_string()))?;
        if !reply.status.is_success() {
            return Err(failure(&reply));
        }
        Ok(String::from_utf8_lossy(&reply.body).into_owned())
    }

    /// A raw call (S3).
    async fn raw(
        &self,
        method: http::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply> {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let reply = self
            .client
            .send("s3", method, path, &query, &[], body)
            .await
            .map_err(|e| Failure::local(e.to_string()))?;
        if !reply.status.is_success() {
            return Err(failure(&reply));
        }
        Ok(reply)
    }

    /// CloudFormation's name for an unnamed resource: `{stack}-{logical}-{random}`, within `max`.
    fn generated_name(&self, logical: &str, max: usize, lowercase: bool) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let suffix =
            hex::encode(&Sha256::digest(format!("{}{logical}{nanos}", self.stack).as_bytes())[..6])
                .to_uppercase();
        let mut head = format!("{}-{logical}", self.stack);
        let room = max.saturating_sub(suffix.len() + 1);
        if head.len() > room {
            head.truncate(room);
        }
        let name = format!("{head}-{suffix}");
        if lowercase {
            name.to_lowercase()
        } else {
            name
        }
    }
}

/// A property as text (numbers and booleans as AWS's string forms).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A property as a number (templates often quote numbers, and parameters are strings).
fn number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) => s.parse::<i64>().ok().map(Value::from),
        _ => None,
    }
}

fn revision(props: &Value) -> String {
    hex::encode(&Sha256::digest(props.to_string().as_bytes())[..8])
}

fn attributes(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Refuses properties the provisioner would otherwise drop silently.
fn only(kind: &str, props: &Value, allowed: &[&str]) -> Result<()> {
    for key in props.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !allowed.contains(&key.as_str()) {
            return Err(Failure::local(format!(
                "property {key} of {kind} is not supported by Nubo"
            )));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Provisioner for ApiProvisioner<'_> {
    async fn create(
        &self,
        logical: &str,
        kind: &str,
        p: &Value,
    ) -> std::result::Result<Physical, String> {
        let result = match kind {
            "AWS::IAM::Role" => self.role_create(logical, p).await,
            "AWS::Lambda::Function" => self.function_create(logical, p).await,
            "AWS::Lambda::Permission" => self.permission_create(logical, p).await,
            "AWS::Lambda::Version" => self.version_publish(p).await,
            "AWS::Lambda::Alias" => self.alias_put(p, None).await,
            "AWS::Lambda::Url" => self.url_put(p, false).await,
            "AWS::Lambda::EventSourceMapping" => self.mapping_create(p).await,
            "AWS::Lambda::EventInvokeConfig" => self.invoke_config_put(p).await,
            "AWS::ApiGatewayV2::Api" => self.http_api_put(p, None).await,
            "AWS::ApiGatewayV2::Stage" => self.http_stage_create(p).await,
            "AWS::ApiGateway::RestApi" => self.rest_api_create(p).await,
            "AWS::ApiGateway::Deployment" => self.rest_deploy(p).await,
            "AWS::ApiGateway::ApiKey" => self.api_key_create(logical, p).await,
            "AWS::ApiGateway::UsagePlan" => self.usage_plan_create(logical, p).await,
            "AWS::ApiGateway::UsagePlanKey" => self.usage_plan_key_create(p).await,
            "AWS::S3::Bucket" => self.bucket_create(logical, p).await,
            "AWS::SQS::Queue" => self.queue_create(logical, p).await,
            "AWS::Events::Rule" => self.rule_put(logical, p, None).await,
            "AWS::Logs::LogGroup" => self.log_group_create(logical, p).await,
            "AWS::DynamoDB::Table" => self.table_create(logical, p).await,
            other => Err(Failure::local(format!("type {other} is not supported"))),
        };
        result.map_err(|e| e.to_string())
    }

    async fn update(
        &self,
        logical: &str,
        kind: &str,
        p: &Value,
        old: &Deployed,
    ) -> std::result::Result<Physical, String> {
        let changed = |key: &str| p.get(key) != old.properties.get(key);
        let result = match kind {
            "AWS::IAM::Role"
                if !changed("RoleName")
                    && !changed("AssumeRolePolicyDocument")
                    && !changed("Path") =>
            {
                self.role_update(p, old).await
            }
            "AWS::Lambda::Function" if !changed("FunctionName") => {
                self.function_update(p, old).await
            }
            "AWS::Lambda::Version" => self.version_publish(p).await,
            "AWS::Lambda::Alias" if !changed("FunctionName") && !changed("Name") => {
                self.alias_put(p, Some(old)).await
            }
            "AWS::Lambda::Url" if !changed("TargetFunctionArn") && !changed("Qualifier") => {
                self.url_put(p, true).await
            }
            "AWS::Lambda::EventSourceMapping" if !changed("EventSourceArn") => {
                self.mapping_update(p, old).await
            }
            "AWS::Lambda::EventInvokeConfig"
                if !changed("FunctionName") && !changed("Qualifier") =>
            {
                self.invoke_config_put(p).await
            }
            "AWS::ApiGatewayV2::Api" => self.http_api_put(p, Some(old)).await,
            "AWS::ApiGatewayV2::Stage" if !changed("ApiId") && !changed("StageName") => {
                self.http_stage_update(p).await
            }
            "AWS::ApiGateway::RestApi" => self.rest_api_update(p, old).await,
            "AWS::ApiGateway::Deployment" if !changed("RestApiId") && !changed("StageName") => {
                self.rest_deploy(p).await
            }
            "AWS::S3::Bucket" if !changed("BucketName") => self
                .bucket_configure(&old.physical_id, p, true)
                .await
                .map(|()| Physical {
                    id: old.physical_id.clone(),
                    attributes: old.attributes.clone(),
                }),
            "AWS::SQS::Queue" if !changed("QueueName") && !changed("FifoQueue") => {
                self.queue_update(p, old).await
            }
            "AWS::Events::Rule" if !changed("Name") && !changed("EventBusName") => {
                self.rule_put(logical, p, Some(old)).await
            }
            "AWS::Logs::LogGroup" if !changed("LogGroupName") => self
                .log_group_configure(&old.physical_id, p)
                .await
                .map(|()| Physical {
                    id: old.physical_id.clone(),
                    attributes: old.attributes.clone(),
                }),
            "AWS::DynamoDB::Table" if !tables::table_replaced(p, &old.properties) => {
                self.table_update(p, old).await
            }
            // Everything else is replaced: created anew; the engine deletes the old one after.
            _ => return self.create(logical, kind, p).await,
        };
        result.map_err(|e| e.to_string())
    }

    async fn delete(&self, _logical: &str, old: &Deployed) -> std::result::Result<(), String> {
        let result = match old.kind.as_str() {
            "AWS::IAM::Role" => self.role_delete(old).await,
            "AWS::Lambda::Function" => self.function_delete(old).await,
            "AWS::Lambda::Permission" => self.permission_delete(old).await,
            // Versions go with their function (AWS keeps them too unless the function goes).
            "AWS::Lambda::Version" => Ok(()),
            "AWS::Lambda::Alias" => self.alias_delete(old).await,
            "AWS::Lambda::Url" => self.url_delete(old).await,
            "AWS::Lambda::EventSourceMapping" => self.mapping_delete(old).await,
            "AWS::Lambda::EventInvokeConfig" => self.invoke_config_delete(old).await,
            "AWS::ApiGatewayV2::Api" => self.http_api_delete(old).await,
            "AWS::ApiGatewayV2::Stage" => self.http_stage_delete(old).await,
            "AWS::ApiGateway::RestApi" => self.rest_api_delete(old).await,
            "AWS::ApiGateway::Deployment" => self.rest_stage_delete(old).await,
            "AWS::ApiGateway::ApiKey" => self.api_key_delete(old).await,
            "AWS::ApiGateway::UsagePlan" => self.usage_plan_delete(old).await,
            "AWS::ApiGateway::UsagePlanKey" => self.usage_plan_key_delete(old).await,
            "AWS::S3::Bucket" => self.bucket_delete(old).await,
            "AWS::SQS::Queue" => self.queue_delete(old).await,
            "AWS::Events::Rule" => self.rule_delete(old).await,
            "AWS::Logs::LogGroup" => self.log_group_delete(old).await,
            "AWS::DynamoDB::Table" => self.table_delete(old).await,
            other => Err(Failure::local(format!("type {other} is not supported"))),
        };
        match result {
            Err(e) if e.not_found() => Ok(()),
            other => other.map_err(|e| e.to_string()),
        }
    }
}

/// `{"a": 1}` → `[["a", "1"]]`, for query parameters.
fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| text(v).map(|v| (k.clone(), v)))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| Some((text(t.get("Key")?)?, text(t.get("Value")?)?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn tag_map(v: Option<&Value>) -> Value {
    Value::Object(
        tags_of(v)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}
