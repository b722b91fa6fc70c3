using Gateway.TestSupport;
using Microsoft.Playwright;

namespace Gateway.WebConsole.Tests.Browser;

/// <summary>
/// Playwright driving Debian's Chromium (<c>/usr/bin/chromium</c>, installed by scripts/setup.sh), headless, one
/// browser for the whole collection and a fresh context (its own cookies) per test. Playwright gives each launch a
/// new temporary profile directory and removes it at close.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>The flags that work on this machine: no sandbox (tests run as root), nothing fetched from the network.</summary>
    private static readonly string[] s_args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where the test run keeps its screenshots (ignored by git: /artifacts/).</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(RepositoryLayout.Root, "artifacts", "screenshots", "console");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium package (scripts/setup.sh does).");
        }
        Directory.CreateDirectory(ScreenshotDirectory);
        // Web-first assertions wait for the page; under a loaded CI machine 5 s (the default) can be short.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = s_args,
            Timeout = 60_000,
        });
    }

    public async Task<IPage> NewPageAsync(int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-US",
            TimezoneId = "UTC",
        });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }
        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ChromiumGroup : ICollectionFixture<Chromium>
{
    public const string Name = "Chromium";
}
