//! Users, their access keys and their policies (CreateUser, CreateAccessKey, PutUserPolicy,
//! AttachUserPolicy, …).

use super::{kinds, now, IdentityRegistry};
use crate::error::IamError;
use crate::keys::{long_term_key_id, secret_access_key, unique_id};
use crate::model::{
    check_name, check_path, AccessKey, Document, KeyStatus, Permissions, User, MAX_DOCUMENT_CHARS,
};
use crate::policy::parse_identity_policy;

/// IAM's quota of access keys per user.
pub const ACCESS_KEYS_PER_USER: usize = 2;
/// IAM's default quota of managed policies attached to one user, group or role.
pub const ATTACHED_POLICIES_PER_ENTITY: usize = 10;

pub(crate) fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

/// Parses a document for an identity, refusing oversize ones as IAM does.
pub(crate) fn identity_document(text: &str) -> Result<Document, IamError> {
    if text.chars().count() > MAX_DOCUMENT_CHARS {
        return Err(crate::error::validation(
            "policyDocument",
            "policyDocument",
            "Member must have length less than or equal to 131072",
        ));
    }
    Ok(Document::new(text, parse_identity_policy(text)?))
}

impl IdentityRegistry {
    /// CreateUser.
    pub fn create_user(&self, name: &str, path: Option<&str>) -> Result<User, IamError> {
        check_name(name, "userName", 64)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        let mut state = self.state.write();
        let key = name.to_lowercase();
        if state.users.contains_key(&key) {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {name} already exists."
            )));
        }
        let user = User {
            user_name: name.to_owned(),
            path: path.to_owned(),
            user_id: unique_id("AIDA"),
            arn: format!("arn:aws:iam::{}:user{path}{name}", self.account),
            create_date: now().unix_timestamp(),
            groups: Vec::new(),
            permissions: Permissions::default(),
        };
        self.persist(kinds::USER, &key, &user)?;
        state.users.insert(key, user.clone());
        Ok(user)
    }

    /// GetUser.
    pub fn get_user(&self, name: &str) -> Result<User, IamError> {
        self.state
            .read()
            .users
            .get(&name.to_lowercase())
            .cloned()
            .ok_or_else(|| no_user(name))
    }

    /// ListUsers (sorted by name, as IAM lists them).
    pub fn list_users(&self, path_prefix: Option<&str>) -> Vec<User> {
        let prefix = path_prefix.unwrap_or("/");
        self.state
            .read()
            .users
            .values()
            .filter(|u| u.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// DeleteUser: refused while the user has keys, policies or groups, as IAM does.
    pub fn delete_user(&self, name: &str) -> Result<(), IamError> {
        let mut state = self.state.write();
        let key = name.to_lowercase();
        let user = state.users.get(&key).ok_or_else(|| no_user(name))?;
        let conflict = |what: &str| {
            IamError::DeleteConflict(format!("Cannot delete entity, must {what} first."))
        };
        if state.keys.values().any(|k| k.user_name == user.user_name) {
            return Err(conflict("delete access keys"));
        }
        if !user.permissions.inline_policies.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !user.permissions.attached_policies.is_empty() {
            return Err(conflict("detach all policies"));
        }
        if !user.groups.is_empty() {
            return Err(conflict("remove user from all groups"));
        }
        self.unpersist(kinds::USER, &key)?;
        state.users.remove(&key);
        Ok(())
    }

    /// CreateAccessKey (at most two per user).
    pub fn create_access_key(&self, user_name: &str) -> Result<AccessKey, IamError> {
        let mut state = self.state.write();
        let user = state
            .users
            .get(&user_name.to_lowercase())
            .ok_or_else(|| no_user(user_name))?;
        let owned = state
            .keys
            .values()
            .filter(|k| k.user_name == user.user_name)
            .count();
        if owned >= ACCESS_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )));
        }
        let key = AccessKey {
            access_key_id: long_term_key_id(),
            secret_access_key: secret_access_key(),
            user_name: user.user_name.clone(),
            status: KeyStatus::Active,
            create_date: now().unix_timestamp(),
        };
        self.persist(kinds::ACCESS_KEY, &key.access_key_id, &key)?;
        state.keys.insert(key.access_key_id.clone(), key.clone());
        Ok(key)
    }

    /// ListAccessKeys (secrets included; the edge leaves them out of the response).
    pub fn list_access_keys(&self, user_name: &str) -> Result<Vec<AccessKey>, IamError> {
        let state = self.state.read();
        let user = state
            .users
            .get(&user_name.to_lowercase())
            .ok_or_else(|| no_user(user_name))?;
        let mut keys: Vec<AccessKey> = state
            .keys
            .values()
            .filter(|k| k.user_name == user.user_name)
            .cloned()
            .collect();
        keys.sort_by_key(|k| k.create_date);
        Ok(keys)
    }

    fn with_key(
        &self,
        user_name: &str,
        key_id: &str,
        change: impl FnOnce(&Self, &mut crate::registry::State) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        let mut state = self.state.write();
        let user = state
            .users
            .get(&user_name.to_lowercase())
            .ok_or_else(|| no_user(user_name))?;
        if state
            .keys
            .get(key_id)
            .is_none_or(|k| k.user_name != user.user_name)
        {
            return Err(IamError::NoSuchEntity(format!(
                "The Access Key with id {key_id} cannot be found."
            )));
        }
        change(self, &mut state)?;
        self.cache.forget_key(key_id);
        Ok(())
    }

    /// UpdateAccessKey (`Active` / `Inactive`).
    pub fn update_access_key(
        &self,
        user_name: &str,
        key_id: &str,
        status: KeyStatus,
    ) -> Result<(), IamError> {
        self.with_key(user_name, key_id, |registry, state| {
            let key = state.keys.get_mut(key_id).expect("checked");
            let mut updated = key.clone();
            updated.status = status;
            registry.persist(kinds::ACCESS_KEY, key_id, &updated)?;
            *key = updated;
            Ok(())
        })
    }

    /// DeleteAccessKey.
    pub fn delete_access_key(&self, user_name: &str, key_id: &str) -> Result<(), IamError> {
        self.with_key(user_name, key_id, |registry, state| {
            registry.unpersist(kinds::ACCESS_KEY, key_id)?;
            state.keys.remove(key_id);
            Ok(())
        })
    }

    fn change_user(
        &self,
        name: &str,
        change: impl FnOnce(&mut User, &super::State) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        let mut state = self.state.write();
        let key = name.to_lowercase();
        let mut user = state
            .users
            .get(&key)
            .cloned()
            .ok_or_else(|| no_user(name))?;
        change(&mut user, &state)?;
        self.persist(kinds::USER, &key, &user)?;
        state.users.insert(key, user);
        Ok(())
    }

    /// PutUserPolicy.
    pub fn put_user_policy(
        &self,
        user: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_name(policy_name, "policyName", 128)?;
        let document = identity_document(document)?;
        self.change_user(user, |u, _| {
            u.permissions
                .inline_policies
                .insert(policy_name.to_owned(), document);
            Ok(())
        })
    }

    /// GetUserPolicy: the document text.
    pub fn get_user_policy(&self, user: &str, policy_name: &str) -> Result<String, IamError> {
        let u = self.get_user(user)?;
        u.permissions
            .inline_policies
            .get(policy_name)
            .map(|d| d.text.clone())
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The user policy with name {policy_name} cannot be found."
                ))
            })
    }

    /// DeleteUserPolicy.
    pub fn delete_user_policy(&self, user: &str, policy_name: &str) -> Result<(), IamError> {
        self.change_user(user, |u, _| {
            u.permissions
                .inline_policies
                .remove(policy_name)
                .map(|_| ())
                .ok_or_else(|| {
                    IamError::NoSuchEntity(format!(
                        "The user policy with name {policy_name} cannot be found."
                    ))
                })
        })
    }

    /// AttachUserPolicy.
    pub fn attach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_user(user, |u, state| {
            attach(&mut u.permissions, state, policy_arn, "PoliciesPerUser")
        })
    }

    /// DetachUserPolicy.
    pub fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_user(user, |u, _| detach(&mut u.permissions, policy_arn))
    }
}

/// Attaches a managed policy (idempotent, as IAM's attach is).
pub(crate) fn attach(
    permissions: &mut Permissions,
    state: &super::State,
    policy_arn: &str,
    quota: &str,
) -> Result<(), IamError> {
    if !IdentityRegistry::policy_exists(state, policy_arn) {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {policy_arn} does not exist or is not attachable."
        )));
    }
    if permissions
        .attached_policies
        .iter()
        .any(|a| a == policy_arn)
    {
        return Ok(());
    }
    if permissions.attached_policies.len() >= ATTACHED_POLICIES_PER_ENTITY {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for {quota}: {ATTACHED_POLICIES_PER_ENTITY}"
        )));
    }
    permissions.attached_policies.push(policy_arn.to_owned());
    Ok(())
}

/// Detaches a managed policy.
pub(crate) fn detach(permissions: &mut Permissions, policy_arn: &str) -> Result<(), IamError> {
    let before = permissions.attached_policies.len();
    permissions.attached_policies.retain(|a| a != policy_arn);
    if permissions.attached_policies.len() == before {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {policy_arn} was not found."
        )));
    }
    Ok(())
}
