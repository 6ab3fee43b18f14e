#!/usr/bin/env bash
# Tries the production path on one machine, against moto: creates the SQS queue (with its
# dead-letter queue), the DynamoDB state table and the SNS topic the worker's configuration names,
# the IAM user and role the bundled findings are about, writes remedy.toml for them, sends the
# bundled findings (examples/findings/*.json) to the queue as EventBridge events, runs
# `remedy worker --execute` until the queue is empty, and prints `remedy audit summary` of the trail.
#
#   scripts/try-worker.sh
#
# AWS_ENDPOINT_URL: an endpoint already running (moto); without it, moto on MOTO_PORT (default 5077)
#                   through scripts/moto.sh, stopped at the end when this script started it.
# REMEDY:           the remedy command (default: `cargo run --locked --quiet --features sqs --bin remedy --`).
# TRY_DIR:          where remedy.toml, the audit trail and the records go (default: target/try-worker;
#                   the files of an earlier run there are replaced).
# Every name carries this run's suffix, so runs do not see each other's queue, table or ledger.
# Runs share the IAM user and role the findings name, and TRY_DIR's files: one run at a time per
# TRY_DIR and per endpoint (a second one stops at once, saying so).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
TRY_DIR="${TRY_DIR:-target/try-worker}"
read -r -a REMEDY <<<"${REMEDY:-cargo run --locked --quiet --manifest-path $ROOT/Cargo.toml --features sqs --bin remedy --}"

# Takes an exclusive lock on what descriptor $1 opened, held until this script ends, or stops:
# another run uses $2.
hold() {
    if ! flock -n "$1"; then
        echo "try-worker: another run uses $2; wait for it to end, or give this one its own TRY_DIR and MOTO_PORT" >&2
        exit 1
    fi
}
mkdir -p "$TRY_DIR"
exec 8>"$TRY_DIR/.lock"
hold 8 "$TRY_DIR"

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
    said="$(mktemp)"
    # (moto may outlive this script: it does not inherit the lock.)
    exports="$("$ROOT/scripts/moto.sh" start 2>"$said" 8>&-)" || {
        cat "$said" >&2
        exit 1
    }
    # Stopped at the end only when this script started it.
    if ! grep -q "already runs" "$said"; then
        trap '"$ROOT/scripts/moto.sh" stop 2>/dev/null' EXIT
    fi
    rm -f "$said"
    eval "$exports"
fi
exec 9>"${TMPDIR:-/tmp}/remedy-try-worker-$(printf %s "$AWS_ENDPOINT_URL" | tr -c 'A-Za-z0-9' _).lock"
hold 9 "$AWS_ENDPOINT_URL"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION" # boto3 reads this one
unset AWS_PROFILE
if [ ! -x "$PYTHON" ]; then
    echo "no $PYTHON: run scripts/moto.sh start once (it creates the venv with boto3)" >&2
    exit 1
fi

rm -f "$TRY_DIR/remedy.toml" "$TRY_DIR/audit.jsonl" "$TRY_DIR/records.jsonl" "$TRY_DIR/names"
SUFFIX="$(date +%s)-$$"

# The queue, its dead-letter queue, the topic (with a queue subscribed, to count what reached it),
# the user and role the findings name; the events, with the user's new key, in events/.
"$PYTHON" - "$ROOT/examples/findings" "$TRY_DIR" "$SUFFIX" <<'PY'
import glob, json, os, sys
import boto3

findings, out, suffix = sys.argv[1:4]
sqs, sns, iam = boto3.client("sqs"), boto3.client("sns"), boto3.client("iam")

dlq = sqs.create_queue(QueueName=f"remedy-try-dlq-{suffix}")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
queue = sqs.create_queue(
    QueueName=f"remedy-try-{suffix}",
    Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
)["QueueUrl"]
topic = sns.create_topic(Name=f"remedy-try-security-{suffix}")["TopicArn"]
inbox = sqs.create_queue(QueueName=f"remedy-try-inbox-{suffix}")["QueueUrl"]
inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

# The user of the key finding, with a fresh key (older ones deleted), and the instance role.
user = "GuardDuty-Example-Compromised-Simulated"
try:
    iam.create_user(UserName=user)
except iam.exceptions.EntityAlreadyExistsException:
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
role = "web-server-role"
try:
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))
except iam.exceptions.EntityAlreadyExistsException:
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)

sent = 0
for path in sorted(glob.glob(os.path.join(findings, "*.json"))):
    body = open(path).read().replace("AKIAIOSFODNN7EXAMPLE", key)
    json.loads(body)  # each file is one EventBridge event
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    sent += 1

with open(os.path.join(out, "remedy.toml"), "w") as f:
    f.write(f"""# written by scripts/try-worker.sh for moto
[notify]
channels = {{ security = "{topic}" }}

[state]
dynamodb_table = "remedy-try-{suffix}"

[audit]
path = "audit.jsonl"
""")
with open(os.path.join(out, "names"), "w") as f:
    f.write(f"QUEUE={queue}\nDLQ={dlq}\nINBOX={inbox}\n")
print(f"try-worker: {sent} findings sent to the queue (the key finding names {user}'s new key {key})", file=sys.stderr)
PY
# shellcheck disable=SC1091
. "$TRY_DIR/names"

cd "$TRY_DIR"
"${REMEDY[@]}" state init --config remedy.toml >/dev/null
# The worker: executes (it is moto), exits once the queue is empty; records in records.jsonl.
"${REMEDY[@]}" worker --queue "$QUEUE" "$ROOT/policies" --config remedy.toml --execute \
    --exit-when-empty --wait-seconds 1 --visibility-seconds 10 >records.jsonl

"$PYTHON" - "$QUEUE" "$DLQ" "$INBOX" <<'PY'
import sys
import boto3

sqs = boto3.client("sqs")
def count(url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
queue, dlq, inbox = sys.argv[1:4]
print(f"try-worker: queue {count(queue)} left, dead-letter queue {count(dlq)}, "
      f"{count(inbox)} notifications on the topic", file=sys.stderr)
PY
"${REMEDY[@]}" audit summary audit.jsonl
