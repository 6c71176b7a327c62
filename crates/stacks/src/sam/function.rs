//! `AWS::Serverless::Function`: the function, its role and policies (with SAM's policy
//! templates), alias, URL, event-invoke config, and each event's resources and permissions.

use super::*;

impl Sam<'_> {
    pub(super) fn function(
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
            if event["Type"].as_str() == Some("DynamoDB") {
                let stream = event["Properties"]
                    .get("Stream")
                    .cloned()
                    .ok_or_else(|| self.err(id, format!("event {name}: Stream is required")))?;
                // What AWSLambdaDynamoDBExecutionRole grants, on this stream.
                statements.push(json!({"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"], "Resource": stream}));
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
    pub(super) fn policies(
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

    pub(super) fn policy_template(
        &self,
        id: &str,
        name: &str,
        args: &Value,
    ) -> Result<Value, TemplateError> {
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
        let table = |actions: &[&str]| -> Result<Value, TemplateError> {
            let t = arg("TableName")?;
            Ok(
                json!([{"Effect": "Allow", "Action": actions, "Resource": [sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}", "t", t.clone()), sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}/index/*", "t", t)]}]),
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
            "DynamoDBCrudPolicy" => table(&[
                "dynamodb:GetItem",
                "dynamodb:DeleteItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
                "dynamodb:ConditionCheckItem",
            ]),
            "DynamoDBReadPolicy" => table(&[
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:DescribeTable",
            ]),
            "DynamoDBWritePolicy" => table(&[
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ]),
            "DynamoDBStreamReadPolicy" => Ok(
                json!([{"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], "Resource": {"Fn::Sub": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}/stream/${s}", {"t": arg("TableName")?, "s": arg("StreamName")?}]}}, {"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": "*"}]),
            ),
            "AWSSecretsManagerGetSecretValuePolicy" | "SSMParameterReadPolicy" => Err(self.err(
                id,
                format!("Policies: {name} concerns a service Nubo does not serve yet"),
            )),
            other => Err(self.err(
                id,
                format!("Policies: policy template {other} is not supported"),
            )),
        }
    }

    pub(super) fn permission(
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

    pub(super) fn event(
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
            "DynamoDB" => {
                let mut m = json!({"EventSourceArn": need("Stream")?, "FunctionName": target_name, "StartingPosition": need("StartingPosition")?});
                for key in ["BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "Enabled", "FilterCriteria", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "ParallelizationFactor", "DestinationConfig", "TumblingWindowInSeconds", "StartingPositionTimestamp"] {
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
            other => return Err(self.err(id, format!("event {name}: event type {other:?} is not supported (Api, HttpApi, S3, SQS, DynamoDB, Schedule, ScheduleV2, EventBridgeRule)"))),
        }
        Ok(())
    }
}
