//! Change sets, apply with rollback, delete.
//!
//! Resources are applied one at a time in dependency order; each one's properties are resolved
//! against the physical ids and attributes of those already applied, compared with what the
//! previous deploy recorded, and only a difference calls the [`Provisioner`]. A failure undoes
//! this deploy's steps in reverse (deletes what it created, re-applies the recorded properties of
//! what it updated) so the stack is left as the previous record describes. Resources the template
//! no longer has, and the old halves of replacements, are deleted only after everything else
//! succeeded.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::intrinsics::{self, Scope};
use crate::template::Expanded;

/// A resource as created: what the next deploy compares against and what `Ref`/`GetAtt` read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    /// `Type`.
    pub kind: String,
    /// The physical id (`Ref`).
    pub physical_id: String,
    /// The resolved properties it was applied with.
    pub properties: Value,
    /// `Fn::GetAtt` values.
    pub attributes: Map<String, Value>,
    /// Position in the apply order (deletes go in reverse).
    pub order: usize,
    /// `DeletionPolicy: Retain`.
    #[serde(default)]
    pub retain: bool,
}

/// What a provisioner reports for a resource it created or updated.
#[derive(Debug, Clone, Default)]
pub struct Physical {
    /// The physical id; an update that returns another id replaced the resource.
    pub id: String,
    /// `Fn::GetAtt` values.
    pub attributes: Map<String, Value>,
}

/// One output: its value and description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// The resolved value.
    pub value: Value,
    /// `Description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A stack as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackRecord {
    /// Stack name.
    pub name: String,
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …
    pub status: String,
    /// When it last changed (RFC 3339).
    pub updated: String,
    /// The template file name.
    pub template_file: String,
    /// The template text.
    pub template: String,
    /// The user's parameter values.
    pub parameters: BTreeMap<String, String>,
    /// Resources by logical id.
    pub resources: BTreeMap<String, Deployed>,
    /// Outputs by name.
    pub outputs: BTreeMap<String, Output>,
}

/// Creates, updates and deletes single resources.
#[async_trait::async_trait]
pub trait Provisioner: Send + Sync {
    /// Creates `kind` with `properties` (resolved).
    async fn create(
        &self,
        logical: &str,
        kind: &str,
        properties: &Value,
    ) -> Result<Physical, String>;
    /// Brings `old` to `properties`; another id than `old.physical_id` means it was replaced
    /// (the engine deletes the old one after the deploy succeeds).
    async fn update(
        &self,
        logical: &str,
        kind: &str,
        properties: &Value,
        old: &Deployed,
    ) -> Result<Physical, String>;
    /// Deletes a resource (gone already counts as deleted).
    async fn delete(&self, logical: &str, old: &Deployed) -> Result<(), String>;
}

/// What a deploy does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Created.
    Add,
    /// Updated (or replaced).
    Modify,
    /// Deleted.
    Remove,
    /// Unchanged.
    Keep,
}

/// One line of a change set.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Logical id.
    pub logical: String,
    /// Type.
    pub kind: String,
    /// What happens.
    pub action: Action,
}

/// Why a deploy stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{message}{}", resource.as_ref().map(|r| format!("resource {r}: ")).unwrap_or_default(), if *rolled_back { " (rolled back to the previous state)" } else { "" })]
pub struct DeployError {
    /// The resource that failed.
    pub resource: Option<String>,
    /// Why.
    pub message: String,
    /// Whether this deploy's changes were undone.
    pub rolled_back: bool,
}

fn fail(resource: Option<&str>, message: impl Into<String>) -> DeployError {
    DeployError {
        resource: resource.map(str::to_owned),
        message: message.into(),
        rolled_back: false,
    }
}

