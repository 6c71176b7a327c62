//! A function reference as a Lambda operation's input gives it, checked against that operation's
//! model shapes (botocore's `lambda/2015-03-31`), as Lambda checks it.
//!
//! Operations differ: most take a `NamespacedFunctionName` (up to 256 characters, dots allowed in
//! the name, `$LATEST.PUBLISHED` as a qualifier), the older ones a `FunctionName` (up to 140),
//! and their `Qualifier` parameters have three different shapes. A reference that breaks its
//! shapes is a `ValidationException` counting every broken constraint ("2 validation errors
//! detected: …"); one that fits them but cannot name a function Nubo can hold — a name longer than
//! 64 characters or with a dot, a qualifier such as `$latest` or `$LATEST.PUBLISHED` — names
//! nothing: `ResourceNotFoundException`, as on AWS.
//!
//! The model's patterns are matched here by hand: every optional group of the function-name
//! pattern ends with `:`, so an input splits into colon-separated segments and each reading of the
//! optional groups (at most sixteen) is tried in the order a regular expression would try them.

use crate::validation::{Violation, Violations};

/// The shape of a function-name member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameShape {
    /// `FunctionName`: 1–140, `[a-zA-Z0-9-_]+` names, `$LATEST` or `[a-zA-Z0-9-_]+` qualifiers.
    FunctionName,
    /// `NamespacedFunctionName`: 1–256, dots allowed, `$LATEST.PUBLISHED` too.
    Namespaced,
    /// `FunctionUrlFunctionName`: 1–140, names of at most 64, an alias as the only qualifier.
    FunctionUrl,
}

/// The `FunctionName` shape's pattern, as AWS prints it.
pub const FUNCTION_NAME_SHAPE_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
/// The `NamespacedFunctionName` shape's pattern, as AWS prints it.
pub const NAMESPACED_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|[a-zA-Z0-9-_]+))?";
/// The `FunctionUrlFunctionName` shape's pattern, as AWS prints it.
pub const FUNCTION_URL_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]{1,64})(:((?!\\d+$)[0-9a-zA-Z-_]+))?";

impl NameShape {
    /// The shape's length limit.
    pub fn max_length(self) -> usize {
        match self {
            NameShape::FunctionName | NameShape::FunctionUrl => 140,
            NameShape::Namespaced => 256,
        }
    }

    /// The shape's pattern, as AWS prints it.
    pub fn pattern(self) -> &'static str {
        match self {
            NameShape::FunctionName => FUNCTION_NAME_SHAPE_PATTERN,
            NameShape::Namespaced => NAMESPACED_NAME_PATTERN,
            NameShape::FunctionUrl => FUNCTION_URL_NAME_PATTERN,
        }
    }

    fn is_name(self, segment: &str) -> bool {
        let dots = self == NameShape::Namespaced;
        let longest = match self {
            NameShape::FunctionUrl => 64,
            _ => usize::MAX,
        };
        !segment.is_empty()
            && segment.len() <= longest
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dots && c == '.'))
    }

    /// The qualifier after the name. `$` is accepted anywhere, as Lambda's own check does (a
    /// lower-case `:$latest` is "not found", not a validation error); what it names is decided
    /// after the model check.
    fn is_qualifier(self, segment: &str) -> bool {
        if self == NameShape::FunctionUrl {
            return QualifierShape::FunctionUrl.matches(segment) && !segment.is_empty();
        }
        segment == "$LATEST"
            || (self == NameShape::Namespaced && segment == "$LATEST.PUBLISHED")
            || (!segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '$'))
    }
}

/// The shape of a `Qualifier` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualifierShape {
    /// `NumericLatestPublishedOrAliasQualifier` (Get, Invoke, Delete, event-invoke configs, …).
    Numeric,
    /// `Qualifier` (provisioned concurrency).
    Plain,
    /// `FunctionUrlQualifier`: an alias name (never a number, never `$LATEST`).
    FunctionUrl,
}

impl QualifierShape {
    /// The shape's pattern, as AWS prints it.
    pub fn pattern(self) -> &'static str {
        match self {
            QualifierShape::Numeric => "\\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+",
            QualifierShape::Plain => "(|[a-zA-Z0-9$_-]+)",
            QualifierShape::FunctionUrl => "((?!^\\d+$)^[0-9a-zA-Z-_]+$)",
        }
    }

    fn matches(self, value: &str) -> bool {
        let charset = |dollar: bool| {
            value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dollar && c == '$'))
        };
        match self {
            QualifierShape::Numeric => value == "$LATEST.PUBLISHED" || charset(true),
            QualifierShape::Plain => charset(true),
            QualifierShape::FunctionUrl => {
                charset(false) && !value.bytes().all(|b| b.is_ascii_digit())
            }
        }
    }

    /// Every constraint `value` breaks (length 1–128, then the pattern), member `qualifier`.
    pub fn check(self, value: &str, violations: &mut Violations) {
        let length = value.chars().count();
        if length == 0 {
            violations.push(Violation::min_length(value, "qualifier", 1));
        } else if length > 128 {
            violations.push(Violation::max_length(value, "qualifier", 128));
        }
        if !value.is_empty() && !self.matches(value) {
            violations.push(Violation::pattern(value, "qualifier", self.pattern()));
        }
    }
}

