//! Metering: requests, billed duration and GB-seconds per function version, durable in the store,
//! and their cost at configurable prices.
//!
//! The invoke path calls [`UsageMeter::record`]: one hash of borrowed strings and one short
//! critical section adding four integers — no allocation after a version's first invocation, no
//! I/O. A task ([`UsageMeter::start_flushing`]) moves what gathered into hourly documents
//! (collection `usage`, key `{hour start ms, 13 digits}/{account}/{region}/{function}/{version}/
//! {architecture}`) every few seconds and at shutdown ([`UsageMeter::flush`]); a report adds
//! what has not been flushed yet, so it is always current.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use nubo_store::{Change, Documents, ListQuery, StoreError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// The store collection of hourly usage.
pub const USAGE_COLLECTION: &str = "usage";
/// How often gathered usage is written.
const FLUSH_EVERY: Duration = Duration::from_secs(10);
const HOUR_MS: i64 = 3_600_000;

/// Prices, in US dollars (defaults: AWS Lambda's public list prices, us-east-1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    /// Per million requests.
    pub per_million_requests: f64,
    /// Per GB-second on x86_64.
    pub per_gb_second_x86_64: f64,
    /// Per GB-second on arm64.
    pub per_gb_second_arm64: f64,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            per_million_requests: 0.20,
            per_gb_second_x86_64: 0.000_016_666_7,
            per_gb_second_arm64: 0.000_013_333_4,
        }
    }
}

/// What a function version used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Invocations.
    pub requests: u64,
    /// Invocations that ended in a function error.
    pub errors: u64,
    /// Billed duration, milliseconds (each invocation rounded up to 1 ms).
    pub billed_ms: u64,
    /// Memory size × billed duration, MB·ms (GB-seconds × 1 024 000).
    pub mb_ms: u64,
}

impl Usage {
    fn add(&mut self, other: &Usage) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.billed_ms += other.billed_ms;
        self.mb_ms += other.mb_ms;
    }

    /// GB-seconds.
    pub fn gb_seconds(&self) -> f64 {
        self.mb_ms as f64 / 1024.0 / 1000.0
    }

    /// Cost at `prices` on `architecture`.
    pub fn cost(&self, prices: &Prices, architecture: &str) -> f64 {
        let per_gb_second = if architecture == "arm64" {
            prices.per_gb_second_arm64
        } else {
            prices.per_gb_second_x86_64
        };
        self.requests as f64 * prices.per_million_requests / 1_000_000.0
            + self.gb_seconds() * per_gb_second
    }
}

/// Whose usage: a function version in an account and region, on an architecture.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageKey {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Function name.
    pub function: String,
    /// Version (`$LATEST` or a number).
    pub version: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
}

/// The borrowed form the invoke path hands over.
#[derive(Debug, Clone, Copy)]
pub struct Metered<'a> {
    /// Account id.
    pub account: &'a str,
    /// Region.
    pub region: &'a str,
    /// Function name.
    pub function: &'a str,
    /// Version.
    pub version: &'a str,
    /// Architecture.
    pub architecture: &'a str,
    /// Memory size, MB.
    pub memory_mb: u32,
    /// Billed duration, ms.
    pub billed_ms: u64,
    /// Whether it ended in a function error.
    pub error: bool,
}

impl Metered<'_> {
    fn fingerprint(&self) -> u64 {
        // SipHash with fixed keys: the map is private and its keys are our own names.
        let mut hasher = std::hash::DefaultHasher::new();
        (
            self.account,
            self.region,
            self.function,
            self.version,
            self.architecture,
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    fn is(&self, key: &UsageKey) -> bool {
        key.account == self.account
            && key.region == self.region
            && key.function == self.function
            && key.version == self.version
            && key.architecture == self.architecture
    }
}

/// Gathered usage by fingerprint (colliding keys share a bucket).
type Pending = HashMap<u64, Vec<(UsageKey, Usage)>>;

/// The meter; one per server, made by the composition root.
pub struct UsageMeter {
    documents: Arc<dyn Documents>,
    prices: Prices,
    pending: Mutex<Pending>,
    /// Per-API usage gathered since the last flush (see [`crate::api_usage`]).
    apis: Mutex<crate::api_usage::ApiPending>,
    /// Serializes flushes (the periodic task and shutdown).
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for UsageMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageMeter")
            .field("prices", &self.prices)
            .finish_non_exhaustive()
    }
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    /// Whose.
    #[serde(flatten)]
    pub key: UsageKey,
    /// What it used.
    #[serde(flatten)]
    pub usage: Usage,
    /// GB-seconds.
    pub gb_seconds: f64,
    /// US dollars at the server's prices.
    pub cost: f64,
}

fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

fn document_key(hour: i64, key: &UsageKey) -> String {
    format!(
        "{hour:013}/{}/{}/{}/{}/{}",
        key.account, key.region, key.function, key.version, key.architecture
    )
}

fn parse_document_key(text: &str) -> Option<(i64, UsageKey)> {
    let mut parts = text.splitn(6, '/');
    let hour = parts.next()?.parse().ok()?;
    let account = parts.next()?.to_owned();
    let region = parts.next()?.to_owned();
    let function = parts.next()?.to_owned();
    let version = parts.next()?.to_owned();
    let architecture = parts.next()?.to_owned();
    Some((
        hour,
        UsageKey {
            account,
            region,
            function,
            version,
            architecture,
        },
    ))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl UsageMeter {
    /// A meter writing to `documents`, costing at `prices`.
    pub fn new(documents: Arc<dyn Documents>, prices: Prices) -> Self {
        Self {
            documents,
            prices,
            pending: Mutex::new(HashMap::new()),
            apis: Mutex::new(HashMap::new()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// The prices reports cost at.
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// Counts one invocation (the hot path: no I/O; allocates only for a version's first).
    pub fn record(&self, metered: Metered<'_>) {
        let add = Usage {
            requests: 1,
            errors: u64::from(metered.error),
            billed_ms: metered.billed_ms,
            mb_ms: u64::from(metered.memory_mb) * metered.billed_ms,
        };
        let fingerprint = metered.fingerprint();
        let mut pending = self.pending.lock();
        let bucket = pending.entry(fingerprint).or_default();
        match bucket.iter_mut().find(|(key, _)| metered.is(key)) {
            Some((_, usage)) => usage.add(&add),
            None => bucket.push((
                UsageKey {
                    account: metered.account.to_owned(),
                    region: metered.region.to_owned(),
                    function: metered.function.to_owned(),
                    version: metered.version.to_owned(),
                    architecture: metered.architecture.to_owned(),
                },
                add,
            )),
        }
    }

    /// Counts one request an API answered (the gateway's hot path: no I/O).
    pub fn record_api(&self, metered: crate::api_usage::ApiMetered<'_>) {
        crate::api_usage::record(&mut self.apis.lock(), metered);
    }

    /// Writes what has gathered into the current hour's documents (one transaction). On a store
    /// error the usage goes back to the pending counts, to be written next time.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _one = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock());
        let taken_apis = std::mem::take(&mut *self.apis.lock());
        if taken.is_empty() && taken_apis.is_empty() {
            return Ok(());
        }
        let hour = hour_of(now_ms());
        let mut changes = Vec::new();
        let mut result = Ok(());
        for (key, usage) in taken_apis.values().flatten() {
            let doc_key = crate::api_usage::document_key(hour, key);
            let collection = crate::api_usage::API_USAGE_COLLECTION;
            let mut total = match self.documents.get(collection, &doc_key).await {
                Ok(Some(doc)) => serde_json::from_str(&doc.body).unwrap_or_default(),
                Ok(None) => crate::api_usage::ApiUsage::default(),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            total.add(usage);
            let body = serde_json::to_string(&total).unwrap_or_default();
            changes.push(Change::put(collection, &doc_key, body));
        }
        for (key, usage) in taken.values().flatten() {
            if result.is_err() {
                break;
            }
            let doc_key = document_key(hour, key);
            let mut total = match self.documents.get(USAGE_COLLECTION, &doc_key).await {
                Ok(Some(doc)) => serde_json::from_str::<Usage>(&doc.body).unwrap_or_default(),
                Ok(None) => Usage::default(),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            total.add(usage);
            let body = serde_json::to_string(&total).unwrap_or_default();
            changes.push(Change::put(USAGE_COLLECTION, &doc_key, body));
        }
        if result.is_ok() {
            result = self.documents.commit(changes).await.map(|_| ());
        }
        if result.is_err() {
            crate::api_usage::restore(&mut self.apis.lock(), taken_apis);
            let mut pending = self.pending.lock();
            for (fingerprint, entries) in taken {
                let bucket = pending.entry(fingerprint).or_default();
                for (key, usage) in entries {
                    match bucket.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, u)) => u.add(&usage),
                        None => bucket.push((key, usage)),
                    }
                }
            }
        }
        result
    }

    /// Flushes every few seconds, for as long as the runtime runs.
    pub fn start_flushing(self: &Arc<Self>) {
        let meter = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            loop {
                tick.tick().await;
                if let Err(e) = meter.flush().await {
                    tracing::warn!(error = %e, "could not store usage; kept for the next flush");
                }
            }
        });
    }

    /// Usage since `since_ms` (whole hours: the hour holding `since_ms` counts), plus what has not
    /// been flushed yet, by function version, with cost.
    pub async fn report(&self, since_ms: i64) -> Result<Vec<UsageRow>, StoreError> {
        let from = hour_of(since_ms);
        let mut totals: BTreeMap<UsageKey, Usage> = BTreeMap::new();
        let _one = self.flushing.lock().await;
        let documents = self
            .documents
            .list(USAGE_COLLECTION, ListQuery::all())
            .await?;
        for doc in documents {
            let Some((hour, key)) = parse_document_key(&doc.key) else {
                continue;
            };
            if hour < from {
                continue;
            }
            if let Ok(usage) = serde_json::from_str::<Usage>(&doc.body) {
                totals.entry(key).or_default().add(&usage);
            }
        }
        for (key, usage) in self.pending.lock().values().flatten() {
            totals.entry(key.clone()).or_default().add(usage);
        }
        Ok(totals
            .into_iter()
            .map(|(key, usage)| UsageRow {
                gb_seconds: usage.gb_seconds(),
                cost: usage.cost(&self.prices, &key.architecture),
                key,
                usage,
            })
            .collect())
    }

    /// Per-API usage since `since_ms` (whole hours), plus what has not been flushed yet.
    pub async fn report_apis(
        &self,
        since_ms: i64,
    ) -> Result<Vec<crate::api_usage::ApiUsageRow>, StoreError> {
        use crate::api_usage::{parse_document_key, ApiUsage, ApiUsageRow, API_USAGE_COLLECTION};
        let from = hour_of(since_ms);
        let mut totals: BTreeMap<crate::api_usage::ApiUsageKey, ApiUsage> = BTreeMap::new();
        let _one = self.flushing.lock().await;
        let documents = self
            .documents
            .list(API_USAGE_COLLECTION, ListQuery::all())
            .await?;
        for doc in documents {
            let Some((hour, key)) = parse_document_key(&doc.key) else {
                continue;
            };
            if hour < from {
                continue;
            }
            if let Ok(usage) = serde_json::from_str::<ApiUsage>(&doc.body) {
                totals.entry(key).or_default().add(&usage);
            }
        }
        for (key, usage) in self.apis.lock().values().flatten() {
            totals.entry(key.clone()).or_default().add(usage);
        }
        Ok(totals
            .into_iter()
            .map(|(key, usage)| ApiUsageRow { key, usage })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nubo_store::conformance::{Backend, SqliteBackend};

    fn call<'a>(function: &'a str, billed_ms: u64, error: bool) -> Metered<'a> {
        Metered {
            account: "123456789012",
            region: "us-east-1",
            function,
            version: "$LATEST",
            architecture: "x86_64",
            memory_mb: 512,
            billed_ms,
            error,
        }
    }

    #[tokio::test]
    async fn usage_is_counted_flushed_and_reported_with_cost() {
        let backend = SqliteBackend::new();
        let documents = backend.open().await.documents;
        let meter = UsageMeter::new(documents.clone(), Prices::default());
        meter.record(call("f", 100, false));
        meter.record(call("f", 300, true));
        meter.record(call("g", 1, false));
        let before = meter.report(0).await.unwrap();
        meter.flush().await.unwrap();
        meter.record(call("f", 600, false));
        let rows = meter.report(0).await.unwrap();
        assert_eq!(before.len(), 2);
        let f = &rows[0];
        assert_eq!(f.key.function, "f");
        assert_eq!(
            f.usage,
            Usage {
                requests: 3,
                errors: 1,
                billed_ms: 1000,
                mb_ms: 512_000
            }
        );
        assert!((f.gb_seconds - 0.5).abs() < 1e-12);
        let expected = 3.0 * 0.20 / 1e6 + 0.5 * 0.000_016_666_7;
        assert!((f.cost - expected).abs() < 1e-15, "{}", f.cost);
        // Durable: a new meter over the same store sees what was flushed.
        meter.flush().await.unwrap();
        let again = UsageMeter::new(documents, Prices::default());
        assert_eq!(again.report(0).await.unwrap()[0].usage.requests, 3);
        assert!(again
            .report(now_ms() + 2 * HOUR_MS)
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn document_keys_round_trip() {
        let key = UsageKey {
            account: "1".into(),
            region: "r".into(),
            function: "f".into(),
            version: "$LATEST".into(),
            architecture: "arm64".into(),
        };
        let text = document_key(HOUR_MS * 5, &key);
        assert_eq!(parse_document_key(&text), Some((HOUR_MS * 5, key)));
    }
}
