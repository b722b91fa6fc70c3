using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Gateway.WebConsole.Tests.Browser.ConsolePages;
using static Microsoft.Playwright.Assertions;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>
/// The seed's public-IP lifecycle walked by clicking, in Chromium, against the real daemon: create with bandwidth 10,
/// EIP allocate and associate (the ordinary public IP disappears), disassociate with a new IP, release, terminate,
/// sign out. After each step the daemon's own API (signed, independent of the console) says the same.
/// A screenshot of each page goes to artifacts/screenshots/console/.
/// </summary>
[Collection(ChromiumGroup.Name)]
public sealed class ConsoleLifecycleTests(Chromium chromium) : IAsyncLifetime
{
    private ConsoleDaemon _daemon = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync() => _daemon = await ConsoleDaemon.StartAsync();

    public async Task DisposeAsync()
    {
        await _daemon.DisposeAsync();
        _http.Dispose();
    }

    [Fact]
    public async Task ThePublicIpLifecycleCanBeWalkedByClicking()
    {
        var api = _daemon.Api(_http);
        var page = await chromium.NewPageAsync();

        // No session: the console sends the browser to sign in, and back where it wanted to go afterwards.
        await page.GotoAsync(_daemon.Console("/eips").ToString());
        await Expect(page).ToHaveURLAsync(new Regex(@"/console/signin\?returnUrl=%2Fconsole%2Feips$"));
        await ExpectHeadingAsync(page, "Sign in");
        await Chromium.ScreenshotAsync(page, "signin");
        await page.GetByLabel("SecretId", new() { Exact = true }).FillAsync(ConsoleDaemon.Keys.SecretId);
        await page.GetByLabel("SecretKey", new() { Exact = true }).FillAsync(ConsoleDaemon.Keys.SecretKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await ExpectHeadingAsync(page, "Elastic IPs");
        await GoAsync(page, "Instances", "Instances");

        // Create with bandwidth 10: the row shows the public IP the gateway assigned, the API agrees.
        var create = page.GetByRole(AriaRole.Form, new() { Name = "New instance" });
        await create.GetByLabel("Bandwidth (Mbps)").FillAsync("10");
        await create.GetByLabel("Name").FillAsync("web");
        await create.GetByRole(AriaRole.Button, new() { Name = "Create instance", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Created ins-");
        var rows = Table(page, "Instances").Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(1);
        string instanceId = (await rows.First.Locator("th").InnerTextAsync()).Trim();
        Assert.Matches(InstanceId(), instanceId);
        var row = Row(page, "Instances", instanceId);
        string firstPublicIp = await CellAsync(row, page, "Instances", "Public IP");
        Assert.Matches(PoolAddress(), firstPublicIp);
        Assert.Equal("10 Mbps", await CellAsync(row, page, "Instances", "Bandwidth cap"));
        Assert.Equal(firstPublicIp, await PublicIpFromApiAsync(api, instanceId));
        await Chromium.ScreenshotAsync(page, "instances");

        // Change bandwidth: the cap follows, the public IP stays.
        await row.GetByLabel($"New cap for {instanceId}, Mbps").FillAsync("20");
        await row.GetByRole(AriaRole.Button, new() { Name = "Change bandwidth", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"{instanceId} now has 20 Mbps");
        row = Row(page, "Instances", instanceId);
        Assert.Equal("20 Mbps", await CellAsync(row, page, "Instances", "Bandwidth cap"));
        Assert.Equal(firstPublicIp, await CellAsync(row, page, "Instances", "Public IP"));

        // The filter finds it by address and by name, and nothing by another address.
        await page.GetByLabel("Filter").FillAsync(firstPublicIp);
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply", Exact = true }).ClickAsync();
        await Expect(Row(page, "Instances", instanceId)).ToHaveCountAsync(1);
        await page.GetByLabel("Filter").FillAsync("203.0.113.9");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply", Exact = true }).ClickAsync();
        await Expect(Table(page, "Instances").Locator("tbody tr")).ToHaveCountAsync(0);
        await page.GetByLabel("Filter").FillAsync("WEB");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply", Exact = true }).ClickAsync();
        await Expect(Row(page, "Instances", instanceId)).ToHaveCountAsync(1);
        row = Row(page, "Instances", instanceId);

        // Its details page: the seed's network panel.
        await row.GetByRole(AriaRole.Link, new() { Name = instanceId, Exact = true }).ClickAsync();
        await ExpectHeadingAsync(page, $"Instance {instanceId}");
        var network = page.GetByRole(AriaRole.Region, new() { Name = "Network" });
        await Expect(network).ToContainTextAsync(firstPublicIp);
        await Expect(network).ToContainTextAsync("10.4.0.2");
        await Expect(network).ToContainTextAsync("20 Mbps");
        await Chromium.ScreenshotAsync(page, "instance-details");

        // Allocate an EIP and associate it, picking the instance from the list.
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        await page.GetByRole(AriaRole.Button, new() { Name = "Allocate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Allocated eip-");
        var eipRows = Table(page, "Elastic IPs").Locator("tbody tr");
        await Expect(eipRows).ToHaveCountAsync(1);
        string eipId = (await eipRows.First.Locator("th").InnerTextAsync()).Trim();
        Assert.Matches(AddressId(), eipId);
        var eipRow = Row(page, "Elastic IPs", eipId);
        string eipAddress = await CellAsync(eipRow, page, "Elastic IPs", "Address");
        Assert.Matches(PoolAddress(), eipAddress);
        Assert.NotEqual(firstPublicIp, eipAddress);
        Assert.Equal("UNBIND", await CellAsync(eipRow, page, "Elastic IPs", "Status"));
        await eipRow.GetByLabel($"Instance for {eipId}").SelectOptionAsync(instanceId);
        await eipRow.GetByRole(AriaRole.Button, new() { Name = "Associate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Associated {eipId} with {instanceId}");
        eipRow = Row(page, "Elastic IPs", eipId);
        Assert.Equal("BIND", await CellAsync(eipRow, page, "Elastic IPs", "Status"));
        await Chromium.ScreenshotAsync(page, "eips");

        // The row shows the EIP, and the instance's old address is gone from the page (it went back to the pool).
        await GoAsync(page, "Instances", "Instances");
        row = Row(page, "Instances", instanceId);
        Assert.Equal(eipId, await CellAsync(row, page, "Instances", "EIP"));
        Assert.StartsWith(eipAddress, await CellAsync(row, page, "Instances", "Public IP"));
        Assert.DoesNotContain(firstPublicIp, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Equal(eipAddress, await PublicIpFromApiAsync(api, instanceId));

        // Disassociate with a new public IP: a different address appears (not the EIP, not the released one).
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        eipRow = Row(page, "Elastic IPs", eipId);
        await Expect(eipRow.GetByLabel($"New public IP for {instanceId}")).ToBeCheckedAsync();
        await eipRow.GetByRole(AriaRole.Button, new() { Name = "Disassociate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Disassociated {eipId}");
        await GoAsync(page, "Instances", "Instances");
        row = Row(page, "Instances", instanceId);
        string newPublicIp = await CellAsync(row, page, "Instances", "Public IP");
        Assert.Matches(PoolAddress(), newPublicIp);
        Assert.NotEqual(eipAddress, newPublicIp);
        Assert.NotEqual(firstPublicIp, newPublicIp);
        Assert.Equal(Gateway.WebConsole.Pages.Display.None, await CellAsync(row, page, "Instances", "EIP"));
        Assert.Equal(newPublicIp, await PublicIpFromApiAsync(api, instanceId));

        // Release the EIP.
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        await Row(page, "Elastic IPs", eipId).GetByRole(AriaRole.Button, new() { Name = "Release", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Released {eipId}");
        await Expect(Row(page, "Elastic IPs", eipId)).ToHaveCountAsync(0);
        Assert.Equal(0, (await api.CallAsync("vpc", "DescribeAddresses")).GetProperty("TotalCount").GetInt32());

        // Quota and data path pages.
        await GoAsync(page, "Quota", "Quota");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Elastic IPs" })).ToContainTextAsync("0 of 20 used");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Public IP pool" })).ToContainTextAsync("13 of 14 addresses free");
        await Chromium.ScreenshotAsync(page, "quota");
        await GoAsync(page, "Data path", "Data path");
        await Expect(page.GetByRole(AriaRole.Main)).ToContainTextAsync("without a data path");
        await Chromium.ScreenshotAsync(page, "datapath-none");

        // Terminate.
        await GoAsync(page, "Instances", "Instances");
        await Row(page, "Instances", instanceId).GetByRole(AriaRole.Button, new() { Name = "Terminate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Terminated {instanceId}");
        await Expect(Row(page, "Instances", instanceId)).ToHaveCountAsync(0);
        Assert.Equal(0, (await api.CallAsync("cvm", "DescribeInstances")).GetProperty("TotalCount").GetInt32());

        // Sign out ends the session on the server: the cookie it had opens nothing any more.
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "gw-console");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out", Exact = true }).ClickAsync();
        await ExpectHeadingAsync(page, "Sign in");
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("You are signed out.");
        await page.GotoAsync(_daemon.Console("/instances").ToString());
        await ExpectHeadingAsync(page, "Sign in");
        var replay = await chromium.NewPageAsync();
        await replay.Context.AddCookiesAsync([new Cookie { Name = cookie.Name, Value = cookie.Value, Domain = cookie.Domain, Path = cookie.Path }]);
        await replay.GotoAsync(_daemon.Console("/instances").ToString());
        await ExpectHeadingAsync(replay, "Sign in");
        await replay.Context.CloseAsync();
        await page.Context.CloseAsync();
    }

    private static async Task<string?> PublicIpFromApiAsync(Gateway.Control.Api.ApiClient api, string instanceId)
    {
        var set = (await api.CallAsync("cvm", "DescribeInstances", new() { ["InstanceIds"] = new System.Text.Json.Nodes.JsonArray(instanceId) })).GetProperty("InstanceSet");
        var addresses = set[0].GetProperty("PublicIpAddresses");
        return addresses.ValueKind == JsonValueKind.Array ? addresses[0].GetString() : null;
    }
}
