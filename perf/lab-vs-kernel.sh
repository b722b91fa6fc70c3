#!/usr/bin/env bash
# The gateway lab against Linux's own NAT, side by side, in one run (issue 10).
#
#   perf/lab-vs-kernel.sh [--quick] [--paths "kernel gateway-tap gateway-veth"] [--tcp-seconds S] [--udp-seconds S]
#                         [--rates "50000 100000 ... max"] [--pings N] [--workers N] [--kernel-rps] [--no-profile]
#                         [--out FILE.json] [--no-build] [--no-plots]
#
# Defaults: every path, TCP 15 s per run (60 s of TCP per path: the GC row covers a 60-second run), UDP 5 s at 50, 100, 200 and 300 kpps and top speed, 1,000 pings; writes
# perf/results/lab/lab-vs-kernel.json and .md, then perf/plots/lab-vs-kernel-{tcp,udp}.png. --quick: 3 s / 2 s,
# 100 kpps and top speed, 200 pings (about two minutes).
#
# Builds the same namespace shape once per path, measures it, removes it, then prints one table and writes JSON:
#
#   ns client (eth0 203.0.113.1/24) ─ veth ─ ns inet (br0) ─ [hop] ─ ns vpc (br0) ─ veth ─ ns server (eth0 10.0.1.10/24)
#
#   kernel        [hop] = ns router: veth into each bridge, nftables dnat (public → 10.0.1.10) and snat (back), forwarding
#                 on — what a Linux box doing 1:1 NAT would be. The client ARPs for the public address; the router owns it.
#                 A veth delivers into its peer on the sending CPU, so by default the whole kernel path (bridges, NAT,
#                 the server's stack) runs inline on the sender's CPU. --kernel-rps steers the router's receive work to
#                 the other CPUs (RPS), as if it were a box of its own; on a shared 2-core machine that mostly adds loss.
#   gateway-tap   [hop] = `gateway lab up` in tap mode: the daemon's TAP devices moved into the two bridges.
#   gateway-veth  [hop] = `gateway lab up` in veth mode: veth pairs whose root-namespace ends the daemon uses as
#                 --internet-if/--vpc-if, through AF_PACKET (--if-backend packet, the default).
#   gateway-veth-pcap  the same through libpcap (--if-backend pcap), the fallback; not in the default set.
#
# What each path gets, in this order:
#   ping     client → public address, N pings at 1 ms intervals: p50 and p99 round trip.
#   tcp      iperf3, client ↔ server by the public address, 1 and 4 streams, both directions ("in": the client sends
#            into the VPC; "out": -R, the instance sends to the internet).
#   udp      64-byte frames (60 bytes + FCS) from trafgen (netsniff-ng) in the client namespace to the public address,
#            64 source ports (so flows spread over workers), at each fixed offered rate (trafgen's sendto mode, paced),
#            and "max": trafgen's TX_RING at top speed. Offered = the client's eth0 tx_packets per second (what the
#            generator actually put on the wire); received = an nftables counter in the server namespace (udp dport 9,
#            counted then dropped, so the server sends no ICMP back). Loss = 1 − received / offered.
#            For the gateway, also its worker threads' CPU seconds (/proc/PID/task/*/stat, threads named
#            "gw-worker N") and the frames it received meanwhile (datapath-stats.json): frames per worker CPU-second. At the
#            last rate, when `perf` is installed (Debian: linux-perf) and --no-profile is not given, the workers'
#            call stacks are sampled and their CPU split into: the receivers' kernel work that a veth runs inline in
#            the sender's send call (softirq), the send path itself (sendmmsg/write), other kernel work (poll, reads,
#            ring), user space.
#
# Everything made is named gwp-PID-… (kernel path) or gwl-lvkPID-… (the labs) and removed on exit, also on Ctrl-C.
# Needs root. Runs scripts/setup.sh, then installs iperf3, netsniff-ng (trafgen), nftables and, optionally, linux-perf
# with apt-get when missing.
# Timings on a shared machine are noisy: the load average is recorded with every figure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

