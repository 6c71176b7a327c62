//! `nubo init` (hello-world projects) and `nubo generate-event` (sample events).

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Value};

const PY_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: {name} - a hello-world function behind an HTTP API

Globals:
  Function:
    Timeout: 3
    MemorySize: 128

Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        HelloWorld:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: get

Outputs:
  HelloWorldApi:
    Description: URL of the hello endpoint
    Value: !Sub "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/hello"
  HelloWorldFunction:
    Value: !GetAtt HelloWorldFunction.Arn
"#;

const PY_APP: &str = r#"import json


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": "hello world"}),
    }
"#;

const NODE_APP: &str = r#"export const lambdaHandler = async (event) => {
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "hello world" }),
  };
};
"#;

const RUST_MAIN: &str = r##"use lambda_http::{run, service_fn, Body, Error, Request, Response};

async fn handler(_event: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(r#"{"message":"hello world"}"#.into())?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
"##;

const RUST_CARGO: &str = r#"[package]
name = "hello-world"
version = "0.1.0"
edition = "2021"

[[bin]]
name = "bootstrap"
path = "src/main.rs"

[dependencies]
lambda_http = "0.13"
tokio = { version = "1", features = ["macros"] }
"#;

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `nubo init --runtime R --name N`: a folder `N` with a template and a handler.
pub(crate) fn init(runtime: &str, name: &str) -> anyhow::Result<()> {
    let root = Path::new(name);
    if root.exists() {
        anyhow::bail!("{name} exists already");
    }
    let template = PY_TEMPLATE.replace("{name}", name);
    match runtime {
        r if r.starts_with("python") => {
            write(
                &root.join("template.yaml"),
                &template.replace("python3.12", r),
            )?;
            write(&root.join("hello_world/app.py"), PY_APP)?;
            write(&root.join("hello_world/requirements.txt"), "")?;
        }
        r if r.starts_with("node") => {
            let runtime = if r == "node" || r == "nodejs" {
                "nodejs20.x"
            } else {
                r
            };
            let t = template
                .replace("python3.12", runtime)
                .replace("app.lambda_handler", "app.lambdaHandler")
                .replace("hello_world/", "hello-world/");
            write(&root.join("template.yaml"), &t)?;
            write(&root.join("hello-world/app.mjs"), NODE_APP)?;
            write(&root.join("hello-world/package.json"), "{\n  \"name\": \"hello-world\",\n  \"version\": \"1.0.0\",\n  \"type\": \"module\"\n}\n")?;
        }
        "rust" | "provided.al2023" | "provided.al2" => {
            let t = template
                .replace("python3.12", "provided.al2023")
                .replace("app.lambda_handler", "bootstrap")
                .replace("hello_world/", "rust_app/");
            write(&root.join("template.yaml"), &t)?;
            write(&root.join("rust_app/Cargo.toml"), RUST_CARGO)?;
            write(&root.join("rust_app/src/main.rs"), RUST_MAIN)?;
        }
        other => anyhow::bail!("--runtime {other}: expected python3.x, nodejs2x.x or rust"),
    }
    println!("Created {name}/ ({runtime}). Next:\n  cd {name}\n  nubo deploy\n  curl <the HelloWorldApi URL printed>");
    if runtime == "rust" || runtime.starts_with("provided") {
        println!("  (Rust: run `nubo build` first; it compiles the bootstrap binary)");
    }
    Ok(())
}

/// `nubo generate-event SERVICE EVENT`.
pub(crate) fn generate_event(
    service: &str,
    event: &str,
    bucket: &str,
    key: &str,
    body: &str,
    path: &str,
    method: &str,
) -> anyhow::Result<Value> {
    let region = "us-east-1";
    let account = "123456789012";
    Ok(match (service, event) {
        ("s3", "put") | ("s3", "delete") => {
            let name = if event == "put" { "ObjectCreated:Put" } else { "ObjectRemoved:Delete" };
            json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region,
                "eventTime": "1970-01-01T00:00:00.000Z", "eventName": name,
                "userIdentity": {"principalId": "EXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH"},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": key, "size": 1024, "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}}
            }]})
        }
        ("apigateway", "http-api") | ("apigateway", "http-api-proxy") => json!({
            "version": "2.0", "routeKey": format!("{} {path}", method.to_uppercase()), "rawPath": path, "rawQueryString": "",
            "headers": {"accept": "*/*", "content-type": "application/json", "host": "localhost", "user-agent": "curl/8.0"},
            "requestContext": {"accountId": account, "apiId": "api-id", "domainName": "localhost", "domainPrefix": "api-id",
                "http": {"method": method.to_uppercase(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "curl/8.0"},
                "requestId": "id", "routeKey": format!("{} {path}", method.to_uppercase()), "stage": "$default", "time": "01/Jan/1970:00:00:00 +0000", "timeEpoch": 0},
            "body": body, "isBase64Encoded": false
        }),
        ("apigateway", "aws-proxy") => json!({
            "resource": path, "path": path, "httpMethod": method.to_uppercase(),
            "headers": {"Accept": "*/*", "Content-Type": "application/json", "Host": "localhost"},
            "multiValueHeaders": {"Accept": ["*/*"], "Content-Type": ["application/json"], "Host": ["localhost"]},
            "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null, "stageVariables": null,
            "requestContext": {"accountId": account, "apiId": "api-id", "httpMethod": method.to_uppercase(), "path": format!("/Prod{path}"),
                "protocol": "HTTP/1.1", "requestId": "id", "resourcePath": path, "stage": "Prod", "identity": {"sourceIp": "127.0.0.1"}},
            "body": body, "isBase64Encoded": false
        }),
        ("sqs", "receive-message") | ("sqs", "message") => json!({"Records": [{
            "messageId": "19dd0b57-b21e-4ac1-bd88-01bbb068cb78", "receiptHandle": "MessageReceiptHandle", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1523232000000", "SenderId": account, "ApproximateFirstReceiveTimestamp": "1523232000001"},
            "messageAttributes": {}, "md5OfBody": "7b270e59b47ff90a553787216d55d91d", "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:{region}:{account}:MyQueue"), "awsRegion": region
        }]}),
        ("schedule", _) | ("cloudwatch", "scheduled-event") | ("events", "scheduled-event") => json!({
            "version": "0", "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": "1970-01-01T00:00:00Z", "region": region,
            "resources": [format!("arn:aws:events:{region}:{account}:rule/ExampleRule")], "detail": {}
        }),
        _ => anyhow::bail!("no sample for `{service} {event}` (s3 put|delete, apigateway http-api|aws-proxy, sqs receive-message, schedule)"),
    })
}
