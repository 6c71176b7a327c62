def handler(event, context):
    for record in event["Records"]:
        print(f"processed s3://{record['s3']['bucket']['name']}/{record['s3']['object']['key']}")
    return {"processed": len(event["Records"])}
