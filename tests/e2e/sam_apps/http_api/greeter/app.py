import json
import os


def lambda_handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "you")
    return {"statusCode": 200, "body": json.dumps({"message": f"{os.environ['GREETING']} {name}"})}
