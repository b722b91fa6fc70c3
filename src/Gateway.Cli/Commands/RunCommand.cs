using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Cli.Infrastructure;
using Gateway.Control.Auth;
using Gateway.Control.Cluster;
using Gateway.Control.Hosting;
using Gateway.Control.Store.Etcd;
using Gateway.Cli.Hosting;
using Gateway.Control.Model;
using Gateway.Io.Forwarding;
using Gateway.Packets;
using Gateway.WebConsole;
using Microsoft.Data.Sqlite;

namespace Gateway.Cli.Commands;

/// <summary><c>gateway run</c>: the daemon — control-plane API, SQLite state, binding table (and data paths when attached).</summary>
internal static class RunCommand
{
    /// <summary>
    /// The verb's options. To add one: one <c>command.Define(Cli.…)</c> line here, and read it with <c>p.GetValue(…)</c>
    /// in <see cref="Settings"/> (or where the option is used); help, completion and usage errors follow.
    /// </summary>
    public static Command Create()
    {
        var command = new Command("run", "run the gateway daemon: control-plane API and data plane").WithEpilog("""
            Data path (both sides or neither; without one the daemon runs the control plane with an idle data plane):
            --internet-tap/--internet-if and --vpc-tap/--vpc-if; --if-backend, --workers, --tap-offloads and --worker-priority say how.
            Cluster: with --etcd the control state lives in etcd (no <dir>/gateway.db) and any node answers the API.
            Credentials: GATEWAY_SECRET_ID/GATEWAY_SECRET_KEY, else <dir>/credentials, else a new pair written there (0600);
            in a cluster, else the cluster's pair (created in etcd by its first node, copied to <dir>/credentials).
            SIGINT/SIGTERM: the request in flight finishes, the database closes, exit 0.
            """);
        var state = command.Define(CliSymbols.Text("--state", "dir", "where the SQLite database lives (created on first start, restored on every later one)",
            required: true, kind: ValueKind.Directory));
        var pools = command.Define(CliSymbols.Many("--public-pool", "cidr", "public addresses to hand out (repeatable), e.g. 198.51.100.0/24",
            required: true, example: "198.51.100.0/24"));
        var subnet = command.Define(CliSymbols.Text("--subnet", "cidr", "the VPC subnet instances get private addresses from, e.g. 10.0.0.0/24", required: true));
        var api = command.Define(CliSymbols.Text("--api", "host:port", $"the Tencent Cloud API 3.0 endpoint (default 127.0.0.1:{GatewayOptions.DefaultApiPort}; loopback unless you say otherwise)"));
        var tlsCert = command.Define(CliSymbols.Text("--tls-cert", "file", "serve the API and the web console over TLS with this PEM certificate (chain)", kind: ValueKind.File));
        var tlsKey = command.Define(CliSymbols.Text("--tls-key", "file", "the PEM private key of --tls-cert", kind: ValueKind.File));
        var quota = command.Define(CliSymbols.Int("--eip-quota", "n", "EIPs the account may hold", 20, 0, 100_000));
        var maxBody = command.Define(CliSymbols.Int("--max-body", "bytes", "largest request body accepted", 1 << 20, 1024, 64 << 20));
        var transitionTime = command.Define(CliSymbols.Double("--transition-time", "seconds",
            "how long instances read PENDING, STOPPING, STARTING and REBOOTING before RUNNING or STOPPED (0: at once; effects are immediate either way)",
            0, 0, 3_600));
        var internetTap = command.Define(CliSymbols.Text("--internet-tap", "name", "create TAP device <name> (at most 15 characters) for the internet side"));
        var internetIf = command.Define(CliSymbols.Text("--internet-if", "name", "or use an existing interface (veth end, NIC); it carries no IPv4 address"));
        var vpcTap = command.Define(CliSymbols.Text("--vpc-tap", "name", "create TAP device <name> for the VPC side"));
        var vpcIf = command.Define(CliSymbols.Text("--vpc-if", "name", "or use an existing interface for the VPC side"));
        var ifBackend = command.Define(CliSymbols.Choice("--if-backend",
            "how --internet-if/--vpc-if are opened: packet (default on Linux): AF_PACKET rings, a queue per worker, GSO super-frames and partial checksums pass whole; pcap: libpcap, one queue, no offloads (hosts behind the interface then need ethtool -K DEV tx off)",
            OperatingSystem.IsLinux() ? "packet" : "pcap", [("packet", InterfaceBackend.Packet), ("pcap", InterfaceBackend.Pcap)]));
        var internetGateway = command.Define(CliSymbols.Text("--internet-gateway", "ip",
            "an upstream router on the internet segment: every outgoing frame goes to its MAC (default: internet hosts are on-link and resolved by ARP)"));
        var vpcGateway = command.Define(CliSymbols.Text("--vpc-gateway", "ip", "the gateway's address in the VPC (default: the subnet's first usable address)"));
        var metrics = command.Define(CliSymbols.Text("--metrics", "host:port",
            "serve Prometheus metrics at http://<host:port>/metrics (loopback unless you say otherwise; :0 picks a free port, printed)"));
        var bandwidthCaps = command.Define(CliSymbols.Choice("--bandwidth-caps",
            "enforce: each public address is policed at its instance's bandwidth, as the cloud does; off: nothing is dropped for bandwidth (traffic is still metered) — for measuring the data path itself",
            "enforce", [("enforce", true), ("off", false)]));
        var statsInterval = command.Define(CliSymbols.Int("--stats-interval", "seconds",
            "print a counters line every <s> seconds (0: only at shutdown); the counters are also kept in <dir>/datapath-stats.json, rewritten every second while they change",
            0, 0, 86_400));
        var workers = command.Define(CliSymbols.OptionalInt("--workers", "n",
            "data-path worker threads (default: one per core); each owns one queue of every port (a TAP gets <n> queues, an AF_PACKET interface <n> sockets in a fanout group; a libpcap interface has one, read by worker 0) and does both directions of the flows the kernel steers to that queue",
            1, LabDataPathOptions.MaxWorkers));
        var tapOffloads = command.Define(CliSymbols.Choice("--tap-offloads",
            "TAP devices with virtio_net_hdr offloads: checksum, TSO, USO (GSO super-frames of up to 64 KiB, translated once); off: plain MTU-sized frames, one system call each way per frame",
            "on", [("on", "on"), ("off", "off")])); // strings: System.CommandLine would take an Option<bool> for a flag
        var workerPriority = command.Define(CliSymbols.Choice("--worker-priority",
            "how workers are scheduled: realtime (SCHED_FIFO while they keep up, a 2 ms budget as the kernel's own forwarding has, then nice -10 until they catch up), high (nice -10), normal",
            "realtime", [("realtime", WorkerPriority.Realtime), ("high", WorkerPriority.High), ("normal", WorkerPriority.Normal)]));
        var etcd = command.Define(CliSymbols.Text("--etcd", "endpoints", "keep the control state in etcd: client URLs, comma-separated (http://127.0.0.1:2379,...; https:// with TLS)"));
        var etcdPrefix = command.Define(CliSymbols.Text("--etcd-prefix", "prefix", $"key prefix of this cluster's state (default {EtcdOptions.DefaultPrefix})"));
        var etcdCa = command.Define(CliSymbols.Text("--etcd-cacert", "pem", "CA of the etcd servers' certificates", kind: ValueKind.File));
        var etcdCert = command.Define(CliSymbols.Text("--etcd-cert", "pem", "client certificate for etcd (with --etcd-key)", kind: ValueKind.File));
        var etcdKey = command.Define(CliSymbols.Text("--etcd-key", "pem", "private key of --etcd-cert", kind: ValueKind.File));
        var etcdUser = command.Define(CliSymbols.Text("--etcd-user", "name[:password]", "etcd user (password after ':', in --etcd-password or GATEWAY_ETCD_PASSWORD)"));
        var etcdPassword = command.Define(CliSymbols.Text("--etcd-password", "password", "password of --etcd-user"));
        var nodeName = command.Define(CliSymbols.Text("--node-name", "name", "this node's name in the cluster (default <hostname>-<pid>)"));
        var segment = command.Define(CliSymbols.Text("--segment", "name", "the segment pair this node's data path serves; one node per segment is active (default 'default')"));
        var leaseTtl = command.Define(CliSymbols.Int("--lease-ttl", "seconds", "TTL of the node's etcd lease (etcd grants at least 1.5 x its election timeout)", 2, 1, 3600));
        var heartbeat = command.Define(CliSymbols.Int("--heartbeat-interval", "ms", "the active node's advertisements to the others; 3 missed and a standby asks etcd to take over", 100, 10, 10_000));
        var requestTimeout = command.Define(CliSymbols.Int("--request-timeout", "seconds", "longest a change may take before it fails with ServiceUnavailable", 5, 1, 600));

        command.SetRun(p =>
        {
            var cidrs = p.GetValue(pools)!.Select(c => ParseCidr("--public-pool", c)).ToList();
            var vpcSubnet = ParseCidr("--subnet", p.GetValue(subnet)!);
            if (vpcSubnet.PrefixLength > 30)
            {
                throw new UsageException($"--subnet {vpcSubnet} is too small: instances need at least a /30 (the network, gateway and broadcast addresses are reserved).");
            }
            if (cidrs.Sum(c => c.Size) > 1 << 20)
            {
                throw new UsageException("--public-pool names more than 1048576 addresses; give smaller prefixes.");
            }
            var options = new GatewayOptions
            {
                StateDirectory = Path.GetFullPath(p.GetValue(state)!),
                ApiEndPoint = ParseEndPoint(p.GetValue(api) ?? $"127.0.0.1:{GatewayOptions.DefaultApiPort}"),
                PublicPools = cidrs,
                Subnet = vpcSubnet,
                EipQuota = p.GetValue(quota),
                MaxRequestBodyBytes = p.GetValue(maxBody),
                ListenerExtensions = [new ConsoleExtension()],
                ApiCertificate = LoadCertificate(p.GetValue(tlsCert), p.GetValue(tlsKey)),
                Etcd = ReadEtcdOptions(p.GetValue(etcd), p.GetValue(etcdPrefix), p.GetValue(etcdCa), p.GetValue(etcdCert), p.GetValue(etcdKey),
                    p.GetValue(etcdUser), p.GetValue(etcdPassword) ?? Environment.GetEnvironmentVariable("GATEWAY_ETCD_PASSWORD"), p.GetValue(nodeName)),
                ClusterOptions = new ClusterOptions
                {
                    LeaseTtlSeconds = p.GetValue(leaseTtl),
                    HeartbeatInterval = TimeSpan.FromMilliseconds(p.GetValue(heartbeat)),
                    Segment = p.GetValue(segment) ?? "default",
                },
                RequestTimeout = TimeSpan.FromSeconds(p.GetValue(requestTimeout)),
                TransitionTime = TimeSpan.FromSeconds(p.GetValue(transitionTime)),
                MetricsEndPoint = p.GetValue(metrics) is { } metricsText ? ParseEndPoint(metricsText, "--metrics") : null,
                EnforceBandwidthCaps = p.GetValue(bandwidthCaps),
            };
            if (options.Etcd is null && p.GetValue(segment) is not null)
            {
                throw new UsageException("--segment is a cluster option: give --etcd <endpoints> too.");
            }
            var dataPath = ReadDataPathOptions(vpcSubnet,
                InterfaceName("--internet-tap", p.GetValue(internetTap)), InterfaceName("--internet-if", p.GetValue(internetIf)),
                InterfaceName("--vpc-tap", p.GetValue(vpcTap)), InterfaceName("--vpc-if", p.GetValue(vpcIf)),
                p.GetValue(internetGateway), p.GetValue(vpcGateway),
                new DataPathTuning(p.GetValue(workers), p.GetResult(tapOffloads) is { Implicit: false } ? p.GetValue(tapOffloads) == "on" : null, p.GetResult(workerPriority) is { Implicit: false } ? p.GetValue(workerPriority) : null,
                    p.GetResult(ifBackend) is { Implicit: false } ? p.GetValue(ifBackend) : null));
            int interval = p.GetValue(statsInterval);
            if (dataPath is not null)
            {
                var attachment = new LabDataPathAttachment(dataPath, Console.Out, TimeSpan.FromSeconds(interval), options.StateDirectory);
                options = options with { DataPaths = [attachment] };
            }
            else if (interval != 0)
            {
                throw new UsageException("--stats-interval needs a data path (--internet-tap/--vpc-tap or --internet-if/--vpc-if).");
            }
            return RunAsync(options).GetAwaiter().GetResult();
        });
        return command;
    }

