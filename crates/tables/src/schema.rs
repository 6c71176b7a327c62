//! A table as it is stored (collection `dynamodb-table`, key `{account}/{region}/{name}`): its key
//! schema, attribute definitions, indexes, billing, stream and TTL settings and tags, and the
//! rules CreateTable and UpdateTable check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TablesError;

/// The documents collection of tables.
pub const COLLECTION: &str = "dynamodb-table";

/// A key attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl KeyType {
    /// Reads `S`, `N` or `B`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "S" => Some(Self::S),
            "N" => Some(Self::N),
            "B" => Some(Self::B),
            _ => None,
        }
    }

    /// `S`, `N` or `B`.
    pub fn name(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        }
    }
}

/// One key attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: KeyType,
}

/// A hash key and an optional range key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    /// The partition key.
    pub hash: KeyAttribute,
    /// The sort key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<KeyAttribute>,
}

impl KeySchema {
    /// Whether `name` is one of the key's attributes.
    pub fn contains(&self, name: &str) -> bool {
        self.hash.name == name || self.range.as_ref().is_some_and(|r| r.name == name)
    }
}

/// Which attributes an index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `INCLUDE`'s attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub non_key_attributes: Vec<String>,
}

/// Provisioned throughput, stored and echoed (not enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// Read capacity units.
    pub read: i64,
    /// Write capacity units.
    pub write: i64,
}

/// A local or global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRecord {
    /// Its name.
    pub name: String,
    /// Its key.
    pub key: KeySchema,
    /// What it holds.
    pub projection: Projection,
    /// Its throughput (global indexes of provisioned tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
}

/// A table's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// The stream's label (an ISO 8601 time), part of its ARN.
    pub label: String,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableRecord {
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its name.
    pub name: String,
    /// Where its rows are stored: new for every incarnation of the name.
    pub storage_id: String,
    /// DynamoDB's `TableId`.
    pub table_id: String,
    /// Epoch milliseconds.
    pub created_ms: i64,
    /// The primary key.
    pub key: KeySchema,
    /// `AttributeDefinitions`, in the order given.
    pub attributes: Vec<KeyAttribute>,
    /// `PROVISIONED` or `PAY_PER_REQUEST`.
    pub billing_mode: String,
    /// Provisioned throughput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    /// Local secondary indexes.
    #[serde(default)]
    pub local_indexes: Vec<IndexRecord>,
    /// Global secondary indexes.
    #[serde(default)]
    pub global_indexes: Vec<IndexRecord>,
    /// The stream, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSettings>,
    /// The TTL attribute, when TTL is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `DeletionProtectionEnabled`.
    #[serde(default)]
    pub deletion_protection: bool,
    /// `TableClass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_class: Option<String>,
}

impl TableRecord {
    /// The store key.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.name)
    }

    /// `arn:aws:dynamodb:{region}:{account}:table/{name}`.
    pub fn arn(&self) -> String {
        table_arn(&self.region, &self.account, &self.name)
    }

    /// The stream's ARN, when there is one.
    pub fn stream_arn(&self) -> Option<String> {
        self.stream
            .as_ref()
            .map(|s| format!("{}/stream/{}", self.arn(), s.label))
    }

    /// The stream's storage id, when there is one.
    pub fn stream_storage(&self) -> Option<String> {
        self.stream
            .as_ref()
            .map(|s| format!("{}/{}", self.storage_id, s.label))
    }

    /// An index by name, and whether it is global.
    pub fn index(&self, name: &str) -> Option<(&IndexRecord, bool)> {
        self.global_indexes
            .iter()
            .find(|i| i.name == name)
            .map(|i| (i, true))
            .or_else(|| {
                self.local_indexes
                    .iter()
                    .find(|i| i.name == name)
                    .map(|i| (i, false))
            })
    }

    /// Every index.
    pub fn indexes(&self) -> impl Iterator<Item = &IndexRecord> {
        self.local_indexes.iter().chain(self.global_indexes.iter())
    }
}

/// `arn:aws:dynamodb:{region}:{account}:table/{name}`.
pub fn table_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
}

fn invalid(message: impl Into<String>) -> TablesError {
    TablesError::Validation(message.into())
}

/// DynamoDB's table and index names: 3–255 of `[a-zA-Z0-9_.-]`.
pub fn check_name(name: &str, member: &str) -> Result<(), TablesError> {
    if name.len() < 3 || name.len() > 255 {
        let constraint = if name.len() < 3 {
            "Member must have length greater than or equal to 3"
        } else {
            "Member must have length less than or equal to 255"
        };
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: {constraint}"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

/// Checks a new table's keys and indexes against its attribute definitions, as CreateTable does.
pub fn check_new_table(record: &TableRecord) -> Result<(), TablesError> {
    let defined = |name: &str| record.attributes.iter().find(|a| a.name == name);
    let mut used: Vec<String> = Vec::new();
    let mut check_key = |key: &KeySchema, what: &str| -> Result<(), TablesError> {
        for attribute in std::iter::once(&key.hash).chain(key.range.as_ref()) {
            if defined(&attribute.name).is_none() {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                    std::iter::once(&key.hash)
                        .chain(key.range.as_ref())
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    record
                        .attributes
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if !used.contains(&attribute.name) {
                used.push(attribute.name.clone());
            }
        }
        let _ = what;
        Ok(())
    };
    check_key(&record.key, "table")?;
    let mut names: Vec<&str> = Vec::new();
    for index in &record.local_indexes {
        check_key(&index.key, "local")?;
        if index.key.hash.name != record.key.hash.name {
            return Err(invalid(format!(
                "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                index.name, index.key.hash.name, record.key.hash.name
            )));
        }
        if record.key.range.is_none() {
            return Err(invalid(
                "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
    }
    for index in &record.global_indexes {
        check_key(&index.key, "global")?;
    }
    for index in record.indexes() {
        check_name(&index.name, "indexName")?;
        if names.contains(&index.name.as_str()) {
            return Err(invalid(format!(
                "One or more parameter values were invalid: Duplicate index name: {}",
                index.name
            )));
        }
        names.push(&index.name);
        if index.projection.kind == "INCLUDE" && index.projection.non_key_attributes.is_empty() {
            return Err(invalid(
                "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
            ));
        }
    }
    if record.local_indexes.len() > 5 {
        return Err(TablesError::LimitExceeded(
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5".into(),
        ));
    }
    if record.global_indexes.len() > 20 {
        return Err(TablesError::LimitExceeded(
            "One or more parameter values were invalid: Number of GlobalSecondaryIndexes exceeds per-table limit of 20".into(),
        ));
    }
    if used.len() != record.attributes.len() {
        return Err(invalid("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions".to_string()));
    }
    Ok(())
}
