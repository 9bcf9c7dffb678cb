#!/usr/bin/env bash
# The client matrix: the S3 clients people use, each at its defaults (only
# the endpoint and keys set), against a running dev cluster. For each client:
# a large multipart upload, listing, sync, server-side copy, move, check,
# delete and a presigned URL. Prints one line per client and operation
# ("ok"/"FAIL", client, operation) and a summary; exits non-zero if any
# failed.
#
# Usage: eval "$(scripts/dev-cluster.sh env)"; scripts/client-matrix.sh
# Needs: aws (cli), python3 with boto3, s3cmd, rclone, curl
# (scripts/lib.sh ensure_client_tools installs them).
set -uo pipefail
: "${AWS_ENDPOINT_URL:?run eval \"\$(scripts/dev-cluster.sh env)\" first}"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python=${OBJECTIO_PYTHON:-python3}
host=${AWS_ENDPOINT_URL#http://}
tag=$RANDOM$RANDOM

passed=0
failed=0
# check CLIENT OPERATION COMMAND...: runs one operation, prints its line.
check() {
    local client=$1 op=$2
    shift 2
    if "$@" >"$work/last.out" 2>&1; then
        passed=$((passed + 1))
        printf 'ok    %-8s %s\n' "$client" "$op"
    else
        failed=$((failed + 1))
        printf 'FAIL  %-8s %s\n' "$client" "$op"
        sed 's/^/      | /' "$work/last.out" | tail -n 8
    fi
}
# A command whose output goes to FILE (so a grep after it sees all of it).
into() {
    local f=$1
    shift
    "$@" >"$f"
}
same() { cmp -s "$1" "$2"; }
has() { grep -q -- "$2" "$1"; }
lacks() { ! grep -q -- "$2" "$1"; }

# The data every client moves: 24 MiB (multipart for every client's
# defaults but rclone's, told below), a small text file, a directory to sync.
head -c $((24 << 20)) /dev/urandom >"$work/big"
echo "hello from the matrix" >"$work/small.txt"
mkdir -p "$work/tree/sub"
for i in 1 2 3; do echo "file $i" >"$work/tree/f$i.txt"; done
echo "deep" >"$work/tree/sub/deep.txt"

# ---------------------------------------------------------------- aws cli
b=mx-aws-$tag
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
check aws-cli "s3 mb" aws s3 mb "s3://$b"
check aws-cli "s3 cp 24 MiB (multipart)" aws s3 cp --only-show-errors "$work/big" "s3://$b/big"
check aws-cli "s3 cp back, identical" bash -c "command aws --endpoint-url $AWS_ENDPOINT_URL s3 cp --only-show-errors s3://$b/big $work/aws.big && cmp -s $work/big $work/aws.big"
check aws-cli "s3 sync up" aws s3 sync --only-show-errors "$work/tree" "s3://$b/tree"
check aws-cli "s3 ls --recursive" into "$work/aws.ls" aws s3 ls --recursive "s3://$b/"
check aws-cli "listing holds the synced tree" has "$work/aws.ls" "tree/sub/deep.txt"
check aws-cli "s3 sync again copies nothing" bash -c "[ -z \"\$(command aws --endpoint-url $AWS_ENDPOINT_URL s3 sync $work/tree s3://$b/tree)\" ]"
check aws-cli "s3 cp s3->s3 (CopyObject)" aws s3 cp --only-show-errors "s3://$b/big" "s3://$b/big.copy"
check aws-cli "s3 mv" aws s3 mv --only-show-errors "s3://$b/tree/f1.txt" "s3://$b/moved.txt"
check aws-cli "s3api head-object of the move" aws s3api head-object --bucket "$b" --key moved.txt
check aws-cli "s3api list-objects (v1)" into "$work/aws.v1" aws s3api list-objects --bucket "$b" --prefix tree/ --delimiter /
check aws-cli "v1 listing rolls up tree/sub/" has "$work/aws.v1" '"Prefix": "tree/sub/"'
check aws-cli "s3api copy-object REPLACE" aws s3api copy-object --bucket "$b" --key meta.txt --copy-source "$b/moved.txt" --metadata-directive REPLACE --metadata color=blue --content-type text/plain
check aws-cli "s3api put-object-tagging" aws s3api put-object-tagging --bucket "$b" --key meta.txt --tagging 'TagSet=[{Key=k,Value=v}]'
check aws-cli "s3api get-object-tagging" into "$work/aws.tags" aws s3api get-object-tagging --bucket "$b" --key meta.txt
check aws-cli "tag read back" has "$work/aws.tags" '"Key": "k"'
check aws-cli "s3 presign + curl" bash -c "curl -sf \"\$(command aws --endpoint-url $AWS_ENDPOINT_URL s3 presign s3://$b/moved.txt)\" -o $work/aws.presigned && cmp -s $work/tree/f1.txt $work/aws.presigned"
check aws-cli "s3api delete-objects" aws s3api delete-objects --bucket "$b" --delete '{"Objects":[{"Key":"meta.txt"},{"Key":"moved.txt"}]}'
check aws-cli "s3 rm --recursive" aws s3 rm --only-show-errors --recursive "s3://$b/"
check aws-cli "s3 rb" aws s3 rb "s3://$b"

# ------------------------------------------------------------------ boto3
"$python" "$here/client_matrix_boto3.py" "mx-boto-$tag" "$work/big" | tee "$work/boto3.out"
bp=$(sed -n 's/^boto3: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$work/boto3.out")
bf=$(sed -n 's/^boto3: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$work/boto3.out")
if [ -z "$bp" ]; then
    echo "FAIL  boto3    did not finish"
    bp=0 bf=1
fi
passed=$((passed + bp))
failed=$((failed + bf))

# ----------------------------------------------------------------- s3cmd
# Its defaults but for the host and keys: it signs for region "US".
b=mx-s3cmd-$tag
cat >"$work/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $host
host_bucket = $host
use_https = False
CFG
s3cmd() { command s3cmd -c "$work/s3cfg" "$@"; }
check s3cmd "mb" s3cmd mb "s3://$b"
check s3cmd "put 24 MiB (multipart)" s3cmd put -q "$work/big" "s3://$b/big"
check s3cmd "get, identical" bash -c "command s3cmd -c $work/s3cfg get -q --force s3://$b/big $work/s3cmd.big && cmp -s $work/big $work/s3cmd.big"
check s3cmd "sync up" s3cmd sync -q "$work/tree/" "s3://$b/tree/"
check s3cmd "ls" into "$work/s3cmd.ls" s3cmd ls "s3://$b/tree/"
check s3cmd "ls rolls up sub/" has "$work/s3cmd.ls" "DIR.*tree/sub/"
check s3cmd "la --recursive" into "$work/s3cmd.la" s3cmd ls --recursive "s3://$b/"
check s3cmd "recursive listing holds sub/deep.txt" has "$work/s3cmd.la" "tree/sub/deep.txt"
check s3cmd "cp (CopyObject)" s3cmd cp -q "s3://$b/big" "s3://$b/big.copy"
check s3cmd "mv" s3cmd mv -q "s3://$b/tree/f1.txt" "s3://$b/moved.txt"
check s3cmd "info of the move" s3cmd info "s3://$b/moved.txt"
check s3cmd "du" into "$work/s3cmd.du" s3cmd du "s3://$b"
check s3cmd "du counts the bytes" has "$work/s3cmd.du" "$(( (24 << 20) * 2 + $(stat -c %s "$work/tree/f1.txt") * 3 + $(stat -c %s "$work/tree/sub/deep.txt") ))"
check s3cmd "signurl + curl" bash -c "curl -sf \"\$(command s3cmd -c $work/s3cfg signurl s3://$b/moved.txt +300)\" -o $work/s3cmd.signed && cmp -s $work/tree/f1.txt $work/s3cmd.signed"
check s3cmd "del --recursive (DeleteObjects)" s3cmd del -q --recursive --force "s3://$b/"
check s3cmd "ls of the emptied bucket" into "$work/s3cmd.empty" s3cmd ls --recursive "s3://$b/"
check s3cmd "bucket is empty" bash -c "[ ! -s $work/s3cmd.empty ]"
check s3cmd "rb" s3cmd rb "s3://$b"

# ----------------------------------------------------------------- rclone
# provider Other at its defaults (lists with v1); the machines' AWS_CA_BUNDLE
# breaks it over plain HTTP, so it runs without.
b=mx-rclone-$tag
export RCLONE_CONFIG_OBJ_TYPE=s3 RCLONE_CONFIG_OBJ_PROVIDER=Other
export RCLONE_CONFIG_OBJ_ENDPOINT=$AWS_ENDPOINT_URL
export RCLONE_CONFIG_OBJ_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_OBJ_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export RCLONE_CONFIG_OBJ_FORCE_PATH_STYLE=true
rclone() { env -u AWS_CA_BUNDLE rclone --config /dev/null "$@"; }
# Listings go to a file first: a failed listing must fail, not look empty.
rls() { env -u AWS_CA_BUNDLE rclone --config /dev/null "$@" >"$work/rclone.lsf"; }
check rclone "mkdir" rclone mkdir "obj:$b"
# rclone's multipart cutoff is 200 MiB: lowered so the 24 MiB file goes in parts.
check rclone "copy 24 MiB (multipart)" rclone copy --s3-upload-cutoff 8M --s3-chunk-size 5M "$work/big" "obj:$b/"
check rclone "copy small (single part, MD5 checked)" rclone copy "$work/small.txt" "obj:$b/"
check rclone "sync up" rclone sync "$work/tree" "obj:$b/tree"
check rclone "ls" into "$work/rclone.ls" rclone ls "obj:$b"
check rclone "listing holds tree/sub/deep.txt" has "$work/rclone.ls" "tree/sub/deep.txt"
check rclone "lsd rolls up tree/" bash -c "env -u AWS_CA_BUNDLE rclone --config /dev/null lsd obj:$b | grep -q ' tree$'"
check rclone "check (hashes match)" rclone check "$work/tree" "obj:$b/tree"
check rclone "copyto (server-side CopyObject)" rclone copyto "obj:$b/big" "obj:$b/big.copy"
check rclone "cat of the copy, identical" bash -c "env -u AWS_CA_BUNDLE rclone --config /dev/null cat obj:$b/big.copy >$work/rclone.big && cmp -s $work/big $work/rclone.big"
check rclone "moveto" rclone moveto "obj:$b/small.txt" "obj:$b/moved.txt"
check rclone "lsf after the move" rls lsf "obj:$b"
check rclone "the move's source is gone, its target there" bash -c "! grep -qx small.txt $work/rclone.lsf && grep -qx moved.txt $work/rclone.lsf"
check rclone "link (presigned) + curl" bash -c "curl -sf \"\$(env -u AWS_CA_BUNDLE rclone --config /dev/null link obj:$b/moved.txt)\" -o $work/rclone.link && cmp -s $work/small.txt $work/rclone.link"
check rclone "delete" rclone delete "obj:$b"
check rclone "lsf -R after the delete" rls lsf -R --files-only "obj:$b"
check rclone "nothing left" bash -c "[ ! -s $work/rclone.lsf ]"
check rclone "purge" rclone purge "obj:$b"

echo "client matrix: $passed passed, $failed failed"
[ "$failed" = 0 ]
