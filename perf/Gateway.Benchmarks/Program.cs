using BenchmarkDotNet.Running;

namespace Gateway.Benchmarks;

internal static class Program
{
    /// <summary>
    /// Runs the benchmarks chosen with <c>--filter</c> (e.g. <c>--filter '*Bindings*'</c>) under <see cref="BenchConfig"/>.
    /// </summary>
    public static void Main(string[] args) =>
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchConfig());
}
