using System.Globalization;
using System.Text.Json.Nodes;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.Control.Api;

/// <summary>The vpc 2017-03-12 actions: EIPs.</summary>
internal static class VpcActions
{
    private const string DefaultChargeType = "TRAFFIC_POSTPAID_BY_HOUR";

    public static void Register(Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> actions)
    {
        actions["AllocateAddresses"] = AllocateAddresses;
        actions["AssociateAddress"] = AssociateAddress;
        actions["DisassociateAddress"] = DisassociateAddress;
        actions["ReleaseAddresses"] = ReleaseAddresses;
        actions["DescribeAddresses"] = DescribeAddresses;
        actions["DescribeAddressQuota"] = DescribeAddressQuota;
        actions["DescribeTaskResult"] = DescribeTaskResult;
        actions["ModifyAddressAttribute"] = ModifyAddressAttribute;
        actions["DescribeVpcs"] = DescribeVpcs;
        actions["DescribeSubnets"] = DescribeSubnets;
    }

    /// <summary>The names the emulated VPC and subnet carry (those of the cloud's default VPC and subnets).</summary>
    public const string VpcName = "Default-VPC";
    public const string SubnetName = "Default-Subnet";

    private static JsonObject AllocateAddresses(ControlPlane plane, RequestArgs args)
    {
        string type = args.String("AddressType") ?? "EIP";
        if (type != "EIP")
        {
            throw new ApiException(ErrorCodes.UnsupportedOperation, $"AddressType {type} is not emulated; only EIP is.");
        }
        var (ids, taskId) = plane.AllocateAddresses(
            args.Int("AddressCount") ?? 1,
            args.BoundedString("AddressName") ?? "",
            args.Int("InternetMaxBandwidthOut") ?? 1,
            args.BoundedString("InternetChargeType") ?? DefaultChargeType);
        return new JsonObject
        {
            ["AddressSet"] = new JsonArray([.. ids.Select(id => (JsonNode)id)]),
            ["TaskId"] = taskId.ToString(CultureInfo.InvariantCulture),
        };
    }

    private static JsonObject AssociateAddress(ControlPlane plane, RequestArgs args)
    {
        string addressId = args.RequiredString("AddressId");
        string? instanceId = args.String("InstanceId");
        string? eni = args.String("NetworkInterfaceId");
        if (instanceId is not null && eni is not null)
        {
            throw new ApiException(ErrorCodes.InvalidParameterConflict, "InstanceId and NetworkInterfaceId cannot both be given; an EIP binds to an instance or to an ENI's private IP.");
        }
        if (eni is not null)
        {
            throw new ApiException(ErrorCodes.UnsupportedOperation, "Binding an EIP to an elastic network interface is not emulated; give InstanceId.");
        }
        if (string.IsNullOrEmpty(instanceId))
        {
            throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter InstanceId.");
        }
        return TaskResponse(plane.AssociateAddress(addressId, instanceId));
    }

    private static JsonObject DisassociateAddress(ControlPlane plane, RequestArgs args) =>
        TaskResponse(plane.DisassociateAddress(args.RequiredString("AddressId"), args.Bool("ReallocateNormalPublicIp")));

