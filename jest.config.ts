import type { Config } from 'jest';
import { availableParallelism } from 'node:os';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/spec'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // ArkType ships ES modules only; jest on Node 20 loads CommonJS, so its files are transpiled (a dev dependency, specs only).
    '^.+/node_modules/(arktype|arkregex|@ark)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(arktype|arkregex|@ark)/)'],
  // Sources import siblings as './x.js' (what Node's ESM needs); map them back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 20_000,
  // Most suites wait on timers, sockets and child processes (leases, Redis restarts, long-polls), not on the CPU:
  // at least two workers even on a 2-core machine (jest's default there is one), which halves the suite's time.
  maxWorkers: Math.max(2, availableParallelism() - 1),
  // Writes .jest-results.json (jest's --json output) for .ci/run's summary line.
  testResultsProcessor: '<rootDir>/scripts/jestResultsFile.cjs',
};

export default config;
