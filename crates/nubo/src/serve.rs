//! `nubo serve`: the composition root. Builds the store, sandbox, runtimes, registry, invoker and
//! edge, owns shutdown, and optionally deploys the examples.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use nubo_edge::identity_store::load_identities;
use nubo_edge::EdgeState;
use nubo_edge::{CodeUrls, ServeOptions};
use nubo_identity::RegistryConfig;
use nubo_lambda::control::records::FunctionSpec;
use nubo_lambda::control::validate;
use nubo_lambda::runtimes::sdk::RuntimeSdk;
use nubo_lambda::runtimes::RuntimeCatalog;
use nubo_lambda::sandbox::{FunctionNetwork, ProcessSandbox, Sandbox};
use nubo_lambda::{AsyncConfig, AsyncInvoker, Invoker, InvokerConfig, Registry};
use nubo_observe::{LogWriter, MetricsRegistry, Prices, UsageMeter};
use nubo_store::{CodeStore, StoreConfig};
use nubo_wire::arn::FunctionRef;
use nubo_wire::FunctionName;

use nubo::client::{self, DEFAULT_LISTEN};

use crate::identity;
use nubo_wire::sigv4::Credentials;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "NUBO_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// The base URL API endpoints and Function URLs are handed out on, path-style
    /// (`{URL}/_api/{id}`, `{URL}/_url/{id}/`), which resolve in every client without
    /// `/etc/hosts` edits. `path` (the default) means the listen address; `host` hands out the
    /// `{id}.execute-api.{region}.localhost` host forms instead (both forms always route).
    #[arg(
        long,
        env = "NUBO_PUBLIC_URL",
        value_name = "URL",
        default_value = "path"
    )]
    public_url: String,
    /// Where state, code and logs live.
    #[arg(long, env = "NUBO_DATA_DIR", default_value = "./.nubo")]
    data_dir: PathBuf,
    /// The state store as a URL: `sqlite:<path>` (default: `sqlite:<data-dir>/nubo.db`).
    #[arg(long, env = "NUBO_STORE", value_name = "URL")]
    store: Option<String>,
    /// The default region: where unsigned requests, the CLI and `--deploy-examples` act (a signed
    /// request acts in the region it is signed for).
    #[arg(long, env = "NUBO_REGION", default_value = client::DEFAULT_REGION)]
    region: String,
    /// Account id in ARNs.
    #[arg(long, env = "NUBO_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// Map a runtime to an interpreter, e.g. `python3.12=/opt/python3.12/bin/python3` (repeatable).
    #[arg(long = "interpreter", value_name = "RUNTIME=PATH")]
    interpreters: Vec<String>,
    /// Account-wide concurrent executions.
    #[arg(long, env = "NUBO_CONCURRENCY", default_value_t = 1000)]
    concurrency: usize,
    /// Seconds an idle environment stays warm before it is reaped.
    #[arg(long, env = "NUBO_IDLE_TIMEOUT", default_value_t = 600)]
    idle_timeout: u64,
    /// Seconds a runtime may take to initialize (Lambda's limit is 10).
    #[arg(long, env = "NUBO_INIT_TIMEOUT", default_value_t = 10)]
    init_timeout: u64,
    /// Delay before the first retry of a failed asynchronous event, in milliseconds; doubled for
    /// the next. Lambda waits about a minute.
    #[arg(long, env = "NUBO_ASYNC_RETRY_DELAY_MS", default_value_t = 60_000)]
    async_retry_delay_ms: u64,
    /// How long a function stays `Pending` after CreateFunction, and an update `InProgress`, at
    /// least, in milliseconds (Lambda takes seconds; Nubo has nothing to prepare, so by default
    /// a change settles as soon as it is committed, a few milliseconds later).
    #[arg(long, env = "NUBO_SETTLE_DELAY_MS", default_value_t = 0)]
    settle_delay_ms: u64,
    /// How environments are isolated: `auto` (namespaces and cgroups, as far as the kernel allows;
    /// a plain process elsewhere) or `process` (a plain child process, no limits).
    #[arg(long, env = "NUBO_SANDBOX", value_enum, default_value_t = SandboxChoice::Auto)]
    sandbox: SandboxChoice,
    /// What functions' network reaches, each environment in a network namespace of its own:
    /// `outbound` (non-loopback destinations, through slirp4netns or pasta; not the host's
    /// loopback services), `none` (only the Nubo endpoint), `host-loopback` (outbound, and the
    /// host's loopback services at 127.0.0.1:<port>, for local development; needs pasta), or
    /// `host` (no namespace: the host's network, Runtime APIs on host loopback ports).
    #[arg(long, env = "NUBO_FUNCTION_NETWORK", value_enum, default_value_t = NetworkChoice::Outbound)]
    function_network: NetworkChoice,
    /// Fork new python environments from a template interpreter that has already started and
    /// loaded the runtime (`on`, with the namespace sandbox), or start each one's own (`off`).
    #[arg(long, env = "NUBO_TEMPLATES", value_enum, default_value_t = Toggle::On)]
    templates: Toggle,
    /// Deploy every example under this directory (each subdirectory with a function.json).
    #[arg(long, value_name = "DIR")]
    deploy_examples: Option<PathBuf>,
    /// Where the AWS SDKs Lambda's runtimes ship (boto3, the SDK for JavaScript v3) are installed,
    /// once, in the background, and shared read-only by every environment; `off` to go without.
    /// Default: `$XDG_CACHE_HOME/nubo/runtime-sdk` (or `~/.cache/…`; `<data-dir>/runtime-sdk`
    /// without a home).
    #[arg(long, env = "NUBO_RUNTIME_SDK_DIR", value_name = "DIR|off")]
    runtime_sdk_dir: Option<PathBuf>,
    /// Seconds requests in flight at SIGTERM or Ctrl-C may take to finish before the server exits
    /// anyway; a second signal exits at once. An idle server exits at once.
    #[arg(long, env = "NUBO_SHUTDOWN_GRACE", default_value_t = 10)]
    shutdown_grace: u64,
    /// Also accept the well-known key `test` / secret `test` as the account's root, for local
    /// work (NUBO_DEV_CREDENTIALS=1). Never on a server others can reach.
    #[arg(long, env = "NUBO_DEV_CREDENTIALS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::FalseyValueParser::new())]
    dev_credentials: bool,
    /// Price per million requests in usage reports, US dollars (AWS's list price by default).
    #[arg(long, env = "NUBO_PRICE_PER_MILLION_REQUESTS", default_value_t = 0.20)]
    price_per_million_requests: f64,
    /// Price per GB-second on x86_64, US dollars.
    #[arg(
        long,
        env = "NUBO_PRICE_PER_GB_SECOND_X86",
        default_value_t = 0.000_016_666_7
    )]
    price_per_gb_second_x86: f64,
    /// Price per GB-second on arm64, US dollars.
    #[arg(
        long,
        env = "NUBO_PRICE_PER_GB_SECOND_ARM64",
        default_value_t = 0.000_013_333_4
    )]
    price_per_gb_second_arm64: f64,
    /// A token `/_nubo/metrics` then requires (`Authorization: Bearer <token>`); without one,
    /// metrics are served to loopback clients only.
    #[arg(long, env = "NUBO_METRICS_TOKEN", value_name = "TOKEN")]
    metrics_token: Option<String>,
    /// Seconds a client may take to send a request's headers (and leave a kept-alive connection
    /// idle) before the connection is closed.
    #[arg(long, env = "NUBO_HEADER_TIMEOUT", default_value_t = 30)]
    header_timeout: u64,
    /// How long a schedule's minute lasts, in milliseconds (a test clock: `rate()` rules tick
    /// this much faster; `cron()` rules follow the wall clock).
    #[arg(
        long,
        env = "NUBO_SCHEDULE_MINUTE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    schedule_minute_ms: u64,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "NUBO_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// WebSocket APIs: seconds without a message before a connection is closed (AWS: 10 min).
    #[arg(long, env = "NUBO_WS_IDLE_TIMEOUT", default_value_t = 600)]
    ws_idle_timeout: u64,
    /// WebSocket APIs: seconds a connection may last (AWS: 2 hours).
    #[arg(long, env = "NUBO_WS_MAX_LIFETIME", default_value_t = 7200)]
    ws_max_lifetime: u64,
    /// WebSocket APIs: the largest frame a client may send, in bytes (AWS: 32 KB; larger → 1009).
    #[arg(long, env = "NUBO_WS_MAX_FRAME_BYTES", default_value_t = 32 * 1024)]
    ws_max_frame_bytes: usize,
    /// WebSocket APIs: the largest message, in bytes (AWS: 128 KB; larger → 1009).
    #[arg(long, env = "NUBO_WS_MAX_MESSAGE_BYTES", default_value_t = 128 * 1024)]
    ws_max_message_bytes: usize,
    /// WebSocket APIs: frames queued for one client before it counts as too slow and is
    /// disconnected (1008).
    #[arg(long, env = "NUBO_WS_SEND_QUEUE", default_value_t = 256)]
    ws_send_queue: usize,
    /// Export traces (a span per request, gateway route, invocation, init and run) over
    /// OTLP/HTTP (JSON) to this collector: its base URL (`/v1/traces` is appended) or the full
    /// traces URL; http:// only. Without one, no spans are built.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// The `service.name` exported spans carry.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "nubo")]
    otlp_service_name: String,
    /// `off` stops metering, per-function metrics, function logs and traces (the benchmark's
    /// baseline for what they cost; not for use).
    #[arg(long, env = "NUBO_OBSERVABILITY", default_value = "on", hide = true,
          value_parser = ["on", "off"])]
    observability: String,
}

