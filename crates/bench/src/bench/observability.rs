//! What seeing everything costs: a warm invoke of the provided no-op on a server with metering,
//! per-function metrics, function logs and traces on (spans exported over OTLP to a loopback
//! sink that answers 200), beside the same on a server with all of them off
//! (`--observability off`), both servers up at once in the same run.

use std::path::Path;
use std::sync::Arc;

use super::{
    create_function, invoke, sequential, start_echo, throughput, zip_of, BenchArgs, Call, Row,
    Server,
};

pub(super) async fn row(args: &BenchArgs, nubo: &Path, bootstrap: &Path) -> anyhow::Result<Row> {
    let sink = start_echo().await?;
    let on = Server::start_with(nubo, &["--otlp-endpoint", &sink]).await?;
    let off = Server::start_with(nubo, &["--observability", "off"]).await?;
    let zip = zip_of(&[("bootstrap", std::fs::read(bootstrap)?, 0o755)])?;
    let (on, off) = (Arc::new(on.client()), Arc::new(off.client()));
    for client in [&on, &off] {
        create_function(client, "bench-noop", "provided.al2023", "noop", &zip).await?;
        invoke(client, "bench-noop", false).await?;
    }
    eprintln!(
        "bench: warm invoke with metering, tracing and logging on, then off ({} sequential each)",
        args.warm_iterations
    );
    let subject = sequential(args.warm_iterations, || async {
        invoke(&on, "bench-noop", false).await.map(|_| ())
    })
    .await?;
    let baseline = sequential(args.warm_iterations, || async {
        invoke(&off, "bench-noop", false).await.map(|_| ())
    })
    .await?;
    let (_, on_rps) = throughput(
        on.clone(),
        "bench-noop",
        args.concurrency,
        args.throughput_seconds,
        Call::Invoke,
    )
    .await?;
    let (_, off_rps) = throughput(
        off.clone(),
        "bench-noop",
        args.concurrency,
        args.throughput_seconds,
        Call::Invoke,
    )
    .await?;
    Ok(Row {
        scenario: "warm invoke, metering + metrics + logs + traces (OTLP) on".into(),
        subject,
        throughput: Some(on_rps),
        baseline_name: "the same with all of them off (`--observability off`)".into(),
        baseline,
        baseline_throughput: Some(off_rps),
    })
}
