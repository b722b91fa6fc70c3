using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Gateway.Cli.Hosting;
using Gateway.Cli.Infrastructure;
using Gateway.Cli.Lab;

namespace Gateway.Cli.Commands;

/// <summary><c>gateway lab up|down</c>: a namespace lab around the gateway daemon, from a topology file.</summary>
internal static class LabCommand
{
    public static Command Create()
    {
        var lab = new Command("lab", "bring a namespace lab up or down").WithEpilog("""
            Needs root (namespaces, TAP devices). The format of the topology file: lab/README.md.
            A failed 'up' removes everything it made; 'up' over a lab left behind by a killed run removes that first.
            """);
        var name = lab.Define(CliSymbols.Text("--name", "lab", "use this lab name instead of the file's \"name\" (1 to 12 of a-z, 0-9)"));
        name.Recursive = true;
        lab.SetRun(_ => throw new UsageException("give 'up' or 'down'. Run 'gateway lab --help' for the usage."));

        var up = new Command("up", """
            build the lab: an internet segment with client hosts, one namespace per instance (private address only, default route via
            the VPC gateway address), the gateway daemon between them (TAP devices moved into the lab), instances created through the
            control API; prints instances and what to try
            """.ReplaceLineEndings(" "));
        var upFile = up.Define(CliSymbols.Positional("topology", "the topology file (JSON)", "topology file",
            "lab up needs a topology file, e.g. gateway lab up lab/sample-topology.json.", kind: ValueKind.File));
        up.SetRun(p => Up(p.GetValue(upFile)!, p.GetValue(name)));
        lab.Add(up);

        var down = new Command("down", """
            stop the lab's processes (exec commands, the daemon), delete its namespaces and TAP devices and its run directory
            /run/gateway-lab/<lab>; give the topology file or --name <lab>
            """.ReplaceLineEndings(" "));
        var downFile = down.Define(CliSymbols.Positional("topology", "the topology file the lab was made from", "topology file", optional: true, kind: ValueKind.File));
        down.SetRun(p => Down(p.GetValue(downFile), p.GetValue(name)));
        lab.Add(down);

        var status = new Command("status", """
            show a lab's gateway nodes: process, API and role (active or standby, as each node's data path reports it),
            and its etcd; give the topology file or --name <lab>
            """.ReplaceLineEndings(" "));
        var statusFile = status.Define(CliSymbols.Positional("topology", "the topology file the lab was made from", "topology file", optional: true, kind: ValueKind.File));
        status.SetRun(p => Status(p.GetValue(statusFile), p.GetValue(name)));
        lab.Add(status);
        return lab;
    }

