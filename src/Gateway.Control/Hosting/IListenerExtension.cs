using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Control.Hosting;

/// <summary>
/// Something served on the API's listener beside the Tencent Cloud API (the web console at <c>/console</c>). It
/// registers its services and its middleware; the API keeps every request the extension does not take.
/// </summary>
/// <remarks>
/// The host builds the listener once, after the control plane and the data paths are up, so an extension sees the
/// same <see cref="GatewayHost"/> (and through it the one control plane) that the API serves.
/// </remarks>
public interface IListenerExtension
{
    /// <summary>Registers the extension's services in the listener's container.</summary>
    void ConfigureServices(IServiceCollection services, GatewayHost host);

    /// <summary>Adds the extension's middleware, ahead of the API's catch-all handler. It must only take requests under its own path.</summary>
    void Configure(WebApplication app);
}
