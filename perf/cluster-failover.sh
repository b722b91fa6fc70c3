#!/usr/bin/env bash
# Failover gaps of a two-node cluster lab, interleaved between checkouts so every build sees the same load:
#   kill -9 of the active node under iperf3 + a 1 kHz UDP probe (ClusterFailoverTests: "FAILOVER longest gap"), and,
#   where the checkout has it, SIGSTOP of the active node for 600 ms (ClusterFencingTests: "FENCING longest probe gap").
# Usage (root): perf/cluster-failover.sh [ROUNDS] [OTHER_CHECKOUT...]
#   Each checkout must be built first: dotnet build tests/Gateway.EndToEnd.Tests -c Release
#   e.g. git worktree add --detach /tmp/gw-before <commit> && (cd /tmp/gw-before && dotnet build tests/Gateway.EndToEnd.Tests -c Release)
#        perf/cluster-failover.sh 3 /tmp/gw-before
set -euo pipefail
rounds=${1:-3}
shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
checkouts=("$here" "$@")
for ((r = 1; r <= rounds; r++)); do
  for c in "${checkouts[@]}"; do
    filter="FullyQualifiedName~ClusterFailoverTests"
    if [ -f "$c/tests/Gateway.EndToEnd.Tests/Lab/ClusterFencingTests.cs" ]; then
      filter="$filter|FullyQualifiedName~ClusterFencingTests"
    fi
    out=$(cd "$c" && dotnet test tests/Gateway.EndToEnd.Tests -c Release --no-build --filter "$filter" \
      --logger "console;verbosity=detailed" 2>&1 || true)
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    gaps=$(grep -oE "(FAILOVER longest gap|FENCING longest probe gap) [0-9]+ ms" <<<"$out" | sort -u | tr '\n' ';')
    verdict=$(grep -qE "^Failed!|Test Run Failed" <<<"$out" && echo FAILED || echo passed)
    echo "round $r $(git -C "$c" rev-parse --short HEAD) ($c): $gaps tests $verdict; load $load"
  done
done
