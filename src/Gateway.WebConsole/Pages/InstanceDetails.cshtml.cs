using Gateway.Control.Rules;
using Gateway.WebConsole.Actions;
using Gateway.WebConsole.Charts;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.WebConsole.Pages;

/// <summary>
/// One instance: the seed's network panel (private IP, public IP or EIP, bandwidth), the traffic chart of the last
/// hour where traffic is metered, and the actions on its address (EIP associate/disassociate, bandwidth, terminate).
/// </summary>
internal sealed class InstanceDetailsModel : ConsolePageModel
{
    private string _id = "";

    public override string Title => View is null ? "Instance not found" : $"Instance {View.Instance.Id}";

    public InstanceView? View { get; private set; }

    public AddressView? Eip { get; private set; }

    /// <summary>EIPs that can be associated now (UNBIND).</summary>
    public IReadOnlyList<AddressView> FreeEips { get; private set; } = [];

    /// <summary>Null where traffic is not metered.</summary>
    public TrafficChart? Chart { get; private set; }

    public string Id => _id;

    public string PathOf => InstancesModel.Path + "/" + _id;

    public void OnGet(string id)
    {
        _id = id;
        View = Plane.ListInstances().FirstOrDefault(i => i.Instance.Id == id);
        if (View is null)
        {
            Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var addresses = Plane.ListAddresses();
        Eip = addresses.FirstOrDefault(a => a.Address.Id == View.AddressId);
        FreeEips = [.. addresses.Where(a => a.Address.InstanceId is null)];
        if (Host.TrafficHistory is { } history)
        {
            var now = Host.Clock.GetUtcNow();
            Chart = TrafficChart.Of(history.Read(id, now - TrafficChart.Span), now);
        }
    }

    public IActionResult OnPostAssociate(string id, string? addressId) =>
        Act(() => ConsoleActions.Associate(Plane, addressId, id), InstancesModel.Path + "/" + id);

    public IActionResult OnPostDisassociate(string id, string? addressId, bool newPublicIp) =>
        Act(() => ConsoleActions.Disassociate(Plane, addressId, newPublicIp), InstancesModel.Path + "/" + id);

    public IActionResult OnPostStop(string id, bool stopCharging) =>
        Act(() => ConsoleActions.Stop(Plane, id, stopCharging), InstancesModel.Path + "/" + id);

    public IActionResult OnPostStart(string id) =>
        Act(() => ConsoleActions.Start(Plane, id), InstancesModel.Path + "/" + id);
}
