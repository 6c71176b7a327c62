//! IAM's parameters for its authorization table: names from the form, paths of existing users,
//! roles and groups from the registry (a user at `/team/` is `…:user/team/alice`), the path a
//! Create* call asks for, and — as AWS does for the access-key and GetUser calls that may leave
//! `UserName` out — the calling user's own name.

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::AwsError;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};

/// IAM's authorizer.
pub(crate) struct IamAuthorizer;

/// Operations that may leave `UserName` out and then act on the caller.
const SELF_SERVICE: &[&str] = &[
    "GetUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
];

impl Authorizer for IamAuthorizer {
    fn route(&self, _: &Parts) -> Option<Matched> {
        None
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        let mut parameters = Parameters::new();
        let creates = asked.operation.starts_with("Create");
        let user = asked.field("UserName").map(str::to_owned).or_else(|| {
            SELF_SERVICE
                .contains(&asked.operation)
                .then(|| asked.caller.principal.user_name.clone())
                .flatten()
        });
        if let Some(user) = user {
            let path = match asked.operation {
                "CreateUser" => asked.field("Path").map(str::to_owned),
                _ => identity.get_user(&user).ok().map(|u| u.path),
            };
            if let Some(path) = path {
                parameters.push(("UserPath", path));
            }
            parameters.push(("UserName", user));
        }
        if let Some(role) = asked.field("RoleName") {
            let path = if creates {
                asked.field("Path").map(str::to_owned)
            } else {
                identity.get_role(role).ok().map(|r| r.path)
            };
            if let Some(path) = path {
                parameters.push(("RolePath", path));
            }
            parameters.push(("RoleName", role.to_owned()));
        }
        if let Some(group) = asked.field("GroupName") {
            let path = if creates {
                asked.field("Path").map(str::to_owned)
            } else {
                identity.get_group(group).ok().map(|(g, _)| g.path)
            };
            if let Some(path) = path {
                parameters.push(("GroupPath", path));
            }
            parameters.push(("GroupName", group.to_owned()));
        }
        if asked.operation == "CreatePolicy" {
            if let Some(path) = asked.field("Path") {
                parameters.push(("PolicyPath", path.to_owned()));
            }
        }
        for member in ["PolicyName", "PolicyArn", "PathPrefix"] {
            if let Some(value) = asked.field(member) {
                parameters.push((member, value.to_owned()));
            }
        }
        Ok(parameters)
    }
}
