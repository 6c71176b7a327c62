//! Events: an EventBridge subset — rules on the default event bus (and named ones) with event
//! patterns or schedule expressions, their Lambda and SQS targets with `Input`/`InputPath`,
//! `PutEvents` matched against the patterns, and the scheduler that fires `rate()`/`cron()` rules
//! (the tick recorded before delivery, so a restart never fires one tick twice).
//!
//! Does not own: the wire shapes (the edge's `events_api`) or the pattern language (shared with
//! Lambda's event filters in `nubo_lambda::event_sources::pattern`).

mod deliver;
mod error;
mod registry;
pub mod rules;
pub mod schedule;
mod scheduler;

pub use error::EventsError;
pub use registry::{EntryResult, EventEntry, EventRules, EventsConfig, RuleInput, MAX_TARGETS};
pub use rules::{Compiled, RuleRecord, TargetRecord};
