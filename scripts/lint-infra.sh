#!/usr/bin/env bash
# Lint the infrastructure definitions (each step only if its file exists):
#   cfn-lint infra/template.yaml
#   sam validate --lint -t infra/template.yaml --region us-east-1
#   checkov -f infra/template.yaml                    (every check passes or is skipped in the
#                                                      template with its reason)
#   asl-validator --json-path infra/<name>.asl.json   (every *.asl.json in infra/, ${Partition} = aws)
# Needs the tools from scripts/tools.sh. Runs fully offline; no AWS account.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/.venv"
asl_validator="$root/tools/node/node_modules/.bin/asl-validator"
template=infra/template.yaml
rc=0

if [ -f "$template" ]; then
  echo "lint: cfn-lint $template"
  "$venv/bin/cfn-lint" "$template" || rc=1

  echo "lint: sam validate --lint -t $template"
  # sam needs no credentials for this, but dummy ones guarantee it never picks up
  # a real profile; telemetry off so it makes no network calls.
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
    SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint -t "$template" --region us-east-1 || rc=1

  echo "lint: checkov -f $template"
  # --skip-download: the checks that ship with the pinned version, nothing fetched.
  "$venv/checkov/bin/checkov" -f "$template" --framework cloudformation --compact --quiet \
    --skip-download || rc=1
fi

shopt -s nullglob
# The task resources name their partition through the template's DefinitionSubstitutions
# (`arn:${Partition}:states:::lambda:invoke`); asl-validator checks a Resource as an ARN, so it
# reads the definition with the partition filled in as CloudFormation would (ARN checks stay on).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for asl in infra/*.asl.json; do
  echo "lint: asl-validator --json-path $asl (\${Partition} = aws)"
  substituted="$scratch/$(basename "$asl")"
  sed 's/\${Partition}/aws/g' "$asl" >"$substituted"
  "$asl_validator" --json-path "$substituted" || rc=1
done

if [ "$rc" -ne 0 ]; then
  echo "lint: FAILED" >&2
fi
exit "$rc"
