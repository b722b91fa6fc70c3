using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.Cli.Infrastructure;
using Gateway.Control.Api;
using Gateway.Control.Auth;
using Gateway.Control.Hosting;

namespace Gateway.Cli.Commands;

/// <summary>
/// <c>gateway ctl</c>: the "console" for people. Every command is a signed call to the daemon's API, the same one
/// the SDKs use; errors come back as the API's code and message (exit 1).
/// </summary>
internal static class CtlCommand
{
    public const string Usage = """
        usage: gateway ctl [--api <host:port>] [--state <dir>] [--region <region>] <command> [arguments]

          instances                                  list instances: private and public IP side by side
          addresses                                  list EIPs and what they are bound to
          create [--bandwidth <Mbps>] [--charge-type <type>] [--count <n>] [--private-ip <a.b.c.d> ...] [--no-public-ip]
                 [--name <name>]                     run instances (bandwidth > 0 gives each a public IP); charge types:
                                                     TRAFFIC_POSTPAID_BY_HOUR (default, 0-100 Mbps), BANDWIDTH_POSTPAID_BY_HOUR
                                                     (0-100), BANDWIDTH_PACKAGE (0-2000), BANDWIDTH_PREPAID (0-200)
          terminate <ins-id> ... [--release-eip]     terminate instances (their public IPs go back to the pool)
          bandwidth <ins-id> ... --bandwidth <Mbps>  change the bandwidth (0 releases the public IP)
          allocate [--count <n>] [--name <name>]     allocate EIPs
          associate <eip-id> <ins-id>                bind an EIP (the instance's ordinary public IP is released)
          disassociate <eip-id> [--no-new-ip]        unbind an EIP (the instance gets a new public IP)
          release <eip-id> ...                       release EIPs
          quota                                      EIPs held and the quota
          traffic [<ins-id> ...]                     per instance: caps, rates of the last second, totals, drops by the caps

        --api defaults to 127.0.0.1:9700. Credentials: GATEWAY_SECRET_ID/GATEWAY_SECRET_KEY, else <dir>/credentials of --state.
        """;

