using System.Net;
using Gateway.Packets;

namespace Gateway.WebConsole.Tests.Http;

/// <summary>The console's forms as the control plane sees them: each choice the issue names (count, private IPs,
/// public IP or not, terminate keeping or releasing the EIP, disassociate with or without a new public IP).</summary>
public sealed class ConsoleActionsTests : IAsyncLifetime
{
    private ConsoleHost _host = null!;
    private Browserless _client = null!;

    public async Task InitializeAsync()
    {
        _host = await ConsoleHost.StartAsync();
        _client = _host.Client();
        await _client.SignedInAsync();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task CreateTakesCountPrivateIpsAndThePublicIpChoice()
    {
        await PostAsync("console/instances", "Create", ("bandwidth", "5"), ("count", "2"), ("name", "batch"), ("privateIps", "10.5.0.50, 10.5.0.51"), ("assignPublicIp", "true"));
        var made = _host.Plane.ListInstances();
        Assert.Equal(["batch-1", "batch-2"], made.Select(i => i.Instance.Name));
        Assert.Equal(["10.5.0.50", "10.5.0.51"], made.Select(i => Ipv4Address.Format(i.Instance.PrivateIp)));
        Assert.All(made, i => Assert.NotNull(i.PublicIp));

        // Unchecked "Assign a public IP" (the box sends nothing): bandwidth but no public IP.
        await PostAsync("console/instances", "Create", ("bandwidth", "5"), ("count", "1"), ("name", "private"));
        var quiet = _host.Plane.ListInstances().Single(i => i.Instance.Name == "private");
        Assert.Null(quiet.PublicIp);
        Assert.Equal(5, quiet.Instance.BandwidthOut);

        // A private IP outside the subnet: the cloud's code, nothing created.
        string page = await PostAsync("console/instances", "Create", ("bandwidth", "5"), ("count", "1"), ("privateIps", "10.9.0.5"), ("assignPublicIp", "true"));
        Assert.Contains("VpcAddrNotInSubNet", page, StringComparison.Ordinal);
        Assert.Equal(3, _host.Plane.ListInstances().Count);
    }

    [Fact]
    public async Task TheDetailsPageAssociatesAndDisassociatesWithOrWithoutANewPublicIp()
    {
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        string id = _host.Plane.ListInstances().Single().Instance.Id;
        var (eips, _) = _host.Plane.AllocateAddresses(1, "", 1, "TRAFFIC_POSTPAID_BY_HOUR");
        string details = $"console/instances/{id}";
        Assert.Contains($"<option value=\"{eips[0]}\">", await _client.GetPageAsync(details), StringComparison.Ordinal);

        await PostAsync(details, "Associate", ("addressId", eips[0]));
        var bound = _host.Plane.ListInstances().Single();
        Assert.Equal(eips[0], bound.AddressId);
        Assert.Equal(_host.Plane.ListAddresses().Single().Address.Ip, bound.PublicIp);

        // Disassociate with the box unchecked: the instance keeps no public IP at all.
        string page = await PostAsync(details, "Disassociate", ("addressId", eips[0]));
        Assert.Contains("it has no public IP now", page, StringComparison.Ordinal);
        Assert.Null(_host.Plane.ListInstances().Single().PublicIp);

        // Checked: it gets a new one.
        await PostAsync(details, "Associate", ("addressId", eips[0]));
        await PostAsync(details, "Disassociate", ("addressId", eips[0]), ("newPublicIp", "true"));
        var after = _host.Plane.ListInstances().Single();
        Assert.NotNull(after.PublicIp);
        Assert.NotEqual(_host.Plane.ListAddresses().Single().Address.Ip, after.PublicIp);
    }

    [Fact]
    public async Task TerminateKeepsTheEipUnboundOrReleasesIt()
    {
        _host.Plane.RunInstances(new(2, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        var instances = _host.Plane.ListInstances();
        var (eips, _) = _host.Plane.AllocateAddresses(2, "", 1, "TRAFFIC_POSTPAID_BY_HOUR");
        _host.Plane.AssociateAddress(eips[0], instances[0].Instance.Id);
        _host.Plane.AssociateAddress(eips[1], instances[1].Instance.Id);

        await PostAsync("console/instances", "Terminate", ("instanceId", instances[0].Instance.Id));
        await PostAsync("console/instances", "Terminate", ("instanceId", instances[1].Instance.Id), ("releaseEip", "true"));
        Assert.Empty(_host.Plane.ListInstances());
        var left = Assert.Single(_host.Plane.ListAddresses());
        Assert.Equal(eips[0], left.Address.Id);
        Assert.Null(left.Address.InstanceId);
    }

    [Fact]
    public async Task StopAndStartFromTheDetailsPageFollowTheChargingChoice()
    {
        _host.Plane.RunInstances(new(1, 10, null, "TRAFFIC_POSTPAID_BY_HOUR", null, "web", "z", "t", ""));
        var before = _host.Plane.ListInstances().Single();
        string details = $"console/instances/{before.Instance.Id}";

        string page = await PostAsync(details, "Stop");
        Assert.Contains(">STOPPED</span>", page, StringComparison.Ordinal);
        Assert.Equal(before.PublicIp, _host.Plane.ListInstances().Single().PublicIp); // KEEP_CHARGING keeps it
        await PostAsync(details, "Start");
        Assert.Equal("RUNNING", _host.Plane.ListInstances().Single().State);

        page = await PostAsync(details, "Stop", ("stopCharging", "true"));
        Assert.Contains("STOP_CHARGING", page, StringComparison.Ordinal);
        Assert.Null(_host.Plane.ListInstances().Single().PublicIp);
        // A stopped instance cannot be stopped again: the cloud's code, nothing changed.
        using (await _client.PostAsync($"{details}?handler=Stop", [new("__RequestVerificationToken", await _client.TokenAsync(details))]))
        {
        }
        Assert.Contains("UnsupportedOperation.InstanceStateStopped", await _client.GetPageAsync(details), StringComparison.Ordinal);
        await PostAsync(details, "Start");
        var after = _host.Plane.ListInstances().Single();
        Assert.NotNull(after.PublicIp);
        Assert.NotEqual(before.PublicIp, after.PublicIp); // a new address, not the released one
    }

    /// <summary>Posts a form of <paramref name="path"/> with its own token, follows the 303 and returns the page.</summary>
    private async Task<string> PostAsync(string path, string handler, params (string Name, string Value)[] fields)
    {
        string token = await _client.TokenAsync(path);
        using var response = await _client.PostAsync($"{path}?handler={handler}",
            [.. fields.Select(f => KeyValuePair.Create(f.Name, f.Value)), new("__RequestVerificationToken", token)]);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        return await _client.GetPageAsync(response.Headers.Location!.OriginalString.TrimStart('/'));
    }
}
