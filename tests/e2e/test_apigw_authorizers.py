"""HTTP API (apigatewayv2) authorizers end to end: JWT authorizers against a real JWKS served by
a small OpenID issuer in the test (keys made and tokens signed with the `openssl` CLI: RS256 and
ES256), and Lambda REQUEST authorizers with payload 1.0 and 2.0, simple and IAM-policy answers,
identity sources and the result cache."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for, error_of, function_arn
from gateway_helpers import apigw_client_for, request

ECHO = r'''
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
'''


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_ecdsa_to_raw(der: bytes, size: int = 32) -> bytes:
    """openssl's DER ECDSA signature (SEQUENCE of two INTEGERs) as JWS's r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        length = der[i + 1]
        value = der[i + 2:i + 2 + length]
        out += value.lstrip(b"\x00").rjust(size, b"\x00")
        i += 2 + length
    return out


class Key:
    """A signing key made with openssl, its JWK and a signer."""

    def __init__(self, tmp_path, kid: str, kind: str = "RSA"):
        self.kid = kid
        self.kind = kind
        self.path = tmp_path / f"{kid}.pem"
        if kind == "RSA":
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            "rsa_keygen_bits:2048", "-out", str(self.path)],
                           check=True, capture_output=True)
            modulus = subprocess.run(["openssl", "rsa", "-in", str(self.path), "-noout", "-modulus"],
                                     check=True, capture_output=True, text=True).stdout
            n = bytes.fromhex(modulus.strip().split("=", 1)[1])
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                        "n": b64url(n), "e": "AQAB"}
            self.alg = "RS256"
        else:
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                            "-out", str(self.path)], check=True, capture_output=True)
            der = subprocess.run(["openssl", "ec", "-in", str(self.path), "-pubout", "-outform",
                                  "DER"], check=True, capture_output=True).stdout
            point = der[-65:]
            assert point[0] == 4
            self.jwk = {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                        "x": b64url(point[1:33]), "y": b64url(point[33:])}
            self.alg = "ES256"

    def sign(self, claims: dict, kid: str | None = None, alg: str | None = None) -> str:
        header = {"alg": alg or self.alg, "typ": "JWT", "kid": kid or self.kid}
        signing_input = (b64url(json.dumps(header).encode()) + "."
                         + b64url(json.dumps(claims).encode())).encode()
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.path)],
                                   input=signing_input, check=True, capture_output=True).stdout
        if self.kind == "EC":
            signature = der_ecdsa_to_raw(signature)
        return signing_input.decode() + "." + b64url(signature)


class Issuer:
    """An OpenID issuer on 127.0.0.1: discovery document and JWKS, counting key fetches."""

    def __init__(self):
        self.keys: list[dict] = []
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    issuer.fetches += 1
                    body = {"keys": list(issuer.keys)}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def issuer():
    it = Issuer()
    yield it
    it.server.shutdown()


@pytest.fixture(scope="session")
def gw(endpoint):
    return apigw_client_for(endpoint)


@pytest.fixture
def apis(gw):
    created: list[str] = []
    yield created
    for api_id in created:
        try:
            gw.delete_api(ApiId=api_id)
        except ClientError:
            pass


def echo_api(gw, apis, make_function, version="2.0"):
    """An API with an echo integration and an auto-deployed `$default` stage."""
    echo = make_function(files={"app.py": ECHO}, Timeout=10)["FunctionName"]
    api_id = gw.create_api(Name="authz", ProtocolType="HTTP")["ApiId"]
    apis.append(api_id)
    integration = gw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn(echo),
        PayloadFormatVersion=version)["IntegrationId"]
    gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id, integration


def claims(issuer, **over):
    now = int(time.time())
    out = {"iss": issuer.url, "aud": "my-api", "sub": "ann", "iat": now - 10,
           "exp": now + 600, "scope": "read"}
    out.update(over)
    return {k: v for k, v in out.items() if v is not None}


