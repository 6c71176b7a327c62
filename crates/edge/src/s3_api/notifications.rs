//! Bucket notifications: Put/GetBucketNotificationConfiguration (Lambda and SQS targets; topic
//! targets are refused until SNS is served), and the delivery of object events with S3's event
//! record, as asynchronous invocations or as queue messages.
//!
//! An event is queued (durably, through the lambda layer's `AsyncInvoker` or the queue's group
//! commit) before the request that caused it is answered, so an acknowledged upload's event
//! survives a crash. S3 sends `s3:TestEvent` to queues when a configuration names them, never to
//! Lambda targets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::StatusCode;
use nubo_objects::notifications::{
    EventName, LambdaConfiguration, NotificationConfiguration, QueueConfiguration,
};
use nubo_objects::records::BucketRecord;
use nubo_objects::ObjectRecord;
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Scope};
use serde_json::json;

mod queues;

use self::queues::{s3_may_send, send_to_queue, unable_queue};
use super::errors::S3Errors;
use super::{empty, xml, S3Request, S3Result};
use crate::EdgeState;

pub(crate) async fn get(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    let notifications = &bucket.notifications;
    Ok(xml("NotificationConfiguration", |w| {
        for config in &notifications.queue {
            w.element("QueueConfiguration", |w| {
                w.text_element("Id", &config.id)
                    .text_element("Queue", &config.queue_arn);
                write_events_and_filter(w, &config.events, &config.prefix, &config.suffix);
            });
        }
        for config in &notifications.lambda {
            w.element("CloudFunctionConfiguration", |w| {
                w.text_element("Id", &config.id)
                    .text_element("CloudFunction", &config.function_arn);
                write_events_and_filter(w, &config.events, &config.prefix, &config.suffix);
            });
        }
    }))
}

fn write_events_and_filter(
    w: &mut nubo_wire::xml::XmlWriter,
    events: &[String],
    prefix: &Option<String>,
    suffix: &Option<String>,
) {
    for event in events {
        w.text_element("Event", event);
    }
    if prefix.is_some() || suffix.is_some() {
        w.element("Filter", |w| {
            w.element("S3Key", |w| {
                for (name, value) in [("prefix", prefix), ("suffix", suffix)] {
                    if let Some(value) = value {
                        w.element("FilterRule", |w| {
                            w.text_element("Name", name).text_element("Value", value);
                        });
                    }
                }
            });
        });
    }
}

fn unable(arn: &str) -> AwsError {
    S3Errors::invalid_argument("Unable to validate the following destination configurations")
        .with_extra("ArgumentName", arn.to_owned())
        .with_extra("ArgumentValue", "Not authorized to invoke function")
}

/// The function a configuration's ARN names, in the ARN's own region.
fn function_ref(arn: &str, account: &str) -> Option<FunctionRef> {
    let region = arn.split(':').nth(3).filter(|r| !r.is_empty())?;
    let scope = Scope {
        region: region.to_owned(),
        account_id: account.to_owned(),
    };
    FunctionRef::parse(arn, &scope).ok()
}

/// Whether S3 may invoke the function for this bucket: it exists, and its policy allows
/// `lambda:InvokeFunction` to `s3.amazonaws.com` with this bucket's ARN as `aws:SourceArn` and the
/// bucket owner as `aws:SourceAccount` (what `aws lambda add-permission --principal
/// s3.amazonaws.com --source-arn arn:aws:s3:::{bucket}` grants). The only place S3 decides this.
fn s3_may_invoke(state: &EdgeState, function: &FunctionRef, bucket: &str, account: &str) -> bool {
    let registry = state.invoker.registry();
    if registry.resolve(function).is_err() {
        return false;
    }
    let source_arn = format!("arn:aws:s3:::{bucket}");
    registry
        .service_may_invoke(function, "s3.amazonaws.com", &source_arn, account)
        .is_ok()
}

