using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.Control.Store.Etcd;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Cli.Lab;

/// <summary>
/// Builds a lab from a <see cref="Topology"/> and removes it again.
/// </summary>
/// <remarks>
/// <code>
///  ns gwl-N-inet (br0) ─ veth ─ ns gwl-N-HOST (eth0: host address, on-link routes only)
///     │ TAP gwNi (moved in)
///  gateway run (a background process of its own; API on a loopback port)
///     │ TAP gwNv (moved in)
///  ns gwl-N-vpc (br0) ─ veth ─ ns gwl-N-INSTANCE (eth0: the private IP the API assigned, default via the subnet's first address)
/// </code>
/// Every step is recorded in <see cref="LabState"/> before the next one, so <see cref="Down"/> removes what exists
/// even after a crash; no namespace gets a route out of the lab.
/// </remarks>
internal static partial class LabRunner
{
    private static readonly TimeSpan s_daemonStartTimeout = TimeSpan.FromSeconds(60);

    [GeneratedRegex(@"API listening on http://([0-9.]+:[0-9]+)")]
    private static partial Regex ApiLine();

    /// <summary>The command that runs this executable (<c>dotnet gateway.dll</c>, the apphost, or the Native AOT build).</summary>
    public static IReadOnlyList<string> SelfCommand
    {
        get
        {
            string process = Environment.ProcessPath ?? "dotnet";
            return Path.GetFileNameWithoutExtension(process) == "dotnet"
                ? [process, Path.Combine(AppContext.BaseDirectory, "gateway.dll")]
                : [process];
        }
    }

    public static string TapName(string lab, char side) => $"gw{lab}{side}";

    public static LabState Up(Topology topology, string topologyPath, TextWriter log, CancellationToken cancellationToken)
    {
        if (LabState.Load(topology.Name) is { } existing)
        {
            if (existing.Processes.FirstOrDefault(p => IsGateway(p) && Sh.IsRunning(p.Pid, p.StartTime)) is { } daemon)
            {
                throw new LabException($"lab {topology.Name} is up already (gateway pid {daemon.Pid}); run 'gateway lab down' for it first.");
            }
            log.WriteLine($"lab {topology.Name}: removing what an earlier run left behind");
            Down(topology.Name, TextWriter.Null);
        }
        else if (ListNamespaces(topology.Name).Count > 0)
        {
            Down(topology.Name, TextWriter.Null);
        }
        foreach (string tap in "iv".Select(side => TapName(topology.Name, side))
            .Concat(Enumerable.Range(0, topology.Etcd is null ? 0 : topology.GatewayNodes).SelectMany(n => "iv".Select(side => ClusterTapName(topology.Name, n, side)))))
        {
            if (LinkExists(null, tap))
            {
                throw new LabException($"an interface named {tap} exists already and is not this lab's; delete it or choose another lab name.");
            }
        }

        var state = new LabState
        {
            Name = topology.Name,
            Topology = Path.GetFullPath(topologyPath),
            Mode = topology.Veth ? "veth" : "tap",
            InternetPort = TapName(topology.Name, 'i'),
            VpcPort = TapName(topology.Name, 'v'),
        };
        Directory.CreateDirectory(state.Dir);
        state.Save();
        try
        {
            Build(topology, state, log, cancellationToken);
            return state;
        }
        catch
        {
            log.WriteLine($"lab {topology.Name}: failed; removing what was made");
            Down(topology.Name, log);
            throw;
        }
    }

