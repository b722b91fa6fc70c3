#!/usr/bin/env bash
# Runs every test: unit, golden, oracle, API (with the official Node SDK) and end-to-end namespace tests.
# Installs what it needs first. The end-to-end tests need root (network namespaces, TAP devices).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh

dotnet build Gateway.sln -c Release --nologo -v quiet
dotnet test Gateway.sln -c Release --no-build --nologo --logger "console;verbosity=minimal" "$@"

# The official Tencent Cloud Node SDK drives a daemon it starts from the Release build (tests/sdk-node).
(cd tests/sdk-node && npm ci --no-audit --no-fund --loglevel=error && node --test)
