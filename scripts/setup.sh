#!/usr/bin/env bash
# Installs what building, running and testing Gateway needs on a fresh Debian machine (run as root).
# Idempotent and quiet when everything is already there: apt-get runs only for packages that are missing.
set -euo pipefail

# libpcap: SharpPcap's live capture/injection and its capture-file reader (the tests' oracle).
# tcpreplay: tcprewrite, the peer the replay benchmark is measured against.
# tshark: capinfos/tshark re-read the captures our writer produces.
# iproute2: namespaces and veth pairs for the lab and its end-to-end tests.
# python3: the small TCP/UDP servers and clients the end-to-end tests run inside the namespaces.
# ethtool: turns offloads off where a test (or a libpcap lab, --if-backend pcap) needs the kernel to finish checksums.
# nodejs (with npm): the official Tencent Cloud Node SDK drives the API in tests/sdk-node.
# bc: the replay benchmark script adds up CPU seconds.
# iperf3: TCP through the lab against the bandwidth caps (end-to-end tests of issue 11).
# prometheus: the real server (and promtool) scrapes the daemon's --metrics endpoint in the end-to-end tests.
# zsh, fish: the scripts of 'gateway completion' are tested in the real shells (bash is always there).
# clang, zlib1g-dev: the Native AOT build of the CLI (scripts/publish.sh) links with them.
# etcd-server: the cluster's store (the tests and 'gateway lab' start their own members); etcd-client: etcdctl, the
#   tests' independent reader of what etcd holds. iperf3: the cluster failover test's TCP load.
# chromium, fonts-dejavu-core: the web console's browser tests drive Debian's Chromium through Playwright
#   (/usr/bin/chromium; Playwright's own browser download is never used), with a font for its screenshots.
packages=(libpcap0.8 libpcap-dev tcpreplay tshark iproute2 iputils-ping curl procps python3 ethtool nodejs bc zsh fish clang zlib1g-dev etcd-server etcd-client iperf3 chromium fonts-dejavu-core prometheus)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer it so the install never waits for a terminal.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  # iperf3 asks whether to start a daemon at boot; etcd-server's service is never started here (no systemd in CI).
  echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v npm >/dev/null || { echo "setup: installing npm" >&2; apt-get update -qq; apt-get install -y -qq --no-install-recommends npm >/dev/null; }
command -v dotnet >/dev/null || { echo "setup: the .NET SDK (dotnet) is not on PATH; install the .NET 10 SDK first." >&2; exit 1; }
