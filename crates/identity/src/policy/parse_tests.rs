//! Documents IAM accepts and the messages for those it refuses.

use super::*;

#[test]
fn statement_object_or_array_and_the_2012_version() {
    let one = parse_identity_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:*","Resource":"*"}}"#,
    )
    .unwrap();
    assert_eq!(one.version, PolicyVersion::V2012);
    assert_eq!(one.statements.len(), 1);
    let many = parse_identity_policy(
        r#"{"Statement":[{"Sid":"A1","Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"arn:aws:iam::*:role/x"},
                         {"Effect":"Allow","Action":"s3:Get*","Resource":["arn:aws:s3:::b/${aws:username}/*"]}]}"#,
    )
    .unwrap();
    assert_eq!(many.version, PolicyVersion::V2008);
    assert!(matches!(many.statements[0].actions, Patterns::NoneOf(_)));
    assert_eq!(many.statements[0].sid.as_deref(), Some("A1"));
}

fn refused(kind: fn(&str) -> Result<Policy, PolicyError>, document: &str) -> String {
    kind(document).unwrap_err().message
}

#[test]
fn iam_messages_for_bad_documents() {
    let id = parse_identity_policy;
    assert_eq!(refused(id, "not json"), "Syntax errors in policy.");
    assert_eq!(
        refused(id, r#"{"Version":"2012-10-17"}"#),
        "Syntax errors in policy."
    );
    assert_eq!(
        refused(id, r#"{"Version":"2020-01-01","Statement":[]}"#),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        refused(id, r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#),
        "Missing required field Effect"
    );
    assert_eq!(
        refused(id, r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#),
        "Policy statement must contain actions."
    );
    assert_eq!(
        refused(id, r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#),
        "Policy statement must contain resources."
    );
    assert_eq!(
        refused(
            id,
            r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#
        ),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    assert_eq!(
        refused(
            id,
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#
        ),
        "Policy document should not specify a principal."
    );
    assert_eq!(
        refused(
            id,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"y"}}}}"#
        ),
        "Invalid Condition type : StringEqualz"
    );
    assert_eq!(
        refused(
            id,
            r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}"#
        ),
        "Resource bucket must be in ARN format or \"*\"."
    );
    assert_eq!(
        refused(
            id,
            r#"{"Statement":{"Sid":"has space","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#
        )
        .split('.')
        .next()
        .unwrap(),
        "Statement IDs (SID) must be alpha-numeric"
    );
}

#[test]
fn trust_and_resource_policies_need_principals() {
    let trust = parse_trust_policy(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    )
    .unwrap();
    assert!(trust.statements[0].resources.is_none());
    assert_eq!(
        refused(
            parse_trust_policy,
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole","Resource":"*"}}"#
        ),
        "Has prohibited field Resource"
    );
    assert_eq!(
        refused(
            parse_trust_policy,
            r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#
        ),
        "Missing required field Principal"
    );
    assert_eq!(
        refused(
            parse_resource_policy,
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"lambda:InvokeFunction","Resource":"*"}}"#
        ),
        "Invalid principal in policy: \"AWS\":\"alice\""
    );
    let resource = parse_resource_policy(
        r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"apigw-invoke","Effect":"Allow",
            "Principal":{"Service":"apigateway.amazonaws.com","AWS":["123456789012","arn:aws:iam::210987654321:root"]},
            "Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
            "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:123456789012:abc/*"}}}]}"#,
    )
    .unwrap();
    let Some(PrincipalMatch::Is(PrincipalSpec::Listed(ids))) = &resource.statements[0].principal
    else {
        panic!()
    };
    assert!(ids.contains(&PrincipalId::Account("210987654321".into())));
    assert!(ids.contains(&PrincipalId::Service("apigateway.amazonaws.com".into())));
}

#[test]
fn the_managed_policies_parse() {
    for policy in crate::managed::all() {
        parse_identity_policy(policy.document).unwrap_or_else(|e| panic!("{}: {e}", policy.name));
    }
}
