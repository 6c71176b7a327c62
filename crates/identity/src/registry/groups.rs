//! Groups: a user's identity policies include those of its groups.

use super::users::{attach, detach, identity_document, no_user};
use super::{kinds, now, IdentityRegistry};
use crate::error::IamError;
use crate::keys::unique_id;
use crate::model::{check_name, check_path, Group, Permissions, User};

fn no_group_policy(name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The group policy with name {name} cannot be found."
    ))
}

fn no_group(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
}

impl IdentityRegistry {
    /// CreateGroup.
    pub fn create_group(&self, name: &str, path: Option<&str>) -> Result<Group, IamError> {
        check_name(name, "groupName", 128)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        let mut state = self.state.write();
        let key = name.to_lowercase();
        if state.groups.contains_key(&key) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {name} already exists."
            )));
        }
        let group = Group {
            group_name: name.to_owned(),
            path: path.to_owned(),
            group_id: unique_id("AGPA"),
            arn: format!("arn:aws:iam::{}:group{path}{name}", self.account),
            create_date: now().unix_timestamp(),
            permissions: Permissions::default(),
        };
        self.persist(kinds::GROUP, &key, &group)?;
        state.groups.insert(key, group.clone());
        Ok(group)
    }

    /// GetGroup: the group and its users.
    pub fn get_group(&self, name: &str) -> Result<(Group, Vec<User>), IamError> {
        let state = self.state.read();
        let group = state
            .groups
            .get(&name.to_lowercase())
            .ok_or_else(|| no_group(name))?;
        let users = state
            .users
            .values()
            .filter(|u| {
                u.groups
                    .iter()
                    .any(|g| g.eq_ignore_ascii_case(&group.group_name))
            })
            .cloned()
            .collect();
        Ok((group.clone(), users))
    }

    /// ListGroups (sorted by name).
    pub fn list_groups(&self, path_prefix: Option<&str>) -> Vec<Group> {
        let prefix = path_prefix.unwrap_or("/");
        self.state
            .read()
            .groups
            .values()
            .filter(|g| g.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// DeleteGroup: refused while it has members or policies.
    pub fn delete_group(&self, name: &str) -> Result<(), IamError> {
        let (group, users) = self.get_group(name)?;
        if !users.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        if !group.permissions.attached_policies.is_empty()
            || !group.permissions.inline_policies.is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        let key = name.to_lowercase();
        let mut state = self.state.write();
        self.unpersist(kinds::GROUP, &key)?;
        state.groups.remove(&key);
        Ok(())
    }

    fn change_membership(&self, group: &str, user: &str, add: bool) -> Result<(), IamError> {
        let mut state = self.state.write();
        let group_name = state
            .groups
            .get(&group.to_lowercase())
            .map(|g| g.group_name.clone())
            .ok_or_else(|| no_group(group))?;
        let key = user.to_lowercase();
        let mut updated = state
            .users
            .get(&key)
            .cloned()
            .ok_or_else(|| no_user(user))?;
        updated.groups.retain(|g| *g != group_name);
        if add {
            updated.groups.push(group_name);
        }
        self.persist(kinds::USER, &key, &updated)?;
        state.users.insert(key, updated);
        Ok(())
    }

    /// AddUserToGroup.
    pub fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), IamError> {
        self.change_membership(group, user, true)
    }

    /// RemoveUserFromGroup.
    pub fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), IamError> {
        self.change_membership(group, user, false)
    }

    fn change_group(
        &self,
        name: &str,
        change: impl FnOnce(&mut Group, &super::State) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        let mut state = self.state.write();
        let key = name.to_lowercase();
        let mut group = state
            .groups
            .get(&key)
            .cloned()
            .ok_or_else(|| no_group(name))?;
        change(&mut group, &state)?;
        self.persist(kinds::GROUP, &key, &group)?;
        state.groups.insert(key, group);
        Ok(())
    }

    /// PutGroupPolicy.
    pub fn put_group_policy(
        &self,
        group: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_name(policy_name, "policyName", 128)?;
        let document = identity_document(document)?;
        self.change_group(group, |g, _| {
            g.permissions
                .inline_policies
                .insert(policy_name.to_owned(), document);
            Ok(())
        })
    }

    /// GetGroupPolicy: the document text.
    pub fn get_group_policy(&self, group: &str, policy_name: &str) -> Result<String, IamError> {
        let (group, _) = self.get_group(group)?;
        group
            .permissions
            .inline_policies
            .get(policy_name)
            .map(|d| d.text.clone())
            .ok_or_else(|| no_group_policy(policy_name))
    }

    /// DeleteGroupPolicy.
    pub fn delete_group_policy(&self, group: &str, policy_name: &str) -> Result<(), IamError> {
        self.change_group(group, |g, _| {
            g.permissions
                .inline_policies
                .remove(policy_name)
                .map(|_| ())
                .ok_or_else(|| no_group_policy(policy_name))
        })
    }

    /// AttachGroupPolicy.
    pub fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_group(group, |g, state| {
            attach(&mut g.permissions, state, policy_arn, "PoliciesPerGroup")
        })
    }

    /// DetachGroupPolicy.
    pub fn detach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), IamError> {
        self.change_group(group, |g, _| detach(&mut g.permissions, policy_arn))
    }
}
