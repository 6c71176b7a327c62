//! [`Tables`]: every table of every scope in memory, written through to the store's documents
//! (collection `dynamodb-table`), and the control operations (create, describe, list, update,
//! delete, tags, TTL). Item operations are in `items.rs`, streams in `streams.rs`.
//!
//! Each table has a write lock: an item write reads the item, checks its condition and commits
//! the new item, its index entries and its stream record while holding it, so a condition is
//! never checked against an item another writer is replacing. Reads take no lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nubo_store::{Change, Documents, ListQuery, Precondition, TableRows, TableWrite};
use nubo_wire::Scope;
use parking_lot::RwLock;

use crate::schema::{self, IndexRecord, StreamSettings, TableRecord, Throughput};
use crate::TablesError;

/// One table: its record (replaced whole on every change) and its write lock.
pub struct Table {
    record: RwLock<Arc<TableRecord>>,
    pub(crate) writes: tokio::sync::Mutex<()>,
}

impl Table {
    /// The table's current record.
    pub fn record(&self) -> Arc<TableRecord> {
        self.record.read().clone()
    }
}

/// Every table.
pub struct Tables {
    pub(crate) documents: Arc<dyn Documents>,
    pub(crate) rows: Arc<dyn TableRows>,
    tables: RwLock<HashMap<String, Arc<Table>>>,
    control: tokio::sync::Mutex<()>,
}

fn scoped(scope: &Scope, name: &str) -> String {
    format!("{}/{}/{}", scope.account_id, scope.region, name)
}

pub(crate) fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

/// A change UpdateTable asks for.
#[derive(Debug, Default)]
pub struct TableUpdate {
    /// New attribute definitions (merged by name).
    pub attributes: Vec<schema::KeyAttribute>,
    /// `BillingMode`.
    pub billing_mode: Option<String>,
    /// `ProvisionedThroughput`.
    pub throughput: Option<Throughput>,
    /// Global indexes to create.
    pub create_indexes: Vec<IndexRecord>,
    /// Global indexes to delete.
    pub delete_indexes: Vec<String>,
    /// `StreamSpecification`: `Some(Some(view))` enables, `Some(None)` disables.
    pub stream: Option<Option<String>>,
    /// `DeletionProtectionEnabled`.
    pub deletion_protection: Option<bool>,
}

fn not_found(name: &str) -> TablesError {
    TablesError::NotFound(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

fn stream_label(now_ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(now_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]"
    ))
    .unwrap_or_default()
}

impl Tables {
    /// Loads every table.
    pub async fn load(
        documents: Arc<dyn Documents>,
        rows: Arc<dyn TableRows>,
    ) -> Result<Arc<Self>, TablesError> {
        let mut tables = HashMap::new();
        for document in documents.list(schema::COLLECTION, ListQuery::all()).await? {
            match serde_json::from_str::<TableRecord>(&document.body) {
                Ok(record) => {
                    tables.insert(
                        record.key(),
                        Arc::new(Table {
                            record: RwLock::new(Arc::new(record)),
                            writes: tokio::sync::Mutex::new(()),
                        }),
                    );
                }
                Err(e) => {
                    tracing::error!(key = %document.key, error = %e, "skipping an unreadable table")
                }
            }
        }
        Ok(Arc::new(Self {
            documents,
            rows,
            tables: RwLock::new(tables),
            control: tokio::sync::Mutex::new(()),
        }))
    }

    /// A table of `scope`, or DynamoDB's not-found error for item operations.
    pub fn table(&self, scope: &Scope, name: &str) -> Result<Arc<Table>, TablesError> {
        self.tables
            .read()
            .get(&scoped(scope, name))
            .cloned()
            .ok_or_else(|| TablesError::NotFound("Requested resource not found".into()))
    }

    /// A table's record, with DescribeTable's not-found text.
    pub fn describe(&self, scope: &Scope, name: &str) -> Result<Arc<TableRecord>, TablesError> {
        self.tables
            .read()
            .get(&scoped(scope, name))
            .map(|t| t.record())
            .ok_or_else(|| not_found(name))
    }

    /// Every table of `scope`, by name.
    pub fn list(&self, scope: &Scope) -> Vec<String> {
        let prefix = format!("{}/{}/", scope.account_id, scope.region);
        let mut names: Vec<String> = self
            .tables
            .read()
            .iter()
            .filter(|&(k, _t)| k.starts_with(&prefix))
            .map(|(_k, t)| t.record().name.clone())
            .collect();
        names.sort();
        names
    }

    /// How many tables there are.
    pub fn count(&self) -> usize {
        self.tables.read().len()
    }

    /// Every table (the TTL sweeper and stream readers walk them).
    pub fn all(&self) -> Vec<Arc<Table>> {
        self.tables.read().values().cloned().collect()
    }

