#!/usr/bin/env bash
# Runs every test: unit, golden, oracle, fuzz, hardening, API (with the official Node SDK) and
# end-to-end namespace tests. Installs what it needs first. The end-to-end tests need root
# (network namespaces, TAP devices). Extra arguments go to `dotnet test` (e.g. --filter ...).
set -uo pipefail
cd "$(dirname "$0")"
scripts/setup.sh || exit 1

dotnet build Gateway.sln -c Release --nologo -v quiet || exit 1
# The official Node SDK first: the namespace end-to-end tests read the Monitor API through it (tests/sdk-node/monitor-read.mjs).
(cd tests/sdk-node && npm ci --no-audit --no-fund --loglevel=error) || exit 1

# The Native AOT executable (scripts/publish.sh), which the NativeAot tests run beside the managed build. Publishing it
# costs about 150 s of CPU on top of the build (perf/demo-cost.sh), once per state of the sources (cached in out/aot/).
# GATEWAY_TEST_AOT=0 skips those tests (they say so); with arguments (a --filter, say) the tests publish it themselves
# if any of them is selected. A failed publish fails those tests with its output, not the whole run.
export GATEWAY_TEST_AOT="${GATEWAY_TEST_AOT:-1}"
if [ $# -eq 0 ] && [ "$GATEWAY_TEST_AOT" = 1 ]; then
  aot_log=$(mktemp)
  if GATEWAY_AOT=$(scripts/publish.sh 2>"$aot_log"); then
    export GATEWAY_AOT
    cat "$aot_log" >&2
  else
    GATEWAY_AOT_ERROR=$(tail -n 60 "$aot_log")
    export GATEWAY_AOT_ERROR
    echo "test.sh: scripts/publish.sh failed; the NativeAot tests will say why" >&2
  fi
  rm -f "$aot_log"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test Gateway.sln -c Release --no-build --nologo --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log"
dotnet_rc=${PIPESTATUS[0]}

# The official Tencent Cloud Node SDK drives a daemon it starts from the Release build (tests/sdk-node).
(cd tests/sdk-node && node --test) 2>&1 | tee -a "$log"
node_rc=${PIPESTATUS[0]}

# One closing line for the whole run: the dotnet assemblies' counts plus node's.
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
passed=$((passed + $(grep -oE '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
failed=$((failed + $(grep -oE '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')))
if [ "$dotnet_rc" -ne 0 ] || [ "$node_rc" -ne 0 ]; then
  [ "$failed" -gt 0 ] || failed=1  # a runner that failed without counting a test (build, crash) still fails the run
fi
echo
echo "$passed passed, $failed failed"
[ "$dotnet_rc" -eq 0 ] && [ "$node_rc" -eq 0 ]
