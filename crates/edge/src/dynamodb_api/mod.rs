//! DynamoDB (botocore's `dynamodb/2012-08-10`, json 1.0, `X-Amz-Target: DynamoDB_20120810.*`)
//! and DynamoDB Streams (`dynamodbstreams/2012-08-10`, `DynamoDBStreams_20120810.*`, which signs
//! as `dynamodb` too): table operations in `control.rs`, item writes, batches and transactions
//! in `items.rs`, Query and Scan in `reads.rs`, streams in `streams.rs`; the domain is
//! `nubo_tables`. Requests are read as JSON values (attribute values are DynamoDB's own JSON, so
//! the domain reads them directly) and `TablesError` becomes DynamoDB's codes in [`aws`].

mod control;
mod items;
mod reads;
mod streams;

pub(crate) use streams::iterator_stream;

use std::collections::HashMap;
use std::sync::Arc;

use nubo_tables::expr::Placeholders;
use nubo_tables::{Tables, TablesError};
use nubo_wire::protocol::json::JsonVersion;
use nubo_wire::AwsError;
use serde_json::{json, Map, Value};

use crate::auth::dynamodb::DynamoDbAuthorizer;
use crate::registry::{JsonOperations, OperationContext, Service};
use crate::EdgeState;

/// The table API's target prefix.
pub(crate) const TARGET_PREFIX: &str = "DynamoDB_20120810";
/// The streams API's target prefix.
pub(crate) const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810";
/// The largest request: 25 items of 400 KB and their JSON.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

/// The table API's operations, by botocore's name.
pub(crate) const OPERATIONS: &[&str] = &[
    "CreateTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "DeleteTable",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
    "DescribeEndpoints",
    "DescribeLimits",
];

/// The streams API's operations.
pub(crate) const STREAM_OPERATIONS: &[&str] = &[
    "ListStreams",
    "DescribeStream",
    "GetShardIterator",
    "GetRecords",
];

nubo_wire::error_table! {
    /// DynamoDB's codes (botocore's statuses: every client error is 400).
    pub(crate) struct DynamoDbErrors {
        validation => ("ValidationException", BAD_REQUEST),
        serialization => ("SerializationException", BAD_REQUEST),
        resource_not_found => ("ResourceNotFoundException", BAD_REQUEST),
        resource_in_use => ("ResourceInUseException", BAD_REQUEST),
        conditional_check_failed => ("ConditionalCheckFailedException", BAD_REQUEST),
        transaction_canceled => ("TransactionCanceledException", BAD_REQUEST),
        limit_exceeded => ("LimitExceededException", BAD_REQUEST),
        expired_iterator => ("ExpiredIteratorException", BAD_REQUEST),
        trimmed_data => ("TrimmedDataAccessException", BAD_REQUEST),
        internal => ("InternalServerError", INTERNAL_SERVER_ERROR),
    }
}

/// DynamoDB's answer for a domain error.
pub(crate) fn aws(err: TablesError) -> AwsError {
    match err {
        TablesError::Validation(m) => DynamoDbErrors::validation(m),
        TablesError::Serialization(m) => DynamoDbErrors::serialization(m),
        TablesError::NotFound(m) => DynamoDbErrors::resource_not_found(m),
        TablesError::InUse(m) => DynamoDbErrors::resource_in_use(m),
        TablesError::LimitExceeded(m) => DynamoDbErrors::limit_exceeded(m),
        TablesError::ExpiredIterator(m) => DynamoDbErrors::expired_iterator(m),
        TablesError::ConditionalCheckFailed(item) => {
            let err = DynamoDbErrors::conditional_check_failed("The conditional request failed");
            match item {
                Some(item) => err.with_extra("Item", nubo_tables::value::item_to_json(&item)),
                None => err,
            }
        }
        TablesError::TransactionCanceled(ref reasons) => {
            let reasons: Vec<Value> = reasons
                .iter()
                .map(|r| {
                    let mut reason = json!({"Code": r.code});
                    if let Some(message) = &r.message {
                        reason["Message"] = json!(message);
                    }
                    if let Some(item) = &r.item {
                        reason["Item"] = nubo_tables::value::item_to_json(item);
                    }
                    reason
                })
                .collect();
            DynamoDbErrors::transaction_canceled(err.to_string())
                .with_extra("CancellationReasons", reasons)
        }
        TablesError::Store(m) => {
            tracing::error!(error = %m, "a DynamoDB operation failed in the store");
            DynamoDbErrors::internal("Internal server error")
        }
    }
}

