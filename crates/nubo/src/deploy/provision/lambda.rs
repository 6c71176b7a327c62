//! Functions and what hangs off them: permissions, versions, aliases, URLs, event-source
//! mappings, event-invoke configs.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};

use nubo_stacks::{Deployed, Physical};
use nubo_wire::sigv4::uri_encode;

use super::{attributes, number, only, revision, tag_map, text, ApiProvisioner, Failure, Result};

const FUNCTION_PROPS: &[&str] = &[
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
    "Code",
    "Role",
    "DeadLetterConfig",
    "TracingConfig",
    "VpcConfig",
];

fn function_of(arn_or_name: &str) -> String {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    let parts: Vec<&str> = arn_or_name.split(':').collect();
    if parts.len() >= 7 && parts[0] == "arn" {
        parts[6].to_owned()
    } else {
        arn_or_name.to_owned()
    }
}

fn qualifier_of(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    (parts.len() == 8 && parts[0] == "arn").then(|| parts[7].to_owned())
}

/// The function configuration's settable members from the template's properties.
fn configuration(p: &Value) -> Value {
    let mut c = Map::new();
    for key in [
        "Handler",
        "Runtime",
        "Description",
        "Role",
        "Layers",
        "Architectures",
        "LoggingConfig",
        "EphemeralStorage",
        "DeadLetterConfig",
        "KmsKeyArn",
    ] {
        if let Some(v) = p.get(key) {
            c.insert(key.to_owned(), v.clone());
        }
    }
    for key in ["MemorySize", "Timeout"] {
        if let Some(v) = p.get(key).and_then(number) {
            c.insert(key.to_owned(), v);
        }
    }
    let mut variables = Map::new();
    if let Some(Value::Object(vars)) = p.get("Environment").and_then(|e| e.get("Variables")) {
        for (k, v) in vars {
            variables.insert(
                k.clone(),
                Value::String(text(v).unwrap_or_else(|| v.to_string())),
            );
        }
    }
    c.insert("Environment".into(), json!({"Variables": variables}));
    Value::Object(c)
}

