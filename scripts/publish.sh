#!/usr/bin/env bash
# Builds the Native AOT executable of the CLI: out/gateway/gateway (one self-contained file, no JIT at start-up).
# `dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll ...` keeps working as well; this one starts in a few
# milliseconds instead of tens (perf/README.md, "Replay at disk speed"). Needs clang and zlib (scripts/setup.sh).
#   scripts/publish.sh [output folder, default out/gateway]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/gateway}"
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "publish: no Native AOT target for $(uname -m); use dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll" >&2; exit 1 ;;
esac
dotnet publish src/Gateway.Cli -c Release -r "$rid" -p:PublishAot=true --nologo -v quiet -o "$out" >&2
echo "$out/gateway"
