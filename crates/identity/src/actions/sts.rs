//! STS (signing name `sts`, query protocol). `GetCallerIdentity` needs no permission: AWS answers it
//! even under an explicit deny, so its rule has no checks. `AssumeRole` is checked twice: the
//! caller's identity policies must allow `sts:AssumeRole` on the role (unless the trust policy
//! names the caller — same-account resource-policy rules), and the role's trust policy is the
//! resource policy of that check.

use super::{check, Rule};

/// The STS table.
pub(super) const RULES: &[Rule] = &[
    Rule {
        operation: "GetCallerIdentity",
        checks: &[],
    },
    Rule {
        operation: "AssumeRole",
        checks: &[check("sts:AssumeRole", "{RoleArn}")],
    },
    Rule {
        operation: "GetSessionToken",
        checks: &[check("sts:GetSessionToken", "*")],
    },
];