/// A request body as read: its members by name.
pub(crate) struct Input(pub(crate) Map<String, Value>);

impl Input {
    fn from(value: Value) -> Result<Self, AwsError> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            Value::Null => Ok(Self(Map::new())),
            _ => Err(DynamoDbErrors::serialization(
                "Start of structure or map found where not expected",
            )),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, name: &str) -> Result<Option<&str>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(DynamoDbErrors::serialization(
                "NUMBER_VALUE cannot be converted to String".to_string(),
            )),
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                DynamoDbErrors::serialization(format!("Unexpected value for {name}"))
            }),
        }
    }

    /// A required member, with the model's "must not be null" text.
    pub(crate) fn required(&self, name: &str, member: &str) -> Result<&Value, AwsError> {
        self.get(name).ok_or_else(|| null_member(member))
    }

    /// `TableName`, required and well formed.
    pub(crate) fn table_name(&self) -> Result<String, AwsError> {
        let name = self
            .str("TableName")?
            .ok_or_else(|| null_member("tableName"))?;
        nubo_tables::schema::check_name(name, "tableName").map_err(aws)?;
        Ok(name.to_owned())
    }

    /// The request's `ExpressionAttributeNames` and `ExpressionAttributeValues`.
    pub(crate) fn placeholders(&self) -> Result<Placeholders, AwsError> {
        placeholders_of(
            self.get("ExpressionAttributeNames"),
            self.get("ExpressionAttributeValues"),
        )
    }
}

pub(crate) fn null_member(member: &str) -> AwsError {
    DynamoDbErrors::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// Names and values from their JSON maps.
pub(crate) fn placeholders_of(
    names: Option<&Value>,
    values: Option<&Value>,
) -> Result<Placeholders, AwsError> {
    let mut name_map = HashMap::new();
    if let Some(names) = names {
        let names = names
            .as_object()
            .ok_or_else(|| DynamoDbErrors::serialization("Unexpected ExpressionAttributeNames"))?;
        if names.is_empty() {
            return Err(DynamoDbErrors::validation(
                "ExpressionAttributeNames must not be empty",
            ));
        }
        for (k, v) in names {
            let v = v.as_str().ok_or_else(|| {
                DynamoDbErrors::serialization("Unexpected ExpressionAttributeNames")
            })?;
            name_map.insert(k.clone(), v.to_owned());
        }
    }
    let mut value_map = HashMap::new();
    if let Some(values) = values {
        let values = values
            .as_object()
            .ok_or_else(|| DynamoDbErrors::serialization("Unexpected ExpressionAttributeValues"))?;
        if values.is_empty() {
            return Err(DynamoDbErrors::validation(
                "ExpressionAttributeValues must not be empty",
            ));
        }
        for (k, v) in values {
            let value = nubo_tables::value::Value::from_json(v).map_err(|e| match e {
                TablesError::Validation(m) => DynamoDbErrors::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {m} for key {k}"
                )),
                other => aws(other),
            })?;
            value_map.insert(k.clone(), value);
        }
    }
    Ok(Placeholders::new(name_map, value_map))
}

/// An item or key from a member.
pub(crate) fn item_of(value: &Value) -> Result<nubo_tables::value::Item, AwsError> {
    nubo_tables::value::item_from_json(value).map_err(aws)
}

