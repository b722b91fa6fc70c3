using System.CommandLine;
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
    /// <summary>
    /// The verb and its commands. A new command is one <see cref="Add"/> call: its name, description, options and
    /// arguments defined on it, and the API calls it makes.
    /// </summary>
    public static Command Create()
    {
        var ctl = new Command("ctl", "talk to a running daemon: instances, EIPs, the VPC").WithEpilog($"""
            --api defaults to 127.0.0.1:{GatewayOptions.DefaultApiPort}. Credentials: GATEWAY_SECRET_ID/GATEWAY_SECRET_KEY, else <dir>/credentials of --state.
            Errors come back as the API's code and message (exit 1).
            """);
        var api = ctl.Define(CliSymbols.Text("--api", "host:port", $"the daemon's API (default 127.0.0.1:{GatewayOptions.DefaultApiPort})"));
        var state = ctl.Define(CliSymbols.Text("--state", "dir", "the daemon's state directory, for its credentials file", kind: ValueKind.Directory));
        var region = ctl.Define(CliSymbols.Text("--region", "region", "the region sent with every call (default ap-guangzhou)"));
        foreach (var option in new Option[] { api, state, region })
        {
            option.Recursive = true;
        }
        var connection = new Connection(api, state, region);
        // "gateway ctl" alone: the list of commands, as a usage error.
        ctl.SetRun(_ =>
        {
            HelpLayout.Write(ctl, Console.Error);
            return ExitCodes.Usage;
        });

        Add(ctl, connection, "instances", "list instances: private and public IP side by side", ["ls"], _ => c => ListInstances(c));
        Add(ctl, connection, "addresses", "list EIPs and what they are bound to", ["eips"], _ => c => ListAddresses(c));

        var create = new Command("create", "run instances (bandwidth > 0 gives each a public IP)");
        var createBandwidth = create.Define(CliSymbols.Int("--bandwidth", "Mbps", "InternetMaxBandwidthOut", 0, 0, 65535));
        var createCount = create.Define(CliSymbols.Int("--count", "n", "how many instances", 1, 1, 100));
        var createPrivateIps = create.Define(CliSymbols.Many("--private-ip", "a.b.c.d", "the private address of each instance (repeatable)"));
        var createNoPublicIp = create.Define(CliSymbols.Flag("--no-public-ip", "PublicIpAssigned=false: no public IP even with bandwidth"));
        var createName = create.Define(CliSymbols.Text("--name", "name", "InstanceName"));
        var createChargeType = create.Define(CliSymbols.Text("--charge-type", "type",
            "InternetChargeType: TRAFFIC_POSTPAID_BY_HOUR (default, 0-100 Mbps), BANDWIDTH_POSTPAID_BY_HOUR (0-100), BANDWIDTH_PACKAGE (0-2000), BANDWIDTH_PREPAID (0-200)"));
        Add(ctl, connection, create, p => Create(p.GetValue(createBandwidth), p.GetValue(createCount), p.GetValue(createPrivateIps)!, p.GetValue(createNoPublicIp), p.GetValue(createName), p.GetValue(createChargeType)));

        var terminate = new Command("terminate", "terminate instances (their public IPs go back to the pool)");
        var terminateIds = terminate.Define(InstanceIds());
        var releaseEip = terminate.Define(CliSymbols.Flag("--release-eip", "also release the EIPs bound to them"));
        Add(ctl, connection, terminate, p => Terminate(p.GetValue(terminateIds)!, p.GetValue(releaseEip)));

        var bandwidth = new Command("bandwidth", "change the bandwidth (0 releases the public IP)");
        var bandwidthIds = bandwidth.Define(InstanceIds());
        var bandwidthValue = bandwidth.Define(CliSymbols.OptionalInt("--bandwidth", "Mbps", "the new InternetMaxBandwidthOut (required)", 0, 65535));
        Add(ctl, connection, bandwidth, p => Bandwidth(p.GetValue(bandwidthIds)!, p.GetValue(bandwidthValue) ?? throw new UsageException("--bandwidth <Mbps> is required.")));

        var allocate = new Command("allocate", "allocate EIPs");
        var allocateCount = allocate.Define(CliSymbols.Int("--count", "n", "how many EIPs", 1, 1, 100));
        var allocateName = allocate.Define(CliSymbols.Text("--name", "name", "AddressName"));
        Add(ctl, connection, allocate, p => Allocate(p.GetValue(allocateCount), p.GetValue(allocateName)));

        var associate = new Command("associate", "bind an EIP (the instance's ordinary public IP is released)");
        var associateEip = associate.Define(CliSymbols.Positional("eip-id", "the EIP (eip-...)", "EIP id", "associate takes exactly <eip-id> <ins-id>."));
        var associateInstance = associate.Define(CliSymbols.Positional("ins-id", "the instance (ins-...)", "instance id", "associate takes exactly <eip-id> <ins-id>."));
        Add(ctl, connection, associate, p => Associate(p.GetValue(associateEip)!, p.GetValue(associateInstance)!));

        var disassociate = new Command("disassociate", "unbind an EIP (the instance gets a new public IP)");
        var disassociateEip = disassociate.Define(CliSymbols.Positional("eip-id", "the EIP (eip-...)", "EIP id", "disassociate takes exactly one <eip-id>."));
        var noNewIp = disassociate.Define(CliSymbols.Flag("--no-new-ip", "ReallocateNormalPublicIp=false: the instance is left without a public IP"));
        Add(ctl, connection, disassociate, p => Disassociate(p.GetValue(disassociateEip)!, p.GetValue(noNewIp)));

        var release = new Command("release", "release EIPs");
        var releaseIds = release.Define(CliSymbols.Positionals("eip-id", "the EIPs (eip-...)", ArgumentArity.OneOrMore, "EIP id", "give at least 1 EIP id (eip-...)."));
        Add(ctl, connection, release, p => Release(p.GetValue(releaseIds)!));

        Add(ctl, connection, "quota", "EIPs held and the quota", [], _ => c => Quota(c));
        Add(ctl, connection, "cluster", "the nodes sharing the etcd state: the active one, each node's applied revision and its lag", [], _ => c => Cluster(c));

        var traffic = new Command("traffic", "per instance: caps, rates of the last second, totals, drops by the caps");
        var trafficIds = traffic.Define(CliSymbols.Positionals("ins-id", "the instances (ins-...; default: all)", ArgumentArity.ZeroOrMore, "instance id"));
        Add(ctl, connection, traffic, p => Traffic(p.GetValue(trafficIds) ?? []));

        Add(ctl, connection, "vpcs", "list VPCs (DescribeVpcs): the one the daemon emulates", [], _ => c => ListVpcs(c));
        Add(ctl, connection, "subnets", "list subnets (DescribeSubnets): id, CIDR, zone, free private addresses", [], _ => c => ListSubnets(c));
        Add(ctl, connection, "zones", "list availability zones (DescribeZones)", [], _ => c => ListZones(c));

        var stop = new Command("stop", "stop instances (STOP_CHARGING releases the ordinary public IP; start assigns a new one)");
        var stopIds = stop.Define(InstanceIds());
        var stoppedMode = stop.Define(CliSymbols.Choice("--stopped-mode", "KEEP_CHARGING keeps the public IP; STOP_CHARGING releases it", "KEEP_CHARGING",
            [("KEEP_CHARGING", "KEEP_CHARGING"), ("STOP_CHARGING", "STOP_CHARGING"), ("keep-charging", "KEEP_CHARGING"), ("stop-charging", "STOP_CHARGING")], shownChoices: 2));
        var stopType = stop.Define(StopTypeOption());
        var stopWait = stop.Define(WaitOption());
        Add(ctl, connection, stop, p => Power("StopInstances", p.GetValue(stopIds)!, "STOPPED", p.GetValue(stopWait),
            new JsonObject { ["StopType"] = p.GetValue(stopType), ["StoppedMode"] = p.GetValue(stoppedMode) }));

        var start = new Command("start", "start stopped instances");
        var startIds = start.Define(InstanceIds());
        var startWait = start.Define(WaitOption());
        Add(ctl, connection, start, p => Power("StartInstances", p.GetValue(startIds)!, "RUNNING", p.GetValue(startWait), []));

        var reboot = new Command("reboot", "reboot running instances (addresses stay)");
        var rebootIds = reboot.Define(InstanceIds());
        var rebootType = reboot.Define(StopTypeOption());
        var rebootWait = reboot.Define(WaitOption());
        Add(ctl, connection, reboot, p => Power("RebootInstances", p.GetValue(rebootIds)!, "RUNNING", p.GetValue(rebootWait), new JsonObject { ["StopType"] = p.GetValue(rebootType) }));

        var rename = new Command("rename", "rename an instance (ins-...) or an EIP (eip-...)");
        var renameId = rename.Define(CliSymbols.Positional("id", "the instance or EIP", "id", "rename takes <ins-id|eip-id> <name>."));
        var renameName = rename.Define(CliSymbols.Positional("name", "the new name", "name", "rename takes <ins-id|eip-id> <name>."));
        Add(ctl, connection, rename, p => Rename(p.GetValue(renameId)!, p.GetValue(renameName)!));
        return ctl;
    }

    private static Option<string> StopTypeOption() =>
        CliSymbols.Choice("--stop-type", "SOFT: shut down the OS; HARD: power off; SOFT_FIRST: soft, then hard if it fails", "SOFT",
            [("SOFT", "SOFT"), ("HARD", "HARD"), ("SOFT_FIRST", "SOFT_FIRST")]);

    private static Option<bool> WaitOption() =>
        CliSymbols.Flag("--wait", "poll until every instance has left its transitional state (with gateway run --transition-time)");

    private static Argument<string[]> InstanceIds() =>
        CliSymbols.Positionals("ins-id", "the instances (ins-...)", ArgumentArity.OneOrMore, "instance id", "give at least 1 instance id (ins-...).");

    /// <summary>The options every ctl command shares: where the daemon is and how to sign.</summary>
    private sealed record Connection(Option<string?> Api, Option<string?> State, Option<string?> Region);

    private static void Add(Command ctl, Connection connection, string name, string description, string[] aliases, Func<ParseResult, Func<ApiClient, Task>> action)
    {
        var command = new Command(name, description);
        foreach (string alias in aliases)
        {
            command.Aliases.Add(alias);
        }
        Add(ctl, connection, command, action);
    }

    private static void Add(Command ctl, Connection connection, Command command, Func<ParseResult, Func<ApiClient, Task>> action)
    {
        command.SetRun(p => Call(p, connection, action(p)));
        ctl.Add(command);
    }

    private static int Call(ParseResult p, Connection connection, Func<ApiClient, Task> action)
    {
        var endPoint = RunCommand.ParseEndPoint(p.GetValue(connection.Api) ?? $"127.0.0.1:{GatewayOptions.DefaultApiPort}");
        string? state = p.GetValue(connection.State);
        string region = p.GetValue(connection.Region) ?? "ap-guangzhou";

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

    private static Func<ApiClient, Task> Create(int bandwidth, int count, string[] privateIps, bool noPublicIp, string? name, string? chargeType)
    {
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
            if (privateIps.Length > 0)
            {
                p["VirtualPrivateCloud"] = new JsonObject { ["VpcId"] = "DEFAULT", ["SubnetId"] = "DEFAULT", ["PrivateIpAddresses"] = new JsonArray([.. privateIps.Select(ip => (JsonNode)ip)]) };
            }
            var r = await c.CallAsync("cvm", "RunInstances", p).ConfigureAwait(false);
            var ids = r.GetProperty("InstanceIdSet").EnumerateArray().Select(e => e.GetString()!).ToList();
            await ListInstances(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Terminate(IReadOnlyList<string> ids, bool releaseEip)
    {
        return async c =>
        {
            await c.CallAsync("cvm", "TerminateInstances", new JsonObject { ["InstanceIds"] = Array(ids), ["ReleaseAddress"] = releaseEip }).ConfigureAwait(false);
            Console.WriteLine($"terminated {string.Join(" ", ids)}");
        };
    }

    private static Func<ApiClient, Task> Bandwidth(IReadOnlyList<string> ids, int bandwidth)
    {
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

    private static Func<ApiClient, Task> Allocate(int count, string? name)
    {
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

    private static Func<ApiClient, Task> Associate(string eip, string instance)
    {
        return async c =>
        {
            await c.CallAsync("vpc", "AssociateAddress", new JsonObject { ["AddressId"] = eip, ["InstanceId"] = instance }).ConfigureAwait(false);
            await ListInstances(c, [instance]).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Disassociate(string eip, bool noNewIp)
    {
        return async c =>
        {
            var p = new JsonObject { ["AddressId"] = eip };
            if (noNewIp)
            {
                p["ReallocateNormalPublicIp"] = false;
            }
            await c.CallAsync("vpc", "DisassociateAddress", p).ConfigureAwait(false);
            await ListAddresses(c, [eip]).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Release(IReadOnlyList<string> ids)
    {
        return async c =>
        {
            await c.CallAsync("vpc", "ReleaseAddresses", new JsonObject { ["AddressIds"] = Array(ids) }).ConfigureAwait(false);
            Console.WriteLine($"released {string.Join(" ", ids)}");
        };
    }

    private static async Task Cluster(ApiClient c)
    {
        var r = await c.CallAsync("vpc", "DescribeGatewayCluster").ConfigureAwait(false);
        var active = r.GetProperty("active").EnumerateArray()
            .ToDictionary(a => a.GetProperty("node").GetString() ?? "", a => a.GetProperty("segment").GetString() ?? "", StringComparer.Ordinal);
        var rows = r.GetProperty("nodes").EnumerateArray().Select(n =>
        {
            string name = n.GetProperty("name").GetString() ?? "";
            return new[]
            {
                name,
                // "fenced": etcd names it, but it may not forward now (its authority lapsed; Cluster/ActiveAuthority).
                active.TryGetValue(name, out string? segment)
                    ? (n.TryGetProperty("fenced", out var f) && f.ValueKind == JsonValueKind.True ? $"fenced ({segment})" : $"active ({segment})")
                    : n.TryGetProperty("segment", out var s) && s.ValueKind == JsonValueKind.String ? "standby" : "-",
                n.GetProperty("appliedRevision").GetInt64().ToString(CultureInfo.InvariantCulture),
                n.GetProperty("lag").GetInt64().ToString(CultureInfo.InvariantCulture),
                n.GetProperty("api").GetString() ?? "",
                n.GetProperty("pid").GetInt32().ToString(CultureInfo.InvariantCulture),
            };
        }).OrderBy(row => row[0], StringComparer.Ordinal);
        Console.Write(Table(["NODE", "ROLE", "APPLIED", "LAG", "API", "PID"], rows));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"state head revision {r.GetProperty("headRevision").GetInt64()} (etcd revision {r.GetProperty("etcdRevision").GetInt64()}); answered by {r.GetProperty("node").GetString()}"));
    }

    /// <summary>A power action on instances, then (with --wait) polling DescribeInstancesStatus until they read <paramref name="target"/>.</summary>
    private static Func<ApiClient, Task> Power(string action, string[] ids, string target, bool wait, JsonObject parameters)
    {
        return async c =>
        {
            parameters["InstanceIds"] = Array(ids);
            await c.CallAsync("cvm", action, parameters).ConfigureAwait(false);
            if (wait)
            {
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
                while (true)
                {
                    var statuses = await DescribeAll(c, "cvm", "DescribeInstancesStatus", "InstanceStatusSet", ("InstanceIds", ids)).ConfigureAwait(false);
                    var pending = statuses.Where(s => s.GetProperty("InstanceState").GetString() != target).Select(s => s.GetProperty("InstanceId").GetString()).ToList();
                    if (pending.Count == 0)
                    {
                        break;
                    }
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new FailureException($"{string.Join(" ", pending)} did not reach {target} within 5 minutes.");
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(250)).ConfigureAwait(false);
                }
            }
            await ListInstances(c, ids).ConfigureAwait(false);
        };
    }

    private static Func<ApiClient, Task> Rename(string id, string name)
    {
        return id.StartsWith("eip-", StringComparison.Ordinal)
            ? async c =>
            {
                await c.CallAsync("vpc", "ModifyAddressAttribute", new JsonObject { ["AddressId"] = id, ["AddressName"] = name }).ConfigureAwait(false);
                await ListAddresses(c, [id]).ConfigureAwait(false);
            }
            : id.StartsWith("ins-", StringComparison.Ordinal)
            ? async c =>
            {
                await c.CallAsync("cvm", "ModifyInstancesAttribute", new JsonObject { ["InstanceIds"] = Array([id]), ["InstanceName"] = name }).ConfigureAwait(false);
                await ListInstances(c, [id]).ConfigureAwait(false);
            }
            : throw new UsageException($"rename needs an instance id (ins-...) or an EIP id (eip-...), not '{id}'.");
    }

    private static async Task ListVpcs(ApiClient c)
    {
        var vpcs = await DescribeAll(c, "vpc", "DescribeVpcs", "VpcSet", null, numbersAsStrings: true).ConfigureAwait(false);
        Console.Write(Table(["VPC", "NAME", "CIDR", "DEFAULT", "CREATED"], vpcs.Select(v => new[]
        {
            v.GetProperty("VpcId").GetString()!,
            v.GetProperty("VpcName").GetString() ?? "",
            v.GetProperty("CidrBlock").GetString() ?? "",
            v.GetProperty("IsDefault").GetBoolean() ? "yes" : "no",
            v.GetProperty("CreatedTime").GetString() ?? "",
        })));
    }

    private static async Task ListSubnets(ApiClient c)
    {
        var subnets = await DescribeAll(c, "vpc", "DescribeSubnets", "SubnetSet", null, numbersAsStrings: true).ConfigureAwait(false);
        Console.Write(Table(["SUBNET", "VPC", "NAME", "CIDR", "ZONE", "FREE IPS", "CREATED"], subnets.Select(n => new[]
        {
            n.GetProperty("SubnetId").GetString()!,
            n.GetProperty("VpcId").GetString()!,
            n.GetProperty("SubnetName").GetString() ?? "",
            n.GetProperty("CidrBlock").GetString() ?? "",
            n.GetProperty("Zone").GetString() ?? "",
            $"{n.GetProperty("AvailableIpAddressCount").GetInt64()} of {n.GetProperty("TotalIpAddressCount").GetInt64()}",
            n.GetProperty("CreatedTime").GetString() ?? "",
        })));
    }

    private static async Task ListZones(ApiClient c)
    {
        var r = await c.CallAsync("cvm", "DescribeZones").ConfigureAwait(false);
        Console.Write(Table(["ZONE", "NAME", "ID", "STATE"], r.GetProperty("ZoneSet").EnumerateArray().Select(z => new[]
        {
            z.GetProperty("Zone").GetString()!,
            z.GetProperty("ZoneName").GetString() ?? "",
            z.GetProperty("ZoneId").GetString() ?? "",
            z.GetProperty("ZoneState").GetString() ?? "",
        })));
    }

    private static Func<ApiClient, Task> Traffic(string[] ids)
    {
        return async c =>
        {
            var p = new JsonObject();
            if (ids.Length > 0)
            {
                p["InstanceIds"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]);
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
                State(i),
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

    /// <summary>"STOPPED (STOP_CHARGING)" for a stopped instance, else the state.</summary>
    private static string State(JsonElement instance)
    {
        string state = instance.GetProperty("InstanceState").GetString() ?? "";
        return instance.TryGetProperty("StopChargingMode", out var mode) && mode.GetString() is { } m && m != "NOT_APPLICABLE" && state is "STOPPED" or "STOPPING"
            ? $"{state} ({m})"
            : state;
    }

    private static async Task<List<JsonElement>> DescribeAll(ApiClient c, string service, string action, string set, (string Name, IReadOnlyList<string> Ids)? ids,
        bool numbersAsStrings = false)
    {
        var all = new List<JsonElement>();
        while (true)
        {
            // vpc's DescribeVpcs and DescribeSubnets declare Offset and Limit as strings.
            var p = numbersAsStrings
                ? new JsonObject { ["Offset"] = all.Count.ToString(CultureInfo.InvariantCulture), ["Limit"] = "100" }
                : new JsonObject { ["Offset"] = all.Count, ["Limit"] = 100 };
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
