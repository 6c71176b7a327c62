//! The registry end to end: signed requests verified against it, callers resolved and authorized,
//! IAM's errors, and a reload from the stored documents.

use std::sync::Arc;

use http::HeaderMap;
use nubo_wire::sigv4::{
    sign_with_token, verify, Credentials, Payload, SigV4Error, SigningRequest, UriMode,
    VerifyOptions, VerifyRequest,
};
use nubo_wire::{AwsError, Scope};
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::actions::authorization_requests;
use crate::authn::Caller;
use crate::model::KeyStatus;
use crate::policy::{ConditionKeys, PrincipalKind};

const ACCOUNT: &str = "123456789012";
const NOW: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn registry() -> (IdentityRegistry, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let registry = IdentityRegistry::load(
        RegistryConfig {
            account_id: ACCOUNT.into(),
            dev_credentials: true,
        },
        store.clone(),
        Vec::new(),
    )
    .unwrap();
    (registry, store)
}

/// Signs `GET /2015-03-31/functions` as `akid`, verifies it against the registry and resolves the
/// caller.
fn call_as(
    registry: &IdentityRegistry,
    akid: &str,
    secret: &str,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<Caller, SigV4Error> {
    let signed = sign_with_token(
        &SigningRequest {
            method: "GET",
            encoded_path: "/2015-03-31/functions",
            query: &[],
            host: "localhost:4750",
            body: b"",
        },
        &Credentials {
            access_key_id: akid.into(),
            secret_access_key: secret.into(),
        },
        token,
        "us-east-1",
        "lambda",
        now,
    );
    let mut headers = HeaderMap::new();
    headers.insert("host", "localhost:4750".parse().unwrap());
    for (name, value) in &signed {
        headers.insert(*name, value.parse().unwrap());
    }
    let request = VerifyRequest {
        method: "GET",
        path: "/2015-03-31/functions",
        query: "",
        headers: &headers,
        payload: Payload::Bytes(b""),
        uri_mode: UriMode::Normalized,
    };
    let verified = verify(&request, registry, now, &VerifyOptions::default())?;
    registry.authenticate(&verified, now)
}

fn may(caller: &Caller, operation: &str, params: &[(&str, &str)]) -> Result<(), String> {
    let scope = Scope {
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
    };
    for request in authorization_requests("lambda", operation, &scope, params).unwrap() {
        caller
            .authorize(
                request.action,
                &request.resource,
                None,
                None,
                &ConditionKeys::default(),
                NOW,
            )
            .map_err(|denied| denied.message())?;
    }
    Ok(())
}

#[test]
fn the_bootstrap_admin_may_do_anything() {
    let (registry, _) = registry();
    let key = registry
        .bootstrap_admin()
        .unwrap()
        .expect("first start creates the admin");
    assert!(registry.bootstrap_admin().unwrap().is_none(), "only once");
    let caller = call_as(
        &registry,
        &key.access_key_id,
        &key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(
        caller.principal.arn,
        format!("arn:aws:iam::{ACCOUNT}:user/admin")
    );
    may(&caller, "UpdateFunctionCode", &[("FunctionName", "f")]).unwrap();
    let err = call_as(&registry, &key.access_key_id, "wrong", None, NOW).unwrap_err();
    assert!(matches!(err, SigV4Error::SignatureMismatch(_)));
    let err = call_as(&registry, "AKIANOSUCHKEYEXAMPLE", "x", None, NOW).unwrap_err();
    assert_eq!(err, SigV4Error::UnknownAccessKey);
}

#[test]
fn a_read_only_user_can_list_but_not_update() {
    let (registry, _) = registry();
    registry.create_user("alice", None).unwrap();
    registry
        .attach_user_policy("alice", "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
        .unwrap();
    let key = registry.create_access_key("alice").unwrap();
    let alice = call_as(
        &registry,
        &key.access_key_id,
        &key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    may(&alice, "ListFunctions", &[]).unwrap();
    may(&alice, "GetFunction", &[("FunctionName", "f")]).unwrap();
    assert_eq!(
        may(&alice, "UpdateFunctionCode", &[("FunctionName", "f")]).unwrap_err(),
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: lambda:UpdateFunctionCode on resource: arn:aws:lambda:us-east-1:123456789012:function:f because no identity-based policy allows the lambda:UpdateFunctionCode action"
    );
    // A deactivated key stops working at once.
    registry
        .update_access_key("alice", &key.access_key_id, KeyStatus::Inactive)
        .unwrap();
    assert_eq!(
        call_as(
            &registry,
            &key.access_key_id,
            &key.secret_access_key,
            None,
            NOW
        )
        .unwrap_err(),
        SigV4Error::UnknownAccessKey
    );
}

#[test]
fn a_function_role_may_invoke_what_it_allows_and_nothing_else() {
    let (registry, _) = registry();
    let role = registry
        .create_role(
            "exec",
            NewRole {
                path: Some("/service-role/"),
                trust_policy: LAMBDA_TRUST,
                ..NewRole::default()
            },
        )
        .unwrap();
    registry
        .put_role_policy(
            "exec",
            "invoke-second",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:*:*:function:second"}]}"#,
        )
        .unwrap();
    registry
        .attach_role_policy(
            "exec",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        .unwrap();
    let creds = registry
        .function_credentials(&role.arn, "first", NOW)
        .unwrap();
    let caller = call_as(
        &registry,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(&creds.session_token),
        NOW,
    )
    .unwrap();
    assert_eq!(caller.principal.kind, PrincipalKind::AssumedRole);
    assert_eq!(
        caller.principal.arn,
        "arn:aws:sts::123456789012:assumed-role/exec/first"
    );
    may(&caller, "Invoke", &[("FunctionName", "second")]).unwrap();
    assert!(may(&caller, "UpdateFunctionCode", &[("FunctionName", "first")]).is_err());
    assert!(may(&caller, "Invoke", &[("FunctionName", "third")]).is_err());

    // The credentials stop working when they expire…
    let late = NOW + crate::registry::FUNCTION_CREDENTIALS;
    assert_eq!(
        call_as(
            &registry,
            &creds.access_key_id,
            &creds.secret_access_key,
            Some(&creds.session_token),
            late
        )
        .unwrap_err(),
        SigV4Error::ExpiredToken
    );
    // …and a token presented with another session's key id is refused.
    let other = registry
        .function_credentials(&role.arn, "other", NOW)
        .unwrap();
    assert_eq!(
        call_as(
            &registry,
            &other.access_key_id,
            &other.secret_access_key,
            Some(&creds.session_token),
            NOW
        )
        .unwrap_err(),
        SigV4Error::InvalidToken
    );
}

#[test]
fn lambda_needs_a_role_that_trusts_it() {
    let (registry, _) = registry();
    let trusts_nobody = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = registry
        .create_role(
            "ec2-only",
            NewRole {
                trust_policy: trusts_nobody,
                ..NewRole::default()
            },
        )
        .unwrap();
    assert!(matches!(
        registry.lambda_can_assume(&role.arn, NOW),
        Err(IamError::AccessDenied(_))
    ));
    assert!(matches!(
        registry.lambda_can_assume("arn:aws:iam::123456789012:role/missing", NOW),
        Err(IamError::NoSuchEntity(_))
    ));
}

#[test]
fn assume_role_honours_the_trust_policy() {
    let (registry, _) = registry();
    registry.create_user("bob", None).unwrap();
    let bob_key = registry.create_access_key("bob").unwrap();
    let bob = call_as(
        &registry,
        &bob_key.access_key_id,
        &bob_key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    let trust_bob = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":"sts:AssumeRole"}]}"#;
    let role = registry
        .create_role(
            "deployer",
            NewRole {
                trust_policy: trust_bob,
                ..NewRole::default()
            },
        )
        .unwrap();
    let keys = ConditionKeys::default();
    let assumed = registry
        .assume_role(&bob, &role.arn, "ci", None, &keys, NOW)
        .unwrap();
    assert_eq!(
        assumed.arn,
        "arn:aws:sts::123456789012:assumed-role/deployer/ci"
    );
    assert!(
        assumed.assumed_role_id.starts_with("AROA") && assumed.assumed_role_id.ends_with(":ci")
    );
    let session = call_as(
        &registry,
        &assumed.credentials.access_key_id,
        &assumed.credentials.secret_access_key,
        Some(&assumed.credentials.session_token),
        NOW,
    )
    .unwrap();
    let identity = registry.get_caller_identity(&session);
    assert_eq!(identity.arn, assumed.arn);
    assert_eq!(identity.account, ACCOUNT);
    // Role chaining is capped at an hour; a role that does not trust the caller is refused.
    assert!(matches!(
        registry.assume_role(&session, &role.arn, "x2", Some(7200), &keys, NOW),
        Err(IamError::Validation(_))
    ));
    registry.create_user("eve", None).unwrap();
    let eve_key = registry.create_access_key("eve").unwrap();
    let eve = call_as(
        &registry,
        &eve_key.access_key_id,
        &eve_key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    let denied = registry
        .assume_role(&eve, &role.arn, "xy", None, &keys, NOW)
        .unwrap_err();
    assert!(
        denied.to_string().starts_with(
            "User: arn:aws:iam::123456789012:user/eve is not authorized to perform: sts:AssumeRole"
        ),
        "{denied:?}"
    );
}

#[test]
fn iam_errors_have_iam_codes() {
    let (registry, _) = registry();
    registry.create_user("carol", None).unwrap();
    let dup = AwsError::from(registry.create_user("Carol", None).unwrap_err());
    assert_eq!(
        (dup.code, dup.status.as_u16()),
        ("EntityAlreadyExists", 409)
    );
    assert_eq!(dup.message, "User with name Carol already exists.");
    let missing = AwsError::from(registry.get_user("dave").unwrap_err());
    assert_eq!(
        (missing.code, missing.message.as_str()),
        ("NoSuchEntity", "The user with name dave cannot be found.")
    );
    let bad = AwsError::from(registry.put_user_policy("carol", "p", "{}").unwrap_err());
    assert_eq!(
        (bad.code, bad.message.as_str()),
        ("MalformedPolicyDocument", "Syntax errors in policy.")
    );
    registry.create_access_key("carol").unwrap();
    registry.create_access_key("carol").unwrap();
    let quota = AwsError::from(registry.create_access_key("carol").unwrap_err());
    assert_eq!(quota.code, "LimitExceeded");
    let conflict = AwsError::from(registry.delete_user("carol").unwrap_err());
    assert_eq!(
        (conflict.code, conflict.message.as_str()),
        (
            "DeleteConflict",
            "Cannot delete entity, must delete access keys first."
        )
    );
    let invalid = AwsError::from(registry.create_user("no spaces", None).unwrap_err());
    assert_eq!(invalid.code, "ValidationError");
    let not_attachable = AwsError::from(
        registry
            .attach_user_policy("carol", "arn:aws:iam::aws:policy/NoSuchPolicy")
            .unwrap_err(),
    );
    assert_eq!(
        not_attachable.message,
        "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable."
    );
}

#[test]
fn managed_policy_versions_switch_every_holder_at_once() {
    let (registry, _) = registry();
    let allow = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        )
    };
    let policy = registry
        .create_policy("team", None, &allow("lambda:ListFunctions"), None)
        .unwrap();
    assert_eq!(policy.arn, "arn:aws:iam::123456789012:policy/team");
    registry.create_group("devs", None).unwrap();
    registry.attach_group_policy("devs", &policy.arn).unwrap();
    registry.create_user("erin", None).unwrap();
    registry.add_user_to_group("devs", "erin").unwrap();
    let key = registry.create_access_key("erin").unwrap();
    let erin = call_as(
        &registry,
        &key.access_key_id,
        &key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    may(&erin, "ListFunctions", &[]).unwrap();
    assert!(may(&erin, "GetAccountSettings", &[]).is_err());

    let v2 = registry
        .create_policy_version(&policy.arn, &allow("lambda:GetAccountSettings"), true)
        .unwrap();
    assert_eq!((v2.version_id.as_str(), v2.is_default), ("v2", true));
    let erin = call_as(
        &registry,
        &key.access_key_id,
        &key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    may(&erin, "GetAccountSettings", &[]).unwrap();
    assert!(may(&erin, "ListFunctions", &[]).is_err());
    assert_eq!(
        registry.get_policy(&policy.arn).unwrap().attachment_count,
        1
    );
    assert!(
        !registry
            .get_policy_version(&policy.arn, "v1")
            .unwrap()
            .is_default
    );
    assert!(matches!(
        registry.delete_policy(&policy.arn),
        Err(IamError::DeleteConflict(_))
    ));
    let aws = registry
        .get_policy("arn:aws:iam::aws:policy/AdministratorAccess")
        .unwrap();
    assert!(aws.aws_managed && aws.policy_id.starts_with("ANPA"));
}

#[test]
fn state_survives_a_reload_and_sessions_stay_valid() {
    let (registry, store) = registry();
    registry.create_user("frank", Some("/ops/")).unwrap();
    registry
        .put_user_policy(
            "frank",
            "list",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:List*","Resource":"*"}]}"#,
        )
        .unwrap();
    let key = registry.create_access_key("frank").unwrap();
    let role = registry
        .create_role(
            "exec",
            NewRole {
                trust_policy: LAMBDA_TRUST,
                ..NewRole::default()
            },
        )
        .unwrap();
    let creds = registry.function_credentials(&role.arn, "fn", NOW).unwrap();
    registry
        .create_policy(
            "p",
            Some("/x/"),
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}"#,
            None,
        )
        .unwrap();

    let reloaded = IdentityRegistry::load(
        RegistryConfig {
            account_id: ACCOUNT.into(),
            dev_credentials: false,
        },
        store.clone(),
        store.documents(),
    )
    .unwrap();
    let frank = call_as(
        &reloaded,
        &key.access_key_id,
        &key.secret_access_key,
        None,
        NOW,
    )
    .unwrap();
    assert_eq!(
        frank.principal.arn,
        "arn:aws:iam::123456789012:user/ops/frank"
    );
    may(&frank, "ListFunctions", &[]).unwrap();
    call_as(
        &reloaded,
        &creds.access_key_id,
        &creds.secret_access_key,
        Some(&creds.session_token),
        NOW,
    )
    .unwrap();
    assert_eq!(
        reloaded
            .get_policy("arn:aws:iam::123456789012:policy/x/p")
            .unwrap()
            .policy_name,
        "p"
    );
    // Dev credentials were on for the first registry only.
    assert_eq!(
        call_as(&reloaded, "test", "test", None, NOW).unwrap_err(),
        SigV4Error::UnknownAccessKey
    );
    let root = call_as(&registry, "test", "test", None, NOW).unwrap();
    assert_eq!(root.principal.kind, PrincipalKind::Account);
    may(&root, "DeleteFunction", &[("FunctionName", "f")]).unwrap();
}
