using System.Text.RegularExpressions;
using Gateway.TestSupport;
using Gateway.WebConsole.Tests.Browser;
using Microsoft.Playwright;
using static Gateway.WebConsole.Tests.Browser.ConsolePages;
using static Microsoft.Playwright.Assertions;

namespace Gateway.WebConsole.Tests.Lab;

/// <summary>
/// The issue's "done when": <c>gateway lab up lab/sample-topology.json</c>, open the printed console URL, sign in
/// with the printed credentials, and walk the seed's lifecycle by clicking while real traffic crosses the gateway.
/// The Data path page follows the counters live (no reload), and an EIP moved in the console moves the traffic:
/// curl from the lab's internet reaches the instance by the EIP and no longer by its old address.
/// </summary>
[Trait("Category", "RootNamespaces")]
[Collection(ChromiumGroup.Name)]
public sealed partial class LabConsoleTests(Chromium chromium) : IDisposable
{
    private readonly string _lab = LabProcess.NewLabName();

    public void Dispose() => LabProcess.Gateway("lab", "down", "--name", _lab);

    [Fact]
    public async Task ThePrintedConsoleFollowsTheDataPathLiveAndMovesTrafficWithTheEip()
    {
        string sample = Path.Combine(RepositoryLayout.Root, "lab", "sample-topology.json");
        var up = LabProcess.Gateway("lab", "up", sample, "--name", _lab);
        Assert.True(up.ExitCode == 0, up.ToString());
        string url = ConsoleUrl().Match(up.Output) is { Success: true } u ? u.Groups[1].Value : throw new Xunit.Sdk.XunitException("no console URL printed:\n" + up.Output);
        string secretId = PrintedSecretId().Match(up.Output).Groups[1].Value;
        string secretKey = PrintedSecretKey().Match(up.Output).Groups[1].Value;
        Assert.NotEmpty(secretId);
        Assert.NotEmpty(secretKey);
        string client = $"gwl-{_lab}-client1";

        var page = await chromium.NewPageAsync();
        await page.GotoAsync(url);
        await ExpectHeadingAsync(page, "Sign in");
        await page.GetByLabel("SecretId", new() { Exact = true }).FillAsync(secretId);
        await page.GetByLabel("SecretKey", new() { Exact = true }).FillAsync(secretKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await ExpectHeadingAsync(page, "Instances");
        await Expect(Table(page, "Instances").Locator("tbody tr")).ToHaveCountAsync(3);
        await Chromium.ScreenshotAsync(page, "instances-lab");

        // The Data path page, then traffic: the counters move on the open page without a reload.
        await GoAsync(page, "Data path", "Data path");
        await Expect(Table(page, "Counters by worker")).ToBeVisibleAsync();
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        long forwarded = await CounterAsync(page, "total:forwarded");
        long noBinding = await CounterAsync(page, "total:drop:no-binding");
        string webIp = await PublicIpOfAsync(page, url, "web");
        await GoBackToDataPathAsync(page);
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        forwarded = await CounterAsync(page, "total:forwarded");
        var curl = CurlUntilAnswered(client, webIp);
        Assert.True(curl.ExitCode == 0 && curl.Output.Trim() == "hello from web", curl.ToString());
        // db has no public IP: its packets out are dropped as no-binding on the VPC port.
        LabProcess.InNamespace($"gwl-{_lab}-db", "ping", "-c", "2", "-i", "0.2", "-W", "1", "203.0.113.1");
        await page.WaitForFunctionAsync("([key, before]) => Number(document.querySelector(`[data-k=\"${key}\"]`).textContent.replace(/,/g, '')) > before",
            new object[] { "total:forwarded", forwarded }, new() { Timeout = 4000 });
        await page.WaitForFunctionAsync("([key, before]) => Number(document.querySelector(`[data-k=\"${key}\"]`).textContent.replace(/,/g, '')) > before",
            new object[] { "total:drop:no-binding", noBinding }, new() { Timeout = 4000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded instead of updated live");
        await Chromium.ScreenshotAsync(page, "datapath");

        // Move worker's EIP to web, by clicking: disassociate (worker gets a new public IP), then associate with web.
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        var eipRows = Table(page, "Elastic IPs").Locator("tbody tr");
        await Expect(eipRows).ToHaveCountAsync(1);
        string eipId = (await eipRows.First.Locator("th").InnerTextAsync()).Trim();
        string eipAddress = await CellAsync(Row(page, "Elastic IPs", eipId), page, "Elastic IPs", "Address");
        await Row(page, "Elastic IPs", eipId).GetByRole(AriaRole.Button, new() { Name = "Disassociate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Disassociated {eipId}");
        string webId = await InstanceIdOfAsync(page, "web");
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        await Row(page, "Elastic IPs", eipId).GetByLabel($"Instance for {eipId}").SelectOptionAsync(webId);
        await Row(page, "Elastic IPs", eipId).GetByRole(AriaRole.Button, new() { Name = "Associate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync($"Associated {eipId} with {webId}");

        // The data plane followed the click: web answers on the EIP and no longer on its old address.
        curl = CurlUntilAnswered(client, eipAddress);
        Assert.True(curl.ExitCode == 0 && curl.Output.Trim() == "hello from web", curl.ToString());
        curl = LabProcess.InNamespace(client, "curl", "-s", "-m", "2", $"http://{webIp}/");
        Assert.NotEqual(0, curl.ExitCode);
        await page.Context.CloseAsync();
    }

    /// <summary>curl from the lab's internet, retried for up to 10 s (the first request may wait for ARP and the web
    /// server's start).</summary>
    private static LabProcess.Result CurlUntilAnswered(string ns, string address)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var curl = LabProcess.InNamespace(ns, "curl", "-s", "-m", "2", $"http://{address}/");
            if (curl.ExitCode == 0 || DateTime.UtcNow > deadline)
            {
                return curl;
            }
            Thread.Sleep(200);
        }
    }

    private static async Task<long> CounterAsync(IPage page, string key) =>
        long.Parse((await page.Locator($"[data-k=\"{key}\"]").InnerTextAsync()).Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<string> PublicIpOfAsync(IPage page, string url, string node)
    {
        await GoAsync(page, "Instances", "Instances");
        string id = await InstanceIdOfAsync(page, node);
        return await CellAsync(Row(page, "Instances", id), page, "Instances", "Public IP");
    }

    private static async Task<string> InstanceIdOfAsync(IPage page, string node)
    {
        if (!page.Url.EndsWith("/console/instances", StringComparison.Ordinal))
        {
            await GoAsync(page, "Instances", "Instances");
        }
        var row = Table(page, "Instances").Locator("tbody tr").Filter(new() { HasText = "-" + node });
        return (await row.Locator("th").InnerTextAsync()).Trim();
    }

    private static async Task GoBackToDataPathAsync(IPage page) => await GoAsync(page, "Data path", "Data path");

    [GeneratedRegex(@"Web console: (http://\S+/console)")]
    private static partial Regex ConsoleUrl();

    [GeneratedRegex(@"SecretId (\S+)")]
    private static partial Regex PrintedSecretId();

    [GeneratedRegex(@"SecretKey (\S+)")]
    private static partial Regex PrintedSecretKey();
}
