//! Amazon Resource Names for Lambda, and the forms a client may name a function by.

use crate::{AwsError, Scope};

/// How a request named a function: the bare name plus the qualifier it carried, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The function's name (`my-fn`).
    pub name: String,
    /// A version number, alias name or `$LATEST`, when the reference carried one.
    pub qualifier: Option<String>,
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

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// True for a valid plain function name: 1–64 of `[a-zA-Z0-9-_]`.
pub fn is_valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(is_name_char)
}

/// True for a valid qualifier: `$LATEST`, or 1–128 of `[a-zA-Z0-9-_]`.
pub fn is_valid_qualifier(qualifier: &str) -> bool {
    qualifier == "$LATEST"
        || ((1..=128).contains(&qualifier.len()) && qualifier.chars().all(is_name_char))
}

impl FunctionRef {
    /// Parses `name`, `name:qualifier`, `ACCOUNT:function:name[:q]` or a full function ARN.
    /// A reference into another region or account is not found here, as on AWS.
    pub fn parse(input: &str, scope: &Scope) -> Result<Self, AwsError> {
        let invalid = || {
            AwsError::validation(format!(
                "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: \
                 (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ))
        };
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
        if !is_valid_function_name(name) || !qualifier.is_none_or(is_valid_qualifier) {
            return Err(invalid());
        }
        if account.is_some_and(|a| a != scope.account_id)
            || region.is_some_and(|r| r != scope.region)
        {
            let arn = function_arn(scope, name);
            return Err(AwsError::resource_not_found(format!(
                "Function not found: {arn}"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
        })
    }

    /// Merges the qualifier in the name with a `?Qualifier=` parameter; both present and different
    /// is a client error, as on AWS.
    pub fn with_query_qualifier(mut self, query: Option<&str>) -> Result<Self, AwsError> {
        match (&self.qualifier, query) {
            (Some(in_name), Some(in_query)) if in_name != in_query => Err(AwsError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            )),
            (None, Some(in_query)) => {
                if !is_valid_qualifier(in_query) {
                    return Err(AwsError::validation(format!(
                        "1 validation error detected: Value '{in_query}' at 'qualifier' failed to satisfy constraint: \
                         Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
                    )));
                }
                self.qualifier = Some(in_query.to_owned());
                Ok(self)
            }
            _ => Ok(self),
        }
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
        assert_eq!(
            parse("f").unwrap(),
            FunctionRef {
                name: "f".into(),
                qualifier: None
            }
        );
        assert_eq!(parse("f:prod").unwrap().qualifier.as_deref(), Some("prod"));
        assert_eq!(
            parse("f:$LATEST").unwrap().qualifier.as_deref(),
            Some("$LATEST")
        );
        assert_eq!(parse("000000000000:function:f").unwrap().name, "f");
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
