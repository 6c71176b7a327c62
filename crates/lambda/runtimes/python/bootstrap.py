"""Nubo's Python runtime: the Lambda Runtime API loop for `python3.x` functions.

Standard library only. Behaves like AWS's own runtime interface client (awslambdaric) where
user code can tell: handler resolution and its init errors, the context object, the error
document, the root logger's format. Launched by Nubo as `python -u -S bootstrap.py`: stdout and
stderr are unbuffered, so they reach the log pipe before a response is posted, and `site` is not
run — its `.pth` processing can cost tens of milliseconds per cold start — so the interpreter's
site-packages directory is put on `sys.path` here instead. For the same reason the Runtime API
client is a few lines over the C `_socket` module (`socket` costs ~19 ms to import, `http.client`
more), `logging` is configured only if the function imports it, and modules needed only on error
paths are imported when needed.
"""

import _socket
import json
import os
import sys
import time

BASE = "/2018-06-01/runtime"
# Read in `main`, not at import: a template (template.py) imports this module before any
# environment exists.
TASK_ROOT = None

_request_id = None


class Fault(Exception):
    """An error of the runtime itself (not of the handler), reported with its own type."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


class RuntimeClient:
    """HTTP/1.1 over one keep-alive socket to the Runtime API; reconnects if it is closed."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._sock = None
        self._buffer = bytearray()

    def _connect(self):
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        sock.connect(self._address)
        self._sock = sock
        self._buffer = bytearray()

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None

    def _request(self, method, path, body=None, headers=None):
        body = body or b""
        head = "%s %s%s HTTP/1.1\r\nHost: runtime\r\nContent-Length: %d\r\n" % (
            method,
            BASE,
            path,
            len(body),
        )
        for name, value in (headers or {}).items():
            head += "%s: %s\r\n" % (name, value)
        message = head.encode("latin-1") + b"\r\n" + body
        for attempt in (0, 1):
            try:
                if self._sock is None:
                    self._connect()
                self._sock.sendall(message)
                return self._read_response()
            except (OSError, ValueError):
                self._close()
                if attempt:
                    raise

    def _fill(self):
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("runtime API closed the connection")
        self._buffer += chunk

    def _read_response(self):
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._fill()
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split(None, 2)[1])
        headers = Headers()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(self._buffer) < end + 4 + length:
            self._fill()
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        if headers.get("connection", "").lower() == "close":
            self._close()
        return Response(status, headers), body

    def next(self):
        response, body = self._request("GET", "/invocation/next")
        if response.status != 200:
            raise SystemExit("runtime API refused next: %d %s" % (response.status, body[:200]))
        return response, body

    def respond(self, request_id, payload):
        self._request(
            "POST",
            "/invocation/%s/response" % request_id,
            payload,
            {"Content-Type": "application/json"},
        )

    def error(self, request_id, document):
        self._post_error("/invocation/%s/error" % request_id, document)

    def init_error(self, document):
        self._post_error("/init/error", document)

    def _post_error(self, path, document):
        self._request(
            "POST",
            path,
            json.dumps(document).encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": document["errorType"],
            },
        )


class Headers(dict):
    """Response headers, looked up case-insensitively."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class Response:
    __slots__ = ("status", "headers")

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers


def add_site_packages():
    """What `site` would add, minus `.pth` processing: the interpreter's site-packages."""
    version = "python%d.%d" % sys.version_info[:2]
    for prefix in dict.fromkeys((sys.prefix, sys.exec_prefix)):
        for lib in ("lib", "lib64"):
            path = os.path.join(prefix, lib, version, "site-packages")
            if path not in sys.path and os.path.isdir(path):
                sys.path.append(path)
    for path in ("/usr/lib/python3/dist-packages", "/usr/local/lib/%s/dist-packages" % version):
        if sys.prefix == "/usr" and path not in sys.path and os.path.isdir(path):
            sys.path.append(path)


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, raw):
        self.cognito_identity_id = raw.get("cognitoIdentityId")
        self.cognito_identity_pool_id = raw.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, raw):
        self.installation_id = raw.get("installation_id")
        self.app_title = raw.get("app_title")
        self.app_version_name = raw.get("app_version_name")
        self.app_version_code = raw.get("app_version_code")
        self.app_package_name = raw.get("app_package_name")


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, raw):
        self.custom = raw.get("custom")
        self.env = raw.get("env")
        client = raw.get("client")
        self.client = Client(client) if client else None


