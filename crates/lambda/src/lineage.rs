//! Recursive-loop detection: how many invocations came before this one in its chain.
//!
//! AWS stops a function that keeps invoking itself through events after 16 hops (Lambda
//! developer guide, "Recursive loop detection"), tracking the chain in the X-Ray trace header's
//! `Lineage` field. Nubo does the same with its own count:
//!
//! - every invocation's trace id (`Lambda-Runtime-Trace-Id`, the function's `_X_AMZN_TRACE_ID`)
//!   ends in `Lineage=6e75626f:N`, N counting this invocation and those before it;
//! - the AWS SDKs send `_X_AMZN_TRACE_ID` back as `X-Amzn-Trace-Id` on the calls a function makes
//!   (botocore's and the SDK for JavaScript's recursion-detection step), so an Invoke from inside
//!   a function carries N, and the event it queues starts at N;
//! - a destination record queued after an event ran starts at the event's count plus one;
//! - an asynchronous event whose chain already holds [`MAX_LINEAGE`] invocations is not run: it
//!   ends with the condition `RecursiveInvocationException` and its `OnFailure` destination gets
//!   the record (count 17, which still runs); events that run sets off (18 and more) are
//!   dropped without a record, so the loop ends even when `OnFailure` points back at the
//!   function.
//!
//! The count is per chain, not per function: a pipeline of more than 16 different functions
//! chained through events is stopped too (AWS counts per function; Nubo carries one number).

/// Invocations a chain of events may hold; the next event is stopped.
pub const MAX_LINEAGE: u32 = 16;

/// The condition an invocation record reports for a stopped event.
pub const RECURSION_CONDITION: &str = "RecursiveInvocationException";

/// The trace-header field for a chain of `count` invocations.
pub fn field(count: u32) -> String {
    format!("Lineage=6e75626f:{count}")
}

/// The count in a trace header (`X-Amzn-Trace-Id`), 0 when it has none.
pub fn parse(trace_header: &str) -> u32 {
    trace_header
        .split(';')
        .filter_map(|field| field.trim().strip_prefix("Lineage="))
        .filter_map(|value| value.rsplit_once(':'))
        .filter_map(|(_, count)| count.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_trip_through_the_trace_header() {
        let header = format!("Root=1-5f84c7a9-0000;Parent=1234;Sampled=0;{}", field(7));
        assert_eq!(parse(&header), 7);
        assert_eq!(parse("Root=1-5f84c7a9-0000;Sampled=1"), 0);
        assert_eq!(parse("Lineage=abc:x"), 0);
        assert_eq!(parse(""), 0);
    }
}