    /// <summary>How the data path runs (null: the default): <c>--workers</c>, <c>--tap-offloads</c>, <c>--worker-priority</c>, <c>--if-backend</c>.</summary>
    internal sealed record DataPathTuning(int? Workers = null, bool? TapOffloads = null, WorkerPriority? WorkerPriority = null, InterfaceBackend? Backend = null);

    /// <summary>The data-path options, or null when none is given; contradictions are usage errors.</summary>
    internal static LabDataPathOptions? ReadDataPathOptions(Ipv4Cidr subnet, string? internetTap, string? internetIf, string? vpcTap, string? vpcIf,
        string? internetGatewayText, string? vpcGatewayText, DataPathTuning? tuning = null)
    {
        tuning ??= new DataPathTuning();
        bool anyPort = internetTap is not null || internetIf is not null || vpcTap is not null || vpcIf is not null;
        if (!anyPort)
        {
            string? orphan = internetGatewayText is not null ? "--internet-gateway" : vpcGatewayText is not null ? "--vpc-gateway"
                : tuning.Workers is not null ? "--workers" : tuning.TapOffloads is not null ? "--tap-offloads" : tuning.WorkerPriority is not null ? "--worker-priority"
                : tuning.Backend is not null ? "--if-backend" : null;
            if (orphan is not null)
            {
                throw new UsageException($"{orphan} needs a data path: give --internet-tap/--vpc-tap or --internet-if/--vpc-if.");
            }
            return null;
        }
        if ((internetTap is null) == (internetIf is null))
        {
            throw new UsageException(internetTap is null
                ? "the internet side is missing: give --internet-tap <name> (a TAP device to create) or --internet-if <name> (an existing interface)."
                : "give the internet side once: --internet-tap or --internet-if, not both.");
        }
        if ((vpcTap is null) == (vpcIf is null))
        {
            throw new UsageException(vpcTap is null
                ? "the VPC side is missing: give --vpc-tap <name> (a TAP device to create) or --vpc-if <name> (an existing interface)."
                : "give the VPC side once: --vpc-tap or --vpc-if, not both.");
        }
        if ((internetTap ?? internetIf) == (vpcTap ?? vpcIf))
        {
            throw new UsageException($"the internet and VPC sides must be different devices (both are '{internetTap ?? internetIf}').");
        }
        var vpcSubnet = Ipv4Subnet.Parse(subnet.ToString());
        uint? vpcGateway = null;
        if (vpcGatewayText is not null)
        {
            uint gw = ParseAddress("--vpc-gateway", vpcGatewayText);
            if (!vpcSubnet.Contains(gw) || gw == vpcSubnet.Network || gw == vpcSubnet.Broadcast)
            {
                throw new UsageException($"--vpc-gateway {vpcGatewayText} is not a host address of --subnet {subnet}.");
            }
            vpcGateway = gw;
        }
        uint? internetGateway = internetGatewayText is null ? null : ParseAddress("--internet-gateway", internetGatewayText);
        if (tuning.Backend is { } given && internetIf is null && vpcIf is null)
        {
            throw new UsageException($"--if-backend {given.ToString().ToLowerInvariant()} chooses how --internet-if/--vpc-if interfaces are opened; this data path has none (TAP devices only).");
        }
        var backend = tuning.Backend ?? (OperatingSystem.IsLinux() ? InterfaceBackend.Packet : InterfaceBackend.Pcap);
        return new LabDataPathOptions
        {
            InterfaceBackend = backend,
            InternetTap = internetTap,
            InternetInterface = internetIf,
            VpcTap = vpcTap,
            VpcInterface = vpcIf,
            VpcSubnet = vpcSubnet,
            VpcGateway = vpcGateway,
            InternetGateway = internetGateway,
            Workers = tuning.Workers ?? Environment.ProcessorCount,
            TapOffloads = tuning.TapOffloads ?? true,
            WorkerPriority = tuning.WorkerPriority ?? WorkerPriority.Realtime,
        };
    }

