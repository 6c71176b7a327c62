//! Where the lambda layer keeps its records in the store: document collections, key layout and the
//! asynchronous-invocation queue.
//!
//! Keys go from the general to the particular, `{function}/{qualifier}`, so everything about a
//! function is one key prefix (`{function}/` — function names contain no `/`), and a scope put in
//! front later (`{account}/{region}/…`) is a prefix too. The store's migration of its first schema
//! writes the same names (`nubo-store`'s `sqlite/schema.rs`); change both together.

/// Function versions: `{name}/$LATEST`, `{name}/{number}` → `FunctionRecord`.
pub const FUNCTIONS: &str = "lambda-function";
/// Aliases: `{function}/{alias}` → `AliasRecord`.
pub const ALIASES: &str = "lambda-alias";
/// Provisioned-concurrency settings: `{function}/{qualifier}` → `ProvisionedConfig`.
pub const PROVISIONED: &str = "lambda-provisioned-concurrency";
/// Asynchronous-invocation settings: `{function}/{qualifier}` → `EventInvokeConfig`.
pub const EVENT_INVOKE_CONFIGS: &str = "lambda-event-invoke-config";
/// The durable queue of accepted `Event` invocations.
pub const ASYNC_QUEUE: &str = "lambda-async";

/// The key of a function's record for `qualifier` in any of the collections above.
pub fn key(function: &str, qualifier: &str) -> String {
    format!("{function}/{qualifier}")
}

/// The prefix of every key of a function.
pub fn function_prefix(function: &str) -> String {
    format!("{function}/")
}

/// Splits a key back into (function, qualifier).
pub fn split(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}
