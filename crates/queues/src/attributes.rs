//! A queue's attributes: what `CreateQueue` and `SetQueueAttributes` may set (checked with SQS's
//! errors and ranges), the defaults a new queue gets, and the typed [`QueueSettings`] the queue's
//! operations read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::QueueError;

/// The attributes a client sets, as SQS stores and echoes them (every value a string).
pub type AttributeMap = BTreeMap<String, String>;

/// Attributes computed when read, never set.
pub const READ_ONLY: &[&str] = &[
    "QueueArn",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
];

/// The largest message size a queue may allow (SQS raised it from 256 KiB to 1 MiB in 2025).
pub const MAX_MESSAGE_SIZE_LIMIT: u32 = 1_048_576;
/// The default `MaximumMessageSize`.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 262_144;

/// What a queue's operations read from its attributes, parsed once when they are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// `VisibilityTimeout`, seconds.
    pub visibility_timeout: u32,
    /// `MessageRetentionPeriod`, seconds.
    pub retention: u32,
    /// `DelaySeconds`.
    pub delay: u32,
    /// `MaximumMessageSize`, bytes.
    pub max_message_size: u32,
    /// `ReceiveMessageWaitTimeSeconds`.
    pub receive_wait: u32,
    /// `RedrivePolicy`.
    pub redrive: Option<RedrivePolicy>,
    /// `FifoQueue`.
    pub fifo: bool,
    /// `ContentBasedDeduplication`.
    pub content_based_deduplication: bool,
}

/// Where messages go after too many receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN.
    #[serde(rename = "deadLetterTargetArn")]
    pub dead_letter_target_arn: String,
    /// Receives after which a message moves there.
    #[serde(rename = "maxReceiveCount")]
    pub max_receive_count: u32,
}

/// The attributes a new queue starts with.
pub fn defaults(fifo: bool) -> AttributeMap {
    let mut map = AttributeMap::new();
    for (name, value) in [
        ("VisibilityTimeout", "30"),
        ("MessageRetentionPeriod", "345600"),
        ("DelaySeconds", "0"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("SqsManagedSseEnabled", "true"),
    ] {
        map.insert(name.into(), value.into());
    }
    map.insert(
        "MaximumMessageSize".into(),
        DEFAULT_MAX_MESSAGE_SIZE.to_string(),
    );
    if fifo {
        for (name, value) in [
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            map.insert(name.into(), value.into());
        }
    }
    map
}

fn unknown(name: &str) -> QueueError {
    QueueError::InvalidAttributeName(format!("Unknown Attribute {name}."))
}

fn invalid(name: &str) -> QueueError {
    QueueError::InvalidAttributeValue(format!("Invalid value for the parameter {name}."))
}

fn range(name: &str, value: &str, low: u32, high: u32) -> Result<String, QueueError> {
    match value.trim().parse::<u32>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n.to_string()),
        _ => Err(invalid(name)),
    }
}

fn boolean(name: &str, value: &str) -> Result<String, QueueError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(invalid(name)),
    }
}

/// Checks one attribute a client sets on a queue of the given kind and returns the value SQS
/// stores. `creating`: `FifoQueue` may only be given at creation.
pub fn check(name: &str, value: &str, fifo: bool, creating: bool) -> Result<String, QueueError> {
    match name {
        "DelaySeconds" => range(name, value, 0, 900),
        "MaximumMessageSize" => range(name, value, 1024, MAX_MESSAGE_SIZE_LIMIT),
        "MessageRetentionPeriod" => range(name, value, 60, 1_209_600),
        "ReceiveMessageWaitTimeSeconds" => range(name, value, 0, 20),
        "VisibilityTimeout" => range(name, value, 0, 43_200),
        "KmsDataKeyReusePeriodSeconds" => range(name, value, 60, 86_400),
        "SqsManagedSseEnabled" => boolean(name, value),
        "Policy" | "KmsMasterKeyId" | "RedriveAllowPolicy" => Ok(value.to_owned()),
        "RedrivePolicy" => check_redrive(value).map(|_| value.to_owned()),
        "FifoQueue" if creating => {
            let fifo_asked = boolean(name, value)? == "true";
            if fifo_asked != fifo {
                return Err(invalid(name));
            }
            Ok(fifo_asked.to_string())
        }
        "ContentBasedDeduplication" if fifo => boolean(name, value),
        "DeduplicationScope" if fifo => match value {
            "messageGroup" | "queue" => Ok(value.to_owned()),
            _ => Err(invalid(name)),
        },
        "FifoThroughputLimit" if fifo => match value {
            "perQueue" | "perMessageGroupId" => Ok(value.to_owned()),
            _ => Err(invalid(name)),
        },
        _ => Err(unknown(name)),
    }
}

