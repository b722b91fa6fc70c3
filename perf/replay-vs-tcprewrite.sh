#!/usr/bin/env bash
# Replay vs cp and tcprewrite, side by side on one capture and one set of bindings.
#   perf/replay-vs-tcprewrite.sh [frames] [bindings]   (defaults 10000000 and 64)
# Files go to ${WORK:-out/perf} (ignored by git). Builds the gateway (the Native AOT executable, scripts/publish.sh;
# GATEWAY=jit uses `dotnet gateway.dll` instead, GATEWAY=/path/to/gateway an executable already built) and the corpus generator, writes a pcap of small (60-byte) UDP frames,
# half inbound and half outbound, spread over the bindings, then runs `cp` of the same file (the floor: the bytes in and
# out, nothing else), `gateway replay` and `tcprewrite --srcipmap=<private>:<public>,… --dstipmap=<public>:<private>,…`.
# Reports wall-clock and CPU (user+sys) seconds: on a shared machine CPU time is the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
frames="${1:-10000000}"
count="${2:-64}"
work="${WORK:-out/perf}"
mkdir -p "$work"
command -v tcprewrite >/dev/null || scripts/setup.sh

dotnet build captures/Generator -c Release --nologo -v quiet >/dev/null
case "${GATEWAY:-aot}" in
  aot) gateway=("$(scripts/publish.sh out/gateway)") ;;
  jit) dotnet build src/Gateway.Cli -c Release --nologo -v quiet >/dev/null
       gateway=(dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll) ;;
  *) gateway=("$GATEWAY") ;; # an executable already built
esac
input="$work/bench-$frames-$count.pcap"
bindings="$work/bench-$count.bindings.json"
maps="$work/bench-$count.tcprewrite-args"
if [ ! -s "$input" ]; then
  echo "writing $frames frames over $count bindings to $input ..." >&2
  dotnet captures/Generator/bin/Release/net10.0/Gateway.CaptureGenerator.dll bench --frames "$frames" --binding-count "$count" \
    --out "$input" --bindings "$bindings" --tcprewrite-map "$maps"
fi
read -r -a map_args < "$maps"

# Runs a command, prints "wall cpu" seconds.
measure() {
  local TIMEFORMAT='%R %U %S'
  local t
  t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
  read -r real user sys <<<"$t"
  echo "$real $(echo "$user + $sys" | bc -l)"
}

cat "$input" > /dev/null # page cache: all three read the input from memory
echo "input: $input ($(stat -c %s "$input") bytes, $frames frames, $count bindings); gateway: ${gateway[*]}; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$work/out.cp.pcap"
read -r c_wall c_cpu <<<"$(measure cp "$input" "$work/out.cp.pcap")"
read -r g_wall g_cpu <<<"$(measure "${gateway[@]}" replay "$input" -o "$work/out.gateway.pcap" --bindings "$bindings" --stats-json "$work/out.gateway.stats.json")"
read -r t_wall t_cpu <<<"$(measure tcprewrite "${map_args[@]}" --infile="$input" --outfile="$work/out.tcprewrite.pcap")"
# tcprewrite's cheapest form: one --pnat prefix rule each way. The generator binds 198.51.100.(10+i) <-> 10.0.0.(10+i)
# and talks to 203.0.113.0/24 only, so the two /24 rules rewrite exactly what the bindings do.
read -r p_wall p_cpu <<<"$(measure tcprewrite --pnat=10.0.0.0/24:198.51.100.0/24,198.51.100.0/24:10.0.0.0/24 --infile="$input" --outfile="$work/out.tcprewrite-pnat.pcap")"
rm -f "$work/out.cp.pcap"
printf 'cp:             wall %8.2f s (%6.2f M frames/s)  cpu %8.2f s\n' "$c_wall" "$(echo "$frames / $c_wall / 1000000" | bc -l)" "$c_cpu"
printf 'gateway replay: wall %8.2f s (%6.2f M frames/s)  cpu %8.2f s   %s\n' "$g_wall" "$(echo "$frames / $g_wall / 1000000" | bc -l)" "$g_cpu" "$(cat "$work/out.gateway.stats.json")"
printf 'tcprewrite:     wall %8.2f s (%6.2f M frames/s)  cpu %8.2f s   (--srcipmap/--dstipmap, one entry per binding)\n' "$t_wall" "$(echo "$frames / $t_wall / 1000000" | bc -l)" "$t_cpu"
printf 'tcprewrite:     wall %8.2f s (%6.2f M frames/s)  cpu %8.2f s   (--pnat, one prefix rule each way)\n' "$p_wall" "$(echo "$frames / $p_wall / 1000000" | bc -l)" "$p_cpu"
c_cpu_floor=$(echo "if ($c_cpu < 0.01) 0.01 else $c_cpu" | bc -l) # time(1) has 10 ms resolution
printf 'ratio (gateway / cp): wall %.2fx, cpu %.2fx\n' "$(echo "$g_wall / $c_wall" | bc -l)" "$(echo "$g_cpu / $c_cpu_floor" | bc -l)"
printf 'ratio (tcprewrite / gateway): wall %.1fx, cpu %.1fx\n' "$(echo "$t_wall / $g_wall" | bc -l)" "$(echo "$t_cpu / $g_cpu" | bc -l)"
printf 'ratio (tcprewrite --pnat / gateway): wall %.1fx, cpu %.1fx\n' "$(echo "$p_wall / $g_wall" | bc -l)" "$(echo "$p_cpu / $g_cpu" | bc -l)"
# Same work: both wrote every frame, and the two outputs carry the same addresses.
g_frames=$(capinfos -M -c -T "$work/out.gateway.pcap" 2>/dev/null | tail -1 | cut -f2)
t_frames=$(capinfos -M -c -T "$work/out.tcprewrite.pcap" 2>/dev/null | tail -1 | cut -f2)
echo "frames written: gateway $g_frames, tcprewrite $t_frames"
if cmp -s <(tshark -r "$work/out.gateway.pcap" -c 2000 -T fields -e ip.src -e ip.dst 2>/dev/null) \
          <(tshark -r "$work/out.tcprewrite.pcap" -c 2000 -T fields -e ip.src -e ip.dst 2>/dev/null); then
  echo "first 2000 frames: same source and destination addresses in both outputs"
else
  echo "first 2000 frames: the outputs' addresses DIFFER" >&2
fi
if cmp -s <(tshark -r "$work/out.gateway.pcap" -c 2000 -T fields -e ip.src -e ip.dst 2>/dev/null) \
          <(tshark -r "$work/out.tcprewrite-pnat.pcap" -c 2000 -T fields -e ip.src -e ip.dst 2>/dev/null); then
  echo "first 2000 frames: same addresses in the --pnat output too"
else
  echo "first 2000 frames: the --pnat output's addresses DIFFER" >&2
fi