impl ApiProvisioner<'_> {
    fn zip_of(&self, p: &Value) -> Result<String> {
        let code = p
            .get("Code")
            .ok_or_else(|| Failure::local("Code is required"))?;
        let bytes = if let Some(uri) = code.get("NuboCodeUri").and_then(Value::as_str) {
            self.code
                .get(uri)
                .cloned()
                .ok_or_else(|| Failure::local(format!("CodeUri {uri} was not packaged")))?
        } else if let Some(inline) = code.get("ZipFile").and_then(Value::as_str) {
            let file = match p.get("Runtime").and_then(Value::as_str) {
                Some(r) if r.starts_with("nodejs") => "index.js",
                _ => "index.py",
            };
            crate::deploy::package::zip_files(&[(
                file.to_owned(),
                inline.as_bytes().to_vec(),
                false,
            )])
            .map_err(|e| Failure::local(e.to_string()))?
        } else {
            return Err(Failure::local(
                "Code: only a local CodeUri or ZipFile is supported",
            ));
        };
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Waits until the function accepts the next change (State Active, LastUpdateStatus done).
    async fn settled(&self, name: &str) -> Result<()> {
        let path = format!("/2015-03-31/functions/{}/configuration", uri_encode(name));
        for _ in 0..300 {
            let c = self
                .rest("lambda", http::Method::GET, &path, &[], None)
                .await?;
            let state = c["State"].as_str().unwrap_or("Active");
            let update = c["LastUpdateStatus"].as_str().unwrap_or("Successful");
            if state == "Failed" || update == "Failed" {
                return Err(Failure::local(format!(
                    "function {name}: {}",
                    c["StateReason"]
                        .as_str()
                        .or(c["LastUpdateStatusReason"].as_str())
                        .unwrap_or("failed")
                )));
            }
            if state != "Pending" && update != "InProgress" {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Failure::local(format!(
            "function {name} did not become Active within 30 s"
        )))
    }

    async fn concurrency(&self, name: &str, p: &Value, had: bool) -> Result<()> {
        let path = format!("/2017-10-31/functions/{}/concurrency", uri_encode(name));
        match p.get("ReservedConcurrentExecutions").and_then(number) {
            Some(n) => {
                self.rest(
                    "lambda",
                    http::Method::PUT,
                    &path,
                    &[],
                    Some(&json!({"ReservedConcurrentExecutions": n})),
                )
                .await?;
            }
            None if had => {
                self.rest("lambda", http::Method::DELETE, &path, &[], None)
                    .await?;
            }
            None => {}
        }
        Ok(())
    }

    fn function_physical(name: &str, arn: &Value, p: &Value) -> Physical {
        Physical {
            id: name.to_owned(),
            attributes: attributes(&[
                ("Arn", arn.clone()),
                ("NuboRevision", Value::String(revision(p))),
            ]),
        }
    }

    pub(super) async fn function_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only("AWS::Lambda::Function", p, FUNCTION_PROPS)?;
        let name = p
            .get("FunctionName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 64, false));
        let mut body = configuration(p);
        body["FunctionName"] = name.clone().into();
        body["Code"] = json!({"ZipFile": self.zip_of(p)?});
        if p.get("Tags").is_some() {
            body["Tags"] = tag_map(p.get("Tags"));
        }
        let created = self
            .rest(
                "lambda",
                http::Method::POST,
                "/2015-03-31/functions",
                &[],
                Some(&body),
            )
            .await?;
        self.settled(&name).await?;
        self.concurrency(&name, p, false).await?;
        Ok(Self::function_physical(&name, &created["FunctionArn"], p))
    }

    pub(super) async fn function_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        only("AWS::Lambda::Function", p, FUNCTION_PROPS)?;
        let name = &old.physical_id;
        let base = format!("/2015-03-31/functions/{}", uri_encode(name));
        if p.get("Code") != old.properties.get("Code") {
            self.rest(
                "lambda",
                http::Method::PUT,
                &format!("{base}/code"),
                &[],
                Some(&json!({"ZipFile": self.zip_of(p)?})),
            )
            .await?;
            self.settled(name).await?;
        }
        if configuration(p) != configuration(&old.properties) {
            self.rest(
                "lambda",
                http::Method::PUT,
                &format!("{base}/configuration"),
                &[],
                Some(&configuration(p)),
            )
            .await?;
            self.settled(name).await?;
        }
        if p.get("ReservedConcurrentExecutions")
            != old.properties.get("ReservedConcurrentExecutions")
        {
            self.concurrency(
                name,
                p,
                old.properties.get("ReservedConcurrentExecutions").is_some(),
            )
            .await?;
        }
        Ok(Self::function_physical(name, &old.attributes["Arn"], p))
    }

    pub(super) async fn function_delete(&self, old: &Deployed) -> Result<()> {
        let path = format!("/2015-03-31/functions/{}", uri_encode(&old.physical_id));
        self.rest("lambda", http::Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }

    pub(super) async fn permission_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::Lambda::Permission",
            p,
            &[
                "Action",
                "FunctionName",
                "Principal",
                "SourceArn",
                "SourceAccount",
                "FunctionUrlAuthType",
                "EventSourceToken",
                "PrincipalOrgID",
            ],
        )?;
        let function = p
            .get("FunctionName")
            .and_then(text)
            .ok_or_else(|| Failure::local("FunctionName is required"))?;
        let sid = format!("{logical}-{}", &revision(p)[..8]);
        let mut body =
            json!({"StatementId": sid, "Action": p["Action"], "Principal": p["Principal"]});
        for key in [
            "SourceArn",
            "SourceAccount",
            "FunctionUrlAuthType",
            "EventSourceToken",
            "PrincipalOrgID",
        ] {
            if let Some(v) = p.get(key) {
                body[key] = v.clone();
            }
        }
        let mut query = Vec::new();
        let qualifier = qualifier_of(&function);
        if let Some(q) = &qualifier {
            query.push(("Qualifier", q.as_str()));
        }
        let path = format!(
            "/2015-03-31/functions/{}/policy",
            uri_encode(&function_of(&function))
        );
        match self
            .rest("lambda", http::Method::POST, &path, &query, Some(&body))
            .await
        {
            Ok(_) => {}
            // The same statement from a deploy that failed to record it.
            Err(e) if e.code == "ResourceConflictException" => {}
            Err(e) => return Err(e),
        }
        Ok(Physical {
            id: sid,
            attributes: Map::new(),
        })
    }

    pub(super) async fn permission_delete(&self, old: &Deployed) -> Result<()> {
        let function = old
            .properties
            .get("FunctionName")
            .and_then(text)
            .unwrap_or_default();
        let path = format!(
            "/2015-03-31/functions/{}/policy/{}",
            uri_encode(&function_of(&function)),
            uri_encode(&old.physical_id)
        );
        let qualifier = qualifier_of(&function);
        let query: Vec<(&str, &str)> = qualifier
            .iter()
            .map(|q| ("Qualifier", q.as_str()))
            .collect();
        self.rest("lambda", http::Method::DELETE, &path, &query, None)
            .await
            .map(drop)
    }

    pub(super) async fn version_publish(&self, p: &Value) -> Result<Physical> {
        let function = p.get("FunctionName").and_then(text).unwrap_or_default();
        let path = format!(
            "/2015-03-31/functions/{}/versions",
            uri_encode(&function_of(&function))
        );
        let v = self
            .rest("lambda", http::Method::POST, &path, &[], Some(&json!({})))
            .await?;
        let arn = v["FunctionArn"].as_str().unwrap_or_default().to_owned();
        Ok(Physical {
            id: arn,
            attributes: attributes(&[("Version", v["Version"].clone())]),
        })
    }

    pub(super) async fn alias_put(&self, p: &Value, old: Option<&Deployed>) -> Result<Physical> {
        only(
            "AWS::Lambda::Alias",
            p,
            &[
                "FunctionName",
                "FunctionVersion",
                "Name",
                "Description",
                "ProvisionedConcurrencyConfig",
                "RoutingConfig",
            ],
        )?;
        let function = function_of(&p.get("FunctionName").and_then(text).unwrap_or_default());
        let name = p.get("Name").and_then(text).unwrap_or_default();
        let mut body =
            json!({"Name": name, "FunctionVersion": p.get("FunctionVersion").and_then(text)});
        if let Some(d) = p.get("Description") {
            body["Description"] = d.clone();
        }
        let base = format!("/2015-03-31/functions/{}/aliases", uri_encode(&function));
        let alias = match old {
            None => {
                self.rest("lambda", http::Method::POST, &base, &[], Some(&body))
                    .await?
            }
            Some(_) => {
                self.rest(
                    "lambda",
                    http::Method::PUT,
                    &format!("{base}/{}", uri_encode(&name)),
                    &[],
                    Some(&body),
                )
                .await?
            }
        };
        let pc_path = format!(
            "/2019-09-30/functions/{}/provisioned-concurrency",
            uri_encode(&function)
        );
        match p
            .get("ProvisionedConcurrencyConfig")
            .and_then(|c| c.get("ProvisionedConcurrentExecutions"))
            .and_then(number)
        {
            Some(n) => {
                self.rest(
                    "lambda",
                    http::Method::PUT,
                    &pc_path,
                    &[("Qualifier", &name)],
                    Some(&json!({"ProvisionedConcurrentExecutions": n})),
                )
                .await?;
            }
            None if old
                .is_some_and(|o| o.properties.get("ProvisionedConcurrencyConfig").is_some()) =>
            {
                self.rest(
                    "lambda",
                    http::Method::DELETE,
                    &pc_path,
                    &[("Qualifier", &name)],
                    None,
                )
                .await?;
            }
            None => {}
        }
        Ok(Physical {
            id: alias["AliasArn"].as_str().unwrap_or_default().to_owned(),
            attributes: Map::new(),
        })
    }

    pub(super) async fn alias_delete(&self, old: &Deployed) -> Result<()> {
        let function = function_of(
            &old.properties
                .get("FunctionName")
                .and_then(text)
                .unwrap_or_default(),
        );
        let name = old
            .properties
            .get("Name")
            .and_then(text)
            .unwrap_or_default();
        let path = format!(
            "/2015-03-31/functions/{}/aliases/{}",
            uri_encode(&function),
            uri_encode(&name)
        );
        self.rest("lambda", http::Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }

    pub(super) async fn url_put(&self, p: &Value, update: bool) -> Result<Physical> {
        only(
            "AWS::Lambda::Url",
            p,
            &[
                "TargetFunctionArn",
                "Qualifier",
                "AuthType",
                "Cors",
                "InvokeMode",
            ],
        )?;
        let function = function_of(
            &p.get("TargetFunctionArn")
                .and_then(text)
                .unwrap_or_default(),
        );
        let mut body = json!({"AuthType": p.get("AuthType").cloned().unwrap_or("AWS_IAM".into())});
        for key in ["Cors", "InvokeMode"] {
            if let Some(v) = p.get(key) {
                body[key] = v.clone();
            }
        }
        let qualifier = p.get("Qualifier").and_then(text);
        let query: Vec<(&str, &str)> = qualifier
            .iter()
            .map(|q| ("Qualifier", q.as_str()))
            .collect();
        let path = format!("/2021-10-31/functions/{}/url", uri_encode(&function));
        let method = if update {
            http::Method::PUT
        } else {
            http::Method::POST
        };
        let url = self
            .rest("lambda", method, &path, &query, Some(&body))
            .await?;
        let raw = url["FunctionUrl"].as_str().unwrap_or_default().to_owned();
        let working = crate::deploy::urls::function_url(&self.endpoint, &raw);
        Ok(Physical {
            id: raw,
            attributes: attributes(&[
                ("FunctionUrl", Value::String(working)),
                ("FunctionArn", url["FunctionArn"].clone()),
            ]),
        })
    }

    pub(super) async fn url_delete(&self, old: &Deployed) -> Result<()> {
        let function = function_of(
            &old.properties
                .get("TargetFunctionArn")
                .and_then(text)
                .unwrap_or_default(),
        );
        let qualifier = old.properties.get("Qualifier").and_then(text);
        let query: Vec<(&str, &str)> = qualifier
            .iter()
            .map(|q| ("Qualifier", q.as_str()))
            .collect();
        let path = format!("/2021-10-31/functions/{}/url", uri_encode(&function));
        self.rest("lambda", http::Method::DELETE, &path, &query, None)
            .await
            .map(drop)
    }

    fn mapping_body(p: &Value) -> Value {
        let mut body = json!({"FunctionName": p.get("FunctionName").cloned()});
        for key in [
            "BatchSize",
            "MaximumBatchingWindowInSeconds",
            "MaximumRetryAttempts",
            "MaximumRecordAgeInSeconds",
            "ParallelizationFactor",
            "TumblingWindowInSeconds",
        ] {
            if let Some(v) = p.get(key).and_then(number) {
                body[key] = v;
            }
        }
        for key in [
            "FunctionResponseTypes",
            "Enabled",
            "FilterCriteria",
            "ScalingConfig",
            "BisectBatchOnFunctionError",
            "DestinationConfig",
        ] {
            if let Some(v) = p.get(key) {
                body[key] = v.clone();
            }
        }
        body
    }

    pub(super) async fn mapping_create(&self, p: &Value) -> Result<Physical> {
        only(
            "AWS::Lambda::EventSourceMapping",
            p,
            &[
                "EventSourceArn",
                "FunctionName",
                "BatchSize",
                "MaximumBatchingWindowInSeconds",
                "FunctionResponseTypes",
                "Enabled",
                "FilterCriteria",
                "ScalingConfig",
                "StartingPosition",
                "StartingPositionTimestamp",
                "MaximumRetryAttempts",
                "MaximumRecordAgeInSeconds",
                "BisectBatchOnFunctionError",
                "ParallelizationFactor",
                "DestinationConfig",
                "TumblingWindowInSeconds",
            ],
        )?;
        let mut body = Self::mapping_body(p);
        body["EventSourceArn"] = p.get("EventSourceArn").cloned().unwrap_or(Value::Null);
        for key in ["StartingPosition", "StartingPositionTimestamp"] {
            if let Some(v) = p.get(key) {
                body[key] = v.clone();
            }
        }
        let m = self
            .rest(
                "lambda",
                http::Method::POST,
                "/2015-03-31/event-source-mappings/",
                &[],
                Some(&body),
            )
            .await?;
        Ok(Physical {
            id: m["UUID"].as_str().unwrap_or_default().to_owned(),
            attributes: Map::new(),
        })
    }

    pub(super) async fn mapping_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        let path = format!(
            "/2015-03-31/event-source-mappings/{}",
            uri_encode(&old.physical_id)
        );
        self.rest(
            "lambda",
            http::Method::PUT,
            &path,
            &[],
            Some(&Self::mapping_body(p)),
        )
        .await?;
        Ok(Physical {
            id: old.physical_id.clone(),
            attributes: Map::new(),
        })
    }

    pub(super) async fn mapping_delete(&self, old: &Deployed) -> Result<()> {
        let path = format!(
            "/2015-03-31/event-source-mappings/{}",
            uri_encode(&old.physical_id)
        );
        self.rest("lambda", http::Method::DELETE, &path, &[], None)
            .await
            .map(drop)
    }

    pub(super) async fn invoke_config_put(&self, p: &Value) -> Result<Physical> {
        let function = function_of(&p.get("FunctionName").and_then(text).unwrap_or_default());
        let qualifier = p
            .get("Qualifier")
            .and_then(text)
            .unwrap_or_else(|| "$LATEST".into());
        let mut body = json!({});
        for key in ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"] {
            if let Some(v) = p.get(key).and_then(number) {
                body[key] = v;
            }
        }
        if let Some(d) = p.get("DestinationConfig") {
            body["DestinationConfig"] = d.clone();
        }
        let path = format!(
            "/2019-09-25/functions/{}/event-invoke-config",
            uri_encode(&function)
        );
        self.rest(
            "lambda",
            http::Method::PUT,
            &path,
            &[("Qualifier", &qualifier)],
            Some(&body),
        )
        .await?;
        Ok(Physical {
            id: format!("{function}:{qualifier}"),
            attributes: Map::new(),
        })
    }

    pub(super) async fn invoke_config_delete(&self, old: &Deployed) -> Result<()> {
        let function = function_of(
            &old.properties
                .get("FunctionName")
                .and_then(text)
                .unwrap_or_default(),
        );
        let qualifier = old
            .properties
            .get("Qualifier")
            .and_then(text)
            .unwrap_or_else(|| "$LATEST".into());
        let path = format!(
            "/2019-09-25/functions/{}/event-invoke-config",
            uri_encode(&function)
        );
        self.rest(
            "lambda",
            http::Method::DELETE,
            &path,
            &[("Qualifier", &qualifier)],
            None,
        )
        .await
        .map(drop)
    }
}
