//! DynamoDB figures: PutItem, GetItem and Query per second and their latency with 1 and N
//! clients (each call a signed json-protocol request to one table), beside the raw SQLite
//! baselines measured in the same run — fsync'd single-row inserts (PutItem is durable the same
//! way) and prepared point reads by primary key.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nubo::client::Client;
use serde_json::{json, Value};

use super::{stats, Row, Stats};

async fn ddb(client: &Client, operation: &str, body: Value) -> anyhow::Result<Value> {
    let reply = client
        .send(
            "dynamodb",
            http::Method::POST,
            "/",
            &[],
            &[
                ("x-amz-target", format!("DynamoDB_20120810.{operation}")),
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

const TABLE: &str = "bench-items";

fn item(client: usize, n: usize) -> Value {
    json!({
        "pk": {"S": format!("client-{client}")},
        "sk": {"N": n.to_string()},
        "payload": {"S": "x".repeat(100)},
        "count": {"N": n.to_string()},
    })
}

#[derive(Clone, Copy)]
enum Op {
    Put,
    Get,
    Query,
}

async fn once(client: &Client, op: Op, who: usize, n: usize) -> anyhow::Result<()> {
    match op {
        Op::Put => {
            ddb(
                client,
                "PutItem",
                json!({"TableName": TABLE, "Item": item(who, n)}),
            )
            .await?;
        }
        Op::Get => {
            let key =
                json!({"pk": {"S": format!("client-{who}")}, "sk": {"N": (n % 100).to_string()}});
            let got = ddb(client, "GetItem", json!({"TableName": TABLE, "Key": key})).await?;
            anyhow::ensure!(got.get("Item").is_some(), "GetItem found nothing");
        }
        Op::Query => {
            let got = ddb(
                client,
                "Query",
                json!({
                    "TableName": TABLE,
                    "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
                    "ExpressionAttributeValues": {
                        ":p": {"S": format!("client-{who}")},
                        ":a": {"N": (n % 90).to_string()},
                        ":b": {"N": (n % 90 + 9).to_string()},
                    },
                }),
            )
            .await?;
            anyhow::ensure!(got["Count"] == 10, "Query returned {}", got["Count"]);
        }
    }
    Ok(())
}

/// `clients` clients calling `op` for `seconds`: per-call latency and calls per second.
async fn load(
    client: &Arc<Client>,
    op: Op,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(Stats, f64)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for who in 0..clients {
        let client = client.clone();
        tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut n = 1000 + who;
            while Instant::now() < deadline {
                let start = Instant::now();
                once(&client, op, who, n).await?;
                samples.push(start.elapsed());
                n += 1;
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

fn rate(samples: &[Duration]) -> f64 {
    samples.len() as f64 / samples.iter().map(Duration::as_secs_f64).sum::<f64>()
}

/// The DynamoDB rows.
pub(super) async fn rows(
    client: &Arc<Client>,
    data: &Path,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Vec<Row>> {
    ddb(
        client,
        "CreateTable",
        json!({
            "TableName": TABLE,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    )
    .await?;
    // Every client's partition holds items 0..100 for the reads.
    for who in 0..concurrency.max(1) {
        for n in 0..100 {
            ddb(
                client,
                "PutItem",
                json!({"TableName": TABLE, "Item": item(who, n)}),
            )
            .await?;
        }
    }
    let raw_dir = tempfile::tempdir_in(data)?;
    let payload = item(0, 0).to_string().into_bytes();
    eprintln!("bench: raw SQLite baselines");
    let inserts = nubo_store::raw_insert_baseline(raw_dir.path(), 500, &payload)?;
    let reads = nubo_store::raw_point_read_baseline(raw_dir.path(), 20_000, &payload)?;
    let (insert_rate, read_rate) = (rate(&inserts), rate(&reads));
    let (inserts, reads) = (stats(inserts), stats(reads));
    let mut rows = Vec::new();
    for (op, name, what) in [
        (Op::Put, "PutItem (fsync'd, ~150 B item)", "insert"),
        (Op::Get, "GetItem (point read)", "read"),
        (
            Op::Query,
            "Query (one partition, 10 of 100 items by sort-key range)",
            "read",
        ),
    ] {
        for clients in [1, concurrency] {
            eprintln!("bench: DynamoDB {name}, {clients} clients for {seconds} s");
            let (latency, throughput) = load(client, op, clients, seconds).await?;
            let (baseline_name, baseline, baseline_throughput) = if what == "insert" {
                (
                    "SQLite insert, one fsync'd transaction each (1 thread)",
                    inserts.clone(),
                    insert_rate,
                )
            } else {
                (
                    "SQLite point read by primary key, prepared (1 thread, in process)",
                    reads.clone(),
                    read_rate,
                )
            };
            rows.push(Row {
                scenario: format!(
                    "DynamoDB {name}, {clients} client(s), signed json 1.0 over loopback"
                ),
                subject: latency,
                throughput: Some(throughput),
                baseline_name: baseline_name.into(),
                baseline,
                baseline_throughput: Some(baseline_throughput),
            });
        }
    }
    Ok(rows)
}
