//! DynamoDB tables (`AWS::DynamoDB::Table`, which `AWS::Serverless::SimpleTable` becomes).

use serde_json::{json, Value};

use nubo_stacks::{Deployed, Physical};

use super::storage::list;
use super::{attributes, number, only, tags_of, text, ApiProvisioner, Failure, Result};

const TABLE_PROPERTIES: &[&str] = &[
    "TableName",
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
    "Tags",
    // No effect on Nubo.
    "SSESpecification",
    "PointInTimeRecoverySpecification",
    "TableClass",
    "DeletionProtectionEnabled",
    "ContributorInsightsSpecification",
];

/// Capacity units as numbers (templates and parameters often give strings), recursively.
fn numbers(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k.ends_with("CapacityUnits") {
                        number(v).unwrap_or_else(|| v.clone())
                    } else {
                        numbers(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(numbers).collect()),
        other => other.clone(),
    }
}

/// CloudFormation's `StreamSpecification` (`StreamViewType` only) → DynamoDB's.
fn stream_spec(p: &Value) -> Value {
    match p
        .get("StreamSpecification")
        .and_then(|s| s.get("StreamViewType"))
        .and_then(text)
    {
        Some(view) => json!({"StreamEnabled": true, "StreamViewType": view}),
        None => json!({"StreamEnabled": false}),
    }
}

fn index_name(i: &Value) -> String {
    i.get("IndexName").and_then(text).unwrap_or_default()
}

