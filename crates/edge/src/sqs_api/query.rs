//! SQS's query protocol on top of the json handlers: the form's flattened members become the
//! json input (`Attribute.N.Name/Value` → `Attributes`, `MessageAttribute.N.…` →
//! `MessageAttributes`, `…BatchRequestEntry.N` → `Entries`, numbers from text), and the json
//! output becomes the query reply's XML (`Attributes` → `<Attribute><Name/><Value/>`, list members
//! flattened under their singular names).

use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::xml::{XmlOutput, XmlWriter};
use nubo_wire::AwsError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::SqsErrors;

const INTEGERS: &[&str] = &[
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "WaitTimeSeconds",
    "DelaySeconds",
    "MaxResults",
];

/// The json input a query request describes.
pub(crate) fn input<I: DeserializeOwned>(request: &QueryRequest) -> Result<I, AwsError> {
    let members = translate(&request.action, &request.params)?;
    serde_json::from_value(Value::Object(members)).map_err(|e| {
        SqsErrors::invalid_parameter_value(format!("The request's parameters are invalid: {e}"))
    })
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::String(s) if s.is_empty() => Vec::new(),
        other => vec![other.clone()],
    }
}

/// `[{Name: k, Value: v}]` → `{k: v}`.
fn pairs(value: &Value, key: &str, val: &str) -> Value {
    let mut map = Map::new();
    for item in as_list(value) {
        if let (Some(k), Some(v)) = (item.get(key).and_then(Value::as_str), item.get(val)) {
            map.insert(k.to_owned(), v.clone());
        }
    }
    Value::Object(map)
}

fn translate(action: &str, params: &Map<String, Value>) -> Result<Map<String, Value>, AwsError> {
    let mut out = Map::new();
    for (name, value) in params {
        let (member, converted) = match name.as_str() {
            "Attribute" => ("Attributes", pairs(value, "Name", "Value")),
            "Tag" if action == "CreateQueue" => ("tags", pairs(value, "Key", "Value")),
            "Tag" => ("Tags", pairs(value, "Key", "Value")),
            "AttributeName" => ("AttributeNames", Value::Array(as_list(value))),
            "MessageSystemAttributeName" => {
                ("MessageSystemAttributeNames", Value::Array(as_list(value)))
            }
            "MessageAttributeName" => ("MessageAttributeNames", Value::Array(as_list(value))),
            "TagKey" => ("TagKeys", Value::Array(as_list(value))),
            "MessageAttribute" => ("MessageAttributes", pairs(value, "Name", "Value")),
            "MessageSystemAttribute" => ("MessageSystemAttributes", pairs(value, "Name", "Value")),
            "SendMessageBatchRequestEntry"
            | "DeleteMessageBatchRequestEntry"
            | "ChangeMessageVisibilityBatchRequestEntry" => {
                let entries = as_list(value)
                    .iter()
                    .map(|entry| match entry {
                        Value::Object(members) => translate(action, members).map(Value::Object),
                        other => Ok(other.clone()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                ("Entries", Value::Array(entries))
            }
            integer if INTEGERS.contains(&integer) => {
                let text = value.as_str().unwrap_or_default();
                let number: i64 = text.trim().parse().map_err(|_| {
                    SqsErrors::invalid_parameter_value(format!(
                        "Value {text} for parameter {integer} is invalid. Reason: must be an integer."
                    ))
                })?;
                (integer, Value::from(number))
            }
            other => (other, value.clone()),
        };
        out.insert(member.to_owned(), converted);
    }
    Ok(out)
}

/// The query reply's members for a json output.
pub(crate) fn output<O: Serialize>(
    action: &'static str,
    output: &O,
) -> Result<impl XmlOutput + Send + 'static, AwsError> {
    let value = serde_json::to_value(output)
        .map_err(|e| SqsErrors::internal_error(format!("The reply could not be encoded: {e}")))?;
    Ok(move |w: &mut XmlWriter| write_members(w, action, &value))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_members(w: &mut XmlWriter, action: &str, value: &Value) {
    let Value::Object(members) = value else {
        return;
    };
    for (name, value) in members {
        match (name.as_str(), value) {
            ("Attributes", Value::Object(map)) => {
                for (k, v) in map {
                    w.element("Attribute", |w| {
                        w.text_element("Name", k).text_element("Value", &text(v));
                    });
                }
            }
            ("Tags", Value::Object(map)) => {
                for (k, v) in map {
                    w.element("Tag", |w| {
                        w.text_element("Key", k).text_element("Value", &text(v));
                    });
                }
            }
            ("MessageAttributes", Value::Object(map)) => {
                for (k, v) in map {
                    w.element("MessageAttribute", |w| {
                        w.text_element("Name", k);
                        w.element("Value", |w| write_members(w, action, v));
                    });
                }
            }
            ("QueueUrls" | "queueUrls", Value::Array(urls)) => {
                for url in urls {
                    w.text_element("QueueUrl", &text(url));
                }
            }
            ("Messages", Value::Array(items)) => {
                for item in items {
                    w.element("Message", |w| write_members(w, action, item));
                }
            }
            ("Successful", Value::Array(items)) => {
                let entry = format!("{action}ResultEntry");
                for item in items {
                    w.element(&entry, |w| write_members(w, action, item));
                }
            }
            ("Failed", Value::Array(items)) => {
                for item in items {
                    w.element("BatchResultErrorEntry", |w| write_members(w, action, item));
                }
            }
            (_, Value::Null) => {}
            (_, Value::Object(_)) => {
                w.element(name, |w| write_members(w, action, value));
            }
            (_, Value::Array(items)) => {
                for item in items {
                    w.text_element(name, &text(item));
                }
            }
            (_, scalar) => {
                w.text_element(name, &text(scalar));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs_api::shapes::{ReceiveMessageInput, SendMessageBatchInput};
    use nubo_wire::protocol::query::decode;

    #[test]
    fn flattened_members_become_json_members() {
        let request = decode(
            None,
            b"Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fh%2F0%2Fq\
              &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hi\
              &SendMessageBatchRequestEntry.1.DelaySeconds=5\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=p\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
              &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=high",
        )
        .unwrap();
        let input: SendMessageBatchInput = super::input(&request).unwrap();
        let entry = &input.entries[0];
        assert_eq!(entry.id.as_deref(), Some("a"));
        assert_eq!(entry.message.delay_seconds, Some(5));
        assert_eq!(
            entry.message.message_attributes["p"]
                .string_value
                .as_deref(),
            Some("high")
        );

        let request = decode(
            None,
            b"Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&MaxNumberOfMessages=3",
        )
        .unwrap();
        let input: ReceiveMessageInput = super::input(&request).unwrap();
        assert_eq!(input.attribute_names, ["All"]);
        assert_eq!(input.max_number_of_messages, Some(3));
    }

    #[test]
    fn outputs_flatten_as_the_query_model_does() {
        let value = serde_json::json!({
            "Attributes": {"VisibilityTimeout": "30"},
            "QueueUrls": ["http://h/0/a", "http://h/0/b"],
        });
        let mut w = XmlWriter::new();
        write_members(&mut w, "GetQueueAttributes", &value);
        let xml = w.into_string();
        assert!(
            xml.contains("<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>"),
            "{xml}"
        );
        assert!(
            xml.contains("<QueueUrl>http://h/0/a</QueueUrl><QueueUrl>http://h/0/b</QueueUrl>"),
            "{xml}"
        );
    }
}
