//! API keys and usage plans (REST APIs): the records (written through to the store), the index
//! the `quota` phase reads (key value → key, (API, stage) → plans), and the usage counters.
//!
//! Counting costs no disk write per request: counters live in memory per (plan, key, UTC day) and
//! a flusher commits the changed ones in one batch every [`FLUSH_EVERY`] and, exactly, at
//! shutdown. For a plan with a quota the stored count is a durable *reservation*: before a count
//! passes what is stored, the request waits for a commit that reserves the next chunk
//! ([`chunk`]: a sixteenth of the limit, 1 to 1 000), so a crash can only over-count (by less
//! than a chunk) and a quota is never exceeded across a crash; with a limit under 32 every
//! request is reserved, so such a quota stays exact. Plans without a quota keep the batched
//! counts (a crash loses at most the last interval's).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use nubo_store::{Change, Documents, ListQuery};
use nubo_wire::Scope;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::model::now_epoch;
use crate::http_api::model::new_id;
use crate::plane::throttle::TokenBucket;
use crate::write_through::{scoped_key, Mirrored};
use crate::GatewayError;

/// Store collection of API keys.
pub const API_KEY_COLLECTION: &str = "apigw-apikey";
/// Store collection of usage plans.
pub const USAGE_PLAN_COLLECTION: &str = "apigw-usageplan";
/// Store collection of usage counts (`{plan}/{key}/{day}` → count).
pub const USAGE_COLLECTION: &str = "apigw-usage";
/// How often changed counters are committed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// An API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRecord {
    /// Id.
    pub id: String,
    /// The secret callers send as `x-api-key`.
    pub value: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the key is accepted.
    #[serde(default)]
    pub enabled: bool,
    /// Customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Created.
    pub created_date: i64,
    /// Last update.
    pub last_updated_date: i64,
    /// Stage keys (deprecated, stored).
    #[serde(default)]
    pub stage_keys: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl ApiKeyRecord {
    /// The wire shape; `value` only when asked for.
    pub fn render(&self, include_value: bool) -> Value {
        let mut out = serde_json::to_value(self).unwrap_or(Value::Null);
        if !include_value {
            if let Some(map) = out.as_object_mut() {
                map.remove("value");
            }
        }
        out
    }
}

/// CreateApiKey's members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInput {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Enabled (AWS's default: false).
    #[serde(default)]
    pub enabled: bool,
    /// The value (20–128 chars), generated if absent.
    pub value: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A plan's API stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiStage {
    /// REST API id.
    pub api_id: String,
    /// Stage name.
    pub stage: String,
    /// Per-method throttles (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Value>,
}

/// A quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSettings {
    /// Requests per period.
    pub limit: i64,
    /// Requests subtracted from the limit in the first period (stored).
    #[serde(default)]
    pub offset: i64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: String,
}

/// A usage plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlanRecord {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The stages it covers.
    #[serde(default)]
    pub api_stages: Vec<ApiStage>,
    /// Throttle (stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Value>,
    /// Quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaSettings>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Key ids (UsagePlanKeys), not rendered.
    #[serde(default)]
    pub keys: Vec<String>,
}

impl UsagePlanRecord {
    /// The wire shape.
    pub fn render(&self) -> Value {
        let mut out = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = out.as_object_mut() {
            map.remove("keys");
        }
        out
    }
}

/// CreateUsagePlan's members.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsagePlanInput {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Stages.
    #[serde(default)]
    pub api_stages: Vec<ApiStage>,
    /// Throttle.
    pub throttle: Option<Value>,
    /// Quota.
    pub quota: Option<QuotaSettings>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Why the `quota` phase refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No key, an unknown or disabled key, or one no plan of this stage holds (403).
    Forbidden,
    /// The plan's quota is used up (429 `Limit Exceeded`).
    LimitExceeded,
    /// The plan's throttle (per key) is out of tokens (429 `Too Many Requests`).
    Throttled,
}

