//! Item operations: PutItem, GetItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem,
//! TransactWriteItems, TransactGetItems.

use nubo_tables::expr::{project, ExpressionKind, Path, Placeholders, Step};
use nubo_tables::items::{Guard, TableAction, WriteAction};
use nubo_tables::value::{item_to_json, Item};
use nubo_tables::Tables;
use nubo_wire::AwsError;
use serde_json::{json, Map, Value};

use super::{
    authorize_table, aws, consumed, item_of, null_member, placeholders_of, DynamoDbErrors, Input,
};
use crate::registry::OperationContext;

/// A condition expression and what to return when it fails.
fn guard(placeholders: &Placeholders, member: &Map<String, Value>) -> Result<Guard, AwsError> {
    let condition = match member.get("ConditionExpression").and_then(Value::as_str) {
        Some(text) => Some(
            placeholders
                .condition(text, ExpressionKind::Condition)
                .map_err(aws)?,
        ),
        None => None,
    };
    Ok(Guard {
        condition,
        return_item_on_failure: member
            .get("ReturnValuesOnConditionCheckFailure")
            .and_then(Value::as_str)
            == Some("ALL_OLD"),
    })
}

fn return_values(input: &Input, allowed: &[&str], message: &str) -> Result<String, AwsError> {
    let value = input.str("ReturnValues")?.unwrap_or("NONE");
    const ALL: &[&str] = &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];
    if !ALL.contains(&value) {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{value}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
        )));
    }
    if !allowed.contains(&value) {
        return Err(DynamoDbErrors::validation(message));
    }
    Ok(value.to_owned())
}

/// `ProjectionExpression` (or the legacy `AttributesToGet`) of a read.
fn projection(
    placeholders: &Placeholders,
    member: &Map<String, Value>,
) -> Result<Option<Vec<Path>>, AwsError> {
    if let Some(text) = member.get("ProjectionExpression").and_then(Value::as_str) {
        return placeholders.projection(text).map(Some).map_err(aws);
    }
    if let Some(names) = member.get("AttributesToGet").and_then(Value::as_array) {
        return Ok(Some(
            names
                .iter()
                .filter_map(Value::as_str)
                .map(|n| Path(vec![Step::Member(n.to_owned())]))
                .collect(),
        ));
    }
    Ok(None)
}

fn with_attributes(mut out: Value, item: Option<&Item>) -> Value {
    if let Some(item) = item {
        out["Attributes"] = item_to_json(item);
    }
    out
}

pub(crate) async fn put_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let item = item_of(input.required("Item", "item")?)?;
    let returns = return_values(
        &input,
        &["NONE", "ALL_OLD"],
        "ReturnValues can only be ALL_OLD or NONE",
    )?;
    let guard = {
        let placeholders = input.placeholders()?;
        let guard = guard(&placeholders, &input.0)?;
        placeholders.check_all_used().map_err(aws)?;
        guard
    };
    let (old, _) = tables
        .write_item(&ctx.scope, &table, WriteAction::Put(item), &guard)
        .await
        .map_err(aws)?;
    let mut out = with_attributes(json!({}), old.as_ref().filter(|_| returns == "ALL_OLD"));
    if let Some(c) = consumed(&input, &table, 1.0) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

pub(crate) async fn get_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let key = item_of(input.required("Key", "key")?)?;
    let paths = {
        let placeholders = input.placeholders()?;
        let paths = projection(&placeholders, &input.0)?;
        placeholders.check_all_used().map_err(aws)?;
        paths
    };
    let item = tables
        .get_item(&ctx.scope, &table, &key)
        .await
        .map_err(aws)?;
    let mut out = json!({});
    if let Some(item) = item {
        let item = match &paths {
            Some(paths) => project(&item, paths),
            None => item,
        };
        out["Item"] = item_to_json(&item);
    }
    if let Some(c) = consumed(&input, &table, 0.5) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

pub(crate) async fn update_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let key = item_of(input.required("Key", "key")?)?;
    let returns = return_values(
        &input,
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        "",
    )?;
    let (update, guard) = {
        let placeholders = input.placeholders()?;
        let update = match input.str("UpdateExpression")? {
            Some(text) => Some(placeholders.update(text).map_err(aws)?),
            None => None,
        };
        let guard = guard(&placeholders, &input.0)?;
        placeholders.check_all_used().map_err(aws)?;
        (update, guard)
    };
    let paths: Vec<Path> = update
        .as_ref()
        .map(|u| u.paths().cloned().collect())
        .unwrap_or_default();
    let (old, new) = tables
        .write_item(&ctx.scope, &table, WriteAction::Update(key, update), &guard)
        .await
        .map_err(aws)?;
    let attributes = match returns.as_str() {
        "ALL_OLD" => old,
        "ALL_NEW" => new,
        "UPDATED_OLD" => old.map(|o| project(&o, &paths)).filter(|i| !i.is_empty()),
        "UPDATED_NEW" => new.map(|n| project(&n, &paths)).filter(|i| !i.is_empty()),
        _ => None,
    };
    let mut out = with_attributes(json!({}), attributes.as_ref());
    if let Some(c) = consumed(&input, &table, 1.0) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

