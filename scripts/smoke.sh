#!/usr/bin/env bash
# Drives a running dev cluster with real clients: aws cli (cp/ls/rm) and boto3.
# Usage: eval "$(scripts/dev-cluster.sh env)"; scripts/smoke.sh
set -euo pipefail
: "${AWS_ENDPOINT_URL:?run eval \"\$(scripts/dev-cluster.sh env)\" first}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bucket=smoke-$RANDOM$RANDOM

export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

echo "== aws cli"
aws s3 mb "s3://$bucket"
head -c 5000000 /dev/urandom >"$work/five"
head -c 20000000 /dev/urandom >"$work/twenty"   # above 8 MiB: a multipart upload
echo "small" >"$work/small.txt"
: >"$work/empty"
aws s3 cp --only-show-errors "$work/five" "s3://$bucket/dir/five"
aws s3 cp --only-show-errors "$work/twenty" "s3://$bucket/twenty"
aws s3 cp --only-show-errors "s3://$bucket/twenty" "$work/twenty.back"
cmp "$work/twenty" "$work/twenty.back"
aws s3 cp --only-show-errors "$work/small.txt" "s3://$bucket/dir/small.txt"
aws s3 cp --only-show-errors "$work/empty" "s3://$bucket/empty"
command aws --endpoint-url "$AWS_ENDPOINT_URL" s3 ls "s3://$bucket/" | tee "$work/ls"
grep -q "PRE dir/" "$work/ls"
grep -q " 0 empty" "$work/ls"
# Listed into a file: `grep -q` on a pipe exits at the first match and the
# aws cli, still writing, dies of a broken pipe (exit 255 under pipefail).
aws s3 ls --recursive "s3://$bucket/" >"$work/lsr"
grep -q "dir/five" "$work/lsr"
aws s3 cp --only-show-errors "s3://$bucket/dir/five" "$work/five.back"
cmp "$work/five" "$work/five.back"
aws s3 rm --only-show-errors "s3://$bucket/dir/five"
if aws s3 ls "s3://$bucket/dir/five" >/dev/null 2>&1; then echo "rm did not remove"; exit 1; fi
aws s3 rm --only-show-errors --recursive "s3://$bucket/"
aws s3 rb "s3://$bucket"

echo "== boto3"
python3 "$here/smoke_boto3.py"
echo "smoke: 2 passed, 0 failed"
