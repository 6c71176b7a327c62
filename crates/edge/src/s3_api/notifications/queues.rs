//! S3 → SQS: whether S3 may send a bucket's events to a queue (the queue's `Policy` attribute,
//! parsed once per text), and the send itself.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use nubo_identity::policy::{parse_resource_policy, ConditionKeys, Policy};
use nubo_identity::Caller;
use nubo_queues::{Queue, SendInput};
use nubo_wire::AwsError;

use crate::s3_api::errors::S3Errors;
use crate::EdgeState;

/// Queue policies as parsed, by queue ARN, with the text they were parsed from (a changed policy
/// is parsed again on its first use; an event for an unchanged one parses nothing).
static QUEUE_POLICIES: LazyLock<Mutex<PolicyCache>> = LazyLock::new(Default::default);

/// Queue ARN → (policy text, parsed policy).
type PolicyCache = HashMap<String, (String, Arc<Policy>)>;

fn queue_policy(arn: &str, text: &str) -> Option<Arc<Policy>> {
    let mut cache = QUEUE_POLICIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached, policy)) = cache.get(arn) {
        if cached == text {
            return Some(policy.clone());
        }
    }
    let policy = Arc::new(parse_resource_policy(text).ok()?);
    cache.insert(arn.to_owned(), (text.to_owned(), policy.clone()));
    Some(policy)
}

/// The queue `arn` names, if S3 may send `bucket`'s events to it: the queue exists and its
/// `Policy` attribute allows `sqs:SendMessage` to `s3.amazonaws.com` with the bucket's ARN as
/// `aws:SourceArn` and the bucket owner as `aws:SourceAccount` (as on AWS, a queue without a
/// policy refuses S3). FIFO queues are refused: S3 does not deliver to them. The only place S3
/// decides this.
pub(super) fn s3_may_send(
    state: &EdgeState,
    arn: &str,
    bucket: &str,
    account: &str,
) -> Option<Arc<Queue>> {
    let queue = state.queues.by_arn(arn).ok()?;
    let meta = queue.meta();
    if meta.settings.fifo {
        return None;
    }
    let policy = queue_policy(arn, meta.record.attributes.get("Policy")?)?;
    policy_lets_s3_send(&policy, arn, &meta.record.account, bucket, account).then_some(())?;
    drop(meta);
    Some(queue)
}

/// Whether a queue's policy lets S3, acting for `bucket` owned by `account`, send to it.
fn policy_lets_s3_send(
    policy: &Policy,
    queue_arn: &str,
    queue_account: &str,
    bucket: &str,
    account: &str,
) -> bool {
    let keys = ConditionKeys::default()
        .with("aws:SourceArn", format!("arn:aws:s3:::{bucket}"))
        .with("aws:SourceAccount", account);
    Caller::service("s3.amazonaws.com")
        .authorize(
            "sqs:SendMessage",
            queue_arn,
            Some(policy),
            Some(queue_account),
            &keys,
            time::OffsetDateTime::now_utc(),
        )
        .is_ok()
}

pub(super) fn unable_queue(arn: &str) -> AwsError {
    S3Errors::invalid_argument("Unable to validate the following destination configurations")
        .with_extra("ArgumentName", arn.to_owned())
        .with_extra(
            "ArgumentValue",
            "Permissions on the destination queue do not allow S3 to publish notifications from this bucket",
        )
}

/// Sends one message from S3 to a queue (durably: `send` answers after the group commit).
pub(super) async fn send_to_queue(state: &EdgeState, queue: &Arc<Queue>, body: String) {
    let input = SendInput {
        body,
        sender: "s3.amazonaws.com".into(),
        ..SendInput::default()
    };
    if let Err(e) = state.queues.send(queue, input).await {
        tracing::warn!(queue = %queue.arn(), error = %e, "could not send an S3 event to a queue");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:events";

    fn policy(principal: &str, action: &str, condition: &str) -> Policy {
        parse_resource_policy(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},
            "Action":"{action}","Resource":"{QUEUE}","Condition":{condition}}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn queue_policies_decide_what_s3_may_send() {
        let allows = |p: &Policy, bucket: &str, account: &str| {
            policy_lets_s3_send(p, QUEUE, "000000000000", bucket, account)
        };
        let s3 = r#"{"Service":"s3.amazonaws.com"}"#;
        let guide = policy(
            s3,
            "SQS:SendMessage",
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s3:*:*:photos"},"StringEquals":{"aws:SourceAccount":"000000000000"}}"#,
        );
        assert!(allows(&guide, "photos", "000000000000"));
        assert!(!allows(&guide, "other", "000000000000"));
        assert!(!allows(&guide, "photos", "111111111111"));
        let receive_only = policy(s3, "sqs:ReceiveMessage", "{}");
        assert!(!allows(&receive_only, "photos", "000000000000"));
        let other_service = policy(
            r#"{"Service":"sns.amazonaws.com"}"#,
            "sqs:SendMessage",
            "{}",
        );
        assert!(!allows(&other_service, "photos", "000000000000"));
        let unconditioned = policy(s3, "sqs:*", "{}");
        assert!(allows(&unconditioned, "anything", "000000000000"));
    }
}
