//! Schedule expressions: `rate(N unit)` and AWS's six-field `cron(min hour dom month dow year)`,
//! parsed with EventBridge's one error ("Parameter ScheduleExpression is not valid.") and asked
//! for the next firing time. Times are UTC, to the minute.
//!
//! Cron fields: minutes 0–59, hours 0–23, day-of-month 1–31 (`, - * ? / L W`, `LW`), month 1–12
//! or JAN–DEC, day-of-week 1–7 or SUN–SAT, 1 = Sunday (`, - * ? / L #`), year 1970–2199.
//! Exactly one of day-of-month and day-of-week is `?`.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

/// The error EventBridge gives for any malformed expression.
pub const INVALID: &str = "Parameter ScheduleExpression is not valid.";

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `minutes` minutes.
    Rate {
        /// The period in minutes.
        minutes: u64,
    },
    /// At the minutes the expression names.
    Cron(Box<Cron>),
}

/// A parsed cron expression: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    months: u16,
    years: Vec<bool>,
    day_of_month: DayOfMonth,
    day_of_week: DayOfWeek,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Days(u32),
    Last,
    LastWeekday,
    NearestWeekday(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Bits 1..=7, 1 = Sunday.
    Days(u8),
    /// The last given weekday of the month.
    Last(u8),
    /// The n-th given weekday of the month.
    Nth(u8, u8),
}

fn invalid<T>() -> Result<T, String> {
    Err(INVALID.to_owned())
}

impl Schedule {
    /// Parses `rate(…)` or `cron(…)`.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let expression = expression.trim();
        if let Some(inner) = expression
            .strip_prefix("rate(")
            .and_then(|e| e.strip_suffix(')'))
        {
            return parse_rate(inner);
        }
        if let Some(inner) = expression
            .strip_prefix("cron(")
            .and_then(|e| e.strip_suffix(')'))
        {
            return Cron::parse(inner).map(|c| Schedule::Cron(Box::new(c)));
        }
        invalid()
    }

    /// The first firing time strictly after `after_ms` (epoch ms); `anchor_ms` aligns rates
    /// (their ticks are `anchor + k × period`), `minute_ms` is how long a minute lasts (60 000, or
    /// less on a test clock; cron expressions always follow the wall clock). `None`: never again.
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64, minute_ms: i64) -> Option<i64> {
        match self {
            Schedule::Rate { minutes } => {
                let period = (*minutes as i64).saturating_mul(minute_ms.max(1));
                let elapsed = after_ms - anchor_ms;
                let k = if elapsed < 0 { 0 } else { elapsed / period + 1 };
                Some(anchor_ms + k * period)
            }
            Schedule::Cron(cron) => cron.next_after(after_ms),
        }
    }
}

fn parse_rate(inner: &str) -> Result<Schedule, String> {
    let mut parts = inner.split_whitespace();
    let (Some(count), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return invalid();
    };
    if !count.bytes().all(|b| b.is_ascii_digit()) {
        return invalid();
    }
    let n: u64 = count.parse().map_err(|_| INVALID.to_owned())?;
    if n == 0 {
        return invalid();
    }
    let (per, singular) = match unit {
        "minute" => (1, true),
        "minutes" => (1, false),
        "hour" => (60, true),
        "hours" => (60, false),
        "day" => (1440, true),
        "days" => (1440, false),
        _ => return invalid(),
    };
    if singular != (n == 1) {
        return invalid();
    }
    Ok(Schedule::Rate {
        minutes: n.checked_mul(per).ok_or_else(|| INVALID.to_owned())?,
    })
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn value(text: &str, low: u32, high: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(low + i as u32);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return invalid();
    }
    let n: u32 = text.parse().map_err(|_| INVALID.to_owned())?;
    if n < low || n > high {
        return invalid();
    }
    Ok(n)
}

/// `, - * /` over `low..=high`: the allowed values.
fn values(field: &str, low: u32, high: u32, names: &[&str]) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step = value(step, 1, high.max(1), &[])?;
                (range, step)
            }
            None => (part, 0),
        };
        let (start, end) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, low, high, names)?, value(b, low, high, names)?)
        } else {
            let start = value(range, low, high, names)?;
            (start, if step > 0 { high } else { start })
        };
        if start > end {
            return invalid();
        }
        let step = step.max(1);
        let mut n = start;
        while n <= end {
            out.push(n);
            n += step;
        }
    }
    Ok(out)
}

