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
                let props = merge_globals(globals.get("SimpleTable"), props);
                let table = sam.simple_table(id, props)?;
                let mut out = resource(
                    "AWS::DynamoDB::Table",
                    table,
                    id,
                    &r.get("Condition").cloned(),
                );
                if let Some(d) = r.get("DependsOn") {
                    out["DependsOn"] = d.clone();
                }
                sam.out.insert(id.clone(), out);
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

    /// `AWS::Serverless::SimpleTable` → `AWS::DynamoDB::Table`'s properties, as SAM expands it.
    fn simple_table(&self, id: &str, mut p: Map<String, Value>) -> Result<Value, TemplateError> {
        let key = p.remove("PrimaryKey").unwrap_or(json!({}));
        let name = key.get("Name").cloned().unwrap_or(json!("id"));
        let kind = match key.get("Type") {
            None => "S".to_owned(),
            Some(t) => match self.static_text(id, "PrimaryKey.Type", t)?.as_str() {
                "String" => "S".to_owned(),
                "Number" => "N".to_owned(),
                "Binary" => "B".to_owned(),
                other => {
                    return Err(self.err(
                        id,
                        format!("PrimaryKey.Type {other:?} is not String, Number or Binary"),
                    ))
                }
            },
        };
        let mut t = json!({
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind}],
            "KeySchema": [{"AttributeName": name, "KeyType": "HASH"}],
        });
        match p.remove("ProvisionedThroughput") {
            Some(pt) => t["ProvisionedThroughput"] = pt,
            None => t["BillingMode"] = json!("PAY_PER_REQUEST"),
        }
        if let Some(n) = p.remove("TableName") {
            t["TableName"] = n;
        }
        if let Some(Value::Object(tags)) = p.remove("Tags") {
            t["Tags"] = Value::Array(
                tags.into_iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect(),
            );
        }
        // Encryption at rest and backups have no effect on Nubo.
        p.remove("SSESpecification");
        p.remove("PointInTimeRecoverySpecification");
        if let Some(k) = p.keys().next() {
            return Err(self.err(
                id,
                format!("property {k} of AWS::Serverless::SimpleTable is not supported"),
            ));
        }
        Ok(t)
    }
}

mod apis;
mod function;

#[cfg(test)]
mod tests;
