using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>What the tests do on the console, by accessible names only (the labels, buttons, captions and headings
/// the issue names), as a screen reader or a person would find them.</summary>
internal static partial class ConsolePages
{
    [GeneratedRegex("^ins-[0-9a-z]{8}$")]
    public static partial Regex InstanceId();

    [GeneratedRegex("^eip-[0-9a-z]{8}$")]
    public static partial Regex AddressId();

    [GeneratedRegex(@"^198\.51\.100\.\d{1,3}$")]
    public static partial Regex PoolAddress();

    public static async Task SignInAsync(IPage page, ConsoleDaemon daemon, string? secretKey = null)
    {
        await page.GotoAsync(daemon.Console("/signin").ToString());
        await page.GetByLabel("SecretId", new() { Exact = true }).FillAsync(ConsoleDaemon.Keys.SecretId);
        await page.GetByLabel("SecretKey", new() { Exact = true }).FillAsync(secretKey ?? ConsoleDaemon.Keys.SecretKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
    }

    public static ILocator Table(IPage page, string caption) =>
        page.GetByRole(AriaRole.Table, new() { NameRegex = new Regex("^" + Regex.Escape(caption) + @"\b") });

    /// <summary>The row of a resource table whose first cell (a row header) is the resource ID.</summary>
    public static ILocator Row(IPage page, string caption, string id) =>
        Table(page, caption).GetByRole(AriaRole.Row).Filter(new() { Has = page.GetByRole(AriaRole.Rowheader, new() { Name = id, Exact = true }) });

    /// <summary>The text of the cell under the column header <paramref name="column"/> in <paramref name="row"/>.</summary>
    public static async Task<string> CellAsync(ILocator row, IPage page, string caption, string column)
    {
        var headers = await Table(page, caption).Locator("thead th").AllInnerTextsAsync();
        int index = headers.Select(h => h.Trim()).ToList().IndexOf(column);
        Assert.True(index >= 0, $"no column {column} in {string.Join(", ", headers)}");
        return (await row.Locator("th, td").Nth(index).InnerTextAsync()).Trim();
    }

    public static async Task ExpectHeadingAsync(IPage page, string heading) =>
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync(heading);

    public static async Task GoAsync(IPage page, string navigationLink, string heading)
    {
        await page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = navigationLink, Exact = true }).ClickAsync();
        await ExpectHeadingAsync(page, heading);
    }
}
