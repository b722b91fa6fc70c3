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
            args.Object("Placement")?.BoundedString("Zone") ?? args.Region + "-1",
            args.BoundedString("InstanceType") ?? DefaultInstanceType,
            args.BoundedString("ImageId") ?? "")
        {
            ClientToken = args.BoundedString("ClientToken", 64) is { Length: > 0 } token ? token : null,
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
            "instance-state" => i => values.Contains(InstanceStates.Running),
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
            ["InstanceState"] = InstanceStates.Running,
            ["Tags"] = new JsonArray(),
            ["SecurityGroupIds"] = new JsonArray(),
            ["Uuid"] = DeterministicUuid(i.Id),
            ["LatestOperation"] = "RunInstances",
            ["LatestOperationState"] = "SUCCESS",
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

    private static IReadOnlyList<string> RequiredIds(RequestArgs args) =>
        args.Strings("InstanceIds") ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter InstanceIds.");

    private static string DeterministicUuid(string id)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id), hash);
        return new Guid(hash[..16]).ToString();
    }
}
