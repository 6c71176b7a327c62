//! ListObjects / ListObjectsV2 over the documents of a bucket: keys in byte order under a prefix,
//! rolled up into common prefixes at the delimiter, `max_keys` entries (objects and prefixes
//! together) per page, resumed after a key.

use nubo_store::ListQuery;

use crate::records::{ObjectRecord, OBJECTS};
use crate::{ObjectError, ObjectStore};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up at the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Only keys after this one (a marker, `StartAfter`, or a continuation token's key).
    pub start_after: Option<String>,
    /// At most this many entries (objects plus common prefixes).
    pub max_keys: usize,
}

/// One page.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Objects, in key order.
    pub objects: Vec<(String, ObjectRecord)>,
    /// Common prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last entry of the page (key or common prefix): where the next page starts after.
    pub last: Option<String>,
}

/// Documents read from the store per round trip.
const PAGE: usize = 1000;

impl ObjectStore {
    /// Lists a bucket.
    pub async fn list_objects(
        &self,
        bucket: &str,
        params: &ListParams,
    ) -> Result<ListPage, ObjectError> {
        self.bucket(bucket)?;
        let base = format!("{bucket}/");
        let mut page = ListPage::default();
        let mut after = params.start_after.as_ref().map(|s| format!("{base}{s}"));
        let delimiter = params.delimiter.as_deref().filter(|d| !d.is_empty());
        'reading: loop {
            let docs = self
                .documents
                .list(
                    OBJECTS,
                    ListQuery {
                        prefix: format!("{base}{}", params.prefix),
                        start_after: after.clone(),
                        limit: Some(PAGE),
                    },
                )
                .await?;
            let exhausted = docs.len() < PAGE;
            for doc in docs {
                let key = &doc.key[base.len()..];
                let rolled = delimiter.and_then(|d| {
                    key[params.prefix.len()..]
                        .find(d)
                        .map(|at| &key[..params.prefix.len() + at + d.len()])
                });
                if let Some(common) = rolled {
                    // Everything under this prefix is one entry: skip past it.
                    after = Some(format!("{base}{common}\u{10FFFF}"));
                    let already = params
                        .start_after
                        .as_deref()
                        .is_some_and(|s| s.starts_with(common));
                    if !already {
                        if page.objects.len() + page.common_prefixes.len() >= params.max_keys {
                            page.truncated = true;
                            break 'reading;
                        }
                        page.common_prefixes.push(common.to_owned());
                        page.last = Some(common.to_owned());
                    }
                    continue 'reading;
                }
                if page.objects.len() + page.common_prefixes.len() >= params.max_keys {
                    page.truncated = true;
                    break 'reading;
                }
                let record: ObjectRecord = match serde_json::from_str(&doc.body) {
                    Ok(record) => record,
                    Err(e) => {
                        tracing::error!(key = %doc.key, error = %e, "skipping an unreadable object record");
                        continue;
                    }
                };
                page.last = Some(key.to_owned());
                page.objects.push((key.to_owned(), record));
                after = Some(doc.key);
            }
            if exhausted {
                break;
            }
        }
        Ok(page)
    }
}
