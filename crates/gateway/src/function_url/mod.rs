//! Function URLs: one HTTPS-style endpoint per function (or alias), payload 2.0, AuthType NONE.
//!
//! The configs are Lambda resources (their control API lives in the Lambda API at the edge) but
//! their data plane is the gateway's: same event builder, response mapping and CORS.

use std::collections::HashMap;
use std::sync::Arc;

use nubo_lambda::Registry;
use nubo_store::{Documents, ListQuery, Precondition};
use nubo_wire::AwsError;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::http_api::model::{new_id, Cors};

/// Store collection of Function URL configs (keyed `{function}` or `{function}:{qualifier}`).
pub const URL_COLLECTION: &str = "function-url";

/// Lambda's `Cors` shape (PascalCase members).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlCors {
    /// Credentials allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    /// Allowed headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_headers: Option<Vec<String>>,
    /// Allowed methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_methods: Option<Vec<String>>,
    /// Allowed origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_origins: Option<Vec<String>>,
    /// Exposed headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_headers: Option<Vec<String>>,
    /// Preflight cache seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i64>,
}

impl From<&UrlCors> for Cors {
    fn from(c: &UrlCors) -> Self {
        Cors {
            allow_credentials: c.allow_credentials,
            allow_headers: c.allow_headers.clone(),
            allow_methods: c.allow_methods.clone(),
            allow_origins: c.allow_origins.clone(),
            expose_headers: c.expose_headers.clone(),
            max_age: c.max_age,
        }
    }
}

/// A stored Function URL config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUrlRecord {
    /// 32 lowercase alphanumerics: the host label.
    pub url_id: String,
    /// Function name.
    pub function_name: String,
    /// Alias (or `$LATEST`) the URL invokes, if any.
    pub qualifier: Option<String>,
    /// `NONE` or `AWS_IAM` (the latter refused at the data plane until the auth issue).
    pub auth_type: String,
    /// CORS.
    pub cors: Option<UrlCors>,
    /// `BUFFERED` or `RESPONSE_STREAM` (served buffered).
    pub invoke_mode: String,
    /// ISO-8601.
    pub creation_time: String,
    /// ISO-8601.
    pub last_modified_time: String,
}

/// Create/UpdateFunctionUrlConfig members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UrlInput {
    /// `NONE` or `AWS_IAM`.
    pub auth_type: Option<String>,
    /// CORS.
    pub cors: Option<UrlCors>,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    pub invoke_mode: Option<String>,
}

fn document_id(name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("{name}:{q}"),
        None => name.to_owned(),
    }
}

/// Owns Function URL configs (in memory, written through to the store).
pub struct UrlRegistry {
    documents: Arc<dyn Documents>,
    functions: Arc<Registry>,
    by_key: RwLock<HashMap<String, Arc<FunctionUrlRecord>>>,
    by_url: RwLock<HashMap<String, Arc<FunctionUrlRecord>>>,
    /// Serializes writers; held across the store write, so it is an async mutex.
    writes: tokio::sync::Mutex<()>,
}

fn now() -> String {
    nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc())
}

fn check_input(input: &UrlInput) -> Result<(), AwsError> {
    if let Some(auth) = &input.auth_type {
        if auth != "NONE" && auth != "AWS_IAM" {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{auth}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
            )));
        }
    }
    if let Some(mode) = &input.invoke_mode {
        if mode != "BUFFERED" && mode != "RESPONSE_STREAM" {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{mode}' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
            )));
        }
    }
    if let Some(cors) = &input.cors {
        if cors.max_age.is_some_and(|m| !(0..=86_400).contains(&m)) {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400",
            ));
        }
    }
    Ok(())
}

