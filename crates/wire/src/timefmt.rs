//! Timestamps in the formats AWS puts on the wire.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const LAST_MODIFIED: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
const ISO_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const ISO_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const LOG_STREAM_DAY: &[FormatItem<'static>] = format_description!("[year]/[month]/[day]");

/// Lambda's `LastModified`: `2026-11-24T10:00:00.000+0000`.
pub fn last_modified(at: OffsetDateTime) -> String {
    at.format(LAST_MODIFIED).unwrap_or_default()
}

/// ISO-8601 with milliseconds and `Z`, as in invocation records.
pub fn iso_millis(at: OffsetDateTime) -> String {
    at.format(ISO_MILLIS).unwrap_or_default()
}

/// ISO-8601 to the second with `Z`, as IAM and STS write `CreateDate` and `Expiration`:
/// `2026-11-24T10:00:00Z`.
pub fn iso_seconds(at: OffsetDateTime) -> String {
    at.format(ISO_SECONDS).unwrap_or_default()
}

/// SigV4's `X-Amz-Date`: `20261124T100000Z`.
pub fn amz_date(at: OffsetDateTime) -> String {
    at.format(AMZ_DATE).unwrap_or_default()
}

/// The day part of a log stream name: `2026/11/24`.
pub fn log_stream_day(at: OffsetDateTime) -> String {
    at.format(LOG_STREAM_DAY).unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn epoch_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// An HTTP date (RFC 1123, as `Last-Modified` carries it): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(HTTP_DATE)
        .unwrap_or_default()
}

/// Reads an HTTP date (RFC 1123); `None` for anything else.
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    crate::sigv4::dates::parse_http_date(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_match_aws() {
        let at = datetime!(2026-11-24 10:00:01.234 UTC);
        assert_eq!(last_modified(at), "2026-11-24T10:00:01.234+0000");
        assert_eq!(iso_millis(at), "2026-11-24T10:00:01.234Z");
        assert_eq!(amz_date(at), "20261124T100001Z");
        assert_eq!(iso_seconds(at), "2026-11-24T10:00:01Z");
        assert_eq!(log_stream_day(at), "2026/11/24");
    }
}
