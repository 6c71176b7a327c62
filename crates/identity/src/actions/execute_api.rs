//! The `@connections` management API of WebSocket APIs (signing name `execute-api`,
//! botocore's `apigatewaymanagementapi`): every operation is `execute-api:ManageConnections` on
//! `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/@connections/{connectionId}`.

use super::{check, Rule};

/// The `@connections` table.
pub(super) const RULES: &[Rule] = &[
    Rule {
        operation: "PostToConnection",
        checks: &[check(
            "execute-api:ManageConnections",
            "arn:aws:execute-api:{region}:{account}:{ApiId}/{Stage}/POST/@connections/{ConnectionId}",
        )],
    },
    Rule {
        operation: "GetConnection",
        checks: &[check(
            "execute-api:ManageConnections",
            "arn:aws:execute-api:{region}:{account}:{ApiId}/{Stage}/GET/@connections/{ConnectionId}",
        )],
    },
    Rule {
        operation: "DeleteConnection",
        checks: &[check(
            "execute-api:ManageConnections",
            "arn:aws:execute-api:{region}:{account}:{ApiId}/{Stage}/DELETE/@connections/{ConnectionId}",
        )],
    },
];
