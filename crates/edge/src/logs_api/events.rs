//! Streams and events: CreateLogStream, DescribeLogStreams, PutLogEvents, GetLogEvents and
//! FilterLogEvents (what `aws logs tail --follow` polls: a start time, then the ids it has seen).

use nubo_store::{LogEvent, LogQuery, Logs};
use nubo_wire::AwsError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::filter::FilterPattern;
use super::{
    check_stream_name, group_exists, group_name, group_not_found, key, page_limit, required,
    store_error, LogsErrors,
};
use crate::registry::OperationContext;

/// PutLogEvents takes at most this many events …
const MAX_PUT_EVENTS: usize = 10_000;
/// … and events at most this far in the past (14 days) or future (2 hours).
const TOO_OLD_MS: i64 = 14 * 86_400_000;
const TOO_NEW_MS: i64 = 2 * 3_600_000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StreamInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DescribeStreamsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    #[serde(default)]
    descending: bool,
    next_token: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InputEvent {
    timestamp: i64,
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PutEventsInput {
    log_group_name: Option<String>,
    log_stream_name: Option<String>,
    #[serde(default)]
    log_events: Vec<InputEvent>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetEventsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FilterEventsInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    #[serde(default)]
    log_stream_names: Vec<String>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

fn stream_not_found() -> AwsError {
    LogsErrors::resource_not_found("The specified log stream does not exist.")
}

/// The group's store key, after checking the group exists.
async fn existing_group(
    logs: &dyn Logs,
    ctx: &OperationContext,
    name: Option<String>,
    identifier: Option<String>,
) -> Result<String, AwsError> {
    let group = key(&ctx.scope, &group_name(name, identifier)?);
    if !group_exists(logs, &group).await? {
        return Err(group_not_found());
    }
    Ok(group)
}

async fn stream_exists(logs: &dyn Logs, group: &str, stream: &str) -> Result<bool, AwsError> {
    Ok(logs
        .streams(group, stream)
        .await
        .map_err(store_error)?
        .iter()
        .any(|s| s.name == stream))
}

pub(super) async fn create_log_stream(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: StreamInput,
) -> Result<Value, AwsError> {
    let group = existing_group(logs, &ctx, input.log_group_name, None).await?;
    let stream = required(input.log_stream_name, "logStreamName")?;
    check_stream_name(&stream)?;
    if !logs
        .create_stream(&group, &stream)
        .await
        .map_err(store_error)?
    {
        return Err(LogsErrors::already_exists(
            "The specified log stream already exists",
        ));
    }
    Ok(json!({}))
}

pub(super) async fn describe_log_streams(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: DescribeStreamsInput,
) -> Result<Value, AwsError> {
    let group =
        existing_group(logs, &ctx, input.log_group_name, input.log_group_identifier).await?;
    let limit = page_limit(input.limit, 50, 50)?;
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(LogsErrors::validation(format!(
                "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )))
        }
    };
    let prefix = input.log_stream_name_prefix.unwrap_or_default();
    if by_time && !prefix.is_empty() {
        return Err(LogsErrors::invalid_parameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let mut streams = logs.streams(&group, &prefix).await.map_err(store_error)?;
    if by_time {
        streams.sort_by(|a, b| (a.last_event_ms, &a.name).cmp(&(b.last_event_ms, &b.name)));
    }
    if input.descending {
        streams.reverse();
    }
    // The token is the offset into this ordering: simple, and stable while nothing is added.
    let start = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| LogsErrors::invalid_parameter("The specified nextToken is invalid."))?,
        None => 0,
    };
    let (_, _, group_name) =
        nubo_observe::split_scoped_group(&group).unwrap_or(("", "", group.as_str()));
    let arn_base = super::group_arn(&ctx.scope, group_name);
    let page: Vec<Value> = streams
        .iter()
        .skip(start)
        .take(limit)
        .map(|s| {
            let mut entry = json!({
                "logStreamName": s.name,
                "creationTime": s.first_event_ms,
                "arn": format!("{arn_base}:log-stream:{}", s.name),
                "storedBytes": 0,
            });
            if s.events > 0 {
                entry["firstEventTimestamp"] = json!(s.first_event_ms);
                entry["lastEventTimestamp"] = json!(s.last_event_ms);
                entry["lastIngestionTime"] = json!(s.last_ingestion_ms);
            }
            entry
        })
        .collect();
    let mut body = json!({ "logStreams": page });
    if start + limit < streams.len() {
        body["nextToken"] = json!((start + limit).to_string());
    }
    Ok(body)
}

pub(super) async fn put_log_events(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: PutEventsInput,
) -> Result<Value, AwsError> {
    let group = existing_group(logs, &ctx, input.log_group_name, None).await?;
    let stream = required(input.log_stream_name, "logStreamName")?;
    check_stream_name(&stream)?;
    if input.log_events.is_empty() || input.log_events.len() > MAX_PUT_EVENTS {
        return Err(LogsErrors::validation(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and {MAX_PUT_EVENTS}"
        )));
    }
    if input
        .log_events
        .windows(2)
        .any(|pair| pair[1].timestamp < pair[0].timestamp)
    {
        return Err(LogsErrors::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if !stream_exists(logs, &group, &stream).await? {
        return Err(stream_not_found());
    }
    let now = super::now_ms();
    let too_old = input
        .log_events
        .iter()
        .rposition(|e| e.timestamp < now - TOO_OLD_MS);
    let too_new = input
        .log_events
        .iter()
        .position(|e| e.timestamp > now + TOO_NEW_MS);
    let events: Vec<LogEvent> = input
        .log_events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| {
            too_old.is_none_or(|end| *i > end) && too_new.is_none_or(|start| *i < start)
        })
        .map(|(_, e)| LogEvent {
            group: group.clone(),
            stream: stream.clone(),
            timestamp_ms: e.timestamp,
            message: e.message,
        })
        .collect();
    logs.append(events).await.map_err(store_error)?;
    let mut body = json!({});
    if too_old.is_some() || too_new.is_some() {
        let mut rejected = json!({});
        if let Some(end) = too_old {
            rejected["tooOldLogEventEndIndex"] = json!(end + 1);
        }
        if let Some(start) = too_new {
            rejected["tooNewLogEventStartIndex"] = json!(start);
        }
        body["rejectedLogEventsInfo"] = rejected;
    }
    Ok(body)
}

pub(super) async fn get_log_events(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: GetEventsInput,
) -> Result<Value, AwsError> {
    let group =
        existing_group(logs, &ctx, input.log_group_name, input.log_group_identifier).await?;
    let stream = required(input.log_stream_name, "logStreamName")?;
    if !stream_exists(logs, &group, &stream).await? {
        return Err(stream_not_found());
    }
    let limit = page_limit(input.limit, 10_000, 10_000)?;
    // Backward tokens name the same position as forward ones: pages here always run forward.
    let token = input
        .next_token
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_prefix("b/") {
            Some(rest) => format!("f/{rest}"),
            None => t,
        });
    let query = |token: Option<String>, limit: usize| LogQuery {
        group: group.clone(),
        streams: vec![stream.clone()],
        start_ms: input.start_time,
        end_ms: input.end_time,
        limit: Some(limit),
        token,
    };
    let from_head = input.start_from_head.unwrap_or(false) || token.is_some();
    let (events, position) = if from_head {
        let page = logs
            .read(query(token.clone(), limit))
            .await
            .map_err(store_error)?;
        (page.events, page.position)
    } else {
        // The newest `limit` events: read forward to the end, keeping the tail.
        let mut kept = std::collections::VecDeque::new();
        let mut position = None;
        let mut next = None;
        loop {
            let page = logs
                .read(query(next.take(), 10_000))
                .await
                .map_err(store_error)?;
            for event in page.events {
                if kept.len() == limit {
                    kept.pop_front();
                }
                kept.push_back(event);
            }
            position = page.position.or(position);
            match page.next_token {
                Some(t) => next = Some(t),
                None => break,
            }
        }
        (kept.into(), position)
    };
    let forward = position
        .or(token)
        .unwrap_or_else(|| format!("f/{}/0", input.start_time.unwrap_or(0) - 1));
    let backward = format!("b/{}", forward.trim_start_matches("f/"));
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "timestamp": e.event.timestamp_ms,
                "message": e.event.message,
                "ingestionTime": e.ingestion_ms,
            })
        })
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": forward,
        "nextBackwardToken": backward,
    }))
}

