#!/usr/bin/env bash
# Idempotent installer for the test/lint tooling. Execute it, or source it to
# also get .venv/bin and tools/node/node_modules/.bin prepended to PATH.
#   - Python venv at <repo>/.venv with pinned moto[server], cfn-lint,
#     aws-sam-cli, cargo-lambda (+ ziglang)      (scripts/requirements-tools.txt)
#   - npm asl-validator in <repo>/tools/node     (tools/node/package-lock.json)
#   - checkov in <repo>/.venv/checkov             (pinned below)
#   - Debian's chromium (apt-get), for the HTML report's browser test
# Work is skipped when a stamp (hash of the pin files) matches.

_tools_main() (
  set -euo pipefail
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  venv="$root/.venv"
  req="$root/scripts/requirements-tools.txt"
  cons="$root/scripts/constraints-tools.txt"
  node_dir="$root/tools/node"

  hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

  # ---- Python tools -------------------------------------------------------
  py=""
  for cand in "${TOOLS_PYTHON:-}" python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      py=$cand; break
    fi
  done
  [ -n "$py" ] || { echo "tools: need Python >= 3.9 (python3.11 preferred)" >&2; exit 1; }

  py_stamp="$venv/.tools-stamp"
  want="$(hash_files "$req" "$cons")-$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ -x "$venv/bin/python" ] && [ -f "$py_stamp" ] && [ "$(cat "$py_stamp")" = "$want" ]; then
    echo "tools: python tools up to date (.venv)"
  else
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
      echo "tools: creating venv $venv ($("$py" --version 2>&1))"
      rm -rf "$venv"
      "$py" -m venv "$venv"
    fi
    echo "tools: pip installing pinned tools (moto, cfn-lint, aws-sam-cli, cargo-lambda)..."
    rm -f "$py_stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
    echo "$want" > "$py_stamp"
    echo "tools: python tools installed"
  fi

  # ---- Node tools ---------------------------------------------------------
  command -v npm >/dev/null 2>&1 || { echo "tools: npm not found (need Node >= 18)" >&2; exit 1; }
  node_stamp="$node_dir/node_modules/.tools-stamp"
  lock_files=("$node_dir/package.json")
  [ -f "$node_dir/package-lock.json" ] && lock_files+=("$node_dir/package-lock.json")
  want="$(hash_files "${lock_files[@]}")"
  if [ -f "$node_stamp" ] && [ "$(cat "$node_stamp")" = "$want" ] &&
     [ -x "$node_dir/node_modules/.bin/asl-validator" ]; then
    echo "tools: node tools up to date (tools/node)"
  else
    echo "tools: npm installing pinned tools (asl-validator)..."
    if [ -f "$node_dir/package-lock.json" ]; then
      (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
    want="$(hash_files "$node_dir/package.json" "$node_dir/package-lock.json")"
    echo "$want" > "$node_stamp"
    echo "tools: node tools installed"
  fi

  # ---- Chromium: the HTML report's browser test (crates/drctl/tests/report.rs) -------------
  # Debian's package, through apt-get (as root, or with sudo that asks no password). Not fatal:
  # without it that one test skips with a banner, except in CI (CI=true), where it fails.
  if command -v chromium >/dev/null 2>&1; then
    echo "tools: chromium present ($(command -v chromium))"
  elif command -v apt-get >/dev/null 2>&1; then
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
      else
        as_root=(false)
      fi
    fi
    if [ "${as_root[0]:-}" = false ]; then
      echo "tools: chromium is missing and apt-get needs root (no password-less sudo): install Debian's chromium package by hand" >&2
    else
      echo "tools: apt-get installing chromium (Debian's package, for the HTML report's browser test)..."
      log=$(mktemp)
      if "${as_root[@]}" apt-get update -q >"$log" 2>&1 &&
         DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1; then
        echo "tools: chromium installed"
      else
        echo "tools: apt-get could not install chromium; its output:" >&2
        tail -n 20 "$log" >&2
      fi
      rm -f "$log"
    fi
  else
    echo "tools: chromium is missing and there is no apt-get: install Chromium (or set CHROMIUM=/path/to/chrome)" >&2
  fi

  # ---- checkov, in a venv of its own (its pins would fight moto's and cfn-lint's) ----
  checkov_version=3.3.30
  checkov_venv="$venv/checkov"
  if [ -x "$checkov_venv/bin/checkov" ] && [ "$("$checkov_venv/bin/checkov" --version 2>/dev/null)" = "$checkov_version" ]; then
    echo "tools: checkov $checkov_version up to date"
  else
    echo "tools: pip installing checkov $checkov_version (.venv/checkov)..."
    rm -rf "$checkov_venv"
    "$py" -m venv "$checkov_venv"
    "$checkov_venv/bin/python" -m pip install --disable-pip-version-check --no-input -q "checkov==$checkov_version"
  fi

  # ---- Rust tools (crates.io; built once, kept in .venv/cargo-tools) -------
  deny_version=0.20.2
  deny_bin="$root/.venv/cargo-tools/bin/cargo-deny"
  if [ -x "$deny_bin" ] && "$deny_bin" --version 2>/dev/null | grep -q " $deny_version\$"; then
    echo "tools: cargo-deny $deny_version up to date"
  else
    echo "tools: building cargo-deny $deny_version (a few minutes, once)..."
    cargo install --quiet --locked --version "$deny_version" --root "$root/.venv/cargo-tools" cargo-deny
  fi
)

if _tools_main; then
  _tools_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  case ":$PATH:" in
    *":$_tools_root/.venv/bin:"*) ;;
    *) PATH="$_tools_root/.venv/bin:$_tools_root/.venv/cargo-tools/bin:$_tools_root/tools/node/node_modules/.bin:$PATH" ;;
  esac
  export PATH
  unset _tools_root
  unset -f _tools_main
else
  _tools_rc=$?
  unset -f _tools_main
  # return when sourced, exit when executed
  return "$_tools_rc" 2>/dev/null || exit "$_tools_rc"
fi
