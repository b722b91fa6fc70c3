#!/usr/bin/env bash
# Side by side: `gateway bench` at another revision against this working tree, on the same settings, in one run.
#   perf/bench-vs-baseline.sh <git-rev> [options]
#     --sizes "1000 65536 1000000 4000000"   bindings
#     --workers "1 2"                          worker counts
#     --churn "0 10000"                        rebinds per second
#     --duration S                             seconds measured per run (default 3)
#     --rounds N                               runs of each revision per setting, interleaved A B B A ... (default 2)
#     --out FILE                               also write the table (markdown) to FILE
# Builds <git-rev> in a temporary worktree (removed on exit) and this tree, then for every setting runs the two
# harnesses in turn, alternating which goes first, and prints per setting the median of each revision and the ratio.
# The steady figure on a shared machine is worker CPU time per frame (Mpps per core = 1000 / CPU ns); wall-clock Mpps
# and the share of time the workers were on a CPU are printed beside it, with the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: perf/bench-vs-baseline.sh <git-rev> [--sizes ...] [--workers ...] [--churn ...] [--duration S] [--rounds N] [--out FILE]" >&2; exit 2; }
rev="$1"; shift
sizes="1000 65536 1000000 4000000"; workers="1 2"; churns="0 10000"; duration=3; rounds=2; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --churn) churns="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "bench-vs-baseline: unknown option '$1'" >&2; exit 2 ;;
  esac
done
base_commit=$(git rev-parse --verify "$rev^{commit}") || { echo "bench-vs-baseline: '$rev' is not a revision of this repository" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gateway-baseline.XXXXXX")
cleanup() { git worktree remove --force "$tmp/tree" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add --detach "$tmp/tree" "$base_commit" >/dev/null 2>&1
echo "building baseline $(git rev-parse --short "$base_commit") and this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', with uncommitted changes'))..." >&2
dotnet build "$tmp/tree/src/Gateway.Cli" -c Release -v quiet -nologo >/dev/null
dotnet build src/Gateway.Cli -c Release -v quiet -nologo >/dev/null
base_gw="$tmp/tree/src/Gateway.Cli/bin/Release/net10.0/gateway"
this_gw="src/Gateway.Cli/bin/Release/net10.0/gateway"

# One run: prints "cpuNsPerFrame mpps workerCpuShare impossible".
run() {
  local gw="$1"; shift
  "$gw" bench "$@" --duration "$duration" --warmup 1 --json --no-progress | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r.get("cpuNsPerFrame", float("nan")), r["mpps"], r.get("workerCpuShare", float("nan")), r["impossibleBindings"])'
}
median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

header="| bindings | workers | churn/s | baseline Mpps/core | this Mpps/core | ratio (CPU) | baseline Mpps wall | this Mpps wall | ratio (wall) | on-CPU base/this | impossible | load |"
rule="|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
lines=()
echo "$header"; echo "$rule"
for b in $sizes; do
  for w in $workers; do
    for c in $churns; do
      args=(--bindings "$b" --workers "$w" --churn "$c")
      base_cpu=(); this_cpu=(); base_mpps=(); this_mpps=(); base_share=(); this_share=(); impossible=0
      for ((r = 0; r < rounds; r++)); do
        if (( r % 2 == 0 )); then order="base this"; else order="this base"; fi
        for who in $order; do
          if [ "$who" = base ]; then read -r cpu mpps share imp < <(run "$base_gw" "${args[@]}"); base_cpu+=("$cpu"); base_mpps+=("$mpps"); base_share+=("$share")
          else read -r cpu mpps share imp < <(run "$this_gw" "${args[@]}"); this_cpu+=("$cpu"); this_mpps+=("$mpps"); this_share+=("$share"); fi
          impossible=$((impossible + imp))
        done
      done
      bc_=$(median "${base_cpu[@]}"); tc_=$(median "${this_cpu[@]}"); bm=$(median "${base_mpps[@]}"); tm=$(median "${this_mpps[@]}")
      bs=$(median "${base_share[@]}"); ts=$(median "${this_share[@]}")
      line=$(python3 -c 'import sys
bc, tc, bm, tm, bs, ts = map(float, sys.argv[1:7])
print(f"| {int(sys.argv[7]):,} | {sys.argv[8]} | {int(sys.argv[9]):,} | {1000/bc:.2f} | {1000/tc:.2f} | **{bc/tc:.2f}x** | {bm:.2f} | {tm:.2f} | {tm/bm:.2f}x | {bs*100:.0f} % / {ts*100:.0f} % | {sys.argv[10]} | {sys.argv[11]} |")' \
        "$bc_" "$tc_" "$bm" "$tm" "$bs" "$ts" "$b" "$w" "$c" "$impossible" "$(cut -d' ' -f1 /proc/loadavg)")
      echo "$line"; lines+=("$line")
    done
  done
done
echo "baseline $(git rev-parse --short "$base_commit"), this tree $(git rev-parse --short HEAD); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); $rounds round(s) of ${duration} s per revision and setting, medians" >&2
if [ -n "$out" ]; then
  { echo "$header"; echo "$rule"; printf '%s\n' "${lines[@]}"; } > "$out"
fi