paths="kernel gateway-tap gateway-veth"
tcp_seconds=15
udp_seconds=5
rates="50000 100000 200000 300000 max"
pings=1000
workers=""
out="perf/results/lab/lab-vs-kernel.json"
plots=1
build=1
kernel_rps=0
profile=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) tcp_seconds=3; udp_seconds=2; rates="100000 max"; pings=200; shift ;;
    --paths) paths="$2"; shift 2 ;;
    --tcp-seconds) tcp_seconds="$2"; shift 2 ;;
    --udp-seconds) udp_seconds="$2"; shift 2 ;;
    --rates) rates="$2"; shift 2 ;;
    --pings) pings="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-plots) plots=0; shift ;;
    --kernel-rps) kernel_rps=1; shift ;;
    --no-profile) profile=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab-vs-kernel: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for p in $paths; do
  case "$p" in kernel|gateway-tap|gateway-veth|gateway-veth-pcap) ;; *) echo "lab-vs-kernel: unknown path '$p' (kernel, gateway-tap, gateway-veth, gateway-veth-pcap)" >&2; exit 2 ;; esac
done
last_rate=""
for r in $rates; do
  last_rate="$r"
  [[ "$r" == max || "$r" =~ ^[0-9]+$ ]] || { echo "lab-vs-kernel: rate '$r' is neither a number of frames per second nor 'max'" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "lab-vs-kernel: needs root (network namespaces, TAP devices, nftables)" >&2; exit 2; }

scripts/setup.sh
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v trafgen >/dev/null || need+=(netsniff-ng)
command -v nft >/dev/null || need+=(nftables)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  log_early() { echo "lab-vs-kernel: $*" >&2; }
  log_early "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# perf (Debian: linux-perf) only splits the workers' CPU at the highest rate; the run goes on without it.
if [ "$profile" = 1 ] && ! command -v perf >/dev/null; then
  apt-get install -y -qq --no-install-recommends linux-perf >/dev/null 2>&1 || echo "lab-vs-kernel: no perf: the CPU split is left out" >&2
fi
if [ "$build" -eq 1 ]; then
  dotnet build src/Gateway.Cli -c Release -v quiet -nologo >/dev/null
fi
gw="$repo/src/Gateway.Cli/bin/Release/net10.0/gateway"

id=$$
kprefix="gwp-$id-"
lab="lvk$id"
tmp=$(mktemp -d /tmp/gwp-$id-XXXX)
records="$tmp/records.tsv"
: > "$records"
pids=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$gw" lab down --name "$lab" >/dev/null 2>&1 || true
  for ns in $(ip netns list | awk '{print $1}' | grep "^$kprefix" || true); do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "lab-vs-kernel: $*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }
# rec PATH KEY VALUE: one figure, gathered into the JSON and the table at the end.
rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$records"; }
nsx() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
counter() { nsx "$1" cat "/sys/class/net/eth0/statistics/$2"; }

