//! `nubo logs NAME [--follow] [--since 10m] [--filter-pattern P]`: a function's log (or any
//! group's), read through the public CloudWatch Logs API as `aws logs tail` does — FilterLogEvents
//! from a start time, and with `--follow` the same call again every half second from the last
//! timestamp seen, dropping the event ids already printed.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};

use nubo::client::Client;

/// How often `--follow` polls.
const POLL: Duration = Duration::from_millis(500);
/// Each poll reaches this far behind the newest event printed: lines are stamped when written
/// but stored in batches, so a concurrent invocation's older lines may land after newer ones.
const LOOKBACK_MS: i64 = 5_000;

/// What to show.
pub(crate) struct LogsRequest {
    /// A function name (group `/aws/lambda/NAME`) or a group name starting with `/`.
    pub(crate) name: String,
    /// Keep printing new events.
    pub(crate) follow: bool,
    /// How far back to start (`30s`, `10m`, `2h`, `1d`).
    pub(crate) since: String,
    /// A CloudWatch filter pattern.
    pub(crate) filter_pattern: Option<String>,
}

/// Milliseconds of `30s`, `10m`, `2h`, `1d`, `1w` (a bare number is seconds).
pub(crate) fn parse_since(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .with_context(|| format!("--since {text:?}: expected a number and a unit, like 10m"))?;
    let unit_ms = match unit {
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        other => anyhow::bail!("--since {text:?}: unknown unit {other:?} (s, m, h, d or w)"),
    };
    Ok(number.saturating_mul(unit_ms))
}

fn group_of(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/aws/lambda/{name}")
    }
}

/// A CloudWatch Logs error: its code and the line to print.
#[derive(Debug)]
struct ApiError {
    code: String,
    text: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for ApiError {}

async fn call(client: &Client, operation: &str, body: &Value) -> anyhow::Result<Value> {
    let headers = [
        ("content-type", "application/x-amz-json-1.1".to_owned()),
        ("x-amz-target", format!("Logs_20140328.{operation}")),
    ];
    let reply = client
        .send(
            "logs",
            http::Method::POST,
            "/",
            &[],
            &headers,
            serde_json::to_vec(body)?,
        )
        .await?;
    let value: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if !reply.status.is_success() {
        let kind = value["__type"].as_str().unwrap_or("Error");
        let message = value["message"].as_str().unwrap_or("");
        return Err(ApiError {
            code: kind.to_owned(),
            text: format!("{kind} ({}): {message}", reply.status.as_u16()),
        }
        .into());
    }
    Ok(value)
}

fn print(event: &Value) {
    let timestamp = event["timestamp"].as_i64().unwrap_or(0);
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let message = event["message"].as_str().unwrap_or("");
    println!(
        "{when} {} {}",
        event["logStreamName"].as_str().unwrap_or(""),
        message.trim_end_matches('\n')
    );
}

/// `nubo logs`.
pub(crate) async fn logs(client: &Client, request: LogsRequest) -> anyhow::Result<()> {
    let group = group_of(&request.name);
    let now = nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc());
    let since = now - parse_since(&request.since)?;
    let mut newest = since;
    // Ids printed within the lookback window, by timestamp: polls overlap, lines print once.
    let mut seen: HashMap<String, i64> = HashMap::new();
    loop {
        let start = since.max(newest - LOOKBACK_MS);
        seen.retain(|_, timestamp| *timestamp >= start);
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "logGroupName": group, "startTime": start });
            if let Some(pattern) = &request.filter_pattern {
                body["filterPattern"] = json!(pattern);
            }
            if let Some(token) = &token {
                body["nextToken"] = json!(token);
            }
            let page = match call(client, "FilterLogEvents", &body).await {
                Ok(page) => page,
                // A function that has not logged yet has no group: a follower waits for it.
                Err(e)
                    if request.follow
                        && e.downcast_ref::<ApiError>()
                            .is_some_and(|e| e.code == "ResourceNotFoundException") =>
                {
                    break;
                }
                Err(e) => return Err(e),
            };
            for event in page["events"].as_array().into_iter().flatten() {
                let id = event["eventId"].as_str().unwrap_or("").to_owned();
                let timestamp = event["timestamp"].as_i64().unwrap_or(start);
                if seen.insert(id, timestamp).is_some() {
                    continue;
                }
                newest = newest.max(timestamp);
                print(event);
            }
            match page["nextToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        if !request.follow {
            return Ok(());
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_groups() {
        assert_eq!(parse_since("10m").unwrap(), 600_000);
        assert_eq!(parse_since("30").unwrap(), 30_000);
        assert_eq!(parse_since("2d").unwrap(), 172_800_000);
        assert!(parse_since("soon").is_err());
        assert!(parse_since("5y").is_err());
        assert_eq!(group_of("f"), "/aws/lambda/f");
        assert_eq!(group_of("/custom/group"), "/custom/group");
    }
}
