#!/usr/bin/env bash
# Runs moto's AWS-compatible server on loopback for the AWS executor tests.
#
#   scripts/moto.sh start   create .venv if missing, install moto[server] and cfn-lint, start moto
#                           (one request at a time: scripts/moto_server.py), print exports
#   scripts/moto.sh stop    stop the server started by `start`
#   scripts/moto.sh env     print the exports for a running server
#
# MOTO_PORT (default 5077) chooses the port. The pid file is .venv/moto.pid. The server loads AWS's
# managed policies (MOTO_IAM_LOAD_MANAGED_POLICIES=true), so that attaching e.g.
# AWSCompromisedKeyQuarantineV3 works as in a real account.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PORT="${MOTO_PORT:-5077}"
PIDFILE="$VENV/moto.pid"
LOG="$VENV/moto.log"
MOTO_VERSION="5.1.22"
# The linter of deploy/ (scripts/lint-deploy.sh), installed next to moto.
CFN_LINT_VERSION="1.51.0"

exports() {
    cat <<EOT
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export REMEDY_MOTO=1
EOT
}

answers() {
    python3 - "$PORT" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except Exception:
    sys.exit(1)
PY
}

start() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
    fi
    if ! "$VENV/bin/cfn-lint" --version 2>/dev/null | grep -q "cfn-lint $CFN_LINT_VERSION"; then
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" >&2
    fi
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && answers; then
        exports
        return
    fi
    # One request at a time: moto's conditional writes are atomic only then (see moto_server.py).
    MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_PORT="$PORT" nohup "$VENV/bin/python" "$ROOT/scripts/moto_server.py" 127.0.0.1 "$PORT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
        if answers; then
            exports
            return
        fi
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            echo "moto_server exited; see $LOG" >&2
            tail -20 "$LOG" >&2 || true
            exit 1
        fi
        sleep 0.2
    done
    echo "moto_server did not answer on port $PORT within 20 s; see $LOG" >&2
    exit 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        pid="$(cat "$PIDFILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$PIDFILE"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) exports ;;
    *)
        echo "usage: $0 start|stop|env" >&2
        exit 2
        ;;
esac