    private static JsonObject ReleaseAddresses(ControlPlane plane, RequestArgs args) =>
        TaskResponse(plane.ReleaseAddresses(args.Strings("AddressIds") ?? throw new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter AddressIds.")));

    private static JsonObject DescribeAddresses(ControlPlane plane, RequestArgs args)
    {
        var ids = args.Strings("AddressIds");
        foreach (string id in ids ?? [])
        {
            if (!ResourceIds.IsWellFormed(id, ResourceIds.AddressPrefix))
            {
                throw new ApiException(ErrorCodes.AddressIdMalformed, $"'{id}' is not an EIP id; ids look like eip-xxxxxxxx.");
            }
        }
        var filters = args.Filters();
        var (offset, limit) = args.Paging();
        var predicates = filters.Select(AddressPredicate).ToList();
        var matching = plane.ListAddresses()
            .Where(a => ids is null || ids.Contains(a.Address.Id))
            .Where(a => predicates.All(p => p(a)))
            .ToList();
        return new JsonObject
        {
            ["TotalCount"] = matching.Count,
            ["AddressSet"] = new JsonArray([.. matching.Skip(offset).Take(limit).Select(ToJson)]),
        };
    }

    private static Func<AddressView, bool> AddressPredicate(Filter filter)
    {
        var values = filter.Values;
        return filter.Name switch
        {
            "address-id" => a => values.Contains(a.Address.Id),
            "address-name" => a => values.Contains(a.Address.Name),
            "address-ip" => a => values.Contains(Ipv4Address.Format(a.Address.Ip)),
            "address-status" => a => values.Contains(a.Address.Status),
            "instance-id" => a => a.Address.InstanceId is not null && values.Contains(a.Address.InstanceId),
            // The real service matches only the first value of this filter; so does this one.
            "private-ip-address" => a => a.PrivateIp is uint p && values.Count > 0 && values[0] == Ipv4Address.Format(p),
            "address-type" => a => values.Contains("EIP"),
            _ => throw new ApiException(ErrorCodes.FilterInvalidKey,
                $"The filter '{filter.Name}' does not exist; DescribeAddresses filters by address-id, address-name, address-ip, address-status, address-type, instance-id, private-ip-address."),
        };
    }

    internal static JsonObject ToJson(AddressView view)
    {
        var a = view.Address;
        return new JsonObject
        {
            ["AddressId"] = a.Id,
            ["AddressName"] = a.Name,
            ["AddressStatus"] = a.Status,
            ["AddressIp"] = Ipv4Address.Format(a.Ip),
            ["InstanceId"] = a.InstanceId,
            ["CreatedTime"] = a.CreatedTime.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["NetworkInterfaceId"] = null,
            ["PrivateAddressIp"] = view.PrivateIp is uint p ? Ipv4Address.Format(p) : null,
            ["IsArrears"] = false,
            ["IsBlocked"] = false,
            ["IsEipDirectConnection"] = false,
            ["AddressType"] = "EIP",
            ["CascadeRelease"] = false,
            ["InternetServiceProvider"] = "BGP",
            ["LocalBgp"] = false,
            ["Bandwidth"] = a.Bandwidth,
            ["InternetChargeType"] = a.InternetChargeType,
            ["TagSet"] = new JsonArray(),
            ["InstanceType"] = a.InstanceId is null ? null : "CVM",
        };
    }

    private static JsonObject DescribeAddressQuota(ControlPlane plane, RequestArgs args)
    {
        var (current, limit) = plane.AddressQuota();
        return new JsonObject
        {
            ["QuotaSet"] = new JsonArray(new JsonObject
            {
                ["QuotaId"] = "TOTAL_EIP_QUOTA",
                ["QuotaCurrent"] = current,
                ["QuotaLimit"] = limit,
            }),
        };
    }

    private static JsonObject DescribeTaskResult(ControlPlane plane, RequestArgs args)
    {
        long? taskId = args.Long("TaskId");
        if (taskId is null)
        {
            throw args.Has("DealName")
                ? new ApiException(ErrorCodes.UnsupportedOperation, "Orders (DealName) are not emulated; nothing here is billed. Give TaskId.")
                : new ApiException(ErrorCodes.MissingParameter, "The request is missing the required parameter TaskId.");
        }
        if (!plane.TaskExists(taskId.Value))
        {
            throw new ApiException(ErrorCodes.ResourceNotFound, $"The task {taskId} does not exist.");
        }
        // Every change is applied before its request is answered, so every task has succeeded.
        return new JsonObject { ["TaskId"] = taskId.Value, ["Result"] = "SUCCESS" };
    }

    private static JsonObject ModifyAddressAttribute(ControlPlane plane, RequestArgs args)
    {
        string addressId = args.RequiredString("AddressId");
        if (args.Has("EipDirectConnection"))
        {
            throw new ApiException(ErrorCodes.UnsupportedOperation, "EipDirectConnection is not emulated: the gateway always translates (no EIP pass-through). Give AddressName only.");
        }
        string? name = args.BoundedString("AddressName");
        if (name is not null)
        {
            plane.RenameAddress(addressId, name);
        }
        else
        {
            plane.RequireAddressExists(addressId);
        }
        return [];
    }

    // ----- The VPC and its subnet: one of each, made at the first start with the state directory. -----

    private static JsonObject DescribeVpcs(ControlPlane plane, RequestArgs args)
    {
        var ids = args.Strings("VpcIds");
        var filters = args.Filters();
        var (offset, limit) = args.Paging(numbersAsStrings: true);
        CheckIds(ids, filters, "VpcIds", ResourceIds.VpcPrefix, plane.VpcId, "VPC");
        var predicates = filters.Select(VpcPredicate(plane)).ToList();
        bool matches = (ids is null || ids.Contains(plane.VpcId)) && predicates.All(p => p());
        var (created, _) = plane.NetworkUsage();
        var vpcs = matches ? new[] { VpcJson(plane, created) } : [];
        return new JsonObject
        {
            ["TotalCount"] = vpcs.Length,
            ["VpcSet"] = new JsonArray([.. vpcs.Skip(offset).Take(limit)]),
        };
    }

    private static Func<Filter, Func<bool>> VpcPredicate(ControlPlane plane) => filter =>
    {
        var values = filter.Values;
        return filter.Name switch
        {
            "vpc-id" => () => values.Contains(plane.VpcId),
            // "fuzzy": a value anywhere in the name, case-insensitively.
            "vpc-name" => () => values.Any(v => VpcName.Contains(v, StringComparison.OrdinalIgnoreCase)),
            "is-default" => () => values.Any(IsTrue),
            "cidr-block" => () => values.Contains(plane.Subnet.ToString()),
            "tag-key" => () => false, // no tags are emulated: a tag filter matches nothing.
            _ when filter.Name.StartsWith("tag:", StringComparison.Ordinal) => () => false,
            _ => throw new ApiException(ErrorCodes.FilterInvalidKey,
                $"The filter '{filter.Name}' does not exist; DescribeVpcs filters by vpc-id, vpc-name, is-default, cidr-block, tag-key, tag:<key>."),
        };
    };

    private static JsonObject VpcJson(ControlPlane plane, DateTimeOffset created) => new()
    {
        ["VpcName"] = VpcName,
        ["VpcId"] = plane.VpcId,
        // One subnet spanning the whole VPC: the VPC's CIDR is --subnet's.
        ["CidrBlock"] = plane.Subnet.ToString(),
        ["IsDefault"] = true,
        ["EnableMulticast"] = false,
        ["CreatedTime"] = FormatTime(created),
        ["DnsServerSet"] = new JsonArray(),
        ["DomainName"] = "",
        ["DhcpOptionsId"] = "",
        ["EnableDhcp"] = true,
        ["Ipv6CidrBlock"] = "",
        ["TagSet"] = new JsonArray(),
        ["AssistantCidrSet"] = new JsonArray(),
    };

    private static JsonObject DescribeSubnets(ControlPlane plane, RequestArgs args)
    {
        var ids = args.Strings("SubnetIds");
        var filters = args.Filters();
        var (offset, limit) = args.Paging(numbersAsStrings: true);
        CheckIds(ids, filters, "SubnetIds", ResourceIds.SubnetPrefix, plane.SubnetId, "subnet");
        string zone = Zones.Default(args.Region);
        var predicates = filters.Select(SubnetPredicate(plane, zone)).ToList();
        bool matches = (ids is null || ids.Contains(plane.SubnetId)) && predicates.All(p => p());
        var (created, used) = plane.NetworkUsage();
        var subnets = matches ? new[] { SubnetJson(plane, zone, created, used) } : [];
        return new JsonObject
        {
            ["TotalCount"] = subnets.Length,
            ["SubnetSet"] = new JsonArray([.. subnets.Skip(offset).Take(limit)]),
        };
    }

    private static Func<Filter, Func<bool>> SubnetPredicate(ControlPlane plane, string zone) => filter =>
    {
        var values = filter.Values;
        return filter.Name switch
        {
            "subnet-id" => () => values.Contains(plane.SubnetId),
            "vpc-id" => () => values.Contains(plane.VpcId),
            "subnet-name" => () => values.Any(v => SubnetName.Contains(v, StringComparison.OrdinalIgnoreCase)),
            // "192.168.1.0" in the documentation's example; the CIDR itself is accepted too.
            "cidr-block" => () => values.Contains(plane.Subnet.ToString()) || values.Contains(Ipv4Address.Format(plane.Subnet.Network)),
            "is-default" => () => values.Any(IsTrue),
            "is-remote-vpc-snat" => () => values.Any(v => !IsTrue(v)),
            "zone" => () => values.Contains(zone),
            "is-cdc-subnet" => () => values.Contains("0"),
            "cdc-id" => () => false,
            "tag-key" => () => false,
            _ when filter.Name.StartsWith("tag:", StringComparison.Ordinal) => () => false,
            _ => throw new ApiException(ErrorCodes.FilterInvalidKey,
                $"The filter '{filter.Name}' does not exist; DescribeSubnets filters by subnet-id, vpc-id, subnet-name, cidr-block, is-default, is-remote-vpc-snat, zone, is-cdc-subnet, cdc-id, tag-key, tag:<key>."),
        };
    };

    private static JsonObject SubnetJson(ControlPlane plane, string zone, DateTimeOffset created, int used)
    {
        var subnet = plane.Subnet;
        // The network, the VPC gateway (.1) and the broadcast address are reserved, as the cloud reserves them.
        long total = Math.Max(0, subnet.Size - 3);
        return new JsonObject
        {
            ["VpcId"] = plane.VpcId,
            ["SubnetId"] = plane.SubnetId,
            ["SubnetName"] = SubnetName,
            ["CidrBlock"] = subnet.ToString(),
            ["IsDefault"] = true,
            ["EnableBroadcast"] = false,
            ["Zone"] = zone,
            ["RouteTableId"] = "rtb-" + plane.VpcId[ResourceIds.VpcPrefix.Length..],
            ["CreatedTime"] = FormatTime(created),
            ["AvailableIpAddressCount"] = Math.Max(0, total - used),
            ["Ipv6CidrBlock"] = "",
            ["NetworkAclId"] = "",
            ["IsRemoteVpcSnat"] = false,
            ["TotalIpAddressCount"] = total,
            ["TagSet"] = new JsonArray(),
            ["CdcId"] = "",
            ["IsCdcSubnet"] = 0,
        };
    }

    /// <summary>
    /// Ids and Filters may not come together (InvalidParameter.Coexist); an id of the wrong shape is
    /// InvalidParameterValue.Malformed; a well-formed id of nothing here is ResourceNotFound.
    /// </summary>
    private static void CheckIds(IReadOnlyList<string>? ids, IReadOnlyList<Filter> filters, string parameter, string prefix, string existing, string what)
    {
        if (ids is null)
        {
            return;
        }
        if (filters.Count > 0)
        {
            throw new ApiException(ErrorCodes.ParameterCoexist, $"{parameter} and Filters cannot be given together; give one of them.");
        }
        foreach (string id in ids)
        {
            if (!ResourceIds.IsWellFormed(id, prefix))
            {
                throw new ApiException(ErrorCodes.ValueMalformed, $"'{id}' in {parameter} is not a {what} id; ids look like {prefix}xxxxxxxx.");
            }
            if (id != existing)
            {
                throw new ApiException(ErrorCodes.ResourceNotFound, $"The {what} {id} does not exist; this gateway emulates {existing}.");
            }
        }
    }

    private static bool IsTrue(string value) => value is "true" or "TRUE" or "True" or "1";

    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static JsonObject TaskResponse(long taskId) => new() { ["TaskId"] = taskId.ToString(CultureInfo.InvariantCulture) };
}
