//! `Condition` blocks: `{"StringEquals": {"aws:SourceAccount": "123456789012"}}`.
//!
//! Rules (IAM User Guide, "Condition operators" and "Multivalued context keys"): every operator
//! block and every key in it must hold; a key's policy values are alternatives (any may match).
//! A negated operator (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, …) holds when the request's
//! value matches none of them. When the request lacks the key, a positive operator fails and a
//! negated one holds — unless `…IfExists` makes any operator hold. `Null` tests presence.
//! `ForAnyValue:` holds when some request value matches (never when the key is absent);
//! `ForAllValues:` when every one does (and when there are none).

use std::net::IpAddr;

use time::OffsetDateTime;

use super::context::RequestContext;
use super::pattern::{substitute, wildcard_match};

/// The comparison of a condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `StringEquals`.
    StringEquals,
    /// `StringEqualsIgnoreCase`.
    StringEqualsIgnoreCase,
    /// `StringLike` (wildcards).
    StringLike,
    /// `NumericEquals` and friends.
    Numeric(Ordering),
    /// `DateEquals` and friends.
    Date(Ordering),
    /// `Bool`.
    Bool,
    /// `BinaryEquals` (base64 text compared as given).
    BinaryEquals,
    /// `IpAddress` (CIDR).
    IpAddress,
    /// `ArnEquals` / `ArnLike` (IAM treats them alike: wildcards per ARN field).
    ArnLike,
    /// `Null`.
    Null,
}

/// An order relation for numeric and date operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// `…Equals`.
    Equals,
    /// `…LessThan`.
    LessThan,
    /// `…LessThanEquals`.
    LessThanEquals,
    /// `…GreaterThan`.
    GreaterThan,
    /// `…GreaterThanEquals`.
    GreaterThanEquals,
}

/// How a multivalued request key is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// No qualifier: the key is treated as single-valued (any of its values may match).
    None,
    /// `ForAnyValue:`.
    ForAnyValue,
    /// `ForAllValues:`.
    ForAllValues,
}

/// A parsed operator name such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionOperator {
    /// The comparison.
    pub comparison: Comparison,
    /// `Not…` variants.
    pub negated: bool,
    /// `…IfExists`.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`.
    pub qualifier: SetQualifier,
}

impl ConditionOperator {
    /// Parses an operator name; `None` for an unknown one.
    pub fn parse(name: &str) -> Option<Self> {
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else {
            (SetQualifier::None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        use Comparison::*;
        use Ordering::*;
        let (comparison, negated) = match base {
            "StringEquals" => (StringEquals, false),
            "StringNotEquals" => (StringEquals, true),
            "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
            "StringLike" => (StringLike, false),
            "StringNotLike" => (StringLike, true),
            "NumericEquals" => (Numeric(Equals), false),
            "NumericNotEquals" => (Numeric(Equals), true),
            "NumericLessThan" => (Numeric(LessThan), false),
            "NumericLessThanEquals" => (Numeric(LessThanEquals), false),
            "NumericGreaterThan" => (Numeric(GreaterThan), false),
            "NumericGreaterThanEquals" => (Numeric(GreaterThanEquals), false),
            "DateEquals" => (Date(Equals), false),
            "DateNotEquals" => (Date(Equals), true),
            "DateLessThan" => (Date(LessThan), false),
            "DateLessThanEquals" => (Date(LessThanEquals), false),
            "DateGreaterThan" => (Date(GreaterThan), false),
            "DateGreaterThanEquals" => (Date(GreaterThanEquals), false),
            "Bool" => (Bool, false),
            "BinaryEquals" => (BinaryEquals, false),
            "IpAddress" => (IpAddress, false),
            "NotIpAddress" => (IpAddress, true),
            "ArnEquals" | "ArnLike" => (ArnLike, false),
            "ArnNotEquals" | "ArnNotLike" => (ArnLike, true),
            "Null" if !if_exists => (Null, false),
            _ => return None,
        };
        Some(Self {
            comparison,
            negated,
            if_exists,
            qualifier,
        })
    }
}

/// One `operator: {key: values}` pair of a statement's `Condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator.
    pub operator: ConditionOperator,
    /// The condition key as written (`aws:SourceArn`).
    pub key: String,
    /// The policy's values (alternatives).
    pub values: Vec<String>,
    /// Whether values may hold `${…}` variables (2012-10-17 policies).
    pub variables: bool,
}

impl Condition {
    /// Whether the condition holds for the request.
    pub fn holds(&self, context: &RequestContext<'_>) -> bool {
        let op = self.operator;
        let request_values = context.values(&self.key);
        if op.comparison == Comparison::Null {
            let absent = request_values.as_ref().is_none_or(|v| v.is_empty());
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true") == absent);
        }
        let Some(request_values) = request_values else {
            return match op.qualifier {
                SetQualifier::ForAllValues => true,
                // "If the key … is not present or is empty, the condition returns false."
                SetQualifier::ForAnyValue => op.if_exists,
                SetQualifier::None => op.if_exists || op.negated,
            };
        };
        let matches_one = |value: &str| self.values.iter().any(|p| self.compare(p, value, context));
        let mut values = request_values.iter();
        match op.qualifier {
            SetQualifier::ForAllValues => values.all(|value| matches_one(value) != op.negated),
            SetQualifier::ForAnyValue => values.any(|value| matches_one(value) != op.negated),
            SetQualifier::None => {
                let any = values.any(matches_one);
                any != op.negated
            }
        }
    }