    private static void Build(Topology topology, LabState state, TextWriter log, CancellationToken cancellationToken)
    {
        string prefix = LabState.NamespacePrefix(topology.Name);
        string inet = prefix + "inet", vpc = prefix + "vpc";
        foreach (string ns in new[] { inet, vpc })
        {
            AddNamespace(state, ns);
            Sh.Must("ip", "-n", ns, "link", "add", "br0", "type", "bridge");
            Sh.Must("ip", "-n", ns, "link", "set", "br0", "up");
            // The segments are plain L2: where br_netfilter is built in (Debian's kernels, this one), every bridged IPv4
            // frame would otherwise go through the IP hooks with a route lookup (br_nf_pre_routing), a third of the CPU
            // the lab spends per frame. Per network namespace since Linux 5.3; on older kernels the knob exists only in
            // the root namespace, this fails, and the host's setting is left alone.
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-arptables=0");
        }
        cancellationToken.ThrowIfCancellationRequested();

        if (topology.Veth)
        {
            // The gateway's ends stay in the root namespace, opened as --internet-if/--vpc-if (AF_PACKET unless the topology
            // asks for libpcap); the peers join the segments' bridges.
            foreach (var (port, ns) in new[] { (state.InternetPort, inet), (state.VpcPort, vpc) })
            {
                Sh.Must("ip", "link", "add", port, "type", "veth", "peer", "name", "gw", "netns", ns);
                state.RootLinks.Add(port);
                state.Save();
                Sh.Must("sysctl", "-qw", $"net.ipv6.conf.{port}.disable_ipv6=1");
                Sh.Must("ip", "link", "set", port, "up");
                Sh.Must("ip", "-n", ns, "link", "set", "gw", "master", "br0");
                Sh.Must("ip", "-n", ns, "link", "set", "gw", "up");
            }
        }

        Credentials credentials = topology.Etcd is null
            ? StartDaemon(topology, state, inet, vpc, log, cancellationToken)
            : StartCluster(topology, state, inet, vpc, log, cancellationToken);

        foreach (var host in topology.InternetHosts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string ns = prefix + host.Name;
            AddNamespace(state, ns);
            AttachToSegment(inet, ns, host.Name, topology);
            Sh.Must("ip", "-n", ns, "addr", "add", $"{Ipv4Address.Format(host.Address)}/{topology.InternetSubnet.PrefixLength.ToString(CultureInfo.InvariantCulture)}", "dev", "eth0");
            Sh.Must("ip", "-n", ns, "link", "set", "eth0", "up");
            // Public IPs from other ranges are on-link too: hosts ARP for them and the gateway answers. No default route.
            foreach (var onLink in topology.OnLink.Where(p => p != topology.InternetSubnet))
            {
                Sh.Must("ip", "-n", ns, "route", "add", onLink.ToString(), "dev", "eth0");
            }
            state.Hosts.Add(new LabHostRecord(host.Name, ns, Ipv4Address.Format(host.Address)));
            state.Save();
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = new ApiClient(http, new Uri($"http://{state.Api}/"), credentials);
        foreach (var node in topology.Instances)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = CreateInstance(client, node, topology.Name, cancellationToken);
            string ns = prefix + node.Name;
            record = record with { Namespace = ns };
            state.Instances.Add(record);
            state.Save();
            AddNamespace(state, ns);
            AttachToSegment(vpc, ns, node.Name, topology);
            Sh.Must("ip", "-n", ns, "addr", "add", $"{record.PrivateIp}/{topology.VpcSubnet.PrefixLength.ToString(CultureInfo.InvariantCulture)}", "dev", "eth0");
            Sh.Must("ip", "-n", ns, "link", "set", "eth0", "up");
            Sh.Must("ip", "-n", ns, "route", "add", "default", "via", Ipv4Address.Format(topology.VpcGatewayAddress));
        }

        foreach (var node in topology.Instances)
        {
            string ns = prefix + node.Name;
            string directory = Path.Combine(state.Dir, "nodes", node.Name);
            Directory.CreateDirectory(directory);
            for (int i = 0; i < node.Exec.Count; i++)
            {
                string log1 = Path.Combine(state.Dir, "nodes", $"{node.Name}.log");
                int execPid = Sh.StartDetached(["ip", "netns", "exec", ns, "/bin/sh", "-c", node.Exec[i]], log1, directory);
                RecordProcess(state, $"exec {node.Name}[{i.ToString(CultureInfo.InvariantCulture)}]", execPid);
            }
        }
        WaitForListeners(topology, prefix);
        if (state.Processes.Count > 1)
        {
            // A command that fails at once (a typo, a port taken) is an error of the lab, not a surprise later.
            Thread.Sleep(500);
            foreach (var p in state.Processes.Where(p => p.Role.StartsWith("exec ", StringComparison.Ordinal)))
            {
                if (!Sh.IsRunning(p.Pid, p.StartTime))
                {
                    string node = p.Role[5..p.Role.IndexOf('[', StringComparison.Ordinal)];
                    throw new LabException($"{p.Role} exited at once; see {Path.Combine(state.Dir, "nodes", node + ".log")}.");
                }
            }
        }
    }

