//! SQS figures: messages per second through send → receive → delete with 1 and N clients (each
//! client its own queue, each call a signed json-protocol request), and the end-to-end latency
//! from `SendMessage` to the message being gone after an event-source mapping delivered it to a
//! warm function — both beside the store's raw fsync'd SQLite insert measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nubo::client::Client;
use serde_json::{json, Value};

use super::{stats, Row, Stats};

async fn sqs(client: &Client, operation: &str, body: Value) -> anyhow::Result<Value> {
    let reply = client
        .send(
            "sqs",
            http::Method::POST,
            "/",
            &[],
            &[
                ("x-amz-target", format!("AmazonSQS.{operation}")),
                ("content-type", "application/x-amz-json-1.0".into()),
            ],
            body.to_string().into_bytes(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.as_u16() == 200,
        "{operation}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(serde_json::from_slice(&reply.body)?)
}

async fn create_queue(client: &Client, name: &str) -> anyhow::Result<String> {
    let created = sqs(client, "CreateQueue", json!({ "QueueName": name })).await?;
    created["QueueUrl"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("CreateQueue returned no QueueUrl"))
}

/// One message through: sent, received, deleted.
async fn cycle(client: &Client, url: &str) -> anyhow::Result<()> {
    sqs(
        client,
        "SendMessage",
        json!({ "QueueUrl": url, "MessageBody": "{\"noop\":true}" }),
    )
    .await?;
    let received = sqs(
        client,
        "ReceiveMessage",
        json!({ "QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 5 }),
    )
    .await?;
    let handle = received["Messages"][0]["ReceiptHandle"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("ReceiveMessage returned no message: {received}"))?
        .to_owned();
    sqs(
        client,
        "DeleteMessage",
        json!({ "QueueUrl": url, "ReceiptHandle": handle }),
    )
    .await?;
    Ok(())
}

/// `clients` clients cycling messages for `seconds`: per-cycle latency and cycles per second.
async fn cycles(
    client: &Arc<Client>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(Stats, f64)> {
    let mut urls = Vec::new();
    for i in 0..clients {
        urls.push(create_queue(client, &format!("bench-cycle-{clients}-{i}")).await?);
    }
    for url in &urls {
        cycle(client, url).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for url in urls {
        let client = client.clone();
        tasks.spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                cycle(&client, &url).await?;
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

/// Sends one message at a time to a queue mapped to `function` and waits until it is gone
/// (delivered, the function returned, the message deleted), polling every millisecond.
async fn mapped_latency(
    client: &Arc<Client>,
    function: &str,
    messages: usize,
) -> anyhow::Result<Stats> {
    let url = create_queue(client, "bench-mapped").await?;
    let attributes = sqs(
        client,
        "GetQueueAttributes",
        json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] }),
    )
    .await?;
    let arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = client
        .send(
            "lambda",
            http::Method::POST,
            "/2015-03-31/event-source-mappings/",
            &[],
            &[("content-type", "application/json".into())],
            json!({ "FunctionName": function, "EventSourceArn": arn, "BatchSize": 1 })
                .to_string()
                .into_bytes(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.as_u16() == 202,
        "CreateEventSourceMapping: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let gone = || async {
        let counts = sqs(
            client,
            "GetQueueAttributes",
            json!({ "QueueUrl": url, "AttributeNames": [
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
            ]}),
        )
        .await?;
        Ok::<_, anyhow::Error>(
            counts["Attributes"]["ApproximateNumberOfMessages"] == "0"
                && counts["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0",
        )
    };
    let mut samples = Vec::with_capacity(messages);
    for i in 0..messages + 5 {
        let start = Instant::now();
        sqs(
            client,
            "SendMessage",
            json!({ "QueueUrl": url, "MessageBody": "{\"noop\":true}" }),
        )
        .await?;
        let deadline = start + Duration::from_secs(30);
        while !gone().await? {
            anyhow::ensure!(
                Instant::now() < deadline,
                "a mapped message was not processed in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if i >= 5 {
            samples.push(start.elapsed());
        }
    }
    Ok(stats(samples))
}

/// The SQS rows.
pub(super) async fn rows(
    client: &Arc<Client>,
    function: &str,
    concurrency: usize,
    seconds: u64,
    messages: usize,
    raw: (&Stats, f64),
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for clients in [1, concurrency] {
        eprintln!("bench: SQS send → receive → delete, {clients} clients for {seconds} s");
        let (latency, rate) = cycles(client, clients, seconds).await?;
        rows.push(Row {
            scenario: format!(
                "SQS send → receive → delete (json protocol, fsync'd), {clients} client(s); req/s = messages/s"
            ),
            subject: latency,
            throughput: Some(rate),
            baseline_name: "SQLite insert, one fsync'd transaction each".into(),
            baseline: raw.0.clone(),
            baseline_throughput: Some(raw.1),
        });
    }
    eprintln!("bench: SQS → mapped function end to end ({messages} messages, one at a time)");
    let latency = mapped_latency(client, function, messages).await?;
    rows.push(Row {
        scenario: "SQS message → mapped warm function → deleted (client-observed, 1 ms polling)"
            .into(),
        subject: latency,
        throughput: None,
        baseline_name: "SQLite insert, one fsync'd transaction each".into(),
        baseline: raw.0.clone(),
        baseline_throughput: Some(raw.1),
    });
    Ok(rows)
}
