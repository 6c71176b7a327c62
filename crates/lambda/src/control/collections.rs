//! Where the lambda layer keeps its records in the store: document collections, key layout and the
//! asynchronous-invocation queue.
//!
//! Keys go from the general to the particular, `{account}/{region}/{function}/{qualifier}`, so
//! everything of a scope is one key prefix and everything of a function another (account ids,
//! region names, function names and qualifiers contain no `/`). Data dirs written before scopes
//! keyed records `{function}/{qualifier}`; [`adopt_unscoped`] moves those into the server's default
//! scope once, at start. The store's migration of its first schema writes those older keys
//! (`nubo-store`'s `sqlite/schema.rs`); change both together.

use nubo_store::{Change, Documents, ListQuery, StoreError};
use nubo_wire::Scope;

/// Function versions: `…/{name}/$LATEST`, `…/{name}/{number}` → `FunctionRecord`.
pub const FUNCTIONS: &str = "lambda-function";
/// Aliases: `…/{function}/{alias}` → `AliasRecord`.
pub const ALIASES: &str = "lambda-alias";
/// Provisioned-concurrency settings: `…/{function}/{qualifier}` → `ProvisionedConfig`.
pub const PROVISIONED: &str = "lambda-provisioned-concurrency";
/// Asynchronous-invocation settings: `…/{function}/{qualifier}` → `EventInvokeConfig`.
pub const EVENT_INVOKE_CONFIGS: &str = "lambda-event-invoke-config";
/// Resource-based policies: `…/{function}/{qualifier}` (`$LATEST` for the function's own) →
/// `FunctionPolicy`.
pub const POLICIES: &str = "lambda-policy";
/// The durable queue of accepted `Event` invocations.
pub const ASYNC_QUEUE: &str = "lambda-async";

/// Every collection whose keys are `…/{function}/{qualifier}`.
pub const FUNCTION_COLLECTIONS: [&str; 5] = [
    FUNCTIONS,
    ALIASES,
    PROVISIONED,
    EVENT_INVOKE_CONFIGS,
    POLICIES,
];

/// The prefix of every key of a scope.
pub fn scope_prefix(scope: &Scope) -> String {
    format!("{}/{}/", scope.account_id, scope.region)
}

/// The prefix of every key of a function.
pub fn function_prefix(scope: &Scope, function: &str) -> String {
    format!("{}/{}/{function}/", scope.account_id, scope.region)
}

/// The key of a function's record for `qualifier` in any of the collections above.
pub fn key(scope: &Scope, function: &str, qualifier: &str) -> String {
    format!(
        "{}/{}/{function}/{qualifier}",
        scope.account_id, scope.region
    )
}

/// Splits a key back into (scope, function, qualifier).
pub fn split(key: &str) -> Option<(Scope, &str, &str)> {
    let mut parts = key.split('/');
    let (account, region, function, qualifier) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let scope = Scope {
        region: region.to_owned(),
        account_id: account.to_owned(),
    };
    Some((scope, function, qualifier))
}

/// Moves records written before scopes (`{function}/{qualifier}`) into `default`'s keys, in one
/// commit (all or nothing, so a crash leaves either layout whole). Returns how many moved.
pub async fn adopt_unscoped(
    documents: &dyn Documents,
    default: &Scope,
) -> Result<usize, StoreError> {
    let mut changes = Vec::new();
    for collection in FUNCTION_COLLECTIONS {
        for stored in documents.list(collection, ListQuery::all()).await? {
            let Some((function, qualifier)) = stored.key.split_once('/') else {
                continue;
            };
            if qualifier.contains('/') {
                continue;
            }
            changes.push(Change::put(
                collection,
                &key(default, function, qualifier),
                stored.body,
            ));
            changes.push(Change::delete(collection, &stored.key));
        }
    }
    let moved = changes.len() / 2;
    if moved > 0 {
        documents.commit(changes).await?;
        tracing::info!(
            records = moved,
            account = %default.account_id,
            region = %default.region,
            "moved unscoped lambda records into the default scope"
        );
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let scope = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        let key = key(&scope, "f", "$LATEST");
        assert_eq!(key, "123456789012/eu-west-1/f/$LATEST");
        assert!(key.starts_with(&function_prefix(&scope, "f")));
        assert!(key.starts_with(&scope_prefix(&scope)));
        assert_eq!(split(&key), Some((scope, "f", "$LATEST")));
        assert_eq!(split("f/$LATEST"), None);
    }
}
