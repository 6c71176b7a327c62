//! SAM's APIs: `AWS::Serverless::Api` → `AWS::ApiGateway::RestApi` + `Deployment` (auth,
//! API keys, usage plans, CORS preflights), `AWS::Serverless::HttpApi` →
//! `AWS::ApiGatewayV2::Api` + `Stage`; implicit APIs take their Globals too.

use super::*;

/// SAM's `Cors` on a REST API: an `options` method per path, a MOCK integration answering 200
/// with the `Access-Control-*` headers (values are API Gateway literals: `"'*'"`).
fn add_preflights(body: &mut Value, cors: &Value) -> Result<(), String> {
    let (origin, headers, methods, max_age, credentials) = match cors {
        Value::Object(m) if !is_intrinsic(m) => (
            m.get("AllowOrigin")
                .cloned()
                .ok_or("AllowOrigin is required")?,
            m.get("AllowHeaders").cloned(),
            m.get("AllowMethods").cloned(),
            m.get("MaxAge").cloned(),
            m.get("AllowCredentials").cloned(),
        ),
        // `Cors: "'*'"`: the origin alone.
        other => (other.clone(), None, None, None, None),
    };
    let Some(paths) = body.get_mut("paths").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for ops in paths.values_mut() {
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        if ops.contains_key("options") {
            continue;
        }
        let methods = methods.clone().unwrap_or_else(|| {
            let mut verbs: Vec<String> = ops
                .keys()
                .map(|m| {
                    if m == "x-amazon-apigateway-any-method" {
                        "DELETE,GET,HEAD,PATCH,POST,PUT".to_owned()
                    } else {
                        m.to_uppercase()
                    }
                })
                .collect();
            verbs.push("OPTIONS".into());
            Value::String(format!("'{}'", verbs.join(",")))
        });
        let mut parameters = Map::new();
        parameters.insert(
            "method.response.header.Access-Control-Allow-Origin".into(),
            origin.clone(),
        );
        parameters.insert(
            "method.response.header.Access-Control-Allow-Methods".into(),
            methods,
        );
        if let Some(h) = &headers {
            parameters.insert(
                "method.response.header.Access-Control-Allow-Headers".into(),
                h.clone(),
            );
        }
        if let Some(age) = &max_age {
            parameters.insert(
                "method.response.header.Access-Control-Max-Age".into(),
                json!({"Fn::Sub": ["'${a}'", {"a": age}]}),
            );
        }
        if credentials == Some(Value::Bool(true)) {
            parameters.insert(
                "method.response.header.Access-Control-Allow-Credentials".into(),
                "'true'".into(),
            );
        }
        let headers: Map<String, Value> = parameters
            .keys()
            .map(|k| {
                (
                    k.trim_start_matches("method.response.header.").to_owned(),
                    json!({"type": "string"}),
                )
            })
            .collect();
        ops.insert(
            "options".into(),
            json!({
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": "{\n  \"statusCode\" : 200\n}\n"},
                    "responses": {"default": {"statusCode": "200", "responseParameters": parameters, "responseTemplates": {"application/json": "{}\n"}}},
                },
                "consumes": ["application/json"],
                "produces": ["application/json"],
                "responses": {"200": {"description": "Default response for CORS method", "headers": headers}},
            }),
        );
    }
    Ok(())
}