    /// Creates a table (checked by [`schema::check_new_table`]).
    pub async fn create(&self, mut record: TableRecord) -> Result<Arc<TableRecord>, TablesError> {
        schema::check_new_table(&record)?;
        let _control = self.control.lock().await;
        let key = record.key();
        if self.tables.read().contains_key(&key) {
            return Err(TablesError::InUse(format!(
                "Table already exists: {}",
                record.name
            )));
        }
        let now = now_ms();
        record.created_ms = now;
        record.storage_id = uuid::Uuid::new_v4().to_string();
        record.table_id = uuid::Uuid::new_v4().to_string();
        if let Some(stream) = &mut record.stream {
            stream.label = stream_label(now);
        }
        let body = serde_json::to_string(&record).map_err(|e| TablesError::Store(e.to_string()))?;
        self.documents
            .put(schema::COLLECTION, &key, body, Precondition::Absent)
            .await?;
        let record = Arc::new(record);
        self.tables.write().insert(
            key,
            Arc::new(Table {
                record: RwLock::new(record.clone()),
                writes: tokio::sync::Mutex::new(()),
            }),
        );
        Ok(record)
    }

    /// Replaces a table's record through `change` (under the table's write lock, so no item
    /// write sees half of it). `change` may return writes to commit with it (index backfills).
    pub(crate) async fn change(
        &self,
        scope: &Scope,
        name: &str,
        change: impl FnOnce(&mut TableRecord) -> Result<Vec<TableWrite>, TablesError>,
    ) -> Result<Arc<TableRecord>, TablesError> {
        let _control = self.control.lock().await;
        let table = self
            .tables
            .read()
            .get(&scoped(scope, name))
            .cloned()
            .ok_or_else(|| not_found(name))?;
        let _writes = table.writes.lock().await;
        let mut record = (*table.record()).clone();
        let writes = change(&mut record)?;
        if !writes.is_empty() {
            self.rows.write(writes).await?;
        }
        let body = serde_json::to_string(&record).map_err(|e| TablesError::Store(e.to_string()))?;
        self.documents
            .put(schema::COLLECTION, &record.key(), body, Precondition::None)
            .await?;
        let record = Arc::new(record);
        *table.record.write() = record.clone();
        Ok(record)
    }

    /// The entries a new index needs for the table's existing items.
    async fn index_entries(
        &self,
        record: &TableRecord,
        index: &IndexRecord,
    ) -> Result<Vec<TableWrite>, TablesError> {
        let mut writes = Vec::new();
        let mut after = None;
        loop {
            let rows = self
                .rows
                .scan(nubo_store::ScanRange {
                    table: record.storage_id.clone(),
                    index: String::new(),
                    hash_from: 0,
                    hash_to: u16::MAX,
                    after: after.clone(),
                    limit: 1000,
                })
                .await?;
            let done = rows.len() < 1000;
            for row in rows {
                after = Some((
                    row.hash,
                    row.pk.clone(),
                    row.sk.clone(),
                    row.reference.clone(),
                ));
                let item = crate::items::decode(&row.body)?;
                let key = crate::keys::item_key(record, &item)?;
                // An item whose attribute has the wrong type for the new key is left out.
                if let Ok(Some(entry)) = crate::keys::index_key(index, &item, &key) {
                    writes.push(TableWrite::Put {
                        table: record.storage_id.clone(),
                        index: index.name.clone(),
                        row: entry.row(row.body),
                    });
                }
            }
            if done {
                return Ok(writes);
            }
        }
    }

