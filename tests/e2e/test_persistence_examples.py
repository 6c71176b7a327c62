"""State survives a restart on the same data dir; `--deploy-examples examples` deploys working functions."""

import json

from conftest import EXAMPLES, ROLE, lambda_client_for, invoke, make_zip, unique_name


def test_functions_survive_restart(start_server, rust_zip, tmp_path):
    srv = start_server(tmp_path / "persist")
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("persist")
    created = lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="bootstrap",
        Code={"ZipFile": rust_zip},
        MemorySize=384,
        Timeout=7,
        Description="survives restarts",
        Environment={"Variables": {"KEEP": "me"}},
        Tags={"persisted": "yes"},
    )
    first = invoke(lam, name, {"before": "restart"})
    assert first.function_error is None, first
    lam.update_function_configuration(FunctionName=name, MemorySize=512)
    # The client waited for the update to settle (a new revision): that is the one kept.
    updated = lam.get_function_configuration(FunctionName=name)

    srv2 = start_server.restart(srv)
    assert srv.proc.returncode is not None
    lam2 = lambda_client_for(srv2.endpoint)
    config = lam2.get_function_configuration(FunctionName=name)
    assert config["MemorySize"] == 512
    assert config["Timeout"] == 7
    assert config["Description"] == "survives restarts"
    assert config["Environment"]["Variables"] == {"KEEP": "me"}
    assert config["CodeSha256"] == created["CodeSha256"]
    assert config["RevisionId"] == updated["RevisionId"]
    assert lam2.list_tags(Resource=config["FunctionArn"])["Tags"] == {"persisted": "yes"}
    assert name in {f["FunctionName"] for f in lam2.list_functions()["Functions"]}

    result = invoke(lam2, name, {"after": "restart"}, log=True)
    assert result.function_error is None, result
    assert result.json["echo"] == {"after": "restart"}
    assert "Init Duration" in result.log  # a new process: cold again

    # A delete also persists.
    lam2.delete_function(FunctionName=name)
    srv3 = start_server.restart(srv2)
    lam3 = lambda_client_for(srv3.endpoint)
    assert name not in {f["FunctionName"] for f in lam3.list_functions()["Functions"]}


def test_server_stops_cleanly_on_sigterm(start_server, tmp_path):
    srv = start_server(tmp_path / "sigterm")
    assert srv.stop() == 0, srv.stderr_text()


def test_python_function_survives_restart(start_server, tmp_path):
    srv = start_server(tmp_path / "persist-py")
    lam = lambda_client_for(srv.endpoint)
    name = unique_name("persist-py")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(event, context):\n    return {'got': event}\n"})},
    )
    srv2 = start_server.restart(srv)
    result = invoke(lambda_client_for(srv2.endpoint), name, {"x": 1})
    assert result.function_error is None, result
    assert result.json == {"got": {"x": 1}}


def _examples():
    return {
        path.name: json.loads((path / "function.json").read_text())
        for path in sorted(EXAMPLES.iterdir())
        if (path / "function.json").is_file()
    }


def test_examples_deploy_and_invoke(start_server, tmp_path):
    examples = _examples()
    assert {"hello-python", "hello-node"} <= set(examples)
    srv = start_server(tmp_path / "examples", ["--deploy-examples", str(EXAMPLES)])
    for name, spec in examples.items():
        assert f"nubo: deployed example {spec['FunctionName']} ({spec['Runtime']})" in srv.stdout_lines, srv.stdout_lines
    lam = lambda_client_for(srv.endpoint)

    for name, spec in examples.items():
        config = lam.get_function_configuration(FunctionName=spec["FunctionName"])
        assert config["Runtime"] == spec["Runtime"]
        assert config["Handler"] == spec["Handler"]
        assert config["MemorySize"] == spec.get("MemorySize", 128)
        assert config["Timeout"] == spec.get("Timeout", 3)
        assert config["Description"] == spec.get("Description", "")

    for fn in ("hello-python", "hello-node"):
        result = invoke(lam, fn, {"name": "Ada"}, log=True)
        assert result.function_error is None, result
        body = result.json
        assert body["statusCode"] == 200, body
        message = json.loads(body["body"])
        assert message["message"] == "Hello, Ada!", message
        assert f"START RequestId: {message['requestId']}" in result.log

        default = invoke(lam, fn, {})
        assert default.function_error is None, default
        assert json.loads(default.json["body"])["message"] == "Hello, world!"


def test_examples_redeploy_on_existing_data_dir(start_server, tmp_path):
    """Starting again with --deploy-examples on the same data dir updates instead of conflicting."""
    data = tmp_path / "examples-again"
    srv = start_server(data, ["--deploy-examples", str(EXAMPLES)])
    srv2 = start_server.restart(srv)
    lam = lambda_client_for(srv2.endpoint)
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {"hello-python", "hello-node"} <= names


def test_relative_data_dir_as_in_the_readme(start_server):
    """The README's start command uses the default `./.nubo`: a relative data dir must work
    (environments run elsewhere, and the sandbox binds code from it)."""
    import shutil
    import uuid
    from pathlib import Path

    from conftest import REPO

    relative = Path("target") / f"e2e-relative-{uuid.uuid4().hex[:8]}"
    try:
        srv = start_server(relative, ["--deploy-examples", "examples"])
        lam = lambda_client_for(srv.endpoint)
        for name in ("hello-python", "hello-node"):
            result = invoke(lam, name, {"name": "Ada"})
            assert result.function_error is None, result
            assert "Hello, Ada!" in json.loads(result.json["body"])["message"]
    finally:
        shutil.rmtree(REPO / relative, ignore_errors=True)
