//! `EventRules`: every rule of every scope, in memory and written through to the store; the
//! operations the edge's EventBridge API calls; matching `PutEvents` entries against patterns;
//! and the scheduler that fires schedule rules.

use std::collections::HashMap;
use std::sync::Arc;

use nubo_lambda::event_sources::pattern::Pattern;
use nubo_lambda::AsyncInvoker;
use nubo_queues::QueueRegistry;
use nubo_store::{Change, Documents, ListQuery};
use nubo_wire::Scope;
use parking_lot::RwLock;
use serde_json::Value;

use crate::rules::{key, Compiled, RuleRecord, TargetRecord, COLLECTION, DEFAULT_BUS};
use crate::schedule::Schedule;
use crate::EventsError;

/// Most targets a rule may have.
pub const MAX_TARGETS: usize = 5;

/// Tunables.
#[derive(Debug, Clone, Copy)]
pub struct EventsConfig {
    /// How long a schedule's minute lasts, in milliseconds: 60 000, or less for a test clock
    /// (`rate()` rules then tick faster; `cron()` follows the wall clock).
    pub minute_ms: i64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { minute_ms: 60_000 }
    }
}

/// What `PutRule` asks for.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    /// `Name`.
    pub name: String,
    /// `EventBusName` (default `default`).
    pub event_bus: Option<String>,
    /// `EventPattern`.
    pub event_pattern: Option<String>,
    /// `ScheduleExpression`.
    pub schedule_expression: Option<String>,
    /// `State`: `ENABLED` (default) or `DISABLED`.
    pub enabled: Option<bool>,
    /// `Description`.
    pub description: Option<String>,
    /// `RoleArn`.
    pub role_arn: Option<String>,
}

/// One `PutEvents` entry.
#[derive(Debug, Clone, Default)]
pub struct EventEntry {
    /// `Source`.
    pub source: Option<String>,
    /// `DetailType`.
    pub detail_type: Option<String>,
    /// `Detail` (JSON text).
    pub detail: Option<String>,
    /// `Resources`.
    pub resources: Vec<String>,
    /// `EventBusName`.
    pub event_bus: Option<String>,
    /// `Time`, epoch seconds.
    pub time: Option<i64>,
}

/// What became of one entry: its event id, or an error code and message.
pub type EntryResult = Result<String, (&'static str, String)>;

/// Every rule, by `{account}/{region}/{bus}/{name}`.
pub struct EventRules {
    documents: Arc<dyn Documents>,
    pub(crate) async_invoker: Arc<AsyncInvoker>,
    pub(crate) queues: Arc<QueueRegistry>,
    pub(crate) rules: RwLock<HashMap<String, Arc<Compiled>>>,
    writer: tokio::sync::Mutex<()>,
    pub(crate) config: EventsConfig,
}

pub(crate) fn now_ms() -> i64 {
    nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc())
}

pub(crate) fn iso_seconds(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(nubo_wire::timefmt::iso_seconds)
        .unwrap_or_default()
}

/// A bus given by name or ARN.
fn bus_name(bus: Option<&str>) -> String {
    match bus.filter(|b| !b.is_empty()) {
        Some(arn) if arn.starts_with("arn:") => arn
            .rsplit_once("event-bus/")
            .map(|(_, name)| name.to_owned())
            .unwrap_or_else(|| arn.to_owned()),
        Some(name) => name.to_owned(),
        None => DEFAULT_BUS.to_owned(),
    }
}

fn not_found(name: &str, bus: &str) -> EventsError {
    EventsError::NotFound(format!("Rule {name} does not exist on EventBus {bus}."))
}

impl EventRules {
    /// Loads every rule and starts the scheduler.
    pub async fn load(
        documents: Arc<dyn Documents>,
        async_invoker: Arc<AsyncInvoker>,
        queues: Arc<QueueRegistry>,
        config: EventsConfig,
    ) -> Result<Arc<Self>, EventsError> {
        let mut rules = HashMap::new();
        for document in documents.list(COLLECTION, ListQuery::all()).await? {
            match serde_json::from_str::<RuleRecord>(&document.body) {
                Ok(record) => {
                    rules.insert(document.key, Arc::new(Compiled::new(record)));
                }
                Err(e) => {
                    tracing::error!(key = %document.key, error = %e, "skipping an unreadable rule")
                }
            }
        }
        let this = Arc::new(Self {
            documents,
            async_invoker,
            queues,
            rules: RwLock::new(rules),
            writer: tokio::sync::Mutex::new(()),
            config,
        });
        tokio::spawn(crate::scheduler::run(Arc::downgrade(&this)));
        Ok(this)
    }

