//! The transform on templates written the way AWS's samples are.

use std::collections::BTreeMap;

use serde_json::json;

use crate::template::{Pseudo, Template};

fn expand(text: &str) -> Result<crate::Expanded, crate::TemplateError> {
    let pseudo = Pseudo {
        region: "us-east-1".into(),
        account: "000000000000".into(),
        stack: "app".into(),
    };
    Template::parse("template.yaml", text)?.expand(&BTreeMap::new(), &pseudo)
}

const HELLO: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 3
    Environment:
      Variables:
        A: global
Parameters:
  Stage:
    Type: String
    Default: dev
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: hello_world/
      Handler: app.lambda_handler
      Runtime: python3.12
      Environment:
        Variables:
          B: !Ref Stage
      Events:
        HelloWorld:
          Type: Api
          Properties:
            Path: /hello
            Method: get
        Http:
          Type: HttpApi
          Properties:
            Path: /hi/{name}
            Method: GET
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  HelloWorldApi:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
"#;

#[test]
fn expands_a_function_with_its_events() {
    let e = expand(HELLO).unwrap();
    let ids: Vec<&str> = e.resources.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        vec![
            "HelloWorldFunction",
            "HelloWorldFunctionHelloWorldPermissionProd",
            "HelloWorldFunctionHttpPermission",
            "HelloWorldFunctionRole",
            "HelloWorldFunctionTick",
            "HelloWorldFunctionTickPermission",
            "HelloWorldFunctionWork",
            "Queue",
            "ServerlessHttpApi",
            "ServerlessHttpApiApiGatewayDefaultStage",
            "ServerlessRestApi",
            "ServerlessRestApiDeployment",
        ]
    );
    let f = &e.resources["HelloWorldFunction"].properties;
    assert_eq!(
        f["Environment"]["Variables"],
        json!({"A": "global", "B": {"Ref": "Stage"}})
    );
    assert_eq!(f["Timeout"], json!(3));
    assert_eq!(
        f["Role"],
        json!({"Fn::GetAtt": ["HelloWorldFunctionRole", "Arn"]})
    );
    let role = &e.resources["HelloWorldFunctionRole"].properties;
    assert_eq!(
        role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"],
        json!({"Fn::GetAtt": ["Queue", "Arn"]})
    );
    let rest = &e.resources["ServerlessRestApi"].properties["Body"];
    assert_eq!(
        rest["paths"]["/hello"]["get"]["x-amazon-apigateway-integration"]["type"],
        json!("aws_proxy")
    );
    let http = &e.resources["ServerlessHttpApi"].properties["Body"];
    assert_eq!(
        http["paths"]["/hi/{name}"]["get"]["x-amazon-apigateway-integration"]
            ["payloadFormatVersion"],
        json!("2.0")
    );
    assert_eq!(
        e.resources["ServerlessRestApiDeployment"].properties["StageName"],
        json!("Prod")
    );
    assert!(e.resources["HelloWorldFunctionWork"]
        .depends_on
        .contains("HelloWorldFunctionRole"));
    assert_eq!(
        e.resources["HelloWorldFunctionTick"].properties["ScheduleExpression"],
        json!("rate(1 minute)")
    );
}

#[test]
fn errors_name_the_line_and_the_resource() {
    let bad_event = HELLO.replace("Type: Schedule", "Type: Kinesis");
    let e = expand(&bad_event).unwrap_err();
    assert_eq!(e.line, Some(14));
    assert!(
        e.to_string()
            .starts_with("template.yaml:14: resource HelloWorldFunction: event Tick"),
        "{e}"
    );
    let no_handler = HELLO.replace("      Handler: app.lambda_handler\n", "");
    assert!(expand(&no_handler)
        .unwrap_err()
        .to_string()
        .contains("Handler and Runtime are required"));
    let table = format!("{HELLO}  T:\n    Type: AWS::Serverless::SimpleTable\n").replace("Outputs:\n  HelloWorldApi:\n    Value: !Sub \"https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/\"\n", "");
    assert!(expand(&table)
        .unwrap_err()
        .to_string()
        .contains("resource T: type AWS::Serverless::SimpleTable"));
}

#[test]
fn alias_url_and_s3_events() {
    let text = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Uploads:
    Type: AWS::S3::Bucket
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
      AutoPublishAlias: live
      FunctionUrlConfig:
        AuthType: NONE
      Events:
        Up:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
"#;
    let e = expand(text).unwrap();
    assert!(
        e.resources.contains_key("FnAliaslive")
            && e.resources.contains_key("FnVersion")
            && e.resources.contains_key("FnUrl")
    );
    let bucket = &e.resources["Uploads"];
    assert_eq!(
        bucket.properties["NotificationConfiguration"]["LambdaConfigurations"][0]["Function"],
        json!({"Ref": "FnAliaslive"})
    );
    assert!(bucket.depends_on.contains("FnUpPermission"));
    assert_eq!(e.resources["FnUrl"].properties["Qualifier"], json!("live"));
}
