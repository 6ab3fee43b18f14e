#!/usr/bin/env bash
# Runs moto's AWS-compatible server on loopback for the AWS executor tests.
#
#   scripts/moto.sh start   create .venv if missing, install moto[server] and cfn-lint, start moto
#                           (one request at a time: scripts/moto_server.py), print exports; when
#                           this script's moto already serves the port, say so and print the exports
#   scripts/moto.sh stop    stop the server that `start` started on the port, and no other
#   scripts/moto.sh env     print the exports for a running server
#
# MOTO_PORT (default 5077) chooses the port; the state is per port, so servers on several ports run
# side by side: the pid file is .venv/moto-PORT.pid, the log .venv/moto-PORT.log. The server loads AWS's
# managed policies (MOTO_IAM_LOAD_MANAGED_POLICIES=true), so that attaching e.g.
# AWSCompromisedKeyQuarantineV3 works as in a real account.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PORT="${MOTO_PORT:-5077}"
PIDFILE="$VENV/moto-$PORT.pid"
LOG="$VENV/moto-$PORT.log"
# Before the state was per port, one pid file served every port.
LEGACY_PIDFILE="$VENV/moto.pid"
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

# Whether process $1 is the moto_server this script starts on $PORT (a pid can be reused).
ours() {
    kill -0 "$1" 2>/dev/null || return 1
    case "$(ps -o args= -p "$1" 2>/dev/null)" in
        *"moto_server.py 127.0.0.1 $PORT") return 0 ;;
        *) return 1 ;;
    esac
}

# The pid of this script's server on $PORT, or nothing; a stale pid file is removed, and the legacy
# pid file is taken over when it names the server on $PORT.
running_pid() {
    if [ ! -f "$PIDFILE" ] && [ -f "$LEGACY_PIDFILE" ] && ours "$(cat "$LEGACY_PIDFILE")"; then
        mv "$LEGACY_PIDFILE" "$PIDFILE"
    fi
    [ -f "$PIDFILE" ] || return 0
    local pid
    pid="$(cat "$PIDFILE")"
    if ours "$pid"; then
        echo "$pid"
    else
        rm -f "$PIDFILE"
    fi
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
    local pid
    pid="$(running_pid)"
    if [ -n "$pid" ]; then
        # Ours already, or still starting (another `start` on this port): wait for it, start no second.
        echo "moto already runs on port $PORT (pid $pid, $PIDFILE)" >&2
    elif answers; then
        echo "port $PORT already answers, but not with a moto started by this script (no $PIDFILE);" \
            "stop that server or choose another MOTO_PORT" >&2
        exit 1
    else
        # One request at a time: moto's conditional writes are atomic only then (see moto_server.py).
        MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_PORT="$PORT" nohup "$VENV/bin/python" "$ROOT/scripts/moto_server.py" 127.0.0.1 "$PORT" >"$LOG" 2>&1 &
        pid=$!
        echo "$pid" >"$PIDFILE"
    fi
    for _ in $(seq 1 100); do
        if answers; then
            exports
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "moto_server on port $PORT exited; see $LOG" >&2
            tail -20 "$LOG" >&2 || true
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.2
    done
    echo "moto_server did not answer on port $PORT within 20 s; see $LOG" >&2
    exit 1
}

stop() {
    local pid
    pid="$(running_pid)"
    if [ -z "$pid" ]; then
        echo "no moto started by this script serves port $PORT" >&2
        return
    fi
    kill "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "moto on port $PORT (pid $pid) did not stop within 5 s" >&2
        exit 1
    fi
    rm -f "$PIDFILE"
    echo "moto on port $PORT stopped" >&2
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