#[derive(Debug)]
struct PlanEntry {
    id: String,
    quota: Option<QuotaSettings>,
    keys: HashSet<String>,
    /// `throttle` as (rate, burst), with one bucket per key.
    throttle: Option<(f64, f64)>,
    buckets: Mutex<HashMap<String, Arc<TokenBucket>>>,
}

impl PlanEntry {
    fn take(&self, key_id: &str) -> bool {
        let Some((rate, burst)) = self.throttle else {
            return true;
        };
        let bucket = self
            .buckets
            .lock()
            .entry(key_id.to_owned())
            .or_insert_with(|| Arc::new(TokenBucket::new(rate, burst)))
            .clone();
        bucket.try_take()
    }
}

/// `{"rateLimit": r, "burstLimit": b}` → (rate, burst).
fn throttle_of(throttle: Option<&Value>) -> Option<(f64, f64)> {
    let throttle = throttle?;
    let rate = throttle.get("rateLimit").and_then(Value::as_f64);
    let burst = throttle.get("burstLimit").and_then(Value::as_f64);
    if rate.is_none() && burst.is_none() {
        return None;
    }
    let rate = rate.unwrap_or(crate::plane::throttle::ACCOUNT_RATE);
    Some((rate, burst.unwrap_or(rate.max(1.0))))
}

#[derive(Debug, Default)]
struct UsageIndex {
    /// Key value → (id, enabled).
    by_value: HashMap<String, (String, bool)>,
    /// (API id, stage) → plans.
    by_stage: HashMap<(String, String), Vec<Arc<PlanEntry>>>,
}

#[derive(Debug, Default)]
struct Counter {
    days: BTreeMap<i64, u64>,
    dirty: BTreeSet<i64>,
    /// What the store holds per day (for a quota plan: at least the count, as reserved).
    stored: BTreeMap<i64, u64>,
}

/// How many requests one reservation commit covers for a quota of `limit`.
pub fn chunk(limit: i64) -> u64 {
    (limit.max(0) as u64 / 16).clamp(1, 1000)
}

/// A count that passed its durable reservation: the request waits for [`UsageRegistry::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    plan: String,
    key: String,
    day: i64,
    /// The count the request made.
    count: u64,
    /// What to reserve up to.
    up_to: u64,
}

/// Days since the epoch (UTC).
fn day_of(epoch_seconds: i64) -> i64 {
    epoch_seconds.div_euclid(86_400)
}

/// The first day of the quota period holding `day`.
fn period_start(period: &str, day: i64) -> i64 {
    match period {
        // 1970-01-01 was a Thursday; weeks start on Monday.
        "WEEK" => day - (day + 3).rem_euclid(7),
        "MONTH" => {
            let date =
                time::Date::from_julian_day(day as i32 + 2_440_588).unwrap_or(time::Date::MIN);
            day - (date.day() as i64 - 1)
        }
        _ => day,
    }
}

fn date_string(day: i64) -> String {
    time::Date::from_julian_day(day as i32 + 2_440_588)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse::<i32>().ok()?;
    let month = time::Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse::<u8>().ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.to_julian_day() as i64 - 2_440_588)
}

/// API keys, usage plans and their counters.
pub struct UsageRegistry {
    keys: Mirrored<ApiKeyRecord>,
    plans: Mirrored<UsagePlanRecord>,
    index: RwLock<Arc<UsageIndex>>,
    counters: Mutex<HashMap<(String, String), Counter>>,
    documents: Arc<dyn Documents>,
    /// Held by reservations and flushes: a commit never overwrites a newer reservation.
    writing: tokio::sync::Mutex<()>,
}

