def handler(event, context):
    for record in event["Records"]:
        print(f"consumed {record['body']}")
    return {"batchItemFailures": []}