    private static int Status(string? file, string? name)
    {
        if (file is null && name is null)
        {
            throw new UsageException("lab status needs the topology file or --name <lab>.");
        }
        string lab = name ?? Topology.Load(file!, null).Name;
        var state = LabState.Load(lab) ?? throw new FailureException($"lab {lab} is not up (no {Path.Combine(LabState.Directory(lab), LabState.FileName)}).");
        var nodes = state.GatewayNodes.Count > 0
            ? state.GatewayNodes.Select((n, i) => (n.Name, Role: $"gateway {i}", n.StateDirectory, n.Api))
            : [(Name: lab, Role: "gateway", StateDirectory: state.DaemonStateDirectory, Api: state.Api)];
        var rows = new List<string[]>();
        foreach (var node in nodes)
        {
            var process = state.Processes.FirstOrDefault(p => p.Role == node.Role);
            bool running = process is not null && Sh.IsRunning(process.Pid, process.StartTime);
            string role = "-";
            try
            {
                string stats = Path.Combine(node.StateDirectory, Hosting.LabDataPathAttachment.StatsFileName);
                if (running && File.Exists(stats) && System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(stats))?["role"]?.GetValue<string>() is { } r)
                {
                    role = r;
                }
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
            }
            rows.Add([node.Name, running ? process!.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-", running ? "running" : "stopped", role, node.Api is null ? "-" : $"http://{node.Api}/"]);
        }
        Console.Write(CtlCommand.Table(["NODE", "PID", "PROCESS", "ROLE", "API"], rows));
        var active = rows.Where(r => r[3] == "active").Select(r => r[0]).ToList();
        Console.WriteLine(state.GatewayNodes.Count == 0
            ? $"lab {lab}: one gateway node (SQLite state)"
            : $"lab {lab}: active node {(active.Count == 0 ? "none (an election is under way)" : string.Join(", ", active))}{Fenced(rows)}; etcd {state.EtcdEndpoints} prefix {state.EtcdPrefix}");
        static string Fenced(List<string[]> rows) => rows.Where(r => r[3] == "fenced").Select(r => r[0]).ToList() is { Count: > 0 } fenced
            ? $" (fenced: {string.Join(", ", fenced)} — holds the role but may not forward until the standbys or etcd confirm it)"
            : "";
        return ExitCodes.Ok;
    }

    private static void RequireRoot()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new FailureException("a lab needs root (network namespaces, TAP devices): run it with sudo.");
        }
    }

    private static int Up(string file, string? name)
    {
        if (name is not null && !Topology.IsValidLabName(name))
        {
            throw new UsageException($"--name '{name}' must be 1 to 12 of a-z and 0-9.");
        }
        var topology = Topology.Load(file, name);
        RequireRoot();
        using var cancel = new CancellationTokenSource();
        // Ctrl-C while building: stop at the next step and remove what was made, instead of leaving half a lab.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        LabState state;
        try
        {
            state = LabRunner.Up(topology, file, Console.Out, cancel.Token);
        }
        catch (Exception e) when (e is LabException or IOException or OperationCanceledException)
        {
            throw new FailureException($"lab {topology.Name} did not come up: {(e is OperationCanceledException ? "interrupted" : e.Message)}; everything it made has been removed.", e);
        }
        PrintSummary(topology, state, file);
        return ExitCodes.Ok;

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            cancel.Cancel();
        }
    }

    private static int Down(string? file, string? name)
    {
        if (file is null && name is null)
        {
            throw new UsageException("lab down needs the topology file or --name <lab>.");
        }
        if (name is not null && !Topology.IsValidLabName(name))
        {
            throw new UsageException($"--name '{name}' must be 1 to 12 of a-z and 0-9.");
        }
        string lab = name ?? Topology.Load(file!, null).Name;
        RequireRoot();
        var removed = LabRunner.Down(lab, Console.Error);
        if (removed.Count == 0)
        {
            Console.WriteLine($"lab {lab}: nothing to remove");
        }
        else
        {
            Console.WriteLine($"lab {lab}: removed {string.Join(", ", removed)}");
        }
        return ExitCodes.Ok;
    }

    private static void PrintSummary(Topology topology, LabState state, string file)
    {
        string gateway = string.Join(' ', LabRunner.SelfCommand.Select(Quote));
        var rows = state.Hosts.Select(h => new[] { h.Node, "internet-host", h.Namespace, h.Address, "-", "-" })
            .Concat(state.Instances.Select(i => new[] { i.Node, "instance", i.Namespace, i.PrivateIp, i.PublicIp ?? "-", i.InstanceId + (i.EipId is null ? "" : $" ({i.EipId})") }))
            .ToList();
        string[] header = ["NODE", "KIND", "NAMESPACE", "ADDRESS", "PUBLIC IP", "INSTANCE"];
        int[] widths = [.. header.Select((h, c) => rows.Select(r => r[c].Length).Append(h.Length).Max())];
        Console.WriteLine();
        Console.WriteLine($"lab {topology.Name} is up: gateway API http://{state.Api}/, VPC gateway {Gateway.Packets.Ipv4Address.Format(topology.VpcGatewayAddress)}, public pool {string.Join(" ", topology.PublicPool)}");
        foreach (var row in rows.Prepend(header))
        {
            Console.WriteLine(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd());
        }
        // The web console rides on the API's listener: the same loopback address, so it opens on this machine. The lab's
        // daemon is this same executable, so it has the console exactly when this build does.
        var keys = Gateway.Control.Auth.Credentials.TryRead(state.DaemonStateDirectory);
        Console.WriteLine();
        Console.WriteLine(WebConsoleSupport.IsIncluded ? $"Web console: http://{state.Api}/console" : "Web console: " + WebConsoleSupport.NotInThisBuild("lab up"));
        if (keys is not null)
        {
            string lead = WebConsoleSupport.IsIncluded ? "sign in with" : "the API's key pair:";
            Console.WriteLine($"  {lead} SecretId {keys.SecretId}");
            Console.WriteLine($"  {new string(' ', lead.Length - 3)}and SecretKey {keys.SecretKey}");
        }
        Console.WriteLine($"  (the lab's key pair, also in {Path.Combine(state.DaemonStateDirectory, Gateway.Control.Auth.Credentials.FileName)}, readable by root only)");
        var client = state.Hosts[0];
        Console.WriteLine();
        Console.WriteLine("Try:");
        foreach (var instance in state.Instances.Where(i => i.PublicIp is not null))
        {
            var node = topology.Instances.First(n => n.Name == instance.Node);
            if (node.Exec.Any(e => e.Contains("http.server", StringComparison.Ordinal)))
            {
                string port = PortOf(node.Exec.First(e => e.Contains("http.server", StringComparison.Ordinal)));
                Console.WriteLine($"  ip netns exec {client.Namespace} curl -s http://{instance.PublicIp}{port}/        # {instance.Node}'s web server, by its public IP");
            }
            else
            {
                Console.WriteLine($"  ip netns exec {client.Namespace} ping -c 3 {instance.PublicIp}          # {instance.Node}");
            }
        }
        var first = state.Instances[0];
        Console.WriteLine($"  ip netns exec {first.Namespace} ip -4 addr                   # the instance sees only its private address");
        Console.WriteLine($"  ip netns exec {first.Namespace} ping -c 3 {client.Address}           # out to the internet, seen there as the public IP");
        Console.WriteLine($"  {gateway} ctl --api {state.Api} --state {state.DaemonStateDirectory} instances");
        Console.WriteLine($"  cat {Path.Combine(state.DaemonStateDirectory, "datapath-stats.json")}   # data-path counters, drops by reason{(WebConsoleSupport.IsIncluded ? " (live: the console's Data path page)" : "")}");
        Console.WriteLine($"  {gateway} lab down {Quote(file)}{(topology.Name != Topology.Load(file, null).Name ? $" --name {topology.Name}" : "")}");
    }

    private static string PortOf(string command)
    {
        string last = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last();
        return int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port != 80 ? ":" + last : port == 80 ? "" : ":8000";
    }

    private static string Quote(string text) => text.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$') ? $"'{text.Replace("'", "'\\''", StringComparison.Ordinal)}'" : text;
}
