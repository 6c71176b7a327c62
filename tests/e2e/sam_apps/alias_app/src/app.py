import os
def handler(event, context):
    return {"statusCode": 200, "body": os.environ["AWS_LAMBDA_FUNCTION_VERSION"] + " v1"}
