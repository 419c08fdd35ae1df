import { defineConfig } from 'vitest/config';

// End-to-end tests against a real Repl server live in e2e/ (see e2e/README.md).
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    passWithNoTests: true,
    testTimeout: 30000,
  },
});