fn bits<T: Default + std::ops::BitOrAssign + From<u8> + std::ops::Shl<u32, Output = T>>(
    values: &[u32],
) -> T {
    let mut out = T::default();
    for v in values {
        out |= T::from(1u8) << *v;
    }
    out
}

impl Cron {
    fn parse(inner: &str) -> Result<Self, String> {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields.as_slice() else {
            return invalid();
        };
        let day_of_month = match *dom {
            "?" => DayOfMonth::Any,
            "L" => DayOfMonth::Last,
            "LW" => DayOfMonth::LastWeekday,
            w if w.ends_with('W') => {
                DayOfMonth::NearestWeekday(value(&w[..w.len() - 1], 1, 31, &[])? as u8)
            }
            other => DayOfMonth::Days(bits(&values(other, 1, 31, &[])?)),
        };
        let day_of_week = match *dow {
            "?" => DayOfWeek::Any,
            "L" => DayOfWeek::Last(7),
            l if l.ends_with('L') => DayOfWeek::Last(value(&l[..l.len() - 1], 1, 7, &DAYS)? as u8),
            nth if nth.contains('#') => {
                let (day, n) = nth.split_once('#').unwrap_or_default();
                DayOfWeek::Nth(value(day, 1, 7, &DAYS)? as u8, value(n, 1, 5, &[])? as u8)
            }
            other => DayOfWeek::Days(bits(&values(other, 1, 7, &DAYS)?)),
        };
        // Exactly one of the two is '?'.
        if (*dom == "?") == (*dow == "?") {
            return invalid();
        }
        let years_allowed = values(year, 1970, 2199, &[])?;
        let mut years = vec![false; 230];
        for y in years_allowed {
            years[(y - 1970) as usize] = true;
        }
        Ok(Self {
            minutes: bits(&values(minutes, 0, 59, &[])?),
            hours: bits(&values(hours, 0, 23, &[])?),
            months: bits(&values(month, 1, 12, &MONTHS)?),
            years,
            day_of_month,
            day_of_week,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let last_day = date.month().length(date.year());
        let day = date.day();
        // Sunday = 1 … Saturday = 7.
        let weekday = date.weekday().number_from_sunday();
        let dom = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(set) => set & (1 << day) != 0,
            DayOfMonth::Last => day == last_day,
            DayOfMonth::LastWeekday => {
                let mut d = last_day;
                while is_weekend(date.replace_day(d).ok()) {
                    d -= 1;
                }
                day == d
            }
            DayOfMonth::NearestWeekday(target) => {
                let target = (*target).min(last_day);
                let wanted = date.replace_day(target).ok();
                let nearest = match wanted.map(|d| d.weekday().number_from_sunday()) {
                    Some(7) if target == 1 => target + 2,
                    Some(7) => target - 1,
                    Some(1) if target == last_day => target - 2,
                    Some(1) => target + 1,
                    _ => target,
                };
                day == nearest
            }
        };
        let dow = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(set) => set & (1 << weekday) != 0,
            DayOfWeek::Last(wanted) => weekday == *wanted && day + 7 > last_day,
            DayOfWeek::Nth(wanted, n) => weekday == *wanted && (day - 1) / 7 + 1 == *n,
        };
        dom && dow
    }

    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = OffsetDateTime::from_unix_timestamp(after_ms.div_euclid(1000)).ok()?;
        // The first whole minute strictly after `after`.
        let start =
            after.replace_second(0).ok()?.replace_nanosecond(0).ok()? + time::Duration::minutes(1);
        let mut date = start.date();
        let mut first_day = true;
        while date.year() <= 2199 {
            let year_ok = date.year() >= 1970 && self.years[(date.year() - 1970) as usize];
            let month_ok = self.months & (1 << u8::from(date.month())) != 0;
            if year_ok && month_ok && self.day_matches(date) {
                let from = if first_day {
                    start.time()
                } else {
                    Time::MIDNIGHT
                };
                for hour in from.hour()..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let from_minute = if hour == from.hour() {
                        from.minute()
                    } else {
                        0
                    };
                    for minute in from_minute..60 {
                        if self.minutes & (1 << minute) != 0 {
                            let at =
                                PrimitiveDateTime::new(date, Time::from_hms(hour, minute, 0).ok()?);
                            return Some(at.assume_utc().unix_timestamp() * 1000);
                        }
                    }
                }
            }
            first_day = false;
            date = date.next_day()?;
        }
        None
    }
}

