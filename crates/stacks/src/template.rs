//! A template's sections: parameters (defaults, overrides, constraints), pseudo parameters,
//! conditions, the SAM transform, and the resulting resources with their dependencies.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::intrinsics::{self, Scope};
use crate::TemplateError;

/// The resource types the engine applies (after the SAM transform). Anything else is refused by
/// name before anything is created.
pub const SERVED_TYPES: &[&str] = &[
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::Url",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::Events::Rule",
    "AWS::Logs::LogGroup",
    "AWS::DynamoDB::Table",
];

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// File name for messages.
    pub file: String,
    /// The text (to find lines).
    pub text: String,
    /// The template as JSON.
    pub root: Value,
}

/// One resource after the transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `Type`.
    pub kind: String,
    /// `Properties`, intrinsics unresolved.
    pub properties: Value,
    /// Logical ids this one needs first (`DependsOn` and references).
    pub depends_on: BTreeSet<String>,
    /// `DeletionPolicy: Retain` keeps it when the stack no longer has it.
    pub retain: bool,
}

/// A template ready to apply: parameters resolved, conditions evaluated, SAM expanded.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// Parameters and pseudo parameters.
    pub parameters: BTreeMap<String, Value>,
    /// Conditions.
    pub conditions: BTreeMap<String, bool>,
    /// `Mappings`.
    pub mappings: Value,
    /// Resources by logical id (only those whose condition holds).
    pub resources: BTreeMap<String, Resource>,
    /// `Outputs` whose condition holds: name → (value expression, description).
    pub outputs: BTreeMap<String, (Value, Option<String>)>,
    /// The user's parameter values (not pseudo ones), as recorded.
    pub given: BTreeMap<String, String>,
}

/// Who deploys where: the pseudo parameters.
#[derive(Debug, Clone)]
pub struct Pseudo {
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account: String,
    /// `AWS::StackName`.
    pub stack: String,
}

impl Template {
    /// Parses `text`, checking the anatomy.
    pub fn parse(file: &str, text: &str) -> Result<Self, TemplateError> {
        let root = crate::yaml::parse(file, text)?;
        let t = Self {
            file: file.to_owned(),
            text: text.to_owned(),
            root,
        };
        if !t.root.is_object() {
            return Err(t.error(None, "a template is a mapping of sections"));
        }
        match t.root.get("Resources") {
            Some(Value::Object(r)) if !r.is_empty() => {}
            _ => return Err(t.error(None, "Resources: at least one resource is required")),
        }
        for (id, r) in t.root["Resources"].as_object().into_iter().flatten() {
            match r.get("Type").and_then(Value::as_str) {
                Some(_) => {}
                None => return Err(t.error(Some(id), "Type is required")),
            }
            if let Some(p) = r.get("Properties") {
                if !p.is_object() {
                    return Err(t.error(Some(id), "Properties must be a mapping"));
                }
            }
        }
        Ok(t)
    }

    /// An error about `resource` (or the template), with the resource's line.
    pub fn error(&self, resource: Option<&str>, message: impl Into<String>) -> TemplateError {
        let line = resource.and_then(|r| crate::yaml::line_of(&self.text, "Resources", r));
        TemplateError::at(&self.file, line, resource, message)
    }

