//! The guard with real signatures, a real identity registry and the real authorizers.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use nubo_identity::registry::NewRole;
use nubo_identity::{IdentityRegistry, MemoryStore, RegistryConfig};
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::sigv4::{sign, sign_with_token, Credentials, SigningRequest};
use nubo_wire::{AwsError, Protocol, Scope};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::scope::credential_scope;

const ACCOUNT: &str = "123456789012";
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:List*","lambda:Get*"],"Resource":"*"}]}"#;

fn identity() -> Arc<IdentityRegistry> {
    let registry = IdentityRegistry::load(
        RegistryConfig {
            account_id: ACCOUNT.into(),
            dev_credentials: true,
        },
        Arc::new(MemoryStore::default()),
        Vec::new(),
    )
    .unwrap();
    Arc::new(registry)
}

/// A user with `policy` inline and its key.
fn user(identity: &IdentityRegistry, name: &str, policy: Option<&str>) -> Credentials {
    identity.create_user(name, None).unwrap();
    if let Some(policy) = policy {
        identity.put_user_policy(name, "inline", policy).unwrap();
    }
    let key = identity.create_access_key(name).unwrap();
    Credentials {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
    }
}

fn dev() -> Credentials {
    Credentials {
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    }
}

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    content_type: Option<&'a str>,
    region: &'a str,
    service: &'a str,
    at: OffsetDateTime,
    token: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn lambda(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            query: &[],
            body: b"",
            content_type: None,
            region: "us-east-1",
            service: "lambda",
            at: OffsetDateTime::now_utc(),
            token: None,
        }
    }

    fn query_service(service: &'a str, body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            path: "/",
            query: &[],
            body,
            content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
            region: "us-east-1",
            service,
            at: OffsetDateTime::now_utc(),
            token: None,
        }
    }

    fn signed(&self, credentials: &Credentials) -> Request {
        let query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let request = SigningRequest {
            method: self.method,
            encoded_path: self.path,
            query: &query,
            host: "localhost:4750",
            body: self.body,
        };
        let headers = match self.token {
            Some(token) => sign_with_token(
                &request,
                credentials,
                Some(token),
                self.region,
                self.service,
                self.at,
            ),
            None => sign(&request, credentials, self.region, self.service, self.at),
        };
        let query_string: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    nubo_wire::sigv4::uri_encode(k),
                    nubo_wire::sigv4::uri_encode(v)
                )
            })
            .collect();
        let uri = if query_string.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}?{}", self.path, query_string.join("&"))
        };
        let mut builder = Request::builder()
            .method(self.method)
            .uri(uri)
            .header("host", "localhost:4750");
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if let Some(content_type) = self.content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Body::from(self.body.to_vec())).unwrap()
    }
}

fn target(service: &str) -> Target {
    let (protocol, authorizer): (Protocol, Arc<dyn Authorizer>) = match service {
        "lambda" => (
            Protocol::RestJson,
            Arc::new(lambda::LambdaAuthorizer { functions: None }),
        ),
        "iam" => (
            Protocol::Query {
                xml_namespace: crate::iam_api::NAMESPACE,
            },
            Arc::new(iam::IamAuthorizer),
        ),
        "sts" => (
            Protocol::Query { xml_namespace: "" },
            Arc::new(sts::StsAuthorizer),
        ),
        other => panic!("no test target {other}"),
    };
    Target {
        service: service.to_owned(),
        protocol,
        served: true,
        authorizer: Some(authorizer),
        query_codes: None,
    }
}

async fn admit(identity: &Arc<IdentityRegistry>, req: Request) -> Result<Request, AwsError> {
    let credential = credential_scope(&req)
        .expect("signed")
        .expect("well formed");
    let target = target(&credential.service.clone());
    let default = Scope {
        region: "us-east-1".into(),
        account_id: ACCOUNT.into(),
    };
    Guard::new(identity.clone())
        .admit(&credential, &target, &default, req)
        .await
}

async fn refusal(identity: &Arc<IdentityRegistry>, req: Request) -> (String, u16, String) {
    let err = admit(identity, req).await.expect_err("refused");
    (err.code.to_owned(), err.status.as_u16(), err.message)
}

