import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { lastValueFrom, take, tap, toArray } from 'rxjs';
import { fromChatCompletion, retryWithBackoff, untilDone } from '../src/index.js';
import { startMockChatServer } from '../src/testing/index.js';
import { ensureBuilt, ROOT } from './support/ensureBuilt';

/** A server that streams 150 chunks, one every 10 ms; it prints its port. */
const SENDING_SERVER = `
const server = require('node:http').createServer(async (request, response) => {
  request.resume();
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  for (let i = 0; i < 150 && !response.destroyed; i++) {
    response.write('data: {"id":"c1","choices":[{"index":0,"delta":{"content":"' + i + ' "},"finish_reason":null}]}\\n\\n');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  response.end('data: [DONE]\\n\\n');
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** Runs a script in a fresh Node; it must exit by itself within `limitMs`. */
function runScript(script: string, args: string[] = [], nodeFlags: string[] = [], limitMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...nodeFlags, join(ROOT, 'spec', 'support', script), ...args], { cwd: ROOT, timeout: limitMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr, ms: performance.now() - started }),
    );
    child.stdin?.end();
  });
}

describe('resources', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it('after a completed stream, an error, an idle timeout, an unsubscribe and a cancelled retry, nothing is left open: the process exits by itself', async () => {
    const { code, stdout, stderr, ms } = await runScript('resourceScript.mjs', [], [], 15_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.outcomes).toEqual(['completed:stop', 'error:HttpError', 'error:IdleTimeoutError', 'unsubscribed', 'cancelled-during-backoff']);
    // The cancelled retry made its one request and no other, even 500 ms later.
    expect(result.requests).toBe(5);
    expect(result.closedByClient).toEqual([false, false, true, true, false]);
    // No timer (idle timer, backoff timer) is pending once the server is closed.
    expect(result.after.filter((resource: string) => resource === 'Timeout')).toEqual([]);
    expect(ms).toBeLessThan(15_000);
  }, 20_000);

  it('10,000 sequential streams keep the heap flat (after GC)', async () => {
    const { code, stdout, stderr } = await runScript('heapScript.mjs', ['10000'], ['--expose-gc'], 120_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { total, characters, baseline, final, growth } = JSON.parse(stdout);
    process.stdout.write(`heap after GC: ${(baseline / 1e6).toFixed(2)} MB at stream 1,000, ${(final / 1e6).toFixed(2)} MB at stream ${total}; growth ${(growth / 1e3).toFixed(0)} kB\n`);
    expect(total).toBe(10_000);
    expect(characters).toBe(10_000 * 20 * Array.from('token 0 é 中 ').length + 10_000 * 10);
    expect(growth).toBeLessThan(2 * 1024 * 1024);
  }, 130_000);

  it('a subscriber that keeps the process busy longer than idleTimeout (within the one grace, 1.5 ×), while bytes keep arriving, gets no IdleTimeoutError', async () => {
    // The server runs in its own process, so it keeps sending while this one is busy.
    const server = spawn(process.execPath, ['-e', SENDING_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve) => server.stdout.once('data', (data) => resolve(String(data).trim())));
      const baseURL = `http://127.0.0.1:${port}`;
      // Warm fetch up first: its first call loads its implementation synchronously.
      await lastValueFrom(fromChatCompletion({ baseURL, body: {} }).pipe(take(1)));
      let seen = 0;
      const outcome = await lastValueFrom(
        fromChatCompletion({ baseURL, body: {}, idleTimeout: 4000 }).pipe(
          untilDone(),
          tap(() => {
            // A heavy synchronous render of the 5th chunk: 4.4 s (past the 4 s timeout, within the
            // 6 s deadline) in which the server sends the rest; the late timer grants the grace. The
            // 1.6 s left is for a loaded machine (with 2 s and 2.4 s, two busy siblings used up the 0.6 s).
            if (++seen === 5) for (const end = Date.now() + 4400; Date.now() < end; );
          }),
          toArray(),
        ),
      ).then(
        (chunks) => `completed with ${chunks.length} chunks`,
        (error: Error) => `${error.name} after ${seen} chunks`,
      );
      expect(outcome).toBe('completed with 150 chunks');
    } finally {
      server.kill();
      await new Promise((resolve) => server.once('exit', resolve));
    }
  }, 20_000);

  it('unsubscribing during the backoff wait cancels the pending retry: no request follows', async () => {
    const server = await startMockChatServer({ scenario: { fault: { kind: 'status', status: 503 } } });
    try {
      const errors: unknown[] = [];
      const subscription = fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } })
        .pipe(untilDone(), retryWithBackoff({ initialDelay: 200, jitter: 'none' }), toArray())
        .subscribe({ error: (error) => errors.push(error) });
      while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 50));
      subscription.unsubscribe();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(server.requests).toHaveLength(1);
      expect(errors).toHaveLength(0);
      // Control: without the unsubscribe the retry does happen.
      await lastValueFrom(
        fromChatCompletion({ baseURL: `${server.url}/v1`, body: { model: 'm', messages: [] } }).pipe(retryWithBackoff({ initialDelay: 20, jitter: 'none', maxRetries: 1 })),
      ).catch(() => undefined);
      expect(server.requests).toHaveLength(3);
    } finally {
      await server.close();
    }
  });
});
