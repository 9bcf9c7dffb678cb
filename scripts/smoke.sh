#!/usr/bin/env bash
# Drives a running dev cluster with real clients: aws cli (cp/ls/rm, a second
# user refused) and boto3. Counts the checks it ran; exits non-zero if any
# failed.
# Usage: eval "$(scripts/dev-cluster.sh env)"; scripts/smoke.sh
set -euo pipefail
: "${AWS_ENDPOINT_URL:?run eval \"\$(scripts/dev-cluster.sh env)\" first}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bucket=smoke-$RANDOM$RANDOM
python=${OBJECTIO_PYTHON:-python3}

export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }

passed=0
failed=0
# check NAME COMMAND...: runs one check and counts it.
check() {
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}

# into FILE COMMAND...: runs a command with its output in FILE.
into() {
    local f=$1
    shift
    "$@" >"$f"
}

echo "== aws cli"
head -c 5000000 /dev/urandom >"$work/five"
head -c 20000000 /dev/urandom >"$work/twenty"   # above 8 MiB: a multipart upload
echo "small" >"$work/small.txt"
: >"$work/empty"
check "mb" aws s3 mb "s3://$bucket"
check "cp 5 MB" aws s3 cp --only-show-errors "$work/five" "s3://$bucket/dir/five"
check "cp 20 MB (multipart)" aws s3 cp --only-show-errors "$work/twenty" "s3://$bucket/twenty"
check "cp back 20 MB" aws s3 cp --only-show-errors "s3://$bucket/twenty" "$work/twenty.back"
check "20 MB identical" cmp "$work/twenty" "$work/twenty.back"
check "cp small" aws s3 cp --only-show-errors "$work/small.txt" "s3://$bucket/dir/small.txt"
check "cp empty" aws s3 cp --only-show-errors "$work/empty" "s3://$bucket/empty"
# Listed into a file: `grep -q` on a pipe exits at the first match and the
# aws cli, still writing, dies of a broken pipe (exit 255 under pipefail).
check "ls" into "$work/ls" aws s3 ls "s3://$bucket/"
check "ls shows the prefix" grep -q "PRE dir/" "$work/ls"
check "ls shows the empty object" grep -q " 0 empty" "$work/ls"
check "ls --recursive" into "$work/lsr" aws s3 ls --recursive "s3://$bucket/"
check "recursive listing has dir/five" grep -q "dir/five" "$work/lsr"
check "cp back 5 MB" aws s3 cp --only-show-errors "s3://$bucket/dir/five" "$work/five.back"
check "5 MB identical" cmp "$work/five" "$work/five.back"

# A second user is refused the first user's bucket, and sees none of it.
if [ -n "${OBJECTIO_TOKEN:-}" ] && command -v objectio-cli >/dev/null; then
    other=smoke-other-$RANDOM$RANDOM
    objectio-cli user create "$other" >/dev/null
    objectio-cli key create --user "$other" --format json >"$work/other.json"
    oak=$(sed -n 's/.*"access_key_id": *"\([^"]*\)".*/\1/p' "$work/other.json")
    osk=$(sed -n 's/.*"secret_access_key": *"\([^"]*\)".*/\1/p' "$work/other.json")
    as_other() { AWS_ACCESS_KEY_ID=$oak AWS_SECRET_ACCESS_KEY=$osk aws "$@"; }
    refused() { ! "$@" >"$work/refused.out" 2>&1 && grep -Eq "AccessDenied|\(403\)" "$work/refused.out"; }
    check "other user: get refused" refused as_other s3 cp --only-show-errors "s3://$bucket/dir/small.txt" "$work/stolen"
    check "other user: list refused" refused as_other s3 ls "s3://$bucket/"
    check "other user: delete refused" refused as_other s3 rm "s3://$bucket/dir/small.txt"
    check "other user: lists no bucket of ours" bash -c "! AWS_ACCESS_KEY_ID=$oak AWS_SECRET_ACCESS_KEY=$osk command aws --endpoint-url $AWS_ENDPOINT_URL s3 ls | grep -q $bucket"
    check "other user deleted" objectio-cli user delete "$other" --purge-keys
    check "object health of the multipart object" objectio-cli object health "$bucket/twenty"
    check "object repair --force finds nothing to rebuild" objectio-cli object repair "$bucket/twenty" --force
fi

check "rm" aws s3 rm --only-show-errors "s3://$bucket/dir/five"
check "rm removed it" bash -c "! command aws --endpoint-url $AWS_ENDPOINT_URL s3 ls s3://$bucket/dir/five >/dev/null 2>&1"
check "rm --recursive" aws s3 rm --only-show-errors --recursive "s3://$bucket/"
check "rb" aws s3 rb "s3://$bucket"

echo "== boto3"
if "$python" "$here/smoke_boto3.py" | tee "$work/boto3.out"; then :; fi
bp=$(sed -n 's/^boto3: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/boto3.out")
bf=$(sed -n 's/^boto3: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/boto3.out")
if [ -z "$bp" ]; then
    echo "FAIL boto3 did not finish"
    bp=0
    bf=1
fi
passed=$((passed + bp))
failed=$((failed + bf))
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
