//! Roles: trust policies, inline and attached policies (CreateRole, UpdateAssumeRolePolicy,
//! PutRolePolicy, AttachRolePolicy, …).

use super::users::{attach, detach, identity_document};
use super::{kinds, now, IdentityRegistry};
use crate::error::{validation, IamError};
use crate::keys::unique_id;
use crate::model::{check_name, check_path, Document, Permissions, Role};
use crate::policy::parse_trust_policy;

pub(crate) fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

/// The longest trust policy IAM accepts (its default quota, in characters).
const MAX_TRUST_POLICY_CHARS: usize = 2048;

fn trust_document(text: &str) -> Result<Document, IamError> {
    if text.chars().count() > MAX_TRUST_POLICY_CHARS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_CHARS}"
        )));
    }
    Ok(Document::new(text, parse_trust_policy(text)?))
}

/// What CreateRole takes besides the name.
#[derive(Debug, Clone, Default)]
pub struct NewRole<'a> {
    /// `Path` (default `/`).
    pub path: Option<&'a str>,
    /// `AssumeRolePolicyDocument`.
    pub trust_policy: &'a str,
    /// `Description`.
    pub description: Option<&'a str>,
    /// `MaxSessionDuration` (default 3600).
    pub max_session_duration: Option<i64>,
}

impl IdentityRegistry {
    /// CreateRole.
    pub fn create_role(&self, name: &str, new: NewRole<'_>) -> Result<Role, IamError> {
        check_name(name, "roleName", 64)?;
        let path = new.path.unwrap_or("/");
        check_path(path)?;
        let max_session_duration = new.max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max_session_duration) {
            return Err(validation(
                &max_session_duration.to_string(),
                "maxSessionDuration",
                "Member must have value less than or equal to 43200",
            ));
        }
        let trust = trust_document(new.trust_policy)?;
        let mut state = self.state.write();
        let key = name.to_lowercase();
        if state.roles.contains_key(&key) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {name} already exists."
            )));
        }
        let role = Role {
            role_name: name.to_owned(),
            path: path.to_owned(),
            role_id: unique_id("AROA"),
            arn: format!("arn:aws:iam::{}:role{path}{name}", self.account),
            create_date: now().unix_timestamp(),
            assume_role_policy_document: trust,
            description: new.description.unwrap_or_default().to_owned(),
            max_session_duration,
            permissions: Permissions::default(),
        };
        self.persist(kinds::ROLE, &key, &role)?;
        state.roles.insert(key, role.clone());
        Ok(role)
    }

    /// GetRole.
    pub fn get_role(&self, name: &str) -> Result<Role, IamError> {
        self.state
            .read()
            .roles
            .get(&name.to_lowercase())
            .cloned()
            .ok_or_else(|| no_role(name))
    }

    /// The role an ARN names (`arn:aws:iam::ACCOUNT:role/path/name`), in this account.
    pub fn role_by_arn(&self, arn: &str) -> Result<Role, IamError> {
        let name = arn
            .strip_prefix(&format!("arn:aws:iam::{}:role/", self.account))
            .and_then(|rest| rest.rsplit('/').next())
            .ok_or_else(|| IamError::NoSuchEntity(format!("Role {arn} cannot be found.")))?;
        self.get_role(name)
            .ok()
            .filter(|r| r.arn == arn)
            .ok_or_else(|| no_role(name))
    }

    /// ListRoles.
    pub fn list_roles(&self, path_prefix: Option<&str>) -> Vec<Role> {
        let prefix = path_prefix.unwrap_or("/");
        self.state
            .read()
            .roles
            .values()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// DeleteRole: refused while policies remain, as IAM does.
    pub fn delete_role(&self, name: &str) -> Result<(), IamError> {
        let mut state = self.state.write();
        let key = name.to_lowercase();
        let role = state.roles.get(&key).ok_or_else(|| no_role(name))?;
        if !role.permissions.attached_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        if !role.permissions.inline_policies.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        self.unpersist(kinds::ROLE, &key)?;
        state.roles.remove(&key);
        Ok(())
    }

    fn change_role(
        &self,
        name: &str,
        change: impl FnOnce(&mut Role, &super::State) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        let mut state = self.state.write();
        let key = name.to_lowercase();
        let mut role = state
            .roles
            .get(&key)
            .cloned()
            .ok_or_else(|| no_role(name))?;
        change(&mut role, &state)?;
        self.persist(kinds::ROLE, &key, &role)?;
        state.roles.insert(key, role);
        Ok(())
    }

    /// UpdateAssumeRolePolicy.
    pub fn update_assume_role_policy(&self, name: &str, document: &str) -> Result<(), IamError> {
        let trust = trust_document(document)?;
        self.change_role(name, |r, _| {
            r.assume_role_policy_document = trust;
            Ok(())
        })
    }

    /// PutRolePolicy.
    pub fn put_role_policy(
        &self,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_name(policy_name, "policyName", 128)?;
        let document = identity_document(document)?;
        self.change_role(role, |r, _| {
            r.permissions
                .inline_policies
                .insert(policy_name.to_owned(), document);
            Ok(())
        })
    }

    /// GetRolePolicy: the document text.
    pub fn get_role_policy(&self, role: &str, policy_name: &str) -> Result<String, IamError> {
        self.get_role(role)?
            .permissions
            .inline_policies
            .get(policy_name)
            .map(|d| d.text.clone())
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The role policy with name {policy_name} cannot be found."
                ))
            })
    }

    /// DeleteRolePolicy.
    pub fn delete_role_policy(&self, role: &str, policy_name: &str) -> Result<(), IamError> {
        self.change_role(role, |r, _| {
            r.permissions
                .inline_policies
                .remove(policy_name)
                .map(|_| ())
                .ok_or_else(|| {
                    IamError::NoSuchEntity(format!(
                        "The role policy with name {policy_name} cannot be found."
                    ))
                })
        })
    }

    /// AttachRolePolicy.
    pub fn attach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_role(role, |r, state| {
            attach(&mut r.permissions, state, policy_arn, "PoliciesPerRole")
        })
    }

    /// DetachRolePolicy.
    pub fn detach_role_policy(&self, role: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_role(role, |r, _| detach(&mut r.permissions, policy_arn))
    }
}
