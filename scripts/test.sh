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
fail() { [ "$status" -ne 0 ] || status=1; }

# The HTML report's browser test needs Chromium (scripts/tools.sh installs it); without it the test
# passes as skipped, which nextest does not show: say so here, where it is seen.
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "test: !!! WARNING: no chromium: the HTML report is NOT rendered in a browser (drctl's tests/report.rs skips; with CI=true it fails) !!!" >&2
fi

# Issue 12: drctl's default build (a new user's first `cargo run -p drctl -- drill ...`) has no AWS
# SDK; the AWS commands sit behind its `aws` feature. Fails if an aws-* crate (aws-sdk-*,
# aws-smithy-*, aws-lc-*, ...) comes back into that build, on any platform.
echo "test: cargo tree -p drctl -e normal --target all: no aws-* crate without the aws feature"
if tree=$(cargo tree -p drctl -e normal --target all --prefix none); then
  if ! grep -q '^drctl ' <<<"$tree"; then
    echo "test: cargo tree printed no drctl tree" >&2; fail
  elif aws=$(grep -E '^aws-' <<<"$tree" | sed 's/ (\*)$//' | sort -u) && [ -n "$aws" ]; then
    echo "test: drctl's default build pulls in AWS crates; make them optional, behind the aws feature:" >&2
    echo "$aws" >&2
    fail
  fi
else
  fail
fi

# The AWS commands are built and tested: drctl's aws feature is on for the workspace run.
echo "test: cargo nextest run --workspace --features drctl/aws --no-fail-fast $*"
cargo nextest run --workspace --features drctl/aws --no-fail-fast "$@" || status=$?

# And without it, each AWS command answers how to rebuild (crates/drctl/tests/aws.rs). Only with
# the full suite: extra arguments select tests of the run above.
if [ "$#" -eq 0 ]; then
  echo "test: cargo nextest run -p drctl --test aws (default features, no AWS SDK)"
  cargo nextest run -p drctl --test aws --no-fail-fast || { code=$?; [ "$status" -ne 0 ] || status=$code; }
else
  echo "test: skipped drctl's default-feature tests (extra arguments given)"
fi

echo "test: cargo deny check licenses bans sources"
cargo-deny --log-level error check licenses bans sources || fail

if [ -f "$root/infra/template.yaml" ]; then
  "$root/scripts/lint-infra.sh" || fail
fi

if [ "$status" -ne 0 ]; then
  echo "test: FAILED (exit $status)" >&2
else
  echo "test: all passed"
fi
exit "$status"
