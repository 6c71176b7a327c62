//! Layers: PublishLayerVersion, Get/List/DeleteLayerVersion(s), ListLayers, the layer-version
//! permissions, and what a function's `Layers` resolve to.
//!
//! A layer version is immutable: its zip sits in the code store beside functions' code (same
//! content address, same read-only tree) and its record in `lambda-layer-version`
//! (`{account}/{region}/{layer}/{version, 20 digits}`, so a layer's versions list in order); the
//! layer's highest version number ever published is in `lambda-layer`
//! (`{account}/{region}/{layer}`), so numbers are never reused, even after every version went.
//! A function keeps what its layers were when it was configured ([`AttachedLayer`]: the ARN, the
//! zip's size and address), so deleting a layer version does not break functions using it — as on
//! Lambda, which keeps a copy. `CompatibleRuntimes` and `CompatibleArchitectures` are model-checked
//! at publish and filter ListLayers/ListLayerVersions; Lambda does not refuse a function whose
//! runtime a layer does not list, and neither does Nubo.

use std::sync::Arc;

use bytes::Bytes;
use nubo_store::{Transaction, MAX_UNZIPPED_BYTES};
use nubo_wire::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::functions::new_revision;
use super::permissions::FunctionPolicy;
use super::records::CodeRef;
use super::registry::Registry;
use crate::ControlError;

/// Layer heads: `{account}/{region}/{layer}` → [`LayerHead`].
pub const LAYERS: &str = "lambda-layer";
/// Layer versions: `{account}/{region}/{layer}/{version:020}` → [`LayerVersionRecord`].
pub const LAYER_VERSIONS: &str = "lambda-layer-version";
/// Layers a function may use at most.
pub const MAX_LAYERS: usize = 5;

/// What stays of a layer while any version was ever published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerHead {
    /// The highest version number published (numbers are never reused).
    pub last_version: u64,
}

/// One published layer version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerVersionRecord {
    /// The layer's name.
    pub name: String,
    /// Its number, from 1.
    pub version: u64,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// `CreatedDate`, formatted as Lambda writes it.
    pub created_date: String,
    /// Runtimes it says it works with (filters only).
    #[serde(default)]
    pub compatible_runtimes: Vec<String>,
    /// Architectures it says it works with (filters only).
    #[serde(default)]
    pub compatible_architectures: Vec<String>,
    /// `LicenseInfo`.
    #[serde(default)]
    pub license_info: Option<String>,
    /// The zip.
    pub code: CodeRef,
    /// Who else may use it (AddLayerVersionPermission).
    #[serde(default)]
    pub policy: Option<FunctionPolicy>,
}

impl LayerVersionRecord {
    /// The layer's ARN in `scope`.
    pub fn layer_arn(&self, scope: &Scope) -> String {
        layer_arn(scope, &self.name)
    }

    /// This version's ARN in `scope`.
    pub fn version_arn(&self, scope: &Scope) -> String {
        format!("{}:{}", self.layer_arn(scope), self.version)
    }

    /// Whether ListLayers/ListLayerVersions' filters keep it.
    pub fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        runtime.is_none_or(|r| self.compatible_runtimes.iter().any(|c| c == r))
            && architecture.is_none_or(|a| self.compatible_architectures.iter().any(|c| c == a))
    }
}

/// A layer as a function version holds it: enough to show it (`Layers: [{Arn, CodeSize}]`) and to
/// mount it, whatever became of the layer version since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AttachedForm")]
pub struct AttachedLayer {
    /// The layer version's ARN.
    pub arn: String,
    /// Its zip's size (`CodeSize`).
    pub code_size: u64,
    /// Its zip's hex SHA-256 (the tree mounted); empty for records written before layers were
    /// served (only the ARN was kept then, and nothing is mounted for it).
    pub sha256_hex: String,
    /// What it unpacks to.
    pub unzipped_size: u64,
}

/// Stored forms: a bare ARN (records written before layers were served), or the whole.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttachedForm {
    Arn(String),
    Full {
        arn: String,
        code_size: u64,
        sha256_hex: String,
        unzipped_size: u64,
    },
}

impl From<AttachedForm> for AttachedLayer {
    fn from(form: AttachedForm) -> Self {
        match form {
            AttachedForm::Arn(arn) => Self {
                arn,
                code_size: 0,
                sha256_hex: String::new(),
                unzipped_size: 0,
            },
            AttachedForm::Full {
                arn,
                code_size,
                sha256_hex,
                unzipped_size,
            } => Self {
                arn,
                code_size,
                sha256_hex,
                unzipped_size,
            },
        }
    }
}

