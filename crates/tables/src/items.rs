//! Item operations: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, the batch operations
//! and transactions, over the store's `TableRows`.
//!
//! A write holds its table's write lock from reading the item to committing: the new item, the
//! changes to every index entry and the stream record go to the store in one transaction.

use std::sync::Arc;

use nubo_store::{RowRange, ScanRange, SortBound, TableWrite};
use nubo_wire::Scope;

use crate::expr::{evaluate, project, Comparator, Condition, Operand, Path, Update};
use crate::keys::{self, RowKey};
use crate::registry::{now_ms, Table, Tables};
use crate::schema::{IndexRecord, KeySchema, TableRecord};
use crate::value::{item_from_json, item_size, Item, ItemJson, Value, MAX_ITEM_BYTES};
use crate::{streams, CancellationReason, TablesError};

/// The most data one Query or Scan page reads: 1 MB.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Rows fetched from the store per round trip while paging.
const CHUNK: usize = 256;

/// A condition on a write and what to return when it fails.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// `ConditionExpression`.
    pub condition: Option<Condition>,
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    pub return_item_on_failure: bool,
}

/// One page of a Query or Scan.
#[derive(Debug, Default)]
pub struct Page {
    /// The items that passed the filter (projected).
    pub items: Vec<Item>,
    /// How many items were read before the filter.
    pub scanned: usize,
    /// Where the next page starts.
    pub last_key: Option<Item>,
}

/// What a Query or Scan reads and returns.
#[derive(Debug, Default)]
pub struct Reading {
    /// `IndexName`.
    pub index: Option<String>,
    /// `FilterExpression`.
    pub filter: Option<Condition>,
    /// `ProjectionExpression`.
    pub projection: Option<Vec<Path>>,
    /// `Limit`.
    pub limit: Option<usize>,
    /// `ExclusiveStartKey`.
    pub start_key: Option<Item>,
}

/// A Query's key condition, taken apart.
#[derive(Debug)]
pub struct KeyCondition {
    hash: Value,
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
    prefix: Option<Value>,
}

/// One action of TransactWriteItems or BatchWriteItem.
#[derive(Debug, Clone)]
pub enum WriteAction {
    /// Put an item.
    Put(Item),
    /// Update the item with a key.
    Update(Item, Option<Update>),
    /// Delete the item with a key.
    Delete(Item),
    /// Only check the condition on the item with a key.
    Check(Item),
}

/// A write of a transaction or batch: the table, the action and its guard.
#[derive(Debug, Clone)]
pub struct TableAction {
    /// The table's name.
    pub table: String,
    /// The action.
    pub action: WriteAction,
    /// Its condition.
    pub guard: Guard,
}

pub(crate) fn decode(body: &[u8]) -> Result<Item, TablesError> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| TablesError::Store(e.to_string()))?;
    item_from_json(&json)
}

fn encode(item: &Item) -> Vec<u8> {
    serde_json::to_vec(&ItemJson(item)).unwrap_or_default()
}

fn check_size(item: &Item, update: bool) -> Result<(), TablesError> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(TablesError::Validation(if update {
            "Item size to update has exceeded the maximum allowed size".into()
        } else {
            "Item size has exceeded the maximum allowed size".into()
        }));
    }
    Ok(())
}

fn check_guard(guard: &Guard, old: Option<&Item>) -> Result<(), TablesError> {
    if let Some(condition) = &guard.condition {
        let empty = Item::new();
        if !evaluate(condition, old.unwrap_or(&empty)) {
            return Err(TablesError::ConditionalCheckFailed(
                guard.return_item_on_failure.then(|| old.cloned()).flatten(),
            ));
        }
    }
    Ok(())
}

