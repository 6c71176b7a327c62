//! STS's parameters: `AssumeRole` names its role by ARN, and the role's trust policy is that
//! check's resource policy — a trust policy naming the caller lets it in without an identity
//! policy, as within one AWS account. (The registry's `assume_role` applies the same decision
//! again when it issues the session.)

use std::sync::Arc;

use http::request::Parts;
use nubo_identity::policy::Policy;
use nubo_identity::IdentityRegistry;
use nubo_wire::AwsError;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};

/// STS's authorizer.
pub(crate) struct StsAuthorizer;

impl Authorizer for StsAuthorizer {
    fn route(&self, _: &Parts) -> Option<Matched> {
        None
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        Ok(asked
            .field("RoleArn")
            .map(|arn| vec![("RoleArn", arn.to_owned())])
            .unwrap_or_default())
    }

    fn resource_policy(
        &self,
        asked: &Asked<'_>,
        _parameters: &Parameters,
        identity: &IdentityRegistry,
    ) -> Option<Arc<Policy>> {
        if asked.operation != "AssumeRole" {
            return None;
        }
        let role = identity.role_by_arn(asked.field("RoleArn")?).ok()?;
        role.assume_role_policy_document.policy().cloned()
    }
}
