import { defineConfig } from 'vitest/config';

// The Durable Streams conformance suite only (jest runs everything under spec/).
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['conformance/durableStreams.conformance.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
