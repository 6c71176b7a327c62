//! An event-source mapping as it is stored (collection `lambda-event-source-mapping`, key
//! `{account}/{region}/{uuid}`) and the rules its settings follow (Lambda's limits for SQS
//! sources).

use serde::{Deserialize, Serialize};

use super::pattern::Pattern;
use crate::ControlError;

/// The documents collection of mappings.
pub const COLLECTION: &str = "lambda-event-source-mapping";

/// A mapping from a queue to a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingRecord {
    /// The mapping's id.
    pub uuid: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The function's ARN (with its qualifier when the mapping names one).
    pub function_arn: String,
    /// The queue's ARN.
    pub event_source_arn: String,
    /// Records per invocation.
    pub batch_size: u32,
    /// Seconds to gather a batch.
    pub maximum_batching_window: u32,
    /// `ScalingConfig.MaximumConcurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u32>,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    #[serde(default)]
    pub report_batch_item_failures: bool,
    /// `FilterCriteria.Filters[].Pattern`, as given.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Whether it polls.
    pub enabled: bool,
    /// A DynamoDB stream source's settings (absent for queues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSource>,
    /// Epoch milliseconds.
    pub last_modified_ms: i64,
}

/// The settings only stream sources have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSource {
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// The sequence number the mapping starts after (resolved when it was created).
    pub start_after: u64,
    /// `BisectBatchOnFunctionError`.
    pub bisect_on_error: bool,
    /// `MaximumRetryAttempts` (-1: until the records expire).
    pub maximum_retry_attempts: i64,
    /// `MaximumRecordAgeInSeconds` (-1: no limit).
    pub maximum_record_age: i64,
    /// `DestinationConfig.OnFailure.Destination` (an SQS queue's ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
}

impl MappingRecord {
    /// `arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{}",
            self.region, self.account, self.uuid
        )
    }

    /// The store key.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.uuid)
    }

    /// The parsed filters (checked when set).
    pub(crate) fn patterns(&self) -> Vec<Pattern> {
        self.filters
            .iter()
            .filter_map(|f| Pattern::parse(f).ok())
            .collect()
    }
}

/// Lambda's rules for an SQS mapping's settings.
pub fn check(record: &MappingRecord, fifo: bool) -> Result<(), ControlError> {
    let invalid = |m: String| Err(ControlError::InvalidParameter(m));
    let max_batch = if fifo { 10 } else { 10_000 };
    if record.batch_size < 1 || record.batch_size > max_batch {
        return invalid(format!(
            "BatchSize must be between 1 and {max_batch} for {} queues.",
            if fifo { "FIFO" } else { "standard" }
        ));
    }
    if record.maximum_batching_window > 300 {
        return invalid("MaximumBatchingWindowInSeconds must be between 0 and 300.".into());
    }
    if record.batch_size > 10 && record.maximum_batching_window < 1 {
        return invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
                .into(),
        );
    }
    if let Some(n) = record.maximum_concurrency {
        if !(2..=1000).contains(&n) {
            return invalid("MaximumConcurrency must be between 2 and 1000.".into());
        }
    }
    if record.filters.len() > 5 {
        return invalid("The number of filters in FilterCriteria must be at most 5.".into());
    }
    for filter in &record.filters {
        Pattern::parse(filter).map_err(|e| {
            ControlError::InvalidParameter(format!("Invalid filter pattern definition. {e}"))
        })?;
    }
    Ok(())
}

/// Lambda's rules for a DynamoDB stream mapping's settings.
pub fn check_stream(record: &MappingRecord) -> Result<(), ControlError> {
    let invalid = |m: &str| Err(ControlError::InvalidParameter(m.to_owned()));
    if record.batch_size < 1 || record.batch_size > 10_000 {
        return invalid("BatchSize must be between 1 and 10000.");
    }
    if record.maximum_batching_window > 300 {
        return invalid("MaximumBatchingWindowInSeconds must be between 0 and 300.");
    }
    let Some(stream) = &record.stream else {
        return invalid("StartingPosition is required for DynamoDB stream event sources.");
    };
    if !(-1..=10_000).contains(&stream.maximum_retry_attempts) {
        return invalid("MaximumRetryAttempts must be between -1 and 10000.");
    }
    let age = stream.maximum_record_age;
    if age != -1 && !(60..=604_800).contains(&age) {
        return invalid("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.");
    }
    Ok(())
}
