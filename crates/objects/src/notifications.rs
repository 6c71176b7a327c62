//! Bucket notification configurations and which of them an object event matches: event-name
//! patterns with wildcards (`s3:ObjectCreated:*`), key prefix and suffix filters. Delivery is the
//! edge's (it owns the asynchronous invoker and the queues); this module only decides.

use serde::{Deserialize, Serialize};

/// A bucket's `NotificationConfiguration` (Lambda and SQS targets; topic targets arrive with SNS).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotificationConfiguration {
    /// `LambdaFunctionConfigurations` (`CloudFunctionConfiguration` on the wire).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda: Vec<LambdaConfiguration>,
    /// `QueueConfigurations` (`QueueConfiguration` on the wire).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queue: Vec<QueueConfiguration>,
}

/// One `QueueConfiguration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueConfiguration {
    /// `Id` (S3 makes one up when the client sends none).
    pub id: String,
    /// `QueueArn` (`Queue` on the wire).
    pub queue_arn: String,
    /// `Events`: `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, …
    pub events: Vec<String>,
    /// `prefix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `suffix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// One `LambdaFunctionConfiguration`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LambdaConfiguration {
    /// `Id` (S3 makes one up when the client sends none).
    pub id: String,
    /// `LambdaFunctionArn`.
    pub function_arn: String,
    /// `Events`: `s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, …
    pub events: Vec<String>,
    /// `prefix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `suffix` filter rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// The event types S3 accepts in a configuration that Nubo can produce or that are harmless
/// to accept (a pattern naming something Nubo never emits simply never fires).
pub const EVENT_TYPES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
];

/// What happened to an object, as S3 names it in a record's `eventName` (without `s3:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// `ObjectCreated:Put`.
    Put,
    /// `ObjectCreated:Copy`.
    Copy,
    /// `ObjectCreated:CompleteMultipartUpload`.
    CompleteMultipartUpload,
    /// `ObjectRemoved:Delete`.
    Delete,
}

impl EventName {
    /// `ObjectCreated:Put` etc.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Put => "ObjectCreated:Put",
            Self::Copy => "ObjectCreated:Copy",
            Self::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
            Self::Delete => "ObjectRemoved:Delete",
        }
    }
}

/// Whether a configured pattern (`s3:ObjectCreated:*`) covers an event.
pub fn pattern_matches(pattern: &str, event: EventName) -> bool {
    let Some(pattern) = pattern.strip_prefix("s3:") else {
        return false;
    };
    let name = event.as_str();
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Whether a configuration's events and key filters cover `event` on `key`.
fn fires(
    events: &[String],
    prefix: Option<&str>,
    suffix: Option<&str>,
    event: EventName,
    key: &str,
) -> bool {
    events.iter().any(|p| pattern_matches(p, event))
        && prefix.is_none_or(|p| key.starts_with(p))
        && suffix.is_none_or(|s| key.ends_with(s))
}

impl LambdaConfiguration {
    /// Whether this configuration fires for `event` on `key`.
    pub fn matches(&self, event: EventName, key: &str) -> bool {
        fires(
            &self.events,
            self.prefix.as_deref(),
            self.suffix.as_deref(),
            event,
            key,
        )
    }
}

impl QueueConfiguration {
    /// Whether this configuration fires for `event` on `key`.
    pub fn matches(&self, event: EventName, key: &str) -> bool {
        fires(
            &self.events,
            self.prefix.as_deref(),
            self.suffix.as_deref(),
            event,
            key,
        )
    }
}

impl NotificationConfiguration {
    /// The Lambda configurations that fire for `event` on `key`.
    pub fn matching<'a>(
        &'a self,
        event: EventName,
        key: &'a str,
    ) -> impl Iterator<Item = &'a LambdaConfiguration> + 'a {
        self.lambda.iter().filter(move |c| c.matches(event, key))
    }

    /// The queue configurations that fire for `event` on `key`.
    pub fn matching_queues<'a>(
        &'a self,
        event: EventName,
        key: &'a str,
    ) -> impl Iterator<Item = &'a QueueConfiguration> + 'a {
        self.queue.iter().filter(move |c| c.matches(event, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> LambdaConfiguration {
        LambdaConfiguration {
            id: "c".into(),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        }
    }

    #[test]
    fn wildcards_and_filters() {
        let c = config(&["s3:ObjectCreated:*"], Some("uploads/"), Some(".jpg"));
        assert!(c.matches(EventName::Put, "uploads/a.jpg"));
        assert!(c.matches(EventName::CompleteMultipartUpload, "uploads/b.jpg"));
        assert!(!c.matches(EventName::Delete, "uploads/a.jpg"));
        assert!(!c.matches(EventName::Put, "other/a.jpg"));
        assert!(!c.matches(EventName::Put, "uploads/a.png"));
        let d = config(
            &["s3:ObjectRemoved:Delete", "s3:ObjectCreated:Copy"],
            None,
            None,
        );
        assert!(d.matches(EventName::Delete, "x"));
        assert!(d.matches(EventName::Copy, "x"));
        assert!(!d.matches(EventName::Put, "x"));
        assert!(!pattern_matches("ObjectCreated:*", EventName::Put));
        let q = QueueConfiguration {
            id: "q".into(),
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            events: vec!["s3:ObjectCreated:Put".into()],
            prefix: None,
            suffix: Some(".csv".into()),
        };
        let all = NotificationConfiguration {
            lambda: vec![c],
            queue: vec![q],
        };
        assert_eq!(all.matching_queues(EventName::Put, "a.csv").count(), 1);
        assert_eq!(all.matching_queues(EventName::Put, "a.txt").count(), 0);
        assert_eq!(all.matching_queues(EventName::Copy, "a.csv").count(), 0);
    }
}
