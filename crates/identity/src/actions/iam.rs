//! IAM (signing name `iam`, query protocol), the subset issue 10 serves. Users, roles and groups
//! are named by ARN with their path (`arn:aws:iam::{account}:user/team/alice`); paths default to
//! `/`, so the edge supplies `UserPath`/`RolePath`/`GroupPath` only for existing entities that have
//! another one (from the registry) and, for access-key calls without `UserName`, the caller's own
//! user name. List calls are authorized on the path prefix (`…:user/` for ListUsers), as AWS's
//! denials show.

use super::{check, Rule};

const USER: &str = "arn:aws:iam::{account}:user{UserPath=/}{UserName}";
const ROLE: &str = "arn:aws:iam::{account}:role{RolePath=/}{RoleName}";
const GROUP: &str = "arn:aws:iam::{account}:group{GroupPath=/}{GroupName}";

macro_rules! on {
    ($operation:literal, $resource:expr) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("iam:", $operation), $resource)],
        }
    };
}

/// The IAM table.
pub(super) const RULES: &[Rule] = &[
    on!("CreateUser", USER),
    on!("GetUser", USER),
    on!("DeleteUser", USER),
    on!("ListUsers", "arn:aws:iam::{account}:user{PathPrefix=/}"),
    on!("CreateAccessKey", USER),
    on!("ListAccessKeys", USER),
    on!("UpdateAccessKey", USER),
    on!("DeleteAccessKey", USER),
    on!("PutUserPolicy", USER),
    on!("GetUserPolicy", USER),
    on!("DeleteUserPolicy", USER),
    on!("ListUserPolicies", USER),
    on!("AttachUserPolicy", USER),
    on!("DetachUserPolicy", USER),
    on!("ListAttachedUserPolicies", USER),
    on!("ListGroupsForUser", USER),
    on!("CreateRole", ROLE),
    on!("GetRole", ROLE),
    on!("DeleteRole", ROLE),
    on!("ListRoles", "arn:aws:iam::{account}:role{PathPrefix=/}"),
    on!("UpdateRole", ROLE),
    on!("UpdateAssumeRolePolicy", ROLE),
    on!("PutRolePolicy", ROLE),
    on!("GetRolePolicy", ROLE),
    on!("DeleteRolePolicy", ROLE),
    on!("ListRolePolicies", ROLE),
    on!("AttachRolePolicy", ROLE),
    on!("DetachRolePolicy", ROLE),
    on!("ListAttachedRolePolicies", ROLE),
    on!("CreateGroup", GROUP),
    on!("GetGroup", GROUP),
    on!("DeleteGroup", GROUP),
    on!("ListGroups", "arn:aws:iam::{account}:group{PathPrefix=/}"),
    on!("AddUserToGroup", GROUP),
    on!("RemoveUserFromGroup", GROUP),
    on!("PutGroupPolicy", GROUP),
    on!("GetGroupPolicy", GROUP),
    on!("DeleteGroupPolicy", GROUP),
    on!("ListGroupPolicies", GROUP),
    on!("AttachGroupPolicy", GROUP),
    on!("DetachGroupPolicy", GROUP),
    on!("ListAttachedGroupPolicies", GROUP),
    on!(
        "CreatePolicy",
        "arn:aws:iam::{account}:policy{PolicyPath=/}{PolicyName}"
    ),
    on!("GetPolicy", "{PolicyArn}"),
    on!("DeletePolicy", "{PolicyArn}"),
    on!("ListPolicies", "*"),
    on!("GetPolicyVersion", "{PolicyArn}"),
    on!("CreatePolicyVersion", "{PolicyArn}"),
    on!("DeletePolicyVersion", "{PolicyArn}"),
    on!("ListPolicyVersions", "{PolicyArn}"),
    on!("SetDefaultPolicyVersion", "{PolicyArn}"),
];
