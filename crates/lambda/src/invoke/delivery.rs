//! Handing one event to an environment's Runtime API and waiting for what comes back.
//!
//! Two phases: the runtime picks the event up (after init when the environment is cold, under
//! the init limit), then the handler runs under the function's timeout. Whatever ends first — a
//! response, an error report, the process exiting, a deadline — is the [`Outcome`].

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::outcome::Outcome;
use crate::control::records::FunctionRecord;
use crate::environment::Environment;
use crate::runtime_api::{Delivery, RuntimeResult};

/// One event for one environment.
pub(super) struct Event<'a> {
    pub(super) request_id: &'a str,
    pub(super) payload: Bytes,
    pub(super) invoked_function_arn: String,
    pub(super) client_context: Option<String>,
    /// Invocations before this one in its chain.
    pub(super) lineage: u32,
    /// The runtime span's context when tracing: the function's `_X_AMZN_TRACE_ID` names it.
    pub(super) trace: Option<nubo_observe::TraceContext>,
}

/// How the delivery went: the outcome, when the runtime picked the event up (`None` if it never
/// did) and when it ended.
pub(super) struct Delivered {
    pub(super) outcome: Outcome,
    pub(super) delivered_at: Option<Instant>,
    pub(super) finished_at: Instant,
}

fn ended(outcome: Outcome) -> Delivered {
    Delivered {
        outcome,
        delivered_at: None,
        finished_at: Instant::now(),
    }
}

/// Delivers `event` to `env` and waits for its outcome.
pub(super) async fn deliver(
    env: &mut Environment,
    function: &FunctionRecord,
    event: Event<'_>,
    init_timeout: Duration,
) -> Delivered {
    let timeout = Duration::from_secs(function.timeout_seconds as u64);
    let (delivered_tx, delivered_rx) = oneshot::channel();
    let (result_tx, result_rx) = oneshot::channel();
    let delivery = Delivery {
        request_id: event.request_id.to_owned(),
        payload: event.payload,
        timeout,
        invoked_function_arn: event.invoked_function_arn,
        client_context: event.client_context,
        // X-Ray's shape; the ids need to be unique-ish, not unguessable (no getrandom per invoke).
        trace_id: match event.trace {
            Some(trace) => trace.xray_header(&crate::lineage::field(event.lineage + 1)),
            None => format!(
                "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0;{}",
                time::OffsetDateTime::now_utc().unix_timestamp(),
                fastrand::u128(..) >> 32,
                fastrand::u64(..),
                crate::lineage::field(event.lineage + 1)
            ),
        },
        delivered: delivered_tx,
        result: result_tx,
    };
    if env.api.deliveries.try_send(delivery).is_err() {
        return ended(Outcome::Exited(*env.exit.borrow()));
    }
    let state = env.api.state.clone();
    let mut exit = env.exit.clone();
    let init_error_reported = state.init_error_reported.notified();
    tokio::pin!(init_error_reported);
    init_error_reported.as_mut().enable();

    // Phase 1: the runtime picks the event up: after init when cold, under the init limit;
    // when warm, as soon as it is back in `next` (it may still be finishing the previous
    // response, so a warm environment gets the function's timeout, not an init deadline that
    // passed long ago).
    let init_deadline = if env.initialized {
        Instant::now() + timeout
    } else {
        env.started + init_timeout
    };
    if let Some(init_error) = state.init_error() {
        return ended(Outcome::InitError(init_error));
    }
    let delivered_at = tokio::select! {
        delivered = delivered_rx => match delivered {
            Ok(at) => at,
            Err(_) => return ended(Outcome::Exited(*env.exit.borrow())),
        },
        _ = exit.wait_for(Option::is_some) => {
            let outcome = state.init_error().map(Outcome::InitError).unwrap_or_else(|| Outcome::Exited(*env.exit.borrow()));
            return ended(outcome);
        }
        _ = &mut init_error_reported => {
            let outcome = state.init_error().map(Outcome::InitError).unwrap_or(Outcome::Exited(None));
            return ended(outcome);
        }
        _ = tokio::time::sleep_until(init_deadline.into()) => {
            let outcome = if env.initialized {
                Outcome::TimedOut(timeout)
            } else {
                Outcome::InitTimedOut(init_timeout)
            };
            return ended(outcome);
        }
    };

    // Phase 2: the handler runs under the function's timeout.
    let outcome = tokio::select! {
        result = result_rx => match result {
            Ok(RuntimeResult::Response(body)) => Outcome::Response(body),
            Ok(RuntimeResult::Error { error_type, body }) => Outcome::FunctionError(error_type, body),
            Err(_) => Outcome::Exited(*env.exit.borrow()),
        },
        _ = exit.wait_for(Option::is_some) => Outcome::Exited(*env.exit.borrow()),
        _ = tokio::time::sleep_until((delivered_at + timeout).into()) => Outcome::TimedOut(timeout),
    };
    Delivered {
        outcome,
        delivered_at: Some(delivered_at),
        finished_at: Instant::now(),
    }
}
