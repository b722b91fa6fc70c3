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
