//! Micro-benchmarks of the wire layer's per-request work: reading the SigV4 `Authorization`
//! header (every signed request), verifying the signature (every signed request: with the signing
//! key cached, as the identity layer serves it, and derived afresh), signing (every CLI call), and
//! parsing a function reference (every invoke).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use nubo_wire::arn::FunctionRef;
use nubo_wire::sigv4::{
    parse_authorization, sign, verify, Credentials, KeyError, KeyRequest, Payload, SigningKey,
    SigningKeys, SigningRequest, StaticKeys, UriMode, VerifyOptions, VerifyRequest,
};
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

/// A lookup that hands out one precomputed key, as the identity layer's cache does on a hit.
struct CachedKey(SigningKey);

impl SigningKeys for CachedKey {
    fn signing_key(&self, _: &KeyRequest<'_>) -> Result<SigningKey, KeyError> {
        Ok(self.0.clone())
    }
}

fn verification(c: &mut Criterion) {
    let credentials = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let body = br#"{"noop":true}"#;
    let path = "/2015-03-31/functions/my-function/invocations";
    let signed = sign(
        &SigningRequest {
            method: "POST",
            encoded_path: path,
            query: &[],
            host: "127.0.0.1:4750",
            body,
        },
        &credentials,
        "us-east-1",
        "lambda",
        at,
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "127.0.0.1:4750".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("user-agent", "Boto3/1.43.0 md/Botocore#1.44.8 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.44.8".parse().unwrap());
    for (name, value) in &signed {
        headers.insert(*name, value.parse().unwrap());
    }
    let request = VerifyRequest {
        method: "POST",
        path,
        query: "",
        headers: &headers,
        payload: Payload::Bytes(body),
        uri_mode: UriMode::Normalized,
    };
    let options = VerifyOptions::default();
    let cached = CachedKey(SigningKey::derive(
        &credentials.secret_access_key,
        &nubo_wire::timefmt::amz_date(at)[..8],
        "us-east-1",
        "lambda",
    ));
    let fresh =
        StaticKeys::default().with(&credentials.access_key_id, &credentials.secret_access_key);
    c.bench_function("sigv4/verify_invoke_cached_key", |b| {
        b.iter(|| verify(black_box(&request), &cached, at, &options).unwrap())
    });
    c.bench_function("sigv4/verify_invoke_derived_key", |b| {
        b.iter(|| verify(black_box(&request), &fresh, at, &options).unwrap())
    });

    // A query string that needs re-encoding and sorting, as ListFunctions with a marker sends.
    let query = [
        ("MaxItems".to_owned(), "50".to_owned()),
        ("Marker".to_owned(), "a b/c".to_owned()),
    ];
    let signed = sign(
        &SigningRequest {
            method: "GET",
            encoded_path: "/2015-03-31/functions/",
            query: &query,
            host: "127.0.0.1:4750",
            body: b"",
        },
        &credentials,
        "us-east-1",
        "lambda",
        at,
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "127.0.0.1:4750".parse().unwrap());
    for (name, value) in &signed {
        headers.insert(*name, value.parse().unwrap());
    }
    let request = VerifyRequest {
        method: "GET",
        path: "/2015-03-31/functions/",
        query: "MaxItems=50&Marker=a%20b%2Fc",
        headers: &headers,
        payload: Payload::Bytes(b""),
        uri_mode: UriMode::Normalized,
    };
    c.bench_function("sigv4/verify_list_with_query_cached_key", |b| {
        b.iter(|| verify(black_box(&request), &cached, at, &options).unwrap())
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

criterion_group!(benches, sigv4, verification, arn);
criterion_main!(benches);
