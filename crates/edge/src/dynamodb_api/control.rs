//! Table operations: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable, tags, TTL.

use std::collections::BTreeMap;

use nubo_tables::registry::TableUpdate;
use nubo_tables::schema::{
    IndexRecord, KeyAttribute, KeySchema, KeyType, Projection, StreamSettings, TableRecord,
    Throughput,
};
use nubo_tables::Tables;
use nubo_wire::AwsError;
use serde_json::{json, Value};

use super::{aws, null_member, DynamoDbErrors, Input};
use crate::registry::OperationContext;

fn enum_error(value: &str, member: &str, allowed: &str) -> AwsError {
    DynamoDbErrors::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"
    ))
}

fn key_schema(
    value: &Value,
    attributes: &[KeyAttribute],
    member: &str,
) -> Result<KeySchema, AwsError> {
    let elements = value.as_array().ok_or_else(|| null_member(member))?;
    let mut hash = None;
    let mut range = None;
    for element in elements {
        let name = element["AttributeName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kind = attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.kind)
            .unwrap_or(KeyType::S);
        let attribute = KeyAttribute { name, kind };
        match element["KeyType"].as_str() {
            Some("HASH") if hash.is_none() => hash = Some(attribute),
            Some("RANGE") if range.is_none() => range = Some(attribute),
            Some("HASH") | Some("RANGE") => {
                return Err(DynamoDbErrors::validation(
                    "Invalid KeySchema: Some index key attribute have no definition",
                ))
            }
            other => {
                return Err(enum_error(
                    other.unwrap_or("null"),
                    &format!("{member}.1.member.keyType"),
                    "HASH, RANGE",
                ))
            }
        }
    }
    if elements.len() > 2 || elements.is_empty() {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 2",
            elements.len()
        )));
    }
    let hash = hash.ok_or_else(|| {
        DynamoDbErrors::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        )
    })?;
    if range.as_ref().is_some_and(|r| r.name == hash.name) {
        return Err(DynamoDbErrors::validation(
            "Invalid KeySchema: The hash key and range key must be different attributes",
        ));
    }
    Ok(KeySchema { hash, range })
}

fn throughput(value: Option<&Value>) -> Option<Throughput> {
    let value = value?;
    Some(Throughput {
        read: value["ReadCapacityUnits"].as_i64().unwrap_or(0),
        write: value["WriteCapacityUnits"].as_i64().unwrap_or(0),
    })
}

fn projection(value: &Value) -> Result<Projection, AwsError> {
    let kind = value["ProjectionType"].as_str().unwrap_or("ALL").to_owned();
    if !["ALL", "KEYS_ONLY", "INCLUDE"].contains(&kind.as_str()) {
        return Err(enum_error(
            &kind,
            "projection.projectionType",
            "ALL, INCLUDE, KEYS_ONLY",
        ));
    }
    let non_key_attributes = value["NonKeyAttributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Projection {
        kind,
        non_key_attributes,
    })
}

fn index(
    value: &Value,
    attributes: &[KeyAttribute],
    global: bool,
) -> Result<IndexRecord, AwsError> {
    let name = value["IndexName"]
        .as_str()
        .ok_or_else(|| null_member("indexName"))?
        .to_owned();
    Ok(IndexRecord {
        key: key_schema(&value["KeySchema"], attributes, "keySchema")?,
        projection: projection(&value["Projection"])?,
        throughput: if global {
            throughput(value.get("ProvisionedThroughput"))
        } else {
            None
        },
        name,
    })
}

