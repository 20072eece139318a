#!/bin/bash
# How long `alpa-serve-like serve` (the HAProxy gate in front, its default) takes to stop on SIGTERM.
# Starts it on examples/placement_tiny.json (port 8000; Ray local), waits for /health, sends one
# request, then SIGTERM, and prints the seconds until the command exited. Run from the repository
# root after the README's install, under the shared lock:
#     flock /tmp/ray.lock bash benchmarks/serve_stop_time.sh
set -u
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
log=$(mktemp)
.venv/bin/alpa-serve-like serve --placement examples/placement_tiny.json --port 8000 > "$log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do curl -sf http://127.0.0.1:8000/health > /dev/null && break; sleep 2; done
curl -sf -X POST http://127.0.0.1:8000/v1/models/bert-tiny-0/infer -d '{"input": {"length": 8}}' > /dev/null \
  || { echo "the server did not answer (its log: $log)"; kill -TERM $pid; exit 1; }
t0=$(date +%s.%N)
kill -TERM $pid
wait $pid
status=$?
t1=$(date +%s.%N)
echo "exit status $status; stopped $(python3 -c "print(round($t1 - $t0, 1))") s after SIGTERM (server log: $log)"