#[tokio::test]
async fn a_request_acts_in_its_signed_region_and_carries_its_caller() {
    let identity = identity();
    let mut call = Call::lambda("GET", "/2015-03-31/functions/");
    call.region = "eu-west-1";
    let admitted = admit(&identity, call.signed(&dev())).await.unwrap();
    let scope = admitted.extensions().get::<RequestScope>().unwrap();
    assert_eq!(
        (scope.0.region.as_str(), scope.0.account_id.as_str()),
        ("eu-west-1", ACCOUNT)
    );
    let caller = admitted.extensions().get::<Authenticated>().unwrap();
    assert_eq!(
        caller.0.principal.arn,
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
}

#[tokio::test]
async fn bad_signatures_get_the_services_errors() {
    let identity = identity();
    let alice = user(&identity, "alice", Some(READ_ONLY));
    let list = Call::lambda("GET", "/2015-03-31/functions/");

    let mut wrong = alice.clone();
    wrong.secret_access_key.push('x');
    let (code, status, _) = refusal(&identity, list.signed(&wrong)).await;
    assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403));

    let unknown = Credentials {
        access_key_id: "AKIAUNKNOWNUNKNOWN00".into(),
        secret_access_key: "x".into(),
    };
    let (code, status, message) = refusal(&identity, list.signed(&unknown)).await;
    assert_eq!(
        (code.as_str(), status),
        ("UnrecognizedClientException", 403)
    );
    assert_eq!(
        message,
        "The security token included in the request is invalid."
    );

    let mut stale = Call::lambda("GET", "/2015-03-31/functions/");
    stale.at = OffsetDateTime::now_utc() - Duration::minutes(6);
    let (code, _, message) = refusal(&identity, stale.signed(&alice)).await;
    assert_eq!(code, "InvalidSignatureException");
    assert!(message.starts_with("Signature expired: "), "{message}");

    // The body is covered by the signature.
    let mut create = Call::lambda("POST", "/2015-03-31/functions");
    create.body = br#"{"FunctionName":"f"}"#;
    let mut tampered = create.signed(&alice);
    *tampered.body_mut() = Body::from(r#"{"FunctionName":"g"}"#);
    let (code, _, _) = refusal(&identity, tampered).await;
    assert_eq!(code, "InvalidSignatureException");

    // In IAM's protocol the same refusals have IAM's codes.
    let iam = Call::query_service("iam", b"Action=ListUsers&Version=2010-05-08");
    let (code, status, _) = refusal(&identity, iam.signed(&wrong)).await;
    assert_eq!((code.as_str(), status), ("SignatureDoesNotMatch", 403));
    let (code, _, _) = refusal(&identity, iam.signed(&unknown)).await;
    assert_eq!(code, "InvalidClientTokenId");
}

#[tokio::test]
async fn an_impossible_region_is_refused_in_the_services_protocol() {
    let identity = identity();
    let mut call = Call::query_service("iam", b"Action=ListUsers");
    call.region = "Not A Region";
    let (code, status, _) = refusal(&identity, call.signed(&dev())).await;
    assert_eq!((code.as_str(), status), ("InvalidSignatureException", 403));
}

#[tokio::test]
async fn a_read_only_user_can_list_but_not_update() {
    let identity = identity();
    let reader = user(&identity, "reader", Some(READ_ONLY));
    admit(
        &identity,
        Call::lambda("GET", "/2015-03-31/functions/").signed(&reader),
    )
    .await
    .unwrap();
    admit(
        &identity,
        Call::lambda("GET", "/2015-03-31/functions/f/configuration").signed(&reader),
    )
    .await
    .unwrap();
    let mut update = Call::lambda("PUT", "/2015-03-31/functions/f/code");
    update.body = br#"{"ZipFile":"UEs="}"#;
    let (code, status, message) = refusal(&identity, update.signed(&reader)).await;
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 403));
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: lambda:UpdateFunctionCode on resource: arn:aws:lambda:us-east-1:{ACCOUNT}:function:f because no identity-based policy allows the lambda:UpdateFunctionCode action"
        )
    );
    // A qualified read is judged on the qualified ARN, which `Resource: *` covers.
    let mut qualified = Call::lambda("GET", "/2015-03-31/functions/f%3A1");
    qualified.query = &[];
    admit(&identity, qualified.signed(&reader)).await.unwrap();
}

