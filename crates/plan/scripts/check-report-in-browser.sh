#!/usr/bin/env bash
# Looks at the fleet-plan report in a real browser: runs `tokenfab plan` on the built-in scenario
# with what-ifs, then takes headless-Chromium screenshots of report.html (top, middle, bottom).
# Open the PNGs and check that charts, legends and tables are readable (docs/PLANNER.md).
# Skipped (exit 0) when chromium is not installed: `apt-get update && apt-get install -y chromium`.
#
# usage: crates/plan/scripts/check-report-in-browser.sh [OUT_DIR]   (run from the repo root)
set -euo pipefail
out="${1:-out/plan-browser-check}"
chrome="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$chrome" ]; then
    echo "skip: chromium not found (apt-get update && apt-get install -y chromium)"
    exit 0
fi
bin="${TOKENFAB:-}"
if [ -z "$bin" ]; then
    cargo build -q -p tokenfab
    bin="target/debug/tokenfab"
fi
mkdir -p "$out"
"$bin" plan --out "$out/plan" --delay nvidia=2 --demand-scale 20 --asic-efficiency -20 \
    --site-cap own-campus=8000 -q
html="$(cd "$out/plan" && pwd)/report.html"
profile="$(mktemp -d)"
trap 'rm -rf "$profile" "$out/plan/.offset.html"' EXIT
# Headless screenshots show the top of the page only: shift the body up to see further down.
for offset in 0 2300 4600; do
    sed "s|</style>|body{margin-top:-${offset}px}</style>|" "$html" > "$out/plan/.offset.html"
    "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
        --screenshot="$out/report-$offset.png" --window-size=1400,2400 \
        "file://$(cd "$out/plan" && pwd)/.offset.html" > /dev/null 2>&1
    size=$(stat -c %s "$out/report-$offset.png")
    if [ "$size" -lt 20000 ]; then
        echo "error: $out/report-$offset.png is only $size bytes: the page did not render" >&2
        exit 1
    fi
    echo "wrote $out/report-$offset.png ($size bytes)"
done
