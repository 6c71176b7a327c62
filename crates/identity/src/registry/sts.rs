//! STS: GetCallerIdentity, AssumeRole, and the per-function credentials Lambda gives each
//! execution environment (a session of the function's execution role, as Lambda's own AssumeRole).

use time::{Duration, OffsetDateTime};

use super::IdentityRegistry;
use crate::authn::Caller;
use crate::error::{validation, IamError};
use crate::policy::{ConditionKeys, PrincipalKind};
use crate::session::TemporaryCredentials;

/// GetCallerIdentity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// `UserId`: `AIDA…`, `AROA…:session`, or the account id for the root.
    pub user_id: String,
    /// `Account`.
    pub account: String,
    /// `Arn`.
    pub arn: String,
}

/// AssumeRole's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    /// `Credentials`.
    pub credentials: TemporaryCredentials,
    /// `AssumedRoleUser.AssumedRoleId`: `AROA…:session`.
    pub assumed_role_id: String,
    /// `AssumedRoleUser.Arn`: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
}

/// The service principal whose trust a function's execution role must grant.
pub const LAMBDA_SERVICE: &str = "lambda.amazonaws.com";
/// How long per-function credentials last (Lambda refreshes them well before; 12 h is STS's cap).
pub const FUNCTION_CREDENTIALS: Duration = Duration::hours(12);
/// Role chaining (a role session assuming a role) is capped at one hour.
const CHAINED_MAX_SECONDS: i64 = 3600;

fn check_session_name(name: &str) -> Result<(), IamError> {
    if name.len() < 2 {
        return Err(validation(
            name,
            "roleSessionName",
            "Member must have length greater than or equal to 2",
        ));
    }
    if name.len() > 64 {
        return Err(validation(
            name,
            "roleSessionName",
            "Member must have length less than or equal to 64",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(validation(
            name,
            "roleSessionName",
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    Ok(())
}

impl IdentityRegistry {
    /// GetCallerIdentity (always allowed, as on AWS).
    pub fn get_caller_identity(&self, caller: &Caller) -> CallerIdentity {
        CallerIdentity {
            user_id: caller.principal.id.clone(),
            account: caller.principal.account.clone(),
            arn: caller.principal.arn.clone(),
        }
    }

    /// AssumeRole: the caller must be allowed `sts:AssumeRole` on the role, by its identity
    /// policies or by the role's trust policy naming it (the trust policy is the resource policy).
    pub fn assume_role(
        &self,
        caller: &Caller,
        role_arn: &str,
        session_name: &str,
        duration_seconds: Option<i64>,
        keys: &ConditionKeys,
        now: OffsetDateTime,
    ) -> Result<AssumedRole, IamError> {
        check_session_name(session_name)?;
        let role = self.role_by_arn(role_arn).map_err(|_| {
            // AWS answers a missing role as a denial, not as NoSuchEntity.
            IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.principal.arn
            ))
        })?;
        let seconds = duration_seconds.unwrap_or(3600);
        if !(900..=43200).contains(&seconds) {
            return Err(validation(
                &seconds.to_string(),
                "durationSeconds",
                "Member must have value less than or equal to 43200",
            ));
        }
        if caller.principal.kind == PrincipalKind::AssumedRole && seconds > CHAINED_MAX_SECONDS {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ));
        }
        if seconds > role.max_session_duration {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let trust = role
            .assume_role_policy_document
            .policy()
            .cloned()
            .ok_or_else(|| IamError::ServiceFailure("trust policy not compiled".into()))?;
        caller
            .authorize(
                "sts:AssumeRole",
                &role.arn,
                Some(&trust),
                Some(&self.account),
                keys,
                now,
            )
            .map_err(|denied| IamError::AccessDenied(denied.message()))?;
        let credentials = self.sessions.issue(
            &self.account,
            &role.arn,
            &role.role_id,
            session_name,
            now,
            Duration::seconds(seconds),
        );
        Ok(AssumedRole {
            credentials,
            assumed_role_id: format!("{}:{session_name}", role.role_id),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{session_name}",
                self.account, role.role_name
            ),
        })
    }

    /// Whether Lambda may assume `role_arn`: the role exists and its trust policy lets
    /// `lambda.amazonaws.com` perform `sts:AssumeRole` (CreateFunction checks this, as AWS does).
    pub fn lambda_can_assume(&self, role_arn: &str, now: OffsetDateTime) -> Result<(), IamError> {
        let role = self.role_by_arn(role_arn)?;
        let trust = role.assume_role_policy_document.policy().cloned();
        Caller::service(LAMBDA_SERVICE)
            .authorize(
                "sts:AssumeRole",
                &role.arn,
                trust.as_deref(),
                Some(&self.account),
                &ConditionKeys::default(),
                now,
            )
            .map_err(|denied| IamError::AccessDenied(denied.message()))
    }

    /// Credentials for one execution environment of a function: a session of its execution role
    /// named after the function (`assumed-role/ROLE/FUNCTION`), as Lambda provides them.
    pub fn function_credentials(
        &self,
        role_arn: &str,
        function_name: &str,
        now: OffsetDateTime,
    ) -> Result<TemporaryCredentials, IamError> {
        self.lambda_can_assume(role_arn, now)?;
        let role = self.role_by_arn(role_arn)?;
        Ok(self.sessions.issue(
            &self.account,
            &role.arn,
            &role.role_id,
            function_name,
            now,
            FUNCTION_CREDENTIALS,
        ))
    }
}