fn attribute_definitions(value: Option<&Value>) -> Result<Vec<KeyAttribute>, AwsError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for element in value.as_array().into_iter().flatten() {
        let name = element["AttributeName"]
            .as_str()
            .ok_or_else(|| null_member("attributeDefinitions.member.attributeName"))?;
        let kind_text = element["AttributeType"].as_str().unwrap_or("null");
        let kind = KeyType::parse(kind_text).ok_or_else(|| {
            enum_error(
                kind_text,
                "attributeDefinitions.1.member.attributeType",
                "B, N, S",
            )
        })?;
        if out.iter().any(|a: &KeyAttribute| a.name == name) {
            return Err(DynamoDbErrors::validation(format!(
                "Cannot have two attributes with the same name. Attribute name: {name}"
            )));
        }
        out.push(KeyAttribute {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(out)
}

fn stream_view(spec: &Value) -> Result<Option<Option<String>>, AwsError> {
    match spec["StreamEnabled"].as_bool() {
        None => Ok(None),
        Some(false) => Ok(Some(None)),
        Some(true) => {
            let view = spec["StreamViewType"].as_str().ok_or_else(|| {
                DynamoDbErrors::validation("StreamViewType is required when StreamEnabled is true")
            })?;
            if !["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"].contains(&view) {
                return Err(enum_error(
                    view,
                    "streamSpecification.streamViewType",
                    "NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY",
                ));
            }
            Ok(Some(Some(view.to_owned())))
        }
    }
}

fn tags_of(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t["Key"].as_str()?.to_owned(),
                t["Value"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}

fn key_schema_json(key: &KeySchema) -> Value {
    let mut out = vec![json!({"AttributeName": key.hash.name, "KeyType": "HASH"})];
    if let Some(range) = &key.range {
        out.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
    }
    Value::Array(out)
}

fn projection_json(p: &Projection) -> Value {
    let mut out = json!({"ProjectionType": p.kind});
    if !p.non_key_attributes.is_empty() {
        out["NonKeyAttributes"] = json!(p.non_key_attributes);
    }
    out
}

fn throughput_json(t: Option<Throughput>) -> Value {
    let t = t.unwrap_or(Throughput { read: 0, write: 0 });
    json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": t.read, "WriteCapacityUnits": t.write})
}

/// DynamoDB's `TableDescription`.
pub(crate) fn describe(record: &TableRecord, status: &str) -> Value {
    let arn = record.arn();
    let mut table = json!({
        "TableName": record.name,
        "TableArn": arn,
        "TableId": record.table_id,
        "TableStatus": status,
        "CreationDateTime": record.created_ms as f64 / 1000.0,
        "AttributeDefinitions": record.attributes.iter().map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind.name()})).collect::<Vec<_>>(),
        "KeySchema": key_schema_json(&record.key),
        "ProvisionedThroughput": throughput_json(record.throughput),
        "TableSizeBytes": 0,
        "ItemCount": 0,
        "DeletionProtectionEnabled": record.deletion_protection,
    });
    if record.billing_mode == "PAY_PER_REQUEST" {
        table["BillingModeSummary"] = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": record.created_ms as f64 / 1000.0,
        });
    }
    if let Some(class) = &record.table_class {
        table["TableClassSummary"] = json!({"TableClass": class});
    }
    if !record.local_indexes.is_empty() {
        table["LocalSecondaryIndexes"] = record
            .local_indexes
            .iter()
            .map(|i| json!({
                "IndexName": i.name, "KeySchema": key_schema_json(&i.key), "Projection": projection_json(&i.projection),
                "IndexSizeBytes": 0, "ItemCount": 0, "IndexArn": format!("{arn}/index/{}", i.name),
            }))
            .collect();
    }
    if !record.global_indexes.is_empty() {
        table["GlobalSecondaryIndexes"] = record
            .global_indexes
            .iter()
            .map(|i| json!({
                "IndexName": i.name, "KeySchema": key_schema_json(&i.key), "Projection": projection_json(&i.projection),
                "IndexStatus": "ACTIVE", "ProvisionedThroughput": throughput_json(i.throughput),
                "IndexSizeBytes": 0, "ItemCount": 0, "IndexArn": format!("{arn}/index/{}", i.name),
            }))
            .collect();
    }
    if let Some(stream) = &record.stream {
        table["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": stream.view_type});
        table["LatestStreamLabel"] = json!(stream.label);
        table["LatestStreamArn"] = json!(record.stream_arn());
    }
    table
}

