using System.Globalization;
using Gateway.Control.Api;
using Gateway.Control.Model;
using Gateway.Control.Rules;
using Gateway.Packets;

namespace Gateway.WebConsole.Actions;

/// <summary>
/// The console's actions as calls of the one <see cref="ControlPlane"/> the API uses, with the API's defaults and the
/// same checks the API applies to its parameters. Each returns the sentence the page shows; a refusal is the
/// control plane's <see cref="ApiException"/> (the cloud's code and message), thrown before anything changed.
/// </summary>
internal static class ConsoleActions
{
    /// <summary>The zone the console's instances are placed in (the API's default for the region its tools sign with).</summary>
    public const string Zone = "ap-guangzhou-1";

    public static string CreateInstances(ControlPlane plane, string? bandwidthText, string? countText, string? name, string? privateIpsText, bool assignPublicIp)
    {
        int bandwidth = Number(bandwidthText, "Bandwidth", 0);
        int count = Number(countText, "Count", 1);
        string instanceName = Name(name, "Name") ?? "Unnamed";
        IReadOnlyList<uint>? privateIps = null;
        if (!string.IsNullOrWhiteSpace(privateIpsText))
        {
            privateIps = [.. privateIpsText.Split([',', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(t => Ipv4Address.TryParse(t, out uint ip) ? ip
                : throw new ApiException(ErrorCodes.InvalidIpFormat, $"'{t}' in Private IP is not a dotted-quad IPv4 address."))];
        }
        var ids = plane.RunInstances(new RunInstancesCommand(
            count,
            bandwidth,
            // Checked follows the bandwidth, as the API does when PublicIpAssigned is left out; unchecked opts out.
            assignPublicIp ? null : false,
            CvmActions.DefaultChargeType,
            privateIps,
            instanceName,
            Zone,
            CvmActions.DefaultInstanceType,
            ""));
        var created = plane.ListInstances().Where(i => ids.Contains(i.Instance.Id)).ToList();
        return ids.Count == 1
            ? $"Created {ids[0]}" + (created.FirstOrDefault()?.PublicIp is uint p ? $" with public IP {Ipv4Address.Format(p)}." : " without a public IP.")
            : $"Created {ids.Count} instances: {string.Join(", ", ids)}.";
    }

    public static string Terminate(ControlPlane plane, string? instanceId, bool releaseEip)
    {
        string id = Required(instanceId, "InstanceId");
        string? eip = plane.ListInstances().FirstOrDefault(i => i.Instance.Id == id)?.AddressId;
        plane.TerminateInstances([id], releaseEip);
        return eip is null ? $"Terminated {id}; its public IP went back to the pool."
            : releaseEip ? $"Terminated {id} and released its EIP {eip}."
            : $"Terminated {id}; its EIP {eip} is kept, unbound.";
    }

    public static string ChangeBandwidth(ControlPlane plane, string? instanceId, string? bandwidthText)
    {
        string id = Required(instanceId, "InstanceId");
        int bandwidth = Number(bandwidthText, "Bandwidth", null);
        plane.ResetInternetMaxBandwidth([id], bandwidth);
        var now = plane.ListInstances().FirstOrDefault(i => i.Instance.Id == id);
        return $"{id} now has {bandwidth} Mbps" + (now?.PublicIp is uint p ? $", public IP {Ipv4Address.Format(p)}." : " and no public IP.");
    }

    /// <summary>A soft stop; charging kept (the public IP stays) or stopped (the ordinary public IP goes back to the pool).</summary>
    public static string Stop(ControlPlane plane, string? instanceId, bool stopCharging)
    {
        string id = Required(instanceId, "InstanceId");
        plane.StopInstances([id], "SOFT", stopCharging ? StopModes.StopCharging : StopModes.KeepCharging, null);
        return stopCharging ? $"Stopping {id} without charging; its ordinary public IP went back to the pool." : $"Stopping {id}; it keeps its public IP.";
    }

    public static string Start(ControlPlane plane, string? instanceId)
    {
        string id = Required(instanceId, "InstanceId");
        plane.StartInstances([id], null);
        var now = plane.ListInstances().FirstOrDefault(i => i.Instance.Id == id);
        return $"Starting {id}" + (now?.PublicIp is uint p ? $"; public IP {Ipv4Address.Format(p)}." : ".");
    }

    public static string Allocate(ControlPlane plane, string? countText, string? name)
    {
        int count = Number(countText, "Count", 1);
        var (ids, _) = plane.AllocateAddresses(count, Name(name, "Name") ?? "", 1, CvmActions.DefaultChargeType);
        var addresses = plane.ListAddresses().Where(a => ids.Contains(a.Address.Id)).Select(a => $"{a.Address.Id} ({Ipv4Address.Format(a.Address.Ip)})");
        return $"Allocated {string.Join(", ", addresses)}.";
    }

    public static string Associate(ControlPlane plane, string? addressId, string? instanceId)
    {
        string eip = Required(addressId, "AddressId");
        string id = Required(instanceId, "InstanceId");
        uint? before = plane.ListInstances().FirstOrDefault(i => i.Instance.Id == id)?.PublicIp;
        plane.AssociateAddress(eip, id);
        // The released address is not named: it is the pool's again, and the page no longer shows it anywhere.
        return $"Associated {eip} with {id}" + (before is not null ? "; its ordinary public IP went back to the pool." : ".");
    }

    public static string Disassociate(ControlPlane plane, string? addressId, bool newPublicIp)
    {
        string eip = Required(addressId, "AddressId");
        string? instance = plane.ListAddresses().FirstOrDefault(a => a.Address.Id == eip)?.Address.InstanceId;
        plane.DisassociateAddress(eip, newPublicIp);
        uint? now = instance is null ? null : plane.ListInstances().FirstOrDefault(i => i.Instance.Id == instance)?.PublicIp;
        return $"Disassociated {eip} from {instance}" + (now is uint p ? $"; it got the new public IP {Ipv4Address.Format(p)}." : "; it has no public IP now.");
    }

    public static string Release(ControlPlane plane, string? addressId)
    {
        string eip = Required(addressId, "AddressId");
        plane.ReleaseAddresses([eip]);
        return $"Released {eip}; its address went back to the pool.";
    }

    private static string Required(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw new ApiException(ErrorCodes.MissingParameter, $"The form is missing {field}.") : value.Trim();

    private static string? Name(string? value, string field)
    {
        string? name = string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        return name is { Length: > RequestArgs.MaxStoredStringLength }
            ? throw new ApiException(ErrorCodes.InvalidParameterValueTooLong, $"{field} has {name.Length} characters; at most {RequestArgs.MaxStoredStringLength} are accepted.")
            : name;
    }

    private static int Number(string? text, string field, int? fallback)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback ?? throw new ApiException(ErrorCodes.MissingParameter, $"The form is missing {field}.");
        }
        return int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new ApiException(ErrorCodes.InvalidParameterValue, $"{field} '{text.Trim()}' is not a whole number.");
    }
}
