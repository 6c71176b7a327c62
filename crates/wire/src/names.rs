//! Lambda's names as typed values. A [`FunctionName`], [`Qualifier`] or [`AliasName`] is checked
//! once, where it enters (the edge, or a stored record read back), and trusted everywhere below:
//! nothing deeper re-validates a name.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use crate::validation::Violation;

/// The pattern AWS reports for a malformed `FunctionName` (name, partial ARN or ARN).
pub const FUNCTION_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
/// The pattern AWS reports for a malformed `Qualifier` parameter.
pub const QUALIFIER_PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";
/// The pattern of an alias `Name`.
pub const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";
/// The pattern of a `FunctionVersion` an alias points at.
pub const VERSION_PATTERN: &str = "(\\$LATEST|[0-9]+)";

/// The version name of a function's mutable head.
pub const LATEST: &str = "$LATEST";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// A function's name: 1–64 of `[a-zA-Z0-9-_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionName(String);

text_newtype!(FunctionName);

impl FunctionName {
    /// Checks a plain name (no ARN, no qualifier).
    pub fn new(name: impl Into<String>) -> Result<Self, Violation> {
        let name = name.into();
        if Self::is_valid(&name) {
            Ok(Self(name))
        } else {
            Err(Violation::pattern(
                &name,
                "functionName",
                FUNCTION_NAME_PATTERN,
            ))
        }
    }

    /// True for a valid plain name.
    pub fn is_valid(name: &str) -> bool {
        (1..=64).contains(&name.len()) && name.chars().all(is_name_char)
    }
}

/// What a qualifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualifierKind<'a> {
    /// `$LATEST`.
    Latest,
    /// A published version number.
    Version(u64),
    /// An alias.
    Alias(&'a str),
}

/// A qualifier: `$LATEST`, a version number or an alias name (1–128 of `[a-zA-Z0-9-_]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Qualifier(String);

text_newtype!(Qualifier);

impl Qualifier {
    /// `$LATEST`.
    pub fn latest() -> Self {
        Self(LATEST.to_owned())
    }

    /// A published version's qualifier.
    pub fn version(number: u64) -> Self {
        Self(number.to_string())
    }

    /// Checks a qualifier given as the `Qualifier` parameter.
    pub fn new(qualifier: impl Into<String>) -> Result<Self, Violation> {
        let qualifier = qualifier.into();
        if Self::is_valid(&qualifier) {
            Ok(Self(qualifier))
        } else {
            Err(Violation::pattern(
                &qualifier,
                "qualifier",
                QUALIFIER_PATTERN,
            ))
        }
    }

    /// True for `$LATEST` or 1–128 of `[a-zA-Z0-9-_]`.
    pub fn is_valid(qualifier: &str) -> bool {
        qualifier == LATEST
            || ((1..=128).contains(&qualifier.len()) && qualifier.chars().all(is_name_char))
    }

    /// What it names. All digits is a version (an alias name cannot be all digits).
    pub fn kind(&self) -> QualifierKind<'_> {
        if self.0 == LATEST {
            return QualifierKind::Latest;
        }
        if self.0.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(number) = self.0.parse() {
                return QualifierKind::Version(number);
            }
        }
        QualifierKind::Alias(&self.0)
    }

    /// True for `$LATEST`.
    pub fn is_latest(&self) -> bool {
        self.0 == LATEST
    }

    /// The version number, when it names one.
    pub fn version_number(&self) -> Option<u64> {
        match self.kind() {
            QualifierKind::Version(n) => Some(n),
            _ => None,
        }
    }
}

/// An alias name: 1–128 of `[a-zA-Z0-9-_]`, not all digits (those are versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

text_newtype!(AliasName);

impl AliasName {
    /// Checks an alias name given as `member`.
    pub fn new(alias: impl Into<String>, member: &str) -> Result<Self, Violation> {
        let alias = alias.into();
        let valid = (1..=128).contains(&alias.len())
            && alias.chars().all(is_name_char)
            && !alias.bytes().all(|b| b.is_ascii_digit());
        if valid {
            Ok(Self(alias))
        } else {
            Err(Violation::pattern(&alias, member, ALIAS_PATTERN))
        }
    }

    /// The alias as a qualifier.
    pub fn to_qualifier(&self) -> Qualifier {
        Qualifier(self.0.clone())
    }
}

/// Checks a version an alias points at (`$LATEST` or a number) given as `member`.
pub fn check_version(version: &str, member: &str) -> Result<(), Violation> {
    if version == LATEST || (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(Violation::pattern(version, member, VERSION_PATTERN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_once() {
        assert_eq!(FunctionName::new("my-fn_1").unwrap().as_str(), "my-fn_1");
        assert!(FunctionName::new("").is_err());
        assert!(FunctionName::new("a b").is_err());
        assert!(FunctionName::new("x".repeat(65)).is_err());
        assert_eq!(
            FunctionName::new("bad name").unwrap_err().member(),
            "functionName"
        );
    }

    #[test]
    fn qualifiers_know_what_they_name() {
        assert_eq!(Qualifier::latest().kind(), QualifierKind::Latest);
        assert_eq!(
            Qualifier::new("12").unwrap().kind(),
            QualifierKind::Version(12)
        );
        assert_eq!(
            Qualifier::new("live").unwrap().kind(),
            QualifierKind::Alias("live")
        );
        assert!(Qualifier::new("a:b").is_err());
        assert!(Qualifier::new("").is_err());
        assert_eq!(Qualifier::version(3).as_str(), "3");
    }

    #[test]
    fn aliases_and_versions() {
        assert!(AliasName::new("prod", "name").is_ok());
        assert!(AliasName::new("123", "name").is_err());
        assert!(AliasName::new("a.b", "name").is_err());
        assert!(check_version("$LATEST", "functionVersion").is_ok());
        assert!(check_version("7", "functionVersion").is_ok());
        assert!(check_version("v7", "functionVersion").is_err());
    }
}