/// The store writes that take a table from `old` to `new` at `key`.
fn plan(
    record: &TableRecord,
    key: &RowKey,
    old: Option<&Item>,
    new: Option<&Item>,
    writes: &mut Vec<TableWrite>,
) -> Result<(), TablesError> {
    let body = new.map(encode);
    for index in record.indexes() {
        let before = match old {
            Some(old) => keys::index_key(index, old, key)?,
            None => None,
        };
        let after = match new {
            Some(new) => keys::index_key(index, new, key)?,
            None => None,
        };
        if let Some(before) = before.filter(|b| Some(b) != after.as_ref()) {
            writes.push(TableWrite::Delete {
                table: record.storage_id.clone(),
                index: index.name.clone(),
                pk: before.pk,
                sk: before.sk,
                reference: before.reference,
            });
        }
        if let (Some(after), Some(body)) = (after, &body) {
            writes.push(TableWrite::Put {
                table: record.storage_id.clone(),
                index: index.name.clone(),
                row: after.row(body.clone()),
            });
        }
    }
    match body {
        Some(body) => writes.push(TableWrite::Put {
            table: record.storage_id.clone(),
            index: String::new(),
            row: key.row(body),
        }),
        None if old.is_some() => writes.push(TableWrite::Delete {
            table: record.storage_id.clone(),
            index: String::new(),
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            reference: Vec::new(),
        }),
        None => {}
    }
    if let Some(write) = streams::change_record(record, old, new, now_ms(), false) {
        writes.push(write);
    }
    Ok(())
}

/// The writes of a TTL deletion (its stream record names the service as the remover).
pub(crate) fn plan_delete_by_ttl(
    record: &TableRecord,
    key: &RowKey,
    old: &Item,
    now_ms: i64,
    writes: &mut Vec<TableWrite>,
) -> Result<(), TablesError> {
    let mut plain = Vec::new();
    plan(record, key, Some(old), None, &mut plain)?;
    for write in plain {
        if !matches!(write, TableWrite::Append { .. }) {
            writes.push(write);
        }
    }
    if let Some(write) = streams::change_record(record, Some(old), None, now_ms, true) {
        writes.push(write);
    }
    Ok(())
}

fn check_not_key(record: &TableRecord, update: &Update) -> Result<(), TablesError> {
    for path in update.paths() {
        if record.key.contains(path.attribute()) {
            return Err(TablesError::Validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                path.attribute()
            )));
        }
    }
    Ok(())
}

/// The item an action leaves (`None`: none), from the item it finds.
fn next_item(
    record: &TableRecord,
    action: &WriteAction,
    old: Option<&Item>,
) -> Result<Option<Item>, TablesError> {
    match action {
        WriteAction::Put(item) => Ok(Some(item.clone())),
        WriteAction::Delete(_) => Ok(None),
        WriteAction::Check(_) => Ok(old.cloned()),
        WriteAction::Update(key, update) => {
            let mut item = old.cloned().unwrap_or_else(|| key.clone());
            if let Some(update) = update {
                crate::expr::apply_update(&mut item, update)?;
            }
            check_size(&item, true)?;
            keys::item_key(record, &item)?;
            Ok(Some(item))
        }
    }
}

/// The table key an action names.
fn action_key(record: &TableRecord, action: &WriteAction) -> Result<RowKey, TablesError> {
    match action {
        WriteAction::Put(item) => {
            check_size(item, false)?;
            keys::item_key(record, item)
        }
        WriteAction::Update(key, update) => {
            let row = keys::given_key(record, key)?;
            if let Some(update) = update {
                check_not_key(record, update)?;
            }
            Ok(row)
        }
        WriteAction::Delete(key) | WriteAction::Check(key) => keys::given_key(record, key),
    }
}

impl Tables {
    async fn read_item(
        &self,
        record: &TableRecord,
        key: &RowKey,
    ) -> Result<Option<Item>, TablesError> {
        match self.rows.get(&record.storage_id, &key.pk, &key.sk).await? {
            Some(body) => decode(&body).map(Some),
            None => Ok(None),
        }
    }

    /// GetItem: the item with `key`, if any.
    pub async fn get_item(
        &self,
        scope: &Scope,
        table: &str,
        key: &Item,
    ) -> Result<Option<Item>, TablesError> {
        let record = self.table(scope, table)?.record();
        let key = keys::given_key(&record, key)?;
        self.read_item(&record, &key).await
    }

