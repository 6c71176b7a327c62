//! `QueueError`: every way a queue operation fails, in terms a client can act on. The edge maps
//! each variant to SQS's error shape (json) and legacy code (query) in one table.

use nubo_store::StoreError;

/// Why a queue operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueueError {
    /// `QueueDoesNotExist`.
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// `QueueNameExists`: same name, other attributes.
    #[error("A queue already exists with the same name and a different value for attribute {0}")]
    QueueNameExists(String),
    /// `InvalidAttributeName`.
    #[error("{0}")]
    InvalidAttributeName(String),
    /// `InvalidAttributeValue`.
    #[error("{0}")]
    InvalidAttributeValue(String),
    /// `InvalidParameterValue` (the common error).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// `MissingParameter` (the common error).
    #[error("{0}")]
    MissingParameter(String),
    /// `ReceiptHandleIsInvalid`.
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    /// `MessageNotInflight`.
    #[error("The message referred to is not in flight.")]
    MessageNotInflight,
    /// `InvalidMessageContents`.
    #[error("{0}")]
    InvalidMessageContents(String),
    /// `EmptyBatchRequest`.
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(&'static str),
    /// `TooManyEntriesInBatchRequest`.
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    /// `BatchEntryIdsNotDistinct`.
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    /// `InvalidBatchEntryId`.
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId,
    /// `BatchRequestTooLong`.
    #[error("Batch requests cannot be longer than {limit} bytes. You have sent {sent} bytes.")]
    BatchRequestTooLong {
        /// The queue's maximum message size.
        limit: usize,
        /// What the batch adds up to.
        sent: usize,
    },
    /// `PurgeQueueInProgress`.
    #[error("Only one PurgeQueue operation on {0} is allowed every 60 seconds.")]
    PurgeQueueInProgress(String),
    /// `UnsupportedOperation`.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The store failed.
    #[error("the queue store failed: {0}")]
    Store(String),
}

impl From<StoreError> for QueueError {
    fn from(e: StoreError) -> Self {
        QueueError::Store(e.to_string())
    }
}

impl QueueError {
    /// `InvalidParameterValue` "Value X for parameter P is invalid. Reason: R."
    pub fn invalid_value(value: impl std::fmt::Display, parameter: &str, reason: &str) -> Self {
        QueueError::InvalidParameterValue(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
        ))
    }
}
