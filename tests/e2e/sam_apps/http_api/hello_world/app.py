import json
import os


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"{os.environ['GREETING']} world", "version": 1}),
    }
