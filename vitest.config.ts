import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One source (15) and one target (17) server for the whole run; each test file works in its own databases.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: more parallel files only fight over them and make replication timing noisy.
    maxWorkers: 2,
    pool: 'forks',
  },
});
