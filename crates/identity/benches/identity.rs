//! What identity costs per request: policy evaluation for a user with three attached policies of
//! ten statements each (the figure in the brief), resolving a verified key to its caller, and the
//! whole signed-request path (verify with the registry's cached key + authenticate + authorize)
//! beside verification alone.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use nubo_identity::policy::ConditionKeys;
use nubo_identity::IdentityRegistry;
use nubo_wire::sigv4::{
    sign, verify, Credentials, Payload, SigningRequest, UriMode, VerifyOptions, VerifyRequest,
};

/// A policy of ten statements, shaped like real ones: wildcards, several actions, a condition.
fn policy(n: usize) -> String {
    let statements: Vec<String> = (0..10)
        .map(|i| {
            let condition = if i % 3 == 0 {
                r#","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}"#
            } else {
                ""
            };
            format!(
                r#"{{"Sid":"S{n}x{i}","Effect":"Allow","Action":["lambda:Get*","lambda:List*","logs:Describe{i}*","s3:GetObject{n}{i}"],"Resource":["arn:aws:lambda:us-east-1:123456789012:function:team{n}-{i}-*","arn:aws:s3:::bucket-{n}-{i}/*"]{condition}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

fn evaluation(c: &mut Criterion) {
    let registry = IdentityRegistry::in_memory("123456789012");
    registry.create_user("alice", None).unwrap();
    for n in 0..3 {
        let created = registry
            .create_policy(&format!("p{n}"), None, &policy(n), None)
            .unwrap();
        registry.attach_user_policy("alice", &created.arn).unwrap();
    }
    let key = registry.create_access_key("alice").unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let signed = sign(
        &SigningRequest {
            method: "GET",
            encoded_path: "/2015-03-31/functions/team2-9-api",
            query: &[],
            host: "127.0.0.1:4750",
            body: b"",
        },
        &Credentials {
            access_key_id: key.access_key_id.clone(),
            secret_access_key: key.secret_access_key.clone(),
        },
        "us-east-1",
        "lambda",
        at,
    );
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:4750".parse().unwrap());
    for (name, value) in &signed {
        headers.insert(*name, value.parse().unwrap());
    }
    let request = VerifyRequest {
        method: "GET",
        path: "/2015-03-31/functions/team2-9-api",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
        uri_mode: UriMode::Normalized,
    };
    let options = VerifyOptions::default();
    let verified = verify(&request, &registry, at, &options).unwrap();
    let caller = registry.authenticate(&verified, at).unwrap();
    assert_eq!(caller.policies.len(), 3);
    let keys = ConditionKeys::default().with("aws:RequestedRegion", "us-east-1");
    // The last statement of the last policy allows it: every statement is looked at.
    let allowed = "arn:aws:lambda:us-east-1:123456789012:function:team2-9-api";
    caller
        .authorize("lambda:GetFunction", allowed, None, None, &keys, at)
        .unwrap();
    c.bench_function("policy/evaluate_3x10_allow", |b| {
        b.iter(|| {
            caller
                .authorize(
                    black_box("lambda:GetFunction"),
                    black_box(allowed),
                    None,
                    None,
                    &keys,
                    at,
                )
                .unwrap()
        })
    });
    let denied = "arn:aws:lambda:us-east-1:123456789012:function:other";
    c.bench_function("policy/evaluate_3x10_implicit_deny", |b| {
        b.iter(|| {
            caller
                .authorize(
                    black_box("lambda:UpdateFunctionCode"),
                    black_box(denied),
                    None,
                    None,
                    &keys,
                    at,
                )
                .unwrap_err()
        })
    });
    c.bench_function("identity/authenticate", |b| {
        b.iter(|| registry.authenticate(black_box(&verified), at).unwrap())
    });
    c.bench_function("identity/verify_only_cached_key", |b| {
        b.iter(|| verify(black_box(&request), &registry, at, &options).unwrap())
    });
    c.bench_function("identity/verify_authenticate_authorize", |b| {
        b.iter(|| {
            let verified = verify(black_box(&request), &registry, at, &options).unwrap();
            let caller = registry.authenticate(&verified, at).unwrap();
            caller
                .authorize("lambda:GetFunction", allowed, None, None, &keys, at)
                .unwrap()
        })
    });
    resource_policies(c, at);
}

/// A function's policy of ten AddPermission statements (services with `SourceArn`, accounts),
/// judged for a service principal — what the gateway and S3 notifications ask per invocation.
fn resource_policies(c: &mut Criterion, at: time::OffsetDateTime) {
    let function = "arn:aws:lambda:us-east-1:123456789012:function:f";
    let statements: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"Sid":"s{i}","Effect":"Allow","Principal":{{"Service":"apigateway.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{function}","Condition":{{"StringEquals":{{"AWS:SourceAccount":"123456789012"}},"ArnLike":{{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:123456789012:api{i}/*/*/items"}}}}}}"#
            )
        })
        .collect();
    let document = format!(
        r#"{{"Version":"2012-10-17","Id":"default","Statement":[{}]}}"#,
        statements.join(",")
    );
    let policy = nubo_identity::policy::parse_resource_policy(&document).unwrap();
    let service = nubo_identity::Caller::service("apigateway.amazonaws.com");
    let keys = |api: usize| {
        ConditionKeys::default()
            .with(
                "aws:SourceArn",
                format!("arn:aws:execute-api:us-east-1:123456789012:api{api}/prod/GET/items"),
            )
            .with("aws:SourceAccount", "123456789012")
    };
    let (last, unknown) = (keys(9), keys(42));
    let owner = Some("123456789012");
    service
        .authorize(
            "lambda:InvokeFunction",
            function,
            Some(&policy),
            owner,
            &last,
            at,
        )
        .unwrap();
    c.bench_function("policy/resource_10_service_allow_last", |b| {
        b.iter(|| {
            service
                .authorize(
                    black_box("lambda:InvokeFunction"),
                    black_box(function),
                    Some(&policy),
                    owner,
                    &last,
                    at,
                )
                .unwrap()
        })
    });
    c.bench_function("policy/resource_10_service_implicit_deny", |b| {
        b.iter(|| {
            service
                .authorize(
                    black_box("lambda:InvokeFunction"),
                    black_box(function),
                    Some(&policy),
                    owner,
                    &unknown,
                    at,
                )
                .unwrap_err()
        })
    });
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