    /// One write (PutItem, UpdateItem, DeleteItem): the item before and after.
    pub async fn write_item(
        &self,
        scope: &Scope,
        table: &str,
        action: WriteAction,
        guard: &Guard,
    ) -> Result<(Option<Item>, Option<Item>), TablesError> {
        let table: Arc<Table> = self.table(scope, table)?;
        let record = table.record();
        let key = action_key(&record, &action)?;
        let _writes = table.writes.lock().await;
        let old = self.read_item(&record, &key).await?;
        check_guard(guard, old.as_ref())?;
        let new = next_item(&record, &action, old.as_ref())?;
        let mut writes =
            Vec::with_capacity(2 + record.local_indexes.len() + record.global_indexes.len());
        plan(&record, &key, old.as_ref(), new.as_ref(), &mut writes)?;
        if !writes.is_empty() {
            self.rows.write(writes).await?;
        }
        Ok((old, new))
    }

    /// TransactWriteItems (all or nothing, with a reason per action) and BatchWriteItem (no
    /// conditions): every table involved is locked in one order, every condition checked, then
    /// one store transaction commits every change.
    pub async fn write_items(
        &self,
        scope: &Scope,
        actions: Vec<TableAction>,
        transaction: bool,
    ) -> Result<Vec<(Option<Item>, Option<Item>)>, TablesError> {
        let mut resolved = Vec::with_capacity(actions.len());
        for action in &actions {
            let table = self.table(scope, &action.table)?;
            let record = table.record();
            let key = action_key(&record, &action.action)?;
            if resolved
                .iter()
                .any(|(r, k, _): &(Arc<TableRecord>, RowKey, Arc<Table>)| {
                    r.storage_id == record.storage_id && *k == key
                })
            {
                return Err(TablesError::Validation(if transaction {
                    "Transaction request cannot include multiple operations on one item".into()
                } else {
                    "Provided list of item keys contains duplicates".into()
                }));
            }
            resolved.push((record, key, table));
        }
        let mut locked: Vec<&Arc<Table>> = Vec::new();
        let mut order: Vec<usize> = (0..resolved.len()).collect();
        order.sort_by(|a, b| resolved[*a].0.storage_id.cmp(&resolved[*b].0.storage_id));
        let mut guards = Vec::new();
        for i in order {
            let table = &resolved[i].2;
            if !locked.iter().any(|t| Arc::ptr_eq(t, table)) {
                locked.push(table);
                guards.push(table.writes.lock().await);
            }
        }
        let mut results = Vec::with_capacity(actions.len());
        let mut reasons = Vec::with_capacity(actions.len());
        let mut failed = false;
        for (action, (record, key, _)) in actions.iter().zip(&resolved) {
            let old = self.read_item(record, key).await?;
            let outcome = check_guard(&action.guard, old.as_ref())
                .and_then(|()| next_item(record, &action.action, old.as_ref()));
            match outcome {
                Ok(new) => {
                    reasons.push(CancellationReason {
                        code: "None",
                        message: None,
                        item: None,
                    });
                    results.push((old, new));
                }
                Err(TablesError::ConditionalCheckFailed(item)) if transaction => {
                    failed = true;
                    reasons.push(CancellationReason {
                        code: "ConditionalCheckFailed",
                        message: Some("The conditional request failed".into()),
                        item,
                    });
                    results.push((None, None));
                }
                Err(TablesError::Validation(message)) if transaction => {
                    failed = true;
                    reasons.push(CancellationReason {
                        code: "ValidationError",
                        message: Some(message),
                        item: None,
                    });
                    results.push((None, None));
                }
                Err(other) => return Err(other),
            }
        }
        if failed {
            return Err(TablesError::TransactionCanceled(reasons));
        }
        let mut writes = Vec::new();
        for ((action, (record, key, _)), (old, new)) in actions.iter().zip(&resolved).zip(&results)
        {
            if !matches!(action.action, WriteAction::Check(_)) {
                plan(record, key, old.as_ref(), new.as_ref(), &mut writes)?;
            }
        }
        if !writes.is_empty() {
            self.rows.write(writes).await?;
        }
        drop(guards);
        Ok(results)
    }

