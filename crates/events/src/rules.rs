//! Rules and their targets as stored (collection `events-rule`, key
//! `{account}/{region}/{bus}/{name}`), with the pattern and schedule compiled once when written.

use serde::{Deserialize, Serialize};

use nubo_lambda::event_sources::pattern::Pattern;

use crate::schedule::Schedule;

/// The documents collection of rules.
pub const COLLECTION: &str = "events-rule";
/// The one event bus every account has.
pub const DEFAULT_BUS: &str = "default";

/// A target of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRecord {
    /// `Id`, unique within the rule.
    pub id: String,
    /// What is invoked: a Lambda function or an SQS queue.
    pub arn: String,
    /// `Input`: JSON text delivered instead of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `InputPath`: the part of the event delivered (`$.detail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
}

/// A rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    /// Its name.
    pub name: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its event bus.
    pub event_bus: String,
    /// `EventPattern`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    /// `ScheduleExpression`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// `Description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `RoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Its targets, in the order they were put.
    #[serde(default)]
    pub targets: Vec<TargetRecord>,
    /// Epoch milliseconds; rates tick from here.
    pub created_ms: i64,
    /// The last scheduled tick handed to the targets (epoch ms): written before delivery, so a
    /// crash never fires one tick twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired_ms: Option<i64>,
}

impl RuleRecord {
    /// `arn:aws:events:{region}:{account}:rule/[{bus}/]{name}`.
    pub fn arn(&self) -> String {
        if self.event_bus == DEFAULT_BUS {
            format!(
                "arn:aws:events:{}:{}:rule/{}",
                self.region, self.account, self.name
            )
        } else {
            format!(
                "arn:aws:events:{}:{}:rule/{}/{}",
                self.region, self.account, self.event_bus, self.name
            )
        }
    }

    /// The store key.
    pub fn key(&self) -> String {
        key(&self.account, &self.region, &self.event_bus, &self.name)
    }
}

/// `{account}/{region}/{bus}/{name}`.
pub fn key(account: &str, region: &str, bus: &str, name: &str) -> String {
    format!("{account}/{region}/{bus}/{name}")
}

/// A rule with its pattern and schedule parsed.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The record.
    pub record: RuleRecord,
    /// Its pattern.
    pub pattern: Option<Pattern>,
    /// Its schedule.
    pub schedule: Option<Schedule>,
}

impl Compiled {
    /// Parses what the record holds (checked when it was put).
    pub fn new(record: RuleRecord) -> Self {
        Self {
            pattern: record
                .event_pattern
                .as_deref()
                .and_then(|p| Pattern::parse(p).ok()),
            schedule: record
                .schedule_expression
                .as_deref()
                .and_then(|s| Schedule::parse(s).ok()),
            record,
        }
    }
}
