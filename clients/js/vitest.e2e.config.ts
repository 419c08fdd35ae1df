import { defineConfig } from 'vitest/config';

// End-to-end tests: real chromium (playwright-core) against a real Repl.Host process that each
// test file starts itself (see e2e/README.md). Files run one after another: each starts a server
// and a browser, and the machine may be small.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    globalSetup: ['e2e/global-setup.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 30000,
    hookTimeout: 60000,
  },
});