    public static int Run(ArgReader args)
    {
        if (args.WantsHelp)
        {
            Console.WriteLine(Usage);
            return ExitCodes.Ok;
        }
        if (args.Positionals.Count == 0)
        {
            Console.Error.WriteLine(Usage);
            return ExitCodes.Usage;
        }
        string apiText = args.Optional("--api") ?? $"127.0.0.1:{GatewayOptions.DefaultApiPort}";
        var endPoint = RunCommand.ParseEndPoint(apiText);
        string? state = args.Optional("--state");
        string region = args.Optional("--region") ?? "ap-guangzhou";
        string command = args.Positionals[0];

        Func<ApiClient, Task> action = command switch
        {
            "instances" or "ls" => c => ListInstances(c),
            "addresses" or "eips" => c => ListAddresses(c),
            "create" => Create(args),
            "terminate" => Terminate(args),
            "bandwidth" => Bandwidth(args),
            "allocate" => Allocate(args),
            "associate" => Associate(args),
            "disassociate" => Disassociate(args),
            "release" => Release(args),
            "quota" => c => Quota(c),
            "traffic" => Traffic(args),
            _ => throw new UsageException($"unknown command '{command}'. Run 'gateway ctl --help' for the list."),
        };
        args.EnsureNoUnknownOptions();

        Credentials credentials;
        try
        {
            credentials = Credentials.FromEnvironment()
                ?? (state is not null ? Credentials.TryRead(state) : null)
                ?? throw new UsageException($"no credentials: set {Credentials.SecretIdVariable}/{Credentials.SecretKeyVariable}, or give --state <dir> of the daemon (its credentials file).");
        }
        catch (InvalidOperationException e)
        {
            throw new UsageException(e.Message);
        }
        catch (InvalidDataException e)
        {
            throw new FailureException(e.Message);
        }

        string hostText = endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]" : endPoint.Address.ToString();
        var uri = new Uri($"http://{hostText}:{endPoint.Port.ToString(CultureInfo.InvariantCulture)}/");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = new ApiClient(http, uri, credentials, region);
        try
        {
            action(client).GetAwaiter().GetResult();
        }
        catch (ApiErrorException e)
        {
            throw new FailureException($"{e.Code}: {e.ApiMessage}");
        }
        catch (HttpRequestException e)
        {
            throw new FailureException($"cannot reach the gateway API at {uri}: {e.Message} Is 'gateway run' listening there (--api)?");
        }
        catch (TaskCanceledException)
        {
            throw new FailureException($"the gateway API at {uri} did not answer within 30 s.");
        }
        return ExitCodes.Ok;
    }

    private static List<string> Ids(ArgReader args, string what, int min = 1)
    {
        var ids = args.Positionals.Skip(1).ToList();
        return ids.Count >= min ? ids : throw new UsageException($"give at least {min} {what}.");
    }

    private static Func<ApiClient, Task> Create(ArgReader args)
    {
        int bandwidth = args.Int("--bandwidth", 0, 0, 65535);
        string? chargeType = args.Optional("--charge-type");
        int count = args.Int("--count", 1, 1, 100);
        var privateIps = args.Many("--private-ip");
        bool noPublicIp = args.Flag("--no-public-ip");
        string? name = args.Optional("--name");
        return async c =>
        {
            var internet = new JsonObject { ["InternetMaxBandwidthOut"] = bandwidth };
            if (chargeType is not null)
            {
                internet["InternetChargeType"] = chargeType;
            }
            if (noPublicIp)
            {
                internet["PublicIpAssigned"] = false;
            }
            var p = new JsonObject { ["InstanceCount"] = count, ["InternetAccessible"] = internet };
            if (name is not null)
            {
                p["InstanceName"] = name;
            }
            if (privateIps.Count > 0)
            {
                p["VirtualPrivateCloud"] = new JsonObject { ["VpcId"] = "DEFAULT", ["SubnetId"] = "DEFAULT", ["PrivateIpAddresses"] = new JsonArray([.. privateIps.Select(ip => (JsonNode)ip)]) };
            }
            var r = await c.CallAsync("cvm", "RunInstances", p).ConfigureAwait(false);
            var ids = r.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!).ToList();
            await ListInstances(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Terminate(ArgReader args)
    {
        var ids = Ids(args, "instance id (ins-...)");
        bool releaseEip = args.Flag("--release-eip");
        return async c =>
        {
            await c.CallAsync("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = Array(ids), ["ReleaseAddress"] = releaseEip }).ConfigureAwait(false);
            Console.WriteLine($"terminated {string.Join(" ", ids)}");
        };
    }

    private static Func<ApiClient, Task> Bandwidth(ArgReader args)
    {
        var ids = Ids(args, "instance id (ins-...)");
        int bandwidth = args.Int("--bandwidth", -1, 0, 65535);
        if (bandwidth < 0)
        {
            throw new UsageException("--bandwidth <Mbps> is required.");
        }
        return async c =>
        {
            await c.CallAsync("cvm", "ResetInstancesInternetMaxBandwidth", new JsonObject
            {
                ["InstanceIds"] = Array(ids),
                ["InternetAccessible"] = new JsonObject { ["InternetMaxBandwidthOut"] = bandwidth },
            }).ConfigureAwait(false);
            await ListInstances(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Allocate(ArgReader args)
    {
        int count = args.Int("--count", 1, 1, 100);
        string? name = args.Optional("--name");
        return async c =>
        {
            var p = new JsonObject { ["AddressCount"] = count };
            if (name is not null)
            {
                p["AddressName"] = name;
            }
            var r = await c.CallAsync("vpc", "AllocateAddresses", p).ConfigureAwait(false);
            var ids = r.GetProperty("AddressSet").EnumerateArray().Select(e => e.GetString()!).ToList();
            await ListAddresses(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Associate(ArgReader args)
    {
        var ids = Ids(args, "EIP id and an instance id (associate <eip-id> <ins-id>)", 2);
        if (ids.Count != 2)
        {
            throw new UsageException("associate takes exactly <eip-id> <ins-id>.");
        }
        return async c =>
        {
            await c.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = ids[0], ["InstanceId"] = ids[1] }).ConfigureAwait(false);
            await ListInstances(c, [ids[1]]).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Disassociate(ArgReader args)
    {
        var ids = Ids(args, "EIP id (eip-...)");
        bool noNewIp = args.Flag("--no-new-ip");
        if (ids.Count != 1)
        {
            throw new UsageException("disassociate takes exactly one <eip-id>.");
        }
        return async c =>
        {
            var p = new JsonObject { ["AddressId"] = ids[0] };
            if (noNewIp)
            {
                p["ReallocateNormalPublicIp"] = false;
            }
            await c.CallAsync("vpc", "DisassociateAddress", p).ConfigureAwait(false);
            await ListAddresses(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Release(ArgReader args)
    {
        var ids = Ids(args, "EIP id (eip-...)");
        return async c =>
        {
            await c.CallAsync("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = Array(ids) }).ConfigureAwait(false);
            Console.WriteLine($"released {string.Join(" ", ids)}");
        };
    }

    private static Func<ApiClient, Task> Traffic(ArgReader args)
    {
        var ids = args.Positionals.Skip(1).ToList();
        return async c =>
        {
            var p = new JsonObject();
            if (ids.Count > 0)
            {
                p["InstanceIds"] = Array(ids);
            }
            // The emulator's own action (not a cloud one), served beside GetMonitorData.
            var r = await c.CallAsync("monitor", "2018-07-24", "DescribeTrafficMeters", p).ConfigureAwait(false);
            var inv = CultureInfo.InvariantCulture;
            var rows = r.GetProperty("InstanceSet").EnumerateArray().Select(t => new[]
            {
                t.GetProperty("InstanceId").GetString()!,
                t.GetProperty("PublicIpAddress").GetString() ?? "-",
                Cap(t.GetProperty("BandwidthOutKbps").GetInt64()) + " / " + Cap(t.GetProperty("BandwidthInKbps").GetInt64()),
                t.GetProperty("OutMbps").GetDouble().ToString("0.00", inv) + " / " + t.GetProperty("InMbps").GetDouble().ToString("0.00", inv),
                Bytes(t.GetProperty("OutBytes").GetInt64()) + " / " + Bytes(t.GetProperty("InBytes").GetInt64()),
                t.GetProperty("OutPackets").GetInt64().ToString(inv) + " / " + t.GetProperty("InPackets").GetInt64().ToString(inv),
                t.GetProperty("OutDroppedPackets").GetInt64().ToString(inv) + " / " + t.GetProperty("InDroppedPackets").GetInt64().ToString(inv),
            });
            Console.Write(Table(["INSTANCE", "PUBLIC IP", "CAP OUT / IN", "MBPS OUT / IN", "BYTES OUT / IN", "PACKETS OUT / IN", "DROPPED BY CAP OUT / IN"], rows));
        };

        static string Cap(long kbps) => kbps == 0 ? "none" : (kbps / 1000m).ToString("0.###", CultureInfo.InvariantCulture) + " Mbps";

        static string Bytes(long bytes) => bytes switch
        {
            < 10_000 => bytes.ToString(CultureInfo.InvariantCulture) + " B",
            < 10_000_000 => (bytes / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
            < 10_000_000_000 => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
            _ => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB",
        };
    }

    private static async Task Quota(ApiClient c)
    {
        var r = await c.CallAsync("vpc", "DescribeAddressQuota").ConfigureAwait(false);
        foreach (var q in r.GetProperty("QuotaSet").EnumerateArray())
        {
            Console.WriteLine($"{q.GetProperty("QuotaId").GetString()}: {q.GetProperty("QuotaCurrent").GetInt32()} of {q.GetProperty("QuotaLimit").GetInt32()}");
        }
    }

    private static async Task ListInstances(ApiClient c, IReadOnlyList<string>? ids = null)
    {
        var instances = await DescribeAll(c, "cvm", "DescribeInstances", "InstanceSet", ids is null ? null : ("InstanceIds", ids)).ConfigureAwait(false);
        var eips = await DescribeAll(c, "vpc", "DescribeAddresses", "AddressSet", null).ConfigureAwait(false);
        var eipByInstance = eips.Where(a => a.GetProperty("InstanceId").ValueKind == JsonValueKind.String)
            .ToDictionary(a => a.GetProperty("InstanceId").GetString()!, a => a.GetProperty("AddressId").GetString()!, StringComparer.Ordinal);
        var rows = instances.Select(i =>
        {
            string id = i.GetProperty("InstanceId").GetString()!;
            return new[]
            {
                id,
                i.GetProperty("InstanceName").GetString() ?? "",
                First(i.GetProperty("PrivateIpAddresses")),
                First(i.GetProperty("PublicIpAddresses")),
                eipByInstance.GetValueOrDefault(id, "-"),
                $"{i.GetProperty("InternetAccessible").GetProperty("InternetMaxBandwidthOut").GetInt32()} Mbps",
                i.GetProperty("InstanceState").GetString() ?? "",
                i.GetProperty("CreatedTime").GetString() ?? "",
            };
        });
        Console.Write(Table(["INSTANCE", "NAME", "PRIVATE IP", "PUBLIC IP", "EIP", "BANDWIDTH", "STATE", "CREATED"], rows));
    }

    private static async Task ListAddresses(ApiClient c, IReadOnlyList<string>? ids = null)
    {
        var eips = await DescribeAll(c, "vpc", "DescribeAddresses", "AddressSet", ids is null ? null : ("AddressIds", ids)).ConfigureAwait(false);
        var rows = eips.Select(a => new[]
        {
            a.GetProperty("AddressId").GetString()!,
            a.GetProperty("AddressIp").GetString()!,
            a.GetProperty("AddressStatus").GetString()!,
            a.GetProperty("InstanceId").GetString() ?? "-",
            a.GetProperty("PrivateAddressIp").GetString() ?? "-",
            a.GetProperty("AddressName").GetString() is { Length: > 0 } name ? name : "-",
            a.GetProperty("CreatedTime").GetString() ?? "",
        });
        Console.Write(Table(["EIP", "PUBLIC IP", "STATUS", "INSTANCE", "PRIVATE IP", "NAME", "CREATED"], rows));
    }

    private static async Task<List<JsonElement>> DescribeAll(ApiClient c, string service, string action, string set, (string Name, IReadOnlyList<string> Ids)? ids)
    {
        var all = new List<JsonElement>();
        while (true)
        {
            var p = new JsonObject { ["Offset"] = all.Count, ["Limit"] = 100 };
            if (ids is { } given)
            {
                p[given.Name] = Array(given.Ids);
            }
            var r = await c.CallAsync(service, action, p).ConfigureAwait(false);
            var page = r.GetProperty(set).EnumerateArray().ToList();
            all.AddRange(page);
            if (page.Count == 0 || all.Count >= r.GetProperty("TotalCount").GetInt32())
            {
                return all;
            }
        }
    }

    private static string First(JsonElement array) =>
        array.ValueKind == JsonValueKind.Array && array.GetArrayLength() > 0 ? array[0].GetString() ?? "-" : "-";

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)v)]);

    /// <summary>Left-aligned columns two spaces apart; "(none)" under the header when there are no rows.</summary>
    internal static string Table(string[] header, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        int[] widths = [.. header.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length)))];
        var sb = new StringBuilder();
        void Line(string[] cells) => sb.AppendLine(string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        Line(header);
        foreach (var row in all)
        {
            Line(row);
        }
        if (all.Count == 0)
        {
            sb.AppendLine("(none)");
        }
        return sb.ToString();
    }
}
