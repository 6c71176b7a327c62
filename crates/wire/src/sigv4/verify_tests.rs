//! Verification rules on AWS's `get-vanilla` request and its presigned twin (spec/sigv4.md §7.1).

use super::*;
use crate::sigv4::dates::{parse_amz_date, parse_http_date};
use crate::sigv4::AuthFamily;
use crate::sigv4::EMPTY_SHA256;
use time::macros::datetime;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const VANILLA: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d";

fn at() -> OffsetDateTime {
    datetime!(2015-08-30 12:36:00 UTC)
}

fn keys() -> StaticKeys {
    StaticKeys::default().with(AKID, SECRET)
}

fn headers(authorization: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", "example.amazonaws.com".parse().unwrap());
    h.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
    if let Some(a) = authorization {
        h.insert("authorization", a.parse().unwrap());
    }
    h
}

fn check(headers: &HeaderMap, query: &str, now: OffsetDateTime) -> Result<(), SigV4Error> {
    verify(
        &VerifyRequest {
            method: "GET",
            path: "/",
            query,
            headers,
            payload: Payload::Bytes(b""),
            uri_mode: UriMode::Normalized,
        },
        &keys(),
        now,
        &VerifyOptions::default(),
    )
    .map(|_| ())
}

#[test]
fn get_vanilla_verifies_and_names_its_caller() {
    let h = headers(Some(VANILLA));
    let request = VerifyRequest {
        method: "GET",
        path: "/",
        query: "",
        headers: &h,
        payload: Payload::Bytes(b""),
        uri_mode: UriMode::Normalized,
    };
    let v = verify(&request, &keys(), at(), &VerifyOptions::default()).unwrap();
    assert_eq!(
        (&*v.access_key_id, &*v.region, &*v.service),
        (AKID, "us-east-1", "service")
    );
    assert_eq!(v.payload, PayloadHash::Sha256Hex(EMPTY_SHA256.into()));
    assert!(!v.presigned && v.session_token.is_none());
}

#[test]
fn a_wrong_secret_or_unknown_key_is_refused() {
    let h = headers(Some(VANILLA));
    let wrong = StaticKeys::default().with(AKID, "not-the-secret");
    let request = VerifyRequest {
        method: "GET",
        path: "/",
        query: "",
        headers: &h,
        payload: Payload::Bytes(b""),
        uri_mode: UriMode::Normalized,
    };
    let err = verify(&request, &wrong, at(), &VerifyOptions::default()).unwrap_err();
    let SigV4Error::SignatureMismatch(details) = &err else {
        panic!("{err:?}")
    };
    assert!(details
        .canonical_request
        .starts_with("GET\n/\n\nhost:example.amazonaws.com\n"));
    assert!(details
        .string_to_sign
        .ends_with("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"));
    let err = verify(
        &request,
        &StaticKeys::default(),
        at(),
        &VerifyOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, SigV4Error::UnknownAccessKey);
}

