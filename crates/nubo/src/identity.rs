//! The composition root's part in identity: execution-role sessions for environments, the lines
//! that say where the administrator's key is (never the key), and the examples' role.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use nubo_identity::registry::NewRole;
use nubo_identity::IdentityRegistry;
use nubo_lambda::credentials::{ExecutionCredentials, RoleCredentials};

/// Execution-role credentials for environments: a session of the function's role, as Lambda
/// gives each execution environment.
#[derive(Debug)]
pub(crate) struct RoleSessions(pub(crate) Arc<IdentityRegistry>);

impl ExecutionCredentials for RoleSessions {
    fn credentials(&self, role_arn: &str, function_name: &str) -> Option<RoleCredentials> {
        let issued = self
            .0
            .function_credentials(role_arn, function_name, time::OffsetDateTime::now_utc())
            .inspect_err(|e| {
                tracing::warn!(
                    function = function_name,
                    role = role_arn,
                    "no credentials for the environment: {e}"
                )
            })
            .ok()?;
        Some(RoleCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: issued.session_token,
            expiration: issued.expiration,
        })
    }
}

/// Says where the administrator's key is and how to use it — never the secret itself.
pub(crate) fn say_credentials(
    out: &mut impl Write,
    data_dir: &Path,
    written: bool,
) -> anyhow::Result<()> {
    let credentials = nubo::credentials::credentials_file(data_dir);
    let config = nubo::credentials::config_file(data_dir);
    if !credentials.is_file() {
        writeln!(
            out,
            "nubo: credentials: {} is gone; create a key with `aws iam create-access-key` as another user",
            credentials.display()
        )?;
        return Ok(());
    }
    let state = if written { "written now" } else { "kept" };
    writeln!(
        out,
        "nubo: credentials: the administrator's key is profile `nubo` in {} ({state}, mode 0600); use it with:",
        credentials.display()
    )?;
    writeln!(
        out,
        "nubo:   export AWS_SHARED_CREDENTIALS_FILE={} AWS_CONFIG_FILE={} AWS_PROFILE=nubo",
        credentials.display(),
        config.display()
    )?;
    Ok(())
}

/// The role examples run as: `nubo-example`, trusting Lambda, with `AWSLambdaBasicExecutionRole`
/// (created on the first `--deploy-examples`).
pub(crate) fn example_role(identity: &IdentityRegistry) -> anyhow::Result<String> {
    const NAME: &str = "nubo-example";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    if let Ok(role) = identity.get_role(NAME) {
        return Ok(role.arn);
    }
    let role = identity
        .create_role(
            NAME,
            NewRole {
                trust_policy: TRUST,
                description: Some(
                    "The role of the examples `nubo serve --deploy-examples` deploys",
                ),
                ..Default::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("creating role {NAME}: {e}"))?;
    identity
        .attach_role_policy(
            NAME,
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        .map_err(|e| anyhow::anyhow!("attaching a policy to role {NAME}: {e}"))?;
    Ok(role.arn)
}
