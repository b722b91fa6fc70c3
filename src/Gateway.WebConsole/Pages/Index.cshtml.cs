using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Gateway.WebConsole.Pages;

/// <summary><c>/console</c> opens the Instances page.</summary>
internal sealed class IndexModel : PageModel
{
    public IActionResult OnGet() => Redirect("/console/instances");
}