class LambdaContext:
    """The `context` argument, with the attributes and method AWS documents."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as in AWS's runtime interface client.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.client_context = ClientContext(client_context) if client_context else None
        self.identity = CognitoIdentity(identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
            "identity=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


def setup_logging(logging):
    """The root logger as AWS configures it: level WARNING unless told, one line per record."""

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level and level.upper() in logging._nameToLevel:
        root.setLevel(level.upper())


class ConfigureLoggingOnImport:
    """A meta-path finder that configures `logging` right after the function (or a library it
    uses) first imports it, so functions that never log do not pay for importing it."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                break
        else:
            return None
        execute = spec.loader.exec_module

        def execute_and_configure(module):
            execute(module)
            setup_logging(module)

        spec.loader.exec_module = execute_and_configure
        return spec


def load_handler(handler):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    module_name = module_name.replace("/", ".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module %s as a handler module" % module_name,
        )
    try:
        __import__(module_name)
        module = sys.modules[module_name]
    except ImportError as e:
        raise Fault(
            "Runtime.ImportModuleError",
            "Unable to import module '%s': %s" % (module_name, e),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '%s': %s" % (module_name, e),
            trace,
        )
    function = getattr(module, function_name, None)
    if function is None:
        raise Fault(
            "Runtime.HandlerNotFound",
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
        )
    return function


def error_document(error_type, message, trace, request_id=None):
    document = {"errorMessage": message, "errorType": error_type}
    if request_id:
        document["requestId"] = request_id
    document["stackTrace"] = trace
    return document


def exception_document(exc, request_id):
    import traceback

    # The first frame is this bootstrap calling the handler; users see their own frames only.
    frames = traceback.extract_tb(exc.__traceback__)[1:]
    return error_document(
        type(exc).__name__, str(exc), traceback.format_list(frames), request_id
    )


def log_error(document):
    lines = ["[ERROR] %s: %s" % (document["errorType"], document["errorMessage"])]
    if document.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in document["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")


class _Encoder(json.JSONEncoder):
    def default(self, o):
        # Decimal (as DynamoDB returns numbers) is imported by whoever made one; do not pay for it.
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def invoke(client, function, response, body):
    global _request_id
    headers = response.headers
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
    _request_id = request_id
    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        client_context = json.loads(headers.get("Lambda-Runtime-Client-Context") or "null")
        identity = json.loads(headers.get("Lambda-Runtime-Cognito-Identity") or "null")
        context = LambdaContext(
            request_id,
            int(headers.get("Lambda-Runtime-Deadline-Ms") or 0),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            client_context,
            identity,
        )
        try:
            event = json.loads(body) if body else None
        except ValueError as e:
            raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
        result = function(event, context)
        try:
            payload = json.dumps(result, cls=_Encoder).encode()
        except (TypeError, ValueError) as e:
            raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except Fault as fault:
        document = error_document(fault.error_type, fault.message, fault.trace, request_id)
        log_error(document)
        sys.stdout.flush()
        client.error(request_id, document)
        return
    except Exception as exc:
        document = exception_document(exc, request_id)
        log_error(document)
        sys.stdout.flush()
        client.error(request_id, document)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    client.respond(request_id, payload)


def set_search_path(sdk):
    """sys.path as Lambda's python 3.11+ runtimes lay it out: the task root, the layers' /opt/python,
    the runtime's boto3, then PYTHONPATH (/var/runtime) and the standard library. So a function's
    own packaged boto3 wins over the runtime's, and the runtime's over whatever the host interpreter
    has in its site-packages (last: `add_site_packages`)."""
    version = "python%d.%d" % sys.version_info[:2]
    front = [TASK_ROOT, "/opt/python/lib/%s/site-packages" % version, "/opt/python"]
    if sdk:
        front.append(sdk)
    sys.path[:] = front + [p for p in sys.path if p not in front]


def prepare():
    """What does not depend on the environment: done once in a template, before it forks."""
    if sys.flags.no_site:
        add_site_packages()
    # The bootstrap's own directory is not the user's: the task root goes first instead.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)


def main(forked=False):
    global TASK_ROOT
    # Arguments after the script are Nubo's (where the runtime's boto3 is), not the function's:
    # sys.argv is left as Lambda's.
    sdk = sys.argv[1] if len(sys.argv) > 1 else None
    del sys.argv[1:]
    TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    if not forked:
        prepare()
    set_search_path(sdk)
    if "logging" in sys.modules:
        setup_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, ConfigureLoggingOnImport)
    try:
        function = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as fault:
        document = error_document(fault.error_type, fault.message, fault.trace)
    except Exception as exc:
        import traceback

        document = error_document(
            type(exc).__name__,
            str(exc),
            traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        )
    else:
        document = None
    if document is not None:
        log_error(document)
        sys.stdout.flush()
        client.init_error(document)
        sys.exit(1)

    while True:
        response, body = client.next()
        invoke(client, function, response, body)


if __name__ == "__main__":
    main()
