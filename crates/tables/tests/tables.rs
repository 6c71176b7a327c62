//! The tables domain over a real SQLite store: writes with conditions, index maintenance,
//! queries that page, transactions that cancel, streams, and a reopen.

use std::collections::HashMap;
use std::sync::Arc;

use nubo_store::StoreConfig;
use nubo_tables::expr::{ExpressionKind, Placeholders};
use nubo_tables::items::{Guard, Reading, TableAction, WriteAction};
use nubo_tables::schema::{
    IndexRecord, KeyAttribute, KeySchema, KeyType, Projection, StreamSettings, TableRecord,
};
use nubo_tables::value::{item_from_json, Item, Value};
use nubo_tables::{Tables, TablesError};
use nubo_wire::Scope;
use serde_json::json;

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account_id: "000000000000".into(),
    }
}

fn attribute(name: &str, kind: KeyType) -> KeyAttribute {
    KeyAttribute {
        name: name.into(),
        kind,
    }
}

fn record(name: &str) -> TableRecord {
    TableRecord {
        account: "000000000000".into(),
        region: "us-east-1".into(),
        name: name.into(),
        storage_id: String::new(),
        table_id: String::new(),
        created_ms: 0,
        key: KeySchema {
            hash: attribute("pk", KeyType::S),
            range: Some(attribute("sk", KeyType::N)),
        },
        attributes: vec![
            attribute("pk", KeyType::S),
            attribute("sk", KeyType::N),
            attribute("g", KeyType::S),
        ],
        billing_mode: "PAY_PER_REQUEST".into(),
        throughput: None,
        local_indexes: Vec::new(),
        global_indexes: vec![IndexRecord {
            name: "by-g".into(),
            key: KeySchema {
                hash: attribute("g", KeyType::S),
                range: None,
            },
            projection: Projection {
                kind: "KEYS_ONLY".into(),
                non_key_attributes: Vec::new(),
            },
            throughput: None,
        }],
        stream: Some(StreamSettings {
            view_type: "NEW_AND_OLD_IMAGES".into(),
            label: String::new(),
        }),
        ttl_attribute: None,
        tags: Default::default(),
        deletion_protection: false,
        table_class: None,
    }
}

fn item(value: serde_json::Value) -> Item {
    item_from_json(&value).unwrap()
}

async fn open(dir: &std::path::Path) -> Arc<Tables> {
    let stores = StoreConfig::in_data_dir(dir).open(dir).await.unwrap();
    Tables::load(stores.documents, stores.tables).await.unwrap()
}

fn condition(text: &str, values: serde_json::Value) -> Guard {
    let values: HashMap<String, Value> = item(values).into_iter().collect();
    let placeholders = Placeholders::new(HashMap::new(), values);
    Guard {
        condition: Some(
            placeholders
                .condition(text, ExpressionKind::Condition)
                .unwrap(),
        ),
        return_item_on_failure: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_indexes_pages_transactions_and_streams_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let tables = open(dir.path()).await;
    let s = scope();
    tables.create(record("t")).await.unwrap();
    assert!(matches!(
        tables.create(record("t")).await,
        Err(TablesError::InUse(_))
    ));
    for n in 0..10 {
        let g = if n % 2 == 0 { "even" } else { "odd" };
        tables
            .write_item(
                &s,
                "t",
                WriteAction::Put(item(
                    json!({"pk": {"S": "p"}, "sk": {"N": n.to_string()}, "g": {"S": g}}),
                )),
                &Guard::default(),
            )
            .await
            .unwrap();
    }
    // A failed condition returns the item as it is and changes nothing.
    let failed = tables
        .write_item(
            &s,
            "t",
            WriteAction::Delete(item(json!({"pk": {"S": "p"}, "sk": {"N": "3"}}))),
            &condition("g = :x", json!({":x": {"S": "even"}})),
        )
        .await;
    match failed {
        Err(TablesError::ConditionalCheckFailed(Some(old))) => {
            assert_eq!(old["g"], Value::S("odd".into()))
        }
        other => panic!("{other:?}"),
    }
    // Moving an item between index partitions moves its entry.
    let update = Placeholders::new(
        HashMap::new(),
        [(":e".to_owned(), Value::S("even".into()))].into(),
    )
    .update("SET g = :e")
    .unwrap();
    tables
        .write_item(
            &s,
            "t",
            WriteAction::Update(
                item(json!({"pk": {"S": "p"}, "sk": {"N": "3"}})),
                Some(update),
            ),
            &Guard::default(),
        )
        .await
        .unwrap();
    let key_condition = |text: &str, values: serde_json::Value| {
        let values: HashMap<String, Value> = item(values).into_iter().collect();
        Placeholders::new(HashMap::new(), values)
            .condition(text, ExpressionKind::KeyCondition)
            .unwrap()
    };
    let evens = tables
        .query(
            &s,
            "t",
            &key_condition("g = :g", json!({":g": {"S": "even"}})),
            true,
            &Reading {
                index: Some("by-g".into()),
                ..Reading::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(evens.items.len(), 6);
    // KEYS_ONLY: table and index keys only.
    assert!(evens.items.iter().all(|i| i.len() == 3));
    // Pages of 4, backwards, resume where they stopped.
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = tables
            .query(
                &s,
                "t",
                &key_condition(
                    "pk = :p AND sk >= :one",
                    json!({":p": {"S": "p"}, ":one": {"N": "1"}}),
                ),
                false,
                &Reading {
                    limit: Some(4),
                    start_key: start.take(),
                    ..Reading::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|i| i["sk"].clone()));
        match page.last_key {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    let numbers: Vec<String> = seen
        .iter()
        .map(|v| match v {
            Value::N(n) => n.to_string(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(numbers, ["9", "8", "7", "6", "5", "4", "3", "2", "1"]);
    // A transaction with one failing condition writes nothing.
    let cancelled = tables
        .write_items(
            &s,
            vec![
                TableAction {
                    table: "t".into(),
                    action: WriteAction::Delete(item(json!({"pk": {"S": "p"}, "sk": {"N": "0"}}))),
                    guard: Guard::default(),
                },
                TableAction {
                    table: "t".into(),
                    action: WriteAction::Check(item(json!({"pk": {"S": "p"}, "sk": {"N": "1"}}))),
                    guard: condition("attribute_not_exists(pk)", json!({})),
                },
            ],
            true,
        )
        .await;
    match cancelled {
        Err(TablesError::TransactionCanceled(reasons)) => {
            assert_eq!(
                reasons.iter().map(|r| r.code).collect::<Vec<_>>(),
                ["None", "ConditionalCheckFailed"]
            )
        }
        other => panic!("{other:?}"),
    }
    drop(tables);
    let tables = open(dir.path()).await;
    let kept = tables
        .get_item(&s, "t", &item(json!({"pk": {"S": "p"}, "sk": {"N": "0"}})))
        .await
        .unwrap();
    assert!(kept.is_some());
    let record = tables.describe(&s, "t").unwrap();
    let records = tables.stream_records(&record, 0, 100).await.unwrap();
    assert_eq!(records.len(), 11);
    assert_eq!(records[10].record["eventName"], "MODIFY");
    assert_eq!(records[10].record["dynamodb"]["OldImage"]["g"]["S"], "odd");
    // Deleting the table deletes its rows; a new table of the same name starts empty.
    tables.delete(&s, "t").await.unwrap();
    tables.create(record_named_again()).await.unwrap();
    let page = tables
        .scan(&s, "t", None, &Reading::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

fn record_named_again() -> TableRecord {
    let mut r = record("t");
    r.stream = None;
    r
}