fn is_weekend(date: Option<Date>) -> bool {
    matches!(date.map(|d| d.weekday().number_from_sunday()), Some(1 | 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        let n: Vec<i32> = text
            .split(['-', ' ', ':'])
            .map(|p| p.parse().unwrap())
            .collect();
        let date =
            Date::from_calendar_date(n[0], time::Month::try_from(n[1] as u8).unwrap(), n[2] as u8)
                .unwrap();
        PrimitiveDateTime::new(date, Time::from_hms(n[3] as u8, n[4] as u8, 0).unwrap())
            .assume_utc()
            .unix_timestamp()
            * 1000
    }

    fn next(expression: &str, after: &str) -> i64 {
        Schedule::parse(expression)
            .unwrap()
            .next_after(at(after), 0, 60_000)
            .unwrap()
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(1 minute)").unwrap(),
            Schedule::Rate { minutes: 1 }
        );
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap(),
            Schedule::Rate { minutes: 5 }
        );
        assert_eq!(
            Schedule::parse("rate(2 hours)").unwrap(),
            Schedule::Rate { minutes: 120 }
        );
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(1 week)",
            "rate(minute)",
            "rate(1.5 hours)",
        ] {
            assert_eq!(Schedule::parse(bad).unwrap_err(), INVALID, "{bad}");
        }
        let rate = Schedule::parse("rate(1 minute)").unwrap();
        assert_eq!(rate.next_after(1_000, 0, 1_000), Some(2_000));
        assert_eq!(rate.next_after(999, 0, 1_000), Some(1_000));
        assert_eq!(rate.next_after(-5, 0, 1_000), Some(0));
    }

    #[test]
    fn cron_expressions() {
        assert_eq!(
            next("cron(0 12 * * ? *)", "2026-01-02 12:00"),
            at("2026-01-03 12:00")
        );
        assert_eq!(
            next("cron(0/15 * * * ? *)", "2026-01-02 12:01"),
            at("2026-01-02 12:15")
        );
        // MON-FRI at 18:00: Friday 2026-01-02 → Monday the 5th.
        assert_eq!(
            next("cron(0 18 ? * MON-FRI *)", "2026-01-02 18:00"),
            at("2026-01-05 18:00")
        );
        // The first Monday of the month (2#1).
        assert_eq!(
            next("cron(0 9 ? * 2#1 *)", "2026-01-06 00:00"),
            at("2026-02-02 09:00")
        );
        // The last day of the month.
        assert_eq!(
            next("cron(0 0 L * ? *)", "2026-02-01 00:00"),
            at("2026-02-28 00:00")
        );
        // Last Friday (6L).
        assert_eq!(
            next("cron(0 0 ? * 6L *)", "2026-01-01 00:00"),
            at("2026-01-30 00:00")
        );
        // Nearest weekday to the 3rd: Saturday 2026-01-03 → Friday the 2nd.
        assert_eq!(
            next("cron(0 0 3W * ? *)", "2026-01-01 00:00"),
            at("2026-01-02 00:00")
        );
        assert_eq!(
            next("cron(* * * * ? *)", "2026-01-01 00:00"),
            at("2026-01-01 00:01")
        );
        assert_eq!(
            next("cron(0 0 1 JAN ? 2027)", "2026-06-01 00:00"),
            at("2027-01-01 00:00")
        );
    }

    #[test]
    fn malformed_cron_is_refused_with_one_error() {
        for bad in [
            "cron(0 12 * * * *)",
            "cron(0 12 ? * ? *)",
            "cron(0 12 * *)",
            "cron(60 12 * * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 12 32 * ? *)",
            "cron(0 12 ? * 8 *)",
            "cron(0 12 * FOO ? *)",
            "cron(0 12 * * ? 1969)",
            "cron(a b c d e f)",
            "cron(0 12 5-1 * ? *)",
            "every minute",
        ] {
            assert_eq!(Schedule::parse(bad).unwrap_err(), INVALID, "{bad}");
        }
    }
}