add_ns() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# ---------------------------------------------------------------- the kernel path: nftables NAT in a router namespace
kernel_public="198.51.100.10"
build_kernel() {
  local cli="${kprefix}cli" inet="${kprefix}inet" rtr="${kprefix}rtr" vpc="${kprefix}vpc" srv="${kprefix}srv"
  for ns in "$cli" "$inet" "$rtr" "$vpc" "$srv"; do add_ns "$ns"; done
  for seg in "$inet" "$vpc"; do
    ip -n "$seg" link add br0 type bridge
    ip -n "$seg" link set br0 up
    # As gateway lab does: plain L2 segments, no bridged frames through the IP hooks (br_netfilter), where that is per netns.
    nsx "$seg" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
  done
  # host eth0 ─ p-host on the segment's bridge
  ip -n "$inet" link add p-cli type veth peer name eth0 netns "$cli"
  ip -n "$vpc" link add p-srv type veth peer name eth0 netns "$srv"
  ip -n "$inet" link add p-rtr type veth peer name ri netns "$rtr"
  ip -n "$vpc" link add p-rtr type veth peer name rv netns "$rtr"
  for seg in "$inet" "$vpc"; do
    for port in $(ip -n "$seg" -br link show type veth | awk '{print $1}' | cut -d@ -f1); do
      ip -n "$seg" link set "$port" master br0 up
    done
  done
  ip -n "$cli" addr add 203.0.113.1/24 dev eth0
  ip -n "$cli" link set eth0 up
  ip -n "$cli" route add 198.51.100.0/24 dev eth0            # public addresses are on-link, as in the gateway lab
  ip -n "$srv" addr add 10.0.1.10/24 dev eth0
  ip -n "$srv" link set eth0 up
  ip -n "$srv" route add default via 10.0.1.1
  ip -n "$rtr" addr add 203.0.113.254/24 dev ri
  ip -n "$rtr" addr add "$kernel_public/32" dev ri          # the router owns the public address: it answers ARP for it
  ip -n "$rtr" addr add 10.0.1.1/24 dev rv
  ip -n "$rtr" link set ri up
  ip -n "$rtr" link set rv up
  ip -n "$rtr" route add 198.51.100.0/24 dev ri 2>/dev/null || true
  nsx "$rtr" sysctl -qw net.ipv4.ip_forward=1
  if [ "$kernel_rps" = 1 ] && [ "$(nproc)" -gt 1 ]; then
    # The router as a box of its own: its receive processing (routing, conntrack, NAT, forwarding) runs on the CPUs
    # the generator is not pinned to (RPS), as the gateway's workers do, instead of inline on the sender's CPU.
    mask=$(printf '%x' $(( (1 << $(nproc)) - 2 )))
    for dev in ri rv; do nsx "$rtr" sh -c "echo $mask > /sys/class/net/$dev/queues/rx-0/rps_cpus"; done
  fi
  nsx "$rtr" nft -f - <<EOF
table ip nat {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; ip daddr $kernel_public dnat to 10.0.1.10; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; ip saddr 10.0.1.10 oifname "ri" snat to $kernel_public; }
}
EOF
}

# ---------------------------------------------------------------- the gateway paths: gateway lab up
gateway_pid=""
gateway_stats=""
build_gateway() { # mode: tap | veth; backend: "" | packet | pcap
  local mode="$1" backend="${2:-}"
  local topo="$tmp/topology-$mode.json"
  local extra=""
  [ -n "$workers" ] && extra="$extra, \"workers\": $workers"
  [ -n "$backend" ] && extra="$extra, \"ifBackend\": \"$backend\""
  cat > "$topo" <<EOF
{
  "name": "$lab",
  "gateway": { "mode": "$mode", "publicPool": ["198.51.100.0/28"], "bandwidthCaps": false$extra },
  "internet": { "subnet": "203.0.113.0/24", "onLink": ["198.51.100.0/24"],
                "nodes": [ { "name": "cli", "kind": "internet-host", "address": "203.0.113.1" } ] },
  "vpc": { "subnet": { "cidr": "10.0.1.0/24" } },
  "nodes": [ { "name": "srv", "kind": "instance", "privateAddress": "10.0.1.10",
               "internetAccessible": { "publicIpAssigned": true, "internetMaxBandwidthOut": 100 } } ]
}
EOF
  "$gw" lab up "$topo" > "$tmp/lab-up-$mode.log" 2>&1 || { cat "$tmp/lab-up-$mode.log" >&2; return 1; }
  local state="/run/gateway-lab/$lab/lab.json"
  gateway_pid=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(next(p["pid"] for p in s["processes"] if p["role"]=="gateway"))' "$state")
  public=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["instances"][0]["publicIp"])' "$state")
  gateway_stats="/run/gateway-lab/$lab/daemon/datapath-stats.json"
}

