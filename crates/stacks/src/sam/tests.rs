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

#[test]
fn simple_tables_dynamodb_policies_and_stream_events() {
    let text = r#"Transform: AWS::Serverless-2016-10-31
Globals:
  SimpleTable:
    SSESpecification:
      SSEEnabled: true
Resources:
  Items:
    Type: AWS::Serverless::SimpleTable
  Orders:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: orders
      PrimaryKey: {Name: orderId, Type: Number}
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}
      Tags: {team: shop}
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          TABLE_NAME: !Ref Items
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref Items}
        - DynamoDBReadPolicy: {TableName: !Ref Orders}
        - DynamoDBWritePolicy: {TableName: orders}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Events.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
"#;
    let e = expand(text).unwrap();
    let items = &e.resources["Items"];
    assert_eq!(items.kind, "AWS::DynamoDB::Table");
    assert_eq!(
        items.properties,
        json!({
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        })
    );
    let orders = &e.resources["Orders"].properties;
    assert_eq!(orders["TableName"], json!("orders"));
    assert_eq!(
        orders["AttributeDefinitions"][0]["AttributeType"],
        json!("N")
    );
    assert_eq!(orders["KeySchema"][0]["AttributeName"], json!("orderId"));
    assert_eq!(
        orders["ProvisionedThroughput"]["ReadCapacityUnits"],
        json!(5)
    );
    assert!(orders.get("BillingMode").is_none());
    assert_eq!(orders["Tags"], json!([{"Key": "team", "Value": "shop"}]));
    assert_eq!(e.resources["Events"].kind, "AWS::DynamoDB::Table");

    let policies = e.resources["FnRole"].properties["Policies"].to_string();
    assert!(
        policies.contains("dynamodb:ConditionCheckItem"),
        "{policies}"
    );
    assert!(policies.contains("table/${t}/index/*"), "{policies}");
    assert!(policies.contains("dynamodb:GetRecords"), "{policies}");
    assert!(policies.contains(r#"{"Ref":"Items"}"#), "{policies}");

    let m = &e.resources["FnChanges"];
    assert_eq!(m.kind, "AWS::Lambda::EventSourceMapping");
    assert_eq!(
        m.properties["EventSourceArn"],
        json!({"Fn::GetAtt": ["Events", "StreamArn"]})
    );
    assert_eq!(m.properties["StartingPosition"], json!("TRIM_HORIZON"));
    assert_eq!(m.properties["BatchSize"], json!(10));

    let bad = text.replace("Type: Number", "Type: Text");
    assert!(expand(&bad)
        .unwrap_err()
        .to_string()
        .contains("PrimaryKey.Type \"Text\""));
    let no_position = text.replace("            StartingPosition: TRIM_HORIZON\n", "");
    assert!(expand(&no_position)
        .unwrap_err()
        .to_string()
        .contains("StartingPosition is required"));
}
