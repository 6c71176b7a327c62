//! EventBridge (signing name `events`, json). Rule operations are checked on the rule's ARN
//! (`arn:aws:events:{region}:{account}:rule/{RuleName}`), `PutEvents` on the default bus,
//! `ListRules` on no resource.

use super::{check, Rule};

const RULE: &str = "arn:aws:events:{region}:{account}:rule/{RuleName}";

macro_rules! on_rule {
    ($operation:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("events:", $operation), RULE)],
        }
    };
}

/// The EventBridge table.
pub(super) const RULES: &[Rule] = &[
    on_rule!("PutRule"),
    on_rule!("DescribeRule"),
    on_rule!("DeleteRule"),
    on_rule!("EnableRule"),
    on_rule!("DisableRule"),
    on_rule!("PutTargets"),
    on_rule!("RemoveTargets"),
    on_rule!("ListTargetsByRule"),
    Rule {
        operation: "ListRules",
        checks: &[check("events:ListRules", "*")],
    },
    Rule {
        operation: "PutEvents",
        checks: &[check(
            "events:PutEvents",
            "arn:aws:events:{region}:{account}:event-bus/default",
        )],
    },
];