# ---------------------------------------------------------------- gateway process figures
# Sum of utime+stime (clock ticks) of the gateway's data-path worker threads ("gw-worker N"; not the ARP
# maintenance thread gw-arp, nor the short-lived gw-netns-stats).
worker_ticks() {
  local pid="$1" total=0 task comm t
  for task in /proc/"$pid"/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    [[ "$comm" == gw-worker* ]] || continue
    t=$(sed 's/^.*) //' "$task/stat" | awk '{print $12 + $13}')
    total=$((total + t))
  done
  echo "$total"
}
worker_count() {
  local pid="$1" n=0 task comm
  for task in /proc/"$pid"/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    [[ "$comm" == gw-worker* ]] && n=$((n + 1))
  done
  echo "$n"
}
stat_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=v.get(k,0) if isinstance(v,dict) else 0
print(v)' "$1" "$2" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- measurements
measure() { # path cli-ns srv-ns public
  local path="$1" cli="$2" srv="$3" pub="$4"
  rec "$path" load.start "$(load)"
  # Sink: count UDP to port 9 and drop it before any socket lookup (no ICMP port unreachable back through the hop).
  nsx "$srv" nft -f - <<'EOF'
table inet sink {
  counter udp9 { }
  chain input { type filter hook input priority 0; policy accept; udp dport 9 counter name udp9 drop; }
}
EOF
  # Not through nsx: a function in the background is a subshell, and killing it would leave iperf3 running. `ip netns
  # exec` execs iperf3 in place, so $! is iperf3 itself.
  ip netns exec "$srv" iperf3 -s -p 5201 >/dev/null 2>&1 &
  pids+=($!)
  local ok=0
  for _ in $(seq 1 50); do
    if nsx "$cli" ping -c 1 -W 1 -q "$pub" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" -eq 1 ] || { log "$path: $pub does not answer ping from the client; skipping"; rec "$path" error "no ping"; return 0; }

  # Ping: N echo requests 1 ms apart, idle path.
  nsx "$cli" ping -n -c "$pings" -i 0.001 -W 1 "$pub" 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g > "$tmp/ping-$path.txt" || true
  local got; got=$(wc -l < "$tmp/ping-$path.txt")
  rec "$path" ping.sent "$pings"
  rec "$path" ping.received "$got"
  if [ "$got" -gt 0 ]; then
    rec "$path" ping.p50_ms "$(awk -v n="$got" 'NR==int((n-1)*0.50)+1' "$tmp/ping-$path.txt")"
    rec "$path" ping.p99_ms "$(awk -v n="$got" 'NR==int((n-1)*0.99)+1' "$tmp/ping-$path.txt")"
  fi
  log "$path: ping p50 $(awk -v n="$got" 'NR==int((n-1)*0.50)+1' "$tmp/ping-$path.txt") ms, p99 $(awk -v n="$got" 'NR==int((n-1)*0.99)+1' "$tmp/ping-$path.txt") ms ($got/$pings answered)"

  local gc0=""
  [ -n "$gateway_pid" ] && gc0="$(stat_field "$gateway_stats" runtime.gen0Collections) $(stat_field "$gateway_stats" runtime.gen1Collections) $(stat_field "$gateway_stats" runtime.gen2Collections) $(stat_field "$gateway_stats" runtime.workerAllocatedBytes)"
  # TCP: iperf3, 1 and 4 streams, in (client sends) and out (-R: the instance sends).
  local streams dir flag
  for streams in 1 4; do
    for dir in in out; do
      flag=""; [ "$dir" = out ] && flag="-R"
      sleep 1
      local l; l=$(load)
      if nsx "$cli" iperf3 -c "$pub" -p 5201 -t "$tcp_seconds" -P "$streams" $flag -J --connect-timeout 3000 > "$tmp/iperf-$path-$streams-$dir.json" 2>/dev/null; then
        local gbps retr
        read -r gbps retr < <(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]; print(e["sum_received"]["bits_per_second"]/1e9, e["sum_sent"].get("retransmits",0))' "$tmp/iperf-$path-$streams-$dir.json")
        rec "$path" "tcp.$dir.$streams.gbps" "$gbps"
        rec "$path" "tcp.$dir.$streams.retransmits" "$retr"
        rec "$path" "tcp.$dir.$streams.load" "$l"
        log "$path: TCP $dir, $streams stream(s): $(printf '%.2f' "$gbps") Gbps, $retr retransmits (load $l)"
      else
        rec "$path" "tcp.$dir.$streams.gbps" "0"
        log "$path: TCP $dir, $streams stream(s): iperf3 failed"
      fi
    done
  done

  if [ -n "$gateway_pid" ]; then
    sleep 1.5
    local g0 g1 g2 a0 h0 h1 h2 b0
    read -r g0 g1 g2 a0 <<<"$gc0"
    read -r h0 h1 h2 b0 <<<"$(stat_field "$gateway_stats" runtime.gen0Collections) $(stat_field "$gateway_stats" runtime.gen1Collections) $(stat_field "$gateway_stats" runtime.gen2Collections) $(stat_field "$gateway_stats" runtime.workerAllocatedBytes)"
    rec "$path" tcp.gc "$((h0 - g0))/$((h1 - g1))/$((h2 - g2))"
    rec "$path" tcp.worker_allocated_bytes "$((b0 - a0))"
    log "$path: during the TCP runs: GC gen0/1/2 $((h0 - g0))/$((h1 - g1))/$((h2 - g2)), workers allocated $((b0 - a0)) bytes"
  fi

  # UDP: 64-byte frames at fixed offered rates, then at the generator's top speed.
  local mac smac
  mac=$(ip -n "$cli" neigh show "$pub" | awk '{for (i=1;i<NF;i++) if ($i=="lladdr") print $(i+1)}')
  smac=$(ip -n "$cli" -br link show eth0 | awk '{print $3}')
  cat > "$tmp/udp64.cfg" <<EOF
{ eth(da=$mac, sa=$smac), ipv4(saddr=203.0.113.1, daddr=$pub, ttl=64), udp(sp=dinc(10000, 10063), dp=9), fill(0x00, 18) }
EOF
  local rate
  for rate in $rates; do
    sleep 1.5 # let the gateway's stats file catch up (rewritten every second)
    local tx0 drop0 rx0 ticks0 frames0 kdrops0 t0 t1 tx1 drop1 rx1 ticks1 frames1 l
    l=$(load)
    tx0=$(counter "$cli" tx_packets); drop0=$(counter "$cli" tx_dropped)
    rx0=$(nsx "$srv" nft list counter inet sink udp9 | awk '/packets/ {print $2}')
    if [ -n "$gateway_pid" ]; then
      ticks0=$(worker_ticks "$gateway_pid"); frames0=$(stat_field "$gateway_stats" receivedPackets)
      kdrops0=$(stat_field "$gateway_stats" kernelDroppedPackets)
    fi
    local profiling=""
    if [ -n "$gateway_pid" ] && [ "$rate" = "$last_rate" ] && [ "$profile" = 1 ] && command -v perf >/dev/null; then
      # Where the workers' CPU goes at the highest rate: sampled call stacks of the gateway's threads.
      perf record -q -F 999 -g -p "$gateway_pid" -o "$tmp/perf-$path.data" -- sleep "$udp_seconds" >/dev/null 2>&1 &
      profiling=$!
    fi
    t0=$(date +%s.%N)
    if [ "$rate" = max ]; then
      # TX_RING at top speed for the duration (SIGINT ends trafgen cleanly).
      timeout -s INT "$udp_seconds" ip netns exec "$cli" taskset -c 0 trafgen -o eth0 -i "$tmp/udp64.cfg" --cpus 1 -q >/dev/null 2>&1 || true
    else
      timeout -s INT $((udp_seconds * 3 + 5)) ip netns exec "$cli" taskset -c 0 trafgen -o eth0 -i "$tmp/udp64.cfg" --cpus 1 -q \
        -n $((rate * udp_seconds)) -b "${rate}pps" >/dev/null 2>&1 || true
    fi
    t1=$(date +%s.%N)
    [ -n "$profiling" ] && wait "$profiling" 2>/dev/null
    sleep 1.5
    tx1=$(counter "$cli" tx_packets); drop1=$(counter "$cli" tx_dropped)
    rx1=$(nsx "$srv" nft list counter inet sink udp9 | awk '/packets/ {print $2}')
    local sent=$((tx1 - tx0)) got=$((rx1 - rx0)) secs
    secs=$(echo "$t1 - $t0" | bc -l)
    rec "$path" "udp.$rate.seconds" "$secs"
    rec "$path" "udp.$rate.sent" "$sent"
    rec "$path" "udp.$rate.received" "$got"
    rec "$path" "udp.$rate.generator_dropped" "$((drop1 - drop0))"
    rec "$path" "udp.$rate.load" "$l"
    local line="$path: UDP 64 B at $rate: offered $(echo "$sent / $secs" | bc) fps, received $got of $sent"
    if [ -n "$gateway_pid" ]; then
      ticks1=$(worker_ticks "$gateway_pid"); frames1=$(stat_field "$gateway_stats" receivedPackets)
      local hz; hz=$(getconf CLK_TCK)
      rec "$path" "udp.$rate.worker_cpu_seconds" "$(echo "($ticks1 - $ticks0) / $hz" | bc -l)"
      rec "$path" "udp.$rate.gateway_frames" "$((frames1 - frames0))"
      rec "$path" "udp.$rate.workers" "$(worker_count "$gateway_pid")"
      rec "$path" "udp.$rate.kernel_drops" "$(( $(stat_field "$gateway_stats" kernelDroppedPackets) - kdrops0 ))"
      if [ -n "$profiling" ] && [ -s "$tmp/perf-$path.data" ]; then
        # Each worker sample in one class: the kernel's receive processing that a veth or TAP write runs inline on the
        # sending CPU (softirq under the worker's send: bridge, the far host's stack), the send path itself (sendmmsg on
        # AF_PACKET, write/writev on a TAP), the rest of the kernel (poll, reads, the ring), or the gateway's own code.
        local shares
        shares=$(perf script -i "$tmp/perf-$path.data" -F comm,ip,sym 2>/dev/null | awk '
          BEGIN { RS = "" }
          { split($0, lines, "\n"); if (lines[1] !~ /gw-worker/) next; n++
            soft = 0; send = 0; kernel = 0
            for (i = 2; i in lines; i++) {
              if (lines[i] ~ /do_softirq|handle_softirqs/) soft = 1
              if (lines[i] ~ /__sys_sendmmsg|ksys_write|do_writev|__x64_sys_write/) send = 1
              if (lines[i] ~ /entry_SYSCALL|asm_/) kernel = 1
            }
            if (soft) s++; else if (send) t++; else if (kernel) r++; else u++ }
          END { if (n) printf "%.3f %.3f %.3f %.3f %d", s/n, t/n, r/n, u/n, n; else print "" }')
        if [ -n "$shares" ]; then
          read -r s_soft s_send s_rest s_user s_n <<<"$shares"
          rec "$path" "udp.$rate.profile.samples" "$s_n"
          rec "$path" "udp.$rate.profile.inline_delivery" "$s_soft"
          rec "$path" "udp.$rate.profile.send_path" "$s_send"
          rec "$path" "udp.$rate.profile.other_kernel" "$s_rest"
          rec "$path" "udp.$rate.profile.user" "$s_user"
          line="$line; worker CPU: $(printf '%.0f' "$(echo "$s_soft * 100" | bc -l)") % inline delivery downstream, $(printf '%.0f' "$(echo "$s_send * 100" | bc -l)") % send path, $(printf '%.0f' "$(echo "$s_rest * 100" | bc -l)") % other kernel, $(printf '%.0f' "$(echo "$s_user * 100" | bc -l)") % user"
        fi
      fi
      line="$line; gateway: $((frames1 - frames0)) frames (kernel dropped $(( $(stat_field "$gateway_stats" kernelDroppedPackets) - kdrops0 ))) in $(echo "($ticks1 - $ticks0) / $hz" | bc -l | xargs printf '%.2f') worker CPU-s"
    fi
    log "$line (load $l)"
  done
  kill "${pids[-1]}" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
  rec "$path" load.end "$(load)"
}

log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
log "paths: $paths; TCP ${tcp_seconds} s per run, UDP ${udp_seconds} s per rate ($rates), $pings pings"
for path in $paths; do
  gateway_pid=""
  case "$path" in
    kernel)
      build_kernel
      measure kernel "${kprefix}cli" "${kprefix}srv" "$kernel_public"
      for ns in $(ip netns list | awk '{print $1}' | grep "^$kprefix" || true); do ip netns del "$ns"; done
      ;;
    gateway-tap|gateway-veth|gateway-veth-pcap)
      mode=tap; backend=""
      [ "$path" = gateway-veth ] && mode=veth
      [ "$path" = gateway-veth-pcap ] && { mode=veth; backend=pcap; }
      build_gateway "$mode" "$backend"
      measure "$path" "gwl-$lab-cli" "gwl-$lab-srv" "$public"
      rec "$path" gateway.stats "$(tr -d '\n ' < "$gateway_stats")"
      "$gw" lab down --name "$lab" >/dev/null
      ;;
  esac