    /// <summary>The daemon options the topology's gateway section sets: <c>--workers</c>, <c>--tap-offloads</c>, <c>--bandwidth-caps</c>.</summary>
    private static List<string> DataPathTuning(Topology topology)
    {
        var options = new List<string>();
        if (topology.Workers is { } workers)
        {
            options.AddRange(["--workers", workers.ToString(CultureInfo.InvariantCulture)]);
        }
        if (topology.TapOffloads is { } offloads)
        {
            options.AddRange(["--tap-offloads", offloads ? "on" : "off"]);
        }
        if (topology.BandwidthCaps is false)
        {
            options.AddRange(["--bandwidth-caps", "off"]);
        }
        return options;
    }

    /// <summary>The one-node lab's daemon (SQLite state), its TAPs moved into the segments.</summary>
    private static Credentials StartDaemon(Topology topology, LabState state, string inet, string vpc, TextWriter log, CancellationToken cancellationToken)
    {
        // The daemon, with its own state directory and a loopback API port it picks itself.
        Directory.CreateDirectory(state.DaemonStateDirectory);
        var credentials = Credentials.LoadOrCreate(state.DaemonStateDirectory, out _);
        var run = new List<string>(SelfCommand)
        {
            "run", "--state", state.DaemonStateDirectory, "--api", "127.0.0.1:0", "--subnet", topology.VpcSubnet.ToString(),
        };
        foreach (var pool in topology.PublicPool)
        {
            run.AddRange(["--public-pool", pool.ToString()]);
        }
        run.AddRange(topology.Veth
            ? ["--internet-if", state.InternetPort, "--vpc-if", state.VpcPort, "--if-backend", topology.IfBackend]
            : ["--internet-tap", state.InternetPort, "--vpc-tap", state.VpcPort]);
        if (topology.InternetGateway is { } router)
        {
            run.AddRange(["--internet-gateway", Ipv4Address.Format(router)]);
        }
        run.AddRange(DataPathTuning(topology));
        if (topology.Metrics is { } metrics)
        {
            run.AddRange(["--metrics", metrics]);
        }
        run.AddRange(["--stats-interval", "60"]);
        int pid = Sh.StartDetached(run, state.DaemonLog, state.Dir);
        RecordProcess(state, "gateway", pid);
        state.Api = WaitForApi(state, pid, cancellationToken);
        state.Save();
        log.WriteLine($"lab {topology.Name}: gateway pid {pid}, API http://{state.Api}/, log {state.DaemonLog}");

        if (!topology.Veth)
        {
            // The daemon created both TAPs in the root namespace before its API answered; its descriptors stay bound to
            // the devices wherever they go, so move them into the segments and nothing of the lab stays here.
            foreach (var (port, ns) in new[] { (state.InternetPort, inet), (state.VpcPort, vpc) })
            {
                Sh.Must("ip", "link", "set", port, "netns", ns);
                Sh.Must("ip", "-n", ns, "link", "set", port, "master", "br0");
                Sh.Must("ip", "-n", ns, "link", "set", port, "up");
            }
        }

        return credentials;
    }

