//! Function URLs: one HTTPS-style endpoint per function (or alias), payload 2.0, AuthType NONE.
//!
//! The configs are Lambda resources (their control API lives in the Lambda API at the edge) but
//! their data plane is the gateway's: the same pipeline phases ([`crate::pipeline`]) with their
//! own stage and route selection. Configs are scoped by (account, region) like their functions;
//! URL ids are unique across scopes, so the data plane finds a config by id alone.

use std::collections::HashMap;
use std::sync::Arc;

use nubo_lambda::Registry;
use nubo_store::Documents;
use nubo_wire::{AwsError, Scope};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::http_api::model::{new_id, Cors};
use crate::plane::cors::CorsPolicy;
use crate::plane::LambdaTarget;
use crate::write_through::{scoped_key, Mirrored};

/// Store collection of Function URL configs (keyed `{account}/{region}/{function}[:{qualifier}]`).
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
    /// The account and region of the function: named by the store key, not stored in the body.
    #[serde(skip)]
    pub scope: Scope,
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

/// How a Function URL's callers are authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// Anyone may call it (the function's resource policy permitting).
    None,
    /// Callers sign with SigV4 and need `lambda:InvokeFunctionUrl`.
    AwsIam,
}

/// A config as the data plane uses it: compiled when it is written.
#[derive(Debug)]
pub struct CompiledUrl {
    /// The stored config.
    pub record: Arc<FunctionUrlRecord>,
    /// The function it invokes.
    pub target: LambdaTarget,
    /// Its CORS policy.
    pub cors: Option<CorsPolicy>,
    /// Its `AuthType`.
    pub auth_type: AuthType,
}

impl CompiledUrl {
    /// `None` for a record whose function reference no longer parses (records are validated when
    /// they are written, so only a hand-edited store gets there): such a URL does not serve.
    fn compile(record: &Arc<FunctionUrlRecord>) -> Option<Self> {
        let function = nubo_wire::arn::FunctionRef::parse(&record.function_name, &record.scope)
            .and_then(|f| f.with_query_qualifier(record.qualifier.as_deref()))
            .ok()?;
        Some(Self {
            record: record.clone(),
            target: LambdaTarget {
                scope: record.scope.clone(),
                function,
            },
            cors: record
                .cors
                .as_ref()
                .map(|c| CorsPolicy::from(&Cors::from(c))),
            auth_type: if record.auth_type == "NONE" {
                AuthType::None
            } else {
                AuthType::AwsIam
            },
        })
    }
}

/// Owns Function URL configs (in memory, written through to the store).
pub struct UrlRegistry {
    configs: Mirrored<FunctionUrlRecord>,
    functions: Arc<Registry>,
    /// The data plane's index: URL id → compiled config, changed after each write.
    by_url: RwLock<Arc<HashMap<String, Arc<CompiledUrl>>>>,
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

fn store_error(e: nubo_store::StoreError) -> AwsError {
    AwsError::service(e.to_string())
}

/// The seam to the function registry: whether a function exists in `scope`. The registry holds
/// the functions of its one scope until Lambda resources are scoped; a function of any other scope
/// does not exist. The one place to change when the registry answers per scope.
fn function_exists(functions: &Registry, scope: &Scope, name: &str) -> bool {
    functions.get(scope, name).is_some()
}

impl UrlRegistry {
    /// Loads every config from the store (after the functions). Configs of functions that no
    /// longer exist — left by a crash between a function's delete and its URL's — are removed;
    /// configs stored before resources were scoped belong to the registry's scope.
    pub async fn load(
        documents: Arc<dyn Documents>,
        functions: Arc<Registry>,
    ) -> Result<Self, nubo_store::StoreError> {
        let default = functions.default_scope().clone();
        let configs = Mirrored::load(
            documents,
            URL_COLLECTION,
            &default,
            |scope, _, record: &mut FunctionUrlRecord| {
                record.scope = scope.clone();
                function_exists(&functions, scope, &record.function_name)
            },
        )
        .await?;
        let registry = Self {
            configs,
            functions,
            by_url: RwLock::new(Arc::default()),
        };
        registry.reindex();
        Ok(registry)
    }

    fn reindex(&self) {
        let index = self
            .configs
            .snapshot()
            .values()
            .filter_map(|record| {
                Some((
                    record.url_id.clone(),
                    Arc::new(CompiledUrl::compile(record)?),
                ))
            })
            .collect();
        *self.by_url.write() = Arc::new(index);
    }

    /// Changes the data plane's index: `removed` URL ids out, `added` in.
    fn index(&self, removed: &[&str], added: Option<&Arc<FunctionUrlRecord>>) {
        let mut index = self.by_url.write();
        let mut next = (**index).clone();
        for url_id in removed {
            next.remove(*url_id);
        }
        if let Some((record, compiled)) =
            added.and_then(|record| Some((record, CompiledUrl::compile(record)?)))
        {
            next.insert(record.url_id.clone(), Arc::new(compiled));
        }
        *index = Arc::new(next);
    }

    /// A stored config that still serves: a deleted function's configs leave the index at once
    /// and the store a moment later, and count as gone in between.
    fn live(&self, key: &str) -> Option<Arc<FunctionUrlRecord>> {
        self.configs
            .get(key)
            .filter(|record| self.by_url_id(&record.url_id).is_some())
    }

    /// The compiled config behind a URL id (data plane; memory only).
    pub fn compiled(&self, url_id: &str) -> Option<Arc<CompiledUrl>> {
        self.by_url.read().get(url_id).cloned()
    }