pub(crate) async fn create_table(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let attributes = attribute_definitions(input.get("AttributeDefinitions"))?;
    let key = key_schema(
        input.required("KeySchema", "keySchema")?,
        &attributes,
        "keySchema",
    )?;
    let billing_mode = input
        .str("BillingMode")?
        .unwrap_or("PROVISIONED")
        .to_owned();
    if !["PROVISIONED", "PAY_PER_REQUEST"].contains(&billing_mode.as_str()) {
        return Err(enum_error(
            &billing_mode,
            "billingMode",
            "PROVISIONED, PAY_PER_REQUEST",
        ));
    }
    let throughput = throughput(input.get("ProvisionedThroughput"));
    if billing_mode == "PROVISIONED" && throughput.is_none() {
        return Err(DynamoDbErrors::validation(
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ));
    }
    if billing_mode == "PAY_PER_REQUEST" && throughput.is_some() {
        return Err(DynamoDbErrors::validation(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ));
    }
    let local_indexes = input
        .get("LocalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| index(i, &attributes, false))
        .collect::<Result<Vec<_>, _>>()?;
    let global_indexes = input
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| index(i, &attributes, true))
        .collect::<Result<Vec<_>, _>>()?;
    let stream = match input
        .get("StreamSpecification")
        .map(stream_view)
        .transpose()?
        .flatten()
    {
        Some(Some(view_type)) => Some(StreamSettings {
            view_type,
            label: String::new(),
        }),
        _ => None,
    };
    let record = TableRecord {
        account: ctx.scope.account_id.clone(),
        region: ctx.scope.region.clone(),
        name,
        storage_id: String::new(),
        table_id: String::new(),
        created_ms: 0,
        key,
        attributes,
        billing_mode,
        throughput,
        local_indexes,
        global_indexes,
        stream,
        ttl_attribute: None,
        tags: tags_of(input.get("Tags")),
        deletion_protection: input.bool("DeletionProtectionEnabled").unwrap_or(false),
        table_class: input.str("TableClass")?.map(str::to_owned),
    };
    let record = tables.create(record).await.map_err(aws)?;
    Ok(json!({"TableDescription": describe(&record, "ACTIVE")}))
}

pub(crate) async fn describe_table(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let record = tables.describe(&ctx.scope, &name).map_err(aws)?;
    Ok(json!({"Table": describe(&record, "ACTIVE")}))
}

pub(crate) async fn list_tables(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let limit = input.int("Limit")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(DynamoDbErrors::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {} 100",
            if limit < 1 { "greater than or equal to 1, Member must have value less than or equal to" } else { "less than or equal to" }
        )));
    }
    let start = input.str("ExclusiveStartTableName")?.unwrap_or("");
    let names: Vec<String> = tables
        .list(&ctx.scope)
        .into_iter()
        .filter(|n| n.as_str() > start)
        .collect();
    let page: Vec<&String> = names.iter().take(limit as usize).collect();
    let mut out = json!({"TableNames": page});
    if names.len() > page.len() {
        out["LastEvaluatedTableName"] = json!(page.last());
    }
    Ok(out)
}

pub(crate) async fn update_table(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let attributes = attribute_definitions(input.get("AttributeDefinitions"))?;
    let existing = tables.describe(&ctx.scope, &name).map_err(aws)?;
    let mut known = existing.attributes.clone();
    for a in &attributes {
        if !known.iter().any(|k| k.name == a.name) {
            known.push(a.clone());
        }
    }
    let mut update = TableUpdate {
        attributes,
        billing_mode: input.str("BillingMode")?.map(str::to_owned),
        throughput: throughput(input.get("ProvisionedThroughput")),
        deletion_protection: input.bool("DeletionProtectionEnabled"),
        ..TableUpdate::default()
    };
    for change in input
        .get("GlobalSecondaryIndexUpdates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(create) = change.get("Create") {
            let index = index(create, &known, true)?;
            for attribute in std::iter::once(&index.key.hash).chain(index.key.range.as_ref()) {
                if !known.iter().any(|k| k.name == attribute.name) {
                    return Err(DynamoDbErrors::validation(
                        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions.",
                    ));
                }
            }
            update.create_indexes.push(index);
        }
        if let Some(delete) = change.get("Delete") {
            update
                .delete_indexes
                .push(delete["IndexName"].as_str().unwrap_or_default().to_owned());
        }
    }
    if let Some(spec) = input.get("StreamSpecification") {
        update.stream = stream_view(spec)?;
    }
    let record = tables
        .update(&ctx.scope, &name, update)
        .await
        .map_err(aws)?;
    Ok(json!({"TableDescription": describe(&record, "ACTIVE")}))
}

