//! DynamoDB and DynamoDB Streams (signing name `dynamodb`, json). Table operations are checked
//! on the table's ARN (`…:table/{TableName}`; a Query or Scan of an index on the index's ARN,
//! which the edge passes as `{name}/index/{index}`), stream operations on the stream's ARN,
//! listings on `*`. A batch is checked here on its first table and by the edge on the others;
//! each action of a transaction is checked by the edge with its own action
//! (`dynamodb:PutItem`, `…:UpdateItem`, `…:DeleteItem`, `…:ConditionCheckItem`, `…:GetItem`).

use super::{check, Rule};

const TABLE: &str = "arn:aws:dynamodb:{region}:{account}:table/{TableName}";

macro_rules! on_table {
    ($operation:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("dynamodb:", $operation), TABLE)],
        }
    };
}

macro_rules! on_stream {
    ($operation:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("dynamodb:", $operation), "{StreamArn}")],
        }
    };
}

macro_rules! on_nothing {
    ($operation:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("dynamodb:", $operation), "*")],
        }
    };
}

/// The DynamoDB table.
pub(super) const RULES: &[Rule] = &[
    on_table!("CreateTable"),
    on_table!("DescribeTable"),
    on_table!("UpdateTable"),
    on_table!("DeleteTable"),
    on_table!("TagResource"),
    on_table!("UntagResource"),
    on_table!("ListTagsOfResource"),
    on_table!("UpdateTimeToLive"),
    on_table!("DescribeTimeToLive"),
    on_table!("PutItem"),
    on_table!("GetItem"),
    on_table!("UpdateItem"),
    on_table!("DeleteItem"),
    on_table!("Query"),
    on_table!("Scan"),
    on_table!("BatchGetItem"),
    on_table!("BatchWriteItem"),
    Rule {
        operation: "TransactWriteItems",
        checks: &[],
    },
    Rule {
        operation: "TransactGetItems",
        checks: &[],
    },
    on_nothing!("ListTables"),
    on_nothing!("DescribeLimits"),
    on_nothing!("DescribeEndpoints"),
    on_nothing!("ListStreams"),
    on_stream!("DescribeStream"),
    on_stream!("GetShardIterator"),
    on_stream!("GetRecords"),
];