/// `ConsumedCapacity` when asked for (`TOTAL` or `INDEXES`): one unit per call, as a stand-in.
pub(crate) fn consumed(input: &Input, table: &str, units: f64) -> Option<Value> {
    match input.str("ReturnConsumedCapacity").ok().flatten() {
        Some("TOTAL") | Some("INDEXES") => {
            Some(json!({"TableName": table, "CapacityUnits": units}))
        }
        _ => None,
    }
}

macro_rules! operation {
    ($ops:ident, $tables:expr, $prefix:expr, $name:literal, $handler:path) => {
        let tables = $tables.clone();
        $ops = $ops.operation(
            concat!($prefix, ".", $name),
            move |ctx: OperationContext, input: Value| {
                let tables = tables.clone();
                async move { $handler(&tables, ctx, Input::from(input)?).await }
            },
        );
    };
}

/// The DynamoDB service (tables and streams).
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let tables: Arc<Tables> = state.tables.clone();
    let mut ops = JsonOperations::new(JsonVersion::V1_0).max_body(MAX_BODY);
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "CreateTable",
        control::create_table
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DescribeTable",
        control::describe_table
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "ListTables",
        control::list_tables
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "UpdateTable",
        control::update_table
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DeleteTable",
        control::delete_table
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "TagResource",
        control::tag_resource
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "UntagResource",
        control::untag_resource
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "ListTagsOfResource",
        control::list_tags
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "UpdateTimeToLive",
        control::update_ttl
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DescribeTimeToLive",
        control::describe_ttl
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DescribeEndpoints",
        control::describe_endpoints
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DescribeLimits",
        control::describe_limits
    );
    operation!(ops, tables, "DynamoDB_20120810", "PutItem", items::put_item);
    operation!(ops, tables, "DynamoDB_20120810", "GetItem", items::get_item);
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "UpdateItem",
        items::update_item
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "DeleteItem",
        items::delete_item
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "BatchGetItem",
        items::batch_get_item
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "BatchWriteItem",
        items::batch_write_item
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "TransactWriteItems",
        items::transact_write_items
    );
    operation!(
        ops,
        tables,
        "DynamoDB_20120810",
        "TransactGetItems",
        items::transact_get_items
    );
    operation!(ops, tables, "DynamoDB_20120810", "Query", reads::query);
    operation!(ops, tables, "DynamoDB_20120810", "Scan", reads::scan);
    operation!(
        ops,
        tables,
        "DynamoDBStreams_20120810",
        "ListStreams",
        streams::list_streams
    );
    operation!(
        ops,
        tables,
        "DynamoDBStreams_20120810",
        "DescribeStream",
        streams::describe_stream
    );
    operation!(
        ops,
        tables,
        "DynamoDBStreams_20120810",
        "GetShardIterator",
        streams::get_shard_iterator
    );
    operation!(
        ops,
        tables,
        "DynamoDBStreams_20120810",
        "GetRecords",
        streams::get_records
    );
    Service::new("dynamodb")
        .json(ops)
        .authorized_by(DynamoDbAuthorizer)
}

/// Checks a further (action, table) of a batch or transaction with the caller's policies: the
/// guard checked the first table of the request; the others are checked here.
pub(crate) fn authorize_table(
    ctx: &OperationContext,
    action: &str,
    table: &str,
) -> Result<(), AwsError> {
    let Some(caller) = &ctx.caller else {
        return Ok(());
    };
    let resource = nubo_tables::schema::table_arn(&ctx.scope.region, &ctx.scope.account_id, table);
    let keys = nubo_identity::policy::ConditionKeys::default()
        .with("aws:SecureTransport", "false")
        .with("aws:RequestedRegion", ctx.scope.region.clone());
    caller
        .authorize(
            action,
            &resource,
            None,
            Some(&ctx.scope.account_id),
            &keys,
            time::OffsetDateTime::now_utc(),
        )
        .map_err(|denied| denied.to_aws_error(nubo_wire::sigv4::AuthFamily::Json))
}
