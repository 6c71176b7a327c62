//! Destinations: where an asynchronous invocation's record goes once the event is done with
//! (`OnSuccess`, `OnFailure`; Lambda's `DeadLetterConfig` will be one more use).
//!
//! A `Destination` is chosen by ARN (`destination`). Delivering to one is a set of queue
//! operations committed in the same transaction as the event's removal, so a crash neither loses
//! the record nor sends it twice. A function: the record becomes an asynchronous event for it. An
//! SQS queue: the record is a message, made visible once the transaction has committed; a
//! function's `DeadLetterConfig` queue gets the event itself the same way ([`dead_letter`]).
//! Topics and event buses are more implementations when their services land; until then
//! [`check`] refuses their ARNs when a config names them.

use std::sync::Arc;

use nubo_queues::{MessageAttribute, MessageAttributes, QueueRegistry, SendInput, StagedSend};
use nubo_store::QueueOp;
use nubo_wire::arn::FunctionRef;
use nubo_wire::{Scope, Violation};
use serde_json::{json, Value};

use super::queue::{enqueue, QueuedEvent};
use crate::{ControlError, InvokeResult};

/// The `DestinationArn` shape's pattern, as AWS reports it.
pub const DESTINATION_PATTERN: &str = "$|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)";

/// What handing a record over takes: queue operations for the removal's transaction, the event
/// to schedule in memory (if the destination is ours to run), and an SQS message to make visible
/// once the transaction has committed.
pub(crate) struct Handover {
    pub(crate) ops: Vec<QueueOp>,
    pub(crate) follow_up: Option<Arc<QueuedEvent>>,
    pub(crate) after_commit: Option<StagedSend>,
}

impl Handover {
    fn staged(mut staged: StagedSend) -> Self {
        Self {
            ops: std::mem::take(&mut staged.ops),
            follow_up: None,
            after_commit: Some(staged),
        }
    }
}

/// An SQS queue: the record is the message body.
struct QueueDestination {
    arn: String,
    queues: Arc<QueueRegistry>,
}

impl Destination for QueueDestination {
    // A queue's consumers start a new chain: SQS messages do not carry the lineage yet.
    fn hand_over(&self, record: &Value, _lineage: u32) -> Handover {
        let input = SendInput {
            body: record.to_string(),
            sender: "lambda.amazonaws.com".into(),
            ..SendInput::default()
        };
        match self.queues.stage_send(&self.arn, input) {
            Ok(staged) => Handover::staged(staged),
            Err(e) => {
                tracing::warn!(destination = %self.arn, error = %e, "an invocation record could not be sent");
                Handover {
                    ops: Vec::new(),
                    follow_up: None,
                    after_commit: None,
                }
            }
        }
    }
}

/// What a function's `DeadLetterConfig` queue gets for an event given up on: the event itself,
/// with Lambda's `RequestID`, `ErrorCode` and `ErrorMessage` attributes.
pub(crate) fn dead_letter(
    arn: &str,
    queues: &QueueRegistry,
    event: &QueuedEvent,
    error_message: &str,
) -> Option<Handover> {
    let string = |value: &str, data_type: &str| MessageAttribute {
        data_type: data_type.into(),
        string_value: Some(value.into()),
        binary_value: None,
    };
    let mut attributes = MessageAttributes::new();
    attributes.insert("RequestID".into(), string(&event.id, "String"));
    attributes.insert("ErrorCode".into(), string("200", "Number"));
    let message: String = error_message.chars().take(1024).collect();
    if !message.is_empty() {
        attributes.insert("ErrorMessage".into(), string(&message, "String"));
    }
    let body = String::from_utf8_lossy(&event.payload).into_owned();
    let input = SendInput {
        body,
        attributes,
        sender: "lambda.amazonaws.com".into(),
        ..SendInput::default()
    };
    match queues.stage_send(arn, input) {
        Ok(staged) => Some(Handover::staged(staged)),
        Err(e) => {
            tracing::warn!(dead_letter_queue = %arn, error = %e, "an event could not be sent to its dead-letter queue");
            None
        }
    }
}

/// Somewhere an invocation record can go.
pub(crate) trait Destination: Send + Sync {
    /// The operations that deliver `record`, the outcome of an event whose chain held
    /// `lineage` invocations.
    fn hand_over(&self, record: &Value, lineage: u32) -> Handover;
}

/// A function: the record is invoked asynchronously, with the same retries as any event.
struct FunctionDestination {
    function: FunctionRef,
}

impl Destination for FunctionDestination {
    fn hand_over(&self, record: &Value, lineage: u32) -> Handover {
        let now = super::now_ms();
        let event = QueuedEvent {
            id: nubo_wire::new_request_id(),
            function: self.function.clone(),
            payload: record.to_string().into_bytes(),
            client_context: None,
            received_ms: now,
            attempts: 0,
            not_before_ms: now,
            lineage,
        };
        Handover {
            ops: vec![enqueue(&event)],
            follow_up: Some(Arc::new(event)),
            after_commit: None,
        }
    }
}

