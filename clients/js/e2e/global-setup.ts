import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { hooksSampleDll, hostDll, repoRoot } from './support/paths.js';

/** Files under `dir`, relative to it. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

/**
 * Builds Repl.Host once (Debug) when its dll is missing, or when a page in Repl.Host/wwwroot is newer
 * than the copy in the build output (the pages are what these tests look at). An up-to-date build,
 * e.g. from the root build script, is used as it is.
 */
export default function setup(): void {
  // The cookie-session test's backend hook: the hooks sample, built once when missing.
  if (!existsSync(hooksSampleDll)) {
    console.log('[e2e] building samples/Hooks (Debug)…');
    execFileSync('dotnet', ['build', 'samples/Hooks/Hooks.Backend', '-c', 'Debug', '-nologo', '-v', 'q'], { cwd: repoRoot, stdio: 'inherit' });
  }
  const source = path.join(repoRoot, 'Repl.Host/wwwroot');
  const served = path.join(path.dirname(hostDll), 'wwwroot');
  const stale =
    !existsSync(hostDll) ||
    (!process.env.REPL_HOST_DLL &&
      files(source).some((file) => {
        const copy = path.join(served, file);
        return !existsSync(copy) || statSync(copy).mtimeMs < statSync(path.join(source, file)).mtimeMs;
      }));
  if (!stale) return;
  console.log('[e2e] building Repl.Host (Debug)…');
  execFileSync('dotnet', ['build', 'Repl.Host', '-c', 'Debug', '-nologo', '-v', 'q'], { cwd: repoRoot, stdio: 'inherit' });
  if (!existsSync(hostDll)) throw new Error(`build finished but ${hostDll} is missing`);
}
