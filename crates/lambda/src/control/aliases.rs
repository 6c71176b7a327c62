//! Aliases: CreateAlias, UpdateAlias, DeleteAlias (GetAlias and ListAliases read the
//! [`Registry`]). An alias names a version and may send a share of traffic to a second one.

use std::collections::BTreeMap;
use std::sync::Arc;

use nubo_store::Change;
use nubo_wire::arn::FunctionRef;
use nubo_wire::{AliasName, Violation};

use super::collections::{self, ALIASES, POLICIES};
use super::functions::new_revision;
use super::records::{AliasRecord, AliasSnapshot, LATEST};
use super::registry::{FunctionState, Registry};
use crate::ControlError;

/// The AWS not-found error for an alias.
pub fn alias_not_found(function: &FunctionRef, alias: &str) -> ControlError {
    ControlError::NotFound(format!(
        "Alias not found: {}",
        nubo_wire::arn::qualified_function_arn(&function.scope, &function.name, alias)
    ))
}

/// Checks an alias's versions and weights against the function's versions.
fn check_target(
    state: &FunctionState,
    function: &FunctionRef,
    version: &str,
    weights: &BTreeMap<String, f64>,
) -> Result<(), ControlError> {
    if state.version_named(version).is_none() {
        return Err(Registry::not_found(
            &function.scope,
            &function.name,
            Some(version),
        ));
    }
    if weights.len() > 1 {
        return Err(ControlError::InvalidParameter(
            "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
        ));
    }
    for (extra, weight) in weights {
        if !(0.0..=1.0).contains(weight) || weight.is_nan() {
            return Err(Violation::new(
                weight,
                "routingConfig.additionalVersionWeights",
                "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]",
            )
            .into());
        }
        if version == LATEST || extra == LATEST {
            return Err(ControlError::InvalidParameter(
                "$LATEST is not supported for an alias pointing to more than 1 version".into(),
            ));
        }
        if extra == version {
            return Err(ControlError::InvalidParameter(format!(
                "Invalid function version {extra}. Function version {extra} is already included in routing configuration."
            )));
        }
        if state.version_named(extra).is_none() {
            return Err(ControlError::InvalidParameter(format!(
                "Function version {extra} does not exist for function {}",
                function.name
            )));
        }
    }
    Ok(())
}

impl Registry {
    /// Stages the put of an alias and swaps it into the copied state.
    fn put_alias(
        &self,
        function: &FunctionRef,
        state: &mut FunctionState,
        transaction: &mut nubo_store::Transaction,
        alias: AliasRecord,
    ) -> Result<AliasSnapshot, ControlError> {
        transaction.put_json(
            ALIASES,
            &collections::key(&function.scope, &function.name, &alias.name),
            &alias,
        )?;
        let snapshot = Arc::new(alias);
        state
            .aliases
            .insert(snapshot.name.clone(), snapshot.clone());
        Ok(snapshot)
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        function: &FunctionRef,
        alias: &AliasName,
        version: &str,
        description: String,
        weights: BTreeMap<String, f64>,
    ) -> Result<AliasSnapshot, ControlError> {
        self.modify(function, |state, transaction| {
            if state.aliases.contains_key(alias.as_str()) {
                return Err(ControlError::Conflict(format!(
                    "Alias already exists: {}",
                    nubo_wire::arn::qualified_function_arn(&function.scope, &function.name, alias)
                )));
            }
            check_target(state, function, version, &weights)?;
            let record = AliasRecord {
                function_name: function.name.to_string(),
                name: alias.to_string(),
                function_version: version.to_owned(),
                description,
                additional_version_weights: weights,
                revision_id: new_revision(),
            };
            self.put_alias(function, state, transaction, record)
        })
        .await
    }

    /// UpdateAlias: `None` leaves a member as it is.
    pub async fn update_alias(
        &self,
        function: &FunctionRef,
        alias: &str,
        version: Option<String>,
        description: Option<String>,
        weights: Option<BTreeMap<String, f64>>,
        revision_id: Option<&str>,
    ) -> Result<AliasSnapshot, ControlError> {
        self.modify(function, |state, transaction| {
            let current = state
                .aliases
                .get(alias)
                .cloned()
                .ok_or_else(|| alias_not_found(function, alias))?;
            if revision_id.is_some_and(|expected| expected != current.revision_id) {
                return Err(ControlError::PreconditionFailed(
                    super::validate::REVISION_MISMATCH.into(),
                ));
            }
            let mut next = (*current).clone();
            if let Some(v) = version {
                next.function_version = v;
            }
            if let Some(d) = description {
                next.description = d;
            }
            if let Some(w) = weights {
                next.additional_version_weights = w;
            }
            check_target(
                state,
                function,
                &next.function_version,
                &next.additional_version_weights,
            )?;
            next.revision_id = new_revision();
            self.put_alias(function, state, transaction, next)
        })
        .await
    }

    /// DeleteAlias (idempotent for a missing alias, as Lambda is).
    pub async fn delete_alias(
        &self,
        function: &FunctionRef,
        alias: &str,
    ) -> Result<(), ControlError> {
        self.modify(function, |state, transaction| {
            // The alias and its settings go in one transaction.
            let key = collections::key(&function.scope, &function.name, alias);
            transaction.change(Change::delete(ALIASES, &key));
            self.provisioned.delete(transaction, &key);
            self.event_invoke.delete(transaction, &key);
            transaction.change(Change::delete(POLICIES, &key));
            state.aliases.remove(alias);
            state.policies.remove(alias);
            Ok(())
        })
        .await
    }
}
