//! Managed policies: customer managed ones with versions (CreatePolicy, CreatePolicyVersion,
//! GetPolicyVersion, …) and AWS managed ones, read-only, under `arn:aws:iam::aws:policy/…`.

use sha2::{Digest, Sha256};

use super::users::identity_document;
use super::{kinds, now, IdentityRegistry, State};
use crate::error::IamError;
use crate::keys::unique_id;
use crate::model::{check_name, check_path, ManagedPolicy, PolicyVersion};

/// IAM's limit of versions per managed policy.
pub const VERSIONS_PER_POLICY: usize = 5;

/// GetPolicy's view of a policy, customer or AWS managed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// `PolicyName`.
    pub policy_name: String,
    /// `Path`.
    pub path: String,
    /// `PolicyId`.
    pub policy_id: String,
    /// `Arn`.
    pub arn: String,
    /// `Description`.
    pub description: String,
    /// `DefaultVersionId`.
    pub default_version_id: String,
    /// `AttachmentCount`.
    pub attachment_count: usize,
    /// Unix seconds (for AWS managed policies: the default version's date).
    pub create_date: i64,
    /// Unix seconds.
    pub update_date: i64,
    /// Whether AWS owns it.
    pub aws_managed: bool,
}

/// GetPolicyVersion's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersionInfo {
    /// `Document` (the edge URL-encodes it, as IAM does).
    pub document: String,
    /// `VersionId`.
    pub version_id: String,
    /// `IsDefaultVersion`.
    pub is_default: bool,
    /// Unix seconds.
    pub create_date: i64,
}

fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}

/// A stable `ANPA…` id for an AWS managed policy (AWS's real ids are not published in bulk).
fn aws_policy_id(name: &str) -> String {
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(name.as_bytes());
    let mut id = String::from("ANPA");
    id.extend(
        digest
            .iter()
            .take(17)
            .map(|b| BASE32[usize::from(b & 31)] as char),
    );
    id
}

