#!/usr/bin/env python3
"""Deploys the chat example to a Nubo server in one command:

    python examples/chat/deploy.py --endpoint http://127.0.0.1:4750

It creates the state bucket, an execution role that may use it and manage the API's connections,
the `chat` function, and a WebSocket API (`$request.body.action`) whose `$connect`,
`$disconnect`, `join`, `send` and `$default` routes all go to the function (`join`, `send` and
`$default` two-way), deployed to stage `prod`. It prints the URL to connect to. Credentials come
from the usual AWS environment (`AWS_PROFILE=nubo` with the files `nubo serve` prints). Running it
again updates the function and makes a new API.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
RUNTIME = "python3.12"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ROUTES = {"$connect": False, "$disconnect": False, "join": True, "send": True, "$default": True}


def build_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(HERE / "app.py", "app.py")
    return out.getvalue()


def ensure_role(iam, name: str, bucket: str, region: str, account: str) -> str:
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="chat",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": f"arn:aws:s3:::{bucket}/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
                {"Effect": "Allow", "Action": "execute-api:ManageConnections",
                 "Resource": f"arn:aws:execute-api:{region}:{account}:*/*/POST/@connections/*"},
            ],
        }),
    )
    return arn


def deploy_function(lam, name: str, role: str, bucket: str) -> str:
    code = build_zip()
    settings = dict(Runtime=RUNTIME, Role=role, Handler="app.handler", Timeout=30,
                    Environment={"Variables": {"CHAT_BUCKET": bucket}})
    try:
        arn = lam.create_function(FunctionName=name, Code={"ZipFile": code}, **settings)["FunctionArn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceConflictException":
            raise
        lam.update_function_code(FunctionName=name, ZipFile=code)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        arn = lam.update_function_configuration(FunctionName=name, **settings)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return arn


def deploy_api(gw, name: str, function_arn: str) -> str:
    api_id = gw.create_api(Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    integration = gw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn)
    for key, two_way in ROUTES.items():
        extra = {"RouteResponseSelectionExpression": "$default"} if two_way else {}
        route = gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration['IntegrationId']}", **extra)
        if two_way:
            gw.create_route_response(ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default")
    deployment = gw.create_deployment(ApiId=api_id)["DeploymentId"]
    gw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment)
    return api_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4750"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--bucket", default="chat-state")
    parser.add_argument("--function", default="chat")
    args = parser.parse_args()

    def client(service: str):
        return boto3.client(service, endpoint_url=args.endpoint, region_name=args.region)

    s3, iam, lam, gw = client("s3"), client("iam"), client("lambda"), client("apigatewayv2")
    account = client("sts").get_caller_identity()["Account"]
    try:
        s3.create_bucket(Bucket=args.bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    role = ensure_role(iam, f"{args.function}-role", args.bucket, args.region, account)
    arn = deploy_function(lam, args.function, role, args.bucket)
    api_id = deploy_api(gw, args.function, arn)
    url = f"{args.endpoint.replace('http://', 'ws://').rstrip('/')}/_api/{api_id}/prod"
    print(json.dumps({"apiId": api_id, "url": url, "function": arn}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
