//! DynamoDB Streams (`DynamoDBStreams_20120810.*`): ListStreams, DescribeStream,
//! GetShardIterator, GetRecords over the tables' stream records. A stream has one shard; a
//! shard iterator is `{stream ARN}|{last sequence read}`.

use nubo_tables::streams::{sequence_text, shard_id};
use nubo_tables::Tables;
use nubo_wire::AwsError;
use serde_json::{json, Value};

use super::{aws, null_member, DynamoDbErrors, Input};
use crate::registry::OperationContext;

fn stream_arn(input: &Input) -> Result<&str, AwsError> {
    input
        .str("StreamArn")?
        .ok_or_else(|| null_member("streamArn"))
}

pub(crate) async fn list_streams(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.str("TableName")?;
    let limit = input.int("Limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let start = input.str("ExclusiveStartStreamArn")?.unwrap_or("");
    let mut streams: Vec<(String, String, String)> = tables
        .list(&ctx.scope)
        .into_iter()
        .filter(|name| table.is_none_or(|t| t == name))
        .filter_map(|name| tables.describe(&ctx.scope, &name).ok())
        .filter_map(|r| {
            Some((
                r.stream_arn()?,
                r.name.clone(),
                r.stream.as_ref()?.label.clone(),
            ))
        })
        .filter(|(arn, _, _)| arn.as_str() > start)
        .collect();
    streams.sort();
    let more = streams.len() > limit;
    streams.truncate(limit);
    let mut out = json!({"Streams": streams.iter().map(|(arn, table, label)| json!({"StreamArn": arn, "TableName": table, "StreamLabel": label})).collect::<Vec<_>>()});
    if more {
        out["LastEvaluatedStreamArn"] = json!(streams.last().map(|s| &s.0));
    }
    Ok(out)
}

pub(crate) async fn describe_stream(
    tables: &Tables,
    _ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let arn = stream_arn(&input)?;
    let record = tables.stream_table(arn).map_err(aws)?;
    let stream = record.stream.clone().unwrap_or_else(unreachable_stream);
    let bounds = tables.stream_bounds(&record).await.map_err(aws)?;
    let mut range = json!({});
    if let Some((first, _)) = bounds {
        range["StartingSequenceNumber"] = json!(sequence_text(first));
    } else {
        range["StartingSequenceNumber"] = json!(sequence_text(0));
    }
    let mut key = vec![json!({"AttributeName": record.key.hash.name, "KeyType": "HASH"})];
    if let Some(r) = &record.key.range {
        key.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
    }
    Ok(json!({"StreamDescription": {
        "StreamArn": arn,
        "StreamLabel": stream.label,
        "StreamStatus": "ENABLED",
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": record.created_ms as f64 / 1000.0,
        "TableName": record.name,
        "KeySchema": key,
        "Shards": [{"ShardId": shard_id(&record), "SequenceNumberRange": range}],
    }}))
}

fn unreachable_stream() -> nubo_tables::schema::StreamSettings {
    nubo_tables::schema::StreamSettings {
        view_type: String::new(),
        label: String::new(),
    }
}

pub(crate) async fn get_shard_iterator(
    tables: &Tables,
    _ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let arn = stream_arn(&input)?;
    let shard = input
        .str("ShardId")?
        .ok_or_else(|| null_member("shardId"))?;
    let kind = input
        .str("ShardIteratorType")?
        .ok_or_else(|| null_member("shardIteratorType"))?;
    let record = tables.stream_table(arn).map_err(aws)?;
    if shard != shard_id(&record) {
        return Err(DynamoDbErrors::resource_not_found(
            "Requested resource not found: Shard does not exist".to_string(),
        ));
    }
    let sequence = || -> Result<u64, AwsError> {
        input
            .str("SequenceNumber")?
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                DynamoDbErrors::validation(
                    "A valid SequenceNumber is required for this ShardIteratorType",
                )
            })
    };
    let after = match kind {
        "TRIM_HORIZON" => tables
            .stream_bounds(&record)
            .await
            .map_err(aws)?
            .map_or(0, |(first, _)| first - 1),
        "LATEST" => tables.stream_bounds(&record).await.map_err(aws)?.map_or(0, |(_, last)| last),
        "AT_SEQUENCE_NUMBER" => sequence()?.saturating_sub(1),
        "AFTER_SEQUENCE_NUMBER" => sequence()?,
        other => {
            return Err(DynamoDbErrors::validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )))
        }
    };
    Ok(json!({"ShardIterator": format!("{arn}|{after}")}))
}

/// The stream ARN a shard iterator reads (the authorizer names the resource with it).
pub(crate) fn iterator_stream(iterator: &str) -> Option<&str> {
    iterator.rsplit_once('|').map(|(arn, _)| arn)
}

pub(crate) async fn get_records(
    tables: &Tables,
    _ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let iterator = input
        .str("ShardIterator")?
        .ok_or_else(|| null_member("shardIterator"))?;
    let limit = input.int("Limit")?.unwrap_or(1000);
    if !(1..=1000).contains(&limit) {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        )));
    }
    let invalid = || DynamoDbErrors::validation("Invalid ShardIterator");
    let (arn, after) = iterator.rsplit_once('|').ok_or_else(invalid)?;
    let after: u64 = after.parse().map_err(|_| invalid())?;
    let record = tables.stream_table(arn).map_err(|_| {
        DynamoDbErrors::resource_not_found(format!(
            "Requested resource not found: Stream: {arn} not found"
        ))
    })?;
    let records = tables
        .stream_records(&record, after, limit as usize)
        .await
        .map_err(aws)?;
    let next = records.last().map_or(after, |r| r.sequence);
    Ok(json!({
        "Records": records.into_iter().map(|r| r.record).collect::<Vec<_>>(),
        "NextShardIterator": format!("{arn}|{next}"),
    }))
}