pub(super) async fn filter_log_events(
    logs: &dyn Logs,
    ctx: OperationContext,
    input: FilterEventsInput,
) -> Result<Value, AwsError> {
    let group =
        existing_group(logs, &ctx, input.log_group_name, input.log_group_identifier).await?;
    if !input.log_stream_names.is_empty() && input.log_stream_name_prefix.is_some() {
        return Err(LogsErrors::invalid_parameter(
            "Cannot specify both logStreamNames and logStreamNamePrefix.",
        ));
    }
    let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or(""))
        .map_err(|e| LogsErrors::invalid_parameter(e.0))?;
    let limit = page_limit(input.limit, 10_000, 10_000)?;
    let streams = match input.log_stream_name_prefix.filter(|p| !p.is_empty()) {
        Some(prefix) => {
            let names: Vec<String> = logs
                .streams(&group, &prefix)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|s| s.name)
                .collect();
            if names.is_empty() {
                return Ok(json!({ "events": [], "searchedLogStreams": [] }));
            }
            names
        }
        None => input.log_stream_names,
    };
    let page = logs
        .read(LogQuery {
            group,
            streams: streams.clone(),
            start_ms: input.start_time,
            end_ms: input.end_time,
            limit: Some(limit),
            token: input.next_token.filter(|t| !t.is_empty()),
        })
        .await
        .map_err(store_error)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .filter(|e| pattern.matches(&e.event.message))
        .map(|e| {
            json!({
                "logStreamName": e.event.stream,
                "timestamp": e.event.timestamp_ms,
                "message": e.event.message,
                "ingestionTime": e.ingestion_ms,
                "eventId": e.id,
            })
        })
        .collect();
    let searched: Vec<Value> = streams
        .iter()
        .map(|s| json!({ "logStreamName": s, "searchedCompletely": page.next_token.is_none() }))
        .collect();
    let mut body = json!({ "events": events, "searchedLogStreams": searched });
    if let Some(token) = page.next_token {
        body["nextToken"] = json!(token);
    }
    Ok(body)
}
