#!/usr/bin/env bash
# What bandwidth caps cost when they are set but not exceeded (issue 11's target: at most 10 %).
# Runs `gateway bench` with and without --cap-mbps, interleaved (A B A B ...) so machine noise hits both alike, and
# prints worker CPU ns per frame for each (the fair figure on a shared machine) with the median ratio.
#   perf/caps-cost.sh [rounds=5] [duration=4] [bindings...=1000 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
duration=${2:-4}
shift $(( $# > 2 ? 2 : $# )) || true
bindings=("$@")
[ ${#bindings[@]} -gt 0 ] || bindings=(1000 1000000)
dll=src/Gateway.Cli/bin/Release/net10.0/gateway.dll
[ -f "$dll" ] || dotnet build src/Gateway.Cli -c Release --nologo -v quiet
cap=1000   # Mbps per binding each way: above what any binding gets in the harness, so nothing is dropped
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for b in "${bindings[@]}"; do
  for r in $(seq "$rounds"); do
    for mode in plain capped; do
      extra=(); [ "$mode" = capped ] && extra=(--cap-mbps "$cap")
      dotnet "$dll" bench --bindings "$b" --duration "$duration" --warmup 1 --no-progress --json --output "$out/$b-$mode-$r.json" "${extra[@]}" >/dev/null
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$rounds" "${bindings[@]}" <<'PY'
import json, sys, statistics
out, rounds, bindings = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"{'bindings':>9} {'plain ns/frame (CPU)':>22} {'capped ns/frame (CPU)':>22} {'cost (median of pairs)':>24} {'drops capped':>13}")
for b in bindings:
    plain, capped, ratios, drops = [], [], [], 0
    for r in range(1, rounds + 1):
        p = json.load(open(f"{out}/{b}-plain-{r}.json")); c = json.load(open(f"{out}/{b}-capped-{r}.json"))
        plain.append(p["cpuNsPerFrame"]); capped.append(c["cpuNsPerFrame"]); ratios.append(c["cpuNsPerFrame"] / p["cpuNsPerFrame"])
        drops += c["dropped"]
    print(f"{b:>9} {statistics.median(plain):>22.1f} {statistics.median(capped):>22.1f} {100*(statistics.median(ratios)-1):>+23.1f}% {drops:>13}")
PY
