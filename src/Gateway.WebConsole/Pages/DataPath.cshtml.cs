using Gateway.WebConsole.DataPath;

namespace Gateway.WebConsole.Pages;

/// <summary>The data path's counters: frames received per port, forwarded, and dropped by reason, followed live
/// (server-sent events from <c>/console/datapath/stream</c>, one a second).</summary>
internal sealed class DataPathModel : ConsolePageModel
{
    public override string Title => "Data path";

    public CountersView Counters { get; private set; } = null!;

    public void OnGet() => Counters = CountersView.Of(Host, Host.Clock);
}