pub(crate) async fn delete_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let table = input.table_name()?;
    let key = item_of(input.required("Key", "key")?)?;
    let returns = return_values(
        &input,
        &["NONE", "ALL_OLD"],
        "ReturnValues can only be ALL_OLD or NONE",
    )?;
    let guard = {
        let placeholders = input.placeholders()?;
        let guard = guard(&placeholders, &input.0)?;
        placeholders.check_all_used().map_err(aws)?;
        guard
    };
    let (old, _) = tables
        .write_item(&ctx.scope, &table, WriteAction::Delete(key), &guard)
        .await
        .map_err(aws)?;
    let mut out = with_attributes(json!({}), old.as_ref().filter(|_| returns == "ALL_OLD"));
    if let Some(c) = consumed(&input, &table, 1.0) {
        out["ConsumedCapacity"] = c;
    }
    Ok(out)
}

fn request_items(input: &Input) -> Result<&Map<String, Value>, AwsError> {
    let items = input
        .required("RequestItems", "requestItems")?
        .as_object()
        .ok_or_else(|| DynamoDbErrors::serialization("Unexpected RequestItems"))?;
    if items.is_empty() {
        return Err(DynamoDbErrors::validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(items)
}

pub(crate) async fn batch_get_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let requests = request_items(&input)?;
    let total: usize = requests
        .values()
        .map(|r| r["Keys"].as_array().map_or(0, Vec::len))
        .sum();
    if total > 100 {
        return Err(DynamoDbErrors::validation(
            "Too many items requested for the BatchGetItem call",
        ));
    }
    // Everything is parsed before the first read: the placeholders stay on this thread.
    let mut plans = Vec::with_capacity(requests.len());
    for (i, (table, request)) in requests.iter().enumerate() {
        nubo_tables::schema::check_name(table, "requestItems.key").map_err(aws)?;
        if i > 0 {
            authorize_table(&ctx, "dynamodb:BatchGetItem", table)?;
        }
        let request = request.as_object().cloned().unwrap_or_default();
        let placeholders = placeholders_of(
            request.get("ExpressionAttributeNames"),
            request.get("ExpressionAttributeValues"),
        )?;
        let paths = projection(&placeholders, &request)?;
        placeholders.check_all_used().map_err(aws)?;
        let keys = request
            .get("Keys")
            .and_then(Value::as_array)
            .ok_or_else(|| null_member("keys"))?;
        let mut parsed: Vec<Item> = Vec::with_capacity(keys.len());
        for key in keys {
            let key = item_of(key)?;
            if parsed.contains(&key) {
                return Err(DynamoDbErrors::validation(
                    "Provided list of item keys contains duplicates",
                ));
            }
            parsed.push(key);
        }
        plans.push((table.clone(), parsed, paths));
    }
    let mut responses = Map::new();
    for (table, keys, paths) in plans {
        let mut items = Vec::new();
        for key in keys {
            if let Some(item) = tables
                .get_item(&ctx.scope, &table, &key)
                .await
                .map_err(aws)?
            {
                let item = match &paths {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                items.push(item_to_json(&item));
            }
        }
        responses.insert(table, Value::Array(items));
    }
    Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
}

pub(crate) async fn batch_write_item(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let requests = request_items(&input)?;
    let total: usize = requests
        .values()
        .map(|r| r.as_array().map_or(0, Vec::len))
        .sum();
    if total > 25 {
        return Err(DynamoDbErrors::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    let mut actions = Vec::with_capacity(total);
    for (i, (table, writes)) in requests.iter().enumerate() {
        nubo_tables::schema::check_name(table, "requestItems.key").map_err(aws)?;
        if i > 0 {
            authorize_table(&ctx, "dynamodb:BatchWriteItem", table)?;
        }
        for write in writes.as_array().into_iter().flatten() {
            let action = match (write.get("PutRequest"), write.get("DeleteRequest")) {
                (Some(put), None) => WriteAction::Put(item_of(put.get("Item").ok_or_else(|| null_member("item"))?)?),
                (None, Some(delete)) => WriteAction::Delete(item_of(delete.get("Key").ok_or_else(|| null_member("key"))?)?),
                _ => {
                    return Err(DynamoDbErrors::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ))
                }
            };
            actions.push(TableAction {
                table: table.clone(),
                action,
                guard: Guard::default(),
            });
        }
    }
    tables
        .write_items(&ctx.scope, actions, false)
        .await
        .map_err(aws)?;
    Ok(json!({"UnprocessedItems": {}}))
}

pub(crate) async fn transact_write_items(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let items = input
        .required("TransactItems", "transactItems")?
        .as_array()
        .ok_or_else(|| DynamoDbErrors::serialization("Unexpected TransactItems"))?;
    if items.is_empty() || items.len() > 100 {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length {} 100",
            if items.is_empty() { "greater than or equal to 1, Member must have length less than or equal to" } else { "less than or equal to" }
        )));
    }
    let mut actions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (kind, body) = ["Put", "Update", "Delete", "ConditionCheck"]
            .iter()
            .find_map(|k| item.get(*k).and_then(Value::as_object).map(|b| (*k, b)))
            .ok_or_else(|| {
                DynamoDbErrors::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                )
            })?;
        let table = body
            .get("TableName")
            .and_then(Value::as_str)
            .ok_or_else(|| null_member("tableName"))?;
        nubo_tables::schema::check_name(table, "tableName").map_err(aws)?;
        let operation = match kind {
            "Put" => "dynamodb:PutItem",
            "Update" => "dynamodb:UpdateItem",
            "Delete" => "dynamodb:DeleteItem",
            _ => "dynamodb:ConditionCheckItem",
        };
        authorize_table(&ctx, operation, table)?;
        let _ = i;
        let placeholders = placeholders_of(
            body.get("ExpressionAttributeNames"),
            body.get("ExpressionAttributeValues"),
        )?;
        let key = || item_of(body.get("Key").unwrap_or(&Value::Null));
        let action = match kind {
            "Put" => WriteAction::Put(item_of(
                body.get("Item").ok_or_else(|| null_member("item"))?,
            )?),
            "Update" => {
                let text = body
                    .get("UpdateExpression")
                    .and_then(Value::as_str)
                    .ok_or_else(|| null_member("updateExpression"))?;
                WriteAction::Update(key()?, Some(placeholders.update(text).map_err(aws)?))
            }
            "Delete" => WriteAction::Delete(key()?),
            _ => {
                if body.get("ConditionExpression").is_none() {
                    return Err(null_member("conditionExpression"));
                }
                WriteAction::Check(key()?)
            }
        };
        let guard = guard(&placeholders, body)?;
        placeholders.check_all_used().map_err(aws)?;
        actions.push(TableAction {
            table: table.to_owned(),
            action,
            guard,
        });
    }
    tables
        .write_items(&ctx.scope, actions, true)
        .await
        .map_err(aws)?;
    Ok(json!({}))
}

