//! Operators, missing keys, `IfExists`, set qualifiers and variables.

use super::*;
use crate::policy::context::{ConditionKeys, Principal};
use time::macros::datetime;

fn holds(operator: &str, key: &str, values: &[&str], keys: &ConditionKeys) -> bool {
    let principal = Principal::user("123456789012", "/", "alice", "AIDAEXAMPLE");
    let context = RequestContext {
        principal: &principal,
        action: "lambda:InvokeFunction",
        resource: "*",
        keys,
        now: datetime!(2026-01-02 03:04:05 UTC),
    };
    Condition {
        operator: ConditionOperator::parse(operator).expect(operator),
        key: key.to_owned(),
        values: values.iter().map(|v| v.to_string()).collect(),
        variables: true,
    }
    .holds(&context)
}

#[test]
fn strings_and_missing_keys() {
    let keys = ConditionKeys::default().with("aws:SourceAccount", "123456789012");
    assert!(holds(
        "StringEquals",
        "aws:SourceAccount",
        &["1", "123456789012"],
        &keys
    ));
    assert!(
        holds(
            "StringEquals",
            "AWS:sourceaccount",
            &["123456789012"],
            &keys
        ),
        "keys ignore case"
    );
    assert!(!holds(
        "StringNotEquals",
        "aws:SourceAccount",
        &["123456789012"],
        &keys
    ));
    assert!(holds("StringLike", "aws:SourceAccount", &["1234*"], &keys));
    assert!(holds(
        "StringEqualsIgnoreCase",
        "aws:username",
        &["ALICE"],
        &keys
    ));
    // Absent keys: positive operators fail, negated ones hold, IfExists holds.
    assert!(!holds("StringEquals", "aws:SourceArn", &["x"], &keys));
    assert!(holds("StringNotEquals", "aws:SourceArn", &["x"], &keys));
    assert!(holds(
        "StringEqualsIfExists",
        "aws:SourceArn",
        &["x"],
        &keys
    ));
    assert!(holds("Null", "aws:SourceArn", &["true"], &keys));
    assert!(holds("Null", "aws:SourceAccount", &["false"], &keys));
}

#[test]
fn arns_numbers_dates_bools_and_ips() {
    let keys = ConditionKeys::default()
        .with(
            "aws:SourceArn",
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/items",
        )
        .with("s3:max-keys", "10")
        .with("aws:SecureTransport", "true")
        .with("aws:SourceIp", "203.0.113.7");
    assert!(holds(
        "ArnLike",
        "aws:SourceArn",
        &["arn:aws:execute-api:us-east-1:123456789012:abc123/*"],
        &keys
    ));
    assert!(!holds(
        "ArnLike",
        "aws:SourceArn",
        &["arn:aws:execute-api:us-east-1:999999999999:abc123/*"],
        &keys
    ));
    assert!(holds(
        "ArnNotEquals",
        "aws:SourceArn",
        &["arn:aws:execute-api:*:*:other/*"],
        &keys
    ));
    assert!(holds(
        "NumericLessThanEquals",
        "s3:max-keys",
        &["10"],
        &keys
    ));
    assert!(!holds("NumericGreaterThan", "s3:max-keys", &["10"], &keys));
    assert!(holds("Bool", "aws:SecureTransport", &["true"], &keys));
    assert!(holds(
        "DateGreaterThan",
        "aws:CurrentTime",
        &["2026-01-01T00:00:00Z"],
        &keys
    ));
    assert!(holds(
        "DateLessThan",
        "aws:CurrentTime",
        &["2026-01-03"],
        &keys
    ));
    assert!(!holds(
        "DateLessThan",
        "aws:EpochTime",
        &["1767322000"],
        &keys
    ));
    assert!(holds(
        "IpAddress",
        "aws:SourceIp",
        &["203.0.113.0/24"],
        &keys
    ));
    assert!(holds(
        "NotIpAddress",
        "aws:SourceIp",
        &["10.0.0.0/8", "2001:db8::/32"],
        &keys
    ));
    assert!(!holds(
        "IpAddress",
        "aws:SourceIp",
        &["203.0.114.0/24"],
        &keys
    ));
}

#[test]
fn set_qualifiers() {
    let mut keys = ConditionKeys::default();
    keys.set("aws:TagKeys", vec!["env".into(), "team".into()]);
    assert!(holds(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        &["env", "team", "cost"],
        &keys
    ));
    assert!(!holds(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        &["env"],
        &keys
    ));
    assert!(holds(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        &["team"],
        &keys
    ));
    assert!(!holds(
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        &["cost"],
        &keys
    ));
    assert!(
        holds("ForAllValues:StringEquals", "aws:Missing", &["x"], &keys),
        "vacuously true"
    );
    assert!(!holds(
        "ForAnyValue:StringEquals",
        "aws:Missing",
        &["x"],
        &keys
    ));
}

#[test]
fn variables_in_values() {
    let keys = ConditionKeys::default().with("s3:prefix", "home/alice/");
    assert!(holds(
        "StringLike",
        "s3:prefix",
        &["home/${aws:username}/*"],
        &keys
    ));
    assert!(!holds(
        "StringLike",
        "s3:prefix",
        &["home/${aws:userid}/*"],
        &keys
    ));
    assert!(holds(
        "StringEquals",
        "aws:PrincipalAccount",
        &["${aws:PrincipalAccount}"],
        &keys
    ));
}

#[test]
fn unknown_operators_are_refused() {
    assert!(ConditionOperator::parse("StringEqualz").is_none());
    assert!(ConditionOperator::parse("NullIfExists").is_none());
    let op = ConditionOperator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
    assert!(op.negated && op.if_exists && op.qualifier == SetQualifier::ForAnyValue);
}
