//! Execution-role credentials: how an environment gets temporary credentials of its function's
//! execution role (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the SDK
//! calls a function makes are signed as that role and allowed only what it allows.
//!
//! The lambda layer knows no identities: the composition root hands the invoker an
//! [`ExecutionCredentials`] source backed by the identity registry. Without one (tests, a server
//! without identity) environments get stand-ins that no server accepts.

/// Temporary credentials for one environment.
#[derive(Clone, PartialEq, Eq)]
pub struct RoleCredentials {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The session's secret.
    pub secret_access_key: String,
    /// The sealed session token.
    pub session_token: String,
    /// When the session ends; the environment is retired before then (see `invoke::pool`).
    pub expiration: time::OffsetDateTime,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Issues execution-role credentials.
pub trait ExecutionCredentials: Send + Sync + std::fmt::Debug {
    /// Credentials of `role_arn` for an environment of `function_name`, or `None` when Lambda may
    /// not assume the role (it does not exist, or does not trust `lambda.amazonaws.com`).
    fn credentials(&self, role_arn: &str, function_name: &str) -> Option<RoleCredentials>;
}
