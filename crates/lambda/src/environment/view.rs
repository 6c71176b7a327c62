//! What a function sees of its execution environment: Lambda's paths, the runtime's AWS SDK, the
//! environment variables Lambda defines, and its execution role's credentials.
//!
//! Inside a sandbox with a private root ([`Sandbox::lambda_layout`]) the paths are Lambda's: code
//! at `/var/task`, the runtime at `/var/runtime`, boto3 at `/var/lang/lib/python3.N/site-packages`
//! (where Lambda's python 3.11+ runtimes keep it), the SDK for JavaScript at
//! `/var/runtime/node_modules`, and the interpreter — which lives wherever the host installed it —
//! linked into `/var/lang/bin` so `PATH` is Lambda's too. Without a private root the function sees
//! the host's paths, and the variables name those instead.

use std::path::{Path, PathBuf};

use crate::control::records::FunctionRecord;
use crate::runtimes::{family, Family, Launch};
use crate::sandbox::{Mount, Sandbox};

use super::EnvironmentContext;

/// Where the runtime's SDK tree for node appears (Lambda's place; on `NODE_PATH`).
const NODE_SDK_INSIDE: &str = "/var/runtime/node_modules";

/// The credentials an environment gets for its execution role.
pub(crate) struct RoleCredentials {
    pub(crate) access_key_id: &'static str,
    pub(crate) secret_access_key: &'static str,
    pub(crate) session_token: &'static str,
}

/// Stand-ins when no credentials are issued (no source, or a role Lambda may not assume): three
/// distinct values (code that mixes them up fails here as it would on Lambda), the key id shaped
/// like an STS session's. No server accepts them.
pub(crate) const PLACEHOLDER_CREDENTIALS: RoleCredentials = RoleCredentials {
    access_key_id: "ASIANUBOPLACEHOLDER0",
    secret_access_key: "NuboPlaceholderSecretAccessKeyForRoles00",
    session_token: "NuboPlaceholderSessionTokenUntilIdentityIssuesRealOnes",
};

/// The environment as the sandbox is to set it up.
pub(crate) struct View {
    /// The complete environment of the runtime process.
    pub(crate) env: Vec<(String, String)>,
    /// Read-only trees beyond the code and the runtime directory.
    pub(crate) mounts: Vec<Mount>,
    /// Symbolic links in the private root.
    pub(crate) links: Vec<(PathBuf, PathBuf)>,
    /// When the execution-role credentials in `env` expire (`None`: placeholders, never valid).
    pub(crate) credentials_expire: Option<time::OffsetDateTime>,
}

/// Where the function reaches the platform, as seen from inside the environment.
pub(crate) struct Addresses<'a> {
    /// `AWS_LAMBDA_RUNTIME_API` (`host:port`).
    pub(crate) runtime_api: &'a str,
    /// `AWS_ENDPOINT_URL`, unless the function sets its own.
    pub(crate) endpoint_url: &'a str,
}

