using Gateway.Control.Rules;
using Gateway.WebConsole.Actions;
using Microsoft.AspNetCore.Mvc;

namespace Gateway.WebConsole.Pages;

/// <summary>The account's EIPs: allocate, associate with an instance picked from a list, disassociate (with or
/// without a new public IP for the instance), release.</summary>
internal sealed class ElasticIpsModel : ConsolePageModel
{
    public const string Path = ConsoleExtension.BasePath + "/eips";

    public override string Title => "Elastic IPs";

    public IReadOnlyList<AddressView> Addresses { get; private set; } = [];

    /// <summary>Instances an EIP can be associated with (those without one).</summary>
    public IReadOnlyList<InstanceView> Candidates { get; private set; } = [];

    public (int Used, int Quota) Quota { get; private set; }

    public void OnGet()
    {
        Addresses = Plane.ListAddresses();
        Candidates = [.. Plane.ListInstances().Where(i => i.AddressId is null)];
        Quota = Plane.AddressQuota();
    }

    public IActionResult OnPostAllocate(string? count, string? name) => Act(() => ConsoleActions.Allocate(Plane, count, name), Path);

    public IActionResult OnPostAssociate(string? addressId, string? instanceId) => Act(() => ConsoleActions.Associate(Plane, addressId, instanceId), Path);

    public IActionResult OnPostDisassociate(string? addressId, bool newPublicIp) => Act(() => ConsoleActions.Disassociate(Plane, addressId, newPublicIp), Path);

    public IActionResult OnPostRelease(string? addressId) => Act(() => ConsoleActions.Release(Plane, addressId), Path);
}
