//! Delivery: a `PutEvents` entry becomes an event, and an event goes to a rule's targets — a
//! function as an asynchronous invocation, a queue as a message — whole, as its `Input`, or the
//! part its `InputPath` names.

use bytes::Bytes;
use nubo_queues::SendInput;
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use serde_json::{json, Value};

use crate::registry::{iso_seconds, now_ms, EventEntry, EventRules};
use crate::rules::RuleRecord;

impl EventRules {
    /// Hands an event to every target of a rule: a function gets it as an asynchronous
    /// invocation, a queue as a message.
    pub(crate) async fn deliver(&self, rule: &RuleRecord, event: &Value) {
        let scope = Scope {
            region: rule.region.clone(),
            account_id: rule.account.clone(),
        };
        for target in &rule.targets {
            let payload = match (&target.input, &target.input_path) {
                (Some(input), _) => input.clone(),
                (None, Some(path)) => {
                    json_path(event, path).map_or_else(|| "null".into(), |v| v.to_string())
                }
                (None, None) => event.to_string(),
            };
            let outcome = match target.arn.split(':').nth(2) {
                Some("lambda") => match FunctionRef::parse(&target.arn, &scope) {
                    Ok(function) => self
                        .async_invoker
                        .accept(
                            function,
                            Bytes::from(payload),
                            None,
                            nubo_wire::new_request_id(),
                            0,
                        )
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.message),
                },
                Some("sqs") => match self.queues.by_arn(&target.arn) {
                    Ok(queue) => self
                        .queues
                        .send(
                            &queue,
                            SendInput {
                                body: payload,
                                sender: "events.amazonaws.com".into(),
                                ..SendInput::default()
                            },
                        )
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                _ => Err("Nubo delivers to Lambda functions and SQS queues only".into()),
            };
            if let Err(e) = outcome {
                tracing::warn!(rule = %rule.name, target = %target.arn, error = %e, "an event could not be delivered");
            }
        }
    }
}

/// The event a `PutEvents` entry describes, or its error code and message.
pub(crate) fn event_of(scope: &Scope, entry: &EventEntry) -> Result<Value, (&'static str, String)> {
    let required = |value: &Option<String>, name: &str| {
        value.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
            (
                "InvalidArgument",
                format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
            )
        })
    };
    let source = required(&entry.source, "Source")?;
    let detail_type = required(&entry.detail_type, "DetailType")?;
    let detail_text = required(&entry.detail, "Detail")?;
    let detail: Value = serde_json::from_str(&detail_text)
        .ok()
        .filter(Value::is_object)
        .ok_or(("MalformedDetail", "Detail is malformed.".to_owned()))?;
    let time_ms = entry.time.map_or_else(now_ms, |s| s * 1000);
    Ok(json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": source,
        "account": scope.account_id,
        "time": iso_seconds(time_ms),
        "region": scope.region,
        "resources": entry.resources,
        "detail": detail,
    }))
}

/// `$`, `$.a.b`, `$.a[0].b`.
fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let rest = path.strip_prefix('$')?;
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        let (name, indexes) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = index.strip_suffix(']')?.parse().ok()?;
            current = current.get(n)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::EventEntry as Entry;

    #[test]
    fn json_paths() {
        let event = json!({"detail": {"items": [{"id": 1}, {"id": 2}]}});
        assert_eq!(json_path(&event, "$"), Some(&event));
        assert_eq!(json_path(&event, "$.detail.items[1].id"), Some(&json!(2)));
        assert_eq!(json_path(&event, "$.missing"), None);
    }

    #[test]
    fn entries_need_source_detail_type_and_a_json_object_detail() {
        let scope = Scope::default();
        let mut entry = Entry {
            source: Some("my.app".into()),
            detail_type: Some("thing".into()),
            detail: Some(r#"{"a": 1}"#.into()),
            ..EventEntry::default()
        };
        let event = event_of(&scope, &entry).unwrap();
        assert_eq!(event["detail"]["a"], 1);
        assert_eq!(event["detail-type"], "thing");
        entry.detail = Some("[1]".into());
        assert_eq!(event_of(&scope, &entry).unwrap_err().0, "MalformedDetail");
        entry.source = None;
        assert_eq!(event_of(&scope, &entry).unwrap_err().0, "InvalidArgument");
    }
}
