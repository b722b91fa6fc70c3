#!/usr/bin/env bash
# Start-up of the three ways to ship the CLI, side by side, interleaved in one run:
#   jit  dotnet src/Gateway.Cli/bin/Release/net10.0/gateway.dll   (the build output: IL, JIT at start-up)
#   r2r  out/gateway-r2r/gateway   (dotnet publish -p:PublishReadyToRun=true: our assemblies precompiled, framework-dependent)
#   aot  out/gateway/gateway       (scripts/publish.sh: Native AOT, one file, no JIT)
# For each: `gateway --version` and a replay of the 30-frame captures/mixed.pcap. Prints the median wall-clock and CPU
# (user + sys, from wait4's rusage) of N runs (default 15) of each, with the load average.
#   perf/startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-15}"
dotnet build src/Gateway.Cli -c Release --nologo -v quiet >/dev/null
dotnet publish src/Gateway.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true --nologo -v quiet -o out/gateway-r2r >/dev/null
aot=$(scripts/publish.sh out/gateway)
mkdir -p out/perf
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $runs runs each, interleaved; medians" >&2
python3 - "$runs" "$aot" <<'EOF'
import os, statistics, subprocess, sys, time
runs, aot = int(sys.argv[1]), sys.argv[2]
variants = [
    ("jit (dotnet gateway.dll)", ["dotnet", "src/Gateway.Cli/bin/Release/net10.0/gateway.dll"]),
    ("ReadyToRun (framework-dependent)", ["out/gateway-r2r/gateway"]),
    ("Native AOT (out/gateway/gateway)", [aot]),
]
tasks = [
    ("--version", ["--version"]),
    ("replay 30 frames", ["replay", "captures/mixed.pcap", "-o", "out/perf/startup.mixed.pcap", "--bindings", "captures/mixed.bindings.json"]),
]
results = {}
for _ in range(runs):
    for vname, command in variants:
        for tname, args in tasks:
            start = time.perf_counter()
            p = subprocess.Popen(command + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(p.pid, 0)
            wall = time.perf_counter() - start
            if status != 0:
                sys.exit(f"{vname} {tname}: exit status {status}")
            results.setdefault((vname, tname), []).append((wall, usage.ru_utime + usage.ru_stime))
print("| executable | task | wall (median) | CPU user+sys (median) |")
print("|---|---|--:|--:|")
for vname, _ in variants:
    for tname, _ in tasks:
        r = results[(vname, tname)]
        print(f"| {vname} | {tname} | {statistics.median(w for w, _ in r) * 1000:.1f} ms | {statistics.median(c for _, c in r) * 1000:.1f} ms |")
EOF
