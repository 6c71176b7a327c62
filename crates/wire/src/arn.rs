//! Amazon Resource Names for Lambda, and the forms a client may name a function by.

use crate::names::{FunctionName, Qualifier, FUNCTION_NAME_PATTERN};
use crate::validation::Violation;
use crate::{AwsError, Scope};

/// How a request named a function: the scope it lives in, its name, and the qualifier the
/// reference carried, if any. Parsed once at the edge; every layer below takes it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionRef {
    /// The account and region the function lives in.
    pub scope: Scope,
    /// The function's name (`my-fn`).
    pub name: FunctionName,
    /// A version number, alias name or `$LATEST`, when the reference carried one.
    pub qualifier: Option<Qualifier>,
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME`.
pub fn function_arn(scope: &Scope, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:function:{}",
        scope.region, scope.account_id, name
    )
}

/// The function ARN with `:QUALIFIER` appended.
pub fn qualified_function_arn(scope: &Scope, name: &str, qualifier: &str) -> String {
    format!("{}:{}", function_arn(scope, name), qualifier)
}

/// True for a valid plain function name: 1–64 of `[a-zA-Z0-9-_]`.
pub fn is_valid_function_name(name: &str) -> bool {
    FunctionName::is_valid(name)
}

/// True for a valid qualifier: `$LATEST`, or 1–128 of `[a-zA-Z0-9-_]`.
pub fn is_valid_qualifier(qualifier: &str) -> bool {
    Qualifier::is_valid(qualifier)
}

/// A function name or ARN taken apart and checked against the model's pattern, before anything
/// is known about the scope it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedFunction<'a> {
    /// The account, when an ARN (full or partial) names one.
    pub account: Option<&'a str>,
    /// The region, when a full ARN names one.
    pub region: Option<&'a str>,
    /// The plain name.
    pub name: &'a str,
    /// The qualifier after the name, if any.
    pub qualifier: Option<&'a str>,
}

impl<'a> NamedFunction<'a> {
    /// Splits `name`, `name:qualifier`, `ACCOUNT:function:name[:q]` or a full function ARN; a
    /// malformed one is the model's pattern violation (member `functionName`).
    pub fn split(input: &'a str) -> Result<Self, Violation> {
        let invalid = || Violation::pattern(input, "functionName", FUNCTION_NAME_PATTERN);
        if input.is_empty() || input.len() > 170 {
            return Err(invalid());
        }
        let parts: Vec<&str> = input.split(':').collect();
        let (account, region, rest): (Option<&str>, Option<&str>, &[&str]) = match parts.as_slice()
        {
            ["arn", partition, "lambda", region, account, "function", rest @ ..]
                if partition.starts_with("aws") =>
            {
                (Some(*account), Some(*region), rest)
            }
            [account, "function", rest @ ..]
                if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (Some(*account), None, rest)
            }
            ["arn", ..] => return Err(invalid()),
            rest => (None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, qualifier] => (*name, Some(*qualifier)),
            _ => return Err(invalid()),
        };
        if !FunctionName::is_valid(name) || !qualifier.is_none_or(Qualifier::is_valid) {
            return Err(invalid());
        }
        Ok(Self {
            account,
            region,
            name,
            qualifier,
        })
    }
}

impl FunctionRef {
    /// A reference from parts already checked.
    pub fn new(scope: Scope, name: FunctionName, qualifier: Option<Qualifier>) -> Self {
        Self {
            scope,
            name,
            qualifier,
        }
    }

    /// Parses `name`, `name:qualifier`, `ACCOUNT:function:name[:q]` or a full function ARN, as a
    /// request acting in `scope` names it. An ARN into another region is not reachable from this
    /// one, and one into another account names no function here, as on AWS.
    pub fn parse(input: &str, scope: &Scope) -> Result<Self, AwsError> {
        let named = NamedFunction::split(input)?;
        if let Some(region) = named.region.filter(|r| *r != scope.region) {
            return Err(AwsError::resource_not_found(format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                scope.region
            )));
        }
        if named.account.is_some_and(|a| a != scope.account_id) {
            let arn = function_arn(scope, named.name);
            return Err(AwsError::resource_not_found(format!(
                "Function not found: {arn}"
            )));
        }
        Ok(Self {
            scope: scope.clone(),
            name: FunctionName::new(named.name)?,
            qualifier: named.qualifier.map(Qualifier::new).transpose()?,
        })
    }

    /// Merges the qualifier in the name with a `?Qualifier=` parameter; both present and different
    /// is a client error, as on AWS.
    pub fn with_query_qualifier(mut self, query: Option<&str>) -> Result<Self, AwsError> {
        match (&self.qualifier, query) {
            (Some(in_name), Some(in_query)) if in_name.as_str() != in_query => Err(AwsError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )),
            (None, Some(in_query)) => {
                self.qualifier = Some(Qualifier::new(in_query)?);
                Ok(self)
            }
            _ => Ok(self),
        }
    }

    /// The same function with another qualifier (or none).
    pub fn qualified(&self, qualifier: Option<Qualifier>) -> Self {
        Self {
            scope: self.scope.clone(),
            name: self.name.clone(),
            qualifier,
        }
    }

    /// The ARN as the reference names it: qualified when it carries a qualifier.
    pub fn arn(&self) -> String {
        match &self.qualifier {
            Some(q) => qualified_function_arn(&self.scope, &self.name, q),
            None => self.unqualified_arn(),
        }
    }

    /// The function's unqualified ARN.
    pub fn unqualified_arn(&self) -> String {
        function_arn(&self.scope, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FunctionRef, AwsError> {
        FunctionRef::parse(s, &Scope::default())
    }

    #[test]
    fn accepts_every_form() {
        let plain = parse("f").unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier), ("f", None));
        assert_eq!(plain.scope, Scope::default());
        assert_eq!(parse("f:prod").unwrap().qualifier.as_deref(), Some("prod"));
        assert_eq!(
            parse("f:$LATEST").unwrap().qualifier.as_deref(),
            Some("$LATEST")
        );
        assert_eq!(parse("000000000000:function:f").unwrap().name, "f");
        assert_eq!(
            parse("f:3").unwrap().arn(),
            "arn:aws:lambda:us-east-1:000000000000:function:f:3"
        );
        let full = parse("arn:aws:lambda:us-east-1:000000000000:function:f:3").unwrap();
        assert_eq!(
            (full.name.as_str(), full.qualifier.as_deref()),
            ("f", Some("3"))
        );
    }

    #[test]
    fn rejects_malformed_and_foreign() {
        assert_eq!(parse("").unwrap_err().code, "ValidationException");
        assert_eq!(parse("bad name").unwrap_err().code, "ValidationException");
        assert_eq!(parse("f:a:b").unwrap_err().code, "ValidationException");
        assert_eq!(
            parse(&"x".repeat(65)).unwrap_err().code,
            "ValidationException"
        );
        let foreign = parse("arn:aws:lambda:us-east-1:123456789012:function:f").unwrap_err();
        assert_eq!(foreign.code, "ResourceNotFoundException");
        let elsewhere = parse("arn:aws:lambda:eu-west-1:000000000000:function:f").unwrap_err();
        assert_eq!(
            (elsewhere.code, elsewhere.message.as_str()),
            (
                "ResourceNotFoundException",
                "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
            )
        );
    }

    #[test]
    fn query_qualifier_must_agree() {
        let r = parse("f:1").unwrap();
        assert!(r.clone().with_query_qualifier(Some("1")).is_ok());
        assert_eq!(
            r.with_query_qualifier(Some("2")).unwrap_err().code,
            "InvalidParameterValueException"
        );
        assert_eq!(
            parse("f")
                .unwrap()
                .with_query_qualifier(Some("p"))
                .unwrap()
                .qualifier
                .as_deref(),
            Some("p")
        );
    }

    #[test]
    fn arns() {
        let id = Scope::default();
        assert_eq!(
            function_arn(&id, "f"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(
            qualified_function_arn(&id, "f", "$LATEST"),
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
    }
}
