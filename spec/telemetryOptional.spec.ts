/**
 * `@opentelemetry/api` is an optional peer: every entry but
 * `rxjs-llm-stream/telemetry` loads and streams without it. Here the module
 * is made unloadable (a jest module mock that throws as a missing module
 * does); spec/package.spec.ts checks the same on the packed package installed
 * without it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startMockChatServer } from '../src/testing/index.js';

jest.mock('@opentelemetry/api', () => {
  throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
});

describe('without @opentelemetry/api', () => {
  it('the main, server, testing and angular entries load, and an answer streams', async () => {
    const lib = require('../src/index') as typeof import('../src/index');
    expect(() => require('../src/server/index')).not.toThrow();
    expect(() => require('../src/angular/index')).not.toThrow();
    const server = await startMockChatServer({ scenario: { text: 'No telemetry here.' } });
    try {
      const { lastValueFrom } = await import('rxjs');
      const last = await lastValueFrom(
        lib.fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } }).pipe(lib.untilDone(), lib.accumulateContent(), lib.retryWithBackoff()),
      );
      expect(last.content).toBe('No telemetry here.');
    } finally {
      await server.close();
    }
  });

  it('the telemetry entry fails to load, naming the missing package', () => {
    expect(() => require('../src/telemetry/index')).toThrow(/@opentelemetry\/api/);
  });

  it('no built file outside dist/*/telemetry/ refers to @opentelemetry', () => {
    const root = resolve(__dirname, '..', 'dist');
    const offenders: string[] = [];
    const walk = (folder: string) => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== 'telemetry') walk(path);
        } else if (/\.(js|d\.ts)$/.test(entry.name) && readFileSync(path, 'utf8').includes('@opentelemetry')) offenders.push(path);
      }
    };
    walk(root);
    expect(readdirSync(root).sort()).toEqual(['cjs', 'esm']);
    expect(offenders).toEqual([]);
  });
});
