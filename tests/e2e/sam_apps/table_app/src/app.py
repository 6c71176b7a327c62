import json
import os

import boto3

dynamodb = boto3.resource("dynamodb")


def put(event, context):
    item_id = event["pathParameters"]["id"]
    body = json.loads(event.get("body") or "{}")
    dynamodb.Table(os.environ["TABLE_NAME"]).put_item(Item={"id": item_id, "name": body.get("name", "")})
    dynamodb.Table(os.environ["AUDIT_TABLE"]).put_item(Item={"pk": f"put#{item_id}"})
    return {"statusCode": 200, "body": json.dumps({"stored": item_id})}


def audit(event, context):
    for record in event["Records"]:
        print(f"audited {record['eventName']} {record['dynamodb']['Keys']['pk']['S']}")
    return {"seen": len(event["Records"])}
