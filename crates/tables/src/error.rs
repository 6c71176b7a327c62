//! The tables layer's errors; the edge maps each to DynamoDB's code in one place.

use crate::value::Item;

/// Why a transaction was cancelled, per action (`None` for the ones that were fine).
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed`, `ValidationError`, `TransactionConflict`.
    pub code: &'static str,
    /// The explanation, when there is one.
    pub message: Option<String>,
    /// The item as it was, when the action asked for it (`ReturnValuesOnConditionCheckFailure`).
    pub item: Option<Item>,
}

/// Errors of the tables layer.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// A request DynamoDB refuses (`ValidationException`), with its text.
    #[error("{0}")]
    Validation(String),
    /// A body that does not fit the model (`SerializationException`).
    #[error("{0}")]
    Serialization(String),
    /// No such table, index or stream (`ResourceNotFoundException`).
    #[error("{0}")]
    NotFound(String),
    /// The table exists already or is busy (`ResourceInUseException`).
    #[error("{0}")]
    InUse(String),
    /// A condition did not hold (`ConditionalCheckFailedException`), with the item when asked.
    #[error("The conditional request failed")]
    ConditionalCheckFailed(Option<Item>),
    /// A transaction was cancelled (`TransactionCanceledException`).
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", .0.iter().map(|r| r.code).collect::<Vec<_>>().join(", "))]
    TransactionCanceled(Vec<CancellationReason>),
    /// Too many of something (`LimitExceededException`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A shard iterator that expired or points at trimmed records (`ExpiredIteratorException`,
    /// `TrimmedDataAccessException`).
    #[error("{0}")]
    ExpiredIterator(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
}

impl From<nubo_store::StoreError> for TablesError {
    fn from(e: nubo_store::StoreError) -> Self {
        Self::Store(e.to_string())
    }
}
