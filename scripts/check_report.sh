#!/usr/bin/env bash
# Screenshot of a report.html in headless Chromium, to look at it:
#
#   scripts/check_report.sh REPORT.html [OUT.png]     (default OUT: REPORT.png next to it)
#
# The same command as the report_html test (hls_tests/report.rs). Window 1280×2000; set
# WINDOW=1280,3000 for a taller page and CHROMIUM=/path/to/chromium to choose the browser.
# Chromium comes from scripts/deps.sh. Gives up after 60 s.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 REPORT.html [OUT.png]" >&2
    exit 2
fi
html=$1
[ -f "$html" ] || { echo "$html: no such file" >&2; exit 1; }
out=${2:-${html%.html}.png}
browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
    for b in chromium chromium-browser; do
        if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
    done
fi
[ -n "$browser" ] || { echo "chromium not found: run scripts/deps.sh" >&2; exit 1; }
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$abs_out"
timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$abs_out" --window-size="${WINDOW:-1280,2000}" \
    "file://$abs_html" >/dev/null 2>"$profile/stderr" || {
    echo "chromium failed (exit $?):" >&2; cat "$profile/stderr" >&2; exit 1; }
[ -s "$abs_out" ] || { echo "no screenshot written" >&2; cat "$profile/stderr" >&2; exit 1; }
echo "$abs_out"
