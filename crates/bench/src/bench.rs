//! The benchmark scenarios: what users feel, each figure beside a baseline measured in the same run.
//!
//! Scenarios (issue "Functions that run"): warm invoke of a `provided` no-op function (p50/p99
//! latency, sequential; throughput with concurrent clients) against a bare loopback HTTP echo
//! served by hyper; cold start per runtime against spawning the interpreter alone.
//! Issue "HTTP APIs": a request through an HTTP API (quick create, payload 2.0) to the same warm
//! function beside a direct invoke of it, measured back to back; and route-table lookup cost with
//! 10,000 routes against 10 (in-process micro-benchmark of `nubo_gateway::plane::routing`).
//! Issue "REST APIs…and authorizers" (`authorizers.rs`): REST API beside HTTP API, an API-key
//! check and a cached authorizer beside an open method, JWT verification beside a header decode.
//! The server under test is the real `nubo serve` binary in a temporary data dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use nubo::client::{Client, Reply};
use nubo_wire::sigv4::Credentials;

use crate::peer;

mod authorizers;
mod observability;
mod queues;
mod tables;
mod templates;
mod websocket;

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// The `nubo` binary under test (default: `nubo` beside this executable).
    #[arg(long)]
    nubo: Option<PathBuf>,
    /// Sequential warm invocations to time.
    #[arg(long, default_value_t = 2000)]
    warm_iterations: usize,
    /// Concurrent clients for the throughput figure.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long each throughput run lasts, in seconds.
    #[arg(long, default_value_t = 3)]
    throughput_seconds: u64,
    /// Cold starts to time per runtime.
    #[arg(long, default_value_t = 15)]
    cold_iterations: usize,
    /// The `provided` bootstrap to use (default: `bootstrap` beside this binary, built from
    /// tests/fixtures/rust-runtime with the official lambda_runtime crate).
    #[arg(long)]
    provided_bootstrap: Option<PathBuf>,
    /// Seconds per level of the concurrency-scaling runs (1, 2, 8, 64 clients).
    #[arg(long, default_value_t = 2)]
    scaling_seconds: u64,
    /// The nginx binary for the peer baseline (default: `nginx` on PATH or /usr/sbin/nginx).
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// Asynchronous events sent one at a time for the end-to-end figure.
    #[arg(long, default_value_t = 300)]
    async_events: usize,
    /// Run only the sandbox comparison (cold starts and idle memory, namespace sandbox versus
    /// `--sandbox process`).
    #[arg(long)]
    sandbox_only: bool,
    /// Run only the signed-call figure (a signed GetAccountSettings beside an unsigned health
    /// check on the same server).
    #[arg(long)]
    signed_only: bool,
    /// Run only the template comparison (python cold starts forked from a started template,
    /// plain, and `python -c pass`, interleaved).
    #[arg(long)]
    templates_only: bool,
    /// Run only the SQS figures (send → receive → delete, queue → mapped function).
    #[arg(long)]
    queues_only: bool,
    /// Run only the asynchronous-invocation figures (accept → completed; durable accepts with
    /// `--concurrency` clients beside raw fsync'd SQLite inserts).
    #[arg(long)]
    async_only: bool,
    /// Run only the API Gateway figures (HTTP API, REST API, API key, cached authorizer, JWT).
    #[arg(long)]
    gateway_only: bool,
    /// Run only the WebSocket broadcast figure (Nubo's `@connections` beside a bare
    /// tokio-tungstenite server).
    #[arg(long)]
    websocket_only: bool,
    /// Connected clients for the WebSocket broadcast.
    #[arg(long, default_value_t = 1000)]
    ws_clients: usize,
    /// Broadcast rounds (each a message to every client).
    #[arg(long, default_value_t = 10)]
    ws_rounds: usize,
    /// Concurrent `@connections` posts per round.
    #[arg(long, default_value_t = 16)]
    ws_senders: usize,
    /// Run only the DynamoDB figures (PutItem, GetItem, Query with 1 and `--concurrency`
    /// clients beside raw SQLite inserts and point reads).
    #[arg(long)]
    tables_only: bool,
    /// Run only the observability figure (a warm invoke with metering, metrics, logs and traces
    /// on, beside a server with all of them off).
    #[arg(long)]
    observability_only: bool,
    /// Messages sent one at a time for the queue → mapped function latency.
    #[arg(long, default_value_t = 200)]
    queue_messages: usize,
    /// Idle environments kept per server for the memory-overhead figure.
    #[arg(long, default_value_t = 10)]
    idle_environments: usize,
    /// Where to write results.json and results.md.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
}

/// Latency distribution.
#[derive(Debug, Clone)]
struct Stats {
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    count: usize,
    /// (percentile, µs) points for the latency plot; empty when only quantiles are known.
    curve: Vec<(f64, f64)>,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6;
    let curve = (0..=98)
        .map(f64::from)
        .chain([99.0, 99.5, 99.9, 100.0])
        .map(|p| (p, at(p / 100.0)))
        .collect();
    Stats {
        p50_us: at(0.50),
        p99_us: at(0.99),
        mean_us: mean,
        count: samples.len(),
        curve,
    }
}

struct Row {
    scenario: String,
    subject: Stats,
    throughput: Option<f64>,
    baseline_name: String,
    baseline: Stats,
    baseline_throughput: Option<f64>,
}

/// A running `nubo serve` child.
struct Server {
    _child: tokio::process::Child,
    url: String,
    /// The administrator's key the server wrote to its data dir.
    credentials: Credentials,
    _data: tempfile::TempDir,
}

const BENCH_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

impl Server {
    async fn start(nubo: &Path) -> anyhow::Result<Self> {
        Self::start_with(nubo, &[]).await
    }