    /// Query: one partition of the table or an index, in sort-key order.
    pub async fn query(
        &self,
        scope: &Scope,
        table: &str,
        key_condition: &Condition,
        forward: bool,
        reading: &Reading,
    ) -> Result<Page, TablesError> {
        let record = self.table(scope, table)?.record();
        let index = index_of(&record, reading.index.as_deref())?;
        let schema = index.map(|i| &i.key).unwrap_or(&record.key);
        let condition = key_condition_parts(schema, key_condition)?;
        let bytes = |v: &Value| crate::value::key_bytes(v);
        let mut lower = condition.lower.as_ref().map(|(v, inclusive)| SortBound {
            sk: bytes(v),
            inclusive: *inclusive,
        });
        let mut upper = condition.upper.as_ref().map(|(v, inclusive)| SortBound {
            sk: bytes(v),
            inclusive: *inclusive,
        });
        if let Some(prefix) = &condition.prefix {
            let prefix = bytes(prefix);
            upper = prefix_end(&prefix).map(|sk| SortBound {
                sk,
                inclusive: false,
            });
            lower = Some(SortBound {
                sk: prefix,
                inclusive: true,
            });
        }
        let after = match &reading.start_key {
            Some(start) => {
                let (_, sk, reference) = start_position(&record, index, start)?;
                Some((sk, reference))
            }
            None => None,
        };
        let mut range = RowRange {
            table: record.storage_id.clone(),
            index: index.map(|i| i.name.clone()).unwrap_or_default(),
            pk: bytes(&condition.hash),
            lower,
            upper,
            after,
            forward,
            limit: 0,
        };
        let mut page = Page::default();
        let mut read_bytes = 0usize;
        loop {
            let want = reading
                .limit
                .map_or(CHUNK, |l| (l - page.scanned).min(CHUNK));
            range.limit = want;
            let rows = self.rows.range(range.clone()).await?;
            let fetched = rows.len();
            for row in rows {
                let item = decode(&row.body)?;
                page.scanned += 1;
                read_bytes += row.body.len();
                range.after = Some((row.sk, row.reference));
                let stop = reading.limit == Some(page.scanned) || read_bytes >= MAX_PAGE_BYTES;
                if stop {
                    page.last_key = Some(last_key(&record, index, &item));
                }
                accept(&record, index, reading, item, &mut page);
                if stop {
                    return Ok(page);
                }
            }
            if fetched < want {
                return Ok(page);
            }
        }
    }

    /// Scan: every item of the table or an index, or of one segment.
    pub async fn scan(
        &self,
        scope: &Scope,
        table: &str,
        segment: Option<(u32, u32)>,
        reading: &Reading,
    ) -> Result<Page, TablesError> {
        let record = self.table(scope, table)?.record();
        let index = index_of(&record, reading.index.as_deref())?;
        let (hash_from, hash_to) = match segment {
            Some((segment, total)) => {
                let from = (segment as u64 * 65536 / total as u64) as u16;
                let to = (((segment as u64 + 1) * 65536 / total as u64) - 1) as u16;
                (from, to)
            }
            None => (0, u16::MAX),
        };
        let after = match &reading.start_key {
            Some(start) => {
                let (pk, sk, reference) = start_position(&record, index, start)?;
                Some((keys::hash16(&pk), pk, sk, reference))
            }
            None => None,
        };
        let mut range = ScanRange {
            table: record.storage_id.clone(),
            index: index.map(|i| i.name.clone()).unwrap_or_default(),
            hash_from,
            hash_to,
            after,
            limit: 0,
        };
        let mut page = Page::default();
        let mut read_bytes = 0usize;
        loop {
            let want = reading
                .limit
                .map_or(CHUNK, |l| (l - page.scanned).min(CHUNK));
            range.limit = want;
            let rows = self.rows.scan(range.clone()).await?;
            let fetched = rows.len();
            for row in rows {
                let item = decode(&row.body)?;
                page.scanned += 1;
                read_bytes += row.body.len();
                range.after = Some((row.hash, row.pk, row.sk, row.reference));
                let stop = reading.limit == Some(page.scanned) || read_bytes >= MAX_PAGE_BYTES;
                if stop {
                    page.last_key = Some(last_key(&record, index, &item));
                }
                accept(&record, index, reading, item, &mut page);
                if stop {
                    return Ok(page);
                }
            }
            if fetched < want {
                return Ok(page);
            }
        }
    }
}

