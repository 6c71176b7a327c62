//! Micro-benchmarks of the wire layer's per-request work: reading the SigV4 `Authorization`
//! header (every signed request), signing (every CLI call; verification will cost the same HMAC
//! chain), and parsing a function reference (every invoke).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nubo_wire::arn::FunctionRef;
use nubo_wire::sigv4::{parse_authorization, sign, Credentials, SigningRequest};
use nubo_wire::Scope;

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

fn sigv4(c: &mut Criterion) {
    c.bench_function("sigv4/parse_authorization", |b| {
        b.iter(|| parse_authorization(black_box(AUTHORIZATION)).unwrap())
    });
    let credentials = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let body = br#"{"noop":true}"#;
    c.bench_function("sigv4/sign_invoke", |b| {
        b.iter(|| {
            sign(
                black_box(&SigningRequest {
                    method: "POST",
                    encoded_path: "/2015-03-31/functions/my-function/invocations",
                    query: &[],
                    host: "127.0.0.1:4750",
                    body,
                }),
                &credentials,
                "us-east-1",
                "lambda",
                at,
            )
        })
    });
}

fn arn(c: &mut Criterion) {
    let scope = Scope::default();
    c.bench_function("arn/function_ref_name", |b| {
        b.iter(|| FunctionRef::parse(black_box("my-function"), &scope).unwrap())
    });
    c.bench_function("arn/function_ref_full_arn", |b| {
        b.iter(|| {
            FunctionRef::parse(
                black_box("arn:aws:lambda:us-east-1:000000000000:function:my-function:live"),
                &scope,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, sigv4, arn);
criterion_main!(benches);
