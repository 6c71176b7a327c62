//! The two date forms a signed request may carry: `X-Amz-Date` (ISO 8601 basic) and the HTTP
//! `Date` header (RFC 1123).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// `20150830T123600Z` → a UTC time.
pub(crate) fn parse_amz_date(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let date = Date::from_calendar_date(
        num(0..4)? as i32,
        Month::try_from(num(4..6)? as u8).ok()?,
        num(6..8)? as u8,
    )
    .ok()?;
    let time = Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// RFC 1123 `Sun, 06 Nov 1994 08:49:37 GMT` → a UTC time.
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let mut fields = text.split_ascii_whitespace();
    let (_weekday, day, month, year, clock, zone) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if zone != "GMT" || fields.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u8 + 1;
    let date = Date::from_calendar_date(
        year.parse().ok()?,
        Month::try_from(month).ok()?,
        day.parse().ok()?,
    )
    .ok()?;
    let mut hms = clock.split(':').map(|n| n.parse::<u8>().ok());
    let time = Time::from_hms(hms.next()??, hms.next()??, hms.next()??).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}
