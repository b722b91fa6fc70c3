namespace Gateway.WebConsole.Pages;

/// <summary>The account's EIP quota and the public pool the gateway hands addresses out of.</summary>
internal sealed class QuotaModel : ConsolePageModel
{
    public override string Title => "Quota";

    public (int Used, int Quota) Eips { get; private set; }

    public (int Free, int Total) Pool { get; private set; }

    public int InstancesWithPublicIp { get; private set; }

    public int Instances { get; private set; }

    public void OnGet()
    {
        Eips = Plane.AddressQuota();
        Pool = Plane.PoolUsage();
        var instances = Plane.ListInstances();
        Instances = instances.Count;
        InstancesWithPublicIp = instances.Count(i => i.PublicIp is not null);
    }
}
