//! CloudWatch metrics (signing name `monitoring`, IAM prefix `cloudwatch`): the read operations
//! Nubo serves take no resource-level permissions on AWS, so they are checked on `*`.

use super::{check, Rule};

/// The CloudWatch table.
pub(super) const RULES: &[Rule] = &[
    Rule {
        operation: "ListMetrics",
        checks: &[check("cloudwatch:ListMetrics", "*")],
    },
    Rule {
        operation: "GetMetricStatistics",
        checks: &[check("cloudwatch:GetMetricStatistics", "*")],
    },
    Rule {
        operation: "GetMetricData",
        checks: &[check("cloudwatch:GetMetricData", "*")],
    },
];