    fn compare(&self, policy_value: &str, value: &str, context: &RequestContext<'_>) -> bool {
        let substituted;
        let policy_value = if self.variables && policy_value.contains("${") {
            match substitute(policy_value, context) {
                Some(text) => {
                    substituted = text;
                    substituted.as_str()
                }
                None => return false,
            }
        } else {
            policy_value
        };
        match self.operator.comparison {
            Comparison::StringEquals | Comparison::BinaryEquals => policy_value == value,
            Comparison::StringEqualsIgnoreCase => policy_value.eq_ignore_ascii_case(value),
            Comparison::StringLike => wildcard_match(policy_value, value),
            Comparison::Bool => policy_value.eq_ignore_ascii_case(value),
            Comparison::Numeric(order) => match (policy_value.parse::<f64>(), value.parse::<f64>())
            {
                (Ok(p), Ok(v)) => order_holds(order, v.partial_cmp(&p)),
                _ => false,
            },
            Comparison::Date(order) => match (parse_date(policy_value), parse_date(value)) {
                (Some(p), Some(v)) => order_holds(order, v.partial_cmp(&p)),
                _ => false,
            },
            Comparison::IpAddress => ip_in_cidr(value, policy_value),
            Comparison::ArnLike => arn_like(policy_value, value),
            Comparison::Null => false,
        }
    }
}

fn order_holds(order: Ordering, cmp: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(cmp) = cmp else { return false };
    match order {
        Ordering::Equals => cmp == Equal,
        Ordering::LessThan => cmp == Less,
        Ordering::LessThanEquals => cmp != Greater,
        Ordering::GreaterThan => cmp == Greater,
        Ordering::GreaterThanEquals => cmp != Less,
    }
}

/// ARN matching field by field: `arn:partition:service:region:account:resource`, wildcards in each,
/// the resource keeping its own colons.
fn arn_like(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut p = pattern.splitn(6, ':');
    let mut v = value.splitn(6, ':');
    for _ in 0..6 {
        match (p.next(), v.next()) {
            (Some(p), Some(v)) if wildcard_match(p, v) => {}
            _ => return false,
        }
    }
    true
}

/// Whether `ip` lies in `cidr` (`203.0.113.0/24`, `2001:db8::/32`, or a single address).
fn ip_in_cidr(ip: &str, cidr: &str) -> bool {
    let (network, bits) = match cidr.split_once('/') {
        Some((network, bits)) => (network, bits.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(ip), Ok(network)) = (ip.parse::<IpAddr>(), network.parse::<IpAddr>()) else {
        return false;
    };
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// An ISO 8601 date (`2026-01-02`, `2026-01-02T03:04:05Z`, with fraction or offset) or epoch
/// seconds, as IAM's date operators accept.
pub(crate) fn parse_date(text: &str) -> Option<OffsetDateTime> {
    if let Ok(seconds) = text.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(seconds).ok();
    }
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    // A bare date means its midnight UTC; `…T…Z` without seconds is also seen in policies.
    let padded = match text.len() {
        10 => format!("{text}T00:00:00Z"),
        17 if text.ends_with('Z') => format!("{}:00Z", &text[..16]),
        _ => return None,
    };
    OffsetDateTime::parse(&padded, &Rfc3339).ok()
}

#[cfg(test)]
#[path = "condition_tests.rs"]
mod tests;
