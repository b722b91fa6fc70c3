using System.Text.Json.Nodes;
using Gateway.Control.Rules;

namespace Gateway.Control.Api;

/// <summary>
/// The gateway's own action for operators (not a Tencent Cloud one): <c>DescribeGatewayCluster</c> — the nodes sharing
/// the etcd state, which is active for each segment pair, each node's applied revision and how far it lags behind
/// the state's head revision. <c>gateway ctl cluster</c> prints it.
/// </summary>
internal static class ClusterActions
{
    public static void Register(Dictionary<string, Func<ControlPlane, RequestArgs, JsonObject>> actions) =>
        actions["DescribeGatewayCluster"] = DescribeGatewayCluster;

    private static JsonObject DescribeGatewayCluster(ControlPlane plane, RequestArgs args)
    {
        var status = plane.ClusterStatus
            ?? throw new ApiException(ErrorCodes.UnsupportedOperation, "This gateway keeps its state in SQLite on one node, not in an etcd cluster (gateway run --etcd).");
        try
        {
            var result = status(CancellationToken.None).GetAwaiter().GetResult();
            result["AppliedRevision"] = plane.AppliedRevision;
            if (args.Bool("IncludeBindings") == true)
            {
                // This node's binding table as the data plane reads it, to check against etcd from outside.
                result["Bindings"] = new JsonArray([.. plane.TableBindings().Select(b => (JsonNode)$"{Gateway.Packets.Ipv4Address.Format(b.PublicIp)}>{Gateway.Packets.Ipv4Address.Format(b.PrivateIp)}")]);
            }
            return result;
        }
        catch (Store.Etcd.EtcdUnavailableException e)
        {
            throw new ApiException(ErrorCodes.ServiceUnavailable, e.Message);
        }
    }
}