/// The apply order: every resource after what it depends on.
pub fn order(expanded: &Expanded) -> Result<Vec<String>, DeployError> {
    let mut remaining: BTreeMap<&str, BTreeSet<&str>> = expanded
        .resources
        .iter()
        .map(|(id, r)| {
            (
                id.as_str(),
                r.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready: Vec<&str> = remaining
            .iter()
            .filter(|(_, d)| d.is_empty())
            .map(|(id, _)| *id)
            .collect();
        if ready.is_empty() {
            let ids: Vec<&str> = remaining.keys().copied().collect();
            return Err(fail(
                None,
                format!("circular dependency between resources {}", ids.join(", ")),
            ));
        }
        for id in ready {
            remaining.remove(id);
            for deps in remaining.values_mut() {
                deps.remove(id);
            }
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

fn lookup<'a>(
    resources: &'a BTreeMap<String, Deployed>,
    pending: Option<&'a BTreeSet<String>>,
) -> impl Fn(&str, Option<&str>) -> Option<Value> + 'a {
    move |id: &str, attr: Option<&str>| {
        if let Some(d) = resources.get(id) {
            return match attr {
                None => Some(Value::String(d.physical_id.clone())),
                Some(a) => d.attributes.get(a).cloned(),
            };
        }
        // Planning: a resource not created yet stands for a value that will change.
        pending.filter(|p| p.contains(id)).map(|_| {
            Value::String(format!(
                "<pending {id}{}>",
                attr.map(|a| format!(".{a}")).unwrap_or_default()
            ))
        })
    }
}

fn resolve_properties(
    expanded: &Expanded,
    id: &str,
    resources: &BTreeMap<String, Deployed>,
    pending: Option<&BTreeSet<String>>,
) -> Result<Value, DeployError> {
    let resource = lookup(resources, pending);
    let scope = Scope {
        parameters: &expanded.parameters,
        conditions: &expanded.conditions,
        mappings: &expanded.mappings,
        resource: &resource,
    };
    intrinsics::resolve(&expanded.resources[id].properties, &scope)
        .map(|v| v.unwrap_or(Value::Object(Map::new())))
        .map_err(|e| fail(Some(id), e))
}

/// Attributes that change whenever their resource is updated (a function's revision, a
/// published version), as opposed to ids and ARNs, which an in-place update keeps.
const VOLATILE: &[&str] = &["NuboRevision", "Version", "DeploymentId"];

/// The change set a deploy of `expanded` over `previous` would make.
pub fn plan(
    expanded: &Expanded,
    previous: Option<&StackRecord>,
) -> Result<Vec<Change>, DeployError> {
    let empty = BTreeMap::new();
    let old = previous.map(|p| &p.resources).unwrap_or(&empty);
    let mut known = old.clone();
    let mut pending: BTreeSet<String> = BTreeSet::new();
    let mut changes = Vec::new();
    for id in order(expanded)? {
        let r = &expanded.resources[&id];
        let action = match old.get(&id).filter(|d| d.kind == r.kind) {
            None => Action::Add,
            Some(d) => {
                let props = resolve_properties(expanded, &id, &known, Some(&pending))?;
                if props == d.properties {
                    Action::Keep
                } else {
                    Action::Modify
                }
            }
        };
        match action {
            Action::Add => {
                pending.insert(id.clone());
            }
            // Updated in place: the same id; attributes derived from the properties change.
            Action::Modify => {
                if let Some(d) = known.get_mut(&id) {
                    for volatile in VOLATILE {
                        if let Some(v) = d.attributes.get_mut(*volatile) {
                            *v = Value::String(format!("<pending {id}.{volatile}>"));
                        }
                    }
                }
            }
            _ => {}
        }
        changes.push(Change {
            logical: id.clone(),
            kind: r.kind.clone(),
            action,
        });
    }
    for (id, d) in old {
        let gone = expanded.resources.get(id).is_none_or(|r| r.kind != d.kind);
        if gone {
            changes.push(Change {
                logical: id.clone(),
                kind: d.kind.clone(),
                action: Action::Remove,
            });
        }
    }
    Ok(changes)
}

enum Step {
    Created(String, Deployed),
    Updated(String, Deployed, Deployed),
}

/// Applies `expanded` over `previous`; on success the new resources and outputs, the old
/// resources the template dropped deleted. `log` hears one line per step.
pub async fn deploy(
    expanded: &Expanded,
    previous: Option<&StackRecord>,
    provisioner: &dyn Provisioner,
    log: &mut (dyn FnMut(String) + Send),
) -> Result<(BTreeMap<String, Deployed>, BTreeMap<String, Output>), DeployError> {
    let empty = BTreeMap::new();
    let old = previous.map(|p| &p.resources).unwrap_or(&empty);
    let mut done: BTreeMap<String, Deployed> = BTreeMap::new();
    let mut journal: Vec<Step> = Vec::new();
    let mut obsolete: Vec<(String, Deployed)> = Vec::new();
    let result: Result<(), DeployError> = async {
        for (position, id) in order(expanded)?.into_iter().enumerate() {
            let r = &expanded.resources[&id];
            let props = resolve_properties(expanded, &id, &done, None)?;
            let before = old.get(&id).filter(|d| d.kind == r.kind);
            let deployed = match before {
                Some(d) if d.properties == props => Deployed {
                    order: position,
                    retain: r.retain,
                    ..d.clone()
                },
                Some(d) => {
                    log(format!("UPDATE  {id} ({})", r.kind));
                    let physical = provisioner
                        .update(&id, &r.kind, &props, d)
                        .await
                        .map_err(|e| fail(Some(&id), e))?;
                    let new = Deployed {
                        kind: r.kind.clone(),
                        physical_id: physical.id,
                        properties: props,
                        attributes: physical.attributes,
                        order: position,
                        retain: r.retain,
                    };
                    journal.push(Step::Updated(id.clone(), d.clone(), new.clone()));
                    if new.physical_id != d.physical_id {
                        obsolete.push((id.clone(), d.clone()));
                    }
                    new
                }
                None => {
                    log(format!("CREATE  {id} ({})", r.kind));
                    let physical = provisioner
                        .create(&id, &r.kind, &props)
                        .await
                        .map_err(|e| fail(Some(&id), e))?;
                    let new = Deployed {
                        kind: r.kind.clone(),
                        physical_id: physical.id,
                        properties: props,
                        attributes: physical.attributes,
                        order: position,
                        retain: r.retain,
                    };
                    journal.push(Step::Created(id.clone(), new.clone()));
                    new
                }
            };
            done.insert(id, deployed);
        }
        Ok(())
    }
    .await;
    if let Err(mut error) = result {
        log(format!("FAILED  {error}"));
        let mut clean = true;
        for step in journal.into_iter().rev() {
            let outcome = match &step {
                Step::Created(id, new) => {
                    log(format!("ROLLBACK delete {id}"));
                    provisioner.delete(id, new).await
                }
                Step::Updated(id, old, new) if old.physical_id != new.physical_id => {
                    log(format!("ROLLBACK delete replacement of {id}"));
                    provisioner.delete(id, new).await
                }
                Step::Updated(id, old, new) => {
                    log(format!("ROLLBACK restore {id}"));
                    provisioner
                        .update(id, &old.kind, &old.properties, new)
                        .await
                        .map(|_| ())
                }
            };
            if let Err(e) = outcome {
                clean = false;
                log(format!("ROLLBACK failed: {e}"));
            }
        }
        error.rolled_back = clean;
        return Err(error);
    }
    // The template's outputs, then the old resources nothing uses any more.
    let mut outputs = BTreeMap::new();
    {
        let resource = lookup(&done, None);
        let scope = Scope {
            parameters: &expanded.parameters,
            conditions: &expanded.conditions,
            mappings: &expanded.mappings,
            resource: &resource,
        };
        for (name, (expr, description)) in &expanded.outputs {
            let value = intrinsics::resolve(expr, &scope)
                .map_err(|e| fail(None, format!("output {name}: {e}")))?
                .unwrap_or(Value::Null);
            outputs.insert(
                name.clone(),
                Output {
                    value,
                    description: description.clone(),
                },
            );
        }
    }
    let mut removed: Vec<(String, Deployed)> = old
        .iter()
        .filter(|(id, d)| expanded.resources.get(*id).is_none_or(|r| r.kind != d.kind))
        .map(|(id, d)| (id.clone(), d.clone()))
        .collect();
    removed.extend(obsolete);
    removed.sort_by_key(|(_, d)| std::cmp::Reverse(d.order));
    for (id, d) in removed {
        if d.retain {
            log(format!("RETAIN  {id} ({})", d.kind));
            continue;
        }
        log(format!("DELETE  {id} ({})", d.kind));
        if let Err(e) = provisioner.delete(&id, &d).await {
            log(format!("DELETE  {id} failed, left in place: {e}"));
        }
    }
    Ok((done, outputs))
}

/// Deletes every resource of `record`, in reverse order; the ids that could not be deleted.
pub async fn destroy(
    record: &StackRecord,
    provisioner: &dyn Provisioner,
    log: &mut (dyn FnMut(String) + Send),
) -> Vec<(String, String)> {
    let mut resources: Vec<(&String, &Deployed)> = record.resources.iter().collect();
    resources.sort_by_key(|(_, d)| std::cmp::Reverse(d.order));
    let mut failed = Vec::new();
    for (id, d) in resources {
        if d.retain {
            log(format!("RETAIN  {id} ({})", d.kind));
            continue;
        }
        log(format!("DELETE  {id} ({})", d.kind));
        if let Err(e) = provisioner.delete(id, d).await {
            failed.push((id.clone(), e));
        }
    }
    failed
}

#[cfg(test)]
mod tests;