    async fn start_with(nubo: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        let mut child = tokio::process::Command::new(nubo)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(extra_args)
            .env("NUBO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("nubo: listening on ") {
                    return Ok::<_, anyhow::Error>(url.to_owned());
                }
            }
            anyhow::bail!("server exited before listening")
        })
        .await
        .context("server did not start within 30 s")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let file = nubo::credentials::credentials_file(data.path());
        // A binary from before the identity issue writes no key and checks no signature: any
        // key signs for it, and it has no IAM to create the role in (before/after comparisons).
        let legacy = !file.exists();
        let credentials = if legacy {
            eprintln!(
                "bench: no administrator key written: an older server, signing with a dummy key"
            );
            Credentials {
                access_key_id: "AKIDBENCH".into(),
                secret_access_key: "bench".into(),
            }
        } else {
            nubo::credentials::read_profile(&file, nubo::credentials::PROFILE)
                .with_context(|| format!("no administrator key in {}", file.display()))?
        };
        let server = Self {
            _child: child,
            url,
            credentials,
            _data: data,
        };
        if legacy {
            return Ok(server);
        }
        // The role every benchmark function runs as.
        let reply = server
            .client()
            .query(
                "iam",
                "CreateRole",
                "2010-05-08",
                &[
                    ("RoleName", "bench"),
                    ("AssumeRolePolicyDocument", BENCH_TRUST),
                ],
            )
            .await?;
        anyhow::ensure!(
            reply.status.is_success(),
            "creating role bench: {}",
            String::from_utf8_lossy(&reply.body)
        );
        Ok(server)
    }

    /// A client signing as the administrator.
    fn client(&self) -> Client {
        Client::new(&self.url, "us-east-1", self.credentials.clone(), None)
    }
}

/// A client of something that reads no signature (the echo server, nginx, `/_nubo/` paths).
fn unsigned_client(url: &str) -> Client {
    let nobody = Credentials {
        access_key_id: "unused".into(),
        secret_access_key: "unused".into(),
    };
    Client::new(url, "us-east-1", nobody, None)
}

fn zip_of(files: &[(&str, Vec<u8>, u32)]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body, mode) in files {
        writer.start_file(
            *name,
            zip::write::SimpleFileOptions::default().unix_permissions(*mode),
        )?;
        writer.write_all(body)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Memory of every benchmark function: 1769 MB is one full vCPU under the sandbox's CPU share, so
/// the figures show the platform's overhead rather than the CPU quota of a small function (a
/// 128 MB function gets 1/14 of a CPU, as on Lambda, and a busy one is throttled for most of each
/// 100 ms period).
const BENCH_MEMORY_MB: u32 = 1769;

async fn create_function(
    client: &Client,
    name: &str,
    runtime: &str,
    handler: &str,
    zip: &[u8],
) -> anyhow::Result<()> {
    let body = json!({
        "FunctionName": name, "Runtime": runtime, "Handler": handler, "MemorySize": BENCH_MEMORY_MB, "Timeout": 30,
        "Role": "arn:aws:iam::000000000000:role/bench",
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
    });
    create(client, "lambda", "/2015-03-31/functions", &body, name).await?;
    wait_active(client, name).await
}

/// Waits until a function created a moment ago is `Active` (as boto3's `function_active_v2`
/// waiter does): a `Pending` function cannot be invoked.
async fn wait_active(client: &Client, name: &str) -> anyhow::Result<()> {
    let path = format!("/2015-03-31/functions/{name}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reply = client
            .send("lambda", http::Method::GET, &path, &[], &[], Vec::new())
            .await?;
        let state = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v["Configuration"]["State"].as_str().map(str::to_owned));
        match state.as_deref() {
            Some("Active") => return Ok(()),
            Some("Pending") if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            _ => anyhow::bail!(
                "{name} did not become Active: {} {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ),
        }
    }
}

/// POSTs a JSON body to a create operation and insists on 201.
async fn create(
    client: &Client,
    service: &str,
    path: &str,
    body: &Value,
    what: &str,
) -> anyhow::Result<Reply> {
    let reply = client
        .send(
            service,
            http::Method::POST,
            path,
            &[],
            &[],
            serde_json::to_vec(body)?,
        )
        .await?;
    anyhow::ensure!(
        reply.status.as_u16() == 201,
        "creating {what}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(reply)
}

async fn invoke(client: &Client, name: &str, tail: bool) -> anyhow::Result<Reply> {
    let path = format!("/2015-03-31/functions/{name}/invocations");
    let headers: Vec<(&str, String)> = if tail {
        vec![("x-amz-log-type", "Tail".into())]
    } else {
        Vec::new()
    };
    let reply = client
        .send(
            "lambda",
            http::Method::POST,
            &path,
            &[],
            &headers,
            b"{\"noop\":true}".to_vec(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.is_success() && !reply.headers.contains_key("x-amz-function-error"),
        "invoke {name}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(reply)
}

/// A bare hyper echo server on loopback: the floor for any HTTP round trip on this machine.
async fn start_echo() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(body)))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

async fn echo_once(client: &Client, _: &str, _: bool) -> anyhow::Result<Reply> {
    client
        .send(
            "lambda",
            http::Method::POST,
            "/echo",
            &[],
            &[],
            b"{\"noop\":true}".to_vec(),
        )
        .await
}

async fn send_event(client: &Client, name: &str) -> anyhow::Result<()> {
    let path = format!("/2015-03-31/functions/{name}/invocations");
    let reply = client
        .send(
            "lambda",
            http::Method::POST,
            &path,
            &[],
            &[("x-amz-invocation-type", "Event".into())],
            b"{\"noop\":true}".to_vec(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.as_u16() == 202,
        "event to {name}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(())
}

/// The server's metrics as `name → value`.
async fn metrics(server_url: &str) -> anyhow::Result<std::collections::HashMap<String, f64>> {
    let reply = unsigned_client(server_url)
        .get_unsigned("/_nubo/metrics")
        .await?;
    let text = String::from_utf8_lossy(&reply.body);
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect())
}

/// Waits until the asynchronous queue is empty.
async fn drain(server_url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if metrics(server_url).await?.get("nubo_async_queue_depth") == Some(&0.0) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the asynchronous queue did not drain within 120 s")
}

/// Times `iterations` sequential calls.
async fn sequential<F, Fut>(iterations: usize, mut call: F) -> anyhow::Result<Stats>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..(iterations / 10).max(5) {
        call().await?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        call().await?;
        samples.push(start.elapsed());
    }
    Ok(stats(samples))
}

/// What each client of a load run sends.
#[derive(Debug, Clone, Copy)]
enum Call {
    /// A synchronous invoke of the function.
    Invoke,
    /// An `Event` invoke (202 once durably queued).
    Event,
    /// A request to the echo server (the baseline).
    Echo,
}

/// Latency and requests per second with `concurrency` clients sending `call` for `seconds`.
async fn throughput(
    client: Arc<Client>,
    name: &'static str,
    concurrency: usize,
    seconds: u64,
    call: Call,
) -> anyhow::Result<(Stats, f64)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        tasks.spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                match call {
                    Call::Invoke => invoke(&client, name, false).await.map(drop)?,
                    Call::Event => send_event(&client, name).await?,
                    Call::Echo => echo_once(&client, name, false).await.map(drop)?,
                }
                samples.push(start.elapsed());
            }
            Ok::<_, anyhow::Error>(samples)
        });
    }
    let start = Instant::now();
    let mut all = Vec::new();
    while let Some(samples) = tasks.join_next().await {
        all.extend(samples??);
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    Ok((stats(all), rate))
}

