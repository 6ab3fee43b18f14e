#!/usr/bin/env bash
# Repeats the README's cold timings: the quick start's first command and/or the test command, from
# a fresh clone of this repository's HEAD with an empty target directory (crates already
# downloaded: `cargo fetch --locked` first, so the figure is the build, not the network).
#
#   scripts/time-cold.sh [quickstart|tests|both]     (default: quickstart)
#
# Prints one line per command: wall time, CPU time (user + system) and the command. Run it on an
# idle machine: the figures are only as good as the machine is quiet. The clone is removed at the
# end. `tests` reuses this repository's .venv (moto) and runs moto on MOTO_PORT (default 5099).
set -euo pipefail

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
WHAT="${1:-quickstart}"
case "$WHAT" in
    quickstart | tests | both) ;;
    *)
        echo "usage: $0 [quickstart|tests|both]" >&2
        exit 2
        ;;
esac

# The clone sits next to this repository, so that its tests find the shared corpus at
# ../shared/findings as this repository's do (without it, the corpus and replay tests say they
# did not run).
WORK="$(mktemp -d "$(dirname "$ROOT")/.remedy-cold.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
git clone --quiet "$ROOT" "$WORK"
cd "$WORK"
unset CARGO_TARGET_DIR
cargo fetch --locked --quiet

# timed NAME COMMAND...: runs COMMAND with its output in NAME.log and prints the figures.
timed() {
    local name="$1"
    shift
    if ! /usr/bin/time -o "$name.time" -f '%e %U %S' "$@" >"$name.log" 2>&1; then
        echo "$name failed; its output:" >&2
        tail -n 30 "$name.log" >&2
        exit 1
    fi
    read -r wall user sys <"$name.time"
    awk -v w="$wall" -v u="$user" -v s="$sys" -v c="$*" \
        'BEGIN { printf "%.1f s wall (%d min %d s), %.0f s CPU: %s\n", w, int(w / 60), w - 60 * int(w / 60), u + s, c }'
}

if [ "$WHAT" != tests ]; then
    timed quickstart cargo run --no-default-features --features cli --bin remedy -- \
        run policies examples/findings/*.json
    tail -n 2 quickstart.log
fi
if [ "$WHAT" != quickstart ]; then
    if [ -d "$ROOT/.venv" ]; then
        ln -s "$ROOT/.venv" .venv
    fi
    export MOTO_PORT="${MOTO_PORT:-5099}"
    timed tests scripts/test.sh
    grep -E '^test result' tests.log | awk '{ passed += $4; failed += $6 } END { print passed " passed, " failed " failed" }'
fi
