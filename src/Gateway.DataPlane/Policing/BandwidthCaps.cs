using System.Globalization;

namespace Gateway.DataPlane.Policing;

/// <summary>
/// A binding's two bandwidth caps, in kilobits per second (1 Mbps = 1,000 kbps; 0 = not capped in that direction).
/// </summary>
/// <remarks>
/// Outbound is what the instance sends to the internet through its public address (the cloud's
/// <c>InternetMaxBandwidthOut</c>); inbound is what reaches it from the internet. kbps rather than Mbps so that a
/// replay can police below 1 Mbps, where the 1,514-byte floor of the bucket depth matters.
/// </remarks>
public readonly record struct BandwidthCaps(long OutboundKbps, long InboundKbps)
{
    /// <summary>The smallest cap the policer takes: below it one byte would take longer than the cost arithmetic holds.</summary>
    public const long MinKbps = 64;

    /// <summary>The largest cap the policer takes (100 Gbps).</summary>
    public const long MaxKbps = 100_000_000;

    /// <summary>Neither direction capped.</summary>
    public static BandwidthCaps Unlimited => default;

    public bool IsUnlimited => OutboundKbps == 0 && InboundKbps == 0;

    /// <summary>Caps in whole Mbps (the control plane's unit).</summary>
    public static BandwidthCaps FromMbps(int outboundMbps, int inboundMbps) => new(outboundMbps * 1000L, inboundMbps * 1000L);

    /// <summary>
    /// The inbound cap Tencent Cloud gives an instance billed by traffic or by bandwidth: 10 Mbps when the purchased
    /// outbound cap is 10 Mbps or less, otherwise equal to it. (A bandwidth package's inbound cap equals its outbound
    /// one; the control plane applies that case itself.)
    /// </summary>
    public static long InboundKbpsByRule(long outboundKbps) => outboundKbps <= 10_000 ? 10_000 : outboundKbps;

    /// <summary>Throws unless every non-zero cap lies in [<see cref="MinKbps"/>, <see cref="MaxKbps"/>].</summary>
    public void Validate()
    {
        Check(OutboundKbps, "outbound");
        Check(InboundKbps, "inbound");

        static void Check(long kbps, string direction)
        {
            if (kbps != 0 && kbps is < MinKbps or > MaxKbps)
            {
                throw new ArgumentOutOfRangeException(nameof(kbps), kbps, string.Create(CultureInfo.InvariantCulture,
                    $"the {direction} cap must be 0 (none) or {MinKbps} kbps to {MaxKbps / 1000} Mbps, not {kbps} kbps."));
            }
        }
    }

    /// <summary>A cap as people read it: "5 Mbps", "0.1 Mbps", "none".</summary>
    public static string Format(long kbps) => kbps == 0
        ? "none"
        : (kbps / 1000m).ToString("0.###", CultureInfo.InvariantCulture) + " Mbps";

    public override string ToString() => $"out {Format(OutboundKbps)}, in {Format(InboundKbps)}";
}
