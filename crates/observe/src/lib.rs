//! One observability sink: the metrics registry and the batching log writer.
//!
//! Owns [`MetricsRegistry`] — Prometheus metrics from `prometheus-client`, registered once at
//! start by the components that own them (counters they bump, gauges read at scrape time) and
//! rendered at `/_nubo/metrics` — and [`LogWriter`], the one writer for every log line Nubo keeps
//! (function logs, access logs): a bounded channel that never makes the request path wait, drained
//! by a task that commits batches to the store's [`nubo_store::Logs`] keyed by group and stream.
//! Does not own: what is measured or logged (the lambda and gateway crates decide), nor how logs
//! are read back (the store's `Logs` trait; a CloudWatch Logs API will sit on it).
//! [`UsageMeter`] counts requests, billed duration and GB-seconds per function version (durable,
//! costed at configurable prices).
//! [`Tracer`] exports spans over OTLP/HTTP when an endpoint is configured (see [`traces`]).
//! No global state: the composition root makes one registry and one writer and passes them in.

mod api_metrics;
pub mod api_usage;
mod function_metrics;
mod logs;
mod metrics;
pub mod traces;
mod usage;

pub use api_metrics::{Answered, ApiMetrics, ApiMinute, ApiStage, StageFilter, MAX_API_SERIES};
pub use function_metrics::{FunctionMetrics, InvocationOutcome, MinuteBucket, MAX_SERIES};
pub use logs::{function_log_group, scope_prefix, scoped_group, split_scoped_group, LogWriter};
pub use metrics::{Counter, MetricsRegistry, SlidingQuantiles};
pub use traces::{Span, SpanKind, TraceContext, Tracer};
pub use usage::{Metered, Prices, Usage, UsageKey, UsageMeter, UsageRow, USAGE_COLLECTION};
