//! One finished unit of work, and its OTLP/JSON form.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::context::{new_span_id, TraceContext};

/// OpenTelemetry's span kinds (the OTLP enum's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside Nubo.
    Internal = 1,
    /// A request Nubo serves (the edge; the function's own invocation).
    Server = 2,
    /// A call Nubo makes.
    Client = 3,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for AttributeValue {
    fn from(value: &str) -> Self {
        Self::Str(value.to_owned())
    }
}
impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        Self::Str(value)
    }
}
impl From<i64> for AttributeValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}
impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

/// A span: built when its work starts (or after, with explicit times), handed to the
/// [`super::Tracer`] when it ends.
#[derive(Debug, Clone)]
pub struct Span {
    /// The trace.
    pub trace_id: u128,
    /// This span.
    pub span_id: u64,
    /// Its parent (0: a root span).
    pub parent_span_id: u64,
    /// What the work was, low cardinality (`Invoke my-function`, `GET /items/{id}`).
    pub name: String,
    /// Its kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the epoch.
    pub start_unix_nanos: u64,
    /// End, nanoseconds since the epoch.
    pub end_unix_nanos: u64,
    /// Semantic-convention attributes (`faas.name`, `http.response.status_code`, …).
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// The work failed (OTLP status `ERROR`), with a message.
    pub error: Option<String>,
}

impl Span {
    /// A span starting now under `parent` (a new trace's root when `None`).
    pub fn start(name: impl Into<String>, kind: SpanKind, parent: Option<TraceContext>) -> Self {
        Self::with_id(name, kind, parent, new_span_id())
    }

    /// A span starting now with an id chosen beforehand (one handed to the work as its parent
    /// before the span itself could be built).
    pub fn with_id(
        name: impl Into<String>,
        kind: SpanKind,
        parent: Option<TraceContext>,
        span_id: u64,
    ) -> Self {
        let parent = parent.unwrap_or_else(TraceContext::root);
        let now = unix_nanos_now();
        Self {
            trace_id: parent.trace_id,
            span_id,
            parent_span_id: parent.span_id,
            name: name.into(),
            kind,
            start_unix_nanos: now,
            end_unix_nanos: now,
            attributes: Vec::new(),
            error: None,
        }
    }

    /// The context this span's children run under.
    pub fn context(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: self.span_id,
        }
    }

    /// Adds an attribute.
    pub fn set(&mut self, key: &'static str, value: impl Into<AttributeValue>) {
        self.attributes.push((key, value.into()));
    }

    /// Marks the end as now.
    pub fn end_now(&mut self) {
        self.end_unix_nanos = unix_nanos_now().max(self.start_unix_nanos);
    }

    /// The OTLP/JSON `Span` (ids in hex, 64-bit integers as strings, per the OTLP JSON mapping).
    pub(crate) fn to_otlp_json(&self) -> Value {
        let mut span = json!({
            "traceId": format!("{:032x}", self.trace_id),
            "spanId": format!("{:016x}", self.span_id),
            "name": self.name,
            "kind": self.kind as i32,
            "startTimeUnixNano": self.start_unix_nanos.to_string(),
            "endTimeUnixNano": self.end_unix_nanos.to_string(),
            "attributes": self.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
            "status": match &self.error {
                Some(message) => json!({"code": 2, "message": message}),
                None => json!({"code": 0}),
            },
        });
        if self.parent_span_id != 0 {
            span["parentSpanId"] = Value::String(format!("{:016x}", self.parent_span_id));
        }
        span
    }
}

/// An OTLP `KeyValue`.
pub(crate) fn attribute(key: &str, value: &AttributeValue) -> Value {
    let value = match value {
        AttributeValue::Str(s) => json!({ "stringValue": s }),
        AttributeValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttributeValue::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}

/// Nanoseconds since the epoch, now.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The wall-clock time of a monotonic `instant` in the past (or now), in epoch nanoseconds.
pub fn unix_nanos_at(instant: Instant) -> u64 {
    let ago = Instant::now().saturating_duration_since(instant);
    unix_nanos_now().saturating_sub(ago.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_json_shape() {
        let parent = TraceContext {
            trace_id: 0x5759e988bd862e3fe1be46a994272793,
            span_id: 0x53995c3f42cd8ad8,
        };
        let mut span = Span::with_id("Invoke f", SpanKind::Internal, Some(parent), 0xabc);
        span.set("faas.name", "f");
        span.set("faas.coldstart", true);
        span.set("faas.max_memory", 134217728i64);
        span.error = Some("Unhandled".into());
        span.end_now();
        let json = span.to_otlp_json();
        assert_eq!(json["traceId"], "5759e988bd862e3fe1be46a994272793");
        assert_eq!(json["spanId"], "0000000000000abc");
        assert_eq!(json["parentSpanId"], "53995c3f42cd8ad8");
        assert_eq!(json["kind"], 1);
        assert_eq!(json["status"]["code"], 2);
        assert_eq!(json["attributes"][0]["value"]["stringValue"], "f");
        assert_eq!(json["attributes"][1]["value"]["boolValue"], true);
        assert_eq!(json["attributes"][2]["value"]["intValue"], "134217728");
        let root = Span::start("edge", SpanKind::Server, None).to_otlp_json();
        assert!(root.get("parentSpanId").is_none());
    }

    #[test]
    fn instants_map_to_the_wall_clock() {
        let earlier = Instant::now() - std::time::Duration::from_millis(100);
        let nanos = unix_nanos_at(earlier);
        let diff = unix_nanos_now() - nanos;
        assert!((90_000_000..1_000_000_000).contains(&diff), "{diff}");
    }
}
