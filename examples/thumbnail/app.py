"""Makes a thumbnail of every image uploaded to the source bucket and writes it to the destination
bucket under the same key. Triggered by S3 `ObjectCreated` notifications; talks to S3 through the
runtime's boto3 (Nubo sets AWS_ENDPOINT_URL and the execution role's credentials)."""

import io
import os
import urllib.parse

import boto3
from PIL import Image

s3 = boto3.client("s3")
DESTINATION = os.environ["DEST_BUCKET"]
SIZE = int(os.environ.get("THUMBNAIL_SIZE", "128"))


def handler(event, context):
    made = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        # S3 writes keys URL-encoded with '+' for spaces.
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with Image.open(io.BytesIO(original)) as image:
            fmt = image.format or "PNG"
            image.thumbnail((SIZE, SIZE))
            if fmt == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, format=fmt)
            size = image.size
        s3.put_object(
            Bucket=DESTINATION,
            Key=key,
            Body=out.getvalue(),
            ContentType=Image.MIME.get(fmt, "application/octet-stream"),
            Metadata={"source": f"{bucket}/{key}"},
        )
        made.append({"key": key, "width": size[0], "height": size[1]})
    return {"thumbnails": made}
