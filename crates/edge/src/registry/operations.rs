//! Operation tables of the json and query bindings: typed handlers, erased for the registry.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use nubo_wire::protocol::json::{self, JsonVersion};
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::xml::XmlOutput;
use nubo_wire::{AwsError, Scope};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// How large a json or query request body may be unless a service says otherwise.
pub(crate) const DEFAULT_MAX_BODY: usize = 6 * 1024 * 1024;

/// What an operation handler knows about its request besides the input.
#[derive(Debug, Clone)]
pub(crate) struct OperationContext {
    /// The account and region the request acts in.
    pub(crate) scope: Scope,
    /// The id minted at ingress (the bindings put it in replies; handlers may log it).
    #[allow(dead_code)]
    pub(crate) request_id: String,
    /// The verified caller (absent only when a test dispatches past the guard).
    pub(crate) caller: Option<std::sync::Arc<nubo_identity::Caller>>,
    /// The request's `Host` header (SQS builds queue URLs from it).
    pub(crate) host: Option<String>,
    /// The request's path (query-protocol SQS requests may name their queue by it).
    pub(crate) path: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(super) type JsonHandler =
    Box<dyn Fn(OperationContext, Bytes) -> BoxFuture<Result<Vec<u8>, AwsError>> + Send + Sync>;
pub(super) type QueryHandler = Box<
    dyn Fn(OperationContext, QueryRequest) -> BoxFuture<Result<Box<dyn XmlOutput + Send>, AwsError>>
        + Send
        + Sync,
>;

/// A json-protocol service's operations, keyed by the full `X-Amz-Target`.
pub(crate) struct JsonOperations {
    pub(super) version: JsonVersion,
    pub(super) max_body: usize,
    pub(super) handlers: HashMap<&'static str, JsonHandler>,
    pub(super) query_codes: Option<QueryCodes>,
}

/// A query-compatible service's legacy error codes, by the json error's code (SQS:
/// `QueueDoesNotExist` → `AWS.SimpleQueueService.NonExistentQueue`).
pub(crate) type QueryCodes = fn(&str) -> Option<&'static str>;

impl JsonOperations {
    /// No operations yet.
    pub(crate) fn new(version: JsonVersion) -> Self {
        Self {
            version,
            max_body: DEFAULT_MAX_BODY,
            handlers: HashMap::new(),
            query_codes: None,
        }
    }

    /// Marks the service `awsQueryCompatible`: its json errors carry `x-amzn-query-error:
    /// {legacy code};{Sender|Receiver}`, which botocore reports as the error's code.
    pub(crate) fn query_compatible(mut self, codes: QueryCodes) -> Self {
        self.query_codes = Some(codes);
        self
    }

    /// The largest body the service accepts.
    pub(crate) fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Registers `handler` for `target` (e.g. `DynamoDB_20120810.PutItem`): the body is decoded
    /// into `I` (malformed → `SerializationException`) and the output encoded as JSON.
    pub(crate) fn operation<I, O, F, Fut>(mut self, target: &'static str, handler: F) -> Self
    where
        I: DeserializeOwned,
        O: Serialize,
        F: Fn(OperationContext, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, AwsError>> + Send + 'static,
    {
        let handler: JsonHandler = Box::new(move |context, body| {
            let input = match json::decode::<I>(&body) {
                Ok(input) => input,
                Err(err) => return Box::pin(std::future::ready(Err(err))),
            };
            let output = handler(context, input);
            Box::pin(async move {
                let output = output.await?;
                serde_json::to_vec(&output)
                    .map_err(|e| AwsError::service(format!("The reply could not be encoded: {e}")))
            })
        });
        self.handlers.insert(target, handler);
        self
    }
}

/// A query-protocol service's operations, keyed by `Action`.
pub(crate) struct QueryOperations {
    pub(super) xml_namespace: &'static str,
    pub(super) max_body: usize,
    pub(super) handlers: HashMap<&'static str, QueryHandler>,
    pub(super) error_codes: Option<QueryCodes>,
}

impl QueryOperations {
    /// No operations yet; replies carry `xml_namespace`.
    pub(crate) fn new(xml_namespace: &'static str) -> Self {
        Self {
            xml_namespace,
            max_body: DEFAULT_MAX_BODY,
            handlers: HashMap::new(),
            error_codes: None,
        }
    }

    /// Error codes the query protocol names differently from the handlers' (SQS's legacy codes).
    pub(crate) fn error_codes(mut self, codes: QueryCodes) -> Self {
        self.error_codes = Some(codes);
        self
    }

    /// Registers `handler` for `action`: it gets the decoded fields and returns the output the
    /// reply carries in `<{action}Result>`.
    pub(crate) fn operation<O, F, Fut>(mut self, action: &'static str, handler: F) -> Self
    where
        O: XmlOutput + Send + 'static,
        F: Fn(OperationContext, QueryRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, AwsError>> + Send + 'static,
    {
        let handler: QueryHandler = Box::new(move |context, request| {
            let output = handler(context, request);
            Box::pin(async move {
                let output: Box<dyn XmlOutput + Send> = Box::new(output.await?);
                Ok(output)
            })
        });
        self.handlers.insert(action, handler);
        self
    }
}