done

mkdir -p "$(dirname "$out")"
python3 - "$records" "$out" "$tcp_seconds" "$udp_seconds" "$pings" "$rates" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "$(uname -r)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, sys, os, datetime
records, out, tcp_s, udp_s, pings, rates, nproc, cpu, kernel, commit = sys.argv[1:]
paths = {}
for line in open(records):
    path, key, value = line.rstrip("\n").split("\t", 2)
    p = paths.setdefault(path, {})
    try:
        p[key] = float(value)
    except ValueError:
        p[key] = value

def num(p, k):
    v = p.get(k)
    return v if isinstance(v, float) else None

result = {
    "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "commit": commit,
    "machine": {"cores": int(nproc), "cpu": cpu, "kernel": kernel},
    "settings": {"tcpSeconds": float(tcp_s), "udpSeconds": float(udp_s), "pings": int(pings), "rates": rates.split()},
    "paths": {},
}
for name, p in paths.items():
    entry = {"loadStart": num(p, "load.start"), "loadEnd": num(p, "load.end")}
    if "error" in p:
        entry["error"] = p["error"]
    entry["ping"] = {"sent": num(p, "ping.sent"), "received": num(p, "ping.received"),
                     "p50Ms": num(p, "ping.p50_ms"), "p99Ms": num(p, "ping.p99_ms")}
    if "tcp.gc" in p:
        entry["tcpGcCollections"] = p["tcp.gc"] if isinstance(p["tcp.gc"], str) else str(p["tcp.gc"])
        entry["tcpWorkerAllocatedBytes"] = num(p, "tcp.worker_allocated_bytes")
    entry["tcp"] = [{"direction": d, "streams": s, "gbps": num(p, f"tcp.{d}.{s}.gbps"),
                     "retransmits": num(p, f"tcp.{d}.{s}.retransmits"), "load": num(p, f"tcp.{d}.{s}.load")}
                    for s in (1, 4) for d in ("in", "out") if f"tcp.{d}.{s}.gbps" in p]
    udp = []
    for r in rates.split():
        if f"udp.{r}.sent" not in p:
            continue
        sent, got, secs = num(p, f"udp.{r}.sent"), num(p, f"udp.{r}.received"), num(p, f"udp.{r}.seconds")
        u = {"rate": r, "seconds": secs, "sent": sent, "received": got,
             "offeredPps": sent / secs if secs else None,
             "receivedPps": got / secs if secs else None,
             "lossPercent": 100.0 * (sent - got) / sent if sent else None,
             "generatorDropped": num(p, f"udp.{r}.generator_dropped"), "load": num(p, f"udp.{r}.load")}
        if f"udp.{r}.worker_cpu_seconds" in p:
            cpu_s, frames = num(p, f"udp.{r}.worker_cpu_seconds"), num(p, f"udp.{r}.gateway_frames")
            u.update({"workers": num(p, f"udp.{r}.workers"), "workerCpuSeconds": cpu_s, "gatewayFrames": frames,
                      "framesPerWorkerCpuSecond": frames / cpu_s if cpu_s else None,
                      "kernelDrops": num(p, f"udp.{r}.kernel_drops")})
            if f"udp.{r}.profile.samples" in p:
                prof = {k: num(p, f"udp.{r}.profile.{k2}") for k, k2 in (("samples", "samples"), ("inlineDelivery", "inline_delivery"),
                        ("sendPath", "send_path"), ("otherKernel", "other_kernel"), ("user", "user"))}
                u["workerProfile"] = prof
                if cpu_s and frames and prof["inlineDelivery"] is not None:
                    u["framesPerWorkerCpuSecondExcludingInlineDelivery"] = frames / (cpu_s * (1 - prof["inlineDelivery"]))
        udp.append(u)
    entry["udp64"] = udp
    if "gateway.stats" in p:
        try:
            entry["gatewayStats"] = json.loads(p["gateway.stats"])
        except json.JSONDecodeError:
            pass
    result["paths"][name] = entry

tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
os.replace(tmp, out)

# The table: one column per path, the kernel's figure first; ratios against it for the gateway paths.
names = list(result["paths"])
kernel_entry = result["paths"].get("kernel")
def ratio(v, k):
    return f" ({v / k:.2f}×)" if v is not None and k else ""
rows = []
def tcp_of(e, d, s):
    return next((t["gbps"] for t in e["tcp"] if t["direction"] == d and t["streams"] == s), None) if e else None
for s in (1, 4):
    for d in ("in", "out"):
        cells = []
        for n in names:
            v, k = tcp_of(result["paths"][n], d, s), tcp_of(kernel_entry, d, s)
            cells.append("n/a" if v is None else f"{v:.2f}" + ("" if n == "kernel" else ratio(v, k)))
        label = f"TCP {s} stream{'s' if s > 1 else ''} {'into the VPC' if d == 'in' else 'out of the VPC'} (Gbps, iperf3 {float(tcp_s):g} s)"
        rows.append((label, cells))
if any("tcpGcCollections" in result["paths"][n] for n in names):
    cells = []
    for n in names:
        e = result["paths"][n]
        cells.append(f"{e['tcpGcCollections']}, {int(e['tcpWorkerAllocatedBytes'] or 0):,} B" if "tcpGcCollections" in e else "—")
    rows.append((f"gateway GC collections gen0/1/2 and worker bytes allocated over the TCP runs ({4 * float(tcp_s):g} s)", cells))
