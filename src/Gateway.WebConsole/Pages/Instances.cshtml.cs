using Gateway.Control.Rules;
using Gateway.WebConsole.Actions;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.WebConsole.Pages;

/// <summary>The CVM list: every instance with the public address the gateway translates to it, a filter, and the
/// instance actions (create, terminate with the EIP choice, change bandwidth).</summary>
internal sealed class InstancesModel : ConsolePageModel
{
    public const string Path = ConsoleExtension.BasePath + "/instances";

    public override string Title => "Instances";

    /// <summary>The filter: part of an ID, a name, or an address (private, public or EIP).</summary>
    public string Filter { get; private set; } = "";

    public IReadOnlyList<InstanceView> All { get; private set; } = [];

    public IReadOnlyList<InstanceView> Shown { get; private set; } = [];

    public void OnGet(string? q)
    {
        Filter = q?.Trim() ?? "";
        All = Plane.ListInstances();
        Shown = Filter.Length == 0 ? All : [.. All.Where(Matches)];
    }

    public IActionResult OnPostCreate(string? bandwidth, string? count, string? name, string? privateIps, bool assignPublicIp) =>
        Act(() => ConsoleActions.CreateInstances(Plane, bandwidth, count, name, privateIps, assignPublicIp), Back());

    public IActionResult OnPostTerminate(string? instanceId, bool releaseEip, string? returnUrl) =>
        Act(() => ConsoleActions.Terminate(Plane, instanceId, releaseEip), Back(returnUrl));

    public IActionResult OnPostBandwidth(string? instanceId, string? bandwidth, string? returnUrl) =>
        Act(() => ConsoleActions.ChangeBandwidth(Plane, instanceId, bandwidth), Back(returnUrl));

    /// <summary>Back to the list with its filter, or to the details page the form was on.</summary>
    private string Back(string? returnUrl = null)
    {
        if (returnUrl is not null && returnUrl.StartsWith(Path + "/", StringComparison.Ordinal) && returnUrl.Length < 64 && !returnUrl.Contains("//", StringComparison.Ordinal))
        {
            return returnUrl;
        }
        string q = Request.Query["q"].ToString();
        return q.Length == 0 ? Path : Path + "?q=" + Uri.EscapeDataString(q);
    }

    private bool Matches(InstanceView view)
    {
        var i = view.Instance;
        return Contains(i.Id) || Contains(i.Name) || Contains(Display.Ip(i.PrivateIp)) || Contains(Display.Ip(view.PublicIp)) || Contains(view.AddressId);

        bool Contains(string? field) => field is not null && field.Contains(Filter, StringComparison.OrdinalIgnoreCase);
    }
}
