#!/usr/bin/env bash
# Lints the CloudFormation template in deploy/ with cfn-lint (pinned; installed into .venv by
# `scripts/moto.sh start` or by this script). Exits 0 with a message when cfn-lint cannot be
# installed here (no network): the lint is skipped, not passed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CFN_LINT_VERSION="1.51.0"

installed() {
    "$VENV/bin/cfn-lint" --version 2>/dev/null | grep -q "cfn-lint $CFN_LINT_VERSION"
}

if ! installed; then
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" || true
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" >&2 || true
fi
if ! installed; then
    echo "skipped: cfn-lint $CFN_LINT_VERSION is not available (pip install cfn-lint==$CFN_LINT_VERSION)" >&2
    exit 0
fi
exec "$VENV/bin/cfn-lint" "$ROOT"/deploy/*.yaml
