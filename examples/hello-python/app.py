"""Hello world for Nubo's python runtime.

Deploy with `nubo serve --deploy-examples examples`, then
`nubo invoke hello-python --payload '{"name": "Ada"}'`.
"""

import json


def handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    name = name or "world"
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"Hello, {name}!",
                "requestId": context.aws_request_id,
            }
        ),
    }