    /// How many rules there are.
    pub fn count(&self) -> usize {
        self.rules.read().len()
    }

    /// One rule.
    pub fn get(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
    ) -> Result<Arc<Compiled>, EventsError> {
        let bus = bus_name(bus);
        self.rules
            .read()
            .get(&key(&scope.account_id, &scope.region, &bus, name))
            .cloned()
            .ok_or_else(|| not_found(name, &bus))
    }

    /// The rules of a bus whose names start with `prefix`, by name.
    pub fn list(&self, scope: &Scope, bus: Option<&str>, prefix: &str) -> Vec<Arc<Compiled>> {
        let start = key(&scope.account_id, &scope.region, &bus_name(bus), "");
        let mut found: Vec<(String, Arc<Compiled>)> = self
            .rules
            .read()
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&start)
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.into_iter().map(|(_, r)| r).collect()
    }

    async fn write(&self, record: RuleRecord) -> Result<Arc<Compiled>, EventsError> {
        let body = serde_json::to_string(&record)
            .map_err(|e| EventsError::Store(format!("encoding a rule: {e}")))?;
        self.documents
            .commit(vec![Change::put(COLLECTION, &record.key(), body)])
            .await?;
        let compiled = Arc::new(Compiled::new(record));
        self.rules
            .write()
            .insert(compiled.record.key(), compiled.clone());
        Ok(compiled)
    }

    /// `PutRule`: creates or replaces a rule (its targets and schedule anchor stay).
    pub async fn put_rule(
        &self,
        scope: &Scope,
        input: RuleInput,
    ) -> Result<Arc<Compiled>, EventsError> {
        let bus = bus_name(input.event_bus.as_deref());
        let schedule = input
            .schedule_expression
            .as_deref()
            .filter(|s| !s.is_empty());
        let pattern = input.event_pattern.as_deref().filter(|p| !p.is_empty());
        if schedule.is_none() && pattern.is_none() {
            return Err(EventsError::Validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.".into(),
            ));
        }
        if let Some(expression) = schedule {
            Schedule::parse(expression).map_err(EventsError::Validation)?;
            if bus != DEFAULT_BUS {
                return Err(EventsError::Validation(
                    "ScheduleExpression is supported only on the default event bus.".into(),
                ));
            }
        }
        if let Some(pattern) = pattern {
            Pattern::parse(pattern).map_err(|e| {
                EventsError::InvalidEventPattern(format!("Event pattern is not valid. Reason: {e}"))
            })?;
        }
        let _turn = self.writer.lock().await;
        let existing = self.get(scope, Some(&bus), &input.name).ok();
        let now = now_ms();
        let previous = existing.as_ref().map(|c| &c.record);
        let same_schedule = previous.is_some_and(|p| p.schedule_expression.as_deref() == schedule);
        let record = RuleRecord {
            name: input.name,
            account: scope.account_id.clone(),
            region: scope.region.clone(),
            event_bus: bus,
            event_pattern: pattern.map(str::to_owned),
            schedule_expression: schedule.map(str::to_owned),
            enabled: input.enabled.unwrap_or(true),
            description: input.description,
            role_arn: input.role_arn,
            targets: previous.map(|p| p.targets.clone()).unwrap_or_default(),
            created_ms: previous
                .filter(|_| same_schedule)
                .map_or(now, |p| p.created_ms),
            last_fired_ms: previous
                .filter(|_| same_schedule)
                .and_then(|p| p.last_fired_ms),
        };
        self.write(record).await
    }

    /// Changes a rule through `change`.
    pub(crate) async fn modify(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
        change: impl FnOnce(&mut RuleRecord) -> Result<(), EventsError>,
    ) -> Result<Arc<Compiled>, EventsError> {
        let _turn = self.writer.lock().await;
        let mut record = self.get(scope, bus, name)?.record.clone();
        change(&mut record)?;
        self.write(record).await
    }

    /// `EnableRule` / `DisableRule`.
    pub async fn set_enabled(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
        enabled: bool,
    ) -> Result<(), EventsError> {
        self.modify(scope, bus, name, |r| {
            r.enabled = enabled;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// `DeleteRule`: a rule with targets stays unless `force`.
    pub async fn delete_rule(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
        force: bool,
    ) -> Result<(), EventsError> {
        let _turn = self.writer.lock().await;
        let Ok(rule) = self.get(scope, bus, name) else {
            return Ok(());
        };
        if !rule.record.targets.is_empty() && !force {
            return Err(EventsError::Validation(
                "Rule can't be deleted since it has targets.".into(),
            ));
        }
        let key = rule.record.key();
        self.documents
            .commit(vec![Change::delete(COLLECTION, &key)])
            .await?;
        self.rules.write().remove(&key);
        Ok(())
    }

    /// `PutTargets`: adds or replaces targets by id; returns the ids that failed, with why.
    pub async fn put_targets(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
        targets: Vec<TargetRecord>,
    ) -> Result<Vec<(String, &'static str, String)>, EventsError> {
        let mut failed = Vec::new();
        self.modify(scope, bus, name, |record| {
            for target in targets {
                if let Err(message) = check_target(&target) {
                    failed.push((target.id.clone(), "ValidationException", message));
                    continue;
                }
                match record.targets.iter_mut().find(|t| t.id == target.id) {
                    Some(existing) => *existing = target,
                    None => record.targets.push(target),
                }
            }
            if record.targets.len() > MAX_TARGETS {
                return Err(EventsError::LimitExceeded(
                    "The requested resource exceeds the maximum number allowed.".into(),
                ));
            }
            Ok(())
        })
        .await?;
        Ok(failed)
    }

    /// `RemoveTargets`.
    pub async fn remove_targets(
        &self,
        scope: &Scope,
        bus: Option<&str>,
        name: &str,
        ids: &[String],
    ) -> Result<(), EventsError> {
        self.modify(scope, bus, name, |record| {
            record.targets.retain(|t| !ids.contains(&t.id));
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// `PutEvents`: each entry is checked, matched against the enabled pattern rules of its bus,
    /// and handed to their targets.
    pub async fn put_events(&self, scope: &Scope, entries: Vec<EventEntry>) -> Vec<EntryResult> {
        let mut results = Vec::new();
        for entry in entries {
            let result = match crate::deliver::event_of(scope, &entry) {
                Ok(event) => {
                    let id = event["id"].as_str().unwrap_or_default().to_owned();
                    let bus = bus_name(entry.event_bus.as_deref());
                    let start = key(&scope.account_id, &scope.region, &bus, "");
                    let matched: Vec<Arc<Compiled>> = self
                        .rules
                        .read()
                        .iter()
                        .filter(|(k, _)| k.starts_with(&start))
                        .map(|(_, r)| r.clone())
                        .filter(|r| r.record.enabled)
                        .filter(|r| r.pattern.as_ref().is_some_and(|p| p.matches(&event)))
                        .collect();
                    for rule in matched {
                        self.deliver(&rule.record, &event).await;
                    }
                    Ok(id)
                }
                Err(e) => Err(e),
            };
            results.push(result);
        }
        results
    }
}

fn check_target(target: &TargetRecord) -> Result<(), String> {
    if target.id.is_empty()
        || target.id.len() > 64
        || !target
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!("Target id '{}' is not valid.", target.id));
    }
    if target.input.is_some() && target.input_path.is_some() {
        return Err("Only one of Input, InputPath, or InputTransformer must be provided.".into());
    }
    if let Some(input) = &target.input {
        serde_json::from_str::<Value>(input).map_err(|_| "Input is not valid JSON.".to_owned())?;
    }
    if let Some(path) = &target.input_path {
        if !path.starts_with('$') {
            return Err(format!("InputPath '{path}' is not a valid JSON path."));
        }
    }
    match target.arn.split(':').nth(2) {
        Some("lambda" | "sqs") => Ok(()),
        _ => Err(format!(
            "Target arn {} is not supported: Nubo delivers to Lambda functions and SQS queues.",
            target.arn
        )),
    }
}
