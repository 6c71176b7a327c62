//! The `AWS::Serverless-2016-10-31` transform: `AWS::Serverless::Function` (+ its role, alias,
//! URL, event-invoke config and events), `AWS::Serverless::Api` and `HttpApi` (explicit, or the
//! implicit `ServerlessRestApi` / `ServerlessHttpApi` that events create) become the plain types in
//! [`crate::template::SERVED_TYPES`], with the logical ids SAM generates.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::intrinsics::{self, Scope};
use crate::template::Template;
use crate::TemplateError;

/// The transform's name.
pub const TRANSFORM: &str = "AWS::Serverless-2016-10-31";

const IMPLICIT_REST: &str = "ServerlessRestApi";
const IMPLICIT_HTTP: &str = "ServerlessHttpApi";
const BASIC_EXECUTION: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// Function properties passed to `AWS::Lambda::Function` as they are.
const FUNCTION_PASS: &[&str] = &[
    "FunctionName",
    "Handler",
    "Runtime",
    "MemorySize",
    "Timeout",
    "Description",
    "Environment",
    "Architectures",
    "Layers",
    "ReservedConcurrentExecutions",
    "LoggingConfig",
    "EphemeralStorage",
    "Tags",
    "KmsKeyArn",
    "RecursiveLoop",
];
/// Accepted and not applied (no effect on Nubo, or stored by AWS for tools we do not run).
const FUNCTION_IGNORED: &[&str] = &[
    "VpcConfig",
    "Tracing",
    "SnapStart",
    "RuntimeManagementConfig",
    "DeploymentPreference",
    "PermissionsBoundary",
    "FileSystemConfigs",
    "CodeSigningConfigArn",
    "PropagateTags",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
    "RolePath",
    "AssumeRolePolicyDocument",
    "PackageType",
    "ImageConfig",
    "SourceKMSKeyArn",
    "VersionDescription",
];

struct Api {
    /// Where it was declared (for errors), or `None` for an implicit API.
    explicit: bool,
    properties: Map<String, Value>,
    paths: Map<String, Value>,
    condition: Option<Value>,
}

struct Sam<'t> {
    template: &'t Template,
    scope: Scope<'t>,
    out: Map<String, Value>,
    rest: BTreeMap<String, Api>,
    http: BTreeMap<String, Api>,
    /// `Globals`, which apply to implicit APIs too.
    globals: Value,
}

/// Expands the serverless resources of `resources`.
pub fn transform(
    template: &Template,
    resources: Map<String, Value>,
    parameters: &BTreeMap<String, Value>,
    conditions: &BTreeMap<String, bool>,
    mappings: &Value,
) -> Result<Map<String, Value>, TemplateError> {
    let none = |_: &str, _: Option<&str>| None;
    let globals = template.root.get("Globals").cloned().unwrap_or(json!({}));
    for key in globals.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !["Function", "Api", "HttpApi", "SimpleTable"].contains(&key.as_str()) {
            return Err(template.error(
                None,
                format!(
                    "Globals: section {key} is not supported (Function, Api, HttpApi, SimpleTable)"
                ),
            ));
        }
    }
    let mut sam = Sam {
        template,
        scope: Scope {
            parameters,
            conditions,
            mappings,
            resource: &none,
        },
        out: Map::new(),
        rest: BTreeMap::new(),
        http: BTreeMap::new(),
        globals: globals.clone(),
    };
    // Plain resources and explicit APIs first: events add to both.
    for (id, r) in &resources {
        let kind = r["Type"].as_str().unwrap_or_default();
        let props = r
            .get("Properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match kind {
            "AWS::Serverless::Api" | "AWS::Serverless::HttpApi" => {
                let (global_key, apis) = if kind == "AWS::Serverless::Api" {
                    ("Api", &mut sam.rest)
                } else {
                    ("HttpApi", &mut sam.http)
                };
                let properties = merge_globals(globals.get(global_key), props);
                apis.insert(
                    id.clone(),
                    Api {
                        explicit: true,
                        properties,
                        paths: Map::new(),
                        condition: r.get("Condition").cloned(),
                    },
                );
            }
            "AWS::Serverless::Function" => {}
            "AWS::Serverless::SimpleTable" => {
                return Err(template.error(Some(id), "type AWS::Serverless::SimpleTable needs DynamoDB tables, which Nubo does not serve yet"));
            }
            k if k.starts_with("AWS::Serverless::") => {
                return Err(template.error(
                    Some(id),
                    format!("type {k} is not supported by Nubo's SAM transform"),
                ));
            }
            _ => {
                sam.out.insert(id.clone(), r.clone());
            }
        }
    }
    for (id, r) in &resources {
        if r["Type"].as_str() == Some("AWS::Serverless::Function") {
            let props = r
                .get("Properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let props = merge_globals(globals.get("Function"), props);
            sam.function(
                id,
                props,
                r.get("Condition").cloned(),
                r.get("DependsOn").cloned(),
            )?;
        }
    }
    sam.emit_apis()?;
    Ok(sam.out)
}