/// Parses a `RedrivePolicy` value (`maxReceiveCount` may be a string or a number).
pub fn check_redrive(value: &str) -> Result<Option<RedrivePolicy>, QueueError> {
    if value.is_empty() {
        return Ok(None);
    }
    let reason = |why: &str| {
        QueueError::InvalidParameterValue(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let parsed: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| reason("Redrive policy is not a valid JSON map."))?;
    let arn = parsed
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            reason("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match parsed.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => {
            return Err(reason(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
    };
    let count = count
        .filter(|c| (1..=1000).contains(c))
        .ok_or_else(|| reason("Invalid value for maxReceiveCount: must be between 1 and 1000."))?;
    Ok(Some(RedrivePolicy {
        dead_letter_target_arn: arn.to_owned(),
        max_receive_count: count as u32,
    }))
}

impl QueueSettings {
    /// The settings a queue's stored attributes describe (values were checked when set).
    pub fn from_attributes(attributes: &AttributeMap) -> Self {
        let number = |name: &str, default: u32| {
            attributes
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            visibility_timeout: number("VisibilityTimeout", 30),
            retention: number("MessageRetentionPeriod", 345_600),
            delay: number("DelaySeconds", 0),
            max_message_size: number("MaximumMessageSize", DEFAULT_MAX_MESSAGE_SIZE),
            receive_wait: number("ReceiveMessageWaitTimeSeconds", 0),
            redrive: attributes
                .get("RedrivePolicy")
                .and_then(|v| check_redrive(v).ok().flatten()),
            fifo: attributes.get("FifoQueue").is_some_and(|v| v == "true"),
            content_based_deduplication: attributes
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v == "true"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_names() {
        assert_eq!(check("VisibilityTimeout", "60", false, true).unwrap(), "60");
        assert_eq!(
            check("VisibilityTimeout", "43201", false, true).unwrap_err(),
            QueueError::InvalidAttributeValue(
                "Invalid value for the parameter VisibilityTimeout.".into()
            )
        );
        assert_eq!(
            check("Bogus", "1", false, true).unwrap_err(),
            QueueError::InvalidAttributeName("Unknown Attribute Bogus.".into())
        );
        assert!(check("ContentBasedDeduplication", "true", false, true).is_err());
        assert_eq!(
            check("ContentBasedDeduplication", "TRUE", true, true).unwrap(),
            "true"
        );
        assert!(check("FifoQueue", "true", true, false).is_err());
        assert!(check("FifoQueue", "true", false, true).is_err());
    }

    #[test]
    fn redrive_policy() {
        let policy = check_redrive(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(policy.max_receive_count, 3);
        assert!(check_redrive(r#"{"maxReceiveCount":3}"#).is_err());
        assert!(check_redrive(r#"{"deadLetterTargetArn":"a","maxReceiveCount":0}"#).is_err());
        assert!(check_redrive("nope").is_err());
    }

    #[test]
    fn settings_from_defaults() {
        let settings = QueueSettings::from_attributes(&defaults(true));
        assert_eq!(settings.visibility_timeout, 30);
        assert!(settings.fifo);
        assert!(!settings.content_based_deduplication);
    }
}
