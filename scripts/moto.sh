#!/usr/bin/env bash
# Start/stop a local moto server (DynamoDB, EC2, Step Functions, ... mocks).
#   scripts/moto.sh start   -> target/moto.port, target/moto.pid, target/moto.log
#   scripts/moto.sh stop
#   scripts/moto.sh status
# Step Functions *execution* is enabled via POST /moto-api/config
# ({"stepfunctions":{"execute_state_machine":true}}); this happens before any
# client call, because moto keeps state machines in a different backend then.
# Env: MOTO_PORT_REQUEST=<port> to force a port; MOTO_LAMBDA_DOCKER=1 to keep
# the Docker-based Lambda backend (needs a Docker daemon).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
dir="$root/target"
port_file="$dir/moto.port"
pid_file="$dir/moto.pid"
log_file="$dir/moto.log"
host=127.0.0.1

is_running() {
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

stop() {
  if [ -f "$pid_file" ]; then
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
      echo "moto: stopped (pid $pid)"
    fi
    rm -f "$pid_file"
  fi
  rm -f "$port_file"
}

start() {
  [ -x "$venv/bin/moto_server" ] || { echo "moto: $venv/bin/moto_server missing; run scripts/tools.sh" >&2; exit 1; }
  mkdir -p "$dir"
  if is_running && [ -f "$port_file" ]; then
    echo "moto: already running on port $(cat "$port_file") (pid $(cat "$pid_file"))"
    return 0
  fi
  stop >/dev/null 2>&1 || true

  port=${MOTO_PORT_REQUEST:-$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
  # Dummy credentials/region so nothing ever looks for real AWS config.
  # MOTO_PORT must be set for the server itself: Step Functions task states
  # (lambda:invoke, dynamodb:*, aws-sdk:*) call back into http://localhost:$MOTO_PORT.
  MOTO_PORT=$port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
    nohup "$venv/bin/python" "$root/scripts/moto_server.py" -H "$host" -p "$port" >"$log_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$pid_file"

  url="http://$host:$port"
  deadline=$((SECONDS + 30))
  until curl -sf -o /dev/null "$url/moto-api/data.json"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto: server exited during startup; log:" >&2; tail -n 20 "$log_file" >&2
      rm -f "$pid_file"; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "moto: not answering on $url after 30 s; log:" >&2; tail -n 20 "$log_file" >&2
      stop; exit 1
    fi
    sleep 0.2
  done

  # Enable real Step Functions execution. Unless MOTO_LAMBDA_DOCKER=1, also
  # switch Lambda to moto's Docker-free "lambda-simple" backend: Invoke (also
  # from SFN lambda:invoke tasks) then echoes the payload, or returns the next
  # queued result from POST /moto-api/static/lambda-simple/response.
  # The response only echoes batch/lambda config, so success = HTTP status.
  if [ "${MOTO_LAMBDA_DOCKER:-0}" = 1 ]; then
    cfg='{"stepfunctions":{"execute_state_machine":true}}'
  else
    cfg='{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}'
  fi
  if ! curl -sf -o /dev/null -X POST "$url/moto-api/config" \
       -H 'Content-Type: application/json' -d "$cfg"; then
    echo "moto: failed to configure moto ($cfg)" >&2; stop; exit 1
  fi
  echo "$port" > "$port_file"
  echo "moto: running on $url (pid $pid, log target/moto.log)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if is_running; then echo "moto: running on port $(cat "$port_file" 2>/dev/null) (pid $(cat "$pid_file"))"
    else echo "moto: not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