/// What every kind of configuration carries besides its target.
struct Common {
    id: String,
    arn: String,
    events: Vec<String>,
    prefix: Option<String>,
    suffix: Option<String>,
}

fn malformed() -> AwsError {
    S3Errors::malformed_xml(
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// The `Id`, target ARN (in element `target`), events and key filter of one configuration.
fn common(
    config: &nubo_wire::xml::XmlElement,
    target: &str,
    number: usize,
) -> Result<Common, AwsError> {
    let arn = config.child_text(target).unwrap_or_default().trim();
    let events: Vec<String> = config
        .children_named("Event")
        .map(|e| e.text.trim().to_owned())
        .collect();
    if arn.is_empty() || events.is_empty() {
        return Err(malformed());
    }
    if let Some(bad) = events
        .iter()
        .find(|e| !nubo_objects::notifications::EVENT_TYPES.contains(&e.as_str()))
    {
        return Err(S3Errors::invalid_argument(format!(
            "The event is not supported for notifications: {bad}"
        )));
    }
    let (mut prefix, mut suffix) = (None, None);
    if let Some(key) = config.child("Filter").and_then(|f| f.child("S3Key")) {
        for rule in key.children_named("FilterRule") {
            let value = rule.child_text("Value").unwrap_or_default().to_owned();
            match rule
                .child_text("Name")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("prefix") if prefix.is_none() => prefix = Some(value),
                Some("suffix") if suffix.is_none() => suffix = Some(value),
                _ => {
                    return Err(S3Errors::invalid_argument(
                        "FilterRule names must be prefix or suffix, each at most once",
                    ))
                }
            }
        }
    }
    Ok(Common {
        id: config
            .child_text("Id")
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("notification-{number}")),
        arn: arn.to_owned(),
        events,
        prefix,
        suffix,
    })
}

pub(crate) async fn put(request: S3Request) -> S3Result {
    request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
    if document.name != "NotificationConfiguration" {
        return Err(malformed().into());
    }
    if let Some(other) = document.children.iter().find(|c| {
        matches!(
            c.name.as_str(),
            "TopicConfiguration" | "EventBridgeConfiguration"
        )
    }) {
        return Err(S3Errors::invalid_argument(format!(
            "Nubo cannot deliver to {} targets yet: only Lambda functions and SQS queues",
            other.name
        ))
        .into());
    }
    let account = request.scope().account_id;
    let mut number = 0;
    let mut queue = Vec::new();
    let mut test_events = Vec::new();
    for config in document.children_named("QueueConfiguration") {
        number += 1;
        let c = common(config, "Queue", number)?;
        let target = s3_may_send(&request.state, &c.arn, request.bucket(), &account)
            .ok_or_else(|| unable_queue(&c.arn))?;
        test_events.push(target);
        queue.push(QueueConfiguration {
            id: c.id,
            queue_arn: c.arn,
            events: c.events,
            prefix: c.prefix,
            suffix: c.suffix,
        });
    }
    let mut lambda = Vec::new();
    for config in document.children_named("CloudFunctionConfiguration") {
        number += 1;
        let c = common(config, "CloudFunction", number)?;
        let function = function_ref(&c.arn, &account).ok_or_else(|| unable(&c.arn))?;
        if !s3_may_invoke(&request.state, &function, request.bucket(), &account) {
            return Err(unable(&c.arn).into());
        }
        lambda.push(LambdaConfiguration {
            id: c.id,
            function_arn: c.arn,
            events: c.events,
            prefix: c.prefix,
            suffix: c.suffix,
        });
    }
    request
        .state
        .objects
        .set_bucket_notifications(
            request.bucket(),
            NotificationConfiguration { lambda, queue },
        )
        .await?;
    // S3 tells each queue it is now a destination.
    let test_event = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
        "Bucket": request.bucket(),
        "RequestId": request.request_id,
        "HostId": request.request_id,
    })
    .to_string();
    futures_util::future::join_all(
        test_events
            .iter()
            .map(|target| send_to_queue(&request.state, target, test_event.clone())),
    )
    .await;
    Ok(empty(StatusCode::OK))
}

