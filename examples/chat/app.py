"""A chat room over a WebSocket API: one function behind every route.

Routes (selected by the message's `action`):
  $connect     accept (a `?name=` query names the user)
  join         {"action": "join", "room": "lobby"}    → membership kept in S3 objects
  send         {"action": "send", "text": "hi"}       → broadcast to the room through @connections
  $disconnect  leave the room
  $default     a short help text

State lives in the bucket named by CHAT_BUCKET: `rooms/{room}/{connectionId}` (one object per
member, its body the user's name) and `connections/{connectionId}` (the room it joined).
"""

import json
import os

import boto3

BUCKET = os.environ["CHAT_BUCKET"]
s3 = boto3.client("s3")


def manager(ctx):
    """The @connections endpoint of the API this event came through (AWS's examples use https;
    Nubo serves http)."""
    return boto3.client("apigatewaymanagementapi", endpoint_url=f"http://{ctx['domainName']}/{ctx['stage']}")


def read(key):
    try:
        return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return None


def reply(body):
    return {"statusCode": 200, "body": json.dumps(body)}


def handler(event, context):
    ctx = event["requestContext"]
    route, me = ctx["routeKey"], ctx["connectionId"]
    if route == "$connect":
        name = (event.get("queryStringParameters") or {}).get("name", "anonymous")
        s3.put_object(Bucket=BUCKET, Key=f"names/{me}", Body=name.encode())
        return {"statusCode": 200}
    if route == "$disconnect":
        room = read(f"connections/{me}")
        keys = [f"names/{me}", f"connections/{me}"] + ([f"rooms/{room}/{me}"] if room else [])
        for key in keys:
            s3.delete_object(Bucket=BUCKET, Key=key)
        return {"statusCode": 200}
    try:
        message = json.loads(event.get("body") or "{}")
    except ValueError:
        message = {}
    if route == "join":
        room = message.get("room", "lobby")
        name = read(f"names/{me}") or "anonymous"
        s3.put_object(Bucket=BUCKET, Key=f"rooms/{room}/{me}", Body=name.encode())
        s3.put_object(Bucket=BUCKET, Key=f"connections/{me}", Body=room.encode())
        return reply({"joined": room})
    if route == "send":
        room = read(f"connections/{me}")
        if room is None:
            return reply({"error": "join a room first"})
        name = read(f"names/{me}") or "anonymous"
        data = json.dumps({"room": room, "from": name, "text": message.get("text", "")}).encode()
        api, delivered = manager(ctx), 0
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"rooms/{room}/")
        for item in listing.get("Contents", []):
            member = item["Key"].rsplit("/", 1)[1]
            try:
                api.post_to_connection(ConnectionId=member, Data=data)
                delivered += 1
            except api.exceptions.GoneException:
                s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        return reply({"delivered": delivered})
    return reply({"help": 'send {"action": "join", "room": "…"} then {"action": "send", "text": "…"}'})
