//! Metering per API: requests answered per (account, region, API, stage, API key), with their
//! 4xx and 5xx, gathered by the [`crate::UsageMeter`] beside function usage and flushed with it
//! into hourly documents (collection `usage-api`, key `{hour start ms:013}/{account}/{region}/
//! {api}/{stage}/{key id or -}`). The gateway's `count` phase records every answered request
//! of an API (Function URLs are metered as the invocations they make).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// The store collection of hourly per-API usage.
pub const API_USAGE_COLLECTION: &str = "usage-api";

/// What an API stage (and key) answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUsage {
    /// Requests answered.
    pub requests: u64,
    /// Answered 4xx.
    pub client_errors: u64,
    /// Answered 5xx.
    pub server_errors: u64,
}

impl ApiUsage {
    pub(crate) fn add(&mut self, other: &ApiUsage) {
        self.requests += other.requests;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
    }
}

/// Whose: an API stage in an account and region, and the API key a usage plan counted (`-`:
/// none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUsageKey {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// API id.
    pub api_id: String,
    /// Stage.
    pub stage: String,
    /// API key id, or `-`.
    pub api_key: String,
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUsageRow {
    /// Whose.
    #[serde(flatten)]
    pub key: ApiUsageKey,
    /// What it answered.
    #[serde(flatten)]
    pub usage: ApiUsage,
}

/// The borrowed form the gateway hands over.
#[derive(Debug, Clone, Copy)]
pub struct ApiMetered<'a> {
    /// Account id.
    pub account: &'a str,
    /// Region.
    pub region: &'a str,
    /// API id.
    pub api_id: &'a str,
    /// Stage.
    pub stage: &'a str,
    /// The API key a usage plan counted.
    pub api_key: Option<&'a str>,
    /// The status answered.
    pub status: u16,
}

impl ApiMetered<'_> {
    fn api_key(&self) -> &str {
        self.api_key.unwrap_or("-")
    }

    fn fingerprint(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        (
            self.account,
            self.region,
            self.api_id,
            self.stage,
            self.api_key(),
        )
            .hash(&mut hasher);
        hasher.finish()
    }

    fn is(&self, key: &ApiUsageKey) -> bool {
        key.api_id == self.api_id
            && key.stage == self.stage
            && key.api_key == self.api_key()
            && key.account == self.account
            && key.region == self.region
    }
}

/// Gathered per-API usage by fingerprint (colliding keys share a bucket).
pub(crate) type ApiPending = HashMap<u64, Vec<(ApiUsageKey, ApiUsage)>>;

/// Adds one answered request (no allocation after the key's first).
pub(crate) fn record(pending: &mut ApiPending, metered: ApiMetered<'_>) {
    let add = ApiUsage {
        requests: 1,
        client_errors: u64::from((400..500).contains(&metered.status)),
        server_errors: u64::from(metered.status >= 500),
    };
    let bucket = pending.entry(metered.fingerprint()).or_default();
    match bucket.iter_mut().find(|(key, _)| metered.is(key)) {
        Some((_, usage)) => usage.add(&add),
        None => bucket.push((
            ApiUsageKey {
                account: metered.account.to_owned(),
                region: metered.region.to_owned(),
                api_id: metered.api_id.to_owned(),
                stage: metered.stage.to_owned(),
                api_key: metered.api_key().to_owned(),
            },
            add,
        )),
    }
}

/// Puts `taken` back into `pending` (a flush that failed).
pub(crate) fn restore(pending: &mut ApiPending, taken: ApiPending) {
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

pub(crate) fn document_key(hour: i64, key: &ApiUsageKey) -> String {
    format!(
        "{hour:013}/{}/{}/{}/{}/{}",
        key.account, key.region, key.api_id, key.stage, key.api_key
    )
}

pub(crate) fn parse_document_key(text: &str) -> Option<(i64, ApiUsageKey)> {
    let mut parts = text.splitn(6, '/');
    let hour = parts.next()?.parse().ok()?;
    Some((
        hour,
        ApiUsageKey {
            account: parts.next()?.to_owned(),
            region: parts.next()?.to_owned(),
            api_id: parts.next()?.to_owned(),
            stage: parts.next()?.to_owned(),
            api_key: parts.next()?.to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_by_stage_and_key() {
        let mut pending = ApiPending::new();
        let call = |status, api_key| ApiMetered {
            account: "123456789012",
            region: "us-east-1",
            api_id: "a1",
            stage: "prod",
            api_key,
            status,
        };
        record(&mut pending, call(200, None));
        record(&mut pending, call(404, None));
        record(&mut pending, call(502, Some("k1")));
        let mut rows: Vec<_> = pending.into_values().flatten().collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.api_key, "-");
        assert_eq!(
            rows[0].1,
            ApiUsage {
                requests: 2,
                client_errors: 1,
                server_errors: 0
            }
        );
        assert_eq!(
            (rows[1].0.api_key.as_str(), rows[1].1.server_errors),
            ("k1", 1)
        );
        let key = &rows[1].0;
        assert_eq!(
            parse_document_key(&document_key(3_600_000, key)),
            Some((3_600_000, key.clone()))
        );
    }
}
