"""DynamoDB with boto3's client and resource: tables and indexes, conditional writes, updates with
every action, queries on a GSI, pagination, batches, transactions that cancel, TTL, tags, and
the unhappy paths with AWS's error texts, including a principal the policy refuses."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, credentials_for, unique_name

CONFIG = Config(retries={"max_attempts": 0}, connect_timeout=10, read_timeout=60)


@pytest.fixture(scope="module")
def ddb(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


@pytest.fixture(scope="module")
def resource(endpoint):
    return boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))


def error(excinfo) -> tuple[str, str]:
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def make_table(ddb, **extra) -> str:
    name = unique_name("tbl")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "owner_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-owner",
                "KeySchema": [{"AttributeName": "owner_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        **extra,
    )
    return name


def test_tables_are_created_described_listed_and_deleted(ddb):
    name = make_table(ddb, Tags=[{"Key": "team", "Value": "a"}])
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-owner"
    assert table["TableArn"].endswith(f":table/{name}")
    assert name in ddb.list_tables()["TableNames"]
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "a"}]
    ddb.tag_resource(ResourceArn=table["TableArn"], Tags=[{"Key": "env", "Value": "dev"}])
    ddb.untag_resource(ResourceArn=table["TableArn"], TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [{"Key": "env", "Value": "dev"}]

    with pytest.raises(ClientError) as excinfo:
        make_table_named(ddb, name)
    assert error(excinfo) == ("ResourceInUseException", f"Table already exists: {name}")

    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    with pytest.raises(ClientError) as excinfo:
        ddb.describe_table(TableName=name)
    assert error(excinfo) == ("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert error(excinfo) == ("ResourceNotFoundException", "Requested resource not found")


def make_table_named(ddb, name):
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_create_table_refuses_bad_schemas(ddb):
    with pytest.raises(ClientError) as excinfo:
        ddb.create_table(
            TableName=unique_name("bad"),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error(excinfo) == (
        "ValidationException",
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
    )
    with pytest.raises(ClientError) as excinfo:
        ddb.create_table(
            TableName="ab",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error(excinfo)[0] == "ValidationException"
    assert "Member must have length greater than or equal to 3" in error(excinfo)[1]


def test_conditional_writes_and_return_values(ddb):
    name = make_table(ddb)
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "1"}, "tags": {"SS": ["x"]}, "m": {"M": {"b": {"BOOL": True}}}, "z": {"NULL": True}, "bin": {"B": b"\x00\x01"}}
    ddb.put_item(TableName=name, Item=item, ConditionExpression="attribute_not_exists(pk)")
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"] == item
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item=item, ConditionExpression="attribute_not_exists(pk)")
    assert error(excinfo) == ("ConditionalCheckFailedException", "The conditional request failed")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(
            TableName=name,
            Item=item,
            ConditionExpression="v > :two",
            ExpressionAttributeValues={":two": {"N": "2"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert excinfo.value.response["Item"]["v"] == {"N": "1"}
    old = ddb.put_item(TableName=name, Item={**item, "v": {"N": "2"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["v"] == {"N": "1"}
    deleted = ddb.delete_item(
        TableName=name,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        ConditionExpression="#v = :two",
        ExpressionAttributeNames={"#v": "v"},
        ExpressionAttributeValues={":two": {"N": "2"}},
        ReturnValues="ALL_OLD",
    )["Attributes"]
    assert deleted["v"] == {"N": "2"}
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_updates_with_every_action(resource, ddb):
    table = resource.Table(make_table(ddb))
    table.put_item(Item={"pk": "u", "sk": 1, "count": 5, "items": ["a"], "colors": {"red", "blue"}, "gone": "x", "nested": {"deep": {"n": 1}}})
    out = table.update_item(
        Key={"pk": "u", "sk": 1},
        UpdateExpression=(
            "SET #c = #c + :one, #i = list_append(#i, :more), fresh = if_not_exists(fresh, :zero), nested.deep.n = nested.deep.n - :one "
            "REMOVE gone ADD visits :one, colors :green DELETE shapes :sq"
        ),
        ExpressionAttributeNames={"#c": "count", "#i": "items"},
        ExpressionAttributeValues={":one": 1, ":more": ["b"], ":zero": 0, ":green": {"green"}, ":sq": {"square"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert out["count"] == 6
    assert out["items"] == ["a", "b"]
    assert out["fresh"] == 0
    assert out["nested"] == {"deep": {"n": 0}}
    assert "gone" not in out
    assert out["visits"] == 1
    assert out["colors"] == {"red", "blue", "green"}
    updated = table.update_item(
        Key={"pk": "u", "sk": 1},
        UpdateExpression="DELETE colors :rb SET price = :p",
        ExpressionAttributeValues={":rb": {"red", "blue"}, ":p": Decimal("12345678901234567890.123456789")},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated == {"colors": {"green"}, "price": Decimal("12345678901234567890.123456789")}
    # A missing item is created by an update.
    created = table.update_item(Key={"pk": "new", "sk": 2}, UpdateExpression="SET a = :a", ExpressionAttributeValues={":a": "x"}, ReturnValues="ALL_NEW")
    assert created["Attributes"] == {"pk": "new", "sk": 2, "a": "x"}

    with pytest.raises(ClientError) as excinfo:
        table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET pk = :a", ExpressionAttributeValues={":a": "x"})
    assert error(excinfo) == ("ValidationException", "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key")
    with pytest.raises(ClientError) as excinfo:
        table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET items = items + :one", ExpressionAttributeValues={":one": 1})
    assert error(excinfo)[0] == "ValidationException"
    assert "reserved keyword; reserved keyword: items" in error(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET #i = #i + :one", ExpressionAttributeNames={"#i": "items"}, ExpressionAttributeValues={":one": 1})
    assert error(excinfo) == ("ValidationException", "An operand in the update expression has an incorrect data type")
    with pytest.raises(ClientError) as excinfo:
        table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET a = :a", ExpressionAttributeValues={":a": "x", ":b": "y"})
    assert error(excinfo) == ("ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}")
    with pytest.raises(ClientError) as excinfo:
        table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET a = ")
    assert error(excinfo) == ("ValidationException", 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "="')


def test_queries_on_the_table_and_a_gsi_page_and_filter(resource, ddb):
    table = resource.Table(make_table(ddb))
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"pk": "p1" if i % 2 else "p2", "sk": i, "owner_id": f"o{i % 3}", "n": i})
    got = table.query(KeyConditionExpression=Key("pk").eq("p1") & Key("sk").between(3, 9))["Items"]
    assert [i["sk"] for i in got] == [3, 5, 7, 9]
    desc = table.query(KeyConditionExpression=Key("pk").eq("p1"), ScanIndexForward=False, Limit=3)
    assert [i["sk"] for i in desc["Items"]] == [29, 27, 25]
    assert desc["LastEvaluatedKey"] == {"pk": "p1", "sk": 25}
    # Pagination over the index: every item of o1, once, in sort-key order.
    seen = []
    kwargs = {"IndexName": "by-owner", "KeyConditionExpression": Key("owner_id").eq("o1"), "Limit": 4}
    while True:
        page = table.query(**kwargs)
        seen += [i["sk"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == [i for i in range(30) if i % 3 == 1]
    filtered = table.query(KeyConditionExpression=Key("pk").eq("p2"), FilterExpression=Attr("n").gt(20), ProjectionExpression="sk")
    assert filtered["Items"] == [{"sk": 22}, {"sk": 24}, {"sk": 26}, {"sk": 28}]
    assert filtered["ScannedCount"] == 15 and filtered["Count"] == 4
    counted = ddb.query(TableName=table.name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p2"}}, Select="COUNT")
    assert counted["Count"] == 15 and "Items" not in counted
    # Scan in segments covers every item exactly once.
    keys = []
    for segment in range(3):
        kwargs = {"Segment": segment, "TotalSegments": 3, "Limit": 7}
        while True:
            page = table.scan(**kwargs)
            keys += [(i["pk"], i["sk"]) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(keys) == sorted(("p1" if i % 2 else "p2", i) for i in range(30))

    with pytest.raises(ClientError) as excinfo:
        table.query(KeyConditionExpression=Key("sk").eq(1))
    assert error(excinfo) == ("ValidationException", "Query condition missed key schema element: pk")
    with pytest.raises(ClientError) as excinfo:
        table.query(IndexName="nope", KeyConditionExpression=Key("pk").eq("p1"))
    assert error(excinfo) == ("ValidationException", "The table does not have the specified index: nope")
    with pytest.raises(ClientError) as excinfo:
        ddb.query(TableName=table.name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"N": "1"}})
    assert error(excinfo) == ("ValidationException", "One or more parameter values were invalid: Condition parameter type does not match schema type")
    with pytest.raises(ClientError) as excinfo:
        table.scan(Segment=3, TotalSegments=2)
    assert error(excinfo)[1] == "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 2"


def test_begins_with_and_numbers_sort_numerically(ddb):
    name = unique_name("strs")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for sk in ["order#2", "order#10", "user#1", "order#1"]:
        ddb.put_item(TableName=name, Item={"pk": {"S": "x"}, "sk": {"S": sk}})
    got = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND begins_with(sk, :o)", ExpressionAttributeValues={":p": {"S": "x"}, ":o": {"S": "order#"}})
    assert [i["sk"]["S"] for i in got["Items"]] == ["order#1", "order#10", "order#2"]
    numbers = make_table(ddb)
    for n in ["-5", "10", "9.5", "-0.5", "100", "0"]:
        ddb.put_item(TableName=numbers, Item={"pk": {"S": "n"}, "sk": {"N": n}})
    got = ddb.query(TableName=numbers, KeyConditionExpression="pk = :p AND sk >= :z", ExpressionAttributeValues={":p": {"S": "n"}, ":z": {"N": "-0.5"}})
    assert [i["sk"]["N"] for i in got["Items"]] == ["-0.5", "0", "9.5", "10", "100"]


def test_key_and_item_errors(ddb):
    name = make_table(ddb)
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    assert error(excinfo) == ("ValidationException", "One or more parameter values were invalid: Missing the key sk in the item")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"N": "1"}, "sk": {"N": "1"}})
    assert error(excinfo) == ("ValidationException", "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    with pytest.raises(ClientError) as excinfo:
        ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert error(excinfo) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * 410_000}})
    assert error(excinfo) == ("ValidationException", "Item size has exceeded the maximum allowed size")
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"SS": ["a", "a"]}})
    assert "contains duplicates" in error(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "not a number"}})
    assert error(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "owner_id": {"N": "1"}})
    assert "Type mismatch for Index Key owner_id Expected: S Actual: N IndexName: by-owner" in error(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, ConditionExpression="#x = :y", ExpressionAttributeValues={":y": {"S": "1"}})
    assert error(excinfo) == ("ValidationException", "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x")


def test_batches_and_transactions(resource, ddb):
    a, b = make_table(ddb), make_table(ddb)
    ddb.batch_write_item(RequestItems={
        a: [{"PutRequest": {"Item": {"pk": {"S": "k"}, "sk": {"N": str(i)}, "v": {"N": "0"}}}} for i in range(5)],
        b: [{"PutRequest": {"Item": {"pk": {"S": "k"}, "sk": {"N": "1"}, "v": {"N": "0"}}}}],
    })
    got = ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": {"S": "k"}, "sk": {"N": str(i)}} for i in range(3)]}, b: {"Keys": [{"pk": {"S": "k"}, "sk": {"N": "1"}}], "ProjectionExpression": "v"}})
    assert len(got["Responses"][a]) == 3 and got["Responses"][b] == [{"v": {"N": "0"}}]
    assert got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as excinfo:
        ddb.batch_write_item(RequestItems={a: [{"PutRequest": {"Item": {"pk": {"S": "k"}, "sk": {"N": str(i)}}}} for i in range(26)]})
    assert error(excinfo)[0] == "ValidationException"

    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": a, "Key": key, "UpdateExpression": "SET v = v + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": b, "Item": {**key, "v": {"N": "7"}}, "ConditionExpression": "v = :zero", "ExpressionAttributeValues": {":zero": {"N": "0"}}}},
        {"Delete": {"TableName": a, "Key": {"pk": {"S": "k"}, "sk": {"N": "4"}}}},
        {"ConditionCheck": {"TableName": a, "Key": {"pk": {"S": "k"}, "sk": {"N": "2"}}, "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert ddb.get_item(TableName=a, Key=key)["Item"]["v"] == {"N": "1"}
    assert ddb.get_item(TableName=b, Key=key)["Item"]["v"] == {"N": "7"}
    with pytest.raises(ClientError) as excinfo:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": a, "Key": key, "UpdateExpression": "SET v = v + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": b, "Key": key, "ConditionExpression": "v = :zero", "ExpressionAttributeValues": {":zero": {"N": "0"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ])
    code, message = error(excinfo)
    assert code == "TransactionCanceledException"
    assert message == "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    reasons = excinfo.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed" and reasons[1]["Item"]["v"] == {"N": "7"}
    # Nothing of the cancelled transaction was written.
    assert ddb.get_item(TableName=a, Key=key)["Item"]["v"] == {"N": "1"}
    with pytest.raises(ClientError) as excinfo:
        ddb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": a, "Key": key}},
            {"Delete": {"TableName": a, "Key": key}},
        ])
    assert error(excinfo) == ("ValidationException", "Transaction request cannot include multiple operations on one item")
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": a, "Key": key}}, {"Get": {"TableName": a, "Key": {"pk": {"S": "k"}, "sk": {"N": "4"}}}}])
    assert got["Responses"][0]["Item"]["v"] == {"N": "1"} and got["Responses"][1] == {}


def test_update_table_adds_a_backfilled_gsi_and_ttl_expires_items(ddb):
    name = unique_name("ttl")
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "color": {"S": "red"}})
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-color", "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}}],
    )
    got = ddb.query(TableName=name, IndexName="by-color", KeyConditionExpression="color = :c", ExpressionAttributeValues={":c": {"S": "red"}})
    assert got["Items"] == [{"pk": {"S": "a"}, "color": {"S": "red"}}]

    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "expires": {"N": str(int(time.time()) - 10)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "future"}, "expires": {"N": str(int(time.time()) + 3600)}})
    deadline = time.time() + 15
    while "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}}) and time.time() < deadline:
        time.sleep(0.3)
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}})
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "future"}})


def test_a_principal_the_policy_refuses(endpoint, ddb):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION, config=CONFIG, **credentials_for(endpoint))
    allowed, other = make_table(ddb), make_table(ddb)
    user = unique_name("ddbuser")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="one-table", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"],
                       "Resource": f"arn:aws:dynamodb:{REGION}:000000000000:table/{allowed}"}],
    }))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    limited = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, config=CONFIG,
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    limited.put_item(TableName=allowed, Item=item)
    assert limited.get_item(TableName=allowed, Key=item)["Item"] == item
    with pytest.raises(ClientError) as excinfo:
        limited.put_item(TableName=other, Item=item)
    code, message = error(excinfo)
    assert code == "AccessDeniedException"
    assert f"is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:{REGION}:000000000000:table/{other}" in message
    with pytest.raises(ClientError) as excinfo:
        limited.delete_item(TableName=allowed, Key=item)
    assert error(excinfo)[0] == "AccessDeniedException"
    # A batch is checked on every table it writes.
    with pytest.raises(ClientError) as excinfo:
        limited.batch_write_item(RequestItems={allowed: [{"PutRequest": {"Item": item}}], other: [{"PutRequest": {"Item": item}}]})
    assert error(excinfo)[0] == "AccessDeniedException"
    assert "Item" not in ddb.get_item(TableName=other, Key=item)