/// The asynchronous rows: accept → completed at low load (server-measured) beside a warm sync
/// invoke, and durable accepts with `concurrency` clients beside raw fsync'd SQLite inserts.
/// Returns the rows and the raw-insert baseline (the queue rows reuse it).
async fn async_rows(
    args: &BenchArgs,
    server: &Server,
    client: &Arc<Client>,
    warm: &Stats,
) -> anyhow::Result<(Vec<Row>, Vec<Duration>, f64)> {
    let mut rows = Vec::new();
    // Asynchronous invocation. End-to-end first, at low load, on an empty queue: accept → the
    // invocation's success, as the server measures it, beside a warm synchronous invoke.
    eprintln!(
        "bench: async end-to-end ({} events, one at a time)",
        args.async_events
    );
    for _ in 0..args.async_events {
        send_event(client, "bench-noop").await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drain(&server.url).await?;
    let m = metrics(&server.url).await?;
    let quantile = |q: &str| {
        m.get(&format!(
            "nubo_async_end_to_end_seconds{{quantile=\"{q}\"}}"
        ))
        .copied()
        .unwrap_or(f64::NAN)
            * 1e6
    };
    let end_to_end = Stats {
        p50_us: quantile("0.5"),
        p99_us: quantile("0.99"),
        mean_us: m
            .get("nubo_async_end_to_end_seconds_sum")
            .copied()
            .unwrap_or(0.0)
            * 1e6
            / m.get("nubo_async_end_to_end_seconds_count")
                .copied()
                .unwrap_or(1.0),
        count: args.async_events,
        curve: Vec::new(),
    };
    rows.push(Row {
        scenario: "async Event, accept → completed (server-measured), low load".into(),
        subject: end_to_end,
        throughput: None,
        baseline_name: "warm sync invoke (above)".into(),
        baseline: warm.clone(),
        baseline_throughput: None,
    });
    // Then the durable accept rate under concurrency, beside the store's raw fsync'd insert.
    eprintln!(
        "bench: async accept ({} concurrent for {} s)",
        args.concurrency, args.throughput_seconds
    );
    let (accept, accept_rps) = throughput(
        client.clone(),
        "bench-noop",
        args.concurrency,
        args.throughput_seconds,
        Call::Event,
    )
    .await?;
    drain(&server.url).await?;
    let raw_dir = tempfile::tempdir_in(server._data.path())?;
    let raw = nubo_store::raw_insert_baseline(raw_dir.path(), 500, b"{\"noop\":true}")?;
    let raw_total: f64 = raw.iter().map(Duration::as_secs_f64).sum();
    let raw_rps = raw.len() as f64 / raw_total;
    rows.push(Row {
        scenario: format!(
            "async Event accepted durably (202 after fsync), {} clients",
            args.concurrency
        ),
        subject: accept,
        throughput: Some(accept_rps),
        baseline_name: "SQLite insert, one fsync'd transaction each".into(),
        baseline: stats(raw.clone()),
        baseline_throughput: Some(raw_rps),
    });
    Ok((rows, raw, raw_rps))
}

/// Spawns `program args` to completion `iterations` times.
fn spawn_baseline(program: &Path, args: &[&str], iterations: usize) -> anyhow::Result<Stats> {
    spawn_samples(program, args, iterations).map(stats)
}

/// [`spawn_baseline`]'s samples.
fn spawn_samples(
    program: &Path,
    args: &[&str],
    iterations: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + 2 {
        let start = Instant::now();
        std::process::Command::new(program)
            .args(args)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if i >= 2 {
            samples.push(start.elapsed());
        }
    }
    Ok(samples)
}

fn parse_init_ms(reply: &Reply) -> Option<f64> {
    let tail = reply.headers.get("x-amz-log-result")?.to_str().ok()?;
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(tail)
            .ok()?,
    )
    .ok()?;
    let field = text
        .split('\t')
        .find_map(|f| f.trim().strip_prefix("Init Duration: "))?;
    field.trim_end_matches(" ms").parse().ok()
}

/// What a signed control-plane call costs over an unsigned request to the same server: SigV4
/// verification, authentication and policy evaluation, plus a trivial handler.
async fn signed_call(args: &BenchArgs, server: &Server, client: &Client) -> anyhow::Result<Row> {
    eprintln!("bench: signed GetAccountSettings versus unsigned health");
    let signed = sequential(args.warm_iterations, || async {
        let reply = client
            .send(
                "lambda",
                http::Method::GET,
                "/2016-08-19/account-settings/",
                &[],
                &[],
                Vec::new(),
            )
            .await?;
        anyhow::ensure!(
            reply.status.is_success(),
            "GetAccountSettings: {}",
            reply.status
        );
        Ok(())
    })
    .await?;
    let health_client = unsigned_client(&server.url);
    let unsigned = sequential(args.warm_iterations, || async {
        health_client.get_unsigned("/_nubo/health").await.map(drop)
    })
    .await?;
    Ok(Row {
        scenario: "signed GetAccountSettings (verify + authenticate + authorize)".into(),
        subject: signed,
        throughput: None,
        baseline_name: "unsigned GET /_nubo/health".into(),
        baseline: unsigned,
        baseline_throughput: None,
    })
}