impl UsageRegistry {
    /// Loads keys, plans and counts.
    pub async fn load(
        documents: Arc<dyn Documents>,
        default_scope: &Scope,
    ) -> Result<Self, GatewayError> {
        let keys = Mirrored::load(
            documents.clone(),
            API_KEY_COLLECTION,
            default_scope,
            |_, _, _: &mut ApiKeyRecord| true,
        )
        .await?;
        let plans = Mirrored::load(
            documents.clone(),
            USAGE_PLAN_COLLECTION,
            default_scope,
            |_, _, _: &mut UsagePlanRecord| true,
        )
        .await?;
        let mut counters: HashMap<(String, String), Counter> = HashMap::new();
        for stored in documents.list(USAGE_COLLECTION, ListQuery::all()).await? {
            let mut parts = stored.key.splitn(3, '/');
            let (Some(plan), Some(key), Some(day)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(day), Ok(count)) = (day.parse::<i64>(), stored.body.parse::<u64>()) else {
                continue;
            };
            let counter = counters
                .entry((plan.to_owned(), key.to_owned()))
                .or_default();
            counter.days.insert(day, count);
            counter.stored.insert(day, count);
        }
        let registry = Self {
            keys,
            plans,
            index: RwLock::new(Arc::default()),
            counters: Mutex::new(counters),
            documents,
            writing: tokio::sync::Mutex::new(()),
        };
        registry.reindex();
        Ok(registry)
    }

    fn reindex(&self) {
        let mut index = UsageIndex::default();
        for key in self.keys.snapshot().values() {
            index
                .by_value
                .insert(key.value.clone(), (key.id.clone(), key.enabled));
        }
        for plan in self.plans.snapshot().values() {
            let entry = Arc::new(PlanEntry {
                id: plan.id.clone(),
                quota: plan.quota.clone(),
                keys: plan.keys.iter().cloned().collect(),
                throttle: throttle_of(plan.throttle.as_ref()),
                buckets: Mutex::new(HashMap::new()),
            });
            for stage in &plan.api_stages {
                index
                    .by_stage
                    .entry((stage.api_id.clone(), stage.stage.clone()))
                    .or_default()
                    .push(entry.clone());
            }
        }
        *self.index.write() = Arc::new(index);
    }

    /// The `quota` phase for a method that requires a key: the key `x-api-key` names must be
    /// enabled and in a plan of this stage, and that plan's quota not used up. Returns the key id
    /// and, when the count passed the durable reservation, the reservation to wait for.
    pub fn admit(
        &self,
        api_id: &str,
        stage: &str,
        key_value: Option<&str>,
    ) -> Result<(String, Option<Reservation>), Refusal> {
        let index = self.index.read().clone();
        let (key_id, enabled) = key_value
            .and_then(|v| index.by_value.get(v))
            .ok_or(Refusal::Forbidden)?;
        if !enabled {
            return Err(Refusal::Forbidden);
        }
        let plan = index
            .by_stage
            .get(&(api_id.to_owned(), stage.to_owned()))
            .and_then(|plans| plans.iter().find(|p| p.keys.contains(key_id)))
            .ok_or(Refusal::Forbidden)?;
        if !plan.take(key_id) {
            return Err(Refusal::Throttled);
        }
        let today = day_of(now_epoch());
        let mut counters = self.counters.lock();
        let counter = counters
            .entry((plan.id.clone(), key_id.clone()))
            .or_default();
        if let Some(quota) = &plan.quota {
            let start = period_start(&quota.period, today);
            let used: u64 = counter.days.range(start..=today).map(|(_, n)| n).sum();
            if used >= quota.limit.max(0) as u64 {
                return Err(Refusal::LimitExceeded);
            }
        }
        let count = counter.days.entry(today).or_default();
        *count += 1;
        let count = *count;
        counter.dirty.insert(today);
        let stored = counter.stored.get(&today).copied().unwrap_or(0);
        let reservation = match &plan.quota {
            Some(quota) if count > stored => Some(Reservation {
                plan: plan.id.clone(),
                key: key_id.clone(),
                day: today,
                count,
                up_to: count + chunk(quota.limit) - 1,
            }),
            _ => None,
        };
        Ok((key_id.clone(), reservation))
    }

