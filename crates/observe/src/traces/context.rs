//! Trace context: which trace a request belongs to and which span it hangs under, read from and
//! written to the headers that carry it.
//!
//! Two propagation formats, one id space:
//! - AWS X-Ray's `X-Amzn-Trace-Id: Root=1-{8 hex epoch seconds}-{24 hex};Parent={16 hex};Sampled=1`
//!   (what Lambda hands the function as `_X_AMZN_TRACE_ID`, and what the AWS SDKs send back);
//! - W3C `traceparent: 00-{32 hex trace id}-{16 hex parent id}-{flags}` (OpenTelemetry's default).
//!
//! An X-Ray root maps to an OpenTelemetry trace id by dropping the `1-` and the dash (the mapping
//! the OpenTelemetry X-Ray propagator uses), so a function instrumented with either propagator
//! continues the trace Nubo started, as a child of the span named in `Parent`.

/// The trace a piece of work belongs to and the span its children hang under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    /// The 128-bit trace id: for roots Nubo makes, the upper 32 bits are the epoch seconds (as
    /// X-Ray requires), the rest random.
    pub trace_id: u128,
    /// The span children of this context name as parent (0: none, the trace's root).
    pub span_id: u64,
}

impl TraceContext {
    /// A new trace with no parent span.
    pub fn root() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0) as u32;
        // Unique, not unguessable: fastrand (no getrandom per request).
        let random = fastrand::u128(..) & ((1u128 << 96) - 1);
        Self {
            trace_id: ((seconds as u128) << 96) | random.max(1),
            span_id: 0,
        }
    }

    /// The context a request's headers carry: `traceparent` first, then `X-Amzn-Trace-Id`.
    pub fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        text("traceparent")
            .and_then(Self::parse_traceparent)
            .or_else(|| text("x-amzn-trace-id").and_then(Self::parse_xray))
    }

    /// `Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy;Parent=zzzzzzzzzzzzzzzz;…` (fields in any order;
    /// no `Parent` means the root is the caller's own).
    pub fn parse_xray(header: &str) -> Option<Self> {
        let mut trace_id = None;
        let mut span_id = 0;
        for field in header.split(';') {
            let (key, value) = field.trim().split_once('=')?;
            match key.trim() {
                "Root" => {
                    let mut parts = value.trim().split('-');
                    let (version, epoch, random) = (parts.next()?, parts.next()?, parts.next()?);
                    if version != "1" || epoch.len() != 8 || random.len() != 24 {
                        return None;
                    }
                    trace_id = Some(u128::from_str_radix(&format!("{epoch}{random}"), 16).ok()?);
                }
                "Parent" => span_id = u64::from_str_radix(value.trim(), 16).ok()?,
                _ => {}
            }
        }
        let trace_id = trace_id.filter(|&id| id != 0)?;
        Some(Self { trace_id, span_id })
    }

    /// `00-{trace id}-{parent id}-{flags}`.
    pub fn parse_traceparent(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let (version, trace, parent) = (parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || trace.len() != 32 || parent.len() != 16 {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|&id| id != 0)?;
        let span_id = u64::from_str_radix(parent, 16).ok().filter(|&id| id != 0)?;
        Some(Self { trace_id, span_id })
    }

    /// The X-Ray root: `1-{8 hex}-{24 hex}`.
    pub fn xray_root(&self) -> String {
        format!(
            "1-{:08x}-{:024x}",
            (self.trace_id >> 96) as u32,
            self.trace_id & ((1u128 << 96) - 1)
        )
    }

    /// The `X-Amzn-Trace-Id` / `_X_AMZN_TRACE_ID` value naming this context's span as parent,
    /// followed by `extra` fields (Nubo's `Lineage`).
    pub fn xray_header(&self, extra: &str) -> String {
        format!(
            "Root={};Parent={:016x};Sampled=1;{extra}",
            self.xray_root(),
            self.span_id
        )
    }

    /// The W3C `traceparent` naming this context's span as parent.
    pub fn traceparent(&self) -> String {
        format!("00-{:032x}-{:016x}-01", self.trace_id, self.span_id)
    }
}

/// A new span id (never 0).
pub fn new_span_id() -> u64 {
    fastrand::u64(1..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xray_header_round_trips_and_maps_to_the_otel_trace_id() {
        let parsed = TraceContext::parse_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(
            format!("{:032x}", parsed.trace_id),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(parsed.span_id, 0x53995c3f42cd8ad8);
        assert_eq!(parsed.xray_root(), "1-5759e988-bd862e3fe1be46a994272793");
        let header = parsed.xray_header("Lineage=6e75626f:1");
        assert_eq!(TraceContext::parse_xray(&header), Some(parsed));
        assert!(header.ends_with(";Sampled=1;Lineage=6e75626f:1"));
    }

    #[test]
    fn a_root_without_parent_and_bad_headers() {
        let root = TraceContext::parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(root.span_id, 0);
        assert_eq!(TraceContext::parse_xray("Root=2-5759e988-bd86"), None);
        assert_eq!(TraceContext::parse_xray("Parent=53995c3f42cd8ad8"), None);
        assert_eq!(TraceContext::parse_xray("garbage"), None);
    }

    #[test]
    fn traceparent_round_trips() {
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let parsed = TraceContext::parse_traceparent(header).unwrap();
        assert_eq!(parsed.traceparent(), header);
        assert_eq!(
            TraceContext::parse_traceparent(
                "00-00000000000000000000000000000000-b7ad6b7169203331-01"
            ),
            None
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", header.parse().unwrap());
        headers.insert(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
        );
        assert_eq!(TraceContext::from_headers(&headers), Some(parsed));
    }

    #[test]
    fn roots_carry_the_epoch_in_their_upper_bits() {
        let root = TraceContext::root();
        let seconds = (root.trace_id >> 96) as u64;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now - seconds < 5);
        assert_eq!(root.xray_root().len(), 35);
    }
}