/// Cold starts: each iteration changes the configuration, which retires the warm environment.
async fn cold_starts(
    client: &Client,
    name: &str,
    iterations: usize,
) -> anyhow::Result<(Stats, Stats)> {
    let (client_side, init) = cold_start_samples(client, name, iterations).await?;
    Ok((stats(client_side), stats(init)))
}

/// [`cold_starts`]' samples: (whole invoke, Init Duration).
async fn cold_start_samples(
    client: &Client,
    name: &str,
    iterations: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut client_side = Vec::new();
    let mut init = Vec::new();
    for i in 0..iterations + 1 {
        let body = json!({"Environment": {"Variables": {"ITERATION": i.to_string()}}});
        let path = format!("/2015-03-31/functions/{name}/configuration");
        let reply = client
            .send(
                "lambda",
                http::Method::PUT,
                &path,
                &[],
                &[],
                serde_json::to_vec(&body)?,
            )
            .await?;
        anyhow::ensure!(
            reply.status.is_success(),
            "update {name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let start = Instant::now();
        let reply = invoke(client, name, true).await?;
        let elapsed = start.elapsed();
        if i == 0 {
            continue; // The first start also warms the page cache.
        }
        client_side.push(elapsed);
        init.push(Duration::from_secs_f64(
            parse_init_ms(&reply).context("no Init Duration on a cold start")? / 1000.0,
        ));
    }
    Ok((client_side, init))
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let bootstrap = match args.provided_bootstrap.clone() {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("bootstrap"),
    };
    let nubo = match args.nubo.clone() {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("nubo"),
    };
    anyhow::ensure!(
        nubo.is_file(),
        "no nubo binary at {} (build it: cargo build --release -p nubo)",
        nubo.display()
    );
    anyhow::ensure!(
        bootstrap.is_file(),
        "no provided bootstrap at {} (build it: cargo build --release -p rust-runtime-fixture)",
        bootstrap.display()
    );
    if args.sandbox_only {
        let rows = sandbox_comparison(&args, &nubo, &bootstrap).await?;
        return report(&rows, &[], &args.out);
    }
    if args.templates_only {
        let rows = templates::rows(&args, &nubo).await?;
        return report(&rows, &[], &args.out);
    }
    if args.observability_only {
        let row = observability::row(&args, &nubo, &bootstrap).await?;
        return report(&[row], &[], &args.out);
    }
    eprintln!("bench: starting nubo serve …");
    let server = Server::start(&nubo).await?;
    let client = Arc::new(server.client());
    if args.signed_only {
        let row = signed_call(&args, &server, &client).await?;
        return report(&[row], &[], &args.out);
    }
    if args.async_only {
        let zip = zip_of(&[("bootstrap", std::fs::read(&bootstrap)?, 0o755)])?;
        create_function(&client, "bench-noop", "provided.al2023", "noop", &zip).await?;
        let warm = sequential(args.warm_iterations / 4, || async {
            invoke(&client, "bench-noop", false).await.map(|_| ())
        })
        .await?;
        let (rows, _, _) = async_rows(&args, &server, &client, &warm).await?;
        return report(&rows, &[], &args.out);
    }
    if args.websocket_only {
        let zip = zip_of(&[("bootstrap", std::fs::read(&bootstrap)?, 0o755)])?;
        create_function(&client, "bench-echo", "provided.al2023", "echo", &zip).await?;
        let rows = websocket::rows(
            &client,
            "bench-echo",
            args.ws_clients,
            args.ws_rounds,
            args.ws_senders,
        )
        .await?;
        return report(&rows, &[], &args.out);
    }
    if args.tables_only {
        let rows = tables::rows(
            &client,
            server._data.path(),
            args.concurrency,
            args.throughput_seconds,
        )
        .await?;
        return report(&rows, &[], &args.out);
    }
    if args.queues_only {
        let zip = zip_of(&[("bootstrap", std::fs::read(&bootstrap)?, 0o755)])?;
        create_function(&client, "bench-noop", "provided.al2023", "noop", &zip).await?;
        invoke(&client, "bench-noop", false).await?;
        let raw_dir = tempfile::tempdir_in(server._data.path())?;
        let raw = nubo_store::raw_insert_baseline(raw_dir.path(), 500, b"{\"noop\":true}")?;
        let raw_total: f64 = raw.iter().map(Duration::as_secs_f64).sum();
        let raw_rps = raw.len() as f64 / raw_total;
        let rows = queues::rows(
            &client,
            "bench-noop",
            args.concurrency,
            args.throughput_seconds,
            args.queue_messages,
            (&stats(raw), raw_rps),
        )
        .await?;
        return report(&rows, &[], &args.out);
    }
    if args.gateway_only {
        let zip = zip_of(&[("bootstrap", std::fs::read(&bootstrap)?, 0o755)])?;
        create_function(&client, "bench-noop", "provided.al2023", "noop", &zip).await?;
        invoke(&client, "bench-noop", false).await?;
        let rows = authorizers::rows(&client, args.warm_iterations).await?;
        let micro = vec![authorizers::jwt_row()?];
        return report(&rows, &micro, &args.out);
    }
    let echo_url = start_echo().await?;
    let echo = Arc::new(unsigned_client(&echo_url));
    let mut rows = Vec::new();

    // Warm invoke of a provided no-op, versus a bare loopback HTTP round trip.
    let zip = zip_of(&[("bootstrap", std::fs::read(&bootstrap)?, 0o755)])?;
    create_function(&client, "bench-noop", "provided.al2023", "noop", &zip).await?;
    eprintln!(
        "bench: warm invoke ({} sequential, {} concurrent for {} s)",
        args.warm_iterations, args.concurrency, args.throughput_seconds
    );
    let warm = sequential(args.warm_iterations, || async {
        invoke(&client, "bench-noop", false).await.map(|_| ())
    })
    .await?;
    let warm_baseline = sequential(args.warm_iterations, || async {
        echo_once(&echo, "", false).await.map(|_| ())
    })
    .await?;
    let (_, warm_rps) = throughput(
        client.clone(),
        "bench-noop",
        args.concurrency,
        args.throughput_seconds,
        Call::Invoke,
    )
    .await?;
    let (_, echo_rps) = throughput(
        echo.clone(),
        "",
        args.concurrency,
        args.throughput_seconds,
        Call::Echo,
    )
    .await?;
    rows.push(Row {
        scenario: "warm invoke, provided.al2023 no-op (lambda_runtime crate)".into(),
        subject: warm.clone(),
        throughput: Some(warm_rps),
        baseline_name: "hyper loopback echo".into(),
        baseline: warm_baseline.clone(),
        baseline_throughput: Some(echo_rps),
    });

    rows.push(signed_call(&args, &server, &client).await?);
    rows.push(observability::row(&args, &nubo, &bootstrap).await?);

    // The same warm path through our python and node runtimes.
    for (runtime, handler, file, body) in [
        (
            "python3.12",
            "app.handler",
            "app.py",
            "def handler(event, context):\n    return None\n",
        ),
        (
            "nodejs20.x",
            "index.handler",
            "index.mjs",
            "export const handler = async () => null;\n",
        ),
    ] {
        let name = format!("bench-warm-{}", runtime.replace('.', "-"));
        let code = zip_of(&[(file, body.as_bytes().to_vec(), 0o644)])?;
        create_function(&client, &name, runtime, handler, &code).await?;
        if let Err(e) = invoke(&client, &name, false).await {
            eprintln!("bench: skipping warm {runtime}: {e}");
            continue;
        }
        eprintln!("bench: warm invoke {runtime}");
        let subject = sequential(args.warm_iterations / 2, || async {
            invoke(&client, &name, false).await.map(|_| ())
        })
        .await?;
        rows.push(Row {
            scenario: format!("warm invoke, {runtime} no-op (our bootstrap)"),
            subject,
            throughput: None,
            baseline_name: "hyper loopback echo".into(),
            baseline: warm_baseline.clone(),
            baseline_throughput: None,
        });
    }

    // A peer doing a comparable job: nginx adding one proxy hop in front of the same echo.
    match peer::Nginx::start(
        echo_url.trim_start_matches("http://"),
        args.nginx.as_deref(),
    )
    .await
    {
        Ok(Some(nginx)) => {
            eprintln!("bench: peer {} proxying to the echo", nginx.version);
            let via = Arc::new(unsigned_client(&nginx.url));
            let latency = sequential(args.warm_iterations, || async {
                echo_once(&via, "", false).await.map(|_| ())
            })
            .await?;
            let (_, rate) = throughput(
                via.clone(),
                "",
                args.concurrency,
                args.throughput_seconds,
                Call::Echo,
            )
            .await?;
            rows.push(Row {
                scenario: "warm invoke, provided.al2023 no-op, beside a peer's proxy hop".into(),
                subject: warm.clone(),
                throughput: Some(warm_rps),
                baseline_name: format!("peer: {} reverse proxy → hyper echo", nginx.version),
                baseline: latency,
                baseline_throughput: Some(rate),
            });
        }
        Ok(None) => eprintln!(
            "bench: no nginx found; the peer row is skipped (scripts/bench.sh installs it)"
        ),
        Err(e) => eprintln!("bench: nginx peer failed to start: {e}"),
    }

    // Throughput as concurrency grows, each level beside the echo at the same concurrency.
    for level in [1usize, 2, 8, 64] {
        eprintln!("bench: throughput at concurrency {level}");
        let (latency, rate) = throughput(
            client.clone(),
            "bench-noop",
            level,
            args.scaling_seconds,
            Call::Invoke,
        )
        .await?;
        let (echo_latency, echo_rate) =
            throughput(echo.clone(), "", level, args.scaling_seconds, Call::Echo).await?;
        rows.push(Row {
            scenario: format!("warm invoke, {level} concurrent clients"),
            subject: latency,
            throughput: Some(rate),
            baseline_name: format!("hyper loopback echo, {level} clients"),
            baseline: echo_latency,
            baseline_throughput: Some(echo_rate),
        });
    }

    // HTTP API → the same warm function, beside a direct invoke measured right before it.
    eprintln!(
        "bench: HTTP API vs direct invoke ({} sequential each)",
        args.warm_iterations
    );
    let api_id = create_http_api(&client, "bench-noop").await?;
    let direct = sequential(args.warm_iterations, || async {
        invoke(&client, "bench-noop", false).await.map(|_| ())
    })
    .await?;
    let through_api = sequential(args.warm_iterations, || async {
        api_call(&client, &api_id).await
    })
    .await?;
    rows.push(Row {
        scenario: format!(
            "HTTP API → warm function (payload 2.0); gateway adds {:.3} ms p50, {:.3} ms p99",
            (through_api.p50_us - direct.p50_us) / 1000.0,
            (through_api.p99_us - direct.p99_us) / 1000.0
        ),
        subject: through_api,
        throughput: None,
        baseline_name: "direct warm invoke, same function, same run".into(),
        baseline: direct,
        baseline_throughput: None,
    });
    eprintln!(
        "bench: REST API, API key, cached authorizer ({} sequential each)",
        args.warm_iterations
    );
    rows.extend(authorizers::rows(&client, args.warm_iterations).await?);
    eprintln!("bench: route lookup, 10 and 10,000 routes; JWT verification");
    let micro = vec![route_lookup_row(), authorizers::jwt_row()?];

    let (async_rows, raw, raw_rps) = async_rows(&args, &server, &client, &warm).await?;
    rows.extend(async_rows);
    rows.extend(
        queues::rows(
            &client,
            "bench-noop",
            args.concurrency,
            args.throughput_seconds,
            args.queue_messages,
            (&stats(raw), raw_rps),
        )
        .await?,
    );

    // Cold start per runtime, versus spawning the interpreter alone.
    // (runtime, handler, code zip, program spawned for the baseline, its arguments)
    type ColdCase<'a> = (String, String, Vec<u8>, PathBuf, Vec<&'a str>);
    let mut runtimes: Vec<ColdCase<'_>> = vec![(
        "provided.al2023".into(),
        "noop".into(),
        zip.clone(),
        bootstrap.clone(),
        vec![],
    )];
    let catalog =
        nubo_lambda::runtimes::RuntimeCatalog::install(server._data.path(), Default::default())?;
    for (runtime, handler, file, body) in [
        (
            "python3.12",
            "app.handler",
            "app.py",
            "def handler(event, context):\n    return None\n",
        ),
        (
            "nodejs20.x",
            "index.handler",
            "index.mjs",
            "export const handler = async () => null;\n",
        ),
    ] {
        match catalog.launch(runtime, Path::new("/")) {
            Ok(launch) => {
                let baseline_args: Vec<&str> = if runtime.starts_with("python") {
                    vec!["-c", "pass"]
                } else {
                    vec!["-e", "0"]
                };
                runtimes.push((
                    runtime.into(),
                    handler.into(),
                    zip_of(&[(file, body.as_bytes().to_vec(), 0o644)])?,
                    launch.program,
                    baseline_args,
                ));
            }
            Err(e) => eprintln!("bench: skipping {runtime}: {e}"),
        }
    }
    for (runtime, handler, code, program, baseline_args) in runtimes {
        let name = format!("bench-cold-{}", runtime.replace('.', "-"));
        create_function(&client, &name, &runtime, &handler, &code).await?;
        eprintln!(
            "bench: cold start {runtime} ({} starts)",
            args.cold_iterations
        );
        let (client_side, init) = cold_starts(&client, &name, args.cold_iterations).await?;
        let spawn = spawn_baseline(&program, &baseline_args, args.cold_iterations)?;
        let spawn_label = format!(
            "spawn {} {}",
            program.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            baseline_args.join(" ")
        );
        rows.push(Row {
            scenario: format!("cold start {runtime}: Init Duration"),
            subject: init,
            throughput: None,
            baseline_name: spawn_label.trim().to_owned(),
            baseline: spawn.clone(),
            baseline_throughput: None,
        });
        rows.push(Row {
            scenario: format!("cold start {runtime}: whole invoke"),
            subject: client_side,
            throughput: None,
            baseline_name: spawn_label.trim().to_owned(),
            baseline: spawn,
            baseline_throughput: None,
        });
    }
    drop(server);
    rows.extend(sandbox_comparison(&args, &nubo, &bootstrap).await?);
    report(&rows, &micro, &args.out)
}

