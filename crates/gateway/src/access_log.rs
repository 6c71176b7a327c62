//! Access logs: a stage's `accessLogSettings.format` with `$context.*` variables filled in.
//!
//! The request path only formats the line and hands it to the shared log writer
//! (`nubo_observe::LogWriter`: a bounded channel, dropped when the writer is behind), which commits
//! batches to the store under the log group named by `destinationArn` (stream `{apiId}/{stage}`);
//! the line also goes to the `nubo::access` tracing target.

use nubo_observe::LogWriter;
use nubo_store::LogEvent;

/// The values a format may reference.
#[derive(Debug, Clone, Default)]
pub struct AccessContext {
    /// `$context.requestId` / `extendedRequestId`.
    pub request_id: String,
    /// `$context.apiId`.
    pub api_id: String,
    /// `$context.stage`.
    pub stage: String,
    /// `$context.routeKey` (`-` when nothing matched).
    pub route_key: String,
    /// `$context.httpMethod`.
    pub http_method: String,
    /// `$context.path`.
    pub path: String,
    /// `$context.status`.
    pub status: u16,
    /// `$context.responseLength`.
    pub response_length: Option<u64>,
    /// `$context.requestTime`.
    pub request_time: String,
    /// `$context.requestTimeEpoch` (ms).
    pub request_time_epoch: i64,
    /// `$context.identity.sourceIp`.
    pub source_ip: String,
    /// `$context.identity.userAgent`.
    pub user_agent: String,
    /// `$context.domainName`.
    pub domain_name: String,
    /// `$context.integrationLatency` (ms).
    pub integration_latency_ms: Option<u128>,
    /// `$context.responseLatency` (ms).
    pub response_latency_ms: u128,
    /// `$context.integrationStatus`.
    pub integration_status: Option<u16>,
    /// `$context.error.message` / `integrationErrorMessage`.
    pub error_message: Option<String>,
}

impl AccessContext {
    fn variable(&self, name: &str) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        match name {
            "requestId" | "extendedRequestId" => self.request_id.clone(),
            "apiId" => self.api_id.clone(),
            "stage" => self.stage.clone(),
            "routeKey" => self.route_key.clone(),
            "httpMethod" => self.http_method.clone(),
            "path" => self.path.clone(),
            "protocol" => "HTTP/1.1".into(),
            "status" => self.status.to_string(),
            "responseLength" => opt(self.response_length.map(|l| l.to_string())),
            "requestTime" => self.request_time.clone(),
            "requestTimeEpoch" => self.request_time_epoch.to_string(),
            "identity.sourceIp" => self.source_ip.clone(),
            "identity.userAgent" => self.user_agent.clone(),
            "domainName" => self.domain_name.clone(),
            "domainPrefix" => self.domain_name.split('.').next().unwrap_or("").to_owned(),
            "integrationLatency" | "integration.latency" => {
                opt(self.integration_latency_ms.map(|l| l.to_string()))
            }
            "responseLatency" => self.response_latency_ms.to_string(),
            "integrationStatus" | "integration.status" => {
                opt(self.integration_status.map(|s| s.to_string()))
            }
            "error.message" | "integrationErrorMessage" | "integration.error" => {
                opt(self.error_message.clone())
            }
            _ => "-".into(),
        }
    }
}

/// Fills `$context.x` variables in `format`.
pub fn render(format: &str, ctx: &AccessContext) -> String {
    let mut out = String::with_capacity(format.len() + 64);
    let mut rest = format;
    while let Some(at) = rest.find("$context.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "$context.".len()..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .unwrap_or(after.len());
        let name = after[..len].trim_end_matches('.');
        out.push_str(&ctx.variable(name));
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    out
}

/// The store key of the log group a destination ARN names (`arn:aws:logs:REGION:ACCOUNT:
/// log-group:NAME[:*]`): the group in the ARN's account and region (see
/// `nubo_observe::scoped_group`).
pub fn log_group(destination_arn: &str) -> String {
    match destination_arn.split_once(":log-group:") {
        Some((head, group)) => {
            let group = group.trim_end_matches(":*");
            let mut parts = head.split(':');
            match (parts.nth(3), parts.next()) {
                (Some(region), Some(account)) => nubo_observe::scoped_group(account, region, group),
                _ => group.to_owned(),
            }
        }
        None => destination_arn.to_owned(),
    }
}

/// The writer side of access logs.
#[derive(Clone)]
pub struct AccessLogSink {
    writer: LogWriter,
}

impl AccessLogSink {
    /// Access logs through the shared writer.
    pub fn new(writer: LogWriter) -> Self {
        Self { writer }
    }

    /// Queues a line; never waits.
    pub fn write(&self, group: String, stream: String, message: String) {
        tracing::info!(target: "nubo::access", "{message}");
        self.writer.send_one(LogEvent {
            group,
            stream,
            timestamp_ms: nubo_wire::timefmt::epoch_millis(time::OffsetDateTime::now_utc()),
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_unknown_ones_dashed() {
        let ctx = AccessContext {
            request_id: "r1".into(),
            route_key: "GET /a".into(),
            status: 200,
            source_ip: "127.0.0.1".into(),
            ..Default::default()
        };
        assert_eq!(
            render(
                r#"{"id":"$context.requestId","ip":"$context.identity.sourceIp","s":$context.status,"k":"$context.routeKey","x":"$context.nope"}"#,
                &ctx
            ),
            r#"{"id":"r1","ip":"127.0.0.1","s":200,"k":"GET /a","x":"-"}"#
        );
        assert_eq!(
            log_group("arn:aws:logs:us-east-1:0:log-group:my-logs:*"),
            "0:us-east-1:my-logs"
        );
    }
}