fn epoch(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

fn attachment_count(state: &State, arn: &str) -> usize {
    let attached = |list: &Vec<String>| usize::from(list.iter().any(|a| a == arn));
    state
        .users
        .values()
        .map(|u| attached(&u.permissions.attached_policies))
        .sum::<usize>()
        + state
            .roles
            .values()
            .map(|r| attached(&r.permissions.attached_policies))
            .sum::<usize>()
        + state
            .groups
            .values()
            .map(|g| attached(&g.permissions.attached_policies))
            .sum::<usize>()
}

fn info(state: &State, policy: &ManagedPolicy) -> PolicyInfo {
    PolicyInfo {
        policy_name: policy.policy_name.clone(),
        path: policy.path.clone(),
        policy_id: policy.policy_id.clone(),
        arn: policy.arn.clone(),
        description: policy.description.clone(),
        default_version_id: policy.default_version_id.clone(),
        attachment_count: attachment_count(state, &policy.arn),
        create_date: policy.create_date,
        update_date: policy.update_date,
        aws_managed: false,
    }
}

fn aws_info(state: &State, policy: &crate::managed::ManagedPolicy) -> PolicyInfo {
    let arn = policy.arn();
    PolicyInfo {
        policy_name: policy.name.to_owned(),
        path: policy.path.to_owned(),
        policy_id: aws_policy_id(policy.name),
        attachment_count: attachment_count(state, &arn),
        arn,
        description: String::new(),
        default_version_id: policy.version_id.to_owned(),
        create_date: epoch(policy.version_created),
        update_date: epoch(policy.version_created),
        aws_managed: true,
    }
}

impl IdentityRegistry {
    /// CreatePolicy.
    pub fn create_policy(
        &self,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
    ) -> Result<PolicyInfo, IamError> {
        check_name(name, "policyName", 128)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        let document = identity_document(document)?;
        let arn = format!("arn:aws:iam::{}:policy{path}{name}", self.account);
        let mut state = self.state.write();
        if state
            .policies
            .values()
            .any(|p| p.policy_name.eq_ignore_ascii_case(name) && p.path == path)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let at = now().unix_timestamp();
        let policy = ManagedPolicy {
            policy_name: name.to_owned(),
            path: path.to_owned(),
            policy_id: unique_id("ANPA"),
            arn: arn.clone(),
            description: description.unwrap_or_default().to_owned(),
            create_date: at,
            update_date: at,
            default_version_id: "v1".into(),
            next_version: 2,
            versions: vec![PolicyVersion {
                version_id: "v1".into(),
                document,
                create_date: at,
            }],
        };
        self.persist(kinds::POLICY, &arn, &policy)?;
        let view = info(&state, &policy);
        state.policies.insert(arn, policy);
        Ok(view)
    }

    /// GetPolicy (customer or AWS managed).
    pub fn get_policy(&self, arn: &str) -> Result<PolicyInfo, IamError> {
        let state = self.state.read();
        if let Some(aws) = crate::managed::by_arn(arn) {
            return Ok(aws_info(&state, aws));
        }
        state
            .policies
            .get(arn)
            .map(|p| info(&state, p))
            .ok_or_else(|| not_found(arn))
    }

    /// ListPolicies: `Scope` `All`, `AWS` or `Local`; `OnlyAttached`.
    pub fn list_policies(&self, scope: &str, only_attached: bool) -> Vec<PolicyInfo> {
        let state = self.state.read();
        let mut out = Vec::new();
        if scope != "Local" {
            out.extend(crate::managed::all().iter().map(|p| aws_info(&state, p)));
        }
        if scope != "AWS" {
            out.extend(state.policies.values().map(|p| info(&state, p)));
        }
        out.retain(|p| !only_attached || p.attachment_count > 0);
        out
    }

    /// GetPolicyVersion.
    pub fn get_policy_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> Result<PolicyVersionInfo, IamError> {
        let missing = || {
            IamError::NoSuchEntity(format!(
                "Policy {arn} version {version_id} does not exist or is not attachable."
            ))
        };
        if let Some(aws) = crate::managed::by_arn(arn) {
            return (aws.version_id == version_id)
                .then(|| PolicyVersionInfo {
                    document: aws.document.to_owned(),
                    version_id: version_id.to_owned(),
                    is_default: true,
                    create_date: epoch(aws.version_created),
                })
                .ok_or_else(missing);
        }
        let state = self.state.read();
        let policy = state.policies.get(arn).ok_or_else(|| not_found(arn))?;
        policy
            .versions
            .iter()
            .find(|v| v.version_id == version_id)
            .map(|v| PolicyVersionInfo {
                document: v.document.text.clone(),
                version_id: v.version_id.clone(),
                is_default: v.version_id == policy.default_version_id,
                create_date: v.create_date,
            })
            .ok_or_else(missing)
    }

    /// ListPolicyVersions (newest first, as IAM lists them).
    pub fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersionInfo>, IamError> {
        if let Some(aws) = crate::managed::by_arn(arn) {
            return Ok(vec![PolicyVersionInfo {
                document: aws.document.to_owned(),
                version_id: aws.version_id.to_owned(),
                is_default: true,
                create_date: epoch(aws.version_created),
            }]);
        }
        let state = self.state.read();
        let policy = state.policies.get(arn).ok_or_else(|| not_found(arn))?;
        Ok(policy
            .versions
            .iter()
            .rev()
            .map(|v| PolicyVersionInfo {
                document: v.document.text.clone(),
                version_id: v.version_id.clone(),
                is_default: v.version_id == policy.default_version_id,
                create_date: v.create_date,
            })
            .collect())
    }

    fn change_policy(
        &self,
        arn: &str,
        change: impl FnOnce(&mut ManagedPolicy) -> Result<(), IamError>,
    ) -> Result<ManagedPolicy, IamError> {
        if crate::managed::by_arn(arn).is_some() {
            return Err(IamError::AccessDenied(format!(
                "Policy {arn} is an AWS managed policy and cannot be changed."
            )));
        }
        let mut state = self.state.write();
        let mut policy = state
            .policies
            .get(arn)
            .cloned()
            .ok_or_else(|| not_found(arn))?;
        change(&mut policy)?;
        self.persist(kinds::POLICY, arn, &policy)?;
        state.policies.insert(arn.to_owned(), policy.clone());
        Ok(policy)
    }

    /// CreatePolicyVersion (at most five versions; `set_as_default` switches every principal the
    /// policy is attached to at once).
    pub fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> Result<PolicyVersionInfo, IamError> {
        let document = identity_document(document)?;
        let policy = self.change_policy(arn, |p| {
            if p.versions.len() >= VERSIONS_PER_POLICY {
                return Err(IamError::LimitExceeded(format!(
                    "A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let version_id = format!("v{}", p.next_version);
            p.next_version += 1;
            let at = now().unix_timestamp();
            p.versions.push(PolicyVersion {
                version_id: version_id.clone(),
                document,
                create_date: at,
            });
            if set_as_default {
                p.default_version_id = version_id;
                p.update_date = at;
            }
            Ok(())
        })?;
        let latest = policy.versions.last().expect("just pushed");
        Ok(PolicyVersionInfo {
            document: latest.document.text.clone(),
            version_id: latest.version_id.clone(),
            is_default: latest.version_id == policy.default_version_id,
            create_date: latest.create_date,
        })
    }

    /// SetDefaultPolicyVersion.
    pub fn set_default_policy_version(&self, arn: &str, version_id: &str) -> Result<(), IamError> {
        self.change_policy(arn, |p| {
            if !p.versions.iter().any(|v| v.version_id == version_id) {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                )));
            }
            p.default_version_id = version_id.to_owned();
            p.update_date = now().unix_timestamp();
            Ok(())
        })
        .map(|_| ())
    }

    /// DeletePolicyVersion (never the default one).
    pub fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<(), IamError> {
        self.change_policy(arn, |p| {
            if p.default_version_id == version_id {
                return Err(IamError::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            let before = p.versions.len();
            p.versions.retain(|v| v.version_id != version_id);
            if p.versions.len() == before {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version_id} does not exist or is not attachable."
                )));
            }
            Ok(())
        })
        .map(|_| ())
    }

    /// DeletePolicy: refused while attached.
    pub fn delete_policy(&self, arn: &str) -> Result<(), IamError> {
        let mut state = self.state.write();
        if !state.policies.contains_key(arn) {
            return Err(not_found(arn));
        }
        if attachment_count(&state, arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        self.unpersist(kinds::POLICY, arn)?;
        state.policies.remove(arn);
        Ok(())
    }
}
