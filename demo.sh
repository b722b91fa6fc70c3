#!/usr/bin/env bash
# The main job: build the gateway and replay a bundled capture through a set of bindings.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
dotnet build src/Gateway.Cli -c Release --nologo -v quiet
mkdir -p out
exec dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll replay captures/mixed.pcap -o out/mixed.translated.pcap --bindings captures/mixed.bindings.json
