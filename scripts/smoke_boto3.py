"""boto3 against a running ObjectIO gateway (default settings: CRC checksums on).

Prints one line per check and, last, "boto3: N passed, M failed"; exits
non-zero when any check failed.
"""
import hashlib
import os
import random
import sys
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}),
)
bucket = f"boto-{random.randrange(1 << 30)}"
passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   boto3 {name}")
    except Exception:  # noqa: BLE001 - every failure is reported and counted
        failed += 1
        print(f"FAIL boto3 {name}")
        traceback.print_exc()


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


body = os.urandom(3 * 1024 * 1024 + 17)
big = os.urandom(12 * 1024 * 1024 + 5)


def put_get():
    r = s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body, Metadata={"k": "v"})
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
    got = s3.get_object(Bucket=bucket, Key="a/b.bin")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"k": "v"}, got["Metadata"]


def ranged():
    part = s3.get_object(Bucket=bucket, Key="a/b.bin", Range="bytes=100-199")["Body"].read()
    assert part == body[100:200]


def multipart():
    # Above boto3's 8 MiB threshold: a multipart upload with CRC32 per part.
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"objectio-boto3-{bucket}.bin")
    with open(path, "wb") as f:
        f.write(big)
    try:
        s3.upload_file(path, bucket, "big.bin")
    finally:
        os.remove(path)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(big), head
    assert head["ETag"].endswith('-2"'), head["ETag"]
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big


def listing():
    l = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in l["CommonPrefixes"]] == ["a/"], l
    assert [o["Key"] for o in l["Contents"]] == ["big.bin", "script.py"], l


def errors():
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="missing")) == "NoSuchKey"
    assert error_code(lambda: s3.delete_bucket(Bucket=bucket)) == "BucketNotEmpty"


def policy():
    doc = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        f'"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/a/*"}}]}}'
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == doc
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    bad = error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy='{"Statement":[]}'))
    assert bad == "MalformedPolicy", bad
    s3.delete_bucket_policy(Bucket=bucket)
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == "NoSuchBucketPolicy"


def cleanup():
    for key in ("a/b.bin", "script.py", "big.bin"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


check("create bucket", lambda: s3.create_bucket(Bucket=bucket))
check("put and get with metadata", put_get)
check("ranged get", ranged)
check("upload_file", lambda: s3.upload_file(__file__, bucket, "script.py"))
check("multipart upload_file", multipart)
check("list with delimiter", listing)
check("error codes", errors)
check("bucket policy", policy)
check("delete objects and bucket", cleanup)
print(f"boto3: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
