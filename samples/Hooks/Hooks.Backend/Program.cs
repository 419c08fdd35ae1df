// The hooks sample backend: see BackendApp and samples/Hooks/README.md.
Hooks.Backend.BackendApp.Build(args).Run();
