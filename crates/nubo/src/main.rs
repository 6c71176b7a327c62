//! `nubo`: the binary. The composition root (`serve`) and the CLI clients (`invoke`, `functions`, `logs`, `usage`).
//!
//! Only this crate reads the command line and the process environment; everything below receives
//! typed configuration.

mod commands;
mod deploy;
mod identity;
mod logs_cli;
mod serve;
mod usage_cli;

use nubo::client;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Nubo: a self-hosted serverless platform speaking the AWS Lambda APIs.
#[derive(Debug, Parser)]
#[command(name = "nubo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a client command finds the server, the region it acts in, and who it signs as.
#[derive(Debug, clap::Args)]
struct EndpointArgs {
    /// Server URL; else NUBO_ENDPOINT, else AWS_ENDPOINT_URL, else NUBO_LISTEN, else 127.0.0.1:4750.
    #[arg(long)]
    endpoint: Option<String>,
    /// Region to act in (functions live in a region); else the server's default, us-east-1.
    #[arg(long, env = "NUBO_REGION")]
    region: Option<String>,
    /// The server's data dir, whose `credentials` file holds the administrator's key (used when
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set); else NUBO_DATA_DIR, else ./.nubo.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl EndpointArgs {
    fn client(self) -> anyhow::Result<client::Client> {
        let client = client::Client::from_env(self.endpoint, self.data_dir)?;
        Ok(match self.region {
            Some(region) => client.in_region(region),
            None => client,
        })
    }
}

