//! Query and Scan.

use nubo_tables::expr::ExpressionKind;
use nubo_tables::items::{Page, Reading};
use nubo_tables::value::item_to_json;
use nubo_tables::Tables;
use nubo_wire::AwsError;
use serde_json::{json, Value};

use super::{aws, consumed, item_of, DynamoDbErrors, Input};
use crate::registry::OperationContext;

fn limit(input: &Input) -> Result<Option<usize>, AwsError> {
    match input.int("Limit")? {
        None => Ok(None),
        Some(n) if n >= 1 => Ok(Some(n as usize)),
        Some(n) => Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))),
    }
}

/// Filter, projection, limit, start key and index, with the placeholders they use.
fn reading(
    tables: &Tables,
    ctx: &OperationContext,
    input: &Input,
    placeholders: &nubo_tables::expr::Placeholders,
) -> Result<(Reading, bool), AwsError> {
    let select = input.str("Select")?.unwrap_or("ALL_ATTRIBUTES");
    if ![
        "ALL_ATTRIBUTES",
        "ALL_PROJECTED_ATTRIBUTES",
        "SPECIFIC_ATTRIBUTES",
        "COUNT",
    ]
    .contains(&select)
    {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{select}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
        )));
    }
    let index = input.str("IndexName")?.map(str::to_owned);
    if let Some(index) = &index {
        let record = tables
            .table(&ctx.scope, &input.table_name()?)
            .map_err(aws)?
            .record();
        if let Some((_, true)) = record.index(index) {
            if input.bool("ConsistentRead") == Some(true) {
                return Err(DynamoDbErrors::validation(
                    "Consistent reads are not supported on global secondary indexes",
                ));
            }
        }
    }
    let filter = match input.str("FilterExpression")? {
        Some(text) => Some(
            placeholders
                .condition(text, ExpressionKind::Filter)
                .map_err(aws)?,
        ),
        None => None,
    };
    let projection = match input.str("ProjectionExpression")? {
        Some(text) => Some(placeholders.projection(text).map_err(aws)?),
        None => None,
    };
    let start_key = match input.get("ExclusiveStartKey") {
        Some(key) => Some(item_of(key)?),
        None => None,
    };
    Ok((
        Reading {
            index,
            filter,
            projection,
            limit: limit(input)?,
            start_key,
        },
        select == "COUNT",
    ))
}

fn page_json(page: Page, count_only: bool, input: &Input, table: &str) -> Value {
    let mut out = json!({"Count": page.items.len(), "ScannedCount": page.scanned});
    if !count_only {
        out["Items"] = page.items.iter().map(item_to_json).collect();
    }
    if let Some(key) = &page.last_key {
        out["LastEvaluatedKey"] = item_to_json(key);
    }
    if let Some(c) = consumed(input, table, (page.scanned as f64 / 8.0).max(0.5)) {
        out["ConsumedCapacity"] = c;
    }
    out
}

pub(crate) async fn query(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let (key_condition, reading, count_only) = {
        let placeholders = input.placeholders()?;
        let text = input.str("KeyConditionExpression")?.ok_or_else(|| {
            DynamoDbErrors::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        })?;
        let key_condition = placeholders
            .condition(text, ExpressionKind::KeyCondition)
            .map_err(aws)?;
        let (reading, count_only) = reading(tables, &ctx, &input, &placeholders)?;
        placeholders.check_all_used().map_err(aws)?;
        (key_condition, reading, count_only)
    };
    let forward = input.bool("ScanIndexForward").unwrap_or(true);
    let page = tables
        .query(&ctx.scope, &table, &key_condition, forward, &reading)
        .await
        .map_err(aws)?;
    Ok(page_json(page, count_only, &input, &table))
}

pub(crate) async fn scan(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let segment = match (input.int("Segment")?, input.int("TotalSegments")?) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(DynamoDbErrors::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(DynamoDbErrors::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
        (Some(segment), Some(total)) => {
            if !(1..=1_000_000).contains(&total) {
                return Err(DynamoDbErrors::validation(format!(
                    "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000"
                )));
            }
            if segment < 0 || segment >= total {
                return Err(DynamoDbErrors::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
                )));
            }
            Some((segment as u32, total as u32))
        }
    };
    let (reading, count_only) = {
        let placeholders = input.placeholders()?;
        let (reading, count_only) = reading(tables, &ctx, &input, &placeholders)?;
        placeholders.check_all_used().map_err(aws)?;
        (reading, count_only)
    };
    let page = tables
        .scan(&ctx.scope, &table, segment, &reading)
        .await
        .map_err(aws)?;
    Ok(page_json(page, count_only, &input, &table))
}
