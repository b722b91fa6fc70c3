#!/usr/bin/env bash
# What the main job costs from a clean clone, phase by phase: ./demo.sh's steps (setup, build, replay with the managed
# build) and, beside them, the Native AOT publish (scripts/publish.sh) and a replay with its executable. For each phase:
# wall-clock seconds, CPU seconds (user + sys of the phase's processes and all their children: MSBuild runs in one
# process, -m:1, and without the compiler server, so that every compiler's and ILC's CPU is counted here; that makes
# the build a little slower than usual) and the load average when it started. On a loaded machine only the CPU column
# means much; on a quiet 2-core one the wall-clock of a phase lies between its CPU/2 and its CPU. This is the measurement behind demo.sh's choice of the managed build
# (perf/README.md, "Start-up"). The clone is made in a temporary folder and removed afterwards.
#   perf/demo-cost.sh [git-rev]     (default HEAD; committed sources only)
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-HEAD}"
clone=$(mktemp -d /tmp/gateway-demo-cost-XXXXXX)
trap 'rm -rf "$clone"' EXIT
git clone -q --no-checkout . "$clone"
git -C "$clone" checkout -q "$(git rev-parse "$rev")"
cd "$clone"
export MSBUILDDISABLENODEREUSE=1 UseSharedCompilation=false DOTNET_CLI_USE_MSBUILD_SERVER=0 GATEWAY_PUBLISH_FLAGS=-m:1

printf '%-44s %8s %8s %6s\n' "phase ($(nproc) CPUs, rev $(git rev-parse --short HEAD))" "wall s" "CPU s" "load"
total_wall=0
phase() {
  local name=$1 load
  shift
  load=$(cut -d' ' -f1 /proc/loadavg)
  if ! /usr/bin/time -f '%e %U %S' -o .phase-time "$@" >.phase-out 2>&1; then
    cat .phase-out >&2
    echo "demo-cost: '$name' failed" >&2
    exit 1
  fi
  read -r wall user sys <.phase-time
  printf '%-44s %8.1f %8.1f %6s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$load"
}
mkdir -p out
phase "scripts/setup.sh" scripts/setup.sh
phase "dotnet build src/Gateway.Cli (demo.sh)" dotnet build src/Gateway.Cli -c Release --nologo -v quiet -m:1
phase "replay, managed build (demo.sh)" dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll replay captures/mixed.pcap \
  -o out/mixed.managed.pcap --bindings captures/mixed.bindings.json
phase "scripts/publish.sh (Native AOT, first time)" scripts/publish.sh
phase "scripts/publish.sh (cached)" scripts/publish.sh
aot=$(scripts/publish.sh)
phase "replay, Native AOT executable" "$aot" replay captures/mixed.pcap -o out/mixed.aot.pcap --bindings captures/mixed.bindings.json
cmp -s out/mixed.managed.pcap captures/mixed.expected.pcap && cmp -s out/mixed.aot.pcap captures/mixed.expected.pcap \
  || { echo "demo-cost: a replay differs from captures/mixed.expected.pcap" >&2; exit 1; }
echo "both replays are byte for byte captures/mixed.expected.pcap; load now $(cut -d' ' -f1-3 /proc/loadavg)"