/// A function name, partial ARN or ARN that fits its shape, taken apart. Nothing is known yet
/// about the scope it names or whether such a function can exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedFunction<'a> {
    /// The account, when an ARN (full or partial) names one.
    pub account: Option<&'a str>,
    /// The region, when an ARN names one.
    pub region: Option<&'a str>,
    /// The plain name.
    pub name: &'a str,
    /// The qualifier after the name, if any.
    pub qualifier: Option<&'a str>,
}

fn is_partition(segment: &str) -> bool {
    segment.is_empty()
        || segment
            .strip_prefix("aws")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
}

/// `(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}`.
fn is_region(segment: &str) -> bool {
    let segment = segment.strip_prefix("eusc-").unwrap_or(segment);
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let Some((country, rest)) = segment.split_once('-') else {
        return false;
    };
    let Some((middle, digit)) = rest.rsplit_once('-') else {
        return false;
    };
    let middle_ok = match middle.split_once('-') {
        None => lower(middle),
        Some((kind, area)) => {
            let iso = kind.strip_prefix("iso").is_some_and(|rest| {
                rest.len() <= 1 && rest.bytes().all(|b| b.is_ascii_lowercase())
            });
            (kind == "gov" || iso) && lower(area)
        }
    };
    country.len() == 2
        && lower(country)
        && middle_ok
        && digit.len() == 1
        && digit.bytes().all(|b| b.is_ascii_digit())
}

/// The first `n` segments, moving `rest` past them.
fn take<'s, 'a>(rest: &mut &'s [&'a str], n: usize) -> Option<&'s [&'a str]> {
    let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
    *rest = tail;
    Some(head)
}

fn is_account(segment: &str) -> bool {
    segment.len() == 12 && segment.bytes().all(|b| b.is_ascii_digit())
}

impl<'a> NamedFunction<'a> {
    /// Reads `input` as `shape`'s pattern reads it; `None` when it does not match.
    pub fn read(input: &'a str, shape: NameShape) -> Option<Self> {
        // The common case, a plain name: no optional group can be present.
        if !input.contains(':') {
            return shape.is_name(input).then_some(NamedFunction {
                account: None,
                region: None,
                name: input,
                qualifier: None,
            });
        }
        let segments: Vec<&str> = input.split(':').collect();
        let starts_as_arn = segments.first() == Some(&"arn");
        // Optional groups in the pattern's order, each tried present before absent, as a
        // backtracking matcher would.
        for mask in (0..16u8).rev() {
            let (arn, region, account, function) =
                (mask & 8 != 0, mask & 4 != 0, mask & 2 != 0, mask & 1 != 0);
            // The pattern would read `arn:aws:lambda:REGION:ACCOUNT:layer:x` as the function
            // `layer` at qualifier `x`; an ARN names a function only with its `function:`.
            if arn && (!function || !starts_as_arn) {
                continue;
            }
            let mut rest = segments.as_slice();
            let mut named = NamedFunction {
                account: None,
                region: None,
                name: "",
                qualifier: None,
            };
            if arn {
                match take(&mut rest, 3) {
                    Some(["arn", partition, "lambda"]) if is_partition(partition) => {}
                    _ => continue,
                }
            }
            if region {
                match take(&mut rest, 1) {
                    Some([r]) if is_region(r) => named.region = Some(r),
                    _ => continue,
                }
            }
            if account {
                match take(&mut rest, 1) {
                    Some([a]) if is_account(a) => named.account = Some(a),
                    _ => continue,
                }
            }
            if function {
                match take(&mut rest, 1) {
                    Some(["function"]) => {}
                    _ => continue,
                }
            }
            match rest {
                [name] if shape.is_name(name) => named.name = name,
                [name, qualifier] if shape.is_name(name) && shape.is_qualifier(qualifier) => {
                    named.name = name;
                    named.qualifier = Some(qualifier);
                }
                _ => continue,
            }
            return Some(named);
        }
        None
    }

    /// Checks `input` against `shape` as member `member`: every broken constraint (length, then
    /// pattern) is reported.
    pub fn check(input: &'a str, shape: NameShape, member: &str) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let length = input.chars().count();
        if length == 0 {
            violations.push(Violation::min_length(input, member, 1));
        } else if length > shape.max_length() {
            violations.push(Violation::max_length(input, member, shape.max_length()));
        }
        let read = Self::read(input, shape);
        if read.is_none() {
            violations.push(Violation::pattern(input, member, shape.pattern()));
        }
        match read {
            Some(named) if violations.is_empty() => Ok(named),
            _ => Err(violations),
        }
    }

