//! SQS (signing name `sqs`, json and query protocols). Every queue operation is checked on the
//! queue's ARN, `arn:aws:sqs:{region}:{account}:{QueueName}` (the edge reads the name from
//! `QueueName` or the last segment of `QueueUrl`); the batch operations need the action of their
//! single form, as AWS checks them; `ListQueues` names no resource.

use super::{check, Rule};

const QUEUE: &str = "arn:aws:sqs:{region}:{account}:{QueueName}";

macro_rules! on {
    ($operation:literal, $action:literal) => {
        Rule {
            operation: $operation,
            checks: &[check($action, QUEUE)],
        }
    };
}

/// The SQS table.
pub(super) const RULES: &[Rule] = &[
    on!("CreateQueue", "sqs:CreateQueue"),
    on!("GetQueueUrl", "sqs:GetQueueUrl"),
    Rule {
        operation: "ListQueues",
        checks: &[check("sqs:ListQueues", "*")],
    },
    on!("DeleteQueue", "sqs:DeleteQueue"),
    on!("PurgeQueue", "sqs:PurgeQueue"),
    on!("GetQueueAttributes", "sqs:GetQueueAttributes"),
    on!("SetQueueAttributes", "sqs:SetQueueAttributes"),
    on!("TagQueue", "sqs:TagQueue"),
    on!("UntagQueue", "sqs:UntagQueue"),
    on!("ListQueueTags", "sqs:ListQueueTags"),
    on!(
        "ListDeadLetterSourceQueues",
        "sqs:ListDeadLetterSourceQueues"
    ),
    on!("SendMessage", "sqs:SendMessage"),
    on!("SendMessageBatch", "sqs:SendMessage"),
    on!("ReceiveMessage", "sqs:ReceiveMessage"),
    on!("DeleteMessage", "sqs:DeleteMessage"),
    on!("DeleteMessageBatch", "sqs:DeleteMessage"),
    on!("ChangeMessageVisibility", "sqs:ChangeMessageVisibility"),
    on!(
        "ChangeMessageVisibilityBatch",
        "sqs:ChangeMessageVisibility"
    ),
];