pub(crate) async fn transact_get_items(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let items = input
        .required("TransactItems", "transactItems")?
        .as_array()
        .ok_or_else(|| DynamoDbErrors::serialization("Unexpected TransactItems"))?;
    if items.is_empty() || items.len() > 100 {
        return Err(DynamoDbErrors::validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
        ));
    }
    let mut plans = Vec::with_capacity(items.len());
    for item in items {
        let body = item
            .get("Get")
            .and_then(Value::as_object)
            .ok_or_else(|| null_member("get"))?;
        let table = body
            .get("TableName")
            .and_then(Value::as_str)
            .ok_or_else(|| null_member("tableName"))?;
        authorize_table(&ctx, "dynamodb:GetItem", table)?;
        let placeholders = placeholders_of(body.get("ExpressionAttributeNames"), None)?;
        let paths = projection(&placeholders, body)?;
        placeholders.check_all_used().map_err(aws)?;
        let key = item_of(body.get("Key").ok_or_else(|| null_member("key"))?)?;
        plans.push((table.to_owned(), key, paths));
    }
    let mut responses = Vec::with_capacity(plans.len());
    for (table, key, paths) in plans {
        let found = tables
            .get_item(&ctx.scope, &table, &key)
            .await
            .map_err(aws)?;
        responses.push(match found {
            Some(found) => {
                let found = match &paths {
                    Some(paths) => project(&found, paths),
                    None => found,
                };
                json!({"Item": item_to_json(&found)})
            }
            None => json!({}),
        });
    }
    Ok(json!({"Responses": responses}))
}
