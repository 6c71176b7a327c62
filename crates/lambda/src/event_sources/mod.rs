//! Event-source mappings: queues whose messages a function processes in batches. The mappings
//! are documents (`record.rs`), held in memory and written through; each enabled mapping has a
//! running poller (`sqs.rs`) that starts and stops with it. Filters are event patterns
//! (`pattern.rs`, shared with EventBridge rules).

pub mod dynamodb;
pub mod pattern;
pub mod record;
mod sqs;

use std::collections::HashMap;
use std::sync::Arc;

use nubo_queues::QueueRegistry;
use nubo_store::{Change, Documents, ListQuery};
use nubo_wire::arn::FunctionRef;
use nubo_wire::Scope;
use parking_lot::RwLock;
use tokio::sync::watch;

pub use record::MappingRecord;

use crate::{ControlError, Invoker};

struct Entry {
    record: Arc<MappingRecord>,
    /// Set while the mapping is enabled: telling it `true` (or dropping it) stops the poller.
    poller: Option<watch::Sender<bool>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(stop) = &self.poller {
            let _ = stop.send(true);
        }
    }
}

/// Every mapping, by UUID.
pub struct EventSourceMappings {
    documents: Arc<dyn Documents>,
    invoker: Arc<Invoker>,
    queues: Arc<QueueRegistry>,
    tables: Arc<nubo_tables::Tables>,
    mappings: RwLock<HashMap<String, Entry>>,
    writer: tokio::sync::Mutex<()>,
}

fn not_found(uuid: &str) -> ControlError {
    ControlError::NotFound(format!(
        "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
    ))
}

impl EventSourceMappings {
    /// Loads the mappings and starts the pollers of the enabled ones.
    pub async fn load(
        documents: Arc<dyn Documents>,
        invoker: Arc<Invoker>,
        queues: Arc<QueueRegistry>,
        tables: Arc<nubo_tables::Tables>,
    ) -> Result<Arc<Self>, ControlError> {
        let this = Arc::new(Self {
            documents: documents.clone(),
            invoker,
            queues,
            tables,
            mappings: RwLock::new(HashMap::new()),
            writer: tokio::sync::Mutex::new(()),
        });
        for document in documents.list(record::COLLECTION, ListQuery::all()).await? {
            match serde_json::from_str::<MappingRecord>(&document.body) {
                Ok(record) => {
                    let entry = this.entry(Arc::new(record));
                    let uuid = entry.record.uuid.clone();
                    this.mappings.write().insert(uuid, entry);
                }
                Err(e) => {
                    tracing::error!(key = %document.key, error = %e, "skipping an unreadable mapping")
                }
            }
        }
        Ok(this)
    }

    /// How many mappings there are.
    pub fn count(&self) -> usize {
        self.mappings.read().len()
    }

    fn function_of(record: &MappingRecord) -> Option<FunctionRef> {
        let scope = Scope {
            region: record.region.clone(),
            account_id: record.account.clone(),
        };
        FunctionRef::parse(&record.function_arn, &scope).ok()
    }

    fn entry(&self, record: Arc<MappingRecord>) -> Entry {
        let poller = match (record.enabled, Self::function_of(&record)) {
            (true, Some(function)) if dynamodb::is_stream_arn(&record.event_source_arn) => {
                Some(dynamodb::start(
                    record.clone(),
                    function,
                    self.invoker.clone(),
                    self.tables.clone(),
                    self.queues.clone(),
                    self.documents.clone(),
                ))
            }
            (true, Some(function)) => Some(sqs::start(
                record.clone(),
                function,
                self.invoker.clone(),
                self.queues.clone(),
            )),
            _ => None,
        };
        Entry { record, poller }
    }

    /// The tables (a stream mapping resolves its starting position through them).
    pub fn tables(&self) -> &Arc<nubo_tables::Tables> {
        &self.tables
    }

    /// Whether the queue an ARN names is FIFO (`None`: no such queue).
    pub fn queue_is_fifo(&self, arn: &str) -> Option<bool> {
        self.queues.by_arn(arn).ok().map(|q| q.meta().settings.fifo)
    }

