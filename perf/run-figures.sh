#!/usr/bin/env bash
# Runs every 'gateway bench' measurement quoted in perf/README.md, writes one JSON per run into
# perf/results/, then draws perf/plots/*.png from them. Takes about 10 minutes on 2 shared cores (setup of the 4M tables included).
# Usage: perf/run-figures.sh [seconds per run, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-5}"
results=perf/results
mkdir -p "$results"

dotnet build src/Gateway.Cli -c Release -v quiet -nologo >/dev/null
gw=src/Gateway.Cli/bin/Release/net10.0/gateway

run() { # name, then gateway bench options (--duration defaults to the script's argument)
  local name="$1"; shift
  local args=("$@")
  [[ " $* " == *" --duration "* ]] || args+=(--duration "$secs")
  echo "== $name: gateway bench ${args[*]}" >&2
  "$gw" bench "${args[@]}" --no-progress --output "$results/$name.json" | sed 's/^/   /' >&2
}

# Mpps against table size, with and without batch prefetch (1 worker, 64-byte frames).
for b in 1000 65536 1000000 4000000; do
  run "size-$b" --bindings "$b"
  run "size-$b-noprefetch" --bindings "$b" --no-prefetch
done
# Mpps against worker count.
for b in 1000 1000000; do
  run "workers2-$b" --bindings "$b" --workers 2
done
# Frame sizes.
run "imix-1000000" --bindings 1000000 --frame-size imix
run "1500-1000000" --bindings 1000000 --frame-size 1500
# Control-plane churn: 10,000 rebinds per second while traffic flows.
run "churn-1000000" --bindings 1000000 --churn 10000
run "churn-1000000-workers2" --bindings 1000000 --churn 10000 --workers 2
# A run of at least 10 million frames for the GC count.
run "long-1000" --bindings 1000 --duration 10

dotnet run --project perf/Gateway.PerfPlots -c Release -- "$results" perf/plots
