#!/usr/bin/env bash
# Makes sure a headless browser is there for the tests that open an HTML report (remedy replay
# --html): Debian's `chromium`, installed with apt-get when it is missing and this user may
# install packages. Never fails the run: without a browser those tests say they only checked the
# HTML as text.
set -uo pipefail

for browser in chromium chromium-browser google-chrome; do
    if command -v "$browser" >/dev/null 2>&1; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: no chromium and no apt-get; the report tests check HTML as text only" >&2
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "browser.sh: no chromium and no right to install it; the report tests check HTML as text only" >&2
    exit 0
fi
echo "browser.sh: installing chromium (headless checks of the HTML report)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
    || echo "browser.sh: could not install chromium; the report tests check HTML as text only" >&2
exit 0