    /// Splits a reference with the widest shape (`NamespacedFunctionName`); a malformed one is its
    /// model violation(s) as one `ValidationException`-ready list.
    pub fn split(input: &'a str) -> Result<Self, Violations> {
        Self::check(input, NameShape::Namespaced, "functionName")
    }

    /// True when nothing but a name was given (no ARN parts, no qualifier).
    pub fn is_plain_name(&self) -> bool {
        self.account.is_none() && self.region.is_none() && self.qualifier.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> Option<NamedFunction<'_>> {
        NamedFunction::read(input, NameShape::Namespaced)
    }

    #[test]
    fn every_form_the_pattern_allows() {
        let plain = read("f").unwrap();
        assert_eq!((plain.name, plain.qualifier), ("f", None));
        assert_eq!(read("f:prod").unwrap().qualifier, Some("prod"));
        let partial = read("123456789012:function:f:7").unwrap();
        assert_eq!(
            (partial.account, partial.name, partial.qualifier),
            (Some("123456789012"), "f", Some("7"))
        );
        let full = read("arn:aws:lambda:us-east-1:123456789012:function:f").unwrap();
        assert_eq!(
            (full.region, full.account, full.name),
            (Some("us-east-1"), Some("123456789012"), "f")
        );
        for partition in ["aws-cn", "aws-us-gov", "aws-iso-b", "aws-eusc"] {
            let arn = format!("arn:{partition}:lambda:us-east-1:123456789012:function:f");
            assert_eq!(read(&arn).unwrap().name, "f", "{arn}");
        }
        for region in [
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
        ] {
            let arn = format!("arn:aws:lambda:{region}:123456789012:function:f");
            assert_eq!(read(&arn).unwrap().region, Some(region), "{arn}");
        }
        assert_eq!(read("function:f").unwrap().name, "f");
        // A function named `arn`, at an alias.
        assert_eq!(read("arn:live").unwrap().qualifier, Some("live"));
        assert_eq!(read("my.fn").unwrap().name, "my.fn");
        assert_eq!(
            read("f:$LATEST.PUBLISHED").unwrap().qualifier,
            Some("$LATEST.PUBLISHED")
        );
        assert_eq!(read("f:$latest").unwrap().qualifier, Some("$latest"));
    }

    #[test]
    fn what_the_pattern_refuses() {
        for bad in [
            "",
            "a b",
            "f:a:b",
            "arn:aws:s3:::bucket",
            "f:",
            ":f",
            "arn:gcp:lambda:f",
        ] {
            assert!(read(bad).is_none(), "{bad:?}");
        }
        assert!(NamedFunction::read("my.fn", NameShape::FunctionName).is_none());
        assert!(NamedFunction::read("f:$LATEST.PUBLISHED", NameShape::FunctionName).is_none());
        assert!(NamedFunction::read("f:3", NameShape::FunctionUrl).is_none());
        assert!(NamedFunction::read(&"x".repeat(65), NameShape::FunctionUrl).is_none());
        assert!(NamedFunction::read("f:live", NameShape::FunctionUrl).is_some());
    }

    #[test]
    fn every_broken_constraint_is_counted() {
        let long = format!("{}!", "x".repeat(256));
        let violations =
            NamedFunction::check(&long, NameShape::Namespaced, "functionName").unwrap_err();
        let message = violations.message().unwrap();
        assert!(
            message.starts_with("2 validation errors detected: "),
            "{message}"
        );
        assert!(message.contains("Member must have length less than or equal to 256"));
        assert!(message.contains(NAMESPACED_NAME_PATTERN));
        // A name of 65 characters fits the shape: what it names is decided later.
        assert!(
            NamedFunction::check(&"x".repeat(65), NameShape::FunctionName, "functionName").is_ok()
        );
    }

    #[test]
    fn qualifier_shapes() {
        let check = |shape: QualifierShape, value: &str| {
            let mut violations = Violations::new();
            shape.check(value, &mut violations);
            violations.message()
        };
        assert_eq!(check(QualifierShape::Numeric, "$latest"), None);
        assert_eq!(check(QualifierShape::Numeric, "$LATEST.PUBLISHED"), None);
        assert!(check(QualifierShape::Numeric, "a.b").is_some());
        assert!(check(QualifierShape::FunctionUrl, "12").is_some());
        assert!(check(QualifierShape::FunctionUrl, "$LATEST").is_some());
        assert_eq!(check(QualifierShape::FunctionUrl, "live"), None);
        let both = check(QualifierShape::Plain, &format!("{}.", "q".repeat(128))).unwrap();
        assert!(both.starts_with("2 validation errors detected"), "{both}");
        assert!(check(QualifierShape::Plain, "")
            .unwrap()
            .contains("greater than or equal to 1"));
    }
}