def test_jwt_authorizer_verifies_tokens_against_the_issuers_jwks(
        gw, apis, endpoint, make_function, issuer, tmp_path):
    rsa, ec = Key(tmp_path, "rsa-1"), Key(tmp_path, "ec-1", "EC")
    stranger = Key(tmp_path, "stranger")
    issuer.keys = [rsa.jwk, ec.jwk]
    api_id, integration = echo_api(gw, apis, make_function)
    authorizer = gw.create_authorizer(
        ApiId=api_id, Name="jwt", AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-api", "other-app"]})
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["JwtConfiguration"]["Audience"] == ["my-api", "other-app"]
    auth_id = authorizer["AuthorizerId"]
    target = f"integrations/{integration}"
    gw.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
    gw.create_route(ApiId=api_id, RouteKey="GET /jwt", Target=target,
                    AuthorizationType="JWT", AuthorizerId=auth_id)
    scoped = gw.create_route(ApiId=api_id, RouteKey="GET /scoped", Target=target,
                             AuthorizationType="JWT", AuthorizerId=auth_id,
                             AuthorizationScopes=["write", "admin"])
    assert scoped["AuthorizationScopes"] == ["write", "admin"]

    def call(path, token=None, bearer=True):
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}" if bearer else token
        return request(endpoint, "GET", f"/_api/{api_id}{path}", headers=headers)

    assert call("/open").status == 200
    r = call("/jwt")
    assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r

    r = call("/jwt", rsa.sign(claims(issuer)))
    assert r.status == 200, r
    jwt = r.json["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["sub"] == "ann"
    assert jwt["claims"]["iss"] == issuer.url
    assert isinstance(jwt["claims"]["exp"], str)
    assert jwt["scopes"] == ["read"]
    # ES256, a token without the Bearer prefix, and `client_id` standing in for a missing `aud`.
    assert call("/jwt", ec.sign(claims(issuer)), bearer=False).status == 200
    assert call("/jwt", rsa.sign(claims(issuer, aud=None, client_id="other-app"))).status == 200
    assert issuer.fetches == 1, "keys are fetched once and cached"

    refused = {
        "expired": rsa.sign(claims(issuer, exp=int(time.time()) - 60)),
        "not yet valid": rsa.sign(claims(issuer, nbf=int(time.time()) + 600)),
        "wrong audience": rsa.sign(claims(issuer, aud="someone-else")),
        "wrong issuer": rsa.sign(claims(issuer, iss="http://127.0.0.1:1")),
        "no exp": rsa.sign(claims(issuer, exp=None)),
        "forged": stranger.sign(claims(issuer), kid="rsa-1"),
        "hmac": rsa.sign(claims(issuer)).rsplit(".", 2)[0] + ".e30.c2ln",
        "garbage": "not.a.token",
    }
    for why, token in refused.items():
        r = call("/jwt", token)
        assert (r.status, r.json) == (401, {"message": "Unauthorized"}), (why, r)
        assert 'error="invalid_token"' in (r.header("www-authenticate") or ""), (why, r)
    assert "expired" in call("/jwt", refused["expired"]).header("www-authenticate")

    # Scopes: one of the route's suffices; none → 403.
    r = call("/scoped", rsa.sign(claims(issuer)))
    assert (r.status, r.json) == (403, {"message": "Forbidden"}), r
    assert 'error="insufficient_scope"' in r.header("www-authenticate")
    r = call("/scoped", rsa.sign(claims(issuer, scope="read admin")))
    assert r.status == 200, r
    assert r.json["requestContext"]["authorizer"]["jwt"]["scopes"] == ["read", "admin"]
    assert call("/scoped", rsa.sign(claims(issuer, scope=None, scp=["write"]))).status == 200

    # A key rotated in at the issuer: an unknown kid refetches the set (at most once a second).
    rotated = Key(tmp_path, "rsa-2")
    issuer.keys = [rotated.jwk]
    time.sleep(1.1)
    assert call("/jwt", rotated.sign(claims(issuer))).status == 200
    assert issuer.fetches == 2

    # The audience is changed: tokens for the old one are refused from the next request on.
    gw.update_authorizer(ApiId=api_id, AuthorizerId=auth_id,
                         JwtConfiguration={"Issuer": issuer.url, "Audience": ["v2-api"]})
    assert call("/jwt", rotated.sign(claims(issuer))).status == 401
    assert call("/jwt", rotated.sign(claims(issuer, aud="v2-api"))).status == 200


def test_authorizer_control_plane_errors(gw, apis, endpoint, make_function, issuer):
    api_id, integration = echo_api(gw, apis, make_function)
    target = f"integrations/{integration}"
    with pytest.raises(ClientError) as e:
        gw.create_authorizer(ApiId=api_id, Name="j", AuthorizerType="JWT",
                             IdentitySource=["$request.header.Authorization"],
                             JwtConfiguration={"Issuer": issuer.url})
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        gw.create_authorizer(ApiId=api_id, Name="l", AuthorizerType="REQUEST",
                             AuthorizerUri=function_arn("x"), IdentitySource=[],
                             AuthorizerPayloadFormatVersion="1.0", EnableSimpleResponses=True)
    assert error_of(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=target, AuthorizationType="JWT")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    jwt = gw.create_authorizer(ApiId=api_id, Name="j", AuthorizerType="JWT",
                               IdentitySource=["$request.header.Authorization"],
                               JwtConfiguration={"Issuer": issuer.url, "Audience": ["a"]})
    with pytest.raises(ClientError) as e:
        gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=target,
                        AuthorizationType="CUSTOM", AuthorizerId=jwt["AuthorizerId"])
    assert error_of(e)[:2] == ("BadRequestException", 400)
    gw.create_route(ApiId=api_id, RouteKey="GET /x", Target=target,
                    AuthorizationType="JWT", AuthorizerId=jwt["AuthorizerId"])
    listed = gw.get_authorizers(ApiId=api_id)["Items"]
    assert [a["AuthorizerId"] for a in listed] == [jwt["AuthorizerId"]]
    assert gw.get_authorizer(ApiId=api_id, AuthorizerId=jwt["AuthorizerId"])["Name"] == "j"
    with pytest.raises(ClientError) as e:
        gw.delete_authorizer(ApiId=api_id, AuthorizerId=jwt["AuthorizerId"])
    assert error_of(e)[:2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as e:
        gw.get_authorizer(ApiId=api_id, AuthorizerId="nope123")
    assert error_of(e)[:2] == ("NotFoundException", 404)

    # A user allowed only to read cannot create authorizers.
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                       config=Config(retries={"max_attempts": 0}), **credentials_for(endpoint))
    user = f"authz-reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "apigateway:GET",
                       "Resource": f"arn:aws:apigateway:{REGION}::/apis*"}],
    }))
    creds = iam.create_access_key(UserName=user)["AccessKey"]
    reader = boto3.client("apigatewayv2", endpoint_url=endpoint, region_name=REGION,
                          config=Config(retries={"max_attempts": 0}),
                          aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"])
    assert len(reader.get_authorizers(ApiId=api_id)["Items"]) == 1
    with pytest.raises(ClientError) as e:
        reader.create_authorizer(ApiId=api_id, Name="n", AuthorizerType="JWT",
                                 IdentitySource=["$request.header.Authorization"],
                                 JwtConfiguration={"Issuer": issuer.url, "Audience": ["a"]})
    assert error_of(e)[1] == 403


LAMBDA_AUTHORIZER = r'''
import json, uuid

def handler(event, context):
    if event.get("version") == "2.0":
        token = (event.get("headers") or {}).get("x-token")
        arn = event["routeArn"]
    else:
        token = (event.get("headers") or {}).get("x-token")
        arn = event["methodArn"]
    if token == "boom":
        raise Exception("boom")
    allowed = token == "allow"
    nonce = uuid.uuid4().hex
    if event.get("version") == "2.0" and SIMPLE:
        return {"isAuthorized": allowed,
                "context": {"nonce": nonce, "who": "ann", "nested": {"n": 1},
                            "identity": event["identitySource"]}}
    return {"principalId": "ann",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                 "Resource": arn}]},
            "context": {"nonce": nonce, "version": event.get("version"),
                        "identity": str(event.get("identitySource"))}}
'''


@pytest.mark.parametrize("version,simple", [("2.0", True), ("2.0", False), ("1.0", False)])
def test_lambda_authorizers_allow_deny_cache_and_pass_context(
        version, simple, gw, apis, endpoint, make_function):
    code = LAMBDA_AUTHORIZER.replace("SIMPLE", "True" if simple else "False")
    auth_fn = make_function(files={"app.py": code}, Timeout=10)["FunctionName"]
    api_id, integration = echo_api(gw, apis, make_function, version=version)
    kwargs = {"EnableSimpleResponses": True} if simple else {}
    authorizer = gw.create_authorizer(
        ApiId=api_id, Name="lambda", AuthorizerType="REQUEST",
        AuthorizerUri=function_arn(auth_fn), AuthorizerPayloadFormatVersion=version,
        IdentitySource=["$request.header.X-Token", "$request.querystring.user"],
        AuthorizerResultTtlInSeconds=300, **kwargs)
    gw.create_route(ApiId=api_id, RouteKey="GET /secret", Target=f"integrations/{integration}",
                    AuthorizationType="CUSTOM", AuthorizerId=authorizer["AuthorizerId"])
    path = f"/_api/{api_id}/secret"

    # A missing identity source: 401 without running the function.
    r = request(endpoint, "GET", path + "?user=ann")
    assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r
    r = request(endpoint, "GET", path, headers={"X-Token": "allow"})
    assert r.status == 401, r
    r = request(endpoint, "GET", path + "?user=ann", headers={"X-Token": "deny"})
    assert (r.status, r.json) == (403, {"message": "Forbidden"}), r
    r = request(endpoint, "GET", path + "?user=ann", headers={"X-Token": "boom"})
    assert (r.status, r.json) == (500, {"message": "Internal Server Error"}), r

    nonces = set()
    for _ in range(3):
        r = request(endpoint, "GET", path + "?user=ann", headers={"X-Token": "allow"})
        assert r.status == 200, r
        authorizer_ctx = r.json["requestContext"]["authorizer"]
        context = authorizer_ctx["lambda"] if version == "2.0" else authorizer_ctx
        nonces.add(context["nonce"])
    # The result is cached per identity sources for the TTL: the function ran once for three.
    assert len(nonces) == 1
    if simple:
        assert context["nested"] == {"n": 1}
        assert context["identity"] == ["allow", "ann"]
    else:
        assert context["principalId"] == "ann"
        expected = "['allow', 'ann']" if version == "2.0" else "allow,ann"
        assert context["identity"] == expected
    if version == "1.0":
        assert context["version"] == "1.0"
    # Another identity is another cache entry.
    r = request(endpoint, "GET", path + "?user=bob", headers={"X-Token": "allow"})
    assert r.status == 200, r
    other = r.json["requestContext"]["authorizer"]
    other = other["lambda"] if version == "2.0" else other
    assert other["nonce"] not in nonces


def test_rest_cognito_user_pools_authorizer_with_a_configured_issuer(
        start_server, issuer, tmp_path):
    """`COGNITO_USER_POOLS` on a REST API: the pool's issuer comes from NUBO_COGNITO_ISSUERS
    (Cognito's own is out of reach); tokens are checked as a JWT authorizer checks them, without
    an audience; the claims reach the function as `requestContext.authorizer.claims`."""
    from conftest import ROLE, lambda_client_for, make_zip, wait_active

    pool = "us-east-1_Test123"
    srv = start_server(extra_env={"NUBO_COGNITO_ISSUERS": f"{pool}={issuer.url}"})
    key = Key(tmp_path, "pool-key")
    issuer.keys = [key.jwk]
    lam = lambda_client_for(srv.endpoint)
    lam.create_function(FunctionName="echo", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": make_zip({"app.py": ECHO})})
    wait_active(lam, "echo")
    rest = srv.client("apigateway")
    api = rest.create_rest_api(name="cognito")
    api_id = api["id"]
    with pytest.raises(ClientError) as e:
        rest.create_authorizer(restApiId=api_id, name="bad", type="COGNITO_USER_POOLS",
                               providerARNs=["not-an-arn"],
                               identitySource="method.request.header.Authorization")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    authorizer = rest.create_authorizer(
        restApiId=api_id, name="pool", type="COGNITO_USER_POOLS",
        providerARNs=[f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool}"],
        identitySource="method.request.header.Authorization")
    assert authorizer["providerARNs"][0].endswith(pool)
    res = rest.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="me")
    with pytest.raises(ClientError) as e:
        rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                        authorizationType="COGNITO_USER_POOLS")
    assert error_of(e)[:2] == ("BadRequestException", 400)
    rest.put_method(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                    authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer["id"])
    uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
           f"{function_arn('echo')}/invocations")
    rest.put_integration(restApiId=api_id, resourceId=res["id"], httpMethod="GET",
                         type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    rest.create_deployment(restApiId=api_id, stageName="prod")
    path = f"/_api/{api_id}/prod/me"

    now = int(time.time())
    good = {"iss": issuer.url, "sub": "u-1", "aud": "some-client", "token_use": "id",
            "email": "ann@example.com", "iat": now - 5, "exp": now + 300}
    r = request(srv.endpoint, "GET", path, headers={"Authorization": key.sign(good)})
    assert r.status == 200, r
    claims = r.json["requestContext"]["authorizer"]["claims"]
    assert (claims["sub"], claims["email"]) == ("u-1", "ann@example.com")
    for bad in ({**good, "exp": now - 10}, {**good, "iss": "http://127.0.0.1:1/other"}):
        r = request(srv.endpoint, "GET", path, headers={"Authorization": key.sign(bad)})
        assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r
    r = request(srv.endpoint, "GET", path)
    assert (r.status, r.json) == (401, {"message": "Unauthorized"}), r
