//! Function names, partial and full ARNs, and `?Qualifier=`, as every Lambda operation and every
//! integration URI receives them: parsing either yields a valid reference or an AWS error.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nubo_gateway::plane::lambda_function;
use nubo_wire::arn::{is_valid_function_name, is_valid_qualifier, FunctionRef};
use nubo_wire::Scope;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    reference: &'a str,
    qualifier: Option<&'a str>,
}

fuzz_target!(|input: Input<'_>| {
    let scope = Scope::default();
    if let Ok(parsed) = FunctionRef::parse(input.reference, &scope) {
        assert!(is_valid_function_name(&parsed.name), "{parsed:?}");
        assert!(parsed.qualifier.as_deref().is_none_or(is_valid_qualifier));
        if let Ok(merged) = parsed.with_query_qualifier(input.qualifier) {
            assert!(merged.qualifier.as_deref().is_none_or(is_valid_qualifier));
        }
    }
    // An integration URI resolves in the scope its ARN names.
    let _ = lambda_function(input.reference, &scope);
});
