//! How an invocation ended, and what the caller and the log are told about it: the error
//! documents and platform lines Lambda writes for timeouts, exits, init failures and bad
//! bootstraps, word for word.

use std::process::ExitStatus;
use std::time::Duration;

use bytes::Bytes;

use crate::control::records::FunctionRecord;
use crate::runtime_api::InitError;

/// How a delivery ended.
pub(super) enum Outcome {
    /// The runtime posted a response.
    Response(Bytes),
    /// The runtime posted an error (its type, its document).
    FunctionError(Option<String>, Bytes),
    /// The runtime reported `init/error`.
    InitError(InitError),
    /// The process exited (its status, when known).
    Exited(Option<ExitStatus>),
    /// The handler ran past the function's timeout.
    TimedOut(Duration),
    /// Initialization ran past the init limit.
    InitTimedOut(Duration),
}

impl Outcome {
    /// True when the environment can run another invocation.
    pub(super) fn healthy(&self) -> bool {
        matches!(self, Self::Response(_) | Self::FunctionError(..))
    }
}

/// What an outcome becomes.
pub(super) struct Interpreted {
    /// `X-Amz-Function-Error: Unhandled`.
    pub(super) function_error: bool,
    /// The response, or the error document.
    pub(super) body: Bytes,
    /// The platform's lines for the log, after the function's own.
    pub(super) platform_line: Option<String>,
}

fn error_document(error_type: &str, message: String) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

/// Turns an outcome into the caller's answer and the log's platform line. `out_of_memory` says
/// an exit was the memory limit's doing (reported as `Runtime.OutOfMemory`).
pub(super) fn interpret(
    outcome: Outcome,
    out_of_memory: bool,
    request_id: &str,
    function: &FunctionRecord,
) -> Interpreted {
    let failed = |body: Bytes, platform_line: Option<String>| Interpreted {
        function_error: true,
        body,
        platform_line,
    };
    match outcome {
        Outcome::Response(body) => Interpreted {
            function_error: false,
            body,
            platform_line: None,
        },
        Outcome::FunctionError(error_type, body) => {
            let body = if body.is_empty() {
                error_document(
                    error_type.as_deref().unwrap_or("Unhandled"),
                    "The function reported an error without details".into(),
                )
            } else {
                body
            };
            failed(body, None)
        }
        Outcome::InitError(init) => {
            let error_type = init.error_type.as_deref().unwrap_or("Runtime.Unknown");
            let body = if init.body.is_empty() {
                error_document(error_type, "The runtime failed to initialize".into())
            } else {
                init.body
            };
            let line = format!(
                "INIT_REPORT Init Duration: n/a\tPhase: init\tStatus: error\tError Type: {error_type}"
            );
            failed(body, Some(line))
        }
        Outcome::Exited(status) => {
            let how = match status {
                Some(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                    (Some(code), _) => format!("exit status {code}"),
                    (None, Some(9)) => "signal: killed".into(),
                    (None, Some(sig)) => format!("signal: {sig}"),
                    _ => "unknown".into(),
                },
                None => "unknown".into(),
            };
            let message =
                format!("RequestId: {request_id} Error: Runtime exited with error: {how}");
            let error_type = if out_of_memory {
                "Runtime.OutOfMemory"
            } else {
                "Runtime.ExitError"
            };
            failed(
                error_document(error_type, message.clone()),
                Some(format!("{message}\n{error_type}")),
            )
        }
        Outcome::TimedOut(timeout) => {
            let at = nubo_wire::timefmt::iso_millis(time::OffsetDateTime::now_utc());
            let message = format!(
                "{at} {request_id} Task timed out after {:.2} seconds",
                timeout.as_secs_f64()
            );
            failed(
                error_document("Sandbox.Timedout", message.clone()),
                Some(message),
            )
        }
        Outcome::InitTimedOut(limit) => {
            let message = format!(
                "RequestId: {request_id} Error: Init phase timed out after {:.2} seconds ({})",
                limit.as_secs_f64(),
                function.runtime
            );
            failed(
                error_document("Runtime.InitTimeout", message.clone()),
                Some(message),
            )
        }
    }
}

/// A `provided` runtime whose bootstrap could not be started: Lambda's answer.
pub(super) fn invalid_entrypoint(request_id: &str) -> Interpreted {
    let message = format!("RequestId: {request_id} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
    Interpreted {
        function_error: true,
        body: error_document("Runtime.InvalidEntrypoint", message.clone()),
        platform_line: Some(format!("{message}\nRuntime.InvalidEntrypoint")),
    }
}
