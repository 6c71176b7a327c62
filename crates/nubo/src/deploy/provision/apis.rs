//! HTTP APIs (an OpenAPI body imported, as CloudFormation's `Body` does) and REST APIs (the body
//! walked into resources, methods and Lambda proxy integrations; a deployment per change).

use serde_json::{json, Map, Value};

use nubo_stacks::{Deployed, Physical};
use nubo_wire::sigv4::uri_encode;

use super::{attributes, only, text, ApiProvisioner, Failure, Result};

const ANY: &str = "x-amazon-apigateway-any-method";

/// PutMethod's body: `CUSTOM` with the authorizer the operation's `security` names.
fn method_request(
    op: &Value,
    api_key: bool,
    authorizers: &std::collections::BTreeMap<String, String>,
) -> Value {
    let named = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|m| m.keys())
        .find_map(|k| authorizers.get(k));
    match named {
        Some(id) => {
            json!({"authorizationType": "CUSTOM", "authorizerId": id, "apiKeyRequired": api_key})
        }
        None => json!({"authorizationType": "NONE", "apiKeyRequired": api_key}),
    }
}

impl ApiProvisioner<'_> {
    fn http_api_physical(&self, api: &Value) -> Physical {
        let id = api["apiId"].as_str().unwrap_or_default().to_owned();
        let endpoint = crate::deploy::urls::api_url(&self.endpoint, &id);
        Physical {
            id: id.clone(),
            attributes: attributes(&[
                ("ApiEndpoint", Value::String(endpoint)),
                ("ApiId", Value::String(id)),
            ]),
        }
    }

    pub(super) async fn http_api_put(&self, p: &Value, old: Option<&Deployed>) -> Result<Physical> {
        only(
            "AWS::ApiGatewayV2::Api",
            p,
            &["Body", "Name", "Description"],
        )?;
        let mut body = p.get("Body").cloned().ok_or_else(|| {
            Failure::local("Body is required (Nubo imports the API's OpenAPI definition)")
        })?;
        if let Some(name) = p.get("Name") {
            body["info"]["title"] = name.clone();
        }
        let request = json!({"body": body.to_string()});
        let api = match old {
            None => {
                self.rest(
                    "apigateway",
                    http::Method::PUT,
                    "/v2/apis",
                    &[],
                    Some(&request),
                )
                .await?
            }
            Some(o) => {
                self.rest(
                    "apigateway",
                    http::Method::PUT,
                    &format!("/v2/apis/{}", uri_encode(&o.physical_id)),
                    &[],
                    Some(&request),
                )
                .await?
            }
        };
        Ok(self.http_api_physical(&api))
    }

    pub(super) async fn http_api_delete(&self, old: &Deployed) -> Result<()> {
        self.rest(
            "apigateway",
            http::Method::DELETE,
            &format!("/v2/apis/{}", uri_encode(&old.physical_id)),
            &[],
            None,
        )
        .await
        .map(drop)
    }

    fn stage_body(p: &Value) -> Value {
        let mut body =
            json!({"autoDeploy": p.get("AutoDeploy").cloned().unwrap_or(Value::Bool(false))});
        if let Some(v) = p.get("StageVariables") {
            body["stageVariables"] = v.clone();
        }
        if let Some(Value::Object(s)) = p.get("DefaultRouteSettings") {
            let mut out = Map::new();
            for (k, v) in s {
                let mut c = k.chars();
                let key = c
                    .next()
                    .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                    .unwrap_or_default();
                out.insert(key, v.clone());
            }
            body["defaultRouteSettings"] = Value::Object(out);
        }
        body
    }

    pub(super) async fn http_stage_create(&self, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGatewayV2::Stage",
            p,
            &[
                "ApiId",
                "StageName",
                "AutoDeploy",
                "StageVariables",
                "DefaultRouteSettings",
                "RouteSettings",
                "Description",
            ],
        )?;
        let api = p.get("ApiId").and_then(text).unwrap_or_default();
        let name = p
            .get("StageName")
            .and_then(text)
            .unwrap_or_else(|| "$default".into());
        let mut body = Self::stage_body(p);
        body["stageName"] = name.clone().into();
        self.rest(
            "apigateway",
            http::Method::POST,
            &format!("/v2/apis/{}/stages", uri_encode(&api)),
            &[],
            Some(&body),
        )
        .await?;
        Ok(Physical {
            id: name,
            attributes: Map::new(),
        })
    }

    pub(super) async fn http_stage_update(&self, p: &Value) -> Result<Physical> {
        let api = p.get("ApiId").and_then(text).unwrap_or_default();
        let name = p
            .get("StageName")
            .and_then(text)
            .unwrap_or_else(|| "$default".into());
        let path = format!("/v2/apis/{}/stages/{}", uri_encode(&api), uri_encode(&name));
        self.rest(
            "apigateway",
            http::Method::PATCH,
            &path,
            &[],
            Some(&Self::stage_body(p)),
        )
        .await?;
        Ok(Physical {
            id: name,
            attributes: Map::new(),
        })
    }

    pub(super) async fn http_stage_delete(&self, old: &Deployed) -> Result<()> {
        self.stage_delete(old, "ApiId", "/v2/apis").await
    }

    /// Deletes a stage (v1 or v2): the API's id is the `id_property` of the old properties.
    async fn stage_delete(&self, old: &Deployed, id_property: &str, apis: &str) -> Result<()> {
        let api = old
            .properties
            .get(id_property)
            .and_then(text)
            .unwrap_or_default();
        let path = format!(
            "{apis}/{}/stages/{}",
            uri_encode(&api),
            uri_encode(&old.physical_id)
        );
        self.rest("apigateway", http::Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }

    pub(super) async fn rest_api_create(&self, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGateway::RestApi",
            p,
            &[
                "Body",
                "Name",
                "Description",
                "BinaryMediaTypes",
                "EndpointConfiguration",
                "ApiKeySourceType",
            ],
        )?;
        let mut body =
            json!({"name": p.get("Name").and_then(text).unwrap_or_else(|| self.stack.clone())});
        for (from, to) in [
            ("Description", "description"),
            ("BinaryMediaTypes", "binaryMediaTypes"),
            ("ApiKeySourceType", "apiKeySourceType"),
        ] {
            if let Some(v) = p.get(from) {
                body[to] = v.clone();
            }
        }
        let api = self
            .rest(
                "apigateway",
                http::Method::POST,
                "/restapis",
                &[],
                Some(&body),
            )
            .await?;
        let id = api["id"].as_str().unwrap_or_default().to_owned();
        let root = api["rootResourceId"].as_str().map(str::to_owned);
        let root = match root {
            Some(r) => r,
            None => self.rest_root(&id).await?,
        };
        if let Err(e) = self.rest_build(&id, &root, p.get("Body")).await {
            let _ = self
                .rest(
                    "apigateway",
                    http::Method::DELETE,
                    &format!("/restapis/{}", uri_encode(&id)),
                    &[],
                    None,
                )
                .await;
            return Err(e);
        }
        Ok(Physical {
            id: id.clone(),
            attributes: attributes(&[
                ("RootResourceId", Value::String(root)),
                ("RestApiId", Value::String(id)),
            ]),
        })
    }

    async fn rest_root(&self, api: &str) -> Result<String> {
        let resources = self
            .rest(
                "apigateway",
                http::Method::GET,
                &format!("/restapis/{}/resources", uri_encode(api)),
                &[("limit", "500")],
                None,
            )
            .await?;
        resources["item"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["path"] == "/")
            .and_then(|r| r["id"].as_str().map(str::to_owned))
            .ok_or_else(|| Failure::local("the REST API has no root resource"))
    }

    /// The body's paths as resources and methods under `root`.
    async fn rest_build(&self, api: &str, root: &str, body: Option<&Value>) -> Result<()> {
        let Some(paths) = body.and_then(|b| b.get("paths")).and_then(Value::as_object) else {
            return Ok(());
        };
        // Lambda authorizers first: methods name them by id.
        let mut authorizers: std::collections::BTreeMap<String, String> =
            std::collections::BTreeMap::new();
        for (name, definition) in body
            .and_then(|b| b.get("securityDefinitions"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some(a) = definition.get("x-amazon-apigateway-authorizer") else {
                continue;
            };
            let mut request = json!({
                "name": name,
                "type": a.get("type").and_then(text).unwrap_or_else(|| "token".into()).to_uppercase(),
                "authorizerUri": a.get("authorizerUri").cloned(),
                "identitySource": a.get("identitySource").cloned(),
                "authorizerResultTtlInSeconds": a.get("authorizerResultTtlInSeconds").and_then(super::number),
            });
            if let Some(v) = a.get("identityValidationExpression") {
                request["identityValidationExpression"] = v.clone();
            }
            let created = self
                .rest(
                    "apigateway",
                    http::Method::POST,
                    &format!("/restapis/{}/authorizers", uri_encode(api)),
                    &[],
                    Some(&request),
                )
                .await?;
            authorizers.insert(
                name.clone(),
                created["id"].as_str().unwrap_or_default().to_owned(),
            );
        }
        let mut ids: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        ids.insert("/".into(), root.to_owned());
        let mut sorted: Vec<&String> = paths.keys().collect();
        sorted.sort();
        for path in sorted {
            let mut current = String::from("/");
            let mut parent = root.to_owned();
            for part in path.split('/').filter(|s| !s.is_empty()) {
                current = if current == "/" {
                    format!("/{part}")
                } else {
                    format!("{current}/{part}")
                };
                parent = match ids.get(&current) {
                    Some(id) => id.clone(),
                    None => {
                        let r = self
                            .rest(
                                "apigateway",
                                http::Method::POST,
                                &format!(
                                    "/restapis/{}/resources/{}",
                                    uri_encode(api),
                                    uri_encode(&parent)
                                ),
                                &[],
                                Some(&json!({"pathPart": part})),
                            )
                            .await?;
                        let id = r["id"].as_str().unwrap_or_default().to_owned();
                        ids.insert(current.clone(), id.clone());
                        id
                    }
                };
            }
            for (method, op) in paths[path].as_object().into_iter().flatten() {
                let verb = if method == ANY {
                    "ANY".to_owned()
                } else {
                    method.to_uppercase()
                };
                if ![
                    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
                ]
                .contains(&verb.as_str())
                {
                    continue;
                }
                let base = format!(
                    "/restapis/{}/resources/{}/methods/{}",
                    uri_encode(api),
                    uri_encode(&parent),
                    verb
                );
                let api_key = op
                    .get("security")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|s| s.get("api_key").is_some()));
                self.rest(
                    "apigateway",
                    http::Method::PUT,
                    &base,
                    &[],
                    Some(&method_request(op, api_key, &authorizers)),
                )
                .await?;
                let i = op.get("x-amazon-apigateway-integration").ok_or_else(|| {
                    Failure::local(format!(
                        "{verb} {path}: x-amazon-apigateway-integration is required"
                    ))
                })?;
                let kind = i
                    .get("type")
                    .and_then(text)
                    .unwrap_or_default()
                    .to_uppercase();
                let mut integration = json!({"type": kind, "httpMethod": i.get("httpMethod").cloned().unwrap_or("POST".into())});
                for key in [
                    "uri",
                    "timeoutInMillis",
                    "requestTemplates",
                    "passthroughBehavior",
                ] {
                    if let Some(v) = i.get(key) {
                        integration[key] = v.clone();
                    }
                }
                self.rest(
                    "apigateway",
                    http::Method::PUT,
                    &format!("{base}/integration"),
                    &[],
                    Some(&integration),
                )
                .await?;
                // Method responses (their headers), then the integration's responses (MOCK
                // preflights answer with static `Access-Control-*` values through these).
                for (status, response) in op
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let parameters: Map<String, Value> = response
                        .get("headers")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                        .map(|(h, _)| (format!("method.response.header.{h}"), Value::Bool(false)))
                        .collect();
                    let path = format!("{base}/responses/{status}");
                    self.rest(
                        "apigateway",
                        http::Method::PUT,
                        &path,
                        &[],
                        Some(&json!({"responseParameters": parameters})),
                    )
                    .await?;
                }
                for (pattern, response) in i
                    .get("responses")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let status = response
                        .get("statusCode")
                        .and_then(text)
                        .unwrap_or_else(|| "200".into());
                    let mut body = json!({"selectionPattern": if pattern == "default" { "" } else { pattern.as_str() }});
                    for key in ["responseParameters", "responseTemplates"] {
                        if let Some(v) = response.get(key) {
                            body[key] = v.clone();
                        }
                    }
                    let path = format!("{base}/integration/responses/{status}");
                    self.rest("apigateway", http::Method::PUT, &path, &[], Some(&body))
                        .await?;
                }
            }
        }
        Ok(())
    }

    pub(super) async fn rest_api_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        only(
            "AWS::ApiGateway::RestApi",
            p,
            &[
                "Body",
                "Name",
                "Description",
                "BinaryMediaTypes",
                "EndpointConfiguration",
                "ApiKeySourceType",
            ],
        )?;
        let api = &old.physical_id;
        let root = self.rest_root(api).await?;
        if p.get("Body") != old.properties.get("Body") {
            // Rebuild the tree: remove the root's children (and their subtrees) and methods.
            let resources = self
                .rest(
                    "apigateway",
                    http::Method::GET,
                    &format!("/restapis/{}/resources", uri_encode(api)),
                    &[("limit", "500")],
                    None,
                )
                .await?;
            for r in resources["item"].as_array().into_iter().flatten() {
                if r["parentId"].as_str() == Some(root.as_str()) {
                    let id = r["id"].as_str().unwrap_or_default();
                    self.rest(
                        "apigateway",
                        http::Method::DELETE,
                        &format!("/restapis/{}/resources/{}", uri_encode(api), uri_encode(id)),
                        &[],
                        None,
                    )
                    .await?;
                }
                if r["id"].as_str() == Some(root.as_str()) {
                    for method in r["resourceMethods"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(m, _)| m)
                    {
                        self.rest(
                            "apigateway",
                            http::Method::DELETE,
                            &format!(
                                "/restapis/{}/resources/{}/methods/{method}",
                                uri_encode(api),
                                uri_encode(&root)
                            ),
                            &[],
                            None,
                        )
                        .await?;
                    }
                }
            }
            let existing = self
                .rest(
                    "apigateway",
                    http::Method::GET,
                    &format!("/restapis/{}/authorizers", uri_encode(api)),
                    &[],
                    None,
                )
                .await?;
            for a in existing["item"].as_array().into_iter().flatten() {
                let id = a["id"].as_str().unwrap_or_default();
                self.rest(
                    "apigateway",
                    http::Method::DELETE,
                    &format!(
                        "/restapis/{}/authorizers/{}",
                        uri_encode(api),
                        uri_encode(id)
                    ),
                    &[],
                    None,
                )
                .await?;
            }
            self.rest_build(api, &root, p.get("Body")).await?;
        }
        if p.get("Name") != old.properties.get("Name") {
            let name = p
                .get("Name")
                .and_then(text)
                .unwrap_or_else(|| self.stack.clone());
            let patch =
                json!({"patchOperations": [{"op": "replace", "path": "/name", "value": name}]});
            self.rest(
                "apigateway",
                http::Method::PATCH,
                &format!("/restapis/{}", uri_encode(api)),
                &[],
                Some(&patch),
            )
            .await?;
        }
        Ok(Physical {
            id: api.clone(),
            attributes: old.attributes.clone(),
        })
    }

    pub(super) async fn rest_api_delete(&self, old: &Deployed) -> Result<()> {
        self.rest(
            "apigateway",
            http::Method::DELETE,
            &format!("/restapis/{}", uri_encode(&old.physical_id)),
            &[],
            None,
        )
        .await
        .map(drop)
    }

    /// A deployment to the stage (the stage is created by the first one). The physical id is
    /// the stage: later deployments move it in place.
    pub(super) async fn rest_deploy(&self, p: &Value) -> Result<Physical> {
        only(
            "AWS::ApiGateway::Deployment",
            p,
            &[
                "RestApiId",
                "StageName",
                "Description",
                "Variables",
                "StageDescription",
            ],
        )?;
        let api = p.get("RestApiId").and_then(text).unwrap_or_default();
        let stage = p.get("StageName").and_then(text).ok_or_else(|| {
            Failure::local("StageName is required (Nubo deploys to the stage it names)")
        })?;
        let mut body = json!({"stageName": stage});
        if let Some(d) = p.get("Description") {
            body["description"] = d.clone();
        }
        if let Some(v) = p.get("Variables") {
            body["variables"] = v.clone();
        }
        let d = self
            .rest(
                "apigateway",
                http::Method::POST,
                &format!("/restapis/{}/deployments", uri_encode(&api)),
                &[],
                Some(&body),
            )
            .await?;
        Ok(Physical {
            id: stage,
            attributes: attributes(&[("DeploymentId", d["id"].clone())]),
        })
    }

    pub(super) async fn rest_stage_delete(&self, old: &Deployed) -> Result<()> {
        self.stage_delete(old, "RestApiId", "/restapis").await
    }
}
