"""Lambda layers through boto3: PublishLayerVersion (zip and S3 object), Get/List/Delete, ListLayers
with filters, layer-version permissions, functions with layers (code from two layers imported,
later layers winning, node's layer modules over the runtime's SDK, PATH and LD_LIBRARY_PATH), the
limits with AWS's texts, and principals the policies refuse."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, credentials_for, error_of, invoke, make_zip, unique_name, wait_updated

OTHER_ACCOUNT = "111122223333"
CONFIG = Config(retries={"max_attempts": 0})


def client(service: str, endpoint: str, **creds):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **creds)


def layer_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"


@pytest.fixture
def make_layer(lam):
    """Publishes layer versions; deletes them at teardown."""
    published: list[tuple[str, int]] = []

    def publish(files: dict[str, str | bytes], name: str | None = None, executable=(), **kwargs) -> dict:
        name = name or unique_name("layer")
        content = kwargs.pop("Content", None) or {"ZipFile": make_zip(files, executable=executable)}
        version = lam.publish_layer_version(LayerName=name, Content=content, **kwargs)
        published.append((name, version["Version"]))
        return version

    yield publish
    for name, version in published:
        try:
            lam.delete_layer_version(LayerName=name, VersionNumber=version)
        except Exception:
            pass


TWO_LAYERS = """
import os, subprocess
import liba, libb, shared

def handler(event, context):
    try:
        open("/opt/python/new.py", "w")
        writable = True
    except OSError:
        writable = False
    tool = subprocess.run(["tool"], capture_output=True, text=True).stdout.strip()
    return {"a": liba.VALUE, "b": libb.VALUE, "shared": shared.VALUE, "tool": tool,
            "path": os.environ["PATH"], "ld": os.environ["LD_LIBRARY_PATH"], "opt_writable": writable}
