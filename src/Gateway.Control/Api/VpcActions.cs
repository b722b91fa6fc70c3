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
    }

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

    private static JsonObject TaskResponse(long taskId) => new() { ["TaskId"] = taskId.ToString(CultureInfo.InvariantCulture) };
}