fn accept(
    record: &TableRecord,
    index: Option<&IndexRecord>,
    reading: &Reading,
    item: Item,
    page: &mut Page,
) {
    let item = match index {
        Some(index) => keys::index_projection(record, index, &item),
        None => item,
    };
    if let Some(filter) = &reading.filter {
        if !evaluate(filter, &item) {
            return;
        }
    }
    page.items.push(match &reading.projection {
        Some(paths) => project(&item, paths),
        None => item,
    });
}

fn index_of<'a>(
    record: &'a TableRecord,
    name: Option<&str>,
) -> Result<Option<&'a IndexRecord>, TablesError> {
    match name {
        None => Ok(None),
        Some(name) => record.index(name).map(|(i, _)| Some(i)).ok_or_else(|| {
            TablesError::Validation(format!(
                "The table does not have the specified index: {name}"
            ))
        }),
    }
}

fn last_key(record: &TableRecord, index: Option<&IndexRecord>, item: &Item) -> Item {
    let mut key = keys::key_attributes(&record.key, item);
    if let Some(index) = index {
        key.extend(keys::key_attributes(&index.key, item));
    }
    key
}

/// `(pk, sk, reference)`: where a page starts after.
type StartPosition = (Vec<u8>, Vec<u8>, Vec<u8>);

/// `(pk, sk, reference)` of an `ExclusiveStartKey`.
fn start_position(
    record: &TableRecord,
    index: Option<&IndexRecord>,
    start: &Item,
) -> Result<StartPosition, TablesError> {
    let invalid = |e: TablesError| {
        TablesError::Validation(format!("The provided starting key is invalid: {e}"))
    };
    let table_key = keys::item_key(record, start).map_err(invalid)?;
    match index {
        None => {
            keys::given_key(record, &keys::key_attributes(&record.key, start)).map_err(invalid)?;
            Ok((table_key.pk, table_key.sk, Vec::new()))
        }
        Some(index) => {
            let entry = keys::index_key(index, start, &table_key)
                .map_err(invalid)?
                .ok_or_else(|| {
                    TablesError::Validation(
                        "The provided starting key is invalid: The provided key element does not match the schema".into(),
                    )
                })?;
            Ok((entry.pk, entry.sk, entry.reference))
        }
    }
}

fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = prefix.to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

fn conjuncts<'a>(
    condition: &'a Condition,
    out: &mut Vec<&'a Condition>,
) -> Result<(), TablesError> {
    match condition {
        Condition::And(a, b) => {
            conjuncts(a, out)?;
            conjuncts(b, out)
        }
        Condition::Or(..) => Err(TablesError::Validation(
            "Invalid operator used in KeyConditionExpression: OR".into(),
        )),
        Condition::Not(..) => Err(TablesError::Validation(
            "Invalid operator used in KeyConditionExpression: NOT".into(),
        )),
        Condition::In(..) => Err(TablesError::Validation(
            "Invalid operator used in KeyConditionExpression: IN".into(),
        )),
        Condition::Exists(_)
        | Condition::NotExists(_)
        | Condition::Type(..)
        | Condition::Contains(..) => Err(TablesError::Validation(
            "Invalid operator used in KeyConditionExpression: function".into(),
        )),
        Condition::Compare(_, Comparator::Ne, _) => Err(TablesError::Validation(
            "Invalid operator used in KeyConditionExpression: <>".into(),
        )),
        other => {
            out.push(other);
            Ok(())
        }
    }
}