pub(crate) async fn delete_table(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let record = tables.delete(&ctx.scope, &name).await.map_err(aws)?;
    Ok(json!({"TableDescription": describe(&record, "DELETING")}))
}

/// The table an ARN names in the request's scope.
fn table_of_arn(ctx: &OperationContext, input: &Input) -> Result<String, AwsError> {
    let arn = input
        .str("ResourceArn")?
        .ok_or_else(|| null_member("resourceArn"))?;
    let prefix = format!(
        "arn:aws:dynamodb:{}:{}:table/",
        ctx.scope.region, ctx.scope.account_id
    );
    match arn.strip_prefix(&prefix) {
        Some(name) if !name.is_empty() && !name.contains('/') => Ok(name.to_owned()),
        _ if arn.starts_with("arn:aws:dynamodb:") => Err(DynamoDbErrors::resource_not_found(
            format!("Requested resource not found: ResourcArn: {arn} not found"),
        )),
        _ => Err(DynamoDbErrors::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))),
    }
}

fn not_found_arn(err: nubo_tables::TablesError, input: &Input) -> AwsError {
    match err {
        nubo_tables::TablesError::NotFound(_) => DynamoDbErrors::resource_not_found(format!(
            "Requested resource not found: ResourcArn: {} not found",
            input.str("ResourceArn").ok().flatten().unwrap_or("")
        )),
        other => aws(other),
    }
}

pub(crate) async fn tag_resource(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = table_of_arn(&ctx, &input)?;
    let tags = tags_of(Some(input.required("Tags", "tags")?));
    tables
        .tag(&ctx.scope, &name, tags)
        .await
        .map_err(|e| not_found_arn(e, &input))?;
    Ok(json!({}))
}

pub(crate) async fn untag_resource(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = table_of_arn(&ctx, &input)?;
    let keys = input
        .required("TagKeys", "tagKeys")?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    tables
        .untag(&ctx.scope, &name, keys)
        .await
        .map_err(|e| not_found_arn(e, &input))?;
    Ok(json!({}))
}

pub(crate) async fn list_tags(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = table_of_arn(&ctx, &input)?;
    let record = tables
        .describe(&ctx.scope, &name)
        .map_err(|e| not_found_arn(e, &input))?;
    let tags: Vec<Value> = record
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({"Tags": tags}))
}

pub(crate) async fn update_ttl(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let spec = input.required("TimeToLiveSpecification", "timeToLiveSpecification")?;
    let enabled = spec["Enabled"]
        .as_bool()
        .ok_or_else(|| null_member("timeToLiveSpecification.enabled"))?;
    let attribute = spec["AttributeName"]
        .as_str()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| null_member("timeToLiveSpecification.attributeName"))?;
    tables
        .set_ttl(&ctx.scope, &name, enabled, attribute.to_owned())
        .await
        .map_err(aws)?;
    Ok(json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}))
}

pub(crate) async fn describe_ttl(
    tables: &Tables,
    ctx: OperationContext,
    input: Input,
) -> Result<Value, AwsError> {
    let name = input.table_name()?;
    let record = tables.describe(&ctx.scope, &name).map_err(aws)?;
    Ok(match &record.ttl_attribute {
        Some(attribute) => {
            json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}})
        }
        None => json!({"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}),
    })
}

pub(crate) async fn describe_endpoints(
    _tables: &Tables,
    ctx: OperationContext,
    _input: Input,
) -> Result<Value, AwsError> {
    let host = ctx.host.unwrap_or_else(|| "localhost".into());
    Ok(json!({"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]}))
}

pub(crate) async fn describe_limits(
    _tables: &Tables,
    _ctx: OperationContext,
    _input: Input,
) -> Result<Value, AwsError> {
    Ok(json!({
        "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000,
    }))
}