    /// Applies UpdateTable.
    pub async fn update(
        &self,
        scope: &Scope,
        name: &str,
        update: TableUpdate,
    ) -> Result<Arc<TableRecord>, TablesError> {
        // A new index is filled from the table's items before the record names it.
        let existing = self.describe(scope, name)?;
        let mut backfill = Vec::new();
        for index in &update.create_indexes {
            let mut probe = (*existing).clone();
            for attribute in &update.attributes {
                if !probe.attributes.iter().any(|a| a.name == attribute.name) {
                    probe.attributes.push(attribute.clone());
                }
            }
            if probe.index(&index.name).is_some() {
                return Err(TablesError::Validation(format!(
                    "One or more parameter values were invalid: Index with name {} already exists",
                    index.name
                )));
            }
            backfill.extend(self.index_entries(&probe, index).await?);
        }
        let now = now_ms();
        self.change(scope, name, move |record| {
            let mut writes = backfill;
            for attribute in update.attributes {
                match record
                    .attributes
                    .iter_mut()
                    .find(|a| a.name == attribute.name)
                {
                    Some(existing) => *existing = attribute,
                    None => record.attributes.push(attribute),
                }
            }
            if let Some(mode) = update.billing_mode {
                record.billing_mode = mode;
            }
            if update.throughput.is_some() {
                record.throughput = update.throughput;
            }
            for index in update.delete_indexes {
                let before = record.global_indexes.len();
                record.global_indexes.retain(|i| i.name != index);
                if record.global_indexes.len() == before {
                    return Err(TablesError::NotFound(format!(
                        "Requested resource not found: Index: {index} not found"
                    )));
                }
                writes.push(TableWrite::Drop {
                    table: record.storage_id.clone(),
                    index: Some(index),
                });
            }
            record.global_indexes.extend(update.create_indexes);
            if let Some(stream) = update.stream {
                match (stream, &record.stream) {
                    (Some(_), Some(_)) => {
                        return Err(TablesError::Validation(format!(
                            "Table already has an enabled stream: TableName: {}",
                            record.name
                        )))
                    }
                    (Some(view_type), None) => {
                        record.stream = Some(StreamSettings {
                            view_type,
                            label: stream_label(now),
                        })
                    }
                    (None, Some(_)) => record.stream = None,
                    (None, None) => {
                        return Err(TablesError::Validation(
                            "Table already has no stream enabled".to_owned(),
                        ))
                    }
                }
            }
            if let Some(protection) = update.deletion_protection {
                record.deletion_protection = protection;
            }
            let used: Vec<String> = std::iter::once(&record.key)
                .chain(record.indexes().map(|i| &i.key))
                .flat_map(|k| std::iter::once(&k.hash).chain(k.range.as_ref()))
                .map(|a| a.name.clone())
                .collect();
            record.attributes.retain(|a| used.contains(&a.name));
            Ok(writes)
        })
        .await
    }

    /// Deletes a table and its rows.
    pub async fn delete(&self, scope: &Scope, name: &str) -> Result<Arc<TableRecord>, TablesError> {
        let _control = self.control.lock().await;
        let key = scoped(scope, name);
        let table = self
            .tables
            .read()
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(name))?;
        let _writes = table.writes.lock().await;
        let record = table.record();
        if record.deletion_protection {
            return Err(TablesError::Validation("Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.".to_string()));
        }
        self.documents
            .commit(vec![Change::delete(schema::COLLECTION, &key)])
            .await?;
        self.tables.write().remove(&key);
        let mut writes = vec![TableWrite::Drop {
            table: record.storage_id.clone(),
            index: None,
        }];
        if let Some(stream) = record.stream_storage() {
            writes.push(TableWrite::Trim {
                stream,
                before_ms: i64::MAX,
            });
        }
        self.rows.write(writes).await?;
        Ok(record)
    }

    /// Adds or replaces tags.
    pub async fn tag(
        &self,
        scope: &Scope,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), TablesError> {
        self.change(scope, name, |record| {
            record.tags.extend(tags);
            if record.tags.len() > 50 {
                return Err(TablesError::LimitExceeded(
                    "One or more parameter values were invalid: Number of tags exceeds the limit of 50".into(),
                ));
            }
            Ok(Vec::new())
        })
        .await
        .map(|_| ())
    }

    /// Removes tags.
    pub async fn untag(
        &self,
        scope: &Scope,
        name: &str,
        keys: Vec<String>,
    ) -> Result<(), TablesError> {
        self.change(scope, name, |record| {
            for key in keys {
                record.tags.remove(&key);
            }
            Ok(Vec::new())
        })
        .await
        .map(|_| ())
    }

    /// Enables (`Some(attribute)`) or disables TTL.
    pub async fn set_ttl(
        &self,
        scope: &Scope,
        name: &str,
        enabled: bool,
        attribute: String,
    ) -> Result<(), TablesError> {
        self.change(scope, name, |record| {
            match (enabled, &record.ttl_attribute) {
                (true, Some(_)) => {
                    return Err(TablesError::Validation(
                        "TimeToLive is already enabled".into(),
                    ))
                }
                (false, None) => {
                    return Err(TablesError::Validation(
                        "TimeToLive is already disabled".into(),
                    ))
                }
                _ => {}
            }
            record.ttl_attribute = enabled.then_some(attribute);
            Ok(Vec::new())
        })
        .await
        .map(|_| ())
    }
}

/// How often expired items are deleted and old stream records trimmed.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs [`Tables::sweep`] every [`SWEEP_INTERVAL`] until the process ends (DynamoDB deletes
/// expired items within days; a short interval makes TTL observable in development).
pub fn start_sweeper(tables: Arc<Tables>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match tables.sweep(now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "expired DynamoDB items deleted"),
                Err(e) => tracing::warn!(error = %e, "the DynamoDB TTL sweep failed"),
            }
        }
    });
}
