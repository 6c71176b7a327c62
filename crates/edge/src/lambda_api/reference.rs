//! The function a Lambda API request is about, parsed before the handler runs.
//!
//! Every function route carries `{function}` in its path: a name, a partial ARN or an ARN,
//! possibly with `:qualifier`. [`Function`] checks it and the `Qualifier` query parameter against
//! the operation's model shapes ([`input_shapes`]: every broken constraint in one
//! `ValidationException`), parses it in the request's scope (the region it was signed for; an ARN
//! into another region is "not reachable"), merges the two qualifiers (a different one is AWS's
//! `InvalidParameterValueException`), answers "not found" for what fits the model but names
//! nothing Lambda can hold (a 65-character name, `$latest`), and the handler resolves the typed
//! [`FunctionRef`] where it wants it
//! (`registry.resolve(&function)`). [`Unqualified`] is the function as a whole, for the operations
//! whose input is the function alone: its qualifier (if any) dropped, and its existence checked —
//! every such operation answers "not found" before it looks at its input.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use http::request::Parts;
use nubo_lambda::FunctionSnapshot;
use nubo_wire::arn::{FunctionRef, InputShapes, RequestedFunction};
use nubo_wire::AwsError;

use crate::auth::OperationName;
use crate::query::Query;
use crate::response::ApiError;
use crate::{EdgeState, RequestScope};

/// `{function}` + `?Qualifier=`, in the request's scope.
#[derive(Debug, Clone)]
pub(crate) struct Function(pub(crate) FunctionRef);

/// `{function}` alone, its qualifier (if any) dropped, with its `$LATEST`: an existing function
/// as a whole.
#[derive(Debug, Clone)]
pub(crate) struct Unqualified(pub(crate) FunctionRef, pub(crate) FunctionSnapshot);

/// The model shapes of an operation's function reference (botocore's `lambda/2015-03-31`): most
/// take a `NamespacedFunctionName`, the older ones a `FunctionName`; Function URL configs and
/// provisioned concurrency have qualifier shapes of their own.
pub(crate) fn input_shapes(operation: &str) -> InputShapes {
    match operation {
        "CreateFunctionUrlConfig"
        | "GetFunctionUrlConfig"
        | "UpdateFunctionUrlConfig"
        | "DeleteFunctionUrlConfig"
        | "ListFunctionUrlConfigs" => InputShapes::FUNCTION_URL,
        "CreateFunction"
        | "UpdateFunctionCode"
        | "UpdateFunctionConfiguration"
        | "PublishVersion"
        | "CreateAlias"
        | "GetAlias"
        | "UpdateAlias"
        | "DeleteAlias"
        | "ListAliases"
        | "PutFunctionConcurrency"
        | "GetFunctionConcurrency"
        | "DeleteFunctionConcurrency"
        | "GetProvisionedConcurrencyConfig"
        | "PutProvisionedConcurrencyConfig"
        | "DeleteProvisionedConcurrencyConfig"
        | "ListProvisionedConcurrencyConfigs" => InputShapes::FUNCTION_NAME,
        _ => InputShapes::NAMESPACED,
    }
}

/// The path's `{function}` (with `?Qualifier=`) checked against the operation's shapes, in the
/// request's scope.
async fn from_path(parts: &mut Parts, state: &Arc<EdgeState>) -> Result<FunctionRef, ApiError> {
    let RequestScope(scope) = RequestScope::from_request_parts(parts, state).await?;
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError(AwsError::validation(e.body_text())))?;
    // Percent-decoded already (`arn%3Aaws%3A…` arrives as `arn:aws:…`).
    let Some((_, function)) = params.iter().find(|(key, _)| *key == "function") else {
        return Err(ApiError(AwsError::service(
            "a function route without {function}",
        )));
    };
    let shapes = parts
        .extensions
        .get::<OperationName>()
        .map_or(InputShapes::NAMESPACED, |op| input_shapes(op.0));
    let query = Query::parse(parts.uri.query());
    let requested = RequestedFunction::parse(function, query.get("Qualifier"), &scope, shapes)?;
    Ok(requested.to_ref(&scope)?)
}

impl FromRequestParts<Arc<EdgeState>> for Function {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<EdgeState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(from_path(parts, state).await?))
    }
}

impl FromRequestParts<Arc<EdgeState>> for Unqualified {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<EdgeState>,
    ) -> Result<Self, Self::Rejection> {
        let function = from_path(parts, state).await?.qualified(None);
        let latest = state.invoker.registry().function(&function)?;
        Ok(Self(function, latest))
    }
}