/// PublishLayerVersion's input, model-checked by the edge.
#[derive(Debug, Clone, Default)]
pub struct LayerSpec {
    /// Description.
    pub description: String,
    /// CompatibleRuntimes.
    pub compatible_runtimes: Vec<String>,
    /// CompatibleArchitectures.
    pub compatible_architectures: Vec<String>,
    /// LicenseInfo.
    pub license_info: Option<String>,
}

/// AddLayerVersionPermission's input, model-checked by the edge.
#[derive(Debug, Clone, Default)]
pub struct LayerPermission {
    /// `StatementId`.
    pub statement_id: String,
    /// `Action` (`lambda:GetLayerVersion`).
    pub action: String,
    /// `Principal`: `*` or an account id.
    pub principal: String,
    /// `OrganizationId` (only with `*`).
    pub organization_id: Option<String>,
    /// `RevisionId` precondition.
    pub revision_id: Option<String>,
}

/// `arn:aws:lambda:{region}:{account}:layer:{name}`.
pub fn layer_arn(scope: &Scope, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:layer:{name}",
        scope.region, scope.account_id
    )
}

fn head_key(scope: &Scope, name: &str) -> String {
    format!("{}/{}/{name}", scope.account_id, scope.region)
}

fn version_key(scope: &Scope, name: &str, version: u64) -> String {
    format!("{}/{}/{name}/{version:020}", scope.account_id, scope.region)
}

/// A layer version ARN split: (scope, layer name, version).
pub fn parse_version_arn(arn: &str) -> Option<(Scope, String, u64)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "lambda", region, account, "layer", name, version]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some((
                Scope {
                    region: (*region).to_owned(),
                    account_id: (*account).to_owned(),
                },
                (*name).to_owned(),
                version.parse().ok()?,
            ))
        }
        _ => None,
    }
}

fn not_found_version() -> ControlError {
    ControlError::NotFound("The resource you requested does not exist.".into())
}

impl Registry {
    /// One layer version.
    pub fn layer_version(
        &self,
        scope: &Scope,
        name: &str,
        version: u64,
    ) -> Result<Arc<LayerVersionRecord>, ControlError> {
        self.layer_versions
            .get(&version_key(scope, name, version))
            .ok_or_else(not_found_version)
    }

    /// A layer's versions, newest first (ListLayerVersions' order), filtered.
    pub fn layer_versions_of(
        &self,
        scope: &Scope,
        name: &str,
        runtime: Option<&str>,
        architecture: Option<&str>,
    ) -> Vec<Arc<LayerVersionRecord>> {
        let prefix = format!("{}/", head_key(scope, name));
        let mut all: Vec<Arc<LayerVersionRecord>> = self
            .layer_versions
            .with_prefix(&prefix)
            .into_iter()
            .map(|(_, v)| v)
            .filter(|v| v.matches(runtime, architecture))
            .collect();
        all.reverse();
        all
    }

    /// Every layer of a scope with a version the filters keep, by name, with that newest version
    /// (ListLayers' `LatestMatchingVersion`).
    pub fn layers(
        &self,
        scope: &Scope,
        runtime: Option<&str>,
        architecture: Option<&str>,
    ) -> Vec<Arc<LayerVersionRecord>> {
        let prefix = format!("{}/{}/", scope.account_id, scope.region);
        let mut latest: std::collections::BTreeMap<String, Arc<LayerVersionRecord>> =
            std::collections::BTreeMap::new();
        for (_, version) in self.layer_versions.with_prefix(&prefix) {
            if version.matches(runtime, architecture) {
                // Keys list a layer's versions in ascending order: the last one kept is the newest.
                latest.insert(version.name.clone(), version);
            }
        }
        latest.into_values().collect()
    }

    /// PublishLayerVersion: stores the zip (unpacked once, read-only) and the next version.
    pub async fn publish_layer_version(
        &self,
        scope: &Scope,
        name: &str,
        spec: LayerSpec,
        zip: Bytes,
    ) -> Result<Arc<LayerVersionRecord>, ControlError> {
        let code = self.store_code(zip).await?;
        let mut writer = self.writer().await;
        let head = head_key(scope, name);
        let version = self.layer_heads.get(&head).map_or(0, |h| h.last_version) + 1;
        let record = LayerVersionRecord {
            name: name.to_owned(),
            version,
            description: spec.description,
            created_date: super::functions::now_last_modified(),
            compatible_runtimes: spec.compatible_runtimes,
            compatible_architectures: spec.compatible_architectures,
            license_info: spec.license_info,
            code,
            policy: None,
        };
        let mut transaction = Transaction::new();
        self.layer_heads.put(
            &mut transaction,
            &head,
            LayerHead {
                last_version: version,
            },
        )?;
        let stored = self.layer_versions.put(
            &mut transaction,
            &version_key(scope, name, version),
            record,
        )?;
        writer.commit(transaction).await?;
        Ok(stored)
    }

