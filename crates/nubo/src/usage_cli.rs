//! `nubo usage [--since 1d]`: metered requests, billed duration, GB-seconds and cost per function
//! version, and requests per API, stage and API key, read from the server's `/_nubo/usage` (the
//! same access rule as its metrics).

use anyhow::Context;
use serde_json::Value;

use nubo::client::Client;

use crate::logs_cli::parse_since;

/// `nubo usage`.
pub(crate) async fn usage(
    client: &Client,
    since: Option<String>,
    apis: bool,
) -> anyhow::Result<()> {
    let since_ms = match since {
        Some(since) => {
            nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc()) - parse_since(&since)?
        }
        None => 0,
    };
    let reply = client
        .get_unsigned(&format!("/_nubo/usage?since={since_ms}"))
        .await?;
    if !reply.status.is_success() {
        anyhow::bail!(
            "{}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body).trim()
        );
    }
    let report: Value = serde_json::from_slice(&reply.body).context("reading the usage report")?;
    if apis {
        print_apis(&report);
        return Ok(());
    }
    println!(
        "{:<40} {:<8} {:<7} {:>10} {:>7} {:>14} {:>14} {:>12}",
        "FUNCTION", "VERSION", "ARCH", "REQUESTS", "ERRORS", "BILLED MS", "GB-SECONDS", "COST USD"
    );
    for row in report["functions"].as_array().into_iter().flatten() {
        println!(
            "{:<40} {:<8} {:<7} {:>10} {:>7} {:>14} {:>14.6} {:>12.8}",
            row["function"].as_str().unwrap_or(""),
            row["version"].as_str().unwrap_or(""),
            row["architecture"].as_str().unwrap_or(""),
            row["requests"].as_u64().unwrap_or(0),
            row["errors"].as_u64().unwrap_or(0),
            row["billedMs"].as_u64().unwrap_or(0),
            row["gbSeconds"].as_f64().unwrap_or(0.0),
            row["cost"].as_f64().unwrap_or(0.0),
        );
    }
    let total = &report["total"];
    println!(
        "{:<40} {:<8} {:<7} {:>10} {:>7} {:>14} {:>14.6} {:>12.8}",
        "TOTAL",
        "",
        "",
        total["requests"].as_u64().unwrap_or(0),
        total["errors"].as_u64().unwrap_or(0),
        total["billedMs"].as_u64().unwrap_or(0),
        total["gbSeconds"].as_f64().unwrap_or(0.0),
        total["cost"].as_f64().unwrap_or(0.0),
    );
    Ok(())
}

/// `nubo usage --apis`: one line per API, stage and API key (`-`: none).
fn print_apis(report: &Value) {
    println!(
        "{:<12} {:<16} {:<24} {:>10} {:>7} {:>7}",
        "API", "STAGE", "API KEY", "REQUESTS", "4XX", "5XX"
    );
    for row in report["apis"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<16} {:<24} {:>10} {:>7} {:>7}",
            row["apiId"].as_str().unwrap_or(""),
            row["stage"].as_str().unwrap_or(""),
            row["apiKey"].as_str().unwrap_or(""),
            row["requests"].as_u64().unwrap_or(0),
            row["clientErrors"].as_u64().unwrap_or(0),
            row["serverErrors"].as_u64().unwrap_or(0),
        );
    }
}
