import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{control-plane,edge-agent,proto,test}/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real servers per worker; 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    // CI asks for a JSON report to print the "N passed, N failed" line from vitest's own counts.
    reporters: process.env.MW_TEST_JSON ? ['default', 'json'] : ['default'],
    outputFile: process.env.MW_TEST_JSON ? { json: process.env.MW_TEST_JSON } : undefined,
  },
});
