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
    reporters: ['default'],
  },
});
