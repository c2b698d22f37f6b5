#!/usr/bin/env bash
# The usage ledger's cost per request on the relay path, in instructions (callgrind), with
# and without `track_usage`: auth (key store) → redact → nop, N Codex log requests each way,
# and a run with no request to take start-up and shutdown out. Instruction counts, not time:
# the machine's noise does not move them.
#   bench/usage_cost.sh [N]        (needs valgrind; builds the release binary)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
cargo build --release -q
BIN=$PWD/target/release/otelgate
BODY=$PWD/tests/fixtures/corpus/codex/codex-logs-2.json
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
KEY=$(cd "$W" && "$BIN" keys --store keys.yaml create --user bench --role owner 2>/dev/null)
PORT=$((20000 + RANDOM % 10000))

run() { # track_usage requests → total instructions
  cat > "$W/p.yaml" <<YAML
receivers: { otlp_http: { endpoint: 127.0.0.1:$PORT } }
processors:
  auth: { store: ./keys.yaml, track_usage: $1 }
  redact: { prompts: redact, tool_content: redact }
exporters: { nop: {} }
pipelines:
  logs: { receivers: [otlp_http], processors: [auth, redact], exporters: [nop] }
YAML
  (cd "$W" && valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" "$BIN" run -c p.yaml >/dev/null 2>"$W/vg.err") &
  local pid=$!
  for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
  for _ in $(seq "$2"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -H "authorization: Bearer $KEY" \
      --data-binary @"$BODY" "http://127.0.0.1:$PORT/v1/logs")
    [ "$code" = 200 ] || { echo "a request got $code, not 200: the figures would not be the relay path" >&2; exit 1; }
  done
  pkill -TERM -f "callgrind-out-file=$W/cg.out" || true
  wait "$pid" || true
  grep -E '^(summary|totals):' "$W/cg.out" | head -1 | awk '{print $2}'
}

on0=$(run true 0); onN=$(run true "$N")
off0=$(run false 0); offN=$(run false "$N")
awk -v n="$N" -v on0="$on0" -v onN="$onN" -v off0="$off0" -v offN="$offN" 'BEGIN {
  on = (onN - on0) / n; off = (offN - off0) / n
  printf "per request: track_usage true %.0f instr, false %.0f instr, ratio %.4f (%+.2f %%)\n", on, off, on / off, (on / off - 1) * 100
}'