impl UrlRegistry {
    /// Loads every config from the store (after the functions). Configs of functions that no
    /// longer exist — left by a crash between a function's delete and its URL's — are removed.
    pub async fn load(
        documents: Arc<dyn Documents>,
        functions: Arc<Registry>,
    ) -> Result<Self, nubo_store::StoreError> {
        let mut by_key = HashMap::new();
        let mut by_url = HashMap::new();
        for stored in documents.list(URL_COLLECTION, ListQuery::all()).await? {
            match serde_json::from_str::<FunctionUrlRecord>(&stored.body) {
                Ok(record) if functions.get(&record.function_name).is_none() => {
                    documents
                        .delete(URL_COLLECTION, &stored.key, Precondition::None)
                        .await?;
                }
                Ok(record) => {
                    let record = Arc::new(record);
                    by_url.insert(record.url_id.clone(), record.clone());
                    by_key.insert(stored.key, record);
                }
                Err(e) => {
                    tracing::error!(id = %stored.key, error = %e, "skipping an unreadable Function URL")
                }
            }
        }
        Ok(Self {
            documents,
            functions,
            by_key: RwLock::new(by_key),
            by_url: RwLock::new(by_url),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The config behind a URL id (data plane; memory only).
    pub fn by_url_id(&self, url_id: &str) -> Option<Arc<FunctionUrlRecord>> {
        self.by_url.read().get(url_id).cloned()
    }

    fn not_found(&self, name: &str, qualifier: Option<&str>) -> AwsError {
        let _ = qualifier;
        AwsError::resource_not_found(format!(
            "The resource you requested does not exist. (Service: Lambda, Status Code: 404) FunctionUrlConfig not found for function {name}"
        ))
    }

    fn check_function(&self, name: &str, qualifier: Option<&str>) -> Result<(), AwsError> {
        self.functions
            .resolve(name, qualifier)
            .map(|_| ())
            .map_err(AwsError::from)
    }

    async fn persist(
        &self,
        key: &str,
        record: FunctionUrlRecord,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        let text = serde_json::to_string(&record).map_err(|e| AwsError::service(e.to_string()))?;
        self.documents
            .put(URL_COLLECTION, key, text, Precondition::None)
            .await
            .map_err(|e| AwsError::service(e.to_string()))?;
        let record = Arc::new(record);
        self.by_key.write().insert(key.to_owned(), record.clone());
        self.by_url
            .write()
            .insert(record.url_id.clone(), record.clone());
        Ok(record)
    }

    /// CreateFunctionUrlConfig.
    pub async fn create(
        &self,
        name: &str,
        qualifier: Option<&str>,
        input: UrlInput,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        check_input(&input)?;
        let auth_type = input.auth_type.clone().ok_or_else(|| {
            AwsError::validation("1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null")
        })?;
        self.check_function(name, qualifier)?;
        let _writes = self.writes.lock().await;
        let key = document_id(name, qualifier);
        if self.by_key.read().contains_key(&key) {
            return Err(AwsError::resource_conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                self.function_arn(name, qualifier)
            )));
        }
        let at = now();
        self.persist(
            &key,
            FunctionUrlRecord {
                url_id: new_id(32),
                function_name: name.to_owned(),
                qualifier: qualifier.map(str::to_owned),
                auth_type,
                cors: input.cors,
                invoke_mode: input.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
                creation_time: at.clone(),
                last_modified_time: at,
            },
        )
        .await
    }

    /// GetFunctionUrlConfig.
    pub fn get(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        self.check_function(name, qualifier)?;
        self.by_key
            .read()
            .get(&document_id(name, qualifier))
            .cloned()
            .ok_or_else(|| self.not_found(name, qualifier))
    }

    /// UpdateFunctionUrlConfig.
    pub async fn update(
        &self,
        name: &str,
        qualifier: Option<&str>,
        input: UrlInput,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        check_input(&input)?;
        let _writes = self.writes.lock().await;
        let mut record = (*self.get(name, qualifier)?).clone();
        if let Some(auth) = input.auth_type {
            record.auth_type = auth;
        }
        if input.cors.is_some() {
            record.cors = input.cors;
        }
        if let Some(mode) = input.invoke_mode {
            record.invoke_mode = mode;
        }
        record.last_modified_time = now();
        self.persist(&document_id(name, qualifier), record).await
    }

    /// DeleteFunctionUrlConfig.
    pub async fn delete(&self, name: &str, qualifier: Option<&str>) -> Result<(), AwsError> {
        let _writes = self.writes.lock().await;
        let record = self.get(name, qualifier)?;
        let key = document_id(name, qualifier);
        self.documents
            .delete(URL_COLLECTION, &key, Precondition::None)
            .await
            .map_err(|e| AwsError::service(e.to_string()))?;
        self.by_key.write().remove(&key);
        self.by_url.write().remove(&record.url_id);
        Ok(())
    }

    /// ListFunctionUrlConfigs: every config of a function, ordered by qualifier.
    pub fn list(&self, name: &str) -> Result<Vec<Arc<FunctionUrlRecord>>, AwsError> {
        self.check_function(name, None)?;
        let mut all: Vec<Arc<FunctionUrlRecord>> = self
            .by_key
            .read()
            .values()
            .filter(|r| r.function_name == name)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        Ok(all)
    }

    /// Drops the configs of a function that no longer exists (called on registry changes, inside
    /// the runtime). They stop serving at once; their documents are deleted by a task (a crash
    /// before it ends leaves orphans that [`Self::load`] removes).
    pub fn forget_deleted(self: &Arc<Self>, name: &str) {
        if self.functions.get(name).is_some() {
            return;
        }
        let doomed: Vec<String> = {
            let mut by_key = self.by_key.write();
            let keys: Vec<String> = by_key
                .iter()
                .filter(|(_, r)| r.function_name == name)
                .map(|(k, _)| k.clone())
                .collect();
            let mut by_url = self.by_url.write();
            for key in &keys {
                if let Some(record) = by_key.remove(key) {
                    by_url.remove(&record.url_id);
                }
            }
            keys
        };
        if doomed.is_empty() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let _writes = this.writes.lock().await;
            for key in doomed {
                // A function of the same name may have been created again, with a new URL,
                // before this task ran: that one stays.
                if this.by_key.read().contains_key(&key) {
                    continue;
                }
                if let Err(e) = this
                    .documents
                    .delete(URL_COLLECTION, &key, Precondition::None)
                    .await
                {
                    tracing::error!(error = %e, "could not remove the Function URL of a deleted function");
                }
            }
        });
    }

    /// The function ARN a config names (qualified when it has a qualifier).
    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        let scope = self.functions.scope();
        match qualifier {
            Some(q) => nubo_wire::arn::qualified_function_arn(scope, name, q),
            None => nubo_wire::arn::function_arn(scope, name),
        }
    }
}