    /// DeleteLayerVersion: gone from the lists; functions using it keep their copy. Deleting one
    /// that does not exist succeeds, as on AWS.
    pub async fn delete_layer_version(
        &self,
        scope: &Scope,
        name: &str,
        version: u64,
    ) -> Result<(), ControlError> {
        let mut writer = self.writer().await;
        let key = version_key(scope, name, version);
        if self.layer_versions.get(&key).is_none() {
            return Ok(());
        }
        let mut transaction = Transaction::new();
        self.layer_versions.delete(&mut transaction, &key);
        writer.commit(transaction).await?;
        Ok(())
    }

    /// AddLayerVersionPermission: returns the statement added and the policy's new revision.
    pub async fn add_layer_permission(
        &self,
        scope: &Scope,
        name: &str,
        version: u64,
        permission: LayerPermission,
    ) -> Result<(Value, String), ControlError> {
        let mut writer = self.writer().await;
        let key = version_key(scope, name, version);
        let current = self
            .layer_versions
            .get(&key)
            .ok_or_else(not_found_version)?;
        let policy = current.policy.as_ref();
        if let (Some(expected), Some(policy)) = (&permission.revision_id, policy) {
            if expected != policy.revision_id() {
                return Err(ControlError::PreconditionFailed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id".into(),
                ));
            }
        }
        let mut statements = policy.map(|p| p.statements().to_vec()).unwrap_or_default();
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(&permission.statement_id))
        {
            return Err(ControlError::Conflict(format!(
                "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                permission.statement_id
            )));
        }
        let principal = if permission.principal == "*" {
            json!("*")
        } else if permission.principal.starts_with("arn:") {
            json!({ "AWS": permission.principal })
        } else {
            json!({ "AWS": format!("arn:aws:iam::{}:root", permission.principal) })
        };
        let mut statement = json!({
            "Sid": permission.statement_id,
            "Effect": "Allow",
            "Principal": principal,
            "Action": permission.action,
            "Resource": current.version_arn(scope),
        });
        if let Some(org) = &permission.organization_id {
            statement["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": org}});
        }
        statements.push(statement.clone());
        let policy = FunctionPolicy::new(statements, new_revision())
            .map_err(ControlError::InvalidParameter)?;
        let revision = policy.revision_id().to_owned();
        let mut next = (*current).clone();
        next.policy = Some(policy);
        let mut transaction = Transaction::new();
        self.layer_versions.put(&mut transaction, &key, next)?;
        writer.commit(transaction).await?;
        Ok((statement, revision))
    }

    /// RemoveLayerVersionPermission.
    pub async fn remove_layer_permission(
        &self,
        scope: &Scope,
        name: &str,
        version: u64,
        statement_id: &str,
        revision_id: Option<&str>,
    ) -> Result<(), ControlError> {
        let mut writer = self.writer().await;
        let key = version_key(scope, name, version);
        let current = self
            .layer_versions
            .get(&key)
            .ok_or_else(not_found_version)?;
        let Some(policy) = current.policy.as_ref() else {
            return Err(ControlError::NotFound(
                "No policy is associated with the given resource.".into(),
            ));
        };
        if revision_id.is_some_and(|r| r != policy.revision_id()) {
            return Err(ControlError::PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id".into(),
            ));
        }
        let statements: Vec<Value> = policy
            .statements()
            .iter()
            .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(statement_id))
            .cloned()
            .collect();
        if statements.len() == policy.statements().len() {
            return Err(ControlError::NotFound(format!(
                "Statement {statement_id} is not found in resource policy."
            )));
        }
        let mut next = (*current).clone();
        next.policy = if statements.is_empty() {
            None
        } else {
            Some(
                FunctionPolicy::new(statements, new_revision())
                    .map_err(ControlError::InvalidParameter)?,
            )
        };
        let mut transaction = Transaction::new();
        self.layer_versions.put(&mut transaction, &key, next)?;
        writer.commit(transaction).await?;
        Ok(())
    }

    /// Whether `account` may use (`lambda:GetLayerVersion`) a layer version: its own account's,
    /// or one whose policy names the account or `*`.
    pub fn may_use_layer(record: &LayerVersionRecord, owner: &Scope, account: &str) -> bool {
        if owner.account_id == account {
            return true;
        }
        let root = format!("arn:aws:iam::{account}:root");
        record.policy.as_ref().is_some_and(|p| {
            p.statements().iter().any(|s| {
                let principal = &s["Principal"];
                principal == "*" || principal["AWS"] == root.as_str() || principal["AWS"] == account
            })
        })
    }

    /// A function's `Layers` → what it keeps of them: at most five, each an existing version the
    /// function's account may use, no layer twice, and function + layers unzipped within 250 MB.
    pub fn attach_layers(
        &self,
        scope: &Scope,
        arns: &[String],
        function_unzipped: u64,
    ) -> Result<Vec<AttachedLayer>, ControlError> {
        if arns.len() > MAX_LAYERS {
            return Err(ControlError::InvalidParameter(format!(
                "Cannot reference more than {MAX_LAYERS} layers."
            )));
        }
        let mut attached: Vec<AttachedLayer> = Vec::with_capacity(arns.len());
        let mut seen: Vec<(Scope, String, &str)> = Vec::new();
        for arn in arns {
            let Some((owner, name, version)) = parse_version_arn(arn) else {
                return Err(ControlError::InvalidParameter(format!(
                    "Layer version {arn} does not exist."
                )));
            };
            if let Some((_, _, first)) = seen.iter().find(|(s, n, _)| *s == owner && *n == name) {
                return Err(ControlError::InvalidParameter(format!(
                    "Two different versions of the same layer are not allowed to be referenced in the same function. {first} and {arn} reference the same layer."
                )));
            }
            let record = self
                .layer_versions
                .get(&version_key(&owner, &name, version))
                .ok_or_else(|| {
                    ControlError::InvalidParameter(format!("Layer version {arn} does not exist."))
                })?;
            if !Self::may_use_layer(&record, &owner, &scope.account_id) {
                return Err(ControlError::AccessDenied(format!(
                    "User: arn:aws:iam::{}:root is not authorized to perform: lambda:GetLayerVersion on resource: {arn}",
                    scope.account_id
                )));
            }
            seen.push((owner, name, arn.as_str()));
            attached.push(AttachedLayer {
                arn: arn.clone(),
                code_size: record.code.size,
                sha256_hex: record.code.sha256_hex.clone(),
                unzipped_size: record.code.unzipped_size,
            });
        }
        check_unzipped(function_unzipped, &attached)?;
        Ok(attached)
    }

    /// Every layer zip a layer version or a function version still needs (the start-up sweep).
    pub(super) fn referenced_layer_code(&self) -> impl Iterator<Item = String> {
        let versions: Vec<String> = self
            .layer_versions
            .snapshot()
            .values()
            .map(|v| v.code.sha256_hex.clone())
            .collect();
        versions.into_iter()
    }
}

