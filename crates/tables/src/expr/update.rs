//! Applying an `UpdateExpression` to an item. Every value is computed from the item as it was
//! before the update (as DynamoDB does), then the actions are applied.

use super::eval::resolve;
use super::{Path, SetValue, Step, Update};
use crate::value::{Item, Value};
use crate::TablesError;

fn invalid(message: &str) -> TablesError {
    TablesError::Validation(message.to_owned())
}

fn wrong_type() -> TablesError {
    invalid("An operand in the update expression has an incorrect data type")
}

fn missing() -> TablesError {
    invalid("The provided expression refers to an attribute that does not exist in the item")
}

fn bad_path() -> TablesError {
    invalid("The document path provided in the update expression is invalid for update")
}

fn compute(item: &Item, value: &SetValue) -> Result<Value, TablesError> {
    match value {
        SetValue::Value(v) => Ok(v.clone()),
        SetValue::Path(p) => resolve(item, p).cloned().ok_or_else(missing),
        SetValue::IfNotExists(p, fallback) => match resolve(item, p) {
            Some(v) => Ok(v.clone()),
            None => compute(item, fallback),
        },
        SetValue::ListAppend(a, b) => match (compute(item, a)?, compute(item, b)?) {
            (Value::L(mut a), Value::L(b)) => {
                a.extend(b);
                Ok(Value::L(a))
            }
            _ => Err(wrong_type()),
        },
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (Value::N(a), Value::N(b)) = (compute(item, a)?, compute(item, b)?) else {
                return Err(wrong_type());
            };
            let result = if matches!(value, SetValue::Plus(..)) {
                a.add(&b)
            } else {
                a.sub(&b)
            };
            result
                .map(Value::N)
                .map_err(|e| TablesError::Validation(e.to_string()))
        }
    }
}

/// The slot a path names, created for the last step (its parent must exist).
fn put(item: &mut Item, path: &Path, value: Value) -> Result<(), TablesError> {
    let (last, parents) = path.0.split_last().ok_or_else(bad_path)?;
    if parents.is_empty() {
        if let Step::Member(name) = last {
            item.insert(name.clone(), value);
            return Ok(());
        }
        return Err(bad_path());
    }
    let parent = walk_mut(item, parents).ok_or_else(bad_path)?;
    match (last, parent) {
        (Step::Member(name), Value::M(map)) => {
            map.insert(name.clone(), value);
        }
        (Step::Index(i), Value::L(list)) => {
            if *i < list.len() {
                list[*i] = value;
            } else {
                list.push(value);
            }
        }
        _ => return Err(bad_path()),
    }
    Ok(())
}

fn walk_mut<'a>(item: &'a mut Item, steps: &[Step]) -> Option<&'a mut Value> {
    let (first, rest) = steps.split_first()?;
    let Step::Member(name) = first else {
        return None;
    };
    let mut current = item.get_mut(name)?;
    for step in rest {
        current = match (step, current) {
            (Step::Member(name), Value::M(map)) => map.get_mut(name)?,
            (Step::Index(i), Value::L(list)) => list.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

fn remove(item: &mut Item, path: &Path) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    if parents.is_empty() {
        if let Step::Member(name) = last {
            item.remove(name);
        }
        return;
    }
    match (last, walk_mut(item, parents)) {
        (Step::Member(name), Some(Value::M(map))) => {
            map.remove(name);
        }
        (Step::Index(i), Some(Value::L(list))) if *i < list.len() => {
            list.remove(*i);
        }
        _ => {}
    }
}

fn add(existing: Option<&Value>, value: &Value) -> Result<Value, TablesError> {
    fn union<T: Clone + PartialEq>(mut a: Vec<T>, b: &[T]) -> Vec<T> {
        for v in b {
            if !a.contains(v) {
                a.push(v.clone());
            }
        }
        a
    }
    Ok(match (existing, value) {
        (None, Value::N(_) | Value::SS(_) | Value::NS(_) | Value::BS(_)) => value.clone(),
        (Some(Value::N(a)), Value::N(b)) => Value::N(
            a.add(b)
                .map_err(|e| TablesError::Validation(e.to_string()))?,
        ),
        (Some(Value::SS(a)), Value::SS(b)) => Value::SS(union(a.clone(), b)),
        (Some(Value::NS(a)), Value::NS(b)) => Value::NS(union(a.clone(), b)),
        (Some(Value::BS(a)), Value::BS(b)) => Value::BS(union(a.clone(), b)),
        _ => return Err(wrong_type()),
    })
}

fn delete(existing: Option<&Value>, value: &Value) -> Result<Option<Value>, TablesError> {
    fn minus<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().filter(|v| !b.contains(v)).cloned().collect()
    }
    let result = match (existing, value) {
        (None, Value::SS(_) | Value::NS(_) | Value::BS(_)) => return Ok(None),
        (Some(Value::SS(a)), Value::SS(b)) => Value::SS(minus(a, b)),
        (Some(Value::NS(a)), Value::NS(b)) => Value::NS(minus(a, b)),
        (Some(Value::BS(a)), Value::BS(b)) => Value::BS(minus(a, b)),
        _ => return Err(wrong_type()),
    };
    let empty = match &result {
        Value::SS(s) => s.is_empty(),
        Value::NS(s) => s.is_empty(),
        Value::BS(s) => s.is_empty(),
        _ => false,
    };
    Ok((!empty).then_some(result))
}