/// The runtimes' SDK directory from `--runtime-sdk-dir`, the user's cache dir or the data dir.
fn runtime_sdk_dir(args: &ServeArgs) -> Option<PathBuf> {
    match &args.runtime_sdk_dir {
        Some(dir) if dir.as_os_str() == "off" => None,
        Some(dir) => Some(std::path::absolute(dir).unwrap_or_else(|_| dir.clone())),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|cache| cache.join("nubo").join("runtime-sdk"))
            .or_else(|| Some(args.data_dir.join("runtime-sdk"))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SandboxChoice {
    Auto,
    Process,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Toggle {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum NetworkChoice {
    Outbound,
    None,
    HostLoopback,
    Host,
}

impl From<NetworkChoice> for FunctionNetwork {
    fn from(choice: NetworkChoice) -> Self {
        match choice {
            NetworkChoice::Outbound => Self::Outbound,
            NetworkChoice::None => Self::None,
            NetworkChoice::HostLoopback => Self::HostLoopback,
            NetworkChoice::Host => Self::Host,
        }
    }
}

/// Probes the namespace sandbox (Linux) or takes the plain process one.
fn choose_sandbox(
    choice: SandboxChoice,
    network: FunctionNetwork,
    templates: bool,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn Sandbox>> {
    #[cfg(target_os = "linux")]
    if choice == SandboxChoice::Auto {
        let sandbox =
            nubo_lambda::sandbox::NamespaceSandbox::probe(nubo_lambda::sandbox::SandboxOptions {
                helper: std::env::current_exe().context("locating the nubo binary")?,
                state_dir: data_dir.join("sandbox"),
                network,
                tool_path: std::env::var_os("PATH"),
                templates,
            })
            .context("preparing the sandbox")?;
        if sandbox.isolates() {
            return Ok(Arc::new(sandbox));
        }
        println!(
            "nubo: the kernel granted no namespace or cgroup: {}",
            sandbox.describe()
        );
    }
    let _ = (choice, network, templates, data_dir);
    Ok(Arc::new(ProcessSandbox))
}

fn parse_interpreters(entries: &[String]) -> anyhow::Result<HashMap<String, PathBuf>> {
    entries
        .iter()
        .map(|entry| {
            let (runtime, path) = entry
                .split_once('=')
                .with_context(|| format!("--interpreter {entry}: expected RUNTIME=PATH"))?;
            anyhow::ensure!(
                nubo_lambda::runtimes::is_supported(runtime),
                "--interpreter {entry}: unknown runtime {runtime}"
            );
            Ok((runtime.to_owned(), PathBuf::from(path)))
        })
        .collect()
}

pub(crate) async fn run(mut args: ServeArgs) -> anyhow::Result<()> {
    // Absolute from here on: environments run with other working directories (and, sandboxed,
    // see these paths only through bind mounts made from absolute sources).
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    args.data_dir = std::fs::canonicalize(&args.data_dir)
        .with_context(|| format!("resolving {}", args.data_dir.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NUBO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Installed before anything slow, so a SIGTERM during start-up is not lost.
    let mut signals = ShutdownSignals::install()?;
    let scope = nubo_wire::Scope {
        region: args.region.clone(),
        account_id: args.account_id.clone(),
    };
    let store_config = match &args.store {
        Some(url) => StoreConfig::from_url(url)?,
        None => StoreConfig::in_data_dir(&args.data_dir),
    };
    let stores = store_config
        .open(&args.data_dir)
        .await
        .with_context(|| format!("opening the store ({})", store_config.describe()))?;
    let code = CodeStore::with_blobs(&args.data_dir, stores.blobs.clone())
        .context("opening the code store")?;
    let metrics = Arc::new(MetricsRegistry::new());
    adopt_unscoped_log_groups(&*stores.logs, &scope).await?;
    let observed = args.observability == "on";
    let logs = if observed {
        LogWriter::start(stores.logs.clone())
    } else {
        LogWriter::discarding()
    };
    let log_flush = logs.clone();
    let usage = Arc::new(UsageMeter::new(
        stores.documents.clone(),
        Prices {
            per_million_requests: args.price_per_million_requests,
            per_gb_second_x86_64: args.price_per_gb_second_x86,
            per_gb_second_arm64: args.price_per_gb_second_arm64,
        },
    ));
    usage.start_flushing();
    let function_metrics = metrics.function_metrics();
    spawn_retention_sweep(stores.logs.clone());
    let mut catalog =
        RuntimeCatalog::install(&args.data_dir, parse_interpreters(&args.interpreters)?)
            .context("installing runtimes")?;
    if let Some(dir) = runtime_sdk_dir(&args) {
        catalog = catalog.with_sdk(Arc::new(RuntimeSdk::open(dir)));
    }
    let catalog = Arc::new(catalog);
    let sandbox = choose_sandbox(
        args.sandbox,
        args.function_network.into(),
        args.templates == Toggle::On,
        &args.data_dir,
    )?;
    let identity = Arc::new(
        load_identities(
            stores.documents.clone(),
            RegistryConfig {
                account_id: args.account_id.clone(),
                dev_credentials: args.dev_credentials,
            },
        )
        .await?,
    );
    let admin = identity
        .bootstrap_admin()
        .map_err(|e| anyhow::anyhow!("creating the administrator: {e}"))?;
    if let Some(key) = &admin {
        nubo::credentials::write_credentials(
            &args.data_dir,
            &key.user_name,
            &Credentials {
                access_key_id: key.access_key_id.clone(),
                secret_access_key: key.secret_access_key.clone(),
            },
        )
        .context("writing the administrator's credentials")?;
    }
    let registry = Registry::load(stores.documents.clone(), code, scope)
        .await
        .map_err(|e| anyhow::anyhow!("loading functions: {e}"))?;
    registry.set_settle_delay(Duration::from_millis(args.settle_delay_ms));
    let swept = registry
        .code()
        .sweep(registry.referenced_code())
        .await
        .context("sweeping unreferenced code")?;
    if swept > 0 {
        tracing::info!("removed {swept} unreferenced code entries and interrupted uploads");
    }

    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let endpoint_url = format!("http://{address}");
    let environment_endpoint = Arc::new(nubo_lambda::EnvironmentEndpoint::default());
    let otlp_endpoint = args.otlp_endpoint.as_deref().filter(|_| observed);
    let tracer = match otlp_endpoint.filter(|e| !e.trim().is_empty()) {
        Some(endpoint) => nubo_observe::Tracer::start(endpoint, &args.otlp_service_name)?,
        None => nubo_observe::Tracer::disabled(),
    };
    let invoker = Invoker::start(
        registry.clone(),
        catalog.clone(),
        sandbox.clone(),
        logs.clone(),
        InvokerConfig {
            account_concurrency: args.concurrency,
            idle_timeout: Duration::from_secs(args.idle_timeout),
            init_timeout: Duration::from_secs(args.init_timeout.max(1)),
            endpoint_url: endpoint_url.clone(),
            environment_endpoint: environment_endpoint.clone(),
            execution_credentials: Some(Arc::new(identity::RoleSessions(identity.clone()))),
            usage: observed.then(|| usage.clone()),
            function_metrics: observed.then(|| function_metrics.clone()),
            tracer: tracer.clone(),
        },
    );
    invoker.register_metrics(&metrics);
    let provisioned = invoker.restore_provisioned();
    if provisioned > 0 {
        println!("nubo: {provisioned} provisioned-concurrency configurations");
    }
    let async_invoker = AsyncInvoker::start(
        invoker.clone(),
        stores.queues.clone(),
        &metrics,
        AsyncConfig {
            retry_delay: Duration::from_millis(args.async_retry_delay_ms),
            max_in_flight: args.concurrency,
            ..AsyncConfig::default()
        },
    )
    .await
    .context("loading the asynchronous queue")?;
    if async_invoker.depth() > 0 {
        println!(
            "nubo: {} queued asynchronous events to deliver",
            async_invoker.depth()
        );
    }
    if let Some(dir) = &args.deploy_examples {
        let role = identity::example_role(&identity)?;
        deploy_examples(&registry, dir, &role).await?;
    }

    let queues = nubo_queues::QueueRegistry::load(stores.documents.clone(), stores.queues.clone())
        .await
        .map_err(|e| anyhow::anyhow!("loading SQS queues: {e}"))?;
    queues.register_metrics(&metrics);
    async_invoker.deliver_to_queues(queues.clone());
    let tables = nubo_tables::Tables::load(stores.documents.clone(), stores.tables.clone())
        .await
        .map_err(|e| anyhow::anyhow!("loading DynamoDB tables: {e}"))?;
    nubo_tables::registry::start_sweeper(tables.clone());
    let mappings = nubo_lambda::EventSourceMappings::load(
        stores.documents.clone(),
        invoker.clone(),
        queues.clone(),
        tables.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading event-source mappings: {e}"))?;
    let events = nubo_events::EventRules::load(
        stores.documents.clone(),
        async_invoker.clone(),
        queues.clone(),
        nubo_events::EventsConfig {
            minute_ms: args.schedule_minute_ms.max(1) as i64,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading EventBridge rules: {e}"))?;

    let gateway = nubo_gateway::Gateway::start(
        stores.documents.clone(),
        logs,
        invoker.clone(),
        identity.clone(),
        nubo_gateway::GatewayConfig {
            scope: registry.default_scope().clone(),
            port: address.port(),
            api_metrics: Some(metrics.api_metrics()),
            public_url: public_url(&args.public_url, address),
            sockets: nubo_gateway::websocket::SocketLimits {
                max_frame: args.ws_max_frame_bytes.max(125),
                max_message: args.ws_max_message_bytes.max(125),
                idle: Duration::from_secs(args.ws_idle_timeout.max(1)),
                lifetime: Duration::from_secs(args.ws_max_lifetime.max(1)),
                send_queue: args.ws_send_queue.max(1),
            },
            tracer: tracer.clone(),
            usage: observed.then(|| usage.clone()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("loading HTTP APIs: {e}"))?;
    let api_count = gateway.apis().count();
    let objects =
        nubo_objects::ObjectStore::open(stores.documents.clone(), stores.object_blobs.clone())
            .await
            .map_err(|e| anyhow::anyhow!("loading buckets: {e}"))?;

    let mut out = std::io::stdout();
    writeln!(out, "nubo: store: {}", store_config.describe())?;
    writeln!(out, "nubo: isolation: {}", sandbox.describe())?;
    let sdk_line = match catalog.sdk() {
        Some(sdk) => sdk.describe(),
        None => "off (functions run without boto3 and the AWS SDK for JavaScript)".into(),
    };
    writeln!(out, "nubo: runtime SDKs: {sdk_line}")?;
    writeln!(out, "nubo: {} functions", registry.count())?;
    writeln!(out, "nubo: {api_count} HTTP APIs")?;
    writeln!(out, "nubo: {} SQS queues", queues.count())?;
    writeln!(out, "nubo: {} event-source mappings", mappings.count())?;
    writeln!(out, "nubo: {} EventBridge rules", events.count())?;
    writeln!(out, "nubo: {} buckets", objects.buckets().len())?;
    writeln!(out, "nubo: {} DynamoDB tables", tables.count())?;
    if let Some(endpoint) = args.otlp_endpoint.as_deref().filter(|_| tracer.enabled()) {
        writeln!(out, "nubo: traces: OTLP/HTTP JSON to {}", endpoint.trim())?;
    }
    nubo::credentials::write_config(&args.data_dir, &args.region, &endpoint_url)
        .context("writing the AWS config file")?;
    identity::say_credentials(&mut out, &args.data_dir, admin.is_some())?;
    if args.dev_credentials {
        let warning = if address.ip().is_loopback() {
            "nubo: dev credentials: the key `test` / secret `test` is the account's root (a 12-digit key with secret `test`: that other account's root)".to_owned()
        } else {
            format!(
                "nubo: WARNING: dev credentials are on and Nubo listens on {address}, beyond \
                 loopback: anyone who can reach it can sign as `test`/`test`, the account's \
                 root, and do anything. Turn NUBO_DEV_CREDENTIALS off or listen on 127.0.0.1."
            )
        };
        writeln!(out, "{warning}")?;
        if !address.ip().is_loopback() {
            tracing::warn!("dev credentials are accepted on a non-loopback address ({address})");
        }
    }
    writeln!(out, "nubo: listening on {endpoint_url}")?;
    out.flush()?;
    // Never waited for: environments started before it is done run without the SDKs.
    std::thread::spawn(move || {
        if let Some(report) = catalog.install_sdk() {
            if report.complete() {
                tracing::info!("runtime SDKs: {report}");
            } else {
                tracing::warn!("runtime SDKs: {report}");
            }
            println!("nubo: runtime SDKs: {report}");
        }
    });

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let usage_gateway = gateway.clone();
    let edge = Arc::new(EdgeState {
        objects,
        invoker,
        async_invoker,
        gateway,
        metrics,
        identity,
        queues,
        mappings,
        tables,
        events,
        logs: stores.logs.clone(),
        usage: usage.clone(),
        function_metrics,
        code_urls: CodeUrls::new(&args.region),
        metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        tracer: tracer.clone(),
    });
    environment_endpoint.set(Arc::new(nubo_edge::EnvironmentEndpointServer::new(
        edge.clone(),
    )));
    let server = nubo_edge::serve(
        listener,
        edge,
        ServeOptions {
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            max_connections: args.max_connections.max(1),
        },
        async {
            let _ = stopped.await;
        },
    );
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => {
            usage_gateway.flush_usage().await;
            return Ok(result?);
        }
        signal = signals.next() => tracing::info!("{signal}: shutting down"),
    }
    // Stop accepting; idle connections close at once and requests in flight may finish within
    // the grace period. Nothing else waits: state is durable as it is written (the asynchronous
    // queue commits before it acknowledges) except usage-plan counts, batched in memory and
    // written last, so an idle server exits within milliseconds.
    let _ = stop.send(());
    // WebSocket clients are told the server is going away (1001) rather than cut off.
    usage_gateway.sockets().close_all();
    let grace = Duration::from_secs(args.shutdown_grace);
    tokio::select! {
        result = &mut server => result?,
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("requests still in flight after {grace:?}; exiting without them");
        }
        signal = signals.next() => tracing::warn!("{signal} again: exiting now"),
    }
    // Usage-plan counts are batched in memory: the last batch is written now.
    usage_gateway.flush_usage().await;
    // Usage gathered since the last flush, and the last invocations' log lines, are written out.
    if let Err(e) = usage.flush().await {
        tracing::warn!(error = %e, "could not store the last usage counts");
    }
    if tokio::time::timeout(LOG_FLUSH_LIMIT, tracer.flush())
        .await
        .is_err()
    {
        tracing::warn!("spans still unexported after {LOG_FLUSH_LIMIT:?}; exiting without them");
    }
    if tokio::time::timeout(LOG_FLUSH_LIMIT, log_flush.flush())
        .await
        .is_err()
    {
        tracing::warn!("log lines still unwritten after {LOG_FLUSH_LIMIT:?}; exiting without them");
    }
    Ok(())
}

/// Log groups written before groups were scoped (`/aws/lambda/f` rather than
/// `{account}:{region}:/aws/lambda/f`) move into the default scope, once, as functions did.
async fn adopt_unscoped_log_groups(
    logs: &dyn nubo_store::Logs,
    scope: &nubo_wire::Scope,
) -> anyhow::Result<()> {
    for group in logs.groups("").await.context("listing log groups")? {
        if nubo_observe::split_scoped_group(&group).is_some() {
            continue;
        }
        let scoped = nubo_observe::scoped_group(&scope.account_id, &scope.region, &group);
        if !logs
            .rename_group(&group, &scoped)
            .await
            .context("moving a log group into the default scope")?
        {
            tracing::warn!(%group, "not moved into the default scope: {scoped} exists");
        }
    }
    Ok(())
}

/// How long shutdown waits for the log writer's last batch.
const LOG_FLUSH_LIMIT: Duration = Duration::from_secs(2);
/// How often events past their group's retention are removed.
const RETENTION_SWEEP: Duration = Duration::from_secs(60);

/// Removes log events past their group's retention, once a minute (PutRetentionPolicy also
/// expires at once).
fn spawn_retention_sweep(logs: Arc<dyn nubo_store::Logs>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_SWEEP);
        loop {
            tick.tick().await;
            let now = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc());
            match logs.expire(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("log retention: removed {n} expired events"),
                Err(e) => tracing::warn!(error = %e, "log retention sweep failed"),
            }
        }
    });
}

/// SIGTERM and SIGINT (Ctrl-C), each of which may arrive more than once.
struct ShutdownSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate()).context("installing a SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt()).context("installing a SIGINT handler")?,
        })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

/// The `function.json` of an example: a subset of CreateFunction's members.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ExampleConfig {
    function_name: String,
    runtime: String,
    handler: Option<String>,
    #[serde(default)]
    memory_size: Option<i64>,
    #[serde(default)]
    timeout: Option<i64>,
    #[serde(default)]
    description: Option<String>,
}

/// Creates (or updates the code of) every example function, through the same registry the API uses.
async fn deploy_examples(registry: &Registry, dir: &Path, role: &str) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("function.json").is_file())
        .collect();
    entries.sort();
    for example in entries {
        let config_path = example.join("function.json");
        let config: ExampleConfig = serde_json::from_slice(&std::fs::read(&config_path)?)
            .with_context(|| format!("parsing {}", config_path.display()))?;
        let zip = bytes::Bytes::from(zip_directory(&example)?);
        let name = FunctionName::new(config.function_name.as_str())?;
        let scope = registry.default_scope();
        let result = if registry.get(scope, &name).is_some() {
            let function = FunctionRef::new(scope.clone(), name.clone(), None);
            // A change a crash interrupted settles first (at load, a moment ago).
            registry
                .wait_settled(&function, Duration::from_secs(10))
                .await;
            // The example's settings as function.json says now, not as first deployed.
            let code = registry.update_code(&function, zip, None).await;
            registry
                .wait_settled(&function, Duration::from_secs(10))
                .await;
            let update = nubo_lambda::control::records::ConfigurationUpdate {
                runtime: Some(validate::supported_runtime(&config.runtime)?),
                handler: config.handler.clone(),
                description: Some(config.description.clone().unwrap_or_default()),
                timeout_seconds: Some(validate::timeout_seconds(config.timeout.unwrap_or(3))?),
                memory_mb: Some(validate::memory_mb(config.memory_size.unwrap_or(128))?),
                ..Default::default()
            };
            match code {
                Ok(_) => registry
                    .update_configuration(&function, update)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        } else {
            validate::runtime(&config.runtime)?;
            let spec = FunctionSpec {
                name: name.clone(),
                runtime: validate::supported_runtime(&config.runtime)?,
                role: role.to_owned(),
                handler: config.handler,
                description: config.description.unwrap_or_default(),
                timeout_seconds: validate::timeout_seconds(config.timeout.unwrap_or(3))?,
                memory_mb: validate::memory_mb(config.memory_size.unwrap_or(128))?,
                ephemeral_storage_mb: 512,
                environment: Default::default(),
                environment_set: false,
                tags: Default::default(),
                architectures: vec!["x86_64".into()],
                tracing_mode: "PassThrough".into(),
                layers: Vec::new(),
                dead_letter_target: None,
                log_format: "Text".into(),
                logging: Default::default(),
            };
            registry.create(scope, spec, zip).await.map(|_| ())
        };
        result.map_err(|e| anyhow::anyhow!("deploying example {name}: {e}"))?;
        // Deployed examples are invocable once the server says it listens.
        let function = FunctionRef::new(registry.default_scope().clone(), name.clone(), None);
        registry
            .wait_settled(&function, Duration::from_secs(10))
            .await;
        println!("nubo: deployed example {name} ({})", config.runtime);
    }
    Ok(())
}

/// Zips a directory (except function.json), keeping executable bits.
fn zip_directory(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut stack = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != "function.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let relative = path.strip_prefix(dir)?.to_string_lossy().into_owned();
        let mode = std::fs::metadata(&path)?.permissions().mode();
        writer.start_file(
            relative,
            zip::write::SimpleFileOptions::default().unix_permissions(mode & 0o777),
        )?;
        writer.write_all(&std::fs::read(&path)?)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// `--public-url`: a base URL, `path` for the listen address or `host` for the host forms (an unspecified address becomes
/// loopback, which is what a client on this machine dials).
fn public_url(flag: &str, address: std::net::SocketAddr) -> Option<String> {
    match flag {
        "" | "host" => None,
        "path" => {
            let ip = if address.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                address.ip()
            };
            Some(format!(
                "http://{}",
                std::net::SocketAddr::new(ip, address.port())
            ))
        }
        base => Some(base.trim_end_matches('/').to_owned()),
    }
}
