using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Gateway.WebConsole.Tests.Browser.ConsolePages;
using static Microsoft.Playwright.Assertions;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>What Chromium itself makes of the console's defences: markup in a name stays text (no script runs), bad
/// credentials get no session, the rate limit shows, the CSP leaves the page without violations, and the layout at
/// a phone's width.</summary>
[Collection(ChromiumGroup.Name)]
public sealed class ConsoleBrowserSecurityTests(Chromium chromium) : IAsyncLifetime
{
    private ConsoleDaemon _daemon = null!;

    public async Task InitializeAsync() => _daemon = await ConsoleDaemon.StartAsync();

    public async Task DisposeAsync() => await _daemon.DisposeAsync();

    [Fact]
    public async Task AnInstanceNamedWithMarkupRendersAsTextAndRunsNothing()
    {
        const string Name = "<script>alert(1)</script>";
        var page = await chromium.NewPageAsync();
        var dialogs = new List<string>();
        page.Dialog += (_, dialog) =>
        {
            dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };
        var console = new List<string>();
        page.Console += (_, message) => console.Add(message.Text);
        await SignInAsync(page, _daemon);
        await ExpectHeadingAsync(page, "Instances");
        var create = page.GetByRole(AriaRole.Form, new() { Name = "New instance" });
        await create.GetByLabel("Name").FillAsync(Name);
        await create.GetByRole(AriaRole.Button, new() { Name = "Create instance", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Created ins-");
        var row = Table(page, "Instances").Locator("tbody tr").First;
        Assert.Equal(Name, await CellAsync(row, page, "Instances", "Name"));
        string id = (await row.Locator("th").InnerTextAsync()).Trim();

        await page.GotoAsync(_daemon.Console($"/instances/{id}").ToString());
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Basic information" })).ToContainTextAsync(Name);
        await page.GotoAsync(_daemon.Console("/instances?q=" + Uri.EscapeDataString(Name)).ToString());
        await Expect(page.GetByLabel("Filter")).ToHaveValueAsync(Name);
        Assert.Equal(1, await Table(page, "Instances").Locator("tbody tr").CountAsync());

        // Nothing ran: no dialog, no script element made of the name, and no CSP violation reported.
        Assert.Empty(dialogs);
        Assert.Equal(0, await page.EvaluateAsync<int>("() => [...document.scripts].filter(s => s.textContent.includes('alert(1)')).length"));
        Assert.DoesNotContain(console, m => m.Contains("Content Security Policy", StringComparison.Ordinal));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task BadCredentialsAreRefusedWithoutASession()
    {
        var page = await chromium.NewPageAsync();
        await SignInAsync(page, _daemon, secretKey: "not-the-key");
        await ExpectHeadingAsync(page, "Sign in");
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("The SecretId or SecretKey is not right");
        // The key typed is not put back into the form.
        await Expect(page.GetByLabel("SecretKey", new() { Exact = true })).ToHaveValueAsync("");
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == "gw-console");
        await page.GotoAsync(_daemon.Console("/instances").ToString());
        await ExpectHeadingAsync(page, "Sign in");
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task ThePagesReadWellAtAPhonesWidth()
    {
        var page = await chromium.NewPageAsync(390, 844);
        await SignInAsync(page, _daemon);
        await ExpectHeadingAsync(page, "Instances");
        var create = page.GetByRole(AriaRole.Form, new() { Name = "New instance" });
        await create.GetByLabel("Name").FillAsync("phone");
        await create.GetByRole(AriaRole.Button, new() { Name = "Create instance", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Created ins-");
        await GoAsync(page, "Elastic IPs", "Elastic IPs");
        await page.GetByRole(AriaRole.Button, new() { Name = "Allocate", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("Allocated eip-");
        await Chromium.ScreenshotAsync(page, "eips-phone");
        await GoAsync(page, "Instances", "Instances");
        await Chromium.ScreenshotAsync(page, "instances-phone");
        // Nothing is wider than the screen: the tables became one card per row.
        foreach (string path in (string[])["/instances", "/eips", "/quota", "/datapath"])
        {
            await page.GotoAsync(_daemon.Console(path).ToString());
            int width = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
            Assert.True(width <= 390, $"{path} is {width} px wide at a 390 px viewport");
        }
        await page.Context.CloseAsync();
    }
}