impl Sam<'_> {
    /// A REST API's `Auth`: Lambda TOKEN/REQUEST authorizers as `securityDefinitions`
    /// (+ the permission API Gateway needs to call each), `DefaultAuthorizer` on every method
    /// whose event names none.
    pub(super) fn rest_auth(
        &mut self,
        id: &str,
        body: &mut Value,
        auth: &Value,
        condition: &Option<Value>,
    ) -> Result<(), TemplateError> {
        for key in auth.as_object().into_iter().flatten().map(|(k, _)| k) {
            if ![
                "Authorizers",
                "DefaultAuthorizer",
                "AddDefaultAuthorizerToCorsPreflight",
                "ApiKeyRequired",
                "UsagePlan",
                "AddApiKeyRequiredToCorsPreflight",
            ]
            .contains(&key.as_str())
            {
                return Err(self.err(
                    id,
                    format!("Auth.{key} is not supported by Nubo's SAM transform yet"),
                ));
            }
        }
        let mut definitions = Map::new();
        for (name, a) in auth
            .get("Authorizers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let function = a.get("FunctionArn").cloned().ok_or_else(|| self.err(id, format!("Auth.Authorizers.{name}: FunctionArn is required (Cognito authorizers are not served)")))?;
            let kind = a
                .get("FunctionPayloadType")
                .and_then(Value::as_str)
                .unwrap_or("TOKEN")
                .to_lowercase();
            let identity = a.get("Identity").cloned().unwrap_or(json!({}));
            let source = if kind == "token" {
                format!(
                    "method.request.header.{}",
                    identity
                        .get("Header")
                        .and_then(Value::as_str)
                        .unwrap_or("Authorization")
                )
            } else {
                let mut sources: Vec<String> = Vec::new();
                for (key, prefix) in [
                    ("Headers", "method.request.header."),
                    ("QueryStrings", "method.request.querystring."),
                    ("StageVariables", "stageVariables."),
                    ("Context", "context."),
                ] {
                    for v in identity
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        sources.push(format!("{prefix}{v}"));
                    }
                }
                sources.join(", ")
            };
            let mut authorizer = json!({
                "type": kind,
                "authorizerUri": {"Fn::Sub": ["arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${f}/invocations", {"f": function}]},
                "identitySource": source,
                "authorizerResultTtlInSeconds": identity.get("ReauthorizeEvery").cloned().unwrap_or(json!(300)),
            });
            if let Some(v) = identity.get("ValidationExpression") {
                authorizer["identityValidationExpression"] = v.clone();
            }
            definitions.insert(name.clone(), json!({"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "custom", "x-amazon-apigateway-authorizer": authorizer}));
            let source_arn = json!({"Fn::Sub": ["arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${api}/authorizers/*", {"api": {"Ref": id}}]});
            self.permission(
                format!("{id}{name}AuthorizerPermission"),
                &function,
                "apigateway.amazonaws.com",
                Some(source_arn),
                id,
                condition,
            );
        }
        let default = auth.get("DefaultAuthorizer").and_then(Value::as_str);
        if let Some(d) = default {
            if !definitions.contains_key(d) {
                return Err(self.err(
                    id,
                    format!("Auth.DefaultAuthorizer {d} is not one of Auth.Authorizers"),
                ));
            }
        }
        let keys_required = auth
            .get("ApiKeyRequired")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut any_key = false;
        for ops in body
            .get_mut("paths")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|p| p.values_mut())
        {
            for (verb, op) in ops.as_object_mut().into_iter().flatten() {
                if verb == "options" {
                    continue;
                }
                let named = op
                    .get("security")
                    .and_then(Value::as_array)
                    .and_then(|s| s.first())
                    .and_then(Value::as_object)
                    .and_then(|m| m.keys().next().cloned());
                if let Some(named) = named.filter(|n| !definitions.contains_key(n)) {
                    return Err(self.err(id, format!("{verb} method names authorizer {named}, which Auth.Authorizers does not define")));
                }
                if op.get("security").is_none() {
                    if let Some(d) = default {
                        op["security"] = json!([{d: []}]);
                    }
                }
                let key = op
                    .as_object_mut()
                    .and_then(|o| o.remove("x-nubo-api-key"))
                    .and_then(|v| v.as_bool())
                    .unwrap_or(keys_required);
                if key {
                    any_key = true;
                    if !op["security"].is_array() {
                        op["security"] = json!([]);
                    }
                    if let Some(list) = op["security"].as_array_mut() {
                        list.push(json!({"api_key": []}));
                    }
                }
            }
        }
        if any_key {
            definitions.insert(
                "api_key".into(),
                json!({"type": "apiKey", "name": "x-api-key", "in": "header"}),
            );
        }
        if !definitions.is_empty() {
            body["securityDefinitions"] = Value::Object(definitions);
        }
        Ok(())
    }

    /// `Auth.UsagePlan.CreateUsagePlan: PER_API`: `{Api}ApiKey`, `{Api}UsagePlan`,
    /// `{Api}UsagePlanKey` for the API's stage.
    pub(super) fn usage_plan(
        &mut self,
        id: &str,
        auth: &Value,
        stage: &Value,
        condition: &Option<Value>,
    ) -> Result<(), TemplateError> {
        let Some(plan) = auth.get("UsagePlan") else {
            return Ok(());
        };
        match plan.get("CreateUsagePlan").and_then(Value::as_str) {
            Some("PER_API") => {}
            Some("NONE") | None => return Ok(()),
            Some(other) => {
                return Err(self.err(
                    id,
                    format!(
                        "Auth.UsagePlan.CreateUsagePlan {other} is not supported (PER_API or NONE)"
                    ),
                ))
            }
        }
        let deployment = format!("{id}Deployment");
        let stage_ref = json!({"RestApiId": {"Ref": id}, "StageName": stage});
        let mut key = resource(
            "AWS::ApiGateway::ApiKey",
            json!({"Enabled": true, "StageKeys": [stage_ref]}),
            id,
            condition,
        );
        key["DependsOn"] = json!([deployment]);
        self.out.insert(format!("{id}ApiKey"), key);
        let mut p = json!({"ApiStages": [{"ApiId": {"Ref": id}, "Stage": stage}]});
        for k in ["Quota", "Throttle", "UsagePlanName", "Description"] {
            if let Some(v) = plan.get(k) {
                p[k] = v.clone();
            }
        }
        let mut usage = resource("AWS::ApiGateway::UsagePlan", p, id, condition);
        usage["DependsOn"] = json!([deployment]);
        self.out.insert(format!("{id}UsagePlan"), usage);
        self.out.insert(
            format!("{id}UsagePlanKey"),
            resource("AWS::ApiGateway::UsagePlanKey", json!({"KeyId": {"Ref": format!("{id}ApiKey")}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": format!("{id}UsagePlan")}}), id, condition),
        );
        Ok(())
    }

    pub(super) fn emit_apis(&mut self) -> Result<(), TemplateError> {
        for (id, api) in std::mem::take(&mut self.rest) {
            let mut p = if api.explicit {
                api.properties
            } else {
                merge_globals(self.globals.get("Api"), api.properties)
            };
            let cors = p.remove("Cors");
            let auth = p.remove("Auth");
            let stage = match p.remove("StageName") {
                Some(s) => s,
                None if api.explicit => return Err(self.err(&id, "StageName is required")),
                None => Value::from("Prod"),
            };
            let mut body = p.remove("DefinitionBody").unwrap_or_else(|| json!({"swagger": "2.0", "info": {"version": "1.0", "title": {"Ref": "AWS::StackName"}}, "paths": {}}));
            if !body["paths"].is_object() {
                body["paths"] = json!({});
            }
            for (path, ops) in api.paths {
                let slot = body["paths"]
                    .as_object_mut()
                    .expect("paths")
                    .entry(path)
                    .or_insert_with(|| json!({}));
                merge(slot, ops);
            }
            let auth = auth.unwrap_or_else(|| json!({}));
            self.rest_auth(&id, &mut body, &auth, &api.condition)?;
            if let Some(cors) = cors {
                add_preflights(&mut body, &cors)
                    .map_err(|e| self.err(&id, format!("Cors: {e}")))?;
            }
            let name = p.remove("Name").unwrap_or(json!({"Ref": "AWS::StackName"}));
            let mut rest = json!({"Name": name, "Body": body});
            if let Some(b) = p.remove("BinaryMediaTypes") {
                rest["BinaryMediaTypes"] = b;
            }
            let digest = hash(&rest["Body"]);
            self.out.insert(
                id.clone(),
                resource("AWS::ApiGateway::RestApi", rest, &id, &api.condition),
            );
            let mut deployment = json!({"RestApiId": {"Ref": id}, "StageName": stage, "Description": format!("RestApi deployment id: {digest}")});
            if let Some(v) = p.remove("Variables") {
                deployment["Variables"] = v;
            }
            self.out.insert(
                format!("{id}Deployment"),
                resource(
                    "AWS::ApiGateway::Deployment",
                    deployment,
                    &id,
                    &api.condition,
                ),
            );
            self.usage_plan(&id, &auth, &stage, &api.condition)?;
        }
        for (id, api) in std::mem::take(&mut self.http) {
            let mut p = if api.explicit {
                api.properties
            } else {
                merge_globals(self.globals.get("HttpApi"), api.properties)
            };
            if p.get("Auth").is_some_and(|a| {
                a.get("Authorizers").is_some() || a.get("DefaultAuthorizer").is_some()
            }) {
                return Err(self.err(
                    &id,
                    "Auth: authorizers are not supported by Nubo's SAM transform yet",
                ));
            }
            let mut body = p.remove("DefinitionBody").unwrap_or_else(|| json!({"openapi": "3.0.1", "info": {"version": "1.0", "title": {"Ref": "AWS::StackName"}}, "paths": {}}));
            if !body["paths"].is_object() {
                body["paths"] = json!({});
            }
            for (path, ops) in api.paths {
                let slot = body["paths"]
                    .as_object_mut()
                    .expect("paths")
                    .entry(path)
                    .or_insert_with(|| json!({}));
                merge(slot, ops);
            }
            match p.remove("CorsConfiguration") {
                Some(Value::Bool(true)) => {
                    body["x-amazon-apigateway-cors"] =
                        json!({"allowOrigins": ["*"], "allowHeaders": ["*"], "allowMethods": ["*"]})
                }
                Some(Value::Object(c)) => {
                    let mut cors = Map::new();
                    for (k, v) in c {
                        let mut chars = k.chars();
                        let key = chars
                            .next()
                            .map(|f| f.to_ascii_lowercase().to_string() + chars.as_str())
                            .unwrap_or_default();
                        cors.insert(key, v);
                    }
                    body["x-amazon-apigateway-cors"] = Value::Object(cors);
                }
                Some(Value::String(origin)) => {
                    body["x-amazon-apigateway-cors"] = json!({"allowOrigins": [origin]})
                }
                _ => {}
            }
            let mut http = json!({"Body": body});
            if let Some(n) = p.remove("Name") {
                http["Name"] = n;
            }
            self.out.insert(
                id.clone(),
                resource("AWS::ApiGatewayV2::Api", http, &id, &api.condition),
            );
            let stage_name = p.remove("StageName");
            let stage_id = match &stage_name {
                Some(Value::String(s)) if s != "$default" => format!("{id}{s}Stage"),
                Some(Value::String(_)) | None => format!("{id}ApiGatewayDefaultStage"),
                Some(_) => format!("{id}Stage"),
            };
            let mut stage = json!({"ApiId": {"Ref": id}, "StageName": stage_name.unwrap_or("$default".into()), "AutoDeploy": true});
            for (from, to) in [
                ("StageVariables", "StageVariables"),
                ("DefaultRouteSettings", "DefaultRouteSettings"),
                ("RouteSettings", "RouteSettings"),
            ] {
                if let Some(v) = p.remove(from) {
                    stage[to] = v;
                }
            }
            self.out.insert(
                stage_id,
                resource("AWS::ApiGatewayV2::Stage", stage, &id, &api.condition),
            );
        }
        Ok(())
    }
}