    /// The config behind a URL id.
    pub fn by_url_id(&self, url_id: &str) -> Option<Arc<FunctionUrlRecord>> {
        self.compiled(url_id).map(|c| c.record.clone())
    }

    /// Lambda's words for a missing Function URL config (the name is not in them).
    fn not_found() -> AwsError {
        AwsError::resource_not_found("The resource you requested does not exist.")
    }

    /// The function (and alias) must exist in `scope` (the seam to the function registry).
    fn check_function(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), AwsError> {
        let function =
            nubo_wire::arn::FunctionRef::parse(name, scope)?.with_query_qualifier(qualifier)?;
        self.functions
            .resolve(&function)
            .map(|_| ())
            .map_err(AwsError::from)
    }

    fn key(scope: &Scope, name: &str, qualifier: Option<&str>) -> String {
        scoped_key(scope, &document_id(name, qualifier))
    }

    /// CreateFunctionUrlConfig.
    pub async fn create(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
        input: UrlInput,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        check_input(&input)?;
        let auth_type = input.auth_type.clone().ok_or_else(|| {
            AwsError::validation("1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null")
        })?;
        self.check_function(scope, name, qualifier)?;
        let guard = self.configs.lock().await;
        let key = Self::key(scope, name, qualifier);
        if self.live(&key).is_some() {
            return Err(AwsError::resource_conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                function_arn(scope, name, qualifier)
            )));
        }
        let url_id = loop {
            let id = new_id(32);
            if self.by_url_id(&id).is_none() {
                break id;
            }
        };
        let at = now();
        let record = FunctionUrlRecord {
            scope: scope.clone(),
            url_id,
            function_name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            auth_type,
            cors: input.cors,
            invoke_mode: input.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
            creation_time: at.clone(),
            last_modified_time: at,
        };
        let record = self
            .configs
            .put(&guard, &key, record)
            .await
            .map_err(store_error)?;
        self.index(&[], Some(&record));
        Ok(record)
    }

    /// GetFunctionUrlConfig.
    pub fn get(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        self.check_function(scope, name, qualifier)?;
        self.live(&Self::key(scope, name, qualifier))
            .ok_or_else(Self::not_found)
    }

    /// UpdateFunctionUrlConfig.
    pub async fn update(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
        input: UrlInput,
    ) -> Result<Arc<FunctionUrlRecord>, AwsError> {
        check_input(&input)?;
        let guard = self.configs.lock().await;
        let mut record = (*self.get(scope, name, qualifier)?).clone();
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
        let record = self
            .configs
            .put(&guard, &Self::key(scope, name, qualifier), record)
            .await
            .map_err(store_error)?;
        self.index(&[], Some(&record));
        Ok(record)
    }

    /// DeleteFunctionUrlConfig.
    pub async fn delete(
        &self,
        scope: &Scope,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), AwsError> {
        let guard = self.configs.lock().await;
        let record = self.get(scope, name, qualifier)?;
        self.configs
            .delete(&guard, &[Self::key(scope, name, qualifier)])
            .await
            .map_err(store_error)?;
        self.index(&[&record.url_id], None);
        Ok(())
    }

    /// ListFunctionUrlConfigs: every config of a function, ordered by qualifier.
    pub fn list(&self, scope: &Scope, name: &str) -> Result<Vec<Arc<FunctionUrlRecord>>, AwsError> {
        self.check_function(scope, name, None)?;
        let mut all: Vec<Arc<FunctionUrlRecord>> = self
            .configs
            .snapshot()
            .values()
            .filter(|r| &r.scope == scope && r.function_name == name)
            .filter(|r| self.by_url_id(&r.url_id).is_some())
            .cloned()
            .collect();
        all.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
        Ok(all)
    }

    /// Drops the configs of a function that no longer exists (called on registry changes, inside
    /// the runtime). They stop serving at once; their documents are deleted by a task (a crash
    /// before it ends leaves orphans that [`Self::load`] removes).
    pub fn forget_deleted(self: &Arc<Self>, scope: &Scope, name: &str) {
        if function_exists(&self.functions, scope, name) {
            return;
        }
        let doomed: Vec<(String, String)> = self
            .configs
            .snapshot()
            .iter()
            .filter(|(_, r)| &r.scope == scope && r.function_name == name)
            .map(|(key, r)| (key.clone(), r.url_id.clone()))
            .collect();
        if doomed.is_empty() {
            return;
        }
        let url_ids: Vec<&str> = doomed.iter().map(|(_, id)| id.as_str()).collect();
        self.index(&url_ids, None);
        let this = self.clone();
        tokio::spawn(async move {
            let guard = this.configs.lock().await;
            // A function of the same name may have been created again, with a new URL, before
            // this task ran: that one (another URL id under the same key) stays.
            let keys: Vec<String> = doomed
                .into_iter()
                .filter(|(key, url_id)| this.configs.get(key).is_some_and(|r| &r.url_id == url_id))
                .map(|(key, _)| key)
                .collect();
            if let Err(e) = this.configs.delete(&guard, &keys).await {
                tracing::error!(error = %e, "could not remove the Function URL of a deleted function");
            }
        });
    }
}

/// The function ARN a config names (qualified when it has a qualifier), in its scope.
pub fn function_arn(scope: &Scope, name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => nubo_wire::arn::qualified_function_arn(scope, name, q),
        None => nubo_wire::arn::function_arn(scope, name),
    }
}
