using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// In-process: BenchmarkDotNet 0.14 does not generate net10.0 projects, and the host build already is Release.
// `--quick` (or any BenchmarkDotNet argument such as --filter '*Frame*') is passed through.
var quick = args.Contains("--quick");
var job = (quick ? Job.Dry.WithIterationCount(3).WithWarmupCount(1) : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
var config = DefaultConfig.Instance.AddJob(job).AddDiagnoser(MemoryDiagnoser.Default).WithOptions(ConfigOptions.DisableOptimizationsValidator);
var rest = args.Where(arg => arg != "--quick").ToArray();
if (rest.Length == 0) rest = ["--filter", "*"];
BenchmarkSwitcher.FromAssembly(typeof(Repl.Micro.MessageJsonBenchmarks).Assembly).Run(rest, config);
