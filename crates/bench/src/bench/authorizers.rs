//! Issue "REST APIs, API keys, usage plans and authorizers": what the REST pipeline and its checks
//! cost per request, each beside a same-run baseline, back to back —
//! a REST API → warm function beside an HTTP API → the same function; a method with an API key
//! (usage plan with a quota) and a method behind a TOKEN authorizer whose answer is cached, each
//! beside the same API's open method; and (in-process) verifying an RS256 JWT beside decoding
//! its header.

use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Value};

use super::{sequential, stats, zip_of, MicroRow, Row};
use nubo::client::Client;

const ACCOUNT: &str = "000000000000";
const API_KEY: &str = "bench-api-key-0123456789abcdef";

const AUTHORIZER: &str = "def handler(event, context):\n    return {\"principalId\": \"bench\", \"policyDocument\": {\"Version\": \"2012-10-17\", \"Statement\": [{\"Action\": \"execute-api:Invoke\", \"Effect\": \"Allow\", \"Resource\": \"*\"}]}}\n";

fn lambda_uri(function: &str) -> String {
    format!(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/\
         arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}/invocations"
    )
}

/// A control call that must answer 2xx; its JSON.
async fn call(
    client: &Client,
    method: http::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let reply = client
        .send(
            "apigateway",
            method,
            path,
            &[],
            &[],
            serde_json::to_vec(&body)?,
        )
        .await?;
    anyhow::ensure!(
        reply.status.is_success(),
        "{path}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
}

/// A REST API with `/open`, `/keyed` (API key + usage plan) and `/authorized` (TOKEN authorizer,
/// 300 s cache) in front of `function`, deployed to `prod`; returns its id.
async fn rest_api(client: &Client, function: &str, authorizer_fn: &str) -> anyhow::Result<String> {
    let api = call(
        client,
        http::Method::POST,
        "/restapis",
        json!({"name": "bench-rest"}),
    )
    .await?;
    let id = api["id"].as_str().context("no REST API id")?.to_owned();
    let root = api["rootResourceId"]
        .as_str()
        .context("no root")?
        .to_owned();
    let authorizer = call(
        client,
        http::Method::POST,
        &format!("/restapis/{id}/authorizers"),
        json!({"name": "bench", "type": "TOKEN", "authorizerUri": lambda_uri(authorizer_fn),
               "identitySource": "method.request.header.Authorization",
               "authorizerResultTtlInSeconds": 300}),
    )
    .await?;
    let authorizer_id = authorizer["id"].as_str().context("no authorizer id")?;
    for (part, method) in [
        ("open", json!({"authorizationType": "NONE"})),
        (
            "keyed",
            json!({"authorizationType": "NONE", "apiKeyRequired": true}),
        ),
        (
            "authorized",
            json!({"authorizationType": "CUSTOM", "authorizerId": authorizer_id}),
        ),
    ] {
        let resource = call(
            client,
            http::Method::POST,
            &format!("/restapis/{id}/resources/{root}"),
            json!({ "pathPart": part }),
        )
        .await?;
        let rid = resource["id"].as_str().context("no resource id")?;
        let base = format!("/restapis/{id}/resources/{rid}/methods/POST");
        call(client, http::Method::PUT, &base, method).await?;
        call(
            client,
            http::Method::PUT,
            &format!("{base}/integration"),
            json!({"type": "AWS_PROXY", "httpMethod": "POST", "uri": lambda_uri(function)}),
        )
        .await?;
    }
    call(
        client,
        http::Method::POST,
        &format!("/restapis/{id}/deployments"),
        json!({"stageName": "prod"}),
    )
    .await?;
    let key = call(
        client,
        http::Method::POST,
        "/apikeys",
        json!({"name": "bench", "enabled": true, "value": API_KEY}),
    )
    .await?;
    let plan = call(
        client,
        http::Method::POST,
        "/usageplans",
        json!({"name": "bench", "apiStages": [{"apiId": id, "stage": "prod"}],
               "quota": {"limit": 100_000_000, "period": "DAY"}}),
    )
    .await?;
    let plan_id = plan["id"].as_str().context("no plan id")?;
    call(
        client,
        http::Method::POST,
        &format!("/usageplans/{plan_id}/keys"),
        json!({"keyId": key["id"], "keyType": "API_KEY"}),
    )
    .await?;
    Ok(id)
}

async fn post(client: &Client, path: &str, headers: &[(&str, String)]) -> anyhow::Result<()> {
    let reply = client
        .send(
            "execute-api",
            http::Method::POST,
            path,
            &[],
            headers,
            b"{\"noop\":true}".to_vec(),
        )
        .await?;
    anyhow::ensure!(
        reply.status.is_success(),
        "{path}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    Ok(())
}

fn row(
    scenario: String,
    subject: super::Stats,
    baseline_name: &str,
    baseline: super::Stats,
) -> Row {
    Row {
        scenario,
        subject,
        throughput: None,
        baseline_name: baseline_name.into(),
        baseline,
        baseline_throughput: None,
    }
}

/// A python function answering as a proxy integration must (REST's payload 1.0 needs a
/// `statusCode`; the provided no-op's `null` is not a response there).
const PROXY: &str =
    "def handler(event, context):\n    return {\"statusCode\": 200, \"body\": \"ok\"}\n";

/// The end-to-end rows, all through one warm python function that answers as a proxy
/// integration: an HTTP API (quick create) and a REST API in front of it.
pub(super) async fn rows(client: &Client, iterations: usize) -> anyhow::Result<Vec<Row>> {
    let code = zip_of(&[("app.py", AUTHORIZER.as_bytes().to_vec(), 0o644)])?;
    super::create_function(
        client,
        "bench-authorizer",
        "python3.12",
        "app.handler",
        &code,
    )
    .await?;
    let code = zip_of(&[("app.py", PROXY.as_bytes().to_vec(), 0o644)])?;
    let function = "bench-proxy";
    super::create_function(client, function, "python3.12", "app.handler", &code).await?;
    let http_api = super::create_http_api(client, function).await?;
    let http_api = http_api.as_str();
    let id = rest_api(client, function, "bench-authorizer").await?;
    let open = format!("/_api/{id}/prod/open");
    let keyed = format!("/_api/{id}/prod/keyed");
    let authorized = format!("/_api/{id}/prod/authorized");
    let key = [("x-api-key", API_KEY.to_owned())];
    let token = [("authorization", "allow".to_owned())];
    // Warm the authorizer's cache (and the function) once.
    post(client, &authorized, &token).await?;
    let http_path = format!("/_api/{http_api}/bench");

    let http = sequential(iterations, || post(client, &http_path, &[])).await?;
    let rest = sequential(iterations, || post(client, &open, &[])).await?;
    let with_key = sequential(iterations, || post(client, &keyed, &key)).await?;
    let rest_again = sequential(iterations, || post(client, &open, &[])).await?;
    let cached = sequential(iterations, || post(client, &authorized, &token)).await?;
    let diff = |a: &super::Stats, b: &super::Stats| {
        format!(
            "{:.3} ms p50, {:.3} ms p99",
            (a.p50_us - b.p50_us) / 1000.0,
            (a.p99_us - b.p99_us) / 1000.0
        )
    };
    Ok(vec![
        row(
            format!(
                "REST API → warm python function (AWS_PROXY, 1.0); beside HTTP API: {}",
                diff(&rest, &http)
            ),
            rest.clone(),
            "HTTP API → same function (quick create, 2.0), same run",
            http,
        ),
        row(
            format!(
                "REST API method with API key + usage plan quota; the check adds {}",
                diff(&with_key, &rest)
            ),
            with_key,
            "same REST API, open method",
            rest,
        ),
        row(
            format!(
                "REST API method behind a TOKEN authorizer, cache hit; adds {}",
                diff(&cached, &rest_again)
            ),
            cached,
            "same REST API, open method",
            rest_again,
        ),
    ])
}

/// RSA test key (2048-bit, made for this benchmark only): PKCS#1 DER, base64.
const RSA_DER: &str = include_str!("bench_rsa.der.b64");
/// Its public modulus, base64url.
const RSA_N: &str = include_str!("bench_rsa.n.b64url");

/// In-process: verifying an RS256 token (signature, `exp`, `iss`, `aud`) the way a JWT route
/// does, beside decoding its header (what a request costs before any cryptography).
pub(super) fn jwt_row() -> anyhow::Result<MicroRow> {
    use base64::Engine;
    use nubo_gateway::http_api::jwt::{self, CompiledJwt, TokenSource};

    let der = base64::engine::general_purpose::STANDARD.decode(RSA_DER.trim())?;
    let encoding = jsonwebtoken::EncodingKey::from_rsa_der(&der);
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(RSA_N.trim(), "AQAB")?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("bench".into());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": "http://issuer", "aud": "bench", "sub": "u", "scope": "read",
                        "iat": now - 1, "exp": now + 3600});
    let token = jsonwebtoken::encode(&header, &claims, &encoding)?;
    let authorizer = CompiledJwt {
        id: "bench".into(),
        issuer: "http://issuer".into(),
        audience: vec!["bench".into()],
        source: TokenSource::Header("authorization".into()),
        check_audience: true,
    };
    let measure = |f: &dyn Fn() -> bool| {
        const BATCH: u32 = 20;
        let mut samples = Vec::with_capacity(220);
        for round in 0..220 {
            let start = Instant::now();
            for _ in 0..BATCH {
                assert!(std::hint::black_box(f()));
            }
            if round >= 20 {
                samples.push(start.elapsed() / BATCH);
            }
        }
        let s = stats(samples);
        (s.p50_us * 1000.0, s.p99_us * 1000.0)
    };
    let (p50, p99) = measure(&|| {
        jwt::header(&token)
            .and_then(|(_, alg)| jwt::verify(&token, alg, &decoding, &authorizer))
            .is_ok()
    });
    let (base_p50, base_p99) = measure(&|| jwt::header(&token).is_ok());
    Ok(MicroRow {
        scenario: "JWT verification (RS256, 2048-bit: signature, exp, iss, aud, scopes)".into(),
        p50_ns: p50,
        p99_ns: p99,
        baseline_name: "decoding the token's header only".into(),
        baseline_p50_ns: base_p50,
        baseline_p99_ns: base_p99,
    })
}
