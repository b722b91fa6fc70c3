using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Cli.Infrastructure;
using Gateway.Control.Model;
using Gateway.Packets;

namespace Gateway.Cli.Lab;

/// <summary>An internet host: a namespace on the internet segment with one address.</summary>
internal sealed record InternetHost(string Name, uint Address);

/// <summary>An instance: a namespace on the VPC segment, created through the control API as a CVM instance.</summary>
internal sealed record InstanceNode(
    string Name,
    uint? PrivateAddress,
    bool PublicIpAssigned,
    int InternetMaxBandwidthOut,
    string? InternetChargeType,
    EipRequest? Eip,
    IReadOnlyList<string> Exec);

/// <summary>An EIP to allocate and associate once the instance runs.</summary>
internal sealed record EipRequest(string? Name, int InternetMaxBandwidthOut);

/// <summary>
/// A lab topology file (lab/README.md documents the format): a name, the gateway's attachment, the internet segment,
/// the VPC subnet and the nodes. Every mistake is a <see cref="UsageException"/> naming the file and the field.
/// </summary>
internal sealed partial record Topology(
    string Name,
    bool Veth,
    uint? InternetGateway,
    Ipv4Cidr InternetSubnet,
    IReadOnlyList<Ipv4Cidr> OnLink,
    IReadOnlyList<Ipv4Cidr> PublicPool,
    Ipv4Cidr VpcSubnet,
    IReadOnlyList<InternetHost> InternetHosts,
    IReadOnlyList<InstanceNode> Instances)
{
    /// <summary>How a veth lab's daemon opens its ends (<c>--if-backend</c>): "packet" (AF_PACKET, the default) or "pcap".</summary>
    public string IfBackend { get; init; } = "packet";

    /// <summary><c>gateway.workers</c>: the daemon's <c>--workers</c> (null: its default, one per core).</summary>
    public int? Workers { get; init; }

    /// <summary><c>gateway.tapOffloads</c>: the daemon's <c>--tap-offloads</c> (null: its default, on).</summary>
    public bool? TapOffloads { get; init; }

    /// <summary>Gateway nodes (<c>gateway.nodes</c>, default 1); more than one shares the state through etcd, one active at a time.</summary>
    public int GatewayNodes { get; init; } = 1;

    /// <summary><c>gateway.etcd</c>: null (one node, SQLite), "embedded" (a 3-member etcd inside the lab) or etcd client URLs.</summary>
    public string? Etcd { get; init; }

    private static readonly Ipv4Cidr[] s_testNets = [Ipv4Cidr.Parse("192.0.2.0/24"), Ipv4Cidr.Parse("198.51.100.0/24"), Ipv4Cidr.Parse("203.0.113.0/24")];

    [GeneratedRegex("^[a-z0-9-]{1,12}$")]
    private static partial Regex NodeNamePattern();

    [GeneratedRegex("^[a-z0-9]{1,12}$")]
    private static partial Regex LabNamePattern();

    /// <summary>A node name: 1 to 12 of a-z, 0-9 and '-'.</summary>
    public static bool IsValidName(string name) => NodeNamePattern().IsMatch(name);

    /// <summary>A lab name has no '-': namespaces are <c>gwl-LAB-NODE</c>, and lab "a" must never sweep lab "a-b"'s.</summary>
    public static bool IsValidLabName(string name) => LabNamePattern().IsMatch(name);

    /// <summary>Where the lab's daemon serves Prometheus metrics (<c>gateway.metrics</c>, passed as <c>--metrics</c>); null: not served.</summary>
    public string? Metrics { get; init; }

    /// <summary><c>gateway.bandwidthCaps</c>: false runs the daemon with <c>--bandwidth-caps off</c> (null/true: enforced).</summary>
    public bool? BandwidthCaps { get; init; }

    /// <summary>The gateway's address in the VPC: the subnet's first usable address, every instance's default route.</summary>
    public uint VpcGatewayAddress => VpcSubnet.Network + 1;

    public static Topology Load(string path, string? nameOverride)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read the topology {path}: {e.Message}");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new UsageException($"{path}: not valid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {e.Message}");
        }
        using (document)
        {
            return new Reader(path).Read(document.RootElement, nameOverride);
        }
    }

    private sealed class Reader(string path)
    {
        private UsageException Error(string field, string message) => new($"{path}: {field}: {message}");

        public Topology Read(JsonElement root, string? nameOverride)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Error("(top level)", "must be a JSON object with name, internet, vpc and nodes.");
            }
            string name = nameOverride ?? String(root, "name", "name") ?? throw Error("name", "is required.");
            if (!IsValidLabName(name))
            {
                throw Error(nameOverride is null ? "name" : "--name", $"'{name}' must be 1 to 12 of a-z and 0-9 (namespace and TAP names are made from it).");
            }

            bool veth = false;
            string ifBackend = "packet";
            int gatewayNodes = 1;
            string? etcd = null;
            uint? internetGateway = null;
            int? workers = null;
            bool? tapOffloads = null;
            string? metrics = null;
            bool? bandwidthCaps = null;
            List<Ipv4Cidr>? pool = null;
            if (Member(root, "gateway") is { } gateway)
            {
                string mode = String(gateway, "mode", "gateway.mode") ?? "tap";
                veth = mode switch
                {
                    "tap" => false,
                    "veth" => true,
                    _ => throw Error("gateway.mode", $"'{mode}' is neither \"tap\" nor \"veth\"."),
                };
                if (String(gateway, "ifBackend", "gateway.ifBackend") is { } backend)
                {
                    if (backend is not ("packet" or "pcap"))
                    {
                        throw Error("gateway.ifBackend", $"'{backend}' is neither \"packet\" (AF_PACKET rings) nor \"pcap\" (libpcap).");
                    }
                    if (!veth)
                    {
                        throw Error("gateway.ifBackend", "applies to mode \"veth\" only (a TAP is no existing interface); remove it or set mode to \"veth\".");
                    }
                    ifBackend = backend;
                }
                if (String(gateway, "internetGateway", "gateway.internetGateway") is { } gw)
                {
                    internetGateway = Address(gw, "gateway.internetGateway");
                }
                if (String(gateway, "control", "gateway.control") is { } control)
                {
                    throw Error("gateway.control", $"attaching to a running daemon ('{control}') is not supported yet; set it to null and lab up starts its own.");
                }
                if (Member(gateway, "publicPool") is { } pools)
                {
                    pool = Cidrs(pools, "gateway.publicPool");
                }
                if (String(gateway, "metrics", "gateway.metrics") is { } metricsText)
                {
                    try
                    {
                        Commands.RunCommand.ParseEndPoint(metricsText, "gateway.metrics");
                    }
                    catch (UsageException e)
                    {
                        throw Error("gateway.metrics", e.Message);
                    }
                    metrics = metricsText;
                }
                workers = Int(gateway, "workers", "gateway.workers");
                if (workers is < 1 or > 256)
                {
                    throw Error("gateway.workers", $"{workers} is not 1 to 256 (the data-path worker threads; each owns one queue of every TAP).");
                }
                tapOffloads = Bool(gateway, "tapOffloads", "gateway.tapOffloads");
                bandwidthCaps = Bool(gateway, "bandwidthCaps", "gateway.bandwidthCaps");
                if (Member(gateway, "nodes") is { } count)
                {
                    gatewayNodes = count.ValueKind == JsonValueKind.Number && count.TryGetInt32(out int n) && n is >= 1 and <= 4
                        ? n
                        : throw Error("gateway.nodes", $"{count} is not a number of gateway nodes from 1 to 4.");
                }
                etcd = String(gateway, "etcd", "gateway.etcd");
                if (etcd is not null && etcd != "embedded" && !etcd.Split(',').All(e => Uri.TryCreate(e.Trim(), UriKind.Absolute, out var u) && u.Scheme is "http" or "https"))
                {
                    throw Error("gateway.etcd", $"'{etcd}' is neither \"embedded\" nor etcd client URLs (http://127.0.0.1:2379,...).");
                }
                if (gatewayNodes > 1 && etcd is null)
                {
                    etcd = "embedded"; // several nodes share their state through etcd: the lab's own unless told otherwise
                }
                if (etcd is not null && veth)
                {
                    throw Error("gateway.mode", "a cluster lab (gateway.etcd or gateway.nodes > 1) runs its nodes on TAP devices; use \"tap\".");
                }
            }

            var internet = Member(root, "internet") ?? throw Error("internet", "is required (subnet and hosts).");
            var internetSubnet = Cidr(String(internet, "subnet", "internet.subnet") ?? throw Error("internet.subnet", "is required, e.g. \"203.0.113.0/24\"."), "internet.subnet");
            RequireTestNet(internetSubnet, "internet.subnet");
            var onLink = Member(internet, "onLink") is { } links ? Cidrs(links, "internet.onLink") : [];
            for (int i = 0; i < onLink.Count; i++)
            {
                RequireTestNet(onLink[i], $"internet.onLink[{i}]");
            }
            pool ??= onLink.Count > 0 ? onLink : throw Error("gateway.publicPool", "no public pool: give gateway.publicPool or internet.onLink (the pool defaults to the on-link prefixes).");
            for (int i = 0; i < pool.Count; i++)
            {
                RequireTestNet(pool[i], $"gateway.publicPool[{i}]");
                if (pool[i].PrefixLength < 22)
                {
                    throw Error($"gateway.publicPool[{i}]", $"{pool[i]} is larger than a /22; a lab needs only a few addresses.");
                }
                var prefix = pool[i];
                if (!onLink.Append(internetSubnet).Any(l => l.Contains(prefix.Network) && prefix.PrefixLength >= l.PrefixLength))
                {
                    // Internet hosts reach public IPs on-link (they ARP for them); a pool outside every on-link prefix is unreachable.
                    throw Error($"gateway.publicPool[{i}]", $"{prefix} is neither in internet.subnet {internetSubnet} nor in internet.onLink; add it to internet.onLink so the hosts can reach it.");
                }
            }
            if (internetGateway is { } router && !internetSubnet.Contains(router))
            {
                throw Error("gateway.internetGateway", $"{Ipv4Address.Format(router)} is not in internet.subnet {internetSubnet}; the upstream router must be on the segment.");
            }

            var vpc = Member(root, "vpc") ?? throw Error("vpc", "is required (the VPC subnet).");
            var subnetElement = Member(vpc, "subnet") ?? throw Error("vpc.subnet", "is required, e.g. {\"cidr\": \"10.0.1.0/24\"}.");
            var vpcSubnet = Cidr(String(subnetElement, "cidr", "vpc.subnet.cidr") ?? throw Error("vpc.subnet.cidr", "is required."), "vpc.subnet.cidr");
            if (!IsPrivate(vpcSubnet))
            {
                throw Error("vpc.subnet.cidr", $"{vpcSubnet} is not in a private range (10/8, 172.16/12, 192.168/16).");
            }
            if (vpcSubnet.PrefixLength is < 16 or > 29)
            {
                throw Error("vpc.subnet.cidr", $"{vpcSubnet}: give a /16 to a /29.");
            }

            var hosts = new List<InternetHost>();
            var instances = new List<InstanceNode>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            if (Member(internet, "nodes") is { } internetNodes)
            {
                ReadNodes(internetNodes, "internet.nodes", hosts, instances, names, internetSubnet, vpcSubnet, internetOnly: true);
            }
            if (Member(root, "nodes") is { } nodes)
            {
                ReadNodes(nodes, "nodes", hosts, instances, names, internetSubnet, vpcSubnet, internetOnly: false);
            }
            if (hosts.Count == 0)
            {
                throw Error("nodes", "no internet-host: give at least one, to reach the instances from.");
            }
            if (instances.Count == 0)
            {
                throw Error("nodes", "no instance: give at least one.");
            }
            var addresses = hosts.Select(h => h.Address).ToList();
            if (addresses.Distinct().Count() != addresses.Count)
            {
                throw Error("nodes", "two internet hosts have the same address.");
            }
            foreach (var host in hosts)
            {
                if (pool.Any(p => p.Contains(host.Address)))
                {
                    throw Error($"internet host {host.Name}", $"{Ipv4Address.Format(host.Address)} lies in the public pool; the gateway would hand it out to an instance.");
                }
            }
            var fixedPrivates = instances.Where(i => i.PrivateAddress is not null).Select(i => i.PrivateAddress!.Value).ToList();
            if (fixedPrivates.Distinct().Count() != fixedPrivates.Count)
            {
                throw Error("nodes", "two instances ask for the same privateAddress.");
            }
            return new Topology(name, veth, internetGateway, internetSubnet, onLink, pool, vpcSubnet, hosts, instances)
            {
                IfBackend = ifBackend,
                Workers = workers,
                TapOffloads = tapOffloads,
                GatewayNodes = gatewayNodes,
                Etcd = etcd,
                Metrics = metrics,
                BandwidthCaps = bandwidthCaps,
            };
        }

        private void ReadNodes(JsonElement array, string field, List<InternetHost> hosts, List<InstanceNode> instances, HashSet<string> names, Ipv4Cidr internetSubnet, Ipv4Cidr vpcSubnet, bool internetOnly)
        {
            if (array.ValueKind != JsonValueKind.Array)
            {
                throw Error(field, "must be an array of nodes.");
            }
            int index = 0;
            foreach (var node in array.EnumerateArray())
            {
                string at = string.Create(CultureInfo.InvariantCulture, $"{field}[{index++}]");
                if (node.ValueKind != JsonValueKind.Object)
                {
                    throw Error(at, "must be an object with name and kind.");
                }
                string name = String(node, "name", at + ".name") ?? throw Error(at + ".name", "is required.");
                if (!IsValidName(name) || name is "inet" or "vpc")
                {
                    throw Error(at + ".name", $"'{name}' must be 1 to 12 of a-z, 0-9 and '-', and not 'inet' or 'vpc' (the segments' namespaces).");
                }
                if (!names.Add(name))
                {
                    throw Error(at + ".name", $"'{name}' is used twice; node names are unique.");
                }
                string kind = String(node, "kind", at + ".kind") ?? (internetOnly ? "internet-host" : throw Error(at + ".kind", "is required: \"internet-host\" or \"instance\"."));
                var exec = Member(node, "exec") is { } execs ? Strings(execs, at + ".exec") : [];
                switch (kind)
                {
                    case "internet-host":
                        uint address = Address(String(node, "address", at + ".address") ?? throw Error(at + ".address", $"is required: an address in internet.subnet {internetSubnet}."), at + ".address");
                        if (!internetSubnet.Contains(address) || address == internetSubnet.Network || address == internetSubnet.Broadcast)
                        {
                            throw Error(at + ".address", $"{Ipv4Address.Format(address)} is not a host address of internet.subnet {internetSubnet}.");
                        }
                        if (exec.Count > 0)
                        {
                            throw Error(at + ".exec", "is for instances only.");
                        }
                        hosts.Add(new InternetHost(name, address));
                        break;
                    case "instance" when !internetOnly:
                        uint? privateAddress = String(node, "privateAddress", at + ".privateAddress") is { } p ? Address(p, at + ".privateAddress") : null;
                        if (privateAddress is { } pa && (!vpcSubnet.Contains(pa) || pa <= vpcSubnet.Network + 1 || pa == vpcSubnet.Broadcast))
                        {
                            throw Error(at + ".privateAddress", $"{Ipv4Address.Format(pa)} is not an instance address of vpc.subnet.cidr {vpcSubnet} (the network, the gateway {Ipv4Address.Format(vpcSubnet.Network + 1)} and the broadcast address are taken).");
                        }
                        bool assigned = true;
                        int bandwidth = 0;
                        string? charge = null;
                        if (Member(node, "internetAccessible") is { } ia)
                        {
                            assigned = Bool(ia, "publicIpAssigned", at + ".internetAccessible.publicIpAssigned") ?? true;
                            bandwidth = Int(ia, "internetMaxBandwidthOut", at + ".internetAccessible.internetMaxBandwidthOut") ?? 0;
                            charge = String(ia, "internetChargeType", at + ".internetAccessible.internetChargeType");
                        }
                        EipRequest? eip = null;
                        if (Member(node, "eip") is { } e)
                        {
                            eip = new EipRequest(String(e, "name", at + ".eip.name"), Int(e, "internetMaxBandwidthOut", at + ".eip.internetMaxBandwidthOut") ?? 1);
                        }
                        instances.Add(new InstanceNode(name, privateAddress, assigned, bandwidth, charge, eip, exec));
                        break;
                    default:
                        throw Error(at + ".kind", internetOnly ? $"'{kind}': internet.nodes holds internet-host nodes only." : $"'{kind}' is neither \"internet-host\" nor \"instance\".");
                }
            }
        }

        private static JsonElement? Member(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        private string? String(JsonElement e, string name, string field) => Member(e, name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } v => v.GetString(),
            _ => throw Error(field, "must be a string."),
        };

        private int? Int(JsonElement e, string name, string field) => Member(e, name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out int i) && i >= 0 => i,
            _ => throw Error(field, "must be a whole number, 0 or more."),
        };

        private bool? Bool(JsonElement e, string name, string field) => Member(e, name) switch
        {
            null => null,
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => throw Error(field, "must be true or false."),
        };

        private List<string> Strings(JsonElement e, string field)
        {
            if (e.ValueKind != JsonValueKind.Array || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String || x.GetString()!.Length == 0))
            {
                throw Error(field, "must be an array of non-empty strings.");
            }
            return [.. e.EnumerateArray().Select(x => x.GetString()!)];
        }

        private List<Ipv4Cidr> Cidrs(JsonElement e, string field) => [.. Strings(e, field).Select((s, i) => Cidr(s, $"{field}[{i}]"))];

        private Ipv4Cidr Cidr(string text, string field) =>
            Ipv4Cidr.TryParse(text, out var cidr, out string error) ? cidr : throw Error(field, error);

        private uint Address(string text, string field) =>
            Ipv4Address.TryParse(text, out uint ip) ? ip : throw Error(field, $"'{text}' is not a dotted-quad IPv4 address.");

        private void RequireTestNet(Ipv4Cidr cidr, string field)
        {
            if (!s_testNets.Any(t => t.Contains(cidr.Network) && cidr.PrefixLength >= t.PrefixLength))
            {
                throw Error(field, $"{cidr} is not inside a documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24); labs use only those for internet and public addresses.");
            }
        }

        private static bool IsPrivate(Ipv4Cidr cidr) =>
            new[] { Ipv4Cidr.Parse("10.0.0.0/8"), Ipv4Cidr.Parse("172.16.0.0/12"), Ipv4Cidr.Parse("192.168.0.0/16") }
                .Any(r => r.Contains(cidr.Network) && cidr.PrefixLength >= r.PrefixLength);
    }
}