"""


def test_a_function_imports_code_from_two_layers(lam, make_function, make_layer):
    first = make_layer(
        {"python/liba.py": "VALUE = 'from a'\n", "python/shared.py": "VALUE = 'a'\n"},
        Description="first", CompatibleRuntimes=["python3.12"], LicenseInfo="MIT",
    )
    second = make_layer(
        {"python/libb.py": "VALUE = 'from b'\n", "python/shared.py": "VALUE = 'b'\n",
         "bin/tool": "#!/bin/sh\necho tool from b\n"},
        executable=("bin/tool",),
    )
    assert first["Version"] == 1 and first["Description"] == "first"
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["CompatibleRuntimes"] == ["python3.12"] and first["LicenseInfo"] == "MIT"
    assert first["Content"]["CodeSize"] > 0 and first["Content"]["CodeSha256"]

    layers = [first["LayerVersionArn"], second["LayerVersionArn"]]
    config = make_function({"app.py": TWO_LAYERS}, Layers=layers)
    assert config["Layers"] == [
        {"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]},
        {"Arn": second["LayerVersionArn"], "CodeSize": second["Content"]["CodeSize"]},
    ]
    name = config["FunctionName"]
    assert lam.get_function(FunctionName=name)["Configuration"]["Layers"] == config["Layers"]
    out = invoke(lam, name, {})
    assert out.status == 200 and out.function_error is None, out
    body = out.json
    assert (body["a"], body["b"], body["shared"], body["tool"]) == ("from a", "from b", "b", "tool from b")
    assert "/opt/bin" in body["path"].split(":") and "/opt/lib" in body["ld"].split(":")
    assert body["opt_writable"] is False

    # Deleting a layer version keeps functions that use it working, as on Lambda.
    lam.delete_layer_version(LayerName=second["LayerArn"].rsplit(":", 1)[1], VersionNumber=1)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MARK": "1"}})
    wait_updated(lam, name)
    assert invoke(lam, name, {}).json["shared"] == "b"

    # One layer only: the other's modules are gone.
    lam.update_function_configuration(FunctionName=name, Layers=[first["LayerVersionArn"]])
    wait_updated(lam, name)
    out = invoke(lam, name, {})
    assert out.function_error == "Unhandled" and "libb" in out.body.decode(), out


NODE_FUNCTION = """
const s3 = require("@aws-sdk/client-s3");
const helper = require("layer-helper");
exports.handler = async () => ({ s3: s3.FROM_LAYER || "runtime sdk", helper: helper.hello() });
"""


def test_node_modules_of_a_layer_win_over_the_runtime_sdk(lam, make_function, make_layer):
    layer = make_layer({
        "nodejs/node_modules/@aws-sdk/client-s3/index.js": "exports.FROM_LAYER = 'layer';\n",
        "nodejs/node_modules/@aws-sdk/client-s3/package.json": json.dumps({"name": "@aws-sdk/client-s3", "main": "index.js"}),
        "nodejs/node_modules/layer-helper/index.js": "exports.hello = () => 'hello from the layer';\n",
    }, CompatibleRuntimes=["nodejs20.x"])
    config = make_function({"index.js": NODE_FUNCTION}, runtime="nodejs20.x", handler="index.handler",
                           Layers=[layer["LayerVersionArn"]])
    out = invoke(lam, config["FunctionName"], {})
    assert out.status == 200 and out.function_error is None, out
    assert out.json == {"s3": "layer", "helper": "hello from the layer"}


def test_versions_lists_filters_and_delete(lam, make_layer):
    name = unique_name("layer")
    v1 = make_layer({"python/x.py": "X = 1\n"}, name=name, CompatibleRuntimes=["python3.12"],
                    CompatibleArchitectures=["x86_64"])
    v2 = make_layer({"python/x.py": "X = 2\n"}, name=name, CompatibleRuntimes=["nodejs20.x"])
    assert (v1["Version"], v2["Version"]) == (1, 2)

    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["LayerVersionArn"] == v1["LayerVersionArn"] and got["Content"]["Location"].startswith("http")
    by_arn = lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])
    assert by_arn["Version"] == 2 and by_arn["CompatibleRuntimes"] == ["nodejs20.x"]
    assert lam.get_layer_version(LayerName=layer_arn(name), VersionNumber=2)["Version"] == 2

    versions = lam.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    python = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.12")["LayerVersions"]
    assert [v["Version"] for v in python] == [1]
    arm = lam.list_layer_versions(LayerName=name, CompatibleArchitecture="arm64")["LayerVersions"]
    assert arm == []

    listed = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert listed[name]["LayerArn"] == layer_arn(name)
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    python = {layer["LayerName"]: layer for layer in lam.list_layers(CompatibleRuntime="python3.12")["Layers"]}
    assert python[name]["LatestMatchingVersion"]["Version"] == 1

    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # gone already: still 204
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert error_of(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    # Numbers are never reused.
    assert make_layer({"python/x.py": "X = 3\n"}, name=name)["Version"] == 3


def test_a_layer_from_an_s3_object(lam, endpoint, make_function, make_layer):
    s3 = client("s3", endpoint, **credentials_for(endpoint))
    bucket = unique_name("layers").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=make_zip({"python/froms3.py": "VALUE = 's3'\n"}))
    layer = make_layer({}, Content={"S3Bucket": bucket, "S3Key": "layer.zip"})
    # The function's own code from an S3 object too.
    s3.put_object(Bucket=bucket, Key="app.zip",
                  Body=make_zip({"app.py": "import froms3\ndef handler(e, c):\n    return froms3.VALUE\n"}))
    config = make_function(Code={"S3Bucket": bucket, "S3Key": "app.zip"}, Layers=[layer["LayerVersionArn"]])
    assert invoke(lam, config["FunctionName"], {}).json == "s3"
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName=unique_name("layer"), Content={"S3Bucket": bucket, "S3Key": "nope.zip"})
    code, status, message = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Error occurred while GetObject. S3 Error Code: NoSuchKey.")


def zeros_zip(path: str, size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(path, "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                f.write(chunk)
    return buf.getvalue()


def test_errors_with_aws_texts(lam, lam_unvalidated, make_function, make_layer):
    layer = make_layer({"python/a.py": ""})
    arn = layer["LayerVersionArn"]
    missing = f"{layer['LayerArn']}:99"

    with pytest.raises(ClientError) as e:
        make_function(Layers=[missing])
    assert error_of(e) == ("InvalidParameterValueException", 400, f"Layer version {missing} does not exist.")

    others = [make_layer({"python/a.py": ""})["LayerVersionArn"] for _ in range(5)]
    with pytest.raises(ClientError) as e:
        make_function(Layers=[arn, *others])
    assert error_of(e) == ("InvalidParameterValueException", 400, "Cannot reference more than 5 layers.")

    second = make_layer({"python/b.py": ""}, name=layer["LayerArn"].rsplit(":", 1)[1])
    with pytest.raises(ClientError) as e:
        make_function(Layers=[arn, second["LayerVersionArn"]])
    code, status, message = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith("Two different versions of the same layer are not allowed")

    with pytest.raises(ClientError) as e:
        lam_unvalidated.publish_layer_version(LayerName="bad name!", Content={"ZipFile": make_zip({"a": "b"})})
    code, status, message = error_of(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value 'bad name!' at 'layerName' failed to satisfy constraint")

    with pytest.raises(ClientError) as e:
        lam_unvalidated.publish_layer_version(LayerName=unique_name("layer"), Content={"ZipFile": make_zip({"a": "b"})},
                                              CompatibleRuntimes=["cobol85"], CompatibleArchitectures=["sparc"])
    code, status, message = error_of(e)
    assert (code, status) == ("ValidationException", 400) and message.startswith("2 validation errors detected")

    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(LayerName=unique_name("layer"), Content={"ZipFile": b"not a zip"})
    assert error_of(e)[:2] == ("InvalidParameterValueException", 400)

    # 250 MB over function and layers, unzipped.
    big = make_layer({}, Content={"ZipFile": zeros_zip("python/big.bin", 200 << 20)})
    with pytest.raises(ClientError) as e:
        make_function(zip_bytes=zeros_zip("app.py", 60 << 20), Layers=[big["LayerVersionArn"]])
    code, status, message = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        f"The actual size is {(200 << 20) + (60 << 20)} bytes."
    )


def test_layer_version_permissions(lam, make_layer):
    layer = make_layer({"python/a.py": ""})
    name, version = layer["LayerArn"].rsplit(":", 1)[1], layer["Version"]
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=version)
    assert error_of(e) == ("ResourceNotFoundException", 404, "No policy is associated with the given resource.")

    added = lam.add_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="share",
                                             Action="lambda:GetLayerVersion", Principal=OTHER_ACCOUNT)
    statement = json.loads(added["Statement"])
    assert statement == {
        "Sid": "share", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": "lambda:GetLayerVersion", "Resource": layer["LayerVersionArn"],
    }
    lam.add_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="org",
                                     Action="lambda:GetLayerVersion", Principal="*", OrganizationId="o-abcdefghij")
    policy = lam.get_layer_version_policy(LayerName=name, VersionNumber=version)
    document = json.loads(policy["Policy"])
    assert [s["Sid"] for s in document["Statement"]] == ["share", "org"]
    assert document["Statement"][1]["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}

    with pytest.raises(ClientError) as e:
        lam.add_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="share",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert error_of(e)[:2] == ("ResourceConflictException", 409)
    with pytest.raises(ClientError) as e:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="nope")
    assert error_of(e) == ("ResourceNotFoundException", 404, "Statement nope is not found in resource policy.")
    with pytest.raises(ClientError) as e:
        lam.remove_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="org",
                                            RevisionId="stale")
    assert error_of(e)[:2] == ("PreconditionFailedException", 412)
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="org")
    lam.remove_layer_version_permission(LayerName=name, VersionNumber=version, StatementId="share")
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_policy(LayerName=name, VersionNumber=version)
    assert error_of(e)[:2] == ("ResourceNotFoundException", 404)


def test_a_refused_principal(endpoint, lam, make_layer):
    iam = client("iam", endpoint, **credentials_for(endpoint))
    user = unique_name("layer-reader")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    iam.put_user_policy(UserName=user, PolicyName="read-layers", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["lambda:GetLayerVersion", "lambda:ListLayers"], "Resource": "*"}],
    }))
    reader = client("lambda", endpoint, aws_access_key_id=key["AccessKeyId"],
                    aws_secret_access_key=key["SecretAccessKey"])
    layer = make_layer({"python/a.py": ""})
    name = layer["LayerArn"].rsplit(":", 1)[1]
    assert reader.get_layer_version(LayerName=name, VersionNumber=1)["Version"] == 1
    reader.list_layers()
    with pytest.raises(ClientError) as e:
        reader.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"a": "b"})})
    code, status, message = error_of(e)
    assert (code, status) == ("AccessDeniedException", 403)
    assert f"is not authorized to perform: lambda:PublishLayerVersion on resource: {layer['LayerArn']}" in message
    with pytest.raises(ClientError) as e:
        reader.delete_layer_version(LayerName=name, VersionNumber=1)
    assert error_of(e)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError) as e:
        reader.list_layer_versions(LayerName=name)
    assert error_of(e)[:2] == ("AccessDeniedException", 403)


def test_another_account_needs_the_layer_policy(start_server):
    srv = start_server(extra_args=["--dev-credentials"])
    lam = srv.client("lambda")
    name = unique_name("shared-layer")
    layer = lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"python/a.py": ""})})
    other = client("lambda", srv.endpoint, aws_access_key_id=OTHER_ACCOUNT, aws_secret_access_key="test")
    with pytest.raises(ClientError) as e:
        other.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])
    assert error_of(e) == (
        "AccessDeniedException", 403,
        f"User: arn:aws:iam::{OTHER_ACCOUNT}:root is not authorized to perform: lambda:GetLayerVersion on "
        f"resource: {layer['LayerVersionArn']} because no resource-based policy allows the lambda:GetLayerVersion action",
    )
    lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="other",
                                     Action="lambda:GetLayerVersion", Principal=OTHER_ACCOUNT)
    assert other.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
    third = client("lambda", srv.endpoint, aws_access_key_id="444455556666", aws_secret_access_key="test")
    with pytest.raises(ClientError) as e:
        third.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])
    assert error_of(e)[:2] == ("AccessDeniedException", 403)


def test_layers_survive_a_restart(start_server):
    """Layer versions, their numbers and the functions using them outlive the server (the start-up
    sweep of unreferenced code keeps layer zips, also those of deleted versions a function uses)."""
    srv = start_server()
    lam = srv.client("lambda")
    name = unique_name("kept")
    first = lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"python/kept.py": "V = 1\n"})})
    second = lam.publish_layer_version(LayerName=name + "-b", Content={"ZipFile": make_zip({"python/other.py": "W = 2\n"})})
    function = unique_name("fn")
    lam.create_function(FunctionName=function, Runtime="python3.12", Role=f"arn:aws:iam::{ACCOUNT}:role/nubo-e2e",
                        Handler="app.handler", Layers=[first["LayerVersionArn"], second["LayerVersionArn"]],
                        Code={"ZipFile": make_zip({"app.py": "import kept, other\ndef handler(e, c):\n    return kept.V + other.W\n"})})
    lam.get_waiter("function_active_v2").wait(FunctionName=function)
    lam.delete_layer_version(LayerName=name, VersionNumber=1)
    srv = start_server.restart(srv)
    lam = srv.client("lambda")
    assert invoke(lam, function, {}).json == 3
    assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert lam.get_layer_version(LayerName=name + "-b", VersionNumber=1)["Version"] == 1
    assert lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({"a": "b"})})["Version"] == 2
