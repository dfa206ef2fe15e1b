#!/usr/bin/env bash
# THE test command: installs tools (idempotent), starts moto, runs every test.
#   scripts/test.sh [extra cargo-nextest args...]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# shellcheck source=scripts/tools.sh
source "$root/scripts/tools.sh"   # also puts .venv/bin and tools/node/.bin on PATH

cleanup() { "$root/scripts/moto.sh" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$root/scripts/moto.sh" start
MOTO_PORT=$(cat "$root/target/moto.port")
MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export MOTO_PORT MOTO_ENDPOINT
# Dummy credentials/region: tests must never reach real AWS.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
       AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

status=0
echo "test: cargo nextest run --workspace --no-fail-fast $*"
cargo nextest run --workspace --no-fail-fast "$@" || status=$?

echo "test: cargo deny check licenses bans sources"
cargo-deny --log-level error check licenses bans sources || { [ "$status" -ne 0 ] || status=1; }

if [ -f "$root/infra/template.yaml" ]; then
  "$root/scripts/lint-infra.sh" || { [ "$status" -ne 0 ] || status=1; }
fi

if [ "$status" -ne 0 ]; then
  echo "test: FAILED (exit $status)" >&2
else
  echo "test: all passed"
fi
exit "$status"
