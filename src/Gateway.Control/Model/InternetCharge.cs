using Gateway.DataPlane.Policing;

namespace Gateway.Control.Model;

/// <summary>
/// The cloud's network billing modes (<c>InternetAccessible.InternetChargeType</c>) and what each means for the caps:
/// the outbound range an instance may buy in a mainland region (ap-guangzhou, the emulated one) and the inbound cap
/// that comes with it.
/// </summary>
/// <remarks>
/// <para>Tencent Cloud's "Public Network Bandwidth Limits": pay-as-you-go by traffic and by hourly bandwidth, 0–100 Mbps;
/// a bandwidth package, 0–2,000 Mbps. Inbound: by traffic or by bandwidth, 10 Mbps when the outbound cap is 10 Mbps or
/// less, else equal to it; in a bandwidth package, equal to the outbound cap.</para>
/// <para>Monthly prepaid bandwidth (<c>BANDWIDTH_PREPAID</c>) is accepted with a 0–200 Mbps range and the
/// traffic/bandwidth inbound rule: that range is the one the cloud's limits table gives for the standard case as far
/// as could be found, and is not confirmed (README, "what could not be confirmed").</para>
/// </remarks>
internal static class InternetCharge
{
    public const string TrafficPostpaidByHour = "TRAFFIC_POSTPAID_BY_HOUR";
    public const string BandwidthPostpaidByHour = "BANDWIDTH_POSTPAID_BY_HOUR";
    public const string BandwidthPackage = "BANDWIDTH_PACKAGE";
    public const string BandwidthPrepaid = "BANDWIDTH_PREPAID";

    public const string Default = TrafficPostpaidByHour;

    public static readonly IReadOnlyList<string> Known = [TrafficPostpaidByHour, BandwidthPostpaidByHour, BandwidthPackage, BandwidthPrepaid];

    public static bool IsKnown(string chargeType) => Known.Contains(chargeType);

    /// <summary>The largest <c>InternetMaxBandwidthOut</c> (Mbps) an instance with <paramref name="chargeType"/> may have.</summary>
    public static int MaxBandwidthOut(string chargeType) => chargeType switch
    {
        BandwidthPackage => 2000,
        BandwidthPrepaid => 200,
        _ => 100,
    };

    /// <summary>The caps of a public address whose instance bought <paramref name="outboundMbps"/> with <paramref name="chargeType"/>.</summary>
    public static BandwidthCaps Caps(int outboundMbps, string chargeType)
    {
        if (outboundMbps <= 0)
        {
            return BandwidthCaps.Unlimited;
        }
        long outbound = outboundMbps * 1000L;
        long inbound = chargeType == BandwidthPackage ? outbound : BandwidthCaps.InboundKbpsByRule(outbound);
        return new BandwidthCaps(outbound, inbound);
    }
}
