#!/usr/bin/env bash
# Builds the Native AOT executable of the CLI: one self-contained file, no JIT at start-up (a few milliseconds instead of
# tens; perf/README.md, "Replay at disk speed"). It has every verb but without the web console, which ASP.NET Core
# cannot compile ahead of time: `dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll` is the build with it.
# Needs clang and zlib (scripts/setup.sh). Prints the executable's path on stdout.
#   scripts/publish.sh                  out/aot/<key>/gateway
#   scripts/publish.sh <folder>         the same, copied to <folder>/gateway (perf scripts: out/gateway)
#   scripts/publish.sh --if-cached      the path if these sources are already published, else exit 3 (builds nothing)
# Published once per state of the sources: <key> hashes every file under src/, Directory.Build.props,
# Directory.Packages.props, global.json, the SDK version and the target, so a second call on the same sources (a commit,
# or the same uncommitted edits) takes no time and ./test.sh does not publish again on a tree it has published.
# The last 3 states are kept in out/aot/. GATEWAY_PUBLISH_FLAGS adds flags to dotnet publish (perf/demo-cost.sh: -m:1).
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "publish: no Native AOT target for $(uname -m); use dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll" >&2; exit 1 ;;
esac
target="${1:-}"
target="${target%/}"
if_cached=false
if [ "$target" = "--if-cached" ]; then
  if_cached=true
  target=""
fi

key=$( {
  echo "$rid $(dotnet --version)"
  find src Directory.Build.props Directory.Packages.props global.json \( -name bin -o -name obj \) -prune -o -type f -print0 \
    | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)
cache="out/aot/$key"
if $if_cached; then
  [ -x "$cache/gateway" ] && { echo "$cache/gateway"; exit 0; }
  exit 3
fi
mkdir -p out/aot
# One publish at a time per clone (test runs and perf scripts may ask together); the second waits and finds it done.
exec 9>out/aot/.lock
flock 9
if [ ! -x "$cache/gateway" ]; then
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no git")
  echo "publish: building the Native AOT executable for these sources ($commit, key $key); about 150 s of CPU (perf/demo-cost.sh): 1.5-2.5 min on a quiet 2-core machine, longer under load ..." >&2
  start=$SECONDS
  rm -rf "$cache.tmp"
  # GatewayWebConsole=false is also the default under PublishAot (src/Gateway.Cli/Gateway.Cli.csproj); said here for the reader.
  dotnet publish src/Gateway.Cli -c Release -r "$rid" -p:PublishAot=true -p:GatewayWebConsole=false --nologo -v quiet ${GATEWAY_PUBLISH_FLAGS:-} -o "$cache.tmp" >&2
  rm -f "$cache.tmp"/*.pdb # the libraries' IL symbols; the executable's own are in gateway.dbg
  mv -T "$cache.tmp" "$cache"
  echo "publish: $cache/gateway in $((SECONDS - start)) s" >&2
  # Keep the three newest states.
  ls -1dt out/aot/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi
flock -u 9
if [ -z "$target" ]; then
  echo "$cache/gateway"
  exit 0
fi
rm -rf "$target.tmp"
mkdir -p "$(dirname "$target")"
cp -a "$cache" "$target.tmp"
rm -rf "$target"
mv -T "$target.tmp" "$target"
echo "$target/gateway"