impl ApiProvisioner<'_> {
    async fn dynamodb(&self, operation: &str, body: &Value) -> Result<Value> {
        self.target("dynamodb", "DynamoDB_20120810", "1.0", operation, body)
            .await
    }

    /// `DescribeTable` until the table is ACTIVE; its `Physical`.
    async fn table_active(&self, name: &str) -> Result<Physical> {
        for _ in 0..120 {
            let d = self
                .dynamodb("DescribeTable", &json!({"TableName": name}))
                .await?;
            let t = &d["Table"];
            let indexes_ready = list(t.get("GlobalSecondaryIndexes"))
                .iter()
                .all(|i| i["IndexStatus"].as_str().unwrap_or("ACTIVE") == "ACTIVE");
            if t["TableStatus"].as_str() == Some("ACTIVE") && indexes_ready {
                let mut pairs = vec![("Arn", t["TableArn"].clone())];
                if let Some(s) = t.get("LatestStreamArn").filter(|s| s.is_string()) {
                    pairs.push(("StreamArn", s.clone()));
                }
                return Ok(Physical {
                    id: name.to_owned(),
                    attributes: attributes(&pairs),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Err(Failure::local(format!(
            "table {name} did not become ACTIVE in 30 s"
        )))
    }

    pub(super) async fn table_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only("AWS::DynamoDB::Table", p, TABLE_PROPERTIES)?;
        let name = p
            .get("TableName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 255, false));
        let mut body = json!({"TableName": name});
        for key in [
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
        ] {
            if let Some(v) = p.get(key) {
                body[key] = numbers(v);
            }
        }
        if p.get("StreamSpecification").is_some() {
            body["StreamSpecification"] = stream_spec(p);
        }
        let tags = tags_of(p.get("Tags"));
        if !tags.is_empty() {
            body["Tags"] = tags
                .into_iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect();
        }
        self.dynamodb("CreateTable", &body).await?;
        let created = async {
            let physical = self.table_active(&name).await?;
            self.table_ttl(&name, p, None).await?;
            Ok(physical)
        }
        .await;
        if created.is_err() {
            let _ = self
                .dynamodb("DeleteTable", &json!({"TableName": name}))
                .await;
        }
        created
    }

    /// `TimeToLiveSpecification`: enabled, moved, or disabled when dropped.
    async fn table_ttl(&self, name: &str, p: &Value, old: Option<&Value>) -> Result<()> {
        let enabled = |s: Option<&Value>| {
            s.and_then(|s| s.get("Enabled"))
                .and_then(text)
                .is_some_and(|e| e == "true")
        };
        let attribute = |s: Option<&Value>| {
            s.and_then(|s| s.get("AttributeName"))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let new = p.get("TimeToLiveSpecification");
        let old = old.and_then(|o| o.get("TimeToLiveSpecification"));
        if new == old || (!enabled(new) && !enabled(old)) {
            return Ok(());
        }
        if enabled(old) && (!enabled(new) || attribute(new) != attribute(old)) {
            self.dynamodb(
                "UpdateTimeToLive",
                &json!({"TableName": name, "TimeToLiveSpecification": {"AttributeName": attribute(old), "Enabled": false}}),
            )
            .await?;
        }
        if enabled(new) {
            self.dynamodb(
                "UpdateTimeToLive",
                &json!({"TableName": name, "TimeToLiveSpecification": {"AttributeName": attribute(new), "Enabled": true}}),
            )
            .await?;
        }
        Ok(())
    }

    /// In place: billing, throughput, GSIs (added and removed by name), the stream, TTL, tags.
    pub(super) async fn table_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        only("AWS::DynamoDB::Table", p, TABLE_PROPERTIES)?;
        let name = old.physical_id.clone();
        let was = &old.properties;
        let changed = |key: &str| p.get(key) != was.get(key);
        if changed("BillingMode") || changed("ProvisionedThroughput") {
            let mut body = json!({"TableName": name,
                "BillingMode": p.get("BillingMode").cloned().unwrap_or("PROVISIONED".into())});
            if let Some(t) = p.get("ProvisionedThroughput") {
                body["ProvisionedThroughput"] = numbers(t);
            }
            self.dynamodb("UpdateTable", &body).await?;
        }
        let new_gsis = list(p.get("GlobalSecondaryIndexes"));
        let old_gsis = list(was.get("GlobalSecondaryIndexes"));
        // One index change per UpdateTable, as DynamoDB asks; a changed index is dropped, re-added.
        for o in &old_gsis {
            if !new_gsis.contains(o) {
                self.dynamodb(
                    "UpdateTable",
                    &json!({"TableName": name, "GlobalSecondaryIndexUpdates": [{"Delete": {"IndexName": index_name(o)}}]}),
                )
                .await?;
                self.table_active(&name).await?;
            }
        }
        for n in &new_gsis {
            if !old_gsis.contains(n) {
                self.dynamodb(
                    "UpdateTable",
                    &json!({"TableName": name,
                        "AttributeDefinitions": numbers(p.get("AttributeDefinitions").unwrap_or(&Value::Null)),
                        "GlobalSecondaryIndexUpdates": [{"Create": numbers(n)}]}),
                )
                .await?;
                self.table_active(&name).await?;
            }
        }
        if changed("StreamSpecification") {
            if was.get("StreamSpecification").is_some() {
                self.dynamodb(
                    "UpdateTable",
                    &json!({"TableName": name, "StreamSpecification": {"StreamEnabled": false}}),
                )
                .await?;
            }
            if p.get("StreamSpecification").is_some() {
                self.dynamodb(
                    "UpdateTable",
                    &json!({"TableName": name, "StreamSpecification": stream_spec(p)}),
                )
                .await?;
            }
        }
        self.table_ttl(&name, p, Some(was)).await?;
        if changed("Tags") {
            let physical = self.table_active(&name).await?;
            let arn = physical.attributes["Arn"].clone();
            let tags = tags_of(p.get("Tags"));
            let gone: Vec<String> = tags_of(was.get("Tags"))
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| !tags.iter().any(|(n, _)| n == k))
                .collect();
            if !gone.is_empty() {
                self.dynamodb(
                    "UntagResource",
                    &json!({"ResourceArn": arn, "TagKeys": gone}),
                )
                .await?;
            }
            if !tags.is_empty() {
                let tags: Vec<Value> = tags
                    .into_iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect();
                self.dynamodb("TagResource", &json!({"ResourceArn": arn, "Tags": tags}))
                    .await?;
            }
        }
        self.table_active(&name).await
    }

    pub(super) async fn table_delete(&self, old: &Deployed) -> Result<()> {
        self.dynamodb("DeleteTable", &json!({"TableName": old.physical_id}))
            .await
            .map(drop)
    }
}

/// Properties whose change replaces the table (as CloudFormation does).
pub(super) fn table_replaced(p: &Value, old: &Value) -> bool {
    ["TableName", "KeySchema", "LocalSecondaryIndexes"]
        .iter()
        .any(|k| p.get(*k) != old.get(*k))
}