    fn section(&self, name: &str) -> Map<String, Value> {
        self.root
            .get(name)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the SAM transform is declared.
    pub fn is_sam(&self) -> bool {
        match self.root.get("Transform") {
            Some(Value::String(s)) => s == crate::sam::TRANSFORM,
            Some(Value::Array(items)) => items
                .iter()
                .any(|i| i.as_str() == Some(crate::sam::TRANSFORM)),
            _ => false,
        }
    }

    /// Parameters (+ `overrides`), conditions, the transform and the resource graph.
    pub fn expand(
        &self,
        overrides: &BTreeMap<String, String>,
        pseudo: &Pseudo,
    ) -> Result<Expanded, TemplateError> {
        let mut parameters = BTreeMap::new();
        parameters.insert("AWS::Region".to_owned(), Value::from(pseudo.region.clone()));
        parameters.insert(
            "AWS::AccountId".to_owned(),
            Value::from(pseudo.account.clone()),
        );
        parameters.insert(
            "AWS::StackName".to_owned(),
            Value::from(pseudo.stack.clone()),
        );
        parameters.insert(
            "AWS::StackId".to_owned(),
            Value::from(format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/nubo",
                pseudo.region, pseudo.account, pseudo.stack
            )),
        );
        parameters.insert("AWS::Partition".to_owned(), Value::from("aws"));
        parameters.insert("AWS::URLSuffix".to_owned(), Value::from("amazonaws.com"));
        parameters.insert("AWS::NotificationARNs".to_owned(), Value::Array(vec![]));
        let declared = self.section("Parameters");
        for name in overrides.keys() {
            if !declared.contains_key(name) {
                return Err(TemplateError::at(
                    &self.file,
                    None,
                    None,
                    format!("--parameter-overrides: {name} is not a parameter of this template"),
                ));
            }
        }
        let mut given = BTreeMap::new();
        for (name, spec) in &declared {
            let line = crate::yaml::line_of(&self.text, "Parameters", name);
            let err = |m: String| {
                TemplateError::at(&self.file, line, None, format!("parameter {name}: {m}"))
            };
            let value = match overrides.get(name) {
                Some(v) => v.clone(),
                None => match spec.get("Default") {
                    Some(d) => intrinsics::text(d).map_err(err)?,
                    None => {
                        return Err(err(
                            "no value: give a Default or --parameter-overrides".into()
                        ))
                    }
                },
            };
            if let Some(allowed) = spec.get("AllowedValues").and_then(Value::as_array) {
                if !allowed
                    .iter()
                    .any(|a| intrinsics::text(a).ok().as_deref() == Some(value.as_str()))
                {
                    return Err(err(format!("{value:?} is not one of the AllowedValues")));
                }
            }
            let kind = spec.get("Type").and_then(Value::as_str).unwrap_or("String");
            let resolved = match kind {
                "Number" => {
                    value
                        .parse::<f64>()
                        .map_err(|_| err(format!("{value:?} is not a Number")))?;
                    Value::String(value.clone())
                }
                "CommaDelimitedList" | "List<Number>" | "List<String>" => Value::Array(
                    value
                        .split(',')
                        .map(|s| Value::String(s.trim().to_owned()))
                        .collect(),
                ),
                _ => Value::String(value.clone()),
            };
            given.insert(name.clone(), value);
            parameters.insert(name.clone(), resolved);
        }
        let mappings = self
            .root
            .get("Mappings")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let conditions = self.conditions(&parameters, &mappings)?;

        let mut raw = self.section("Resources");
        if self.is_sam() {
            raw = crate::sam::transform(self, raw, &parameters, &conditions, &mappings)?;
        } else if raw.values().any(|r| {
            r["Type"]
                .as_str()
                .is_some_and(|t| t.starts_with("AWS::Serverless::"))
        }) {
            return Err(self.error(
                None,
                format!(
                    "AWS::Serverless::* resources need `Transform: {}`",
                    crate::sam::TRANSFORM
                ),
            ));
        }
        let mut resources = BTreeMap::new();
        for (id, r) in &raw {
            if let Some(c) = r.get("Condition") {
                let name = c.as_str().unwrap_or_default();
                match conditions.get(name) {
                    Some(false) => continue,
                    Some(true) => {}
                    None => {
                        return Err(self.error(Some(id), format!("condition {name} is not defined")))
                    }
                }
            }
            let kind = r["Type"].as_str().unwrap_or_default().to_owned();
            if !SERVED_TYPES.contains(&kind.as_str()) {
                let why = if kind.starts_with("AWS::Serverless::") {
                    "is not a resource type the SAM transform supports here"
                } else {
                    "is not a resource type Nubo serves"
                };
                return Err(self.error(Some(origin(id, &raw)), format!("type {kind} {why}")));
            }
            let properties = r
                .get("Properties")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            let mut depends_on = BTreeSet::new();
            intrinsics::references(&properties, &mut depends_on);
            match r.get("DependsOn") {
                Some(Value::String(s)) => {
                    depends_on.insert(s.clone());
                }
                Some(Value::Array(items)) => {
                    depends_on.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
            depends_on.retain(|d| !parameters.contains_key(d) && !d.starts_with("AWS::"));
            for d in &depends_on {
                if !raw.contains_key(d) {
                    return Err(self.error(
                        Some(origin(id, &raw)),
                        format!("refers to {d}, which is neither a parameter nor a resource"),
                    ));
                }
            }
            let retain = r.get("DeletionPolicy").and_then(Value::as_str) == Some("Retain");
            resources.insert(
                id.clone(),
                Resource {
                    kind,
                    properties,
                    depends_on,
                    retain,
                },
            );
        }
        // A dependency on a resource whose condition is false: Fn::If chooses around it at
        // resolution; ordering just drops it.
        let present: BTreeSet<String> = resources.keys().cloned().collect();
        for r in resources.values_mut() {
            r.depends_on.retain(|d| present.contains(d));
        }
        let mut outputs = BTreeMap::new();
        for (name, o) in self.section("Outputs") {
            if let Some(c) = o.get("Condition").and_then(Value::as_str) {
                if conditions.get(c) == Some(&false) {
                    continue;
                }
            }
            let description = o
                .get("Description")
                .and_then(Value::as_str)
                .map(str::to_owned);
            outputs.insert(
                name,
                (o.get("Value").cloned().unwrap_or(Value::Null), description),
            );
        }
        Ok(Expanded {
            parameters,
            conditions,
            mappings,
            resources,
            outputs,
            given,
        })
    }

    fn conditions(
        &self,
        parameters: &BTreeMap<String, Value>,
        mappings: &Value,
    ) -> Result<BTreeMap<String, bool>, TemplateError> {
        let declared = self.section("Conditions");
        let mut done: BTreeMap<String, bool> = BTreeMap::new();
        // Conditions may name each other: evaluate until nothing new resolves.
        loop {
            let before = done.len();
            let mut last_error = None;
            for (name, expr) in &declared {
                if done.contains_key(name) {
                    continue;
                }
                let none = |_: &str, _: Option<&str>| None;
                let scope = Scope {
                    parameters,
                    conditions: &done,
                    mappings,
                    resource: &none,
                };
                match intrinsics::condition(expr, &scope) {
                    Ok(v) => {
                        done.insert(name.clone(), v);
                    }
                    Err(e) => last_error = Some((name.clone(), e)),
                }
            }
            if done.len() == declared.len() {
                return Ok(done);
            }
            if done.len() == before {
                let (name, e) = last_error.expect("an unresolved condition");
                let line = crate::yaml::line_of(&self.text, "Conditions", &name);
                return Err(TemplateError::at(
                    &self.file,
                    line,
                    None,
                    format!("condition {name}: {e}"),
                ));
            }
        }
    }
}

/// The user's logical id a generated resource came from (for its line in the template).
fn origin<'a>(id: &'a str, raw: &'a Map<String, Value>) -> &'a str {
    raw.get(id)
        .and_then(|r| r.get("Metadata"))
        .and_then(|m| m.get("SamResourceId"))
        .and_then(Value::as_str)
        .unwrap_or(id)
}