/// Takes a key condition apart into the partition value and the sort-key range.
pub fn key_condition_parts(
    schema: &KeySchema,
    condition: &Condition,
) -> Result<KeyCondition, TablesError> {
    let mut parts = Vec::new();
    conjuncts(condition, &mut parts)?;
    let hash_name = &schema.hash.name;
    let attribute_of = |c: &Condition| -> Option<String> {
        match c {
            Condition::Compare(Operand::Path(p), _, Operand::Value(_))
            | Condition::Compare(Operand::Value(_), _, Operand::Path(p))
            | Condition::Between(Operand::Path(p), _, _)
            | Condition::BeginsWith(Operand::Path(p), _) => Some(p.attribute().to_owned()),
            _ => None,
        }
    };
    let mut hash = None;
    let mut range = None;
    for part in &parts {
        let attribute = attribute_of(part).ok_or_else(|| {
            TablesError::Validation("Invalid KeyConditionExpression: Syntax error".into())
        })?;
        if attribute == *hash_name && hash.is_none() {
            match part {
                Condition::Compare(Operand::Path(_), Comparator::Eq, Operand::Value(v))
                | Condition::Compare(Operand::Value(v), Comparator::Eq, Operand::Path(_)) => {
                    hash = Some(v.clone());
                    continue;
                }
                _ => {
                    return Err(TablesError::Validation(
                        "Query key condition not supported".into(),
                    ))
                }
            }
        }
        let is_range = schema.range.as_ref().is_some_and(|r| r.name == attribute);
        if !is_range || range.is_some() {
            if hash.is_none() && parts.len() == 1 {
                break;
            }
            return Err(TablesError::Validation(
                "Query key condition not supported".into(),
            ));
        }
        range = Some(*part);
    }
    let hash = hash.ok_or_else(|| {
        TablesError::Validation(format!(
            "Query condition missed key schema element: {hash_name}"
        ))
    })?;
    let type_check = |kind: &crate::schema::KeyAttribute, v: &Value| -> Result<(), TablesError> {
        if v.type_name() != kind.kind.name() {
            return Err(TablesError::Validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type".into(),
            ));
        }
        Ok(())
    };
    type_check(&schema.hash, &hash)?;
    let mut out = KeyCondition {
        hash,
        lower: None,
        upper: None,
        prefix: None,
    };
    if let (Some(part), Some(range_key)) = (range, schema.range.as_ref()) {
        match part {
            Condition::Compare(Operand::Path(_), op, Operand::Value(v)) => {
                type_check(range_key, v)?;
                match op {
                    Comparator::Eq => {
                        out.lower = Some((v.clone(), true));
                        out.upper = Some((v.clone(), true));
                    }
                    Comparator::Lt => out.upper = Some((v.clone(), false)),
                    Comparator::Le => out.upper = Some((v.clone(), true)),
                    Comparator::Gt => out.lower = Some((v.clone(), false)),
                    Comparator::Ge => out.lower = Some((v.clone(), true)),
                    Comparator::Ne => unreachable!("refused above"),
                }
            }
            Condition::Between(_, Operand::Value(low), Operand::Value(high)) => {
                type_check(range_key, low)?;
                type_check(range_key, high)?;
                if crate::expr::order_of(low, high) == Some(std::cmp::Ordering::Greater) {
                    return Err(TablesError::Validation(format!(
                        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower operand: AttributeValue: {{{}:{}}}, upper operand: AttributeValue: {{{}:{}}}",
                        low.type_name(), show(low), high.type_name(), show(high)
                    )));
                }
                out.lower = Some((low.clone(), true));
                out.upper = Some((high.clone(), true));
            }
            Condition::BeginsWith(_, Operand::Value(prefix)) => {
                if matches!(prefix, Value::N(_)) || range_key.kind.name() == "N" {
                    return Err(TablesError::Validation(format!(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                        prefix.type_name()
                    )));
                }
                type_check(range_key, prefix)?;
                out.prefix = Some(prefix.clone());
            }
            _ => {
                return Err(TablesError::Validation(
                    "Query key condition not supported".into(),
                ))
            }
        }
    }
    Ok(out)
}

fn show(v: &Value) -> String {
    match v {
        Value::S(s) => s.clone(),
        Value::N(n) => n.to_string(),
        other => other.to_json().to_string(),
    }
}