// Parsed once at start: the serve variant's size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (embedded default: SQLite in the data dir).
    Serve(serve::ServeArgs),
    /// Invoke a function synchronously and print its response.
    Invoke {
        /// Function name or ARN.
        name: String,
        /// The event as JSON.
        #[arg(long, conflicts_with = "event_file")]
        payload: Option<String>,
        /// Read the event from a file.
        #[arg(short = 'e', long = "event", value_name = "FILE")]
        event_file: Option<PathBuf>,
        /// Version or alias.
        #[arg(long)]
        qualifier: Option<String>,
        /// Print the invocation's log (START/END/REPORT) to stderr.
        #[arg(long)]
        log: bool,
        /// Resolve NAME as a logical id of this stack (default: the stack of ./template.yaml).
        #[arg(long)]
        stack_name: Option<String>,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Deploy a SAM/CloudFormation template as a stack: change set, apply, outputs.
    Deploy {
        #[command(flatten)]
        args: deploy::DeployArgs,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Delete a stack and everything it made.
    Delete {
        /// The stack.
        #[arg(long)]
        stack_name: String,
        /// Accepted for SAM compatibility (delete never asks).
        #[arg(long)]
        no_prompts: bool,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// List stacks, or show one stack's resources and outputs.
    Stacks {
        /// A stack to show.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Install each function's dependencies into .nubo/build (pip, npm, cargo).
    Build {
        /// The template (default: template.yaml).
        #[arg(short = 't', long = "template")]
        template: Option<PathBuf>,
    },
    /// Print a sample event: s3 put, apigateway http-api|aws-proxy, sqs receive-message, schedule.
    GenerateEvent {
        /// s3, apigateway, sqs, schedule.
        service: String,
        /// put, http-api, aws-proxy, receive-message, scheduled-event.
        #[arg(default_value = "")]
        event: String,
        #[arg(long, default_value = "example-bucket")]
        bucket: String,
        #[arg(long, default_value = "test/key")]
        key: String,
        #[arg(long, default_value = "Hello from SQS!")]
        body: String,
        #[arg(long, default_value = "/hello")]
        path: String,
        #[arg(long, default_value = "GET")]
        method: String,
    },
    /// Create a hello-world project (template.yaml + handler).
    Init {
        /// python3.12 (default), nodejs20.x, or rust.
        #[arg(long, default_value = "python3.12")]
        runtime: String,
        /// The project folder.
        #[arg(long, default_value = "hello-world")]
        name: String,
    },
    /// Serve (unless a server answers), deploy, then redeploy whenever the code or template changes.
    Dev {
        #[command(flatten)]
        args: deploy::DeployArgs,
        /// How often to look for changes, in milliseconds.
        #[arg(long, default_value_t = 100)]
        poll_ms: u64,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// List functions.
    Functions {
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Metered requests, billed duration, GB-seconds and cost per function version.
    Usage {
        /// Only usage since this long ago (whole hours): 30m, 2h, 1d; default everything.
        #[arg(long)]
        since: Option<String>,
        /// Requests per API, stage and API key instead (4xx and 5xx beside them).
        #[arg(long)]
        apis: bool,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
    /// Print a function's log (group /aws/lambda/NAME, or a group name starting with /).
    Logs {
        /// Function name, or a log group name starting with `/`.
        name: String,
        /// Keep printing new lines as they arrive.
        #[arg(short, long)]
        follow: bool,
        /// Start this far back: 30s, 10m, 2h, 1d.
        #[arg(long, default_value = "10m")]
        since: String,
        /// Only lines matching this CloudWatch filter pattern.
        #[arg(long)]
        filter_pattern: Option<String>,
        #[command(flatten)]
        endpoint: EndpointArgs,
    },
}

fn main() -> anyhow::Result<()> {
    // The sandbox helper must run before any thread exists (it unshares namespaces and forks).
    #[cfg(target_os = "linux")]
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(nubo_lambda::sandbox::INIT_ARG))
    {
        nubo_lambda::sandbox::init::main(std::env::args_os().skip(2));
    }
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Invoke {
                name,
                payload,
                event_file,
                qualifier,
                log,
                stack_name,
                endpoint,
            } => {
                let payload = match (payload, event_file) {
                    (Some(p), _) => p.into_bytes(),
                    (None, Some(file)) => std::fs::read(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?,
                    (None, None) => b"{}".to_vec(),
                };
                let client = endpoint.client()?;
                let name = deploy::resolve_function(&client, &name, stack_name).await?;
                let code = commands::invoke(&client, &name, payload, qualifier, log).await?;
                std::process::exit(code);
            }
            Command::Functions { endpoint } => commands::functions(&endpoint.client()?).await,
            Command::Deploy { args, endpoint } => deploy::deploy(&endpoint.client()?, &args, false)
                .await
                .map(drop),
            Command::Delete {
                stack_name,
                endpoint,
                ..
            } => deploy::delete(&endpoint.client()?, &stack_name).await,
            Command::Stacks {
                name,
                json,
                endpoint,
            } => deploy::stacks(&endpoint.client()?, name, json).await,
            Command::Build { template } => deploy::build::build(&deploy::template_path(template)),
            Command::GenerateEvent {
                service,
                event,
                bucket,
                key,
                body,
                path,
                method,
            } => {
                let event = deploy::scaffold::generate_event(
                    &service, &event, &bucket, &key, &body, &path, &method,
                )?;
                println!("{}", serde_json::to_string_pretty(&event)?);
                Ok(())
            }
            Command::Init { runtime, name } => deploy::scaffold::init(&runtime, &name),
            Command::Dev {
                args,
                poll_ms,
                endpoint,
            } => {
                deploy::dev::dev(
                    args,
                    endpoint.endpoint,
                    endpoint.data_dir,
                    endpoint.region,
                    std::time::Duration::from_millis(poll_ms),
                )
                .await
            }
            Command::Usage {
                since,
                apis,
                endpoint,
            } => usage_cli::usage(&endpoint.client()?, since, apis).await,
            Command::Logs {
                name,
                follow,
                since,
                filter_pattern,
                endpoint,
            } => {
                logs_cli::logs(
                    &endpoint.client()?,
                    logs_cli::LogsRequest {
                        name,
                        follow,
                        since,
                        filter_pattern,
                    },
                )
                .await
            }
        }
    })
}