#[tokio::test]
async fn unknown_operations_of_a_served_service_are_refused() {
    let identity = identity();
    let err = admit(
        &identity,
        Call::lambda("GET", "/2015-03-31/nothing-here").signed(&dev()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "UnknownOperationException");
}

#[tokio::test]
async fn create_function_needs_a_role_lambda_can_assume() {
    let identity = identity();
    identity
        .create_role(
            "runner",
            NewRole {
                trust_policy: LAMBDA_TRUST,
                ..Default::default()
            },
        )
        .unwrap();
    identity
        .create_role(
            "stranger",
            NewRole {
                trust_policy: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
                ..Default::default()
            },
        )
        .unwrap();
    let body = |role: &str| {
        format!(
            r#"{{"FunctionName":"f","Runtime":"python3.12","Role":"arn:aws:iam::{ACCOUNT}:role/{role}"}}"#
        )
    };
    for (role, allowed) in [("runner", true), ("stranger", false), ("missing", false)] {
        let text = body(role);
        let mut create = Call::lambda("POST", "/2015-03-31/functions");
        create.body = text.as_bytes();
        let result = admit(&identity, create.signed(&dev())).await;
        match (allowed, result) {
            (true, Ok(_)) => {}
            (false, Err(err)) => {
                assert_eq!(err.code, "InvalidParameterValueException");
                assert_eq!(err.message, lambda::ROLE_NOT_ASSUMABLE);
            }
            (_, other) => panic!("{role}: {other:?}"),
        }
    }
    // Passing the role needs iam:PassRole.
    let lister = user(
        &identity,
        "lister",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:*","Resource":"*"}]}"#,
        ),
    );
    let text = body("runner");
    let mut create = Call::lambda("POST", "/2015-03-31/functions");
    create.body = text.as_bytes();
    let (code, _, message) = refusal(&identity, create.signed(&lister)).await;
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("iam:PassRole"), "{message}");
}

#[tokio::test]
async fn query_requests_are_decoded_once_and_authorized_by_action() {
    let identity = identity();
    let nobody = user(&identity, "nobody", None);
    let get = Call::query_service("iam", b"Action=GetUser&Version=2010-05-08&UserName=nobody");
    let (code, status, message) = refusal(&identity, get.signed(&nobody)).await;
    assert_eq!((code.as_str(), status), ("AccessDenied", 403));
    assert!(
        message.contains("iam:GetUser on resource: arn:aws:iam::123456789012:user/nobody"),
        "{message}"
    );

    let admitted = admit(&identity, get.signed(&dev())).await.unwrap();
    let form = admitted.extensions().get::<QueryRequest>().unwrap();
    assert_eq!(
        (form.action.as_str(), form.str("UserName")),
        ("GetUser", Some("nobody"))
    );

    // GetCallerIdentity needs no permission at all.
    let whoami = Call::query_service("sts", b"Action=GetCallerIdentity&Version=2011-06-15");
    admit(&identity, whoami.signed(&nobody)).await.unwrap();
}

#[tokio::test]
async fn a_trust_policy_naming_a_user_lets_it_assume_the_role_and_use_the_session() {
    let identity = identity();
    let alice = user(&identity, "alice", None);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    identity
        .create_role(
            "deployer",
            NewRole {
                trust_policy: &trust,
                ..Default::default()
            },
        )
        .unwrap();
    identity
        .put_role_policy("deployer", "read", READ_ONLY)
        .unwrap();
    let form = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{ACCOUNT}%3Arole%2Fdeployer&RoleSessionName=s1"
    );
    let assume = Call::query_service("sts", form.as_bytes());
    let admitted = admit(&identity, assume.signed(&alice)).await.unwrap();
    let caller = admitted
        .extensions()
        .get::<Authenticated>()
        .unwrap()
        .0
        .clone();
    let session = identity
        .assume_role(
            &caller,
            &format!("arn:aws:iam::{ACCOUNT}:role/deployer"),
            "s1",
            None,
            &ConditionKeys::default(),
            OffsetDateTime::now_utc(),
        )
        .unwrap()
        .credentials;
    let creds = Credentials {
        access_key_id: session.access_key_id.clone(),
        secret_access_key: session.secret_access_key.clone(),
    };
    let mut list = Call::lambda("GET", "/2015-03-31/functions/");
    list.token = Some(&session.session_token);
    let admitted = admit(&identity, list.signed(&creds)).await.unwrap();
    let who = &admitted
        .extensions()
        .get::<Authenticated>()
        .unwrap()
        .0
        .principal;
    assert_eq!(
        who.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1")
    );
    let mut delete = Call::lambda("DELETE", "/2015-03-31/functions/f");
    delete.token = Some(&session.session_token);
    let (code, _, _) = refusal(&identity, delete.signed(&creds)).await;
    assert_eq!(code, "AccessDeniedException");
}