for key, label in (("p50Ms", "ping p50 (ms)"), ("p99Ms", "ping p99 (ms)")):
    cells = []
    for n in names:
        v = result["paths"][n]["ping"][key]
        k = kernel_entry["ping"][key] if kernel_entry else None
        cells.append("n/a" if v is None else f"{v:.3f}" + ("" if n == "kernel" else ratio(v, k)))
    rows.append((f"{label}, {int(pings)} pings 1 ms apart", cells))
for r in rates.split():
    cells = []
    for n in names:
        u = next((x for x in result["paths"][n]["udp64"] if x["rate"] == r), None)
        if u is None or u["offeredPps"] is None:
            cells.append("n/a")
            continue
        cell = f"{u['offeredPps'] / 1000:.0f} kpps offered, {u['lossPercent']:.2f} % lost"
        if u.get("framesPerWorkerCpuSecond"):
            cell += f"; {u['framesPerWorkerCpuSecond'] / 1e6:.2f} M frames per worker CPU-s ({int(u['workers'] or 0)} workers)"
        if u.get("framesPerWorkerCpuSecondExcludingInlineDelivery"):
            cell += f", {u['framesPerWorkerCpuSecondExcludingInlineDelivery'] / 1e6:.2f} M without the receivers' work run inline"
        cells.append(cell)
    label = "UDP 64 B, generator top speed" if r == "max" else f"UDP 64 B at {int(r) / 1000:g} kpps"
    rows.append((label, cells))
loads = [f"{n} {result['paths'][n]['loadStart']}–{result['paths'][n]['loadEnd']}" for n in names]
lines = ["| measurement | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
lines += ["| " + label + " | " + " | ".join(cells) + " |" for label, cells in rows]
table = "\n".join(lines)
md = out[:-5] + ".md" if out.endswith(".json") else out + ".md"
with open(md + ".tmp", "w") as f:
    f.write(table + "\n\n")
    f.write(f"{result['generated']}, commit {commit}; {nproc} cores ({cpu}), kernel {kernel}; load average (start–end) " + ", ".join(loads) + "\n")
os.replace(md + ".tmp", md)
print(table)
print()
print("load average (start–end): " + ", ".join(loads))
print(f"written: {out}, {md}")
PY
if [ "$plots" = 1 ]; then
  dotnet run --project perf/Gateway.PerfPlots -c Release -- lab "$out" perf/plots >&2 || echo "lab-vs-kernel: the plots failed (the JSON and the table are written)" >&2
fi
