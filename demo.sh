#!/usr/bin/env bash
# The main job: build the gateway and replay a bundled capture through a set of bindings.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
dotnet build src/Gateway.Cli -c Release --nologo -v quiet
# The Native AOT executable (out/gateway/gateway): the same CLI, started without a JIT.
gateway=$(scripts/publish.sh out/gateway)
mkdir -p out
exec "$gateway" replay captures/mixed.pcap -o out/mixed.translated.pcap --bindings captures/mixed.bindings.json
