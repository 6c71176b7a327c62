//! The evaluation rules and AWS's denial texts.

use super::*;
use crate::policy::context::ConditionKeys;
use crate::policy::{parse_identity_policy, parse_resource_policy};
use time::macros::datetime;

const FN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

fn alice() -> Principal {
    Principal::user("123456789012", "/", "alice", "AIDAEXAMPLE")
}

fn decide(
    principal: &Principal,
    action: &str,
    identity: &[&str],
    resource: Option<&str>,
    owner: Option<&str>,
) -> Decision {
    let refs: Vec<std::sync::Arc<Policy>> = identity
        .iter()
        .map(|d| std::sync::Arc::new(parse_identity_policy(d).unwrap()))
        .collect();
    let resource = resource.map(|d| parse_resource_policy(d).unwrap());
    let keys = ConditionKeys::default().with(
        "aws:SourceArn",
        "arn:aws:execute-api:us-east-1:123456789012:api1/*/GET/x",
    );
    let context = RequestContext {
        principal,
        action,
        resource: FN_ARN,
        keys: &keys,
        now: datetime!(2026-01-02 03:04:05 UTC),
    };
    evaluate(
        &context,
        &PolicySet {
            identity: &refs,
            resource: resource.as_ref(),
            resource_account: owner,
        },
    )
}

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:Get*","lambda:List*"],"Resource":"*"}]}"#;
const DENY_INVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:*:function:*"}]}"#;
const ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[test]
fn identity_policies_allow_and_explicit_deny_wins() {
    assert_eq!(
        decide(&alice(), "lambda:GetFunction", &[READ_ONLY], None, None),
        Decision::Allow
    );
    assert_eq!(
        decide(&alice(), "LAMBDA:getfunction", &[READ_ONLY], None, None),
        Decision::Allow,
        "actions ignore case"
    );
    assert_eq!(
        decide(
            &alice(),
            "lambda:UpdateFunctionCode",
            &[READ_ONLY],
            None,
            None
        ),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        decide(
            &alice(),
            "lambda:InvokeFunction",
            &[ALL, DENY_INVOKE],
            None,
            None
        ),
        Decision::ExplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        decide(&alice(), "lambda:InvokeFunction", &[], None, None),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
}

const APIGW_MAY_INVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"apigw","Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:123456789012:api1/*"}}}]}"#;
const OTHER_ACCOUNT_MAY_INVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"210987654321"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}"#;
const ALICE_MAY_INVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}"#;
const OWN_ACCOUNT_MAY_INVOKE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"lambda:InvokeFunction","Resource":"*"}]}"#;

