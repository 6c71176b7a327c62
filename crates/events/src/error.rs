//! `EventsError`: how an EventBridge operation fails; the edge maps each to AWS's code.

/// Why an EventBridge operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// `InvalidEventPatternException`.
    #[error("{0}")]
    InvalidEventPattern(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// The store failed (`InternalException`).
    #[error("{0}")]
    Store(String),
}

impl From<nubo_store::StoreError> for EventsError {
    fn from(e: nubo_store::StoreError) -> Self {
        EventsError::Store(e.to_string())
    }
}
