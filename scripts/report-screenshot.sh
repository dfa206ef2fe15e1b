#!/usr/bin/env bash
# Regenerates docs/report.png, the picture of the report in README.md and docs/cli.md: the HTML
# report of the three-tier drill (`drctl drill examples/three-tier.json`), its top (summary,
# objectives, timeline), as headless Chromium shows it. Needs chromium (scripts/tools.sh installs
# Debian's; or CHROMIUM=/path/to/chrome).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

chromium=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$chromium" ]; then
  echo "report-screenshot: no chromium (scripts/tools.sh installs it, or set CHROMIUM)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo run -q -p drctl -- drill examples/three-tier.json --speed 0 --report "$work/report.html" >/dev/null
# As the browser test starts it: headless, no sandbox (root), nothing that reaches the network.
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --force-device-scale-factor=1 \
  --window-size=1100,1110 --screenshot="$root/docs/report.png" "file://$work/report.html" \
  2>/dev/null
echo "report-screenshot: wrote docs/report.png"