#[test]
fn resource_policies_for_services_and_users() {
    let apigw = Principal::service("apigateway.amazonaws.com");
    assert_eq!(
        decide(
            &apigw,
            "lambda:InvokeFunction",
            &[],
            Some(APIGW_MAY_INVOKE),
            None
        ),
        Decision::Allow
    );
    let s3 = Principal::service("s3.amazonaws.com");
    assert_eq!(
        decide(
            &s3,
            "lambda:InvokeFunction",
            &[],
            Some(APIGW_MAY_INVOKE),
            None
        ),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    // Same account: the resource policy alone suffices for a principal it names…
    assert_eq!(
        decide(
            &alice(),
            "lambda:InvokeFunction",
            &[],
            Some(ALICE_MAY_INVOKE),
            Some("123456789012")
        ),
        Decision::Allow
    );
    // …but naming the account delegates to the account's identity policies.
    assert_eq!(
        decide(
            &alice(),
            "lambda:InvokeFunction",
            &[],
            Some(OWN_ACCOUNT_MAY_INVOKE),
            Some("123456789012")
        ),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        decide(
            &Principal::account_root("123456789012"),
            "lambda:InvokeFunction",
            &[],
            None,
            Some("123456789012")
        ),
        Decision::Allow
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let bob = Principal::user("210987654321", "/", "bob", "AIDABOB");
    assert_eq!(
        decide(
            &bob,
            "lambda:InvokeFunction",
            &[ALL],
            None,
            Some("123456789012")
        ),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    assert_eq!(
        decide(
            &bob,
            "lambda:InvokeFunction",
            &[],
            Some(OTHER_ACCOUNT_MAY_INVOKE),
            Some("123456789012")
        ),
        Decision::ImplicitDeny(PolicyKind::Identity)
    );
    assert_eq!(
        decide(
            &bob,
            "lambda:InvokeFunction",
            &[ALL],
            Some(OTHER_ACCOUNT_MAY_INVOKE),
            Some("123456789012")
        ),
        Decision::Allow
    );
}

#[test]
fn assumed_roles_match_their_role_arn() {
    let session = Principal::assumed_role(
        "123456789012",
        "arn:aws:iam::123456789012:role/app",
        "app",
        "AROAEXAMPLE",
        "f",
    );
    let by_role = ALICE_MAY_INVOKE.replace("user/alice", "role/app");
    assert_eq!(
        decide(&session, "lambda:InvokeFunction", &[], Some(&by_role), None),
        Decision::Allow
    );
    assert_eq!(session.arn, "arn:aws:sts::123456789012:assumed-role/app/f");
}

#[test]
fn variables_in_resources() {
    let own = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"arn:aws:lambda:*:${aws:PrincipalAccount}:function:*"}]}"#;
    assert_eq!(
        decide(&alice(), "lambda:InvokeFunction", &[own], None, None),
        Decision::Allow
    );
    let literal = own.replace("2012-10-17", "2008-10-17");
    assert_eq!(
        decide(&alice(), "lambda:InvokeFunction", &[&literal], None, None),
        Decision::ImplicitDeny(PolicyKind::Identity),
        "variables are literal text in 2008-10-17 policies"
    );
}

#[test]
fn denial_messages_read_as_aws_writes_them() {
    let principal = alice();
    let keys = ConditionKeys::default();
    let context = RequestContext {
        principal: &principal,
        action: "lambda:UpdateFunctionCode",
        resource: FN_ARN,
        keys: &keys,
        now: datetime!(2026-01-02 03:04:05 UTC),
    };
    let implicit = AccessDenied::new(&context, Decision::ImplicitDeny(PolicyKind::Identity));
    assert_eq!(
        implicit.message(),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: lambda:UpdateFunctionCode on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:UpdateFunctionCode action"
    );
    let explicit = AccessDenied::new(&context, Decision::ExplicitDeny(PolicyKind::Identity));
    assert!(explicit
        .message()
        .ends_with("with an explicit deny in an identity-based policy"));
    let resource = AccessDenied::new(&context, Decision::ExplicitDeny(PolicyKind::Resource));
    assert!(resource
        .message()
        .ends_with("with an explicit deny in a resource-based policy"));
    let err = implicit.to_aws_error(AuthFamily::RestJson);
    assert_eq!(
        (err.code, err.status.as_u16()),
        ("AccessDeniedException", 403)
    );
    assert_eq!(
        implicit.to_aws_error(AuthFamily::Query).code,
        "AccessDenied"
    );
}

#[test]
fn another_accounts_root_needs_the_resource_policy() {
    let root = Principal::account_root("111122223333");
    let grants = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}"#;
    let owner = Some("123456789012");
    assert_eq!(
        decide(&root, "lambda:InvokeFunction", &[], None, owner),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    assert_eq!(
        decide(&root, "lambda:InvokeFunction", &[], Some(grants), owner),
        Decision::Allow
    );
    assert_eq!(
        decide(&root, "lambda:GetFunction", &[], Some(grants), owner),
        Decision::ImplicitDeny(PolicyKind::Resource)
    );
    // In its own account the root may do anything.
    assert_eq!(
        decide(&root, "lambda:GetFunction", &[], None, Some("111122223333")),
        Decision::Allow
    );
}
