#!/bin/sh
# The benchmark matrix behind bench/RESULTS.md: bodies × connections × pipelines with Rotel,
# then 30 s of overload. Needs `cargo build --release --workspace` first. Usage: bench/matrix.sh [OUT.jsonl]
cd "$(dirname "$0")/.."
B=./target/release/otelgate-bench
J=${1:-bench/results.jsonl}
rm -f $J
CFG="--config examples/nop.yaml --config bench/configs/codex-relay-file.yaml --config bench/configs/codex-relay-memory.yaml --config bench/configs/codex-relay-disk.yaml"
# The relay as the README tells a team to deploy it (auth → redact with six patterns → minware
# on the fsync'd disk queue + the gzip-rotated archive), only its address, upstream and key store
# placed by the harness; the refused-request count is the non2xx column.
for body in codex-100k-pretty codex-100k; do
  for c in 16 64; do
    echo "=== shipped examples/minware-relay.yaml: $body, $c connections"; $B compare --with-peers --connections $c --body $body --config examples/minware-relay.yaml --seconds 5 --json $J
  done
done
# Overload as shipped: 256 connections for 30 s (memory must stay flat: first half vs second half).
echo "=== shipped examples/minware-relay.yaml: codex-100k-pretty, 256 connections, 30 s"; $B compare --with-peers --connections 256 --body codex-100k-pretty --config examples/minware-relay.yaml --seconds 30 --json $J
echo "=== secret patterns: codex-100k, 16 connections"; $B compare --with-peers --connections 16 --config bench/configs/codex-relay-memory.yaml --config bench/configs/codex-relay-patterns.yaml --seconds 5 --json $J
for c in 16 1 64; do
  echo "=== codex-100k, $c connections"; $B compare --with-peers --connections $c $CFG --seconds 5 --json $J
done
for body in codex-100k-pretty small traces-1m; do
  echo "=== $body, 16 connections"; $B compare --with-peers --connections 16 --body $body --config examples/nop.yaml --config bench/configs/codex-relay-memory.yaml --seconds 5 --json $J
done
echo "=== overload: codex-100k, 256 connections, 30 s"; $B compare --with-peers --connections 256 --config bench/configs/codex-relay-memory.yaml --config bench/configs/codex-relay-bounded.yaml --seconds 30 --json $J
echo "=== one plugin processor hop: codex-100k, 16 connections"; $B compare --connections 16 --config examples/nop.yaml --config bench/configs/plugin-unchanged.yaml --config bench/configs/plugin-hello.yaml --seconds 5 --json $J
