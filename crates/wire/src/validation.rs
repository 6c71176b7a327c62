//! AWS's model-constraint errors, built in one place.
//!
//! Services generated from a Smithy/Coral model (Lambda, STS, IAM, DynamoDB, …) check every
//! member against its shape's constraints (required, length, range, pattern, enum) before any
//! business rule, and report all that fail at once:
//!
//! ```text
//! 2 validation errors detected: Value 'x' at 'runtime' failed to satisfy constraint: Member must
//! satisfy enum value set: [...]; Value null at 'role' failed to satisfy constraint: Member must not be null
//! ```
//!
//! A check returns a [`Violation`]; a handler that checks several members gathers them in
//! [`Violations`] and turns them into one `ValidationException`.

use std::fmt;

use crate::AwsError;

/// How the failing value is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    /// `Value null at …` (a required member that is missing).
    Null,
    /// `Value '…' at …`.
    Text(String),
}

/// One member that failed one constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    value: Shown,
    member: String,
    constraint: String,
}

impl Violation {
    /// `Value '{value}' at '{member}' failed to satisfy constraint: {constraint}`.
    pub fn new(value: impl fmt::Display, member: &str, constraint: impl Into<String>) -> Self {
        Self {
            value: Shown::Text(value.to_string()),
            member: member.to_owned(),
            constraint: constraint.into(),
        }
    }

    /// A required member that is missing.
    pub fn required(member: &str) -> Self {
        Self {
            value: Shown::Null,
            member: member.to_owned(),
            constraint: "Member must not be null".into(),
        }
    }

    /// A string that does not match its shape's pattern (AWS prints the pattern as modelled).
    pub fn pattern(value: impl fmt::Display, member: &str, pattern: &str) -> Self {
        Self::new(
            value,
            member,
            format!("Member must satisfy regular expression pattern: {pattern}"),
        )
    }

    /// A string or list longer than its shape allows.
    pub fn max_length(value: impl fmt::Display, member: &str, max: usize) -> Self {
        Self::new(
            value,
            member,
            format!("Member must have length less than or equal to {max}"),
        )
    }

    /// A string or list shorter than its shape allows.
    pub fn min_length(value: impl fmt::Display, member: &str, min: usize) -> Self {
        Self::new(
            value,
            member,
            format!("Member must have length greater than or equal to {min}"),
        )
    }

    /// A number below its shape's minimum.
    pub fn min_value(value: impl fmt::Display, member: &str, min: impl fmt::Display) -> Self {
        Self::new(
            value,
            member,
            format!("Member must have value greater than or equal to {min}"),
        )
    }

    /// A number above its shape's maximum.
    pub fn max_value(value: impl fmt::Display, member: &str, max: impl fmt::Display) -> Self {
        Self::new(
            value,
            member,
            format!("Member must have value less than or equal to {max}"),
        )
    }

    /// A number outside `min..=max`, where the shape states both at once (paging limits).
    pub fn between(
        value: impl fmt::Display,
        member: &str,
        min: impl fmt::Display,
        max: impl fmt::Display,
    ) -> Self {
        Self::new(
            value,
            member,
            format!("Member must have value between {min} and {max}"),
        )
    }

    /// A value outside its enum.
    pub fn enum_set(value: impl fmt::Display, member: &str, allowed: &[&str]) -> Self {
        Self::new(
            value,
            member,
            format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        )
    }

    /// `min..=max` checked in one place: the lower bound first, as AWS reports it.
    pub fn range<T: PartialOrd + fmt::Display>(
        value: T,
        member: &str,
        min: T,
        max: T,
    ) -> Result<T, Self> {
        if value < min {
            Err(Self::min_value(&value, member, min))
        } else if value > max {
            Err(Self::max_value(&value, member, max))
        } else {
            Ok(value)
        }
    }

    /// The member the violation is about.
    pub fn member(&self) -> &str {
        &self.member
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Shown::Null => write!(f, "Value null")?,
            Shown::Text(value) => write!(f, "Value '{value}'")?,
        }
        write!(
            f,
            " at '{}' failed to satisfy constraint: {}",
            self.member, self.constraint
        )
    }
}

impl std::error::Error for Violation {}

/// Every violation of one request, in the order the members were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// The value if the check passed; otherwise records its violation and gives `None`.
    pub fn check<T>(&mut self, result: Result<T, Violation>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violation) => {
                self.push(violation);
                None
            }
        }
    }

    /// The value if the checks passed; otherwise records their violations and gives `None`.
    pub fn absorb<T>(&mut self, result: Result<T, Violations>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(violations) => {
                self.0.extend(violations.0);
                None
            }
        }
    }

    /// True when every check passed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `N validation error(s) detected: …; …`, or `None` when there is nothing to report.
    pub fn message(&self) -> Option<String> {
        let count = self.0.len();
        if count == 0 {
            return None;
        }
        let listed: Vec<String> = self.0.iter().map(Violation::to_string).collect();
        let noun = if count == 1 { "error" } else { "errors" };
        Some(format!(
            "{count} validation {noun} detected: {}",
            listed.join("; ")
        ))
    }

    /// `Ok` when every check passed, else the `ValidationException` reporting them all.
    pub fn into_result(self) -> Result<(), AwsError> {
        match self.message() {
            None => Ok(()),
            Some(message) => Err(AwsError::validation(message)),
        }
    }
}

impl From<Violation> for Violations {
    fn from(violation: Violation) -> Self {
        Self(vec![violation])
    }
}

impl From<Violations> for AwsError {
    fn from(violations: Violations) -> Self {
        AwsError::validation(violations.message().unwrap_or_default())
    }
}

impl From<Violation> for AwsError {
    fn from(violation: Violation) -> Self {
        AwsError::validation(Violations::from(violation).message().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_reads_as_aws_writes_it() {
        let err = AwsError::from(Violation::max_value(10241, "memorySize", 10240));
        assert_eq!(err.code, "ValidationException");
        assert_eq!(
            err.message,
            "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240"
        );
    }

    #[test]
    fn several_are_counted_and_joined_in_order() {
        let mut all = Violations::new();
        assert_eq!(all.check(Violation::range(5, "timeout", 1, 900)), Some(5));
        all.check(Violation::range(0, "timeout", 1, 900));
        all.push(Violation::required("role"));
        all.push(Violation::enum_set("x", "runtime", &["a", "b"]));
        assert_eq!(
            all.message().unwrap(),
            "3 validation errors detected: \
             Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value null at 'role' failed to satisfy constraint: Member must not be null; \
             Value 'x' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [a, b]"
        );
        assert!(Violations::new().into_result().is_ok());
    }
}