/// S3's `sequencer`: increasing hex, per server (so per key too): the time in nanoseconds, or one
/// more than the last value handed out.
fn sequencer() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(now);
    let value = now.max(previous.saturating_add(1));
    format!("{value:018X}")
}

/// `+` for spaces, percent-encoding otherwise: how S3 writes keys in event records.
fn event_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The event record S3 hands Lambda and sends to queues.
fn record(
    request: &S3Request,
    bucket: &BucketRecord,
    configuration_id: &str,
    event: EventName,
    key: &str,
    object: Option<&ObjectRecord>,
) -> serde_json::Value {
    let mut object_json = json!({ "key": event_key(key), "sequencer": sequencer() });
    if let Some(object) = object {
        object_json["size"] = json!(object.size);
        object_json["eTag"] = json!(object.etag);
    }
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": bucket.region,
            "eventTime": nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
            "eventName": event.as_str(),
            "userIdentity": { "principalId": format!("AWS:{}", request.principal_id()) },
            "requestParameters": { "sourceIPAddress": request.source_ip() },
            "responseElements": {
                "x-amz-request-id": request.request_id,
                "x-amz-id-2": request.request_id,
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration_id,
                "bucket": {
                    "name": bucket.name,
                    "ownerIdentity": { "principalId": bucket.owner },
                    "arn": format!("arn:aws:s3:::{}", bucket.name),
                },
                "object": object_json,
            }
        }]
    })
}

/// Queues the event for every configuration of `bucket` it matches. A function that cannot be
/// invoked any more or a queue that is gone is logged and skipped: S3 drops such events too.
pub(crate) async fn emit(
    request: &S3Request,
    bucket: &Arc<BucketRecord>,
    event: EventName,
    key: &str,
    object: Option<&ObjectRecord>,
) {
    // The configuration as it is now (the record the handler holds may predate a change).
    let Ok(bucket) = request.state.objects.bucket(&bucket.name) else {
        return;
    };
    let account = request.scope().account_id;
    // Sent together, so the queues' writers commit them in the same round rather than one by one.
    let mut sends = Vec::new();
    for config in bucket.notifications.matching_queues(event, key) {
        let Some(queue) = s3_may_send(&request.state, &config.queue_arn, &bucket.name, &account)
        else {
            tracing::warn!(bucket = %bucket.name, queue = %config.queue_arn, "S3 may not send to an event's queue (gone, or its policy changed); event dropped");
            continue;
        };
        let body = record(request, &bucket, &config.id, event, key, object).to_string();
        sends.push(async move { send_to_queue(&request.state, &queue, body).await });
    }
    futures_util::future::join_all(sends).await;
    for config in bucket.notifications.matching(event, key) {
        let Some(function) = function_ref(&config.function_arn, &account) else {
            continue;
        };
        if !s3_may_invoke(&request.state, &function, &bucket.name, &account) {
            tracing::warn!(bucket = %bucket.name, function = %config.function_arn, "an S3 event's function cannot be invoked; event dropped");
            continue;
        }
        let payload = record(request, &bucket, &config.id, event, key, object).to_string();
        if let Err(e) = request
            .state
            .async_invoker
            .accept(
                function,
                payload.into(),
                None,
                nubo_wire::new_request_id(),
                0,
            )
            .await
        {
            tracing::warn!(bucket = %bucket.name, function = %config.function_arn, error = ?e, "could not queue an S3 event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_as_s3_writes_them() {
        assert_eq!(
            event_key("uploads/Happy Face+1.jpg"),
            "uploads/Happy+Face%2B1.jpg"
        );
        assert_eq!(event_key("a/é.txt"), "a/%C3%A9.txt");
        let (a, b) = (sequencer(), sequencer());
        assert!(u128::from_str_radix(&b, 16).unwrap() > u128::from_str_radix(&a, 16).unwrap());
    }
}