/// Applies `update` to `item` (which is the empty item with its key when there was none).
pub fn apply_update(item: &mut Item, update: &Update) -> Result<(), TablesError> {
    let before = item.clone();
    let mut writes: Vec<(&Path, Option<Value>)> = Vec::new();
    for (path, value) in &update.set {
        writes.push((path, Some(compute(&before, value)?)));
    }
    for (path, value) in &update.add {
        check_add_operand(value)?;
        writes.push((path, Some(add(resolve(&before, path), value)?)));
    }
    for (path, value) in &update.delete {
        if !matches!(value, Value::SS(_) | Value::NS(_) | Value::BS(_)) {
            return Err(TablesError::Validation(format!(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                long_type_name(value)
            )));
        }
        writes.push((path, delete(resolve(&before, path), value)?));
    }
    for (path, value) in writes {
        match value {
            Some(value) => put(item, path, value)?,
            None => remove(item, path),
        }
    }
    let mut removals: Vec<&Path> = update.remove.iter().collect();
    // Later list indexes first, so each index names the element it named before the update.
    removals.sort_by(|a, b| b.cmp(a));
    for path in removals {
        remove(item, path);
    }
    Ok(())
}

fn long_type_name(value: &Value) -> &'static str {
    match value {
        Value::S(_) => "STRING",
        Value::N(_) => "NUMBER",
        Value::B(_) => "BINARY",
        Value::Bool(_) => "BOOLEAN",
        Value::Null => "NULL",
        Value::L(_) => "LIST",
        Value::M(_) => "MAP",
        Value::SS(_) => "SET",
        Value::NS(_) => "SET",
        Value::BS(_) => "SET",
    }
}

/// The ADD action's operand must be a number or a set.
pub(crate) fn check_add_operand(value: &Value) -> Result<(), TablesError> {
    match value {
        Value::N(_) | Value::SS(_) | Value::NS(_) | Value::BS(_) => Ok(()),
        other => Err(TablesError::Validation(format!(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: {}",
            long_type_name(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::expr::Placeholders;
    use crate::value::{item_from_json, item_to_json};

    fn run(
        item: serde_json::Value,
        expression: &str,
        values: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let values: HashMap<String, Value> = item_from_json(&values).unwrap().into_iter().collect();
        let p = Placeholders::new(HashMap::new(), values);
        let update = p.update(expression).map_err(|e| e.to_string())?;
        let mut item = item_from_json(&item).unwrap();
        apply_update(&mut item, &update).map_err(|e| e.to_string())?;
        Ok(item_to_json(&item))
    }

    #[test]
    fn applies_every_action() {
        let out = run(
            json!({"id": {"S": "k"}, "n": {"N": "1"}, "l": {"L": [{"S": "a"}]}, "s": {"SS": ["a", "b"]}, "gone": {"S": "x"}}),
            "SET n = n + :one, l = list_append(l, :l), d = if_not_exists(d, :zero), m = :m REMOVE gone ADD c :one, s :add DELETE s :del",
            json!({":one": {"N": "1"}, ":l": {"L": [{"S": "b"}]}, ":zero": {"N": "0"}, ":m": {"M": {}},
                   ":add": {"SS": ["c"]}, ":del": {"SS": ["a"]}}),
        );
        // ADD and DELETE on one path overlap: AWS refuses that.
        assert!(out.unwrap_err().contains("overlap"));
        let out = run(
            json!({"id": {"S": "k"}, "n": {"N": "1"}, "l": {"L": [{"S": "a"}]}, "s": {"SS": ["a", "b"]}, "gone": {"S": "x"}}),
            "SET n = n + :one, l = list_append(l, :l), d = if_not_exists(d, :zero), m = :m REMOVE gone ADD c :one DELETE s :del",
            json!({":one": {"N": "1"}, ":l": {"L": [{"S": "b"}]}, ":zero": {"N": "0"}, ":m": {"M": {}}, ":del": {"SS": ["a"]}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"id": {"S": "k"}, "n": {"N": "2"}, "l": {"L": [{"S": "a"}, {"S": "b"}]}, "d": {"N": "0"},
                   "m": {"M": {}}, "c": {"N": "1"}, "s": {"SS": ["b"]}})
        );
    }

    #[test]
    fn refuses_bad_operands() {
        let item = json!({"id": {"S": "k"}, "s": {"S": "x"}});
        assert!(run(
            item.clone(),
            "SET s = s + :one",
            json!({":one": {"N": "1"}})
        )
        .unwrap_err()
        .contains("incorrect data type"));
        assert!(run(item.clone(), "SET a = nothing", json!({}))
            .unwrap_err()
            .contains("does not exist in the item"));
        assert!(
            run(item.clone(), "SET a.b = :one", json!({":one": {"N": "1"}}))
                .unwrap_err()
                .contains("document path provided in the update expression is invalid")
        );
        assert!(run(item, "REMOVE a[0], s", json!({})).is_ok());
    }
}
