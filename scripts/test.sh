#!/usr/bin/env bash
# Runs every test, the AWS executor tests included, against moto on loopback.
# Starts moto (scripts/moto.sh), exports the AWS environment pointing at it, runs
# `cargo test --all-targets` and the doctests (README examples), and stops moto on exit. A headless
# Chromium for the HTML report's test is installed when missing (scripts/browser.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/browser.sh
trap 'scripts/moto.sh stop' EXIT
eval "$(scripts/moto.sh start)"
echo "moto answers at $AWS_ENDPOINT_URL" >&2

cargo test --all-targets --all-features "$@"
cargo test --doc --all-features "$@"
