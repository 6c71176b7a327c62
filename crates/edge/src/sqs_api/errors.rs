//! SQS's errors: `QueueError` → the json shape's code (`__type`) and status, and each code's
//! legacy query-protocol code, which json replies also carry in `x-amzn-query-error`
//! (botocore then reports the legacy code and still raises the modeled exception).

use nubo_queues::QueueError;
use nubo_wire::AwsError;

nubo_wire::error_table! {
    /// SQS's codes (botocore's shapes; statuses from the last query-protocol model).
    pub(crate) struct SqsErrors {
        queue_does_not_exist => ("QueueDoesNotExist", BAD_REQUEST),
        queue_name_exists => ("QueueNameExists", BAD_REQUEST),
        invalid_attribute_name => ("InvalidAttributeName", BAD_REQUEST),
        invalid_attribute_value => ("InvalidAttributeValue", BAD_REQUEST),
        invalid_parameter_value => ("InvalidParameterValue", BAD_REQUEST),
        missing_parameter => ("MissingParameter", BAD_REQUEST),
        receipt_handle_is_invalid => ("ReceiptHandleIsInvalid", BAD_REQUEST),
        message_not_inflight => ("MessageNotInflight", BAD_REQUEST),
        invalid_message_contents => ("InvalidMessageContents", BAD_REQUEST),
        empty_batch_request => ("EmptyBatchRequest", BAD_REQUEST),
        too_many_entries => ("TooManyEntriesInBatchRequest", BAD_REQUEST),
        batch_entry_ids_not_distinct => ("BatchEntryIdsNotDistinct", BAD_REQUEST),
        invalid_batch_entry_id => ("InvalidBatchEntryId", BAD_REQUEST),
        batch_request_too_long => ("BatchRequestTooLong", BAD_REQUEST),
        purge_queue_in_progress => ("PurgeQueueInProgress", FORBIDDEN),
        unsupported_operation => ("UnsupportedOperation", BAD_REQUEST),
        invalid_address => ("InvalidAddress", NOT_FOUND),
        internal_error => ("InternalError", INTERNAL_SERVER_ERROR),
    }
}

/// The legacy (query) code of a json error code, when it differs or must be stated.
pub(crate) fn query_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "QueueDoesNotExist" => "AWS.SimpleQueueService.NonExistentQueue",
        "QueueNameExists" => "QueueAlreadyExists",
        "EmptyBatchRequest" => "AWS.SimpleQueueService.EmptyBatchRequest",
        "TooManyEntriesInBatchRequest" => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "BatchEntryIdsNotDistinct" => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        "InvalidBatchEntryId" => "AWS.SimpleQueueService.InvalidBatchEntryId",
        "BatchRequestTooLong" => "AWS.SimpleQueueService.BatchRequestTooLong",
        "PurgeQueueInProgress" => "AWS.SimpleQueueService.PurgeQueueInProgress",
        "MessageNotInflight" => "AWS.SimpleQueueService.MessageNotInflight",
        "UnsupportedOperation" => "AWS.SimpleQueueService.UnsupportedOperation",
        "ReceiptHandleIsInvalid" => "ReceiptHandleIsInvalid",
        "InvalidAttributeName" => "InvalidAttributeName",
        "InvalidAttributeValue" => "InvalidAttributeValue",
        "InvalidParameterValue" => "InvalidParameterValue",
        "MissingParameter" => "MissingParameter",
        "InvalidMessageContents" => "InvalidMessageContents",
        "InvalidAddress" => "InvalidAddress",
        "InternalError" => "InternalError",
        // The guard's errors, as SQS's query protocol names them.
        "AccessDeniedException" => "AccessDenied",
        "InvalidSignatureException" => "SignatureDoesNotMatch",
        "UnrecognizedClientException" => "InvalidClientTokenId",
        "IncompleteSignatureException" => "IncompleteSignature",
        "ExpiredTokenException" => "ExpiredToken",
        "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
        _ => return None,
    })
}

/// The wire error of a domain error.
pub(crate) fn aws(err: QueueError) -> AwsError {
    let message = err.to_string();
    match err {
        QueueError::QueueDoesNotExist => SqsErrors::queue_does_not_exist(message),
        QueueError::QueueNameExists(_) => SqsErrors::queue_name_exists(message),
        QueueError::InvalidAttributeName(_) => SqsErrors::invalid_attribute_name(message),
        QueueError::InvalidAttributeValue(_) => SqsErrors::invalid_attribute_value(message),
        QueueError::InvalidParameterValue(_) => SqsErrors::invalid_parameter_value(message),
        QueueError::MissingParameter(_) => SqsErrors::missing_parameter(message),
        QueueError::ReceiptHandleIsInvalid(_) => SqsErrors::receipt_handle_is_invalid(message),
        QueueError::MessageNotInflight => SqsErrors::message_not_inflight(message),
        QueueError::InvalidMessageContents(_) => SqsErrors::invalid_message_contents(message),
        QueueError::EmptyBatchRequest(_) => SqsErrors::empty_batch_request(message),
        QueueError::TooManyEntriesInBatchRequest(_) => SqsErrors::too_many_entries(message),
        QueueError::BatchEntryIdsNotDistinct(_) => SqsErrors::batch_entry_ids_not_distinct(message),
        QueueError::InvalidBatchEntryId => SqsErrors::invalid_batch_entry_id(message),
        QueueError::BatchRequestTooLong { .. } => SqsErrors::batch_request_too_long(message),
        QueueError::PurgeQueueInProgress(_) => SqsErrors::purge_queue_in_progress(message),
        QueueError::UnsupportedOperation(_) => SqsErrors::unsupported_operation(message),
        QueueError::Store(_) => {
            tracing::error!(error = %message, "an SQS operation failed in the store");
            SqsErrors::internal_error("We encountered an internal error. Please try again.")
        }
    }
}

/// `MissingParameter` for a required member.
pub(crate) fn missing(member: &str) -> AwsError {
    SqsErrors::missing_parameter(format!("The request must contain the parameter {member}."))
}
