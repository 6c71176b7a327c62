//! Evaluating conditions against an item, and projections.

use std::cmp::Ordering;

use super::{Comparator, Condition, Operand, Path, Step};
use crate::number::Number;
use crate::value::{Item, Value};

/// The value a path names in `item`, if any.
pub fn resolve<'a>(item: &'a Item, path: &Path) -> Option<&'a Value> {
    let mut steps = path.0.iter();
    let mut current = match steps.next()? {
        Step::Member(name) => item.get(name)?,
        Step::Index(_) => return None,
    };
    for step in steps {
        current = match (step, current) {
            (Step::Member(name), Value::M(map)) => map.get(name)?,
            (Step::Index(i), Value::L(list)) => list.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// An operand's value: owned only for `size()`.
enum Resolved<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl Resolved<'_> {
    fn get(&self) -> &Value {
        match self {
            Self::Borrowed(v) => v,
            Self::Owned(v) => v,
        }
    }
}

fn operand<'a>(item: &'a Item, op: &'a Operand) -> Option<Resolved<'a>> {
    match op {
        Operand::Path(p) => resolve(item, p).map(Resolved::Borrowed),
        Operand::Value(v) => Some(Resolved::Borrowed(v)),
        Operand::Size(p) => {
            let size = match resolve(item, p)? {
                Value::S(s) => s.chars().count(),
                Value::B(b) => b.len(),
                Value::L(l) => l.len(),
                Value::M(m) => m.len(),
                Value::SS(s) => s.len(),
                Value::NS(s) => s.len(),
                Value::BS(s) => s.len(),
                _ => return None,
            };
            Some(Resolved::Owned(Value::N(Number::from_i64(size as i64))))
        }
    }
}

/// Equality as DynamoDB sees it: sets compare as sets.
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.len() == b.len() && a.iter().all(|x| b.contains(x))
    }
    match (a, b) {
        (Value::SS(x), Value::SS(y)) => same_set(x, y),
        (Value::NS(x), Value::NS(y)) => same_set(x, y),
        (Value::BS(x), Value::BS(y)) => same_set(x, y),
        (Value::L(x), Value::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::M(x), Value::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// Order of two scalars of the same type (S and B bytewise, N numerically).
pub(crate) fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::S(x), Value::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::N(x), Value::N(y)) => Some(x.cmp(y)),
        (Value::B(x), Value::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Whether `condition` holds for `item` (an absent item is the empty item).
pub fn evaluate(condition: &Condition, item: &Item) -> bool {
    match condition {
        Condition::Compare(a, comparator, b) => {
            let (a, b) = (operand(item, a), operand(item, b));
            let (a, b) = match (&a, &b) {
                (Some(a), Some(b)) => (a.get(), b.get()),
                _ => return *comparator == Comparator::Ne,
            };
            match comparator {
                Comparator::Eq => equal(a, b),
                Comparator::Ne => !equal(a, b),
                Comparator::Lt => order(a, b) == Some(Ordering::Less),
                Comparator::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
                Comparator::Gt => order(a, b) == Some(Ordering::Greater),
                Comparator::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
            }
        }
        Condition::Between(a, low, high) => {
            match (operand(item, a), operand(item, low), operand(item, high)) {
                (Some(a), Some(low), Some(high)) => {
                    matches!(
                        order(a.get(), low.get()),
                        Some(Ordering::Greater | Ordering::Equal)
                    ) && matches!(
                        order(a.get(), high.get()),
                        Some(Ordering::Less | Ordering::Equal)
                    )
                }
                _ => false,
            }
        }
        Condition::In(a, list) => match operand(item, a) {
            Some(a) => list
                .iter()
                .filter_map(|op| operand(item, op))
                .any(|v| equal(a.get(), v.get())),
            None => false,
        },
        Condition::Exists(path) => resolve(item, path).is_some(),
        Condition::NotExists(path) => resolve(item, path).is_none(),
        Condition::Type(path, t) => match (resolve(item, path), operand(item, t)) {
            (Some(v), Some(t)) => matches!(t.get(), Value::S(name) if name == v.type_name()),
            _ => false,
        },
        Condition::BeginsWith(a, prefix) => match (operand(item, a), operand(item, prefix)) {
            (Some(a), Some(p)) => match (a.get(), p.get()) {
                (Value::S(s), Value::S(p)) => s.starts_with(p.as_str()),
                (Value::B(b), Value::B(p)) => b.starts_with(p),
                _ => false,
            },
            _ => false,
        },
        Condition::Contains(a, needle) => match (operand(item, a), operand(item, needle)) {
            (Some(a), Some(n)) => match (a.get(), n.get()) {
                (Value::S(s), Value::S(n)) => s.contains(n.as_str()),
                (Value::B(b), Value::B(n)) => {
                    n.is_empty() || b.windows(n.len()).any(|w| w == n.as_slice())
                }
                (Value::SS(s), Value::S(n)) => s.contains(n),
                (Value::NS(s), Value::N(n)) => s.contains(n),
                (Value::BS(s), Value::B(n)) => s.contains(n),
                (Value::L(l), n) => l.iter().any(|v| equal(v, n)),
                _ => false,
            },
            _ => false,
        },
        Condition::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Condition::Or(a, b) => evaluate(a, item) || evaluate(b, item),
        Condition::Not(a) => !evaluate(a, item),
    }
}

/// The parts of `item` the paths name, nested as in the item (list elements picked keep their
/// order and close up).
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut out = Item::new();
    for path in paths {
        let Some(Step::Member(first)) = path.0.first() else {
            continue;
        };
        let Some(value) = item.get(first) else {
            continue;
        };
        let rest = &path.0[1..];
        if let Some(picked) = pick(value, rest) {
            match out.get_mut(first) {
                Some(existing) => merge(existing, picked),
                None => {
                    out.insert(first.clone(), picked);
                }
            }
        }
    }
    out
}

fn pick(value: &Value, steps: &[Step]) -> Option<Value> {
    let Some((step, rest)) = steps.split_first() else {
        return Some(value.clone());
    };
    match (step, value) {
        (Step::Member(name), Value::M(map)) => {
            let inner = pick(map.get(name)?, rest)?;
            Some(Value::M(Item::from([(name.clone(), inner)])))
        }
        (Step::Index(i), Value::L(list)) => {
            let inner = pick(list.get(*i)?, rest)?;
            Some(Value::L(vec![inner]))
        }
        _ => None,
    }
}

fn merge(into: &mut Value, more: Value) {
    match (into, more) {
        (Value::M(a), Value::M(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::L(a), Value::L(b)) => a.extend(b),
        (into, more) => *into = more,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::expr::{ExpressionKind, Placeholders};
    use crate::value::{item_from_json, item_to_json};

    fn item() -> Item {
        item_from_json(&json!({
            "id": {"S": "a1"}, "n": {"N": "5"}, "tags": {"SS": ["x", "y"]},
            "m": {"M": {"k": {"L": [{"S": "p"}, {"S": "q"}, {"N": "3"}]}}}
        }))
        .unwrap()
    }

    fn holds(text: &str) -> bool {
        let values = HashMap::from([
            (":five".to_owned(), Value::N(Number::from_i64(5))),
            (":two".to_owned(), Value::N(Number::from_i64(2))),
            (":a".to_owned(), Value::S("a".into())),
            (":x".to_owned(), Value::S("x".into())),
            (":ss".to_owned(), Value::S("SS".into())),
        ]);
        let p = Placeholders::new(HashMap::new(), values);
        let c = p.condition(text, ExpressionKind::Condition).unwrap();
        evaluate(&c, &item())
    }

    #[test]
    fn evaluates_like_dynamodb() {
        assert!(holds("n = :five"));
        assert!(holds("n > :two AND n <= :five"));
        assert!(holds("absent <> :five"));
        assert!(!holds("absent = :five"));
        assert!(!holds("absent < :five"));
        assert!(holds("n BETWEEN :two AND :five"));
        assert!(holds("begins_with(id, :a)"));
        assert!(holds("contains(tags, :x)"));
        assert!(holds("attribute_type(tags, :ss)"));
        assert!(holds("size(m.k) > :two"));
        assert!(holds("n IN (:two, :five)"));
        assert!(holds(
            "attribute_not_exists(m.k[5]) AND attribute_exists(m.k[2])"
        ));
        assert!(!holds("NOT (n = :five)"));
        assert!(!holds("id < :five"));
    }

    #[test]
    fn projects_nested_paths() {
        let p = Placeholders::default();
        let paths = p.projection("id, m.k[2], m.k[0], nothing").unwrap();
        assert_eq!(
            item_to_json(&project(&item(), &paths)),
            json!({"id": {"S": "a1"}, "m": {"M": {"k": {"L": [{"N": "3"}, {"S": "p"}]}}}})
        );
    }
}