    /// One mapping of `scope`.
    pub fn get(&self, scope: &Scope, uuid: &str) -> Result<Arc<MappingRecord>, ControlError> {
        self.mappings
            .read()
            .get(uuid)
            .map(|e| e.record.clone())
            .filter(|r| r.account == scope.account_id && r.region == scope.region)
            .ok_or_else(|| not_found(uuid))
    }

    /// The mappings of `scope`, by UUID, optionally of one source and one function.
    pub fn list(
        &self,
        scope: &Scope,
        source: Option<&str>,
        function: Option<&FunctionRef>,
    ) -> Vec<Arc<MappingRecord>> {
        let mut found: Vec<Arc<MappingRecord>> = self
            .mappings
            .read()
            .values()
            .map(|e| e.record.clone())
            .filter(|r| r.account == scope.account_id && r.region == scope.region)
            .filter(|r| source.is_none_or(|s| r.event_source_arn == s))
            .filter(|r| {
                function.is_none_or(|f| {
                    Self::function_of(r).is_some_and(|mine| {
                        mine.name == f.name
                            && (f.qualifier.is_none() || mine.qualifier == f.qualifier)
                    })
                })
            })
            .collect();
        found.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        found
    }

    /// Creates a mapping (checked by the caller with [`record::check`]).
    pub async fn create(&self, record: MappingRecord) -> Result<Arc<MappingRecord>, ControlError> {
        let _turn = self.writer.lock().await;
        let function = Self::function_of(&record).ok_or_else(|| {
            ControlError::InvalidParameter(format!(
                "{} is not a function ARN.",
                record.function_arn
            ))
        })?;
        let duplicate = self.mappings.read().values().find_map(|e| {
            let other = &e.record;
            (other.event_source_arn == record.event_source_arn
                && Self::function_of(other).is_some_and(|f| f == function))
            .then(|| other.uuid.clone())
        });
        if let Some(uuid) = duplicate {
            return Err(ControlError::Conflict(format!(
                "An event source mapping with {} arn (\" {} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {uuid}",
                if dynamodb::is_stream_arn(&record.event_source_arn) { "DynamoDB" } else { "SQS" },
                record.event_source_arn, function.name
            )));
        }
        self.write(&record).await?;
        let record = Arc::new(record);
        let entry = self.entry(record.clone());
        self.mappings.write().insert(record.uuid.clone(), entry);
        Ok(record)
    }

    async fn write(&self, record: &MappingRecord) -> Result<(), ControlError> {
        let body = serde_json::to_string(record)
            .map_err(|e| ControlError::InvalidParameter(format!("encoding a mapping: {e}")))?;
        self.documents
            .commit(vec![Change::put(record::COLLECTION, &record.key(), body)])
            .await?;
        Ok(())
    }

    /// Changes a mapping: `change` edits a copy, which is checked by `check`, stored, and
    /// replaces the running poller.
    pub async fn update(
        &self,
        scope: &Scope,
        uuid: &str,
        change: impl FnOnce(&mut MappingRecord) -> Result<(), ControlError>,
    ) -> Result<Arc<MappingRecord>, ControlError> {
        let _turn = self.writer.lock().await;
        let mut record = (*self.get(scope, uuid)?).clone();
        change(&mut record)?;
        record.last_modified_ms = crate::asynchronous::now_ms();
        self.write(&record).await?;
        let record = Arc::new(record);
        let entry = self.entry(record.clone());
        // The old entry's poller stops when it is dropped here.
        self.mappings.write().insert(uuid.to_owned(), entry);
        Ok(record)
    }

    /// Deletes a mapping and stops its poller.
    pub async fn delete(
        &self,
        scope: &Scope,
        uuid: &str,
    ) -> Result<Arc<MappingRecord>, ControlError> {
        let _turn = self.writer.lock().await;
        let record = self.get(scope, uuid)?;
        self.documents
            .commit(vec![
                Change::delete(record::COLLECTION, &record.key()),
                Change::delete(dynamodb::CHECKPOINTS, &record.uuid),
            ])
            .await?;
        self.mappings.write().remove(uuid);
        Ok(record)
    }
}