/// The sandbox's cost: cold start per runtime under the namespace sandbox versus the same server
/// with `--sandbox process`; the network namespace's share (the default, with slirp4netns for
/// outbound traffic, and `--function-network none`, versus `--function-network host`: no network
/// namespace); a warm invoke under the sandbox (thawed before and frozen after each invocation)
/// versus `--sandbox process`; and the memory of idle environments (PSS of every process the
/// server started, per environment — the network stack included; the cgroups' own charge too).
/// Memory figures go to `sandbox-memory.md`.
async fn sandbox_comparison(
    args: &BenchArgs,
    nubo: &Path,
    bootstrap: &Path,
) -> anyhow::Result<Vec<Row>> {
    eprintln!("bench: sandbox comparison: starting `nubo serve` four times (auto with outbound, none and host networks; process) …");
    let sandboxed = Server::start_with(nubo, &["--sandbox", "auto"]).await?;
    let plain = Server::start_with(nubo, &["--sandbox", "process"]).await?;
    let host_network =
        Server::start_with(nubo, &["--sandbox", "auto", "--function-network", "host"]).await?;
    let no_outbound =
        Server::start_with(nubo, &["--sandbox", "auto", "--function-network", "none"]).await?;
    let on = sandboxed.client();
    let off = plain.client();
    let shared = host_network.client();
    let sealed = no_outbound.client();
    let functions = [
        (
            "provided.al2023",
            "noop",
            zip_of(&[("bootstrap", std::fs::read(bootstrap)?, 0o755)])?,
        ),
        (
            "python3.12",
            "app.handler",
            zip_of(&[(
                "app.py",
                b"def handler(event, context):
    return None
"
                .to_vec(),
                0o644,
            )])?,
        ),
        (
            "nodejs20.x",
            "index.handler",
            zip_of(&[(
                "index.mjs",
                b"export const handler = async () => null;
"
                .to_vec(),
                0o644,
            )])?,
        ),
    ];
    let mut rows = Vec::new();
    for (runtime, handler, zip) in &functions {
        let name = format!("bench-sandbox-{}", runtime.replace('.', "-"));
        for client in [&on, &off, &shared, &sealed] {
            create_function(client, &name, runtime, handler, zip).await?;
        }
        eprintln!(
            "bench: cold start {runtime}, sandbox vs process ({} starts each)",
            args.cold_iterations
        );
        let (with_sandbox, with_init) = cold_starts(&on, &name, args.cold_iterations).await?;
        let (without, without_init) = cold_starts(&off, &name, args.cold_iterations).await?;
        rows.push(Row {
            scenario: format!("cold start {runtime}, namespace sandbox: whole invoke"),
            subject: with_sandbox.clone(),
            throughput: None,
            baseline_name: "same, --sandbox process".into(),
            baseline: without,
            baseline_throughput: None,
        });
        rows.push(Row {
            scenario: format!("cold start {runtime}, namespace sandbox: Init Duration"),
            subject: with_init.clone(),
            throughput: None,
            baseline_name: "same, --sandbox process".into(),
            baseline: without_init,
            baseline_throughput: None,
        });
        eprintln!(
            "bench: cold start {runtime}, network namespace vs none (--function-network host)"
        );
        let (host_net, host_net_init) = cold_starts(&shared, &name, args.cold_iterations).await?;
        let (none, none_init) = cold_starts(&sealed, &name, args.cold_iterations).await?;
        let baseline_name = "same sandbox, --function-network host (no network namespace)";
        for (scenario, subject, baseline) in [
            (
                "network namespace + slirp4netns (default): whole invoke",
                with_sandbox.clone(),
                host_net.clone(),
            ),
            (
                "network namespace + slirp4netns (default): Init Duration",
                with_init,
                host_net_init.clone(),
            ),
            (
                "network namespace only (none): whole invoke",
                none,
                host_net,
            ),
            (
                "network namespace only (none): Init Duration",
                none_init,
                host_net_init,
            ),
        ] {
            rows.push(Row {
                scenario: format!("cold start {runtime}, {scenario}"),
                subject,
                throughput: None,
                baseline_name: baseline_name.into(),
                baseline,
                baseline_throughput: None,
            });
        }
    }
    // Warm: the sandboxed environment is thawed before and frozen after every invocation.
    let name = "bench-sandbox-provided-al2023";
    eprintln!("bench: warm invoke provided, sandbox (freezer) vs process");
    invoke(&on, name, false).await?;
    invoke(&off, name, false).await?;
    let frozen = sequential(args.warm_iterations, || async {
        invoke(&on, name, false).await.map(|_| ())
    })
    .await?;
    let unfrozen = sequential(args.warm_iterations, || async {
        invoke(&off, name, false).await.map(|_| ())
    })
    .await?;
    rows.push(Row {
        scenario: "warm invoke provided.al2023, namespace sandbox (thaw before, freeze after)"
            .into(),
        subject: frozen,
        throughput: None,
        baseline_name: "same, --sandbox process".into(),
        baseline: unfrozen,
        baseline_throughput: None,
    });

    // Idle environments: N concurrent calls of a function that sleeps make N environments.
    let n = args.idle_environments.max(1);
    let idle_zip = zip_of(&[(
        "app.py",
        b"import time
def handler(event, context):
    time.sleep(0.5)
"
        .to_vec(),
        0o644,
    )])?;
    let mut lines = vec![format!(
        "Idle python3.12 environments ({n} per server, MemorySize {BENCH_MEMORY_MB}): memory per environment.

| sandbox | PSS per environment (all its processes) | cgroup memory.usage per environment |
|---|---|---|"
    )];
    let mut pss = Vec::new();
    for (label, server, client) in [
        (
            "namespace (network namespace + slirp4netns)",
            &sandboxed,
            &on,
        ),
        ("namespace, --function-network host", &host_network, &shared),
        ("process", &plain, &off),
    ] {
        create_function(client, "bench-idle", "python3.12", "app.handler", &idle_zip).await?;
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..n {
            let client = server.client();
            calls.spawn(async move { invoke(&client, "bench-idle", false).await.map(drop) });
        }
        while let Some(done) = calls.join_next().await {
            done??;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let server_pid = server._child.id().context("server pid")?;
        let kb = descendants(server_pid)
            .iter()
            .map(|pid| pss_kb(*pid))
            .sum::<u64>();
        let per_env = kb as f64 / n as f64 / 1024.0;
        pss.push(per_env);
        let cgroup = cgroup_usage_mb(server_pid).map(|mb| format!("{:.1} MB", mb / n as f64));
        lines.push(format!(
            "| {label} | {per_env:.1} MB | {} |",
            cgroup.unwrap_or_else(|| "–".into())
        ));
    }
    lines.push(format!(
        "
Ratio (namespace ÷ process): {:.2}; the network namespace and its stack add {:.1} MB per environment
",
        pss[0] / pss[2],
        pss[0] - pss[1]
    ));
    let text = lines.join(
        "
",
    );
    eprintln!("{text}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("sandbox-memory.md"), &text)?;
    Ok(rows)
}

/// Every process descended from `root` (found through `/proc/<pid>/stat`'s ppid).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The command name may contain spaces: the ppid is the second field after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The memory charged to a server's environment cgroups (v1), in MB.
fn cgroup_usage_mb(server_pid: u32) -> Option<f64> {
    let own = std::fs::read_to_string(format!("/proc/{server_pid}/cgroup")).ok()?;
    let path = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_owned())
    })?;
    let dir = Path::new("/sys/fs/cgroup/memory")
        .join(path.trim_start_matches('/'))
        .join(format!("nubo-{server_pid}"));
    let bytes: u64 = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("memory.usage_in_bytes")).ok())
        .filter_map(|t| t.trim().parse::<u64>().ok())
        .sum();
    Some(bytes as f64 / 1024.0 / 1024.0)
}