/// Works out the view for `function` run as `launch`; may add arguments to the bootstrap.
pub(crate) fn view(
    function: &FunctionRecord,
    ctx: &EnvironmentContext<'_>,
    launch: &mut Launch,
    addresses: &Addresses<'_>,
    stream: &str,
) -> View {
    let sandbox: &dyn Sandbox = ctx.sandbox;
    let lambda = sandbox.lambda_layout();
    let shown = |host: &Path, inside: &str| -> String {
        if lambda {
            inside.to_owned()
        } else {
            host.display().to_string()
        }
    };
    let task = shown(ctx.code_dir, "/var/task");
    let runtime = shown(&launch.runtime_dir, "/var/runtime");
    let mut mounts = Vec::new();
    let mut links = Vec::new();
    // Layers, merged in order, are `/opt` (read-only, shared by every environment with the same
    // layers). Without a private root the function reaches the merged tree's host path instead.
    let opt = match ctx.opt_dir {
        Some(host) => {
            mounts.push(Mount {
                host: host.to_path_buf(),
                inside: "/opt".into(),
            });
            shown(host, "/opt")
        }
        None => "/opt".to_owned(),
    };
    let sdk = ctx.catalog.sdk_for(launch).map(Path::to_path_buf);
    let program_dir = launch
        .program
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let interpreter_names: &[String] = &match launch.family {
        Family::Python { minor } => vec!["python3".into(), format!("python3.{minor}")],
        Family::Node { .. } => vec!["node".into()],
        _ => Vec::new(),
    };
    let managed = !interpreter_names.is_empty();
    if lambda {
        for name in interpreter_names {
            links.push((
                Path::new("/var/lang/bin").join(name),
                launch.program.clone(),
            ));
        }
    }

    let mut env: Vec<(String, String)> = Vec::with_capacity(32);
    let mut set = |key: &str, value: String| env.push((key.to_owned(), value));
    match launch.family {
        Family::Python { minor } => {
            // The bootstrap puts boto3 on sys.path after the task root and /opt/python, before
            // /var/runtime (PYTHONPATH) and the standard library, as Lambda's python 3.11+ does.
            // An argument rather than a variable: a function's own PYTHONPATH must not lose it.
            if let Some(host) = sdk {
                let inside = format!("/var/lang/lib/python3.{minor}/site-packages");
                launch.args.push(host.display().to_string());
                mounts.push(Mount {
                    host,
                    inside: inside.into(),
                });
            }
            // Without a private root the bootstrap's /opt/python is not the layers': name them.
            match (ctx.opt_dir, lambda) {
                (Some(_), false) => set(
                    "PYTHONPATH",
                    format!(
                        "{opt}/python/lib/python3.{minor}/site-packages:{opt}/python:{runtime}"
                    ),
                ),
                _ => set("PYTHONPATH", runtime.clone()),
            }
        }
        Family::Node { .. } => {
            let major = match family(&function.runtime) {
                Family::Node { major } => major,
                _ => 0,
            };
            let modules = match &sdk {
                Some(host) => shown(host, NODE_SDK_INSIDE),
                None => format!("{runtime}/node_modules"),
            };
            // Layers' node_modules must win over the SDK, but node walks up to /node_modules
            // before it reads NODE_PATH: with layers there is no such link, and ES modules get
            // the NODE_PATH loader (~28 ms per cold start) instead.
            let layers = ctx.opt_dir.is_some();
            if let Some(host) = sdk {
                mounts.push(Mount {
                    host,
                    inside: NODE_SDK_INSIDE.into(),
                });
                // Node's ES module resolver ignores NODE_PATH (Lambda's node 18+ runtimes add a
                // loader for it, ~28 ms per cold start here); it does walk up to /node_modules.
                if !layers {
                    links.push(("/node_modules".into(), NODE_SDK_INSIDE.into()));
                }
            }
            if !lambda || layers {
                // No private root to put /node_modules in: the bootstrap installs the loader, for
                // ES module handlers only.
                launch.args.push("--esm-node-path".into());
            }
            set(
                "NODE_PATH",
                format!(
                    "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{modules}:{runtime}:{task}"
                ),
            );
        }
        _ => {}
    }

    set("AWS_LAMBDA_RUNTIME_API", addresses.runtime_api.into());
    set("_HANDLER", function.handler.clone().unwrap_or_default());
    set("LAMBDA_TASK_ROOT", task.clone());
    set("LAMBDA_RUNTIME_DIR", runtime.clone());
    set("AWS_LAMBDA_FUNCTION_NAME", function.name.clone());
    set("AWS_LAMBDA_FUNCTION_VERSION", function.version.clone());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        function.memory_mb.to_string(),
    );
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        function
            .logging
            .log_group
            .clone()
            .unwrap_or_else(|| format!("/aws/lambda/{}", function.name)),
    );
    if function.log_format == "JSON" {
        // What Lambda's runtimes read to format and filter the application's log records.
        set("AWS_LAMBDA_LOG_FORMAT", "JSON".into());
        set(
            "AWS_LAMBDA_LOG_LEVEL",
            function
                .logging
                .application_log_level
                .clone()
                .unwrap_or_else(|| "INFO".into()),
        );
    }
    set("AWS_LAMBDA_LOG_STREAM_NAME", stream.into());
    set(
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        ctx.initialization_type.into(),
    );
    set("AWS_REGION", ctx.scope.region.clone());
    set("AWS_DEFAULT_REGION", ctx.scope.region.clone());
    if managed {
        // Lambda leaves it unset for custom (`provided`) runtimes.
        set(
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", function.runtime),
        );
    }
    let issued = ctx
        .credentials
        .and_then(|source| source.credentials(&function.role, &function.name));
    let placeholder = &PLACEHOLDER_CREDENTIALS;
    let credentials_expire = issued.as_ref().map(|c| c.expiration);
    let (key_id, secret, token) = match issued {
        Some(c) => (c.access_key_id, c.secret_access_key, c.session_token),
        None => (
            placeholder.access_key_id.into(),
            placeholder.secret_access_key.into(),
            placeholder.session_token.into(),
        ),
    };
    set("AWS_ACCESS_KEY_ID", key_id);
    set("AWS_SECRET_ACCESS_KEY", secret);
    set("AWS_SESSION_TOKEN", token);
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    // Lambda's managed runtimes put their interpreter's /var/lang/bin first; without a private
    // root to link it there, the interpreter's own directory stands in.
    let system_path = format!("/usr/local/bin:/usr/bin/:/bin:{opt}/bin");
    set(
        "PATH",
        match (managed, lambda) {
            (true, true) => format!("/var/lang/bin:{system_path}"),
            (true, false) => format!("{program_dir}:{system_path}"),
            (false, _) => system_path,
        },
    );
    let lang_lib = if managed && lambda {
        "/var/lang/lib:"
    } else {
        ""
    };
    set(
        "LD_LIBRARY_PATH",
        format!("{lang_lib}/lib64:/usr/lib64:{runtime}:{runtime}/lib:{task}:{task}/lib:{opt}/lib"),
    );
    // X-Ray's SDKs log rather than throw when there is no trace context. No daemon address: there
    // is no X-Ray daemon to send segments to.
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
    if !function.environment.contains_key("AWS_ENDPOINT_URL") {
        // SDK calls from the function reach Nubo.
        set("AWS_ENDPOINT_URL", addresses.endpoint_url.into());
    }
    // The function's own variables come last and win (reserved keys were refused at creation).
    env.extend(
        function
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    View {
        env,
        mounts,
        links,
        credentials_expire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_credentials_are_distinct_and_well_formed() {
        let c = &PLACEHOLDER_CREDENTIALS;
        assert_ne!(c.access_key_id, c.secret_access_key);
        assert_ne!(c.access_key_id, c.session_token);
        assert_ne!(c.secret_access_key, c.session_token);
        // An STS session's key id: 20 upper-case letters and digits starting with ASIA.
        assert_eq!(c.access_key_id.len(), 20);
        assert!(c.access_key_id.starts_with("ASIA"));
        assert!(c
            .access_key_id
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit()));
        assert_eq!(c.secret_access_key.len(), 40);
    }
}