    /// <summary>The etcd options, or null without --etcd; the other --etcd-* options need it.</summary>
    internal static EtcdOptions? ReadEtcdOptions(string? endpoints, string? prefix, string? ca, string? cert, string? key, string? user, string? password, string? node)
    {
        if (endpoints is null)
        {
            string? stray = prefix is not null ? "--etcd-prefix" : ca is not null ? "--etcd-cacert" : cert is not null ? "--etcd-cert"
                : key is not null ? "--etcd-key" : user is not null ? "--etcd-user" : node is not null ? "--node-name" : null;
            return stray is null ? null : throw new UsageException($"{stray} needs --etcd <endpoints> (the cluster's etcd client URLs).");
        }
        var list = endpoints.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (list.Length == 0)
        {
            throw new UsageException("--etcd is empty: give the etcd client URLs, e.g. --etcd http://127.0.0.1:2379.");
        }
        bool tls = ca is not null || cert is not null;
        var urls = new List<string>();
        foreach (string endpoint in list)
        {
            string url = endpoint.Contains("://", StringComparison.Ordinal) ? endpoint : (tls ? "https://" : "http://") + endpoint;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Port <= 0 || uri.AbsolutePath != "/" || endpoint.EndsWith(':'))
            {
                throw new UsageException($"--etcd: '{endpoint}' is not an etcd client URL; give http://host:port or https://host:port, comma-separated.");
            }
            urls.Add(url);
        }
        prefix ??= EtcdOptions.DefaultPrefix;
        if (prefix.Length == 0 || !prefix.EndsWith('/'))
        {
            throw new UsageException($"--etcd-prefix '{prefix}' must end with '/' (e.g. /gateway/), so that one cluster's keys are never a prefix of another's.");
        }
        if ((cert is null) != (key is null))
        {
            throw new UsageException("--etcd-cert and --etcd-key go together (the client certificate and its private key, PEM).");
        }
        foreach (var (option, file) in (ReadOnlySpan<(string, string?)>)[("--etcd-cacert", ca), ("--etcd-cert", cert), ("--etcd-key", key)])
        {
            if (file is not null && !File.Exists(file))
            {
                throw new UsageException($"{option} {file}: no such file.");
            }
        }
        if (user is not null && user.IndexOf(':', StringComparison.Ordinal) is int colon and > 0)
        {
            password ??= user[(colon + 1)..];
            user = user[..colon];
        }
        if (user is not null && password is null)
        {
            throw new UsageException($"--etcd-user {user} needs a password: --etcd-user {user}:<password>, --etcd-password or GATEWAY_ETCD_PASSWORD.");
        }
        if (node is not null && (node.Length is 0 or > 63 || node.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))))
        {
            throw new UsageException($"--node-name '{node}' must be 1 to 63 letters, digits, '-', '_' or '.'.");
        }
        return new EtcdOptions
        {
            Endpoints = urls,
            Prefix = prefix,
            CaFile = ca,
            CertFile = cert,
            KeyFile = key,
            User = user,
            Password = password,
            NodeName = node ?? $"{Environment.MachineName}-{Environment.ProcessId}",
        };
    }

    private static string? InterfaceName(string option, string? name)
    {
        if (name is not null && (name.Length > 15 || name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)) || name is "." or ".."))
        {
            throw new UsageException($"{option} '{name}' is not a Linux interface name: at most 15 characters, no '/', ':' or spaces.");
        }
        return name;
    }

    private static uint ParseAddress(string option, string text) =>
        Ipv4Address.TryParse(text, out uint ip) ? ip : throw new UsageException($"{option} '{text}' is not a dotted-quad IPv4 address, e.g. 203.0.113.254.");

    /// <summary>The listener's certificate from PEM files; null without --tls-cert.</summary>
    private static X509Certificate2? LoadCertificate(string? certificate, string? key)
    {
        if (certificate is null || key is null)
        {
            return certificate is null && key is null ? null
                : throw new UsageException(certificate is null ? "--tls-key needs --tls-cert (the certificate it belongs to)." : "--tls-cert needs --tls-key (its private key, PEM).");
        }
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificate, key);
            // Kestrel needs the key in a form the platform's TLS can use: PEM-loaded keys are ephemeral, PKCS#12 is not.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new UsageException($"--tls-cert {certificate} / --tls-key {key}: {e.Message} Give a PEM certificate and its PEM private key (e.g. made by openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out cert.pem).");
        }
    }

    private static async Task<int> RunAsync(GatewayOptions options)
    {
        if (!IPAddress.IsLoopback(options.ApiEndPoint.Address))
        {
            // TC3-HMAC-SHA256 has no nonce and the SDKs do not sign X-TC-Action: off loopback, anyone who sees a request
            // can send it again for 5 minutes, even as another action with the same body.
            Console.Error.WriteLine($"gateway: warning: the API listens on {options.ApiEndPoint}, which is not a loopback address: requests travel as plain HTTP and a captured one can be replayed for 5 minutes. Serve it over TLS (--tls-cert/--tls-key), and sign x-tc-action (gateway ctl does).");
        }
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        GatewayHost host;
        try
        {
            host = await GatewayHost.StartAsync(options, Console.Out).ConfigureAwait(false);
        }
        catch (GatewayConfigurationException e)
        {
            throw new UsageException(e.Message);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        catch (IOException e) when (options.DataPaths.Count > 0 && e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new FailureException($"cannot start the data path: {e.Message} (TAP devices need root or CAP_NET_ADMIN and /dev/net/tun; an interface must exist and be free).", e);
        }
        catch (EtcdUnavailableException e)
        {
            throw new FailureException($"cannot start: {e.Message}", e);
        }
        catch (Exception e) when (e is SqliteException or InvalidDataException or InvalidOperationException)
        {
            throw new FailureException($"cannot start with --state {options.StateDirectory}: {e.Message}", e);
        }

        await using (host.ConfigureAwait(false))
        {
            if (host.GeneratedCredentialsPath is { } generated)
            {
                Console.WriteLine($"gateway: credentials generated in {generated} (owner-only; {Credentials.SecretIdVariable}/{Credentials.SecretKeyVariable} inside)");
            }
            else if (Credentials.FromEnvironment() is not null)
            {
                Console.WriteLine($"gateway: credentials from {Credentials.SecretIdVariable}/{Credentials.SecretKeyVariable}");
            }
            else
            {
                Console.WriteLine($"gateway: credentials from {Path.Combine(options.StateDirectory, Credentials.FileName)}");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gateway: {host.VpcId} {host.SubnetId} {options.Subnet}; public pool {string.Join(" ", options.PublicPools)}; EIP quota {options.EipQuota}"));
            if (host.NodeName is { } clusterNode)
            {
                Console.WriteLine($"gateway: cluster node {clusterNode}: state in {host.DatabasePath}, applied revision {host.AppliedRevision}");
            }
            var endPoint = host.ApiEndPoint;
            string hostText = endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]" : endPoint.Address.ToString();
            if (host.MetricsEndPoint is { } metricsEndPoint)
            {
                string metricsHost = metricsEndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{metricsEndPoint.Address}]" : metricsEndPoint.Address.ToString();
                Console.WriteLine($"gateway: metrics at http://{metricsHost}:{metricsEndPoint.Port.ToString(CultureInfo.InvariantCulture)}/metrics");
                if (!IPAddress.IsLoopback(metricsEndPoint.Address))
                {
                    Console.Error.WriteLine($"gateway: warning: the metrics endpoint listens on {metricsEndPoint}, which is not a loopback address; it has no authentication and shows every public address's traffic.");
                }
            }
            string scheme = options.ApiCertificate is null ? "http" : "https";
            string listening = $"{scheme}://{hostText}:{endPoint.Port.ToString(CultureInfo.InvariantCulture)}";
            Console.WriteLine($"gateway: API listening on {listening}");
            Console.WriteLine($"gateway: web console on {listening}/console (sign in with the SecretId and SecretKey above)");

            await stop.Task.ConfigureAwait(false);
            Console.WriteLine("gateway: stopping");
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await host.StopAsync(grace.Token).ConfigureAwait(false);
        }
        Console.WriteLine("gateway: stopped");
        return ExitCodes.Ok;

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit ourselves, after closing the database.
            stop.TrySetResult();
        }
    }

    private static Ipv4Cidr ParseCidr(string option, string text) =>
        Ipv4Cidr.TryParse(text, out var cidr, out string error) ? cidr : throw new UsageException($"{option}: {error}");

    internal static IPEndPoint ParseEndPoint(string text) => ParseEndPoint(text, "--api");

    internal static IPEndPoint ParseEndPoint(string text, string option)
    {
        string normalized = text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + text["localhost".Length..] : text;
        if (!IPEndPoint.TryParse(normalized, out var endPoint) || endPoint.Port == 0 && !normalized.EndsWith(":0", StringComparison.Ordinal))
        {
            int example = option == "--api" ? GatewayOptions.DefaultApiPort : 9701;
            throw new UsageException($"{option} '{text}' is not host:port with a numeric address, e.g. 127.0.0.1:{example} or [::1]:{example}.");
        }
        return endPoint;
    }
}