/// Lambda's limit over a function's code and its layers, unzipped.
pub fn check_unzipped(function: u64, layers: &[AttachedLayer]) -> Result<(), ControlError> {
    let total = function + layers.iter().map(|l| l.unzipped_size).sum::<u64>();
    if total > MAX_UNZIPPED_BYTES {
        return Err(ControlError::InvalidParameter(format!(
            "Function code combined with layers exceeds the maximum allowed size of {MAX_UNZIPPED_BYTES} bytes. The actual size is {total} bytes."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_arns_parse() {
        let (scope, name, version) =
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:my_layer-1:7").unwrap();
        assert_eq!(scope.account_id, "123456789012");
        assert_eq!(scope.region, "us-east-1");
        assert_eq!((name.as_str(), version), ("my_layer-1", 7));
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:x").is_none());
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:1234:layer:x:1").is_none());
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:123456789012:function:x:1").is_none());
    }

    #[test]
    fn attached_layers_read_bare_arns_of_older_records() {
        let old: Vec<AttachedLayer> = serde_json::from_str(r#"["arn:x"]"#).unwrap();
        assert_eq!(old[0].arn, "arn:x");
        assert!(old[0].sha256_hex.is_empty());
        let new = AttachedLayer {
            arn: "arn:y".into(),
            code_size: 3,
            sha256_hex: "ab".into(),
            unzipped_size: 9,
        };
        let back: AttachedLayer =
            serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }

    #[test]
    fn the_limit_counts_function_and_layers() {
        let layer = |size| AttachedLayer {
            arn: "a".into(),
            code_size: 1,
            sha256_hex: String::new(),
            unzipped_size: size,
        };
        assert!(check_unzipped(MAX_UNZIPPED_BYTES - 10, &[layer(10)]).is_ok());
        let err = check_unzipped(MAX_UNZIPPED_BYTES - 10, &[layer(5), layer(6)]).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("The actual size is 262144001 bytes."));
    }
}
