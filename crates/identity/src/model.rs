//! IAM entities as stored (one JSON document each, PascalCase like IAM's own shapes) and the
//! constraints their names obey (IAM's model: `userNameType`, `pathType`, …).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{validation, IamError};
use crate::policy::Policy;

/// A policy document as stored, with its compiled form (rebuilt on load).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Document {
    /// The JSON text as the client sent it (URL-decoded).
    pub text: String,
    #[serde(skip)]
    pub(crate) compiled: Option<Arc<Policy>>,
}

impl Document {
    pub(crate) fn new(text: &str, compiled: Policy) -> Self {
        Self {
            text: text.to_owned(),
            compiled: Some(Arc::new(compiled)),
        }
    }

    /// The compiled policy (present after parse or load).
    pub fn policy(&self) -> Option<&Arc<Policy>> {
        self.compiled.as_ref()
    }
}

/// Inline policies by name and attached managed policies by ARN: what users, groups and roles
/// share.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permissions {
    /// Inline policies.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, Document>,
    /// Attached managed policy ARNs, in attach order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    /// `UserName`.
    pub user_name: String,
    /// `Path`.
    pub path: String,
    /// `UserId` (`AIDA…`).
    pub user_id: String,
    /// `Arn`.
    pub arn: String,
    /// Unix seconds.
    pub create_date: i64,
    /// Groups the user belongs to (names).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Policies.
    #[serde(flatten)]
    pub permissions: Permissions,
}

/// `Active` or `Inactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused at verification.
    Inactive,
}

/// A long-term access key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret (kept to verify signatures, as AWS must).
    pub secret_access_key: String,
    /// The owning user.
    pub user_name: String,
    /// `Status`.
    pub status: KeyStatus,
    /// Unix seconds.
    pub create_date: i64,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// `RoleName`.
    pub role_name: String,
    /// `Path`.
    pub path: String,
    /// `RoleId` (`AROA…`).
    pub role_id: String,
    /// `Arn`.
    pub arn: String,
    /// Unix seconds.
    pub create_date: i64,
    /// The trust policy.
    pub assume_role_policy_document: Document,
    /// `Description`.
    #[serde(default)]
    pub description: String,
    /// `MaxSessionDuration` in seconds (3600–43200).
    pub max_session_duration: i64,
    /// Policies.
    #[serde(flatten)]
    pub permissions: Permissions,
}

/// One version of a customer managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub version_id: String,
    /// The document.
    pub document: Document,
    /// Unix seconds.
    pub create_date: i64,
}

/// A customer managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    /// `PolicyName`.
    pub policy_name: String,
    /// `Path`.
    pub path: String,
    /// `PolicyId` (`ANPA…`).
    pub policy_id: String,
    /// `Arn`.
    pub arn: String,
    /// `Description`.
    #[serde(default)]
    pub description: String,
    /// Unix seconds.
    pub create_date: i64,
    /// Unix seconds of the last version change.
    pub update_date: i64,
    /// `DefaultVersionId`.
    pub default_version_id: String,
    /// The next version number to hand out.
    pub next_version: u32,
    /// Up to five versions.
    pub versions: Vec<PolicyVersion>,
}

impl ManagedPolicy {
    /// The default version's document.
    pub fn default_document(&self) -> Option<&Document> {
        self.versions
            .iter()
            .find(|v| v.version_id == self.default_version_id)
            .map(|v| &v.document)
    }
}

/// An IAM group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Group {
    /// `GroupName`.
    pub group_name: String,
    /// `Path`.
    pub path: String,
    /// `GroupId` (`AGPA…`).
    pub group_id: String,
    /// `Arn`.
    pub arn: String,
    /// Unix seconds.
    pub create_date: i64,
    /// Policies.
    #[serde(flatten)]
    pub permissions: Permissions,
}

const NAME_PATTERN: &str = "Member must satisfy regular expression pattern: [\\w+=,.@-]+";

/// Checks an entity name: 1–`max` of `[\w+=,.@-]`.
pub(crate) fn check_name(value: &str, member: &str, max: usize) -> Result<(), IamError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(validation(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(validation(value, member, NAME_PATTERN));
    }
    Ok(())
}

/// Checks a path: `/` or `/…/` of printable ASCII, at most 512.
pub(crate) fn check_path(value: &str) -> Result<(), IamError> {
    let ok = value.len() <= 512
        && value.starts_with('/')
        && value.ends_with('/')
        && value.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(validation(
            value,
            "path",
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

/// The size limits IAM enforces on documents: 131072 characters for the model, 2048 for inline
/// user policies' aggregate and so on are looser here; the role trust policy is capped at 2048.
pub(crate) const MAX_DOCUMENT_CHARS: usize = 131_072;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        check_name("alice.b+c@d=e,f_g-h", "userName", 64).unwrap();
        let err = check_name("has space", "userName", 64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 validation error detected: Value 'has space' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        assert!(check_name(&"a".repeat(65), "userName", 64).is_err());
        check_path("/").unwrap();
        check_path("/team/a/").unwrap();
        assert!(check_path("team/").is_err());
        assert!(check_path("/te am/").is_err());
    }
}
