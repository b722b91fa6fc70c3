namespace Gateway.Control.Hosting;

/// <summary>
/// Metered traffic per instance, for the console's traffic chart (the last hour on the instance's details page).
/// Implemented where traffic metering exists and set on <see cref="GatewayHost.TrafficHistory"/>; without it the
/// console says that this gateway does not meter traffic.
/// </summary>
public interface IInstanceTrafficHistory
{
    /// <summary>The instance's metered periods that start at or after <paramref name="since"/>, oldest first
    /// (empty when it carried nothing or is unknown).</summary>
    IReadOnlyList<TrafficPoint> Read(string instanceId, DateTimeOffset since);
}

/// <summary>What one instance's public address carried in one metering period, per direction (inbound: from the
/// internet to the instance).</summary>
public readonly record struct TrafficPoint(DateTimeOffset Start, TimeSpan Period, long InboundBytes, long OutboundBytes, long InboundPackets, long OutboundPackets);