    /// <summary>
    /// A cluster lab: the etcd cluster (embedded: 3 members of etcd-server on loopback, data in the lab's folder), then
    /// <see cref="Topology.GatewayNodes"/> daemons sharing one prefix, each with its own TAP pair on the same two
    /// segments; etcd's election makes one of them active.
    /// </summary>
    private static Credentials StartCluster(Topology topology, LabState state, string inet, string vpc, TextWriter log, CancellationToken cancellationToken)
    {
        string endpoints;
        if (topology.Etcd == "embedded")
        {
            var plan = LocalEtcdCluster.Plan($"{topology.Name}-etcd", 3, Path.Combine(state.Dir, "etcd"));
            for (int i = 0; i < plan.Members.Count; i++)
            {
                Directory.CreateDirectory(Path.Combine(state.Dir, "etcd"));
                int etcdPid = Sh.StartDetached([LocalEtcdCluster.Executable, .. plan.Arguments(i)], Path.Combine(state.Dir, $"etcd{i.ToString(CultureInfo.InvariantCulture)}.log"), state.Dir);
                RecordProcess(state, $"etcd {i.ToString(CultureInfo.InvariantCulture)}", etcdPid);
            }
            WaitForEtcd(plan, state, cancellationToken);
            endpoints = plan.Endpoints;
            log.WriteLine($"lab {topology.Name}: etcd {endpoints} (3 members, data in {Path.Combine(state.Dir, "etcd")})");
        }
        else
        {
            endpoints = topology.Etcd!;
        }
        state.EtcdEndpoints = endpoints;
        state.EtcdPrefix = $"/gateway-lab/{topology.Name}/";
        state.Save();

        var credentials = Credentials.Generate();
        for (int n = 0; n < topology.GatewayNodes; n++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string suffix = n.ToString(CultureInfo.InvariantCulture);
            string name = $"{topology.Name}-gw{suffix}";
            string directory = Path.Combine(state.Dir, "node" + suffix);
            string daemonLog = Path.Combine(state.Dir, $"gateway{suffix}.log");
            string internetTap = ClusterTapName(topology.Name, n, 'i'), vpcTap = ClusterTapName(topology.Name, n, 'v');
            // The first node seeds etcd with this pair; a node whose etcd already has one (an external etcd reused) uses that.
            Credentials.Write(directory, credentials);
            var run = new List<string>(SelfCommand)
            {
                "run", "--state", directory, "--api", "127.0.0.1:0", "--subnet", topology.VpcSubnet.ToString(),
                "--internet-tap", internetTap, "--vpc-tap", vpcTap, "--stats-interval", "60",
                "--etcd", endpoints, "--etcd-prefix", state.EtcdPrefix, "--node-name", name, "--segment", topology.Name, "--lease-ttl", "1",
            };
            foreach (var pool in topology.PublicPool)
            {
                run.AddRange(["--public-pool", pool.ToString()]);
            }
            if (topology.InternetGateway is { } router)
            {
                run.AddRange(["--internet-gateway", Ipv4Address.Format(router)]);
            }
            run.AddRange(DataPathTuning(topology));
            int pid = Sh.StartDetached(run, daemonLog, state.Dir);
            RecordProcess(state, $"gateway {suffix}", pid);
            string api = WaitForApi(daemonLog, pid, state.Processes.Last(), cancellationToken);
            foreach (var (port, ns) in new[] { (internetTap, inet), (vpcTap, vpc) })
            {
                Sh.Must("ip", "link", "set", port, "netns", ns);
                Sh.Must("ip", "-n", ns, "link", "set", port, "master", "br0");
                Sh.Must("ip", "-n", ns, "link", "set", port, "up");
            }
            state.GatewayNodes.Add(new LabGatewayNode(name, directory, daemonLog, internetTap, vpcTap, api));
            state.Api ??= api;
            state.Save();
            log.WriteLine($"lab {topology.Name}: gateway node {name} pid {pid}, API http://{api}/, log {daemonLog}");
        }
        return Credentials.TryRead(state.GatewayNodes[0].StateDirectory) ?? credentials;
    }

    /// <summary>A cluster node's TAP: <c>g&lt;lab&gt;&lt;n&gt;i</c> / <c>…v</c> (at most 15 characters with a 12-character lab name).</summary>
    public static string ClusterTapName(string lab, int node, char side) => string.Create(CultureInfo.InvariantCulture, $"g{lab}{node}{side}");

