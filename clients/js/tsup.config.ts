import { defineConfig } from 'tsup';

export default defineConfig([
  // npm package: dist/index.js (ESM) + dist/index.d.ts
  {
    entry: { index: 'src/index.ts' },
    format: ['esm'],
    target: 'es2020',
    platform: 'neutral',
    dts: true,
    sourcemap: true,
    clean: false,
    treeshake: true,
  },
  // single-file browser bundle served by the server at /client/repl-client.js
  {
    entry: { 'repl-client': 'src/index.ts' },
    format: ['esm'],
    target: 'es2020',
    platform: 'browser',
    dts: false,
    minify: true,
    sourcemap: false,
    clean: false,
    outExtension: () => ({ js: '.js' }),
  },
]);