/// SAM's Globals rule: scalars replaced by the resource's, maps merged (resource wins), lists
/// added to (globals first).
fn merge_globals(globals: Option<&Value>, props: Map<String, Value>) -> Map<String, Value> {
    let Some(Value::Object(g)) = globals else {
        return props;
    };
    let mut merged = Value::Object(g.clone());
    merge(&mut merged, Value::Object(props));
    match merged {
        Value::Object(m) => m,
        _ => unreachable!("merging maps gives a map"),
    }
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) if !is_intrinsic(b) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => b.extend(o),
        (b, o) => *b = o,
    }
}

fn is_intrinsic(map: &Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
}

fn resource(kind: &str, properties: Value, origin: &str, condition: &Option<Value>) -> Value {
    let mut r =
        json!({"Type": kind, "Properties": properties, "Metadata": {"SamResourceId": origin}});
    if let Some(c) = condition {
        r["Condition"] = c.clone();
    }
    r
}

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

fn hash(value: &Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))[..10].to_owned()
}

impl Sam<'_> {
    fn err(&self, id: &str, message: impl Into<String>) -> TemplateError {
        self.template.error(Some(id), message)
    }

    /// A value that must be known before any resource exists (parameters and conditions only).
    fn static_text(&self, id: &str, what: &str, v: &Value) -> Result<String, TemplateError> {
        intrinsics::resolve(v, &self.scope)
            .and_then(|v| v.ok_or_else(|| "AWS::NoValue".to_owned()))
            .and_then(|v| intrinsics::text(&v))
            .map_err(|e| self.err(id, format!("{what}: {e} (must be known before deploying)")))
    }

    fn function(
        &mut self,
        id: &str,
        mut p: Map<String, Value>,
        condition: Option<Value>,
        depends_on: Option<Value>,
    ) -> Result<(), TemplateError> {
        for key in p.keys() {
            let known = FUNCTION_PASS.contains(&key.as_str())
                || FUNCTION_IGNORED.contains(&key.as_str())
                || [
                    "CodeUri",
                    "InlineCode",
                    "Role",
                    "Policies",
                    "Events",
                    "AutoPublishAlias",
                    "ProvisionedConcurrencyConfig",
                    "EventInvokeConfig",
                    "FunctionUrlConfig",
                    "DeadLetterQueue",
                    "ImageUri",
                ]
                .contains(&key.as_str());
            if !known {
                return Err(self.err(
                    id,
                    format!("property {key} is not an AWS::Serverless::Function property"),
                ));
            }
        }
        let mut f = Map::new();
        for key in FUNCTION_PASS {
            if let Some(v) = p.remove(*key) {
                f.insert((*key).to_owned(), v);
            }
        }
        if let Some(Value::Object(mut tags)) = f.remove("Tags") {
            tags.insert("lambda:createdBy".into(), "SAM".into());
            f.insert("Tags".into(), Value::Object(tags));
        }
        let code = match (p.remove("CodeUri"), p.remove("InlineCode"), p.remove("ImageUri")) {
            (_, _, Some(_)) => return Err(self.err(id, "ImageUri: container image functions are not served by Nubo; use CodeUri")),
            (Some(Value::String(path)), None, None) => json!({"NuboCodeUri": path}),
            (Some(Value::Object(_)), _, _) => return Err(self.err(id, "CodeUri: an S3 location is not supported; give a local folder (nubo deploy zips it)")),
            (None, Some(code), None) => json!({"ZipFile": code}),
            (None, None, None) => return Err(self.err(id, "CodeUri or InlineCode is required")),
            _ => return Err(self.err(id, "CodeUri: expected a local folder path")),
        };
        f.insert("Code".into(), code);
        if !f.contains_key("Handler") || !f.contains_key("Runtime") {
            return Err(self.err(
                id,
                "Handler and Runtime are required (on the function or in Globals.Function)",
            ));
        }
        if let Some(Value::Object(dlq)) = p.remove("DeadLetterQueue") {
            f.insert(
                "DeadLetterConfig".into(),
                json!({"TargetArn": dlq.get("TargetArn").cloned().unwrap_or(Value::Null)}),
            );
        }
        let events = p
            .remove("Events")
            .and_then(|e| e.as_object().cloned())
            .unwrap_or_default();

        // The execution role: the given one, or `<F>Role` with the policies asked for.
        let mut statements: Vec<Value> = Vec::new();
        for (name, event) in &events {
            if event["Type"].as_str() == Some("SQS") {
                let queue = event["Properties"]
                    .get("Queue")
                    .cloned()
                    .ok_or_else(|| self.err(id, format!("event {name}: Queue is required")))?;
                statements.push(json!({"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"], "Resource": queue}));
            }
        }
        match p.remove("Role") {
            Some(role) => {
                f.insert("Role".into(), role);
            }
            None => {
                let role_id = format!("{id}Role");
                let (managed, mut inline) = self.policies(id, p.remove("Policies"))?;
                if !statements.is_empty() {
                    inline.push(json!({"Version": "2012-10-17", "Statement": statements}));
                }
                let policies: Vec<Value> = inline
                    .into_iter()
                    .enumerate()
                    .map(|(i, doc)| json!({"PolicyName": format!("{id}RolePolicy{i}"), "PolicyDocument": doc}))
                    .collect();
                let mut arns = vec![Value::from(BASIC_EXECUTION)];
                arns.extend(managed);
                let role = json!({
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"Service": ["lambda.amazonaws.com"]}}]},
                    "ManagedPolicyArns": arns,
                    "Policies": policies,
                    "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}],
                });
                self.out.insert(
                    role_id.clone(),
                    resource("AWS::IAM::Role", role, id, &condition),
                );
                f.insert("Role".into(), json!({"Fn::GetAtt": [role_id, "Arn"]}));
            }
        }
        let mut lambda = resource("AWS::Lambda::Function", Value::Object(f), id, &condition);
        if let Some(d) = depends_on {
            lambda["DependsOn"] = d;
        }
        self.out.insert(id.to_owned(), lambda);

        // What events, URLs and permissions target: the alias when there is one.
        let alias = match p.remove("AutoPublishAlias") {
            Some(a) => Some(self.static_text(id, "AutoPublishAlias", &a)?),
            None => None,
        };
        let provisioned = p.remove("ProvisionedConcurrencyConfig");
        let (target_arn, target_name, qualifier) = match &alias {
            Some(alias) => {
                let version_id = format!("{id}Version");
                let alias_id = format!("{id}Alias{alias}");
                self.out.insert(version_id.clone(), resource("AWS::Lambda::Version", json!({"FunctionName": {"Ref": id}, "NuboRevision": {"Fn::GetAtt": [id, "NuboRevision"]}}), id, &condition));
                let mut a = json!({"FunctionName": {"Ref": id}, "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]}, "Name": alias});
                if let Some(pc) = provisioned {
                    a["ProvisionedConcurrencyConfig"] = pc;
                }
                self.out.insert(
                    alias_id.clone(),
                    resource("AWS::Lambda::Alias", a, id, &condition),
                );
                (
                    json!({"Ref": alias_id}),
                    json!({"Ref": alias_id}),
                    Value::from(alias.clone()),
                )
            }
            None => {
                if provisioned.is_some() {
                    return Err(self.err(id, "ProvisionedConcurrencyConfig needs AutoPublishAlias"));
                }
                (
                    json!({"Fn::GetAtt": [id, "Arn"]}),
                    json!({"Ref": id}),
                    Value::from("$LATEST"),
                )
            }
        };
        if let Some(Value::Object(config)) = p.remove("EventInvokeConfig") {
            let mut c = json!({"FunctionName": {"Ref": id}, "Qualifier": qualifier});
            for key in ["MaximumEventAgeInSeconds", "MaximumRetryAttempts"] {
                if let Some(v) = config.get(key) {
                    c[key] = v.clone();
                }
            }
            if let Some(Value::Object(dest)) = config.get("DestinationConfig") {
                let mut d = Map::new();
                for (k, v) in dest {
                    d.insert(k.clone(), json!({"Destination": v.get("Destination").cloned().unwrap_or(Value::Null)}));
                }
                c["DestinationConfig"] = Value::Object(d);
            }
            let mut r = resource("AWS::Lambda::EventInvokeConfig", c, id, &condition);
            if let Some(a) = &alias {
                r["DependsOn"] = json!([format!("{id}Alias{a}")]);
            }
            self.out.insert(format!("{id}EventInvokeConfig"), r);
        }
        if let Some(Value::Object(config)) = p.remove("FunctionUrlConfig") {
            let mut u = json!({"TargetFunctionArn": {"Ref": id}, "AuthType": config.get("AuthType").cloned().unwrap_or("AWS_IAM".into())});
            if alias.is_some() {
                u["Qualifier"] = qualifier.clone();
            }
            for key in ["Cors", "InvokeMode"] {
                if let Some(v) = config.get(key) {
                    u[key] = v.clone();
                }
            }
            let mut r = resource("AWS::Lambda::Url", u, id, &condition);
            if let Some(a) = &alias {
                r["DependsOn"] = json!([format!("{id}Alias{a}")]);
            }
            self.out.insert(format!("{id}Url"), r);
        }
        for (name, event) in events {
            self.event(id, &name, &event, &target_arn, &target_name, &condition)?;
        }
        Ok(())
    }

    /// `Policies`: managed names/ARNs, inline documents, SAM policy templates.
    fn policies(
        &self,
        id: &str,
        policies: Option<Value>,
    ) -> Result<(Vec<Value>, Vec<Value>), TemplateError> {
        let list = match policies {
            None => return Ok((vec![], vec![])),
            Some(Value::Array(items)) => items,
            Some(one) => vec![one],
        };
        let mut managed = Vec::new();
        let mut inline = Vec::new();
        for p in list {
            match p {
                Value::String(s) if s.starts_with("arn:") => managed.push(Value::String(s)),
                Value::String(s) => {
                    managed.push(Value::String(format!("arn:aws:iam::aws:policy/{s}")))
                }
                Value::Object(m) if m.contains_key("Statement") => inline.push(Value::Object(m)),
                Value::Object(m) if is_intrinsic(&m) => managed.push(Value::Object(m)),
                Value::Object(m) if m.len() == 1 => {
                    let (name, args) = m.into_iter().next().expect("one entry");
                    inline.push(json!({"Version": "2012-10-17", "Statement": self.policy_template(id, &name, &args)?}));
                }
                other => return Err(self.err(id, format!("Policies: cannot read {other}"))),
            }
        }
        Ok((managed, inline))
    }

    fn policy_template(&self, id: &str, name: &str, args: &Value) -> Result<Value, TemplateError> {
        let arg = |key: &str| {
            args.get(key)
                .cloned()
                .ok_or_else(|| self.err(id, format!("Policies: {name} needs {key}")))
        };
        let sub = |pattern: &str, key: &str, v: Value| json!({"Fn::Sub": [pattern, {key: v}]});
        let bucket = |actions: &[&str]| -> Result<Value, TemplateError> {
            let b = arg("BucketName")?;
            Ok(
                json!([{"Effect": "Allow", "Action": actions, "Resource": [sub("arn:${AWS::Partition}:s3:::${b}", "b", b.clone()), sub("arn:${AWS::Partition}:s3:::${b}/*", "b", b)]}]),
            )
        };
        let queue = |actions: &[&str]| -> Result<Value, TemplateError> {
            Ok(
                json!([{"Effect": "Allow", "Action": actions, "Resource": sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${q}", "q", arg("QueueName")?)}]),
            )
        };
        match name {
            "S3ReadPolicy" => bucket(&[
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
            ]),
            "S3WritePolicy" => bucket(&[
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:PutLifecycleConfiguration",
            ]),
            "S3CrudPolicy" => bucket(&[
                "s3:GetObject",
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:PutObjectAcl",
                "s3:GetLifecycleConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:DeleteObject",
            ]),
            "S3FullAccessPolicy" => bucket(&["s3:*"]),
            "SQSPollerPolicy" => queue(&[
                "sqs:ChangeMessageVisibility",
                "sqs:ChangeMessageVisibilityBatch",
                "sqs:DeleteMessage",
                "sqs:DeleteMessageBatch",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ]),
            "SQSSendMessagePolicy" => queue(&["sqs:SendMessage*"]),
            "LambdaInvokePolicy" => Ok(
                json!([{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": sub("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${f}*", "f", arg("FunctionName")?)}]),
            ),
            "EventBridgePutEventsPolicy" => Ok(
                json!([{"Effect": "Allow", "Action": "events:PutEvents", "Resource": sub("arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${b}", "b", arg("EventBusName")?)}]),
            ),
            "CloudWatchPutMetricPolicy" => Ok(
                json!([{"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"}]),
            ),
            "AWSSecretsManagerGetSecretValuePolicy"
            | "SSMParameterReadPolicy"
            | "DynamoDBCrudPolicy"
            | "DynamoDBReadPolicy" => Err(self.err(
                id,
                format!("Policies: {name} concerns a service Nubo does not serve yet"),
            )),
            other => Err(self.err(
                id,
                format!("Policies: policy template {other} is not supported"),
            )),
        }
    }

    fn permission(
        &mut self,
        logical: String,
        function: &Value,
        principal: &str,
        source_arn: Option<Value>,
        origin: &str,
        condition: &Option<Value>,
    ) {
        let mut p = json!({"Action": "lambda:InvokeFunction", "FunctionName": function, "Principal": principal});
        match source_arn {
            Some(arn) => p["SourceArn"] = arn,
            None => p["SourceAccount"] = json!({"Ref": "AWS::AccountId"}),
        }
        self.out.insert(
            logical,
            resource("AWS::Lambda::Permission", p, origin, condition),
        );
    }

    fn event(
        &mut self,
        id: &str,
        name: &str,
        event: &Value,
        target_arn: &Value,
        target_name: &Value,
        condition: &Option<Value>,
    ) -> Result<(), TemplateError> {
        let kind = event["Type"].as_str().unwrap_or_default();
        let props = event.get("Properties").cloned().unwrap_or(json!({}));
        let get = |key: &str| props.get(key).cloned();
        let need = |key: &str| {
            get(key)
                .ok_or_else(|| self.err(id, format!("event {name} ({kind}): {key} is required")))
        };
        let logical = format!("{id}{name}");
        match kind {
            "Api" | "HttpApi" => {
                let rest = kind == "Api";
                let (api, path, method) = if rest {
                    (get("RestApiId"), Some(need("Path")?), Some(need("Method")?))
                } else {
                    (get("ApiId"), get("Path"), get("Method"))
                };
                let api_id = match api {
                    None => if rest { IMPLICIT_REST.to_owned() } else { IMPLICIT_HTTP.to_owned() },
                    Some(Value::Object(m)) if m.get("Ref").and_then(Value::as_str).is_some() => m["Ref"].as_str().unwrap_or_default().to_owned(),
                    Some(other) => return Err(self.err(id, format!("event {name}: {} must be a !Ref to an API in this template, not {other}", if rest { "RestApiId" } else { "ApiId" }))),
                };
                let event_authorizer = props.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Value::as_str).map(str::to_owned);
                if !rest && event_authorizer.as_deref().is_some_and(|a| a != "NONE") {
                    return Err(self.err(id, format!("event {name}: Auth.Authorizer on HTTP APIs is not supported (Nubo's HTTP APIs have no JWT or Lambda authorizers yet)")));
                }
                let key_required = props.get("Auth").and_then(|a| a.get("ApiKeyRequired")).and_then(Value::as_bool);
                if !rest && key_required == Some(true) {
                    return Err(self.err(id, format!("event {name}: HTTP APIs have no API keys")));
                }
                let path = match path {
                    Some(p) => self.static_text(id, "Path", &p)?,
                    None => "$default".to_owned(),
                };
                let method = match method {
                    Some(m) => self.static_text(id, "Method", &m)?.to_lowercase(),
                    None => "any".to_owned(),
                };
                let uri = if rest {
                    json!({"Fn::Sub": ["arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${target}/invocations", {"target": target_arn}]})
                } else {
                    target_arn.clone()
                };
                let mut integration = json!({"type": "aws_proxy", "httpMethod": "POST", "uri": uri});
                if !rest {
                    let version = match get("PayloadFormatVersion") {
                        Some(v) => self.static_text(id, "PayloadFormatVersion", &v)?,
                        None => "2.0".to_owned(),
                    };
                    integration["payloadFormatVersion"] = version.into();
                }
                if let Some(t) = get("TimeoutInMillis") {
                    integration["timeoutInMillis"] = t;
                }
                let op_key = if method == "any" { "x-amazon-apigateway-any-method".to_owned() } else { method.clone() };
                let apis = if rest { &mut self.rest } else { &mut self.http };
                let api = apis.entry(api_id.clone()).or_insert_with(|| Api { explicit: false, properties: Map::new(), paths: Map::new(), condition: None });
                let ops = api.paths.entry(path.clone()).or_insert_with(|| json!({}));
                if ops.get(&op_key).is_some() {
                    return Err(self.err(id, format!("event {name}: {} {path} is already routed", method.to_uppercase())));
                }
                ops[&op_key] = json!({"x-amazon-apigateway-integration": integration, "responses": {}});
                match event_authorizer.as_deref() {
                    Some("NONE") => ops[&op_key]["security"] = json!([]),
                    Some(a) => ops[&op_key]["security"] = json!([{a: []}]),
                    None => {}
                }
                // The event's own say on API keys wins over the API's (`x-nubo-api-key`).
                if let Some(required) = key_required {
                    ops[&op_key]["x-nubo-api-key"] = Value::Bool(required);
                }
                let arn_path = if path == "$default" { "*".to_owned() } else {
                    path.split('/').map(|s| if s.starts_with('{') { "*" } else { s }).collect::<Vec<_>>().join("/")
                };
                let arn_method = if method == "any" { "*".to_owned() } else { method.to_uppercase() };
                let source = json!({"Fn::Sub": [format!("arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{api}}/*/{arn_method}{}", if arn_path.starts_with('/') { arn_path.clone() } else { format!("/{arn_path}") }), {"api": {"Ref": api_id}}]});
                let suffix = if rest { "PermissionProd" } else { "Permission" };
                self.permission(format!("{logical}{suffix}"), target_name, "apigateway.amazonaws.com", Some(source), id, condition);
            }
            "S3" => {
                let bucket = match need("Bucket")? {
                    Value::Object(m) if m.get("Ref").and_then(Value::as_str).is_some() => m["Ref"].as_str().unwrap_or_default().to_owned(),
                    other => return Err(self.err(id, format!("event {name}: Bucket must be a !Ref to an AWS::S3::Bucket in this template, not {other}"))),
                };
                let permission_id = format!("{logical}Permission");
                let events = match need("Events")? {
                    Value::Array(items) => items,
                    one => vec![one],
                };
                let b = self.out.get_mut(&bucket).filter(|b| b["Type"] == "AWS::S3::Bucket").ok_or_else(|| {
                    self.template.error(Some(id), format!("event {name}: Bucket {bucket} is not an AWS::S3::Bucket of this template"))
                })?;
                if !b["Properties"].is_object() {
                    b["Properties"] = json!({});
                }
                let configs = b["Properties"]
                    .as_object_mut()
                    .expect("an object")
                    .entry("NotificationConfiguration")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|n| n.entry("LambdaConfigurations").or_insert_with(|| json!([])));
                if let Some(Value::Array(list)) = configs {
                    for e in events {
                        let mut c = json!({"Event": e, "Function": target_arn});
                        if let Some(f) = get("Filter") {
                            c["Filter"] = f;
                        }
                        list.push(c);
                    }
                }
                let depends = b.as_object_mut().expect("an object").entry("DependsOn").or_insert_with(|| json!([]));
                if let Value::String(s) = depends {
                    *depends = json!([s.clone()]);
                }
                if let Value::Array(d) = depends {
                    d.push(Value::String(permission_id.clone()));
                }
                self.permission(permission_id, target_name, "s3.amazonaws.com", None, id, condition);
            }
            "SQS" => {
                let mut m = json!({"EventSourceArn": need("Queue")?, "FunctionName": target_name});
                for key in ["BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "Enabled", "FilterCriteria", "ScalingConfig"] {
                    if let Some(v) = get(key) {
                        m[key] = v;
                    }
                }
                let mut r = resource("AWS::Lambda::EventSourceMapping", m, id, condition);
                if self.out.contains_key(&format!("{id}Role")) {
                    r["DependsOn"] = json!([format!("{id}Role")]);
                }
                self.out.insert(logical, r);
            }
            "Schedule" | "ScheduleV2" | "EventBridgeRule" | "CloudWatchEvent" => {
                let mut rule = json!({});
                if kind.starts_with("Schedule") {
                    rule["ScheduleExpression"] = need(if kind == "Schedule" { "Schedule" } else { "ScheduleExpression" })?;
                } else {
                    rule["EventPattern"] = need("Pattern")?;
                    if let Some(bus) = get("EventBusName") {
                        rule["EventBusName"] = bus;
                    }
                }
                let enabled = match (get("Enabled"), get("State")) {
                    (Some(Value::Bool(false)), _) => "DISABLED".into(),
                    (_, Some(state)) => state,
                    _ => "ENABLED".into(),
                };
                rule["State"] = enabled;
                for key in ["Name", "Description"] {
                    if let Some(v) = get(key) {
                        rule[key] = v;
                    }
                }
                let mut target = json!({"Arn": target_arn, "Id": format!("{logical}LambdaTarget")});
                for key in ["Input", "InputPath"] {
                    if let Some(v) = get(key) {
                        target[key] = v;
                    }
                }
                rule["Targets"] = json!([target]);
                self.out.insert(logical.clone(), resource("AWS::Events::Rule", rule, id, condition));
                self.permission(format!("{logical}Permission"), target_name, "events.amazonaws.com", Some(json!({"Fn::GetAtt": [logical, "Arn"]})), id, condition);
            }
            other => return Err(self.err(id, format!("event {name}: event type {other:?} is not supported (Api, HttpApi, S3, SQS, Schedule, ScheduleV2, EventBridgeRule)"))),
        }
        Ok(())
    }

    /// A REST API's `Auth`: Lambda TOKEN/REQUEST authorizers as `securityDefinitions`
    /// (+ the permission API Gateway needs to call each), `DefaultAuthorizer` on every method
    /// whose event names none.
    fn rest_auth(
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
    fn usage_plan(
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

    fn emit_apis(&mut self) -> Result<(), TemplateError> {
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

#[cfg(test)]
mod tests;
