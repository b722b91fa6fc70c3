using Gateway.Control.Rules;

namespace Gateway.WebConsole.Pages;

/// <summary>An instance's action forms (change bandwidth, terminate), on the list and on its details page.</summary>
/// <param name="ReturnUrl">Where to come back after a bandwidth change (the details page); null: the list.</param>
internal sealed record InstanceActionsView(InstanceView View, string? ReturnUrl);
