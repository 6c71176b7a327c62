//! Amazon Resource Names for Lambda, and the forms a client may name a function by.

mod input;

pub use input::{
    NameShape, NamedFunction, QualifierShape, FUNCTION_NAME_SHAPE_PATTERN,
    FUNCTION_URL_NAME_PATTERN, NAMESPACED_NAME_PATTERN,
};

use crate::names::{FunctionName, Qualifier};
use crate::validation::Violations;
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

/// The model shapes of one operation's function reference: its name member and its `Qualifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShapes {
    /// The `FunctionName` member's shape.
    pub name: NameShape,
    /// The `Qualifier` parameter's shape.
    pub qualifier: QualifierShape,
}

impl InputShapes {
    /// `NamespacedFunctionName` + `NumericLatestPublishedOrAliasQualifier`: most operations'.
    pub const NAMESPACED: Self = Self {
        name: NameShape::Namespaced,
        qualifier: QualifierShape::Numeric,
    };
    /// `FunctionName` + `Qualifier`: the older operations' (aliases, concurrency, code, …).
    pub const FUNCTION_NAME: Self = Self {
        name: NameShape::FunctionName,
        qualifier: QualifierShape::Plain,
    };
    /// `FunctionUrlFunctionName` + `FunctionUrlQualifier`: Function URL configs.
    pub const FUNCTION_URL: Self = Self {
        name: NameShape::FunctionUrl,
        qualifier: QualifierShape::FunctionUrl,
    };
}

/// A function reference as an operation's input gives it: model-checked, in the request's scope,
/// its qualifier merged with the `Qualifier` parameter. The name and qualifier are as given and may
/// name nothing Nubo can hold (see [`Self::to_ref`]); authorization needs no more than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedFunction<'a> {
    /// The name as given.
    pub name: &'a str,
    /// The qualifier, from the name or the parameter.
    pub qualifier: Option<&'a str>,
}

impl<'a> RequestedFunction<'a> {
    /// Checks `input` (and `query_qualifier`) against `shapes` — every broken constraint in one
    /// `ValidationException` —, then the scope: an ARN into another region is not reachable from
    /// this one, one into another account names no function here; a qualifier in the name that
    /// differs from the parameter is refused, all as on AWS.
    pub fn parse(
        input: &'a str,
        query_qualifier: Option<&'a str>,
        scope: &Scope,
        shapes: InputShapes,
    ) -> Result<Self, AwsError> {
        let mut violations = Violations::new();
        let named = violations.absorb(NamedFunction::check(input, shapes.name, "functionName"));
        if let Some(qualifier) = query_qualifier {
            shapes.qualifier.check(qualifier, &mut violations);
        }
        violations.into_result()?;
        let Some(named) = named else {
            return Err(AwsError::service("a checked function name went missing"));
        };
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
        let qualifier = match (named.qualifier, query_qualifier) {
            (Some(in_name), Some(in_query)) if in_name != in_query => {
                return Err(AwsError::invalid_parameter(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ))
            }
            (in_name, in_query) => in_name.or(in_query),
        };
        Ok(Self {
            name: named.name,
            qualifier,
        })
    }

    /// The ARN as the request names it (qualified when it carries a qualifier).
    pub fn arn(&self, scope: &Scope) -> String {
        match self.qualifier {
            Some(q) => qualified_function_arn(scope, self.name, q),
            None => function_arn(scope, self.name),
        }
    }

    /// What it names: a typed reference, or — a name Lambda cannot hold (over 64 characters, a
    /// dot) or a qualifier that is no version, alias or `$LATEST` (`$latest`,
    /// `$LATEST.PUBLISHED`) — AWS's "Function not found".
    pub fn to_ref(&self, scope: &Scope) -> Result<FunctionRef, AwsError> {
        let not_found =
            || AwsError::resource_not_found(format!("Function not found: {}", self.arn(scope)));
        let name = FunctionName::new(self.name).map_err(|_| not_found())?;
        let qualifier = match self.qualifier {
            Some(q) => Some(Qualifier::new(q).map_err(|_| not_found())?),
            None => None,
        };
        Ok(FunctionRef::new(scope.clone(), name, qualifier))
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
    /// request acting in `scope` names it, with the widest model shape
    /// ([`RequestedFunction::parse`] with [`InputShapes::NAMESPACED`], then what it names).
    pub fn parse(input: &str, scope: &Scope) -> Result<Self, AwsError> {
        RequestedFunction::parse(input, None, scope, InputShapes::NAMESPACED)?.to_ref(scope)
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
        // Fits the model, names nothing Lambda can hold.
        assert_eq!(
            parse(&"x".repeat(65)).unwrap_err().code,
            "ResourceNotFoundException"
        );
        let lower = parse("f:$latest").unwrap_err();
        assert_eq!(
            (lower.code, lower.message.as_str()),
            (
                "ResourceNotFoundException",
                "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:$latest"
            )
        );
        assert_eq!(
            parse("f:$LATEST.PUBLISHED").unwrap_err().code,
            "ResourceNotFoundException"
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
