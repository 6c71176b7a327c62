//! CloudWatch Logs (signing name `logs`, json). Group operations are checked on the group's ARN
//! (`arn:aws:logs:{region}:{account}:log-group:{LogGroupName}`), stream and event operations on
//! the stream's (`…:log-group:{LogGroupName}:log-stream:{LogStreamName}`), reads across a group
//! on the group, and `DescribeLogGroups` on every group of the scope.

use super::{check, Rule};

const GROUP: &str = "arn:aws:logs:{region}:{account}:log-group:{LogGroupName}";
const STREAM: &str =
    "arn:aws:logs:{region}:{account}:log-group:{LogGroupName}:log-stream:{LogStreamName}";

macro_rules! on {
    ($operation:literal, $resource:expr) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("logs:", $operation), $resource)],
        }
    };
}

/// The CloudWatch Logs table.
pub(super) const RULES: &[Rule] = &[
    on!("CreateLogGroup", GROUP),
    on!("DeleteLogGroup", GROUP),
    on!(
        "DescribeLogGroups",
        "arn:aws:logs:{region}:{account}:log-group:*"
    ),
    on!("PutRetentionPolicy", GROUP),
    on!("DeleteRetentionPolicy", GROUP),
    on!("CreateLogStream", GROUP),
    on!("DescribeLogStreams", GROUP),
    on!("PutLogEvents", STREAM),
    on!("GetLogEvents", STREAM),
    on!("FilterLogEvents", GROUP),
];