    /// Makes a count durable before its request goes on: one commit reserves a chunk of the
    /// quota (concurrent requests covered by it do not commit again).
    pub async fn reserve(&self, reservation: Reservation) -> Result<(), GatewayError> {
        let _one_writer = self.writing.lock().await;
        let id = (reservation.plan.clone(), reservation.key.clone());
        let up_to = {
            let counters = self.counters.lock();
            let counter = counters.get(&id);
            let stored = counter
                .and_then(|c| c.stored.get(&reservation.day))
                .copied()
                .unwrap_or(0);
            if stored >= reservation.count {
                return Ok(());
            }
            let count = counter
                .and_then(|c| c.days.get(&reservation.day))
                .copied()
                .unwrap_or(0);
            reservation.up_to.max(count)
        };
        self.documents
            .commit(vec![Change::put(
                USAGE_COLLECTION,
                &format!("{}/{}/{}", id.0, id.1, reservation.day),
                up_to.to_string(),
            )])
            .await?;
        self.counters
            .lock()
            .entry(id)
            .or_default()
            .stored
            .insert(reservation.day, up_to);
        Ok(())
    }

    /// Commits every changed counter in one batch: never below a reservation while serving.
    pub async fn flush(&self) -> Result<(), GatewayError> {
        self.flush_counts(false).await
    }

    /// Commits the exact counts (at shutdown: what was reserved and not used is given back).
    pub async fn flush_exact(&self) -> Result<(), GatewayError> {
        self.flush_counts(true).await
    }

    async fn flush_counts(&self, exact: bool) -> Result<(), GatewayError> {
        let _one_writer = self.writing.lock().await;
        let mut taken: Vec<(String, String, i64, u64)> = Vec::new();
        let changes: Vec<Change> = {
            let mut counters = self.counters.lock();
            let mut changes = Vec::new();
            for ((plan, key), counter) in counters.iter_mut() {
                let mut days = std::mem::take(&mut counter.dirty);
                if exact {
                    days.extend(
                        counter
                            .stored
                            .iter()
                            .filter(|(day, n)| counter.days.get(day) != Some(n))
                            .map(|(day, _)| *day),
                    );
                }
                for day in days {
                    let count = counter.days.get(&day).copied().unwrap_or(0);
                    let stored = counter.stored.get(&day).copied().unwrap_or(0);
                    let value = if exact { count } else { count.max(stored) };
                    if value == stored && (exact || stored > 0) {
                        continue;
                    }
                    changes.push(Change::put(
                        USAGE_COLLECTION,
                        &format!("{plan}/{key}/{day}"),
                        value.to_string(),
                    ));
                    taken.push((plan.clone(), key.clone(), day, value));
                }
            }
            changes
        };
        if changes.is_empty() {
            return Ok(());
        }
        // A failed commit is retried at the next flush with the then-current counts.
        let committed = self.documents.commit(changes).await;
        let mut counters = self.counters.lock();
        for (plan, key, day, value) in taken {
            if let Some(c) = counters.get_mut(&(plan, key)) {
                match &committed {
                    Ok(_) => {
                        c.stored.insert(day, value);
                    }
                    Err(_) => {
                        c.dirty.insert(day);
                    }
                }
            }
        }
        committed.map(drop).map_err(Into::into)
    }

    // ---- API keys ----

