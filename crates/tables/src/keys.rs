//! Items' keys: pulling the table's and each index's key out of an item (with DynamoDB's errors),
//! and the byte rows the store keeps for them.
//!
//! A table row is `(pk, sk, "")`; an index entry is `(index pk, index sk, reference)` where the
//! reference is the table row's key (`len(pk) as u32 BE ‖ pk ‖ sk`), so two items with the same
//! index key are two entries and an entry leads back to its item.

use nubo_store::TableRow;

use crate::schema::{IndexRecord, KeyAttribute, KeySchema, TableRecord};
use crate::value::{key_bytes, Item, Value};
use crate::TablesError;

/// An item's place in a table or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    /// Partition key bytes.
    pub pk: Vec<u8>,
    /// Sort key bytes (empty without a sort key).
    pub sk: Vec<u8>,
    /// The table row an index entry stands for (empty for table rows).
    pub reference: Vec<u8>,
}

impl RowKey {
    /// The row with this key.
    pub fn row(&self, body: Vec<u8>) -> TableRow {
        TableRow {
            pk: self.pk.clone(),
            sk: self.sk.clone(),
            reference: self.reference.clone(),
            hash: hash16(&self.pk),
            body,
        }
    }
}

/// The 16-bit hash that orders a scan and splits it into segments (FNV-1a, folded).
pub fn hash16(pk: &[u8]) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in pk {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    ((h >> 16) ^ (h & 0xffff)) as u16
}

fn type_matches(attribute: &KeyAttribute, value: &Value) -> bool {
    matches!(
        (attribute.kind.name(), value),
        ("S", Value::S(_)) | ("N", Value::N(_)) | ("B", Value::B(_))
    )
}

fn is_empty_key(value: &Value) -> bool {
    matches!(value, Value::S(s) if s.is_empty()) || matches!(value, Value::B(b) if b.is_empty())
}

/// The table key of an item being written (PutItem): every key attribute present, typed, not
/// empty.
pub fn item_key(table: &TableRecord, item: &Item) -> Result<RowKey, TablesError> {
    let mut parts = Vec::with_capacity(2);
    for attribute in std::iter::once(&table.key.hash).chain(table.key.range.as_ref()) {
        let value = item.get(&attribute.name).ok_or_else(|| {
            TablesError::Validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attribute.name
            ))
        })?;
        if !type_matches(attribute, value) {
            return Err(TablesError::Validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                attribute.name,
                attribute.kind.name(),
                value.type_name()
            )));
        }
        if is_empty_key(value) {
            return Err(TablesError::Validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
                if matches!(value, Value::S(_)) { "string" } else { "binary" },
                attribute.name
            )));
        }
        parts.push(key_bytes(value));
    }
    Ok(RowKey {
        pk: parts.remove(0),
        sk: parts.pop().unwrap_or_default(),
        reference: Vec::new(),
    })
}

/// The table key a `Key` parameter names: exactly the key attributes, typed.
pub fn given_key(table: &TableRecord, key: &Item) -> Result<RowKey, TablesError> {
    let expected = 1 + usize::from(table.key.range.is_some());
    let mismatch =
        || TablesError::Validation("The provided key element does not match the schema".into());
    if key.len() != expected {
        return Err(mismatch());
    }
    for attribute in std::iter::once(&table.key.hash).chain(table.key.range.as_ref()) {
        match key.get(&attribute.name) {
            Some(v) if type_matches(attribute, v) => {}
            _ => return Err(mismatch()),
        }
    }
    item_key(table, key)
}

/// The key attributes of an item (its `Keys` in a stream record, `LastEvaluatedKey`).
pub fn key_attributes(schema: &KeySchema, item: &Item) -> Item {
    std::iter::once(&schema.hash)
        .chain(schema.range.as_ref())
        .filter_map(|a| item.get(&a.name).map(|v| (a.name.clone(), v.clone())))
        .collect()
}

/// The table row key's reference form (what index entries point back with).
pub fn reference(key: &RowKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + key.pk.len() + key.sk.len());
    out.extend_from_slice(&(key.pk.len() as u32).to_be_bytes());
    out.extend_from_slice(&key.pk);
    out.extend_from_slice(&key.sk);
    out
}

/// An item's entry in an index: `None` when the item lacks an index key attribute (indexes are
/// sparse); a wrongly typed index key attribute is refused.
pub fn index_key(
    index: &IndexRecord,
    item: &Item,
    table_key: &RowKey,
) -> Result<Option<RowKey>, TablesError> {
    let mut parts = Vec::with_capacity(2);
    for attribute in std::iter::once(&index.key.hash).chain(index.key.range.as_ref()) {
        let Some(value) = item.get(&attribute.name) else {
            return Ok(None);
        };
        if !type_matches(attribute, value) {
            return Err(TablesError::Validation(format!(
                "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                attribute.name,
                attribute.kind.name(),
                value.type_name(),
                index.name
            )));
        }
        if is_empty_key(value) {
            return Err(TablesError::Validation(format!(
                "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                index.name, attribute.name
            )));
        }
        parts.push(key_bytes(value));
    }
    Ok(Some(RowKey {
        pk: parts.remove(0),
        sk: parts.pop().unwrap_or_default(),
        reference: reference(table_key),
    }))
}

/// The attributes an index entry returns.
pub fn index_projection(table: &TableRecord, index: &IndexRecord, item: &Item) -> Item {
    match index.projection.kind.as_str() {
        "ALL" => item.clone(),
        kind => item
            .iter()
            .filter(|(name, _)| {
                table.key.contains(name)
                    || index.key.contains(name)
                    || (kind == "INCLUDE" && index.projection.non_key_attributes.contains(name))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::KeyType;

    fn table() -> TableRecord {
        serde_json::from_value(serde_json::json!({
            "account": "a", "region": "r", "name": "t", "storageId": "s", "tableId": "i",
            "createdMs": 0, "billingMode": "PAY_PER_REQUEST",
            "key": {"hash": {"name": "pk", "type": "S"}, "range": {"name": "sk", "type": "N"}},
            "attributes": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "N"}]
        }))
        .unwrap()
    }

    #[test]
    fn keys_are_checked_as_dynamodb_checks_them() {
        let t = table();
        let item: Item = [
            ("pk".to_owned(), Value::S("a".into())),
            ("sk".to_owned(), Value::S("1".into())),
        ]
        .into();
        assert!(item_key(&t, &item)
            .unwrap_err()
            .to_string()
            .contains("Type mismatch for key sk expected: N actual: S"));
        let missing: Item = [("pk".to_owned(), Value::S("a".into()))].into();
        assert!(item_key(&t, &missing)
            .unwrap_err()
            .to_string()
            .contains("Missing the key sk in the item"));
        assert_eq!(
            given_key(&t, &missing).unwrap_err().to_string(),
            "The provided key element does not match the schema"
        );
        assert_eq!(t.key.hash.kind, KeyType::S);
    }
}
