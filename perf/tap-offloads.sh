#!/usr/bin/env bash
# TAP ports with and without offloads, through the gateway lab, in one run; and a long run for GC and allocations.
#
#   perf/tap-offloads.sh [--seconds S] [--rounds N] [--long-seconds S] [--workers N] [--out FILE.json] [--no-build]
#
# For each round, offloads on then off (interleaved, so load drifts hit both alike): `gateway lab up` a lab of one
# client and one instance (TAP mode, gateway.tapOffloads true/false), iperf3 TCP 1 stream into the VPC and out of it
# (-R) for S seconds, recording Gbps, the gateway workers' CPU seconds (/proc/PID/task/*/stat, threads gw-worker*),
# the frames they received and the GSO super-frames among them; `lab down`. Then one long run with offloads on:
# iperf3 for --long-seconds (default 60) while the daemon's stats file gives the garbage collections (gen0/1/2) and
# the workers' allocated bytes before and after: GCs during the run and bytes allocated per frame.
# The side-by-side with Linux's own NAT is perf/lab-vs-kernel.sh; this one isolates what the offloads buy.
# Needs root; installs iperf3 through scripts/setup.sh when missing. Everything made is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10; rounds=2; long=60; workers=""; out="perf/results/tap-offloads.json"; build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --long-seconds) long="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "tap-offloads: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "tap-offloads: needs root (namespaces, TAP devices)" >&2; exit 2; }
command -v iperf3 >/dev/null || scripts/setup.sh
[ "$build" -eq 1 ] && dotnet build src/Gateway.Cli -c Release -v quiet -nologo >/dev/null
gw=(dotnet "$(pwd)/src/Gateway.Cli/bin/Release/net10.0/gateway.dll")
tmp=$(mktemp -d)
name="tof$$"
cleanup() { "${gw[@]}" lab down --name "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
results="$tmp/results.txt"; : > "$results"
rec() { echo "$1 $2" >> "$results"; }
log() { echo "tap-offloads: $*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }

up() { # up OFFLOADS → sets pid, pub, stats
  local extra=""; [ -n "$workers" ] && extra=", \"workers\": $workers"
  cat > "$tmp/t.json" <<J
{ "name": "$name", "gateway": { "mode": "tap", "tapOffloads": $1$extra, "bandwidthCaps": false, "publicPool": ["198.51.100.0/28"] },
  "internet": { "subnet": "203.0.113.0/24", "onLink": ["198.51.100.0/24"],
    "nodes": [ { "name": "client", "kind": "internet-host", "address": "203.0.113.1" } ] },
  "vpc": { "subnet": { "cidr": "10.0.1.0/24" } },
  "nodes": [ { "name": "srv", "kind": "instance", "privateAddress": "10.0.1.10",
    "internetAccessible": { "publicIpAssigned": true, "internetMaxBandwidthOut": 100 }, "exec": ["exec iperf3 -s"] } ] }
J
  "${gw[@]}" lab up "$tmp/t.json" > "$tmp/up.txt" 2>&1 || { cat "$tmp/up.txt" >&2; exit 1; }
  pub=$(grep -E '^srv ' "$tmp/up.txt" | grep -oE '198\.51\.100\.[0-9]+' | head -1)
  pid=$(python3 -c "import json,sys; print([p['pid'] for p in json.load(open(sys.argv[1]))['processes'] if p['role']=='gateway'][0])" "/run/gateway-lab/$name/lab.json")
  stats="/run/gateway-lab/$name/daemon/datapath-stats.json"
  ip netns exec "gwl-$name-client" ping -c 3 -i 0.2 "$pub" >/dev/null
}
down() { "${gw[@]}" lab down --name "$name" >/dev/null 2>&1 || true; }
worker_cpu() { # CPU seconds of the gw-worker threads of $pid
  python3 - "$1" <<'P'
import os, sys
pid = sys.argv[1]; hz = os.sysconf("SC_CLK_TCK"); t = 0
for tid in os.listdir(f"/proc/{pid}/task"):
    s = open(f"/proc/{pid}/task/{tid}/stat").read()
    if s[s.index("(") + 1:s.rindex(")")].startswith("gw-worker"):
        f = s[s.rindex(")") + 2:].split(); t += int(f[11]) + int(f[12])
print(t / hz)
P
}
stat() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$stats" "$1"; }
iperf() { # iperf DIRFLAG → Gbps
  ip netns exec "gwl-$name-client" iperf3 -c "$pub" -t "$2" $1 -J --connect-timeout 3000 > "$tmp/i.json"
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second']/1e9)" "$tmp/i.json"
}

log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  for mode in true false; do
    up "$mode"
    for dir in in out; do
      flag=""; [ "$dir" = out ] && flag="-R"
      sleep 1.5
      c0=$(worker_cpu "$pid"); f0=$(stat "d['receivedPackets']"); g0=$(stat "sum(w['gsoFrames'] for w in d['workers'])"); l=$(load)
      gbps=$(iperf "$flag" "$seconds")
      sleep 1.5
      c1=$(worker_cpu "$pid"); f1=$(stat "d['receivedPackets']"); g1=$(stat "sum(w['gsoFrames'] for w in d['workers'])")
      key="offloads-$([ "$mode" = true ] && echo on || echo off).$dir.r$r"
      rec "$key.gbps" "$gbps"; rec "$key.cpu" "$(echo "$c1 - $c0" | bc -l)"; rec "$key.frames" $((f1 - f0)); rec "$key.gso" $((g1 - g0)); rec "$key.load" "$l"
      log "round $r, offloads $([ "$mode" = true ] && echo on || echo off), TCP $dir: $(printf '%.2f' "$gbps") Gbps, workers $(printf '%.2f' "$(echo "$c1 - $c0" | bc -l)") CPU-s, $((f1 - f0)) frames ($((g1 - g0)) GSO) (load $l)"
    done
    down
  done
done

up true
sleep 2
read -r g0 a0 f0 < <(stat "'%d %d %d' % (d['runtime']['gen0Collections'] + d['runtime']['gen1Collections'] + d['runtime']['gen2Collections'], d['runtime']['workerAllocatedBytes'], d['receivedPackets'])")
l=$(load)
gbps=$(iperf "" "$long")
sleep 2
read -r g1 a1 f1 < <(stat "'%d %d %d' % (d['runtime']['gen0Collections'] + d['runtime']['gen1Collections'] + d['runtime']['gen2Collections'], d['runtime']['workerAllocatedBytes'], d['receivedPackets'])")
rec "long.seconds" "$long"; rec "long.gbps" "$gbps"; rec "long.gcs" $((g1 - g0)); rec "long.frames" $((f1 - f0)); rec "long.workerAllocatedBytes" $((a1 - a0)); rec "long.load" "$l"
log "long run, $long s, offloads on: $(printf '%.2f' "$gbps") Gbps, $((f1 - f0)) frames, $((g1 - g0)) garbage collections, workers allocated $((a1 - a0)) bytes (load $l)"
down

mkdir -p "$(dirname "$out")"
python3 - "$results" "$out" "$rounds" <<'P'
import json, sys, statistics
raw = {}
for line in open(sys.argv[1]):
    k, v = line.split(); raw[k] = float(v)
rounds = int(sys.argv[3])
summary = {}
for mode in ("on", "off"):
    for d in ("in", "out"):
        keys = [f"offloads-{mode}.{d}.r{r}" for r in range(1, rounds + 1)]
        gbps = statistics.median(raw[k + ".gbps"] for k in keys)
        cpu = sum(raw[k + ".cpu"] for k in keys); gb = sum(raw[k + ".gbps"] for k in keys)
        frames = sum(raw[k + ".frames"] for k in keys); gso = sum(raw[k + ".gso"] for k in keys)
        summary[f"{mode}.{d}"] = {"gbps": gbps, "frames": frames, "gsoFrames": gso, "workerCpuSeconds": cpu}
json.dump({"raw": raw, "summary": summary}, open(sys.argv[2], "w"), indent=2)
print("| TCP, 1 stream | offloads on | offloads off | on / off |")
print("|---|--:|--:|--:|")
for d, label in (("in", "into the VPC"), ("out", "out of the VPC")):
    on, off = summary[f"on.{d}"], summary[f"off.{d}"]
    print(f"| {label} (Gbps, median of {rounds}) | {on['gbps']:.2f} | {off['gbps']:.2f} | {on['gbps'] / off['gbps']:.1f}× |")
    print(f"| {label}: frames the gateway handled (GSO) | {on['frames']:.0f} ({on['gsoFrames']:.0f}) | {off['frames']:.0f} | |")
print(f"\nlong run: {raw['long.seconds']:.0f} s at {raw['long.gbps']:.2f} Gbps, {raw['long.frames']:.0f} frames: "
      f"{raw['long.gcs']:.0f} garbage collections, workers allocated {raw['long.workerAllocatedBytes']:.0f} bytes "
      f"({raw['long.workerAllocatedBytes'] / max(1, raw['long.frames']):.4f} per frame); load {raw['long.load']}")
print(f"written: {sys.argv[2]}")
P