/// The destination an ARN names, as seen from `scope` (the event's function's).
pub(crate) fn destination(
    arn: &str,
    scope: &Scope,
    queues: Option<&Arc<QueueRegistry>>,
) -> Result<Box<dyn Destination>, String> {
    match service_of(arn) {
        Some("lambda") => FunctionRef::parse(arn, scope)
            .map(|function| Box::new(FunctionDestination { function }) as Box<dyn Destination>)
            .map_err(|e| e.message),
        Some("sqs") => match queues {
            Some(queues) => Ok(Box::new(QueueDestination {
                arn: arn.to_owned(),
                queues: queues.clone(),
            })),
            None => Err("SQS queues are not available".into()),
        },
        _ => Err(format!("{arn} is not a destination Nubo can deliver to")),
    }
}

fn service_of(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(1)
}

/// Checks a destination ARN given as `member` of an event-invoke config: the model's pattern
/// first (`ValidationException`), then whether Nubo can deliver there.
pub fn check(arn: &str, member: &str) -> Result<(), ControlError> {
    if !matches_pattern(arn) {
        return Err(Violation::pattern(arn, member, DESTINATION_PATTERN).into());
    }
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.get(2).copied() {
        Some("lambda") if parts.get(5) == Some(&"function") => Ok(()),
        Some("sqs") if parts.len() == 6 => Ok(()),
        Some(service @ ("sns" | "events")) => Err(ControlError::InvalidParameter(format!(
            "The destination ARN {arn} is a {service} resource; Nubo delivers to Lambda functions and SQS queues only for now."
        ))),
        _ => Err(ControlError::InvalidParameter(format!(
            "The destination ARN {arn} is invalid."
        ))),
    }
}

/// [`DESTINATION_PATTERN`], matched whole.
fn matches_pattern(arn: &str) -> bool {
    if arn.is_empty() {
        return true;
    }
    if arn.len() > 350 {
        return false;
    }
    if let Some(rest) = arn.strip_prefix("kafka://") {
        let mut chars = rest.chars();
        return chars.next().is_some_and(|c| c != '.')
            && rest.len() <= 249
            && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    }
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|p| p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let account_ok =
        account.is_empty() || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
    partition_ok && service_ok && (region.is_empty() || is_region(region)) && account_ok
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`.
fn is_region(region: &str) -> bool {
    let region = region.strip_prefix("eusc-").unwrap_or(region);
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let parts: Vec<&str> = region.split('-').collect();
    let (country, middle, digit) = match parts.as_slice() {
        [country, middle @ .., digit] => (*country, middle, *digit),
        _ => return false,
    };
    let qualifier_ok = match middle {
        [area] => lower(area),
        [kind, area] => {
            (*kind == "gov"
                || kind
                    .strip_prefix("iso")
                    .is_some_and(|k| k.len() <= 1 && k.bytes().all(|b| b.is_ascii_lowercase())))
                && lower(area)
        }
        _ => false,
    };
    country.len() == 2
        && lower(country)
        && qualifier_ok
        && digit.len() == 1
        && digit.bytes().all(|b| b.is_ascii_digit())
}

/// The invocation record a destination receives (`lambda-invoke-api.md`), for an event whose
/// invocation ran (`result`) or was given up before it could (`None`: its age ran out).
pub(crate) fn record(event: &QueuedEvent, condition: &str, result: Option<&InvokeResult>) -> Value {
    let function_arn = event.function.qualified(Some(event.qualifier())).arn();
    let request_payload: Value = serde_json::from_slice(&event.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&event.payload).into()));
    let invoke_count = event.attempts + u32::from(result.is_some());
    let mut record = json!({
        "version": "1.0",
        "timestamp": nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc()),
        "requestContext": {
            "requestId": event.id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": request_payload,
    });
    if let Some(result) = result {
        let mut response_context = json!({
            "statusCode": 200,
            "executedVersion": result.executed_version,
        });
        if result.function_error {
            response_context["functionError"] = json!("Unhandled");
        }
        let response_payload: Value =
            serde_json::from_slice(&result.payload).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&result.payload).into_owned())
            });
        record["responseContext"] = response_context;
        record["responsePayload"] = response_payload;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_pattern_decides_first() {
        for ok in [
            "",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            "arn:aws:sqs:eu-west-1:123456789012:queue",
            "arn:aws-us-gov:sns:us-gov-west-1:123456789012:topic",
            "arn:aws:events:::bus",
            "kafka://broker-1.example",
        ] {
            assert!(matches_pattern(ok), "{ok}");
        }
        for bad in [
            "not-an-arn",
            "arn:aws",
            "arn:gcp:lambda:us-east-1:000000000000:function:f",
            "arn:aws:lambda:useast1:000000000000:function:f",
            "arn:aws:lambda:us-east-1:123:function:f",
        ] {
            assert!(!matches_pattern(bad), "{bad}");
        }
        let err = check("not-an-arn", "destinationConfig.onSuccess.destination").unwrap_err();
        assert!(
            matches!(&err, ControlError::Validation(m) if m.starts_with(
                "1 validation error detected: Value 'not-an-arn' at 'destinationConfig.onSuccess.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://"
            )),
            "{err}"
        );
        assert!(check("arn:aws:sqs:us-east-1:000000000000:q", "m").is_ok());
        assert!(matches!(
            check("arn:aws:sns:us-east-1:000000000000:t", "m"),
            Err(ControlError::InvalidParameter(_))
        ));
        assert!(check("arn:aws:lambda:us-east-1:000000000000:function:f", "m").is_ok());
    }
}
