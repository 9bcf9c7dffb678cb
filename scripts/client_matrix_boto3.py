"""boto3's part of the client matrix (scripts/client-matrix.sh), at boto3's
defaults but for the endpoint: a managed multipart upload, listings v1 and
v2, a managed copy (UploadPartCopy for a large source), a move, batch
delete, presigned GET, PUT and HEAD, a conditional create.

Usage: client_matrix_boto3.py BUCKET BIG_FILE
Prints one line per operation; exits non-zero when any failed.
"""
import hashlib
import http.client
import os
import sys
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

bucket, big = sys.argv[1], sys.argv[2]
s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    config=Config(s3={"addressing_style": "path"}),
)
passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok    boto3    {name}")
    except Exception as e:  # noqa: BLE001 - any failure is the check's
        failed += 1
        print(f"FAIL  boto3    {name}: {e!r}")


def md5_file(p):
    h = hashlib.md5()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def read(key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys_v1(prefix=""):
    out = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def keys_v2(prefix=""):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def upload_big():
    s3.upload_file(big, bucket, "big")
    etag = s3.head_object(Bucket=bucket, Key="big")["ETag"]
    assert etag.strip('"').endswith("-3"), etag  # 8 MiB parts


def download_big():
    s3.download_file(bucket, "big", big + ".boto")
    assert md5_file(big + ".boto") == md5_file(big)


def many_keys():
    for i in range(30):
        s3.put_object(Bucket=bucket, Key=f"many/{i:02d}", Body=b"x")


def list_v1():
    ks = []
    marker = ""
    while True:
        r = s3.list_objects(Bucket=bucket, Prefix="many/", MaxKeys=7, Marker=marker)
        ks += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        marker = ks[-1]
    assert ks == [f"many/{i:02d}" for i in range(30)], ks
    assert keys_v1("many/") == ks


def list_v2():
    assert keys_v2("many/") == [f"many/{i:02d}" for i in range(30)]
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["many/"], r


def managed_copy():
    # Above the multipart threshold: boto3 copies with UploadPartCopy.
    s3.copy({"Bucket": bucket, "Key": "big"}, bucket, "big.copy")
    h = hashlib.md5(read("big.copy")).hexdigest()
    assert h == md5_file(big)


def move():
    s3.copy_object(Bucket=bucket, Key="moved", CopySource={"Bucket": bucket, "Key": "many/00"})
    s3.delete_object(Bucket=bucket, Key="many/00")
    assert read("moved") == b"x"
    assert "many/00" not in keys_v2("many/")


def presigned():
    # boto3 presigns with SigV2 here (query AWSAccessKeyId/Signature), whose
    # string to sign holds the Content-Type: the PUT must send none, as it
    # was signed (urllib would add application/x-www-form-urlencoded).
    put = urllib.parse.urlsplit(
        s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    )
    conn = http.client.HTTPConnection(put.netloc)
    conn.putrequest("PUT", f"{put.path}?{put.query}", skip_accept_encoding=True)
    conn.putheader("Content-Length", str(len(b"presigned body")))
    conn.endheaders(b"presigned body")
    r = conn.getresponse()
    assert r.status == 200, (r.status, r.read())
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    assert urllib.request.urlopen(get).read() == b"presigned body"
    head = s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    r = urllib.request.urlopen(urllib.request.Request(head, method="HEAD"))
    assert r.headers["Content-Length"] == str(len(b"presigned body"))


def conditional_create():
    s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    try:
        s3.put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 412, e.response
    else:
        raise AssertionError("second create was not refused")
    assert read("once") == b"1"


def batch_delete():
    ks = keys_v2()
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ks]})
    assert not r.get("Errors"), r
    assert len(r["Deleted"]) == len(ks)
    assert keys_v2() == []


check("create_bucket", lambda: s3.create_bucket(Bucket=bucket))
check("upload_file 24 MiB (multipart)", upload_big)
check("download_file, identical", download_big)
check("put_object x30", many_keys)
check("list_objects (v1, Marker paging)", list_v1)
check("list_objects_v2 (paging, delimiter)", list_v2)
check("copy 24 MiB (UploadPartCopy)", managed_copy)
check("move (copy_object + delete_object)", move)
check("presigned PUT, GET, HEAD", presigned)
check("put_object IfNoneMatch=* twice (412)", conditional_create)
check("delete_objects", batch_delete)
check("delete_bucket", lambda: s3.delete_bucket(Bucket=bucket))
print(f"boto3: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