#[test]
fn tampering_with_anything_signed_is_refused() {
    let mut h = headers(Some(VANILLA));
    h.insert("host", "example.amazonaws.com:8080".parse().unwrap());
    assert!(matches!(
        check(&h, "", at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
    let h = headers(Some(VANILLA));
    assert!(matches!(
        check(&h, "a=b", at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
    let bad_sig = VANILLA.replace("5fa00f", "5fa00e");
    assert!(matches!(
        check(&headers(Some(&bad_sig)), "", at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
    let short_sig = VANILLA.replace("5fa00f", "");
    assert!(matches!(
        check(&headers(Some(&short_sig)), "", at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
}

#[test]
fn the_clock_may_be_five_minutes_off_and_no_more() {
    let h = headers(Some(VANILLA));
    check(&h, "", at() + Duration::minutes(5)).unwrap();
    check(&h, "", at() - Duration::minutes(5)).unwrap();
    let err = check(&h, "", at() + Duration::minutes(6)).unwrap_err();
    assert_eq!(
        err.to_aws_error(AuthFamily::RestJson).message,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)"
    );
    assert_eq!(
        err.to_aws_error(AuthFamily::RestJson).code,
        "InvalidSignatureException"
    );
    let err = check(&h, "", at() - Duration::minutes(6)).unwrap_err();
    assert!(err.to_aws_error(AuthFamily::Query).message.starts_with(
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z"
    ));
}

#[test]
fn missing_or_malformed_authentication() {
    let mut h = headers(None);
    assert_eq!(check(&h, "", at()), Err(SigV4Error::MissingAuthentication));
    h.insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
    );
    assert!(matches!(
        check(&h, "", at()),
        Err(SigV4Error::Incomplete { .. })
    ));
    let mut h = headers(Some(VANILLA));
    h.remove("x-amz-date");
    let err = check(&h, "", at()).unwrap_err();
    assert!(err
        .to_aws_error(AuthFamily::RestJson)
        .message
        .contains("'X-Amz-Date' or a 'Date' header"));
    // The Date header stands in for X-Amz-Date when the client signs with it.
    h.insert("date", "Sun, 30 Aug 2015 12:36:00 GMT".parse().unwrap());
    assert!(matches!(
        check(&h, "", at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
    let unsigned_host =
        VANILLA.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date");
    let err = check(&headers(Some(&unsigned_host)), "", at()).unwrap_err();
    assert!(matches!(err, SigV4Error::Incomplete { .. }));
}

#[test]
fn a_scope_dated_another_day_is_refused() {
    let other_day = VANILLA.replace("/20150830/", "/20150831/");
    let err = check(&headers(Some(&other_day)), "", at()).unwrap_err();
    assert!(matches!(err, SigV4Error::ScopeMismatch(_)));
}

#[test]
fn presigned_get_vanilla_verifies_until_it_expires() {
    let h = {
        let mut h = HeaderMap::new();
        h.insert("host", "example.amazonaws.com".parse().unwrap());
        h
    };
    check(&h, PRESIGNED, at()).unwrap();
    check(&h, PRESIGNED, at() + Duration::seconds(3600)).unwrap();
    assert_eq!(
        check(&h, PRESIGNED, at() + Duration::seconds(3601)),
        Err(SigV4Error::PresignExpired)
    );
    assert_eq!(
        check(&h, PRESIGNED, at() - Duration::minutes(6)),
        Err(SigV4Error::PresignNotYetValid)
    );
    let week = PRESIGNED.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801");
    let err = check(&h, &week, at()).unwrap_err();
    assert_eq!(
        err.to_aws_error(AuthFamily::S3).code,
        "AuthorizationQueryParametersError"
    );
    assert!(err
        .to_aws_error(AuthFamily::S3)
        .message
        .starts_with("X-Amz-Expires must be less than a week"));
    let tampered = PRESIGNED.replace("X-Amz-Expires=3600", "X-Amz-Expires=3599");
    assert!(matches!(
        check(&h, &tampered, at()),
        Err(SigV4Error::SignatureMismatch(_))
    ));
    let partial = PRESIGNED.replace("&X-Amz-SignedHeaders=host", "");
    assert!(matches!(
        check(&h, &partial, at()),
        Err(SigV4Error::Incomplete {
            presigned: true,
            ..
        })
    ));
}

#[test]
fn a_signed_body_hash_must_match_the_body() {
    let mut h = headers(None);
    h.insert("x-amz-content-sha256", EMPTY_SHA256.parse().unwrap());
    let signed =
        crate::sigv4::canonical::SigningKey::derive(SECRET, "20150830", "us-east-1", "service");
    // Sign GET / with host;x-amz-content-sha256;x-amz-date by hand.
    let creq = format!(
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:20150830T123600Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
    );
    let hash: [u8; 32] = Sha256::digest(creq.as_bytes()).into();
    let sig = hex::encode(signed.sign_request_hash(
        "20150830T123600Z",
        "20150830/us-east-1/service/aws4_request",
        &hash,
    ));
    h.insert(
        "authorization",
        format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}")
            .parse()
            .unwrap(),
    );
    let run = |payload: Payload<'_>| {
        verify(
            &VerifyRequest {
                method: "GET",
                path: "/",
                query: "",
                headers: &h,
                payload,
                uri_mode: UriMode::Normalized,
            },
            &keys(),
            at(),
            &VerifyOptions::default(),
        )
        .map(|v| v.payload)
    };
    assert_eq!(
        run(Payload::Bytes(b"")).unwrap(),
        PayloadHash::Sha256Hex(EMPTY_SHA256.into())
    );
    assert_eq!(
        run(Payload::Bytes(b"tampered")),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    assert!(
        run(Payload::Unavailable).is_ok(),
        "a streaming caller checks the hash itself"
    );
}

#[test]
fn http_dates_parse() {
    assert_eq!(
        parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
        Some(datetime!(1994-11-06 08:49:37 UTC))
    );
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(at()));
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
}
