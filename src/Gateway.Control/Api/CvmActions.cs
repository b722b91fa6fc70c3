using System.Globalization;
using System.Text.Json.Nodes;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.Control.Api;

/// <summary>The cvm 2017-03-12 actions: instances and their internet access.</summary>
internal static class CvmActions
{
    internal const string DefaultChargeType = "TRAFFIC_POSTPAID_BY_HOUR";
    internal const string DefaultInstanceType = "S5.SMALL1";

    public static void Register(Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> actions)
    {
        actions["RunInstances"] = RunInstances;
        actions["DescribeInstances"] = DescribeInstances;
        actions["TerminateInstances"] = TerminateInstances;
        actions["ResetInstancesInternetMaxBandwidth"] = ResetInstancesInternetMaxBandwidth;
        actions["StopInstances"] = StopInstances;
        actions["StartInstances"] = StartInstances;
        actions["RebootInstances"] = RebootInstances;
        actions["DescribeInstancesStatus"] = DescribeInstancesStatus;
        actions["ModifyInstancesAttribute"] = ModifyInstancesAttribute;
        actions["DescribeZones"] = DescribeZones;
    }

    private static JsonObject RunInstances(ControlPlane plane, RequestArgs args)
    {
        var internet = args.Object("InternetAccessible");
        var vpc = args.Object("VirtualPrivateCloud");
        if (vpc is not null)
        {
            CheckVpc(plane, vpc);
        }
        IReadOnlyList<uint>? privateIps = null;
        if (vpc?.Strings("PrivateIpAddresses") is { Count: > 0 } texts)
        {
            privateIps = [.. texts.Select(t => Ipv4Address.TryParse(t, out uint ip) ? ip
                : throw new ApiException(ErrorCodes.InvalidIpFormat, $"'{t}' in VirtualPrivateCloud.PrivateIpAddresses is not a dotted-quad IPv4 address."))];
        }
        var command = new RunInstancesCommand(
            args.Int("InstanceCount") ?? 1,
            internet?.Int("InternetMaxBandwidthOut") ?? 0,
            internet?.Bool("PublicIpAssigned"),
            internet?.BoundedString("InternetChargeType") ?? DefaultChargeType,
            privateIps,
            args.BoundedString("InstanceName") ?? "Unnamed",
            args.Object("Placement")?.BoundedString("Zone") ?? Zones.Default(args.Region),
            args.BoundedString("InstanceType") ?? DefaultInstanceType,
            args.BoundedString("ImageId") ?? "")
        {
            ClientToken = args.BoundedString("ClientToken", 64) is { Length: > 0 } token ? token : null,
            RequestId = args.RequestId,
        };
        if (args.Bool("DryRun") == true)
        {
            throw new ApiException("DryRunOperation", "DryRun: the parameters are valid; nothing was created.");
        }
        var ids = plane.RunInstances(command);
        return new JsonObject { ["InstanceIdSet"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]) };
    }

    private static void CheckVpc(ControlPlane plane, RequestArgs vpc)
    {
        // One VPC with one subnet is emulated; naming it (or "DEFAULT") is fine, naming another is an error.
        string? vpcId = vpc.String("VpcId");
        string? subnetId = vpc.String("SubnetId");
        if (vpcId is { Length: > 0 } && vpcId != "DEFAULT" && vpcId != plane.VpcId)
        {
            throw new ApiException("InvalidParameterValue.VpcIdNotExist", $"The VPC {vpcId} does not exist; this gateway emulates {plane.VpcId} (or say DEFAULT).");
        }
        if (subnetId is { Length: > 0 } && subnetId != "DEFAULT" && subnetId != plane.SubnetId)
        {
            throw new ApiException(ErrorCodes.SubnetNotExist, $"The subnet {subnetId} does not exist; this gateway emulates {plane.SubnetId} ({plane.Subnet}) (or say DEFAULT).");
        }
    }

    private static JsonObject DescribeInstances(ControlPlane plane, RequestArgs args)
    {
        var ids = args.Strings("InstanceIds");
        foreach (string id in ids ?? [])
        {
            if (!ResourceIds.IsWellFormed(id, ResourceIds.InstancePrefix))
            {
                throw new ApiException(ErrorCodes.InstanceIdMalformed, $"'{id}' is not an instance id; ids look like ins-xxxxxxxx.");
            }
        }
        var predicates = args.Filters().Select(InstancePredicate(plane)).ToList();
        var (offset, limit) = args.Paging();
        var matching = plane.ListInstances()
            .Where(i => ids is null || ids.Contains(i.Instance.Id))
            .Where(i => predicates.All(p => p(i)))
            .ToList();
        return new JsonObject
        {
            ["TotalCount"] = matching.Count,
            ["InstanceSet"] = new JsonArray([.. matching.Skip(offset).Take(limit).Select(i => ToJson(plane, i))]),
        };
    }

    private static Func<Filter, Func<InstanceView, bool>> InstancePredicate(ControlPlane plane) => filter =>
    {
        var values = filter.Values;
        return filter.Name switch
        {
            "instance-id" => i => values.Contains(i.Instance.Id),
            "instance-name" => i => values.Contains(i.Instance.Name),
            "instance-state" => i => values.Contains(i.State),
            "private-ip-address" => i => values.Contains(Ipv4Address.Format(i.Instance.PrivateIp)),
            "public-ip-address" => i => i.PublicIp is uint p && values.Contains(Ipv4Address.Format(p)),
            "zone" => i => values.Contains(i.Instance.Zone),
            "vpc-id" => i => values.Contains(plane.VpcId),
            "subnet-id" => i => values.Contains(plane.SubnetId),
            _ => throw new ApiException(ErrorCodes.InvalidFilter,
                $"The filter '{filter.Name}' does not exist; DescribeInstances filters by instance-id, instance-name, instance-state, private-ip-address, public-ip-address, zone, vpc-id, subnet-id."),
        };
    };

    internal static JsonObject ToJson(ControlPlane plane, InstanceView view)
    {
        var i = view.Instance;
        string privateIp = Ipv4Address.Format(i.PrivateIp);
        return new JsonObject
        {
            ["Placement"] = new JsonObject { ["Zone"] = i.Zone, ["ProjectId"] = 0 },
            ["InstanceId"] = i.Id,
            ["InstanceType"] = i.InstanceType,
            ["RestrictState"] = "NORMAL",
            ["InstanceName"] = i.Name,
            ["InstanceChargeType"] = "POSTPAID_BY_HOUR",
            ["PrivateIpAddresses"] = new JsonArray(privateIp),
            // Instances never see this address: it lives on the gateway (the seed's "TGW"), as in the console.
            ["PublicIpAddresses"] = view.PublicIp is uint p ? new JsonArray(Ipv4Address.Format(p)) : null,
            ["InternetAccessible"] = new JsonObject
            {
                ["InternetChargeType"] = i.InternetChargeType,
                ["InternetMaxBandwidthOut"] = i.BandwidthOut,
                ["PublicIpAssigned"] = view.PublicIp is not null,
            },
            ["VirtualPrivateCloud"] = new JsonObject
            {
                ["VpcId"] = plane.VpcId,
                ["SubnetId"] = plane.SubnetId,
                ["AsVpcGateway"] = false,
                ["PrivateIpAddresses"] = new JsonArray(privateIp),
            },
            ["ImageId"] = i.ImageId,
            ["CreatedTime"] = i.CreatedTime.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["InstanceState"] = view.State,
            // KEEP_CHARGING or STOP_CHARGING once stopped (also while STOPPING); NOT_APPLICABLE while it runs.
            ["StopChargingMode"] = i.IsStopped ? i.StopMode : StopModes.NotApplicable,
            ["Tags"] = new JsonArray(),
            ["SecurityGroupIds"] = new JsonArray(),
            ["Uuid"] = DeterministicUuid(i.Id),
            ["LatestOperation"] = i.LatestOperation,
            ["LatestOperationState"] = view.LatestOperationState,
            ["LatestOperationRequestId"] = i.LatestOperationRequestId,
        };
    }

    private static JsonObject TerminateInstances(ControlPlane plane, RequestArgs args)
    {
        plane.TerminateInstances(RequiredIds(args), args.Bool("ReleaseAddress") ?? false);
        return [];
    }

    private static JsonObject ResetInstancesInternetMaxBandwidth(ControlPlane plane, RequestArgs args)
    {
        var ids = RequiredIds(args);
        var internet = args.Object("InternetAccessible") ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter InternetAccessible.");
        int bandwidth = internet.Int("InternetMaxBandwidthOut") ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter InternetAccessible.InternetMaxBandwidthOut.");
        plane.ResetInternetMaxBandwidth(ids, bandwidth);
        return [];
    }

    private static JsonObject StopInstances(ControlPlane plane, RequestArgs args)
    {
        var ids = RequiredIds(args);
        string stopType = StopType(args, "ForceStop");
        // StoppedMode is the API's name; StopChargingMode (DescribeInstances' field) is accepted too, as scripts mix them up.
        string? stoppedMode = args.String("StoppedMode");
        string? alias = args.String("StopChargingMode");
        if (stoppedMode is not null && alias is not null && stoppedMode != alias)
        {
            throw new ApiException(ErrorCodes.InvalidParameterConflict, $"StoppedMode {stoppedMode} and StopChargingMode {alias} disagree; give StoppedMode only.");
        }
        plane.StopInstances(ids, stopType, stoppedMode ?? alias ?? StopModes.KeepCharging, args.RequestId);
        return [];
    }

    private static JsonObject StartInstances(ControlPlane plane, RequestArgs args)
    {
        plane.StartInstances(RequiredIds(args), args.RequestId);
        return [];
    }

    private static JsonObject RebootInstances(ControlPlane plane, RequestArgs args)
    {
        var ids = RequiredIds(args);
        plane.RebootInstances(ids, StopType(args, "ForceReboot"), args.RequestId);
        return [];
    }

    /// <summary>StopType, or the deprecated Force* flag it replaced (true: SOFT_FIRST); both at once is a conflict.</summary>
    private static string StopType(RequestArgs args, string forceParameter)
    {
        string? stopType = args.String("StopType");
        bool? force = args.Bool(forceParameter);
        if (stopType is not null && force is not null)
        {
            throw new ApiException(ErrorCodes.InvalidParameterConflict, $"{forceParameter} is deprecated and cannot be given with StopType; give StopType only.");
        }
        return stopType ?? (force == true ? "SOFT_FIRST" : "SOFT");
    }

    private static JsonObject DescribeInstancesStatus(ControlPlane plane, RequestArgs args)
    {
        var ids = args.Strings("InstanceIds");
        foreach (string id in ids ?? [])
        {
            if (!ResourceIds.IsWellFormed(id, ResourceIds.InstancePrefix))
            {
                throw new ApiException(ErrorCodes.InstanceIdMalformed, $"'{id}' is not an instance id; ids look like ins-xxxxxxxx.");
            }
        }
        var (offset, limit) = args.Paging();
        var matching = plane.InstanceStatuses().Where(s => ids is null || ids.Contains(s.InstanceId)).ToList();
        return new JsonObject
        {
            ["TotalCount"] = matching.Count,
            ["InstanceStatusSet"] = new JsonArray([.. matching.Skip(offset).Take(limit).Select(s => (JsonNode)new JsonObject
            {
                ["InstanceId"] = s.InstanceId,
                ["InstanceState"] = s.State,
            })]),
        };
    }

    /// <summary>The attributes ModifyInstancesAttribute takes that this emulator has nothing to do with.</summary>
    private static readonly string[] s_unsupportedAttributes =
        ["UserData", "SecurityGroups", "CamRoleName", "CamRoleType", "HostName", "DisableApiTermination", "AutoReboot", "EnableJumboFrame"];

    private static JsonObject ModifyInstancesAttribute(ControlPlane plane, RequestArgs args)
    {
        var ids = RequiredIds(args);
        foreach (string attribute in s_unsupportedAttributes)
        {
            if (args.Has(attribute))
            {
                throw new ApiException(ErrorCodes.UnsupportedOperation, $"ModifyInstancesAttribute's {attribute} is not emulated; only InstanceName is.");
            }
        }
        string name = args.BoundedString("InstanceName") ?? throw new ApiException(ErrorCodes.MissingParameterAtLeastOne, "ModifyInstancesAttribute needs an attribute to change: give InstanceName.");
        plane.RenameInstances(ids, name);
        return [];
    }

    /// <summary>
    /// DescribeZones: the zone the emulated subnet is in, <c>&lt;region&gt;-1</c> of the request's region (the zone new
    /// instances get unless Placement.Zone says otherwise).
    /// </summary>
    private static JsonObject DescribeZones(ControlPlane plane, RequestArgs args)
    {
        string zone = Zones.Default(args.Region);
        return new JsonObject
        {
            ["TotalCount"] = 1,
            ["ZoneSet"] = new JsonArray(new JsonObject
            {
                ["Zone"] = zone,
                ["ZoneName"] = Zones.Name(zone),
                ["ZoneId"] = Zones.Id(zone),
                ["ZoneState"] = "AVAILABLE",
            }),
        };
    }

    private static IReadOnlyList<string> RequiredIds(RequestArgs args) =>
        args.Strings("InstanceIds") ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter InstanceIds.");

    private static string DeterministicUuid(string id)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id), hash);
        return new Guid(hash[..16]).ToString();
    }
}