/// Quick-creates an HTTP API in front of `function`; returns its id.
async fn create_http_api(client: &Client, function: &str) -> anyhow::Result<String> {
    let body = json!({
        "name": "bench", "protocolType": "HTTP",
        "target": format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
    });
    let reply = create(client, "apigateway", "/v2/apis", &body, "an HTTP API").await?;
    let created: Value = serde_json::from_slice(&reply.body)?;
    created["apiId"]
        .as_str()
        .map(str::to_owned)
        .context("no apiId in CreateApi's answer")
}

/// One request through the API's `$default` stage (path form), signed like the direct invoke so
/// both carry the same headers.
async fn api_call(client: &Client, api_id: &str) -> anyhow::Result<()> {
    let path = format!("/_api/{api_id}/bench");
    let reply = client
        .send(
            "execute-api",
            http::Method::POST,
            &path,
            &[],
            &[],
            b"{\"noop\":true}".to_vec(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.is_success(),
        "HTTP API call: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(())
}

/// A micro-benchmark figure in nanoseconds.
struct MicroRow {
    scenario: String,
    p50_ns: f64,
    p99_ns: f64,
    baseline_name: String,
    baseline_p50_ns: f64,
    baseline_p99_ns: f64,
}

/// Route keys shaped like real APIs: literals, parameters and a greedy catch-all per service.
fn route_keys(count: usize) -> Vec<nubo_gateway::plane::routing::RouteKey> {
    let services = (count / 10).max(1);
    let mut keys = Vec::with_capacity(count);
    let mut i = 0;
    while keys.len() < count {
        let svc = i % services;
        let text = match (i / services) % 10 {
            0 => format!("GET /svc{svc}/items"),
            1 => format!("GET /svc{svc}/items/{{id}}"),
            2 => format!("PUT /svc{svc}/items/{{id}}"),
            3 => format!("DELETE /svc{svc}/items/{{id}}"),
            4 => format!("GET /svc{svc}/items/{{id}}/tags"),
            5 => format!("POST /svc{svc}/items"),
            6 => format!("GET /svc{svc}/users/{{user}}/orders/{{order}}"),
            7 => format!("GET /svc{svc}/health"),
            8 => format!("ANY /svc{svc}/files/{{path+}}"),
            _ => format!("GET /svc{svc}/v2/{{a}}/{{b}}"),
        };
        i += 1;
        if let Ok(key) = nubo_gateway::plane::routing::RouteKey::parse(&text) {
            keys.push(key);
        }
    }
    keys
}

/// ns per lookup: batches of lookups over a fixed mix of matching paths.
fn lookup_cost(routes: usize) -> (f64, f64) {
    let keys = route_keys(routes);
    let table = nubo_gateway::plane::routing::RouteTable::build(&keys);
    let services = (routes / 10).max(1);
    let paths: Vec<(http::Method, String)> = (0..64)
        .map(|i| {
            let svc = (i * 7919) % services;
            match i % 4 {
                0 => (http::Method::GET, format!("/svc{svc}/items/{i}")),
                1 => (
                    http::Method::GET,
                    format!("/svc{svc}/users/u{i}/orders/o{i}"),
                ),
                2 => (http::Method::POST, format!("/svc{svc}/files/a/b/{i}.txt")),
                _ => (http::Method::GET, format!("/svc{svc}/health")),
            }
        })
        .collect();
    const BATCH: usize = 1000;
    let mut samples = Vec::with_capacity(300);
    let mut found = 0usize;
    for round in 0..320 {
        let start = Instant::now();
        for j in 0..BATCH {
            let (method, path) = &paths[j % paths.len()];
            found += std::hint::black_box(table.lookup(method, path)).is_some() as usize;
        }
        if round >= 20 {
            samples.push(start.elapsed() / BATCH as u32);
        }
    }
    assert!(found > 0, "the benchmark paths must match routes");
    let s = stats(samples);
    (s.p50_us * 1000.0, s.p99_us * 1000.0)
}

fn route_lookup_row() -> MicroRow {
    let (small_p50, small_p99) = lookup_cost(10);
    let (large_p50, large_p99) = lookup_cost(10_000);
    MicroRow {
        scenario: "route lookup, 10,000 routes".into(),
        p50_ns: large_p50,
        p99_ns: large_p99,
        baseline_name: "route lookup, 10 routes".into(),
        baseline_p50_ns: small_p50,
        baseline_p99_ns: small_p99,
    }
}

fn report(rows: &[Row], micro: &[MicroRow], out: &Path) -> anyhow::Result<()> {
    let ms = |us: f64| format!("{:.3}", us / 1000.0);
    let mut md = String::new();
    md.push_str(&format!(
        "Machine: {} cores; {}. Ratios are subject ÷ baseline (lower is better for latency).\n\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        time::OffsetDateTime::now_utc().date()
    ));
    md.push_str("| scenario | p50 ms | p99 ms | req/s | baseline | baseline p50 ms | baseline p99 ms | baseline req/s | p50 ratio | p99 ratio | req/s ratio |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut json_rows = Vec::new();
    for r in rows {
        let rps = |v: Option<f64>| v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "–".into());
        let rps_ratio = match (r.throughput, r.baseline_throughput) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "–".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |\n",
            r.scenario,
            ms(r.subject.p50_us),
            ms(r.subject.p99_us),
            rps(r.throughput),
            r.baseline_name,
            ms(r.baseline.p50_us),
            ms(r.baseline.p99_us),
            rps(r.baseline_throughput),
            r.subject.p50_us / r.baseline.p50_us,
            r.subject.p99_us / r.baseline.p99_us,
            rps_ratio
        ));
        json_rows.push(json!({
            "scenario": r.scenario,
            "p50_us": r.subject.p50_us, "p99_us": r.subject.p99_us, "mean_us": r.subject.mean_us, "samples": r.subject.count,
            "throughput_rps": r.throughput,
            "baseline": r.baseline_name,
            "baseline_p50_us": r.baseline.p50_us, "baseline_p99_us": r.baseline.p99_us, "baseline_samples": r.baseline.count,
            "baseline_throughput_rps": r.baseline_throughput,
        }));
    }
    if !micro.is_empty() {
        md.push_str("\n| micro-benchmark | p50 ns | p99 ns | baseline | baseline p50 ns | baseline p99 ns | p50 ratio |\n|---|---|---|---|---|---|---|\n");
    }
    for m in micro {
        md.push_str(&format!(
            "| {} | {:.0} | {:.0} | {} | {:.0} | {:.0} | {:.2} |\n",
            m.scenario,
            m.p50_ns,
            m.p99_ns,
            m.baseline_name,
            m.baseline_p50_ns,
            m.baseline_p99_ns,
            m.p50_ns / m.baseline_p50_ns
        ));
        json_rows.push(json!({
            "scenario": m.scenario, "p50_ns": m.p50_ns, "p99_ns": m.p99_ns,
            "baseline": m.baseline_name, "baseline_p50_ns": m.baseline_p50_ns, "baseline_p99_ns": m.baseline_p99_ns,
        }));
    }
    std::fs::create_dir_all(out)?;
    fn warm(r: &Row) -> bool {
        r.scenario.starts_with("warm invoke,") && !r.scenario.contains("concurrent")
    }
    fn concurrent(r: &Row) -> bool {
        r.scenario.contains("concurrent clients")
    }
    fn cold(r: &Row) -> bool {
        r.scenario.starts_with("cold start") && r.scenario.ends_with("whole invoke")
    }
    type Plot<'a> = (&'a str, &'a str, fn(&Row) -> bool);
    let plots: [Plot<'_>; 3] = [
        ("Warm invoke latency (sequential)", "warm.svg", warm),
        (
            "Warm invoke latency under concurrency",
            "concurrency.svg",
            concurrent,
        ),
        ("Cold start, whole invoke", "cold.svg", cold),
    ];
    for (title, file, pick) in plots {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in rows.iter().filter(|r| pick(r)) {
            for (label, stats) in [(&r.scenario, &r.subject), (&r.baseline_name, &r.baseline)] {
                if !stats.curve.is_empty() && !series.iter().any(|(l, _)| l == label) {
                    series.push((label.clone(), stats.curve.clone()));
                }
            }
        }
        if !series.is_empty() {
            std::fs::write(out.join(file), crate::plot::latency_svg(title, &series))?;
        }
    }
    std::fs::write(out.join("results.md"), &md)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_vec_pretty(&Value::from(json_rows))?,
    )?;
    print!("{md}");
    eprintln!(
        "bench: wrote {0}/results.md, {0}/results.json and latency plots {0}/*.svg",
        out.display()
    );
    Ok(())
}
