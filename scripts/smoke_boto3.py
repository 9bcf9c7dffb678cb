"""boto3 against a running ObjectIO gateway (default settings: CRC checksums on)."""
import hashlib
import os
import random

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
s3.create_bucket(Bucket=bucket)
body = os.urandom(3 * 1024 * 1024 + 17)
r = s3.put_object(Bucket=bucket, Key="a/b.bin", Body=body, Metadata={"k": "v"})
assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
got = s3.get_object(Bucket=bucket, Key="a/b.bin")
assert got["Body"].read() == body
assert got["Metadata"] == {"k": "v"}, got["Metadata"]
part = s3.get_object(Bucket=bucket, Key="a/b.bin", Range="bytes=100-199")["Body"].read()
assert part == body[100:200]
s3.upload_file(__file__, bucket, "script.py")
# Above boto3's 8 MiB threshold: a multipart upload with CRC32 per part.
big = os.urandom(12 * 1024 * 1024 + 5)
big_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "objectio-boto3-big.bin")
with open(big_path, "wb") as f:
    f.write(big)
s3.upload_file(big_path, bucket, "big.bin")
os.remove(big_path)
head = s3.head_object(Bucket=bucket, Key="big.bin")
assert head["ContentLength"] == len(big), head
assert head["ETag"].endswith('-2"'), head["ETag"]
assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big
listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["a/"], listing
assert [o["Key"] for o in listing["Contents"]] == ["big.bin", "script.py"], listing
try:
    s3.get_object(Bucket=bucket, Key="missing")
    raise SystemExit("GET of a missing key succeeded")
except ClientError as e:
    assert e.response["Error"]["Code"] == "NoSuchKey", e.response
try:
    s3.delete_bucket(Bucket=bucket)
    raise SystemExit("deleting a non-empty bucket succeeded")
except ClientError as e:
    assert e.response["Error"]["Code"] == "BucketNotEmpty", e.response
for key in ("a/b.bin", "script.py", "big.bin"):
    s3.delete_object(Bucket=bucket, Key=key)
s3.delete_bucket(Bucket=bucket)
print("boto3 smoke ok")