    private static void WaitForEtcd(LocalEtcdCluster plan, LabState state, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool healthy = plan.Members.All(m =>
            {
                try
                {
                    return http.GetStringAsync(new Uri(m.ClientUrl + "/health"), cancellationToken).GetAwaiter().GetResult().Contains("\"health\":\"true\"", StringComparison.Ordinal);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            });
            if (healthy)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new LabException($"the lab's etcd did not become healthy within 30 s; see {state.Dir}/etcd*.log.");
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>
    /// Gives servers started by exec a moment to listen (python needs about a second), so the curl that lab up prints
    /// works when pasted at once: waits, at most 5 s in all, until each such namespace has a listening TCP socket.
    /// </summary>
    private static void WaitForListeners(Topology topology, string prefix)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        foreach (var node in topology.Instances.Where(n => n.Exec.Count > 0))
        {
            while (DateTime.UtcNow < deadline && Sh.Run("ip", "netns", "exec", prefix + node.Name, "ss", "-Hltn").Output.Trim().Length == 0)
            {
                Thread.Sleep(100);
            }
        }
    }

    private static LabInstanceRecord CreateInstance(ApiClient client, InstanceNode node, string lab, CancellationToken cancellationToken)
    {
        var internet = new JsonObject
        {
            ["InternetMaxBandwidthOut"] = node.InternetMaxBandwidthOut,
            ["PublicIpAssigned"] = node.PublicIpAssigned,
        };
        if (node.InternetChargeType is not null)
        {
            internet["InternetChargeType"] = node.InternetChargeType;
        }
        var request = new JsonObject
        {
            ["InstanceCount"] = 1,
            ["InstanceName"] = $"{lab}-{node.Name}",
            ["InternetAccessible"] = internet,
        };
        if (node.PrivateAddress is { } fixedIp)
        {
            request["VirtualPrivateCloud"] = new JsonObject
            {
                ["VpcId"] = "DEFAULT",
                ["SubnetId"] = "DEFAULT",
                ["PrivateIpAddresses"] = new JsonArray(Ipv4Address.Format(fixedIp)),
            };
        }
        string id = Call(client, "cvm", "RunInstances", request, node.Name, cancellationToken).GetProperty("InstanceIdSet")[0].GetString()!;
        string? eipId = null;
        if (node.Eip is { } eip)
        {
            var allocate = new JsonObject { ["AddressCount"] = 1, ["InternetMaxBandwidthOut"] = eip.InternetMaxBandwidthOut };
            if (eip.Name is not null)
            {
                allocate["AddressName"] = eip.Name;
            }
            eipId = Call(client, "vpc", "AllocateAddresses", allocate, node.Name, cancellationToken).GetProperty("AddressSet")[0].GetString()!;
            Call(client, "vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eipId, ["InstanceId"] = id }, node.Name, cancellationToken);
        }
        var described = Call(client, "cvm", "DescribeInstances", new JsonObject { ["InstanceIds"] = new JsonArray(id) }, node.Name, cancellationToken)
            .GetProperty("InstanceSet")[0];
        string privateIp = described.GetProperty("PrivateIpAddresses")[0].GetString()!;
        string? publicIp = described.GetProperty("PublicIpAddresses") is { ValueKind: JsonValueKind.Array } list && list.GetArrayLength() > 0 ? list[0].GetString() : null;
        return new LabInstanceRecord(node.Name, "", id, privateIp, publicIp, eipId);
    }

    private static JsonElement Call(ApiClient client, string service, string action, JsonObject request, string node, CancellationToken cancellationToken)
    {
        try
        {
            return client.CallAsync(service, action, request, cancellationToken).GetAwaiter().GetResult();
        }
        catch (ApiErrorException e)
        {
            throw new LabException($"instance {node}: {action} failed: {e.Code}: {e.ApiMessage}");
        }
        catch (HttpRequestException e)
        {
            throw new LabException($"instance {node}: {action}: the gateway API does not answer: {e.Message}");
        }
    }

    /// <summary>A veth pair: <c>p-NODE</c> on the segment's bridge, <c>eth0</c> in the node's namespace.</summary>
    private static void AttachToSegment(string segment, string ns, string node, Topology topology)
    {
        string port = "p-" + node;
        Sh.Must("ip", "-n", segment, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        Sh.Must("ip", "-n", segment, "link", "set", port, "master", "br0");
        Sh.Must("ip", "-n", segment, "link", "set", port, "up");
        if (topology.Veth && topology.IfBackend == "pcap")
        {
            // libpcap captures veth frames before the kernel fills in TCP/UDP checksums (CHECKSUM_PARTIAL) and cannot say
            // so; the translator updates checksums incrementally (RFC 1624), so hosts behind a libpcap port compute them
            // themselves. The AF_PACKET backend gets a virtio_net_hdr that says a checksum is partial, and needs nothing.
            Sh.Must("ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off");
        }
    }

    private static void AddNamespace(LabState state, string ns)
    {
        Sh.Must("ip", "netns", "add", ns);
        state.Namespaces.Add(ns);
        state.Save();
        Sh.Must("ip", "-n", ns, "link", "set", "lo", "up");
        // No IPv6: keeps router solicitations and DAD off the segments; the gateway translates IPv4 only.
        Sh.Must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    }

    private static void RecordProcess(LabState state, string role, int pid)
    {
        // The start time tells this process from a later one that reuses the pid; a process that already exited has none.
        state.Processes.Add(new LabProcess(role, pid, Sh.StartTime(pid) ?? -1));
        state.Save();
    }

    private static string WaitForApi(LabState state, int pid, CancellationToken cancellationToken) =>
        WaitForApi(state.DaemonLog, pid, state.Processes.Last(), cancellationToken);

    private static string WaitForApi(string daemonLog, int pid, LabProcess process, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + s_daemonStartTimeout;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string text = File.Exists(daemonLog) ? File.ReadAllText(daemonLog) : "";
            if (ApiLine().Match(text) is { Success: true } m)
            {
                return m.Groups[1].Value;
            }
            if (!Sh.IsRunning(pid, process.StartTime))
            {
                throw new LabException($"the gateway daemon exited before its API answered:\n{text.Trim()}");
            }
            Thread.Sleep(100);
        }
        throw new LabException($"the gateway daemon's API did not answer within {s_daemonStartTimeout.TotalSeconds} s; see {daemonLog}.");
    }

    /// <summary>
    /// Removes everything the lab made: its processes (exec commands, then the daemon, which removes its TAPs), root
    /// links, every <c>gwl-NAME-*</c> namespace (recorded or not) and the run directory. Returns what was removed.
    /// </summary>
    public static List<string> Down(string name, TextWriter log)
    {
        var removed = new List<string>();
        LabState? state = null;
        try
        {
            state = LabState.Load(name);
        }
        catch (LabException e)
        {
            log.WriteLine($"lab {name}: {e.Message}");
        }
        if (state is not null)
        {
            // Exec commands first (they live in the namespaces), then the daemons (SIGTERM lets them close the database
            // and their TAP devices cleanly), then the lab's etcd, which the daemons used until they stopped.
            foreach (var p in state.Processes.Where(p => !IsGateway(p) && !p.Role.StartsWith("etcd ", StringComparison.Ordinal))
                .Concat(state.Processes.Where(IsGateway)).Concat(state.Processes.Where(p => p.Role.StartsWith("etcd ", StringComparison.Ordinal))))
            {
                if (p is not null && Stop(p))
                {
                    removed.Add($"process {p.Pid} ({p.Role})");
                }
            }
            foreach (var link in state.RootLinks.Where(l => LinkExists(null, l)))
            {
                Sh.Run("ip", "link", "del", link);
                removed.Add($"link {link}");
            }
        }
        foreach (var ns in ListNamespaces(name).Union(state?.Namespaces ?? []).Distinct().Where(NamespaceExists).ToList())
        {
            var r = Sh.Run("ip", "netns", "del", ns);
            if (r.ExitCode == 0)
            {
                removed.Add($"namespace {ns}");
            }
            else
            {
                log.WriteLine($"lab {name}: cannot delete namespace {ns}: {r.Error.Trim()}");
            }
        }
        foreach (char side in "iv")
        {
            // A TAP outlives its daemon only while some process still holds its descriptor; name it if so.
            string tap = TapName(name, side);
            if (state is not null && LinkExists(null, tap))
            {
                log.WriteLine($"lab {name}: {tap} still exists; a process other than the lab's daemon holds it open.");
            }
        }
        string dir = LabState.Directory(name);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
            removed.Add($"directory {dir}");
        }
        return removed;
    }

    /// <summary>SIGTERM to the process's group, up to 10 s, then SIGKILL; false when it was not running.</summary>
    private static bool Stop(LabProcess p)
    {
        if (!Sh.IsRunning(p.Pid, p.StartTime))
        {
            return false;
        }
        string group = "-" + p.Pid.ToString(CultureInfo.InvariantCulture);
        Sh.Run("kill", "-TERM", "--", group);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && Sh.IsRunning(p.Pid, p.StartTime))
        {
            Thread.Sleep(50);
        }
        if (Sh.IsRunning(p.Pid, p.StartTime))
        {
            Sh.Run("kill", "-KILL", "--", group);
            deadline = DateTime.UtcNow.AddSeconds(5);
            while (DateTime.UtcNow < deadline && Sh.IsRunning(p.Pid, p.StartTime))
            {
                Thread.Sleep(50);
            }
        }
        return true;
    }

    private static bool IsGateway(LabProcess p) => p.Role == "gateway" || p.Role.StartsWith("gateway ", StringComparison.Ordinal);

    public static List<string> ListNamespaces(string name)
    {
        string prefix = LabState.NamespacePrefix(name);
        return [.. Sh.Run("ip", "netns", "list").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0])
            .Where(ns => ns.StartsWith(prefix, StringComparison.Ordinal) && Topology.IsValidName(ns[prefix.Length..]))];
    }

    private static bool NamespaceExists(string ns) => File.Exists(Path.Combine("/run/netns", ns));

    private static bool LinkExists(string? ns, string link) =>
        (ns is null ? Sh.Run("ip", "link", "show", "dev", link) : Sh.Run("ip", "-n", ns, "link", "show", "dev", link)).ExitCode == 0;

    /// <summary>The endpoint text for <c>gateway ctl --api</c>.</summary>
    public static IPEndPoint? ApiEndPoint(LabState state) => state.Api is null ? null : IPEndPoint.Parse(state.Api);
}
