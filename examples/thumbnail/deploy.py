#!/usr/bin/env python3
"""Deploys the thumbnail pipeline to a Nubo server in one command:

    python examples/thumbnail/deploy.py --endpoint http://127.0.0.1:4750

It installs Pillow for the function's Python (a manylinux wheel, `pip install --target`) next to
app.py, zips them, creates the two buckets, an execution role that may read the source and write
the destination, the `thumbnail` function, and the source bucket's notification configuration.
Credentials come from the usual AWS environment (`AWS_PROFILE=nubo` with the files `nubo serve`
prints, or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`). Running it again updates the function.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
RUNTIME = "python3.12"
PILLOW = "pillow==11.3.0"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def build_zip(build_dir: Path) -> bytes:
    """app.py plus Pillow built for the function's runtime (not the deploying machine's Python)."""
    version = RUNTIME.removeprefix("python")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--target", str(build_dir), "--only-binary=:all:", "--implementation", "cp",
            "--python-version", version,
            "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
            PILLOW,
        ],
        check=True,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(HERE / "app.py", "app.py")
        for path in sorted(build_dir.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(str(path.relative_to(build_dir)))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return out.getvalue()


def ensure_bucket(s3, name: str) -> None:
    try:
        s3.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise


def ensure_role(iam, name: str, source: str, destination: str) -> str:
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="thumbnails",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{source}/*"},
                {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{destination}/*"},
            ],
        }),
    )
    return arn


def deploy_function(lam, name: str, role: str, code: bytes, destination: str) -> str:
    settings = dict(
        Runtime=RUNTIME, Role=role, Handler="app.handler", Timeout=30, MemorySize=512,
        Environment={"Variables": {"DEST_BUCKET": destination}},
    )
    try:
        arn = lam.create_function(FunctionName=name, Code={"ZipFile": code}, **settings)["FunctionArn"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceConflictException":
            raise
        lam.update_function_code(FunctionName=name, ZipFile=code)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        arn = lam.update_function_configuration(FunctionName=name, **settings)["FunctionArn"]
    return arn


def allow_s3(lam, name: str, source: str, account: str) -> None:
    """The function's resource policy: S3 may invoke it for the source bucket (AWS requires this
    before it accepts the notification configuration)."""
    try:
        lam.add_permission(
            FunctionName=name, StatementId=f"s3-{source}", Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{source}", SourceAccount=account,
        )
    except ClientError as e:
        # Already granted; or a server without resource policies yet.
        if e.response["Error"]["Code"] not in ("ResourceConflictException",) and e.response["ResponseMetadata"]["HTTPStatusCode"] not in (404, 501):
            raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4750"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument("--source-bucket", default="thumbnail-source")
    parser.add_argument("--dest-bucket", default="thumbnail-destination")
    parser.add_argument("--function", default="thumbnail")
    args = parser.parse_args()

    def client(service: str):
        return boto3.client(service, endpoint_url=args.endpoint, region_name=args.region)

    s3, iam, lam, sts = client("s3"), client("iam"), client("lambda"), client("sts")
    account = sts.get_caller_identity()["Account"]
    with tempfile.TemporaryDirectory() as build:
        print(f"building the function with {PILLOW} for {RUNTIME}…", flush=True)
        code = build_zip(Path(build))
    for bucket in (args.source_bucket, args.dest_bucket):
        ensure_bucket(s3, bucket)
    role = ensure_role(iam, f"{args.function}-role", args.source_bucket, args.dest_bucket)
    arn = deploy_function(lam, args.function, role, code, args.dest_bucket)
    allow_s3(lam, args.function, args.source_bucket, account)
    s3.put_bucket_notification_configuration(
        Bucket=args.source_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "thumbnails", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    print(f"deployed {arn} ({len(code) // 1024} KB): uploads to s3://{args.source_bucket} "
          f"appear as thumbnails in s3://{args.dest_bucket}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