    /// Every key of a scope.
    pub fn keys(&self, scope: &Scope) -> Vec<Arc<ApiKeyRecord>> {
        let prefix = scoped_key(scope, "");
        self.keys
            .snapshot()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One key.
    pub fn key(&self, scope: &Scope, id: &str) -> Result<Arc<ApiKeyRecord>, GatewayError> {
        self.keys
            .get(&scoped_key(scope, id))
            .ok_or_else(|| GatewayError::not_found("ApiKey", id))
    }

    /// CreateApiKey.
    pub async fn create_key(
        &self,
        scope: &Scope,
        input: ApiKeyInput,
    ) -> Result<Arc<ApiKeyRecord>, GatewayError> {
        let value = match input.value {
            Some(v) if (20..=128).contains(&v.len()) => v,
            Some(_) => {
                return Err(GatewayError::bad_request(
                    "API Key value should be at least 20 characters",
                ))
            }
            None => new_id(40),
        };
        let guard = self.keys.lock().await;
        if self.index.read().by_value.contains_key(&value) {
            return Err(GatewayError::Conflict("API Key already exists".into()));
        }
        let now = now_epoch();
        let record = ApiKeyRecord {
            id: new_id(10),
            value,
            name: input.name.unwrap_or_default(),
            description: input.description,
            enabled: input.enabled,
            customer_id: input.customer_id,
            created_date: now,
            last_updated_date: now,
            stage_keys: Vec::new(),
            tags: input.tags,
        };
        let stored = self
            .keys
            .put(&guard, &scoped_key(scope, &record.id), record)
            .await?;
        self.reindex();
        Ok(stored)
    }

    /// UpdateApiKey (`/name`, `/description`, `/enabled`, `/customerId`).
    pub async fn update_key(
        &self,
        scope: &Scope,
        id: &str,
        ops: &[super::patch::PatchOperation],
    ) -> Result<Arc<ApiKeyRecord>, GatewayError> {
        let guard = self.keys.lock().await;
        let current = self.key(scope, id)?;
        let mut next: ApiKeyRecord = super::patch::patch(
            &*current,
            ops,
            &["name", "description", "enabled", "customerId"],
        )?;
        next.last_updated_date = now_epoch();
        let stored = self.keys.put(&guard, &scoped_key(scope, id), next).await?;
        self.reindex();
        Ok(stored)
    }

    /// DeleteApiKey (and its place in every plan).
    pub async fn delete_key(&self, scope: &Scope, id: &str) -> Result<(), GatewayError> {
        let guard = self.keys.lock().await;
        self.key(scope, id)?;
        self.keys.delete(&guard, &[scoped_key(scope, id)]).await?;
        let plan_guard = self.plans.lock().await;
        for (key, plan) in self.plans.snapshot().iter() {
            if plan.keys.iter().any(|k| k == id) {
                let mut next = (**plan).clone();
                next.keys.retain(|k| k != id);
                self.plans.put(&plan_guard, key, next).await?;
            }
        }
        self.reindex();
        Ok(())
    }

    // ---- usage plans ----

    /// Every plan of a scope.
    pub fn plans(&self, scope: &Scope) -> Vec<Arc<UsagePlanRecord>> {
        let prefix = scoped_key(scope, "");
        self.plans
            .snapshot()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// One plan.
    pub fn plan(&self, scope: &Scope, id: &str) -> Result<Arc<UsagePlanRecord>, GatewayError> {
        self.plans
            .get(&scoped_key(scope, id))
            .ok_or_else(|| GatewayError::not_found("UsagePlan", id))
    }

    /// CreateUsagePlan; `stage_exists(api, stage)` validates `apiStages`.
    pub async fn create_plan(
        &self,
        scope: &Scope,
        input: UsagePlanInput,
        stage_exists: impl Fn(&str, &str) -> bool,
    ) -> Result<Arc<UsagePlanRecord>, GatewayError> {
        let name = input
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| GatewayError::bad_request("Invalid usage plan name specified"))?;
        for stage in &input.api_stages {
            if !stage_exists(&stage.api_id, &stage.stage) {
                return Err(GatewayError::NotFound {
                    resource_type: "Stage",
                    message: format!(
                        "Invalid stage identifier specified {}:{}",
                        stage.api_id, stage.stage
                    ),
                });
            }
        }
        if let Some(quota) = &input.quota {
            if quota.limit < 0 || !matches!(quota.period.as_str(), "DAY" | "WEEK" | "MONTH") {
                return Err(GatewayError::bad_request(
                    "Invalid quota: the limit must be positive and the period DAY, WEEK or MONTH",
                ));
            }
        }
        let guard = self.plans.lock().await;
        let record = UsagePlanRecord {
            id: new_id(6),
            name,
            description: input.description,
            api_stages: input.api_stages,
            throttle: input.throttle,
            quota: input.quota,
            tags: input.tags,
            keys: Vec::new(),
        };
        let stored = self
            .plans
            .put(&guard, &scoped_key(scope, &record.id), record)
            .await?;
        self.reindex();
        Ok(stored)
    }

    /// UpdateUsagePlan (`/name`, `/description`, `/quota/…`, `/throttle/…`).
    pub async fn update_plan(
        &self,
        scope: &Scope,
        id: &str,
        ops: &[super::patch::PatchOperation],
    ) -> Result<Arc<UsagePlanRecord>, GatewayError> {
        let guard = self.plans.lock().await;
        let current = self.plan(scope, id)?;
        let next: UsagePlanRecord = super::patch::patch(
            &*current,
            ops,
            &["name", "description", "quota", "throttle", "productCode"],
        )?;
        let stored = self.plans.put(&guard, &scoped_key(scope, id), next).await?;
        self.reindex();
        Ok(stored)
    }

    /// DeleteUsagePlan.
    pub async fn delete_plan(&self, scope: &Scope, id: &str) -> Result<(), GatewayError> {
        let guard = self.plans.lock().await;
        self.plan(scope, id)?;
        self.plans.delete(&guard, &[scoped_key(scope, id)]).await?;
        self.reindex();
        Ok(())
    }

    /// The `UsagePlanKey` shape of a key.
    pub fn plan_key(key: &ApiKeyRecord) -> Value {
        json!({ "id": key.id, "type": "API_KEY", "value": key.value, "name": key.name })
    }

    /// CreateUsagePlanKey.
    pub async fn add_plan_key(
        &self,
        scope: &Scope,
        plan_id: &str,
        key_id: &str,
        key_type: &str,
    ) -> Result<Value, GatewayError> {
        if key_type != "API_KEY" {
            return Err(GatewayError::bad_request(format!(
                "Invalid key type {key_type}"
            )));
        }
        let key = self.key(scope, key_id)?;
        let guard = self.plans.lock().await;
        let mut plan = (*self.plan(scope, plan_id)?).clone();
        if plan.keys.iter().any(|k| k == key_id) {
            return Err(GatewayError::Conflict(format!(
                "Usage Plan {plan_id} cannot be added because API Key {key_id} cannot reference multiple Usage Plans with the same API Stage"
            )));
        }
        plan.keys.push(key_id.to_owned());
        self.plans
            .put(&guard, &scoped_key(scope, plan_id), plan)
            .await?;
        self.reindex();
        Ok(Self::plan_key(&key))
    }

    /// DeleteUsagePlanKey.
    pub async fn remove_plan_key(
        &self,
        scope: &Scope,
        plan_id: &str,
        key_id: &str,
    ) -> Result<(), GatewayError> {
        let guard = self.plans.lock().await;
        let mut plan = (*self.plan(scope, plan_id)?).clone();
        let before = plan.keys.len();
        plan.keys.retain(|k| k != key_id);
        if plan.keys.len() == before {
            return Err(GatewayError::not_found("UsagePlanKey", key_id));
        }
        self.plans
            .put(&guard, &scoped_key(scope, plan_id), plan)
            .await?;
        self.reindex();
        Ok(())
    }

    /// GetUsage: per key, per day from `start` to `end` (`YYYY-MM-DD`), `[used, remaining]`.
    pub fn usage(
        &self,
        scope: &Scope,
        plan_id: &str,
        key_id: Option<&str>,
        start: &str,
        end: &str,
    ) -> Result<Value, GatewayError> {
        let plan = self.plan(scope, plan_id)?;
        let (Some(first), Some(last)) = (parse_date(start), parse_date(end)) else {
            return Err(GatewayError::bad_request(
                "Invalid date format: startDate and endDate are YYYY-MM-DD",
            ));
        };
        if last < first || last - first > 90 {
            return Err(GatewayError::bad_request(
                "The usage data requested spans more than 90 days or ends before it starts",
            ));
        }
        let counters = self.counters.lock();
        let mut values = serde_json::Map::new();
        for key in plan
            .keys
            .iter()
            .filter(|k| key_id.is_none_or(|id| id == *k))
        {
            let counter = counters.get(&(plan.id.clone(), key.clone()));
            let days: Vec<Value> = (first..=last)
                .map(|day| {
                    let used = counter.and_then(|c| c.days.get(&day)).copied().unwrap_or(0);
                    let remaining = plan.quota.as_ref().map_or(0, |q| {
                        let start = period_start(&q.period, day);
                        let so_far: u64 = counter
                            .map(|c| c.days.range(start..=day).map(|(_, n)| n).sum())
                            .unwrap_or(0);
                        (q.limit.max(0) as u64).saturating_sub(so_far)
                    });
                    json!([used, remaining])
                })
                .collect();
            values.insert(key.clone(), Value::Array(days));
        }
        Ok(json!({
            "usagePlanId": plan.id,
            "startDate": date_string(first),
            "endDate": date_string(last),
            "values": values,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_the_day_week_and_month() {
        let day = parse_date("2026-11-26").unwrap(); // a Thursday
        assert_eq!(date_string(period_start("DAY", day)), "2026-11-26");
        assert_eq!(date_string(period_start("WEEK", day)), "2026-11-23");
        assert_eq!(date_string(period_start("MONTH", day)), "2026-11-01");
    }

    #[tokio::test]
    async fn quotas_count_exactly_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let stores = nubo_store::StoreConfig::in_data_dir(dir.path())
            .open(dir.path())
            .await
            .unwrap();
        let scope = Scope::default();
        let usage = UsageRegistry::load(stores.documents.clone(), &scope)
            .await
            .unwrap();
        let key = usage
            .create_key(
                &scope,
                ApiKeyInput {
                    enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let plan = usage
            .create_plan(
                &scope,
                UsagePlanInput {
                    name: Some("p".into()),
                    api_stages: vec![ApiStage {
                        api_id: "a".into(),
                        stage: "s".into(),
                        throttle: None,
                    }],
                    quota: Some(QuotaSettings {
                        limit: 2,
                        offset: 0,
                        period: "DAY".into(),
                    }),
                    ..Default::default()
                },
                |_, _| true,
            )
            .await
            .unwrap();
        assert_eq!(
            usage.admit("a", "s", Some(&key.value)),
            Err(Refusal::Forbidden)
        );
        usage
            .add_plan_key(&scope, &plan.id, &key.id, "API_KEY")
            .await
            .unwrap();
        assert_eq!(usage.admit("a", "s", None), Err(Refusal::Forbidden));
        assert_eq!(usage.admit("a", "s", Some("nope")), Err(Refusal::Forbidden));
        assert_eq!(
            usage.admit("a", "other", Some(&key.value)),
            Err(Refusal::Forbidden)
        );
        let (_, reservation) = usage.admit("a", "s", Some(&key.value)).unwrap();
        // A quota of 2 reserves one request at a time: durable before the request goes on.
        usage
            .reserve(reservation.expect("a quota count is reserved"))
            .await
            .unwrap();
        // Dropped without a flush, as in a crash: the reservation is what was stored.
        drop(usage);
        let usage = UsageRegistry::load(stores.documents.clone(), &scope)
            .await
            .unwrap();
        assert!(usage.admit("a", "s", Some(&key.value)).is_ok());
        assert_eq!(
            usage.admit("a", "s", Some(&key.value)),
            Err(Refusal::LimitExceeded)
        );
    }

    #[test]
    fn plan_throttles_are_per_key_buckets() {
        let plan = PlanEntry {
            id: "p".into(),
            quota: None,
            keys: HashSet::new(),
            throttle: throttle_of(Some(&json!({"rateLimit": 0.001, "burstLimit": 2}))),
            buckets: Mutex::new(HashMap::new()),
        };
        assert!(plan.take("k1") && plan.take("k1"));
        assert!(!plan.take("k1"));
        assert!(plan.take("k2"));
        assert!(throttle_of(Some(&json!({}))).is_none());
    }
}
