use super::*;

fn scope() -> Scope {
    Scope {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
    }
}

fn one(service: &str, operation: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
    authorization_requests(service, operation, &scope(), params)
        .unwrap()
        .into_iter()
        .map(|r| (r.action.to_owned(), r.resource))
        .collect()
}

#[test]
fn lambda_functions_are_qualified_when_the_request_is() {
    assert_eq!(
        one(
            "lambda",
            "Invoke",
            &[("FunctionName", "f"), ("Qualifier", "live")]
        ),
        [(
            "lambda:InvokeFunction".into(),
            "arn:aws:lambda:us-east-1:123456789012:function:f:live".into()
        )]
    );
    assert_eq!(
        one("lambda", "Invoke", &[("FunctionName", "f")])[0].1,
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    assert_eq!(
        one("lambda", "ListFunctions", &[]),
        [("lambda:ListFunctions".into(), "*".into())]
    );
}

#[test]
fn passing_a_role_is_checked_too() {
    let create = one(
        "lambda",
        "CreateFunction",
        &[
            ("FunctionName", "f"),
            ("Role", "arn:aws:iam::123456789012:role/exec"),
        ],
    );
    assert_eq!(
        create[1],
        (
            "iam:PassRole".into(),
            "arn:aws:iam::123456789012:role/exec".into()
        )
    );
    assert_eq!(
        one(
            "lambda",
            "UpdateFunctionConfiguration",
            &[("FunctionName", "f")]
        )
        .len(),
        1
    );
    assert_eq!(
        one(
            "lambda",
            "UpdateFunctionConfiguration",
            &[("FunctionName", "f"), ("Role", "arn:r")]
        )
        .len(),
        2
    );
}

#[test]
fn api_gateway_uses_methods_and_paths() {
    assert_eq!(
        one(
            "apigateway",
            "UpdateRoute",
            &[("ApiId", "a1"), ("RouteId", "r1")]
        ),
        [(
            "apigateway:PATCH".into(),
            "arn:aws:apigateway:us-east-1::/apis/a1/routes/r1".into()
        )]
    );
    assert_eq!(
        one("apigateway", "GetApis", &[])[0].1,
        "arn:aws:apigateway:us-east-1::/apis"
    );
}

#[test]
fn iam_and_sts() {
    assert_eq!(
        one(
            "iam",
            "CreateUser",
            &[("UserPath", "/team/"), ("UserName", "alice")]
        )[0]
        .1,
        "arn:aws:iam::123456789012:user/team/alice"
    );
    assert_eq!(
        one("iam", "ListUsers", &[("PathPrefix", "/")])[0].1,
        "arn:aws:iam::123456789012:user/"
    );
    assert!(one("sts", "GetCallerIdentity", &[]).is_empty());
    assert_eq!(
        one(
            "sts",
            "AssumeRole",
            &[("RoleArn", "arn:aws:iam::123456789012:role/r")]
        )[0]
        .0,
        "sts:AssumeRole"
    );
}

#[test]
fn every_served_operation_has_a_rule_and_missing_parameters_are_errors() {
    for op in [
        "GetFunction",
        "UpdateFunctionCode",
        "PutFunctionConcurrency",
        "GetAccountSettings",
        "TagResource",
    ] {
        rule("lambda", op).unwrap();
    }
    assert!(matches!(
        authorization_requests("lambda", "Invoke", &scope(), &[]),
        Err(TableError::MissingParameter { .. })
    ));
    assert!(matches!(
        rule("lambda", "Nope"),
        Err(TableError::UnknownOperation { .. })
    ));
    assert!(matches!(
        rule("kinesis", "PutRecord"),
        Err(TableError::UnknownService(_))
    ));
    assert_eq!(
        one("dynamodb", "Query", &[("TableName", "t/index/g")])[0],
        (
            "dynamodb:Query".to_owned(),
            "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/g".to_owned()
        )
    );
    // Every action in the tables is `vendor:Name`.
    for service in [
        "lambda",
        "apigateway",
        "iam",
        "sts",
        "s3",
        "sqs",
        "events",
        "dynamodb",
    ] {
        for rule in rules(service).unwrap() {
            for check in rule.checks {
                assert!(check.action.contains(':'), "{}", rule.operation);
            }
        }
    }
}

#[test]
fn s3_objects_and_copies() {
    assert_eq!(
        one("s3", "GetObject", &[("Bucket", "b"), ("Key", "a/b c.jpg")]),
        [(
            "s3:GetObject".to_owned(),
            "arn:aws:s3:::b/a/b c.jpg".to_owned()
        )]
    );
    assert_eq!(
        one(
            "s3",
            "CopyObject",
            &[
                ("Bucket", "b"),
                ("Key", "k"),
                ("SourceBucket", "src"),
                ("SourceKey", "s")
            ]
        ),
        [
            ("s3:PutObject".to_owned(), "arn:aws:s3:::b/k".to_owned()),
            ("s3:GetObject".to_owned(), "arn:aws:s3:::src/s".to_owned())
        ]
    );
    assert_eq!(
        one("s3", "ListBuckets", &[]),
        [("s3:ListAllMyBuckets".to_owned(), "*".to_owned())]
    );
}
