// Repl build script: dotnet fsi build.fsx <target>
//   build    restore and build everything (Debug)
//   test     install what the tests need (etcd, chromium, docker-compose, podman, npm packages), build, run every test
//   publish  dotnet publish Repl.Host (Release) into artifacts/repl
//   pack     the repl CLI as a .NET tool package into artifacts/ (dotnet tool install --global --add-source ./artifacts repl)
//   bench    run the fan-out benchmark (bench/README.md); bench --quick for a smoke run
//   bench-micro  BenchmarkDotNet micro-benchmarks of the hot path
open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions

let root = __SOURCE_DIRECTORY__

/// Runs a command, streaming its output; returns the exit code and (when asked) the output lines.
let run (dir: string) (file: string) (args: string) (capture: bool) =
    let info = ProcessStartInfo(file, args, WorkingDirectory = dir, UseShellExecute = false,
                                RedirectStandardOutput = capture, RedirectStandardError = capture)
    use proc = new Process(StartInfo = info)
    let lines = Collections.Concurrent.ConcurrentQueue<string>()
    if capture then
        proc.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then (printfn "%s" e.Data; lines.Enqueue e.Data))
        proc.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then (eprintfn "%s" e.Data; lines.Enqueue e.Data))
    printfn "==> %s %s (in %s)" file args (Path.GetRelativePath(root, dir))
    proc.Start() |> ignore
    if capture then
        proc.BeginOutputReadLine()
        proc.BeginErrorReadLine()
    proc.WaitForExit()
    proc.ExitCode, List.ofSeq lines

let exec dir file args =
    let code, _ = run dir file args false
    if code <> 0 then failwithf "%s %s failed with exit code %d" file args code

let sh script = exec root "bash" script

let build () = exec root "dotnet" "build Repl.sln -c Debug"

/// What the tests need beyond the .NET SDK, installed by the project's own scripts (idempotent).
let installTestDependencies () =
    sh "scripts/install-etcd.sh"
    sh "scripts/install-chromium.sh"
    sh "scripts/install-docker-compose.sh"
    // The containerised cluster's test (tests/Repl.Cluster.Tests/Deployment/ComposeClusterTests.cs): podman, debootstrap.
    sh "scripts/install-podman.sh"
    // npm ci: exactly the lockfile's versions, and the lockfile is never rewritten (npm install would, leaving the
    // checkout dirty). The lockfile lists every platform's optional native packages (rollup, esbuild), so it works anywhere.
    exec (Path.Combine(root, "clients/js")) "npm" "ci --no-audit --no-fund"

let test () =
    installTestDependencies ()
    build ()
    let mutable passed = 0
    let mutable failed = 0
    let failures = Collections.Generic.List<string>()
    // dotnet test prints "Passed!  - Failed: 0, Passed: 25, Skipped: 0, Total: 25"; vitest prints "Tests  98 passed (98)".
    let count (lines: string list) =
        for line in lines do
            let m = Regex.Match(line, @"Failed:\s+(\d+), Passed:\s+(\d+)")
            if m.Success then
                failed <- failed + int m.Groups[1].Value
                passed <- passed + int m.Groups[2].Value
            let v = Regex.Match(line, @"^\s*Tests\s+(?:(\d+) failed \| )?(\d+) passed")
            if v.Success then
                if v.Groups[1].Success then failed <- failed + int v.Groups[1].Value
                passed <- passed + int v.Groups[2].Value
    let step name dir file args =
        let code, lines = run dir file args true
        count lines
        if code <> 0 then failures.Add name
    // Every test project under tests/, fast ones first (the cluster tests start real etcd and node processes).
    let projects =
        Directory.GetDirectories(Path.Combine(root, "tests"))
        |> Array.filter (fun dir -> dir.EndsWith ".Tests" && Directory.GetFiles(dir, "*.csproj").Length > 0)
        |> Array.map (fun dir -> Path.GetRelativePath(root, dir))
        |> Array.sortBy (fun dir -> (dir.Contains "Cluster", dir))
    for project in projects do
        step project root "dotnet" (sprintf "test %s --no-build" project)
    let js = Path.Combine(root, "clients/js")
    step "clients/js build" js "npm" "run build"
    // tsc over src, tests and e2e: vitest strips types without checking them, and the e2e contract test's field list
    // follows TopicInfo only through `satisfies`.
    step "clients/js typecheck" js "npm" "run typecheck"
    step "clients/js unit" js "npm" "test"
    step "clients/js e2e" js "npm" "run test:e2e"
    printfn ""
    printfn "%d passed, %d failed" passed failed
    if failures.Count > 0 then failwithf "failing steps: %s" (String.Join(", ", failures))

let publish () = exec root "dotnet" "publish Repl.Host -c Release -o artifacts/repl"

let pack () = exec root "dotnet" "pack Repl.Cli -c Release -o artifacts"

/// bench [--quick] [S1 ... S6] [--no-node]: the load scenarios (bench/README.md).
let bench (args: string list) = sh ("bench/run.sh " + String.Join(" ", args))

let benchMicro () = exec root "dotnet" "run -c Release --project bench/Repl.Micro"

match fsi.CommandLineArgs |> Array.tail |> List.ofArray with
| [ "build" ] -> build ()
| [ "test" ] -> test ()
| [ "publish" ] -> publish ()
| [ "pack" ] -> pack ()
| "bench" :: rest -> bench rest
| [ "bench-micro" ] -> benchMicro ()
| args ->
    eprintfn "usage: dotnet fsi build.fsx build|test|publish|pack|bench [--quick] [S1..S6]|bench-micro (got %A)" args
    exit 2
