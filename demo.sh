#!/usr/bin/env bash
# The main job: build the gateway and replay a bundled capture through a set of bindings.
# It replays with the managed build (dotnet gateway.dll): the Native AOT executable starts faster (a few ms instead of
# ~150 ms of CPU) but publishing it costs minutes of CPU more than the build (perf/demo-cost.sh; perf/README.md,
# "Start-up"), so it is built only on request: scripts/publish.sh, and the perf scripts that time start-up.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
dotnet build src/Gateway.Cli -c Release --nologo -v quiet
mkdir -p out
exec dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll replay captures/mixed.pcap -o out/mixed.translated.pcap --bindings captures/mixed.bindings.json
