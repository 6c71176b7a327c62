//! Bucket notifications: Put/GetBucketNotificationConfiguration (Lambda targets; queue and topic
//! targets are refused until SQS and SNS are served), and the delivery of object events as
//! asynchronous invocations with S3's event record.
//!
//! An event is queued (durably, through the lambda layer's `AsyncInvoker`) before the request
//! that caused it is answered, so an acknowledged upload's event survives a crash. S3 sends no
//! `s3:TestEvent` to Lambda targets (only to queues and topics), so none is sent here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::StatusCode;
use nubo_objects::notifications::{EventName, LambdaConfiguration, NotificationConfiguration};
use nubo_objects::records::BucketRecord;
use nubo_objects::ObjectRecord;
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AwsError, Scope};
use serde_json::json;

use super::errors::S3Errors;
use super::{empty, xml, S3Request, S3Result};
use crate::EdgeState;

pub(crate) async fn get(request: S3Request) -> S3Result {
    let bucket = request.state.objects.bucket(request.bucket())?;
    Ok(xml("NotificationConfiguration", |w| {
        for config in &bucket.notifications.lambda {
            w.element("CloudFunctionConfiguration", |w| {
                w.text_element("Id", &config.id)
                    .text_element("CloudFunction", &config.function_arn);
                for event in &config.events {
                    w.text_element("Event", event);
                }
                if config.prefix.is_some() || config.suffix.is_some() {
                    w.element("Filter", |w| {
                        w.element("S3Key", |w| {
                            for (name, value) in
                                [("prefix", &config.prefix), ("suffix", &config.suffix)]
                            {
                                if let Some(value) = value {
                                    w.element("FilterRule", |w| {
                                        w.text_element("Name", name).text_element("Value", value);
                                    });
                                }
                            }
                        });
                    });
                }
            });
        }
    }))
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

pub(crate) async fn put(request: S3Request) -> S3Result {
    request.state.objects.bucket(request.bucket())?;
    let (request, body) = request.xml_body().await?;
    let document = nubo_wire::protocol::rest_xml::parse_body(&body)?;
    if document.name != "NotificationConfiguration" {
        return Err(S3Errors::malformed_xml(
            "The XML you provided was not well-formed or did not validate against our published schema",
        ).into());
    }
    if let Some(other) = document.children.iter().find(|c| {
        matches!(
            c.name.as_str(),
            "QueueConfiguration" | "TopicConfiguration" | "EventBridgeConfiguration"
        )
    }) {
        return Err(S3Errors::invalid_argument(format!(
            "Nubo cannot deliver to {} targets yet: only Lambda functions",
            other.name
        ))
        .into());
    }
    let account = request.scope().account_id;
    let mut lambda = Vec::new();
    for (i, config) in document
        .children_named("CloudFunctionConfiguration")
        .enumerate()
    {
        let arn = config
            .child_text("CloudFunction")
            .unwrap_or_default()
            .trim();
        let events: Vec<String> = config
            .children_named("Event")
            .map(|e| e.text.trim().to_owned())
            .collect();
        if arn.is_empty() || events.is_empty() {
            return Err(S3Errors::malformed_xml(
                "The XML you provided was not well-formed or did not validate against our published schema",
            ).into());
        }
        if let Some(bad) = events
            .iter()
            .find(|e| !nubo_objects::notifications::EVENT_TYPES.contains(&e.as_str()))
        {
            return Err(S3Errors::invalid_argument(format!(
                "The event is not supported for notifications: {bad}"
            ))
            .into());
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
                        )
                        .into())
                    }
                }
            }
        }
        let function = function_ref(arn, &account).ok_or_else(|| unable(arn))?;
        if !s3_may_invoke(&request.state, &function, request.bucket(), &account) {
            return Err(unable(arn).into());
        }
        lambda.push(LambdaConfiguration {
            id: config
                .child_text("Id")
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| format!("notification-{}", i + 1)),
            function_arn: arn.to_owned(),
            events,
            prefix,
            suffix,
        });
    }
    request
        .state
        .objects
        .set_bucket_notifications(request.bucket(), NotificationConfiguration { lambda })
        .await?;
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

/// The event record S3 hands Lambda.
fn record(
    request: &S3Request,
    bucket: &BucketRecord,
    config: &LambdaConfiguration,
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
                "configurationId": config.id,
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
/// invoked any more (deleted) is logged and skipped: S3 drops such events too.
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
    for config in bucket.notifications.matching(event, key) {
        let Some(function) = function_ref(&config.function_arn, &account) else {
            continue;
        };
        if !s3_may_invoke(&request.state, &function, &bucket.name, &account) {
            tracing::warn!(bucket = %bucket.name, function = %config.function_arn, "an S3 event's function cannot be invoked; event dropped");
            continue;
        }
        let payload = record(request, &bucket, config, event, key, object).to_string();
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
