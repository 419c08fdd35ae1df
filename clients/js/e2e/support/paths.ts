import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (clients/js/e2e/support → ../../../..). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The host the e2e suite runs: a Debug build of Repl.Host (override with REPL_HOST_DLL). */
export const hostDll = process.env.REPL_HOST_DLL ?? path.join(repoRoot, 'Repl.Host/bin/Debug/net10.0/Repl.Host.dll');
/** The hooks sample backend (samples/Hooks), a Debug build. */
export const hooksSampleDll = path.join(repoRoot, 'samples/Hooks/Hooks.Backend/bin/Debug/net10.0/Hooks.Backend.dll');
/** Where screenshots go (git-ignored). */
export const outputDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../output');
