import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { VirtualTimeScheduler } from 'rxjs';
import { fromResponses } from '../src/index.js';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { sseHeaders, startLoopbackServer, waitFor, type LoopbackServer, type SeenRequest } from './support/loopbackServer';

/**
 * The cancel POST of a background response has a time limit: an endpoint
 * that never answers it does not leave a hanging request behind, and the CLI
 * exits once its exit code is decided.
 */
const frame = (event: object) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`;
const created = frame({ type: 'response.created', sequence_number: 0, response: { id: 'resp_slow', status: 'in_progress' } });
const delta = (sequence: number) => frame({ type: 'response.output_text.delta', sequence_number: sequence, output_index: 0, content_index: 0, delta: 'x' });

/** Streams a background response slowly and never answers its cancel. */
function slowServerIgnoringCancels(): Promise<LoopbackServer> {
  return startLoopbackServer((request, response) => {
    if (request.url?.endsWith('/cancel')) return; // never answered
    sseHeaders(response);
    response.write(created);
    let sequence = 1;
    const timer = setInterval(() => {
      if (response.destroyed || sequence > 2000) return clearInterval(timer);
      response.write(delta(sequence++));
    }, 20);
    response.on('close', () => clearInterval(timer));
  });
}

describe('the cancel of a background response is bounded', () => {
  let loopback: LoopbackServer;
  afterEach(() => loopback?.close());
  const cancels = (): SeenRequest[] => loopback.requests.filter((request) => request.path.endsWith('/cancel'));

  it('the library aborts a cancel POST that gets no answer (5 s on the source scheduler)', async () => {
    loopback = await slowServerIgnoringCancels();
    const scheduler = new VirtualTimeScheduler();
    let received = 0;
    const body = { model: 'm', input: 'x', background: true, store: true };
    const subscription = fromResponses({ baseURL: `${loopback.url}/v1`, body, scheduler }).subscribe({ next: () => received++, error: () => undefined });
    await waitFor(() => received > 2, 20_000);
    subscription.unsubscribe();
    await waitFor(() => cancels().length === 1, 20_000);
    let closed = false;
    void cancels()[0]!.closed.then(() => (closed = true));
    scheduler.flush();
    await waitFor(() => closed, 20_000);
    expect(cancels()[0]!.method).toBe('POST');
  }, 30_000);

  it('the CLI exits once its exit code is decided, though the cancel is never answered', async () => {
    ensureBuilt();
    loopback = await slowServerIgnoringCancels();
    const cli = join(ROOT, 'dist', 'esm', 'cli', 'main.js');
    const child = spawn(process.execPath, [cli, '--base-url', `${loopback.url}/v1`, '--no-key', '--api', 'responses', '--background', '--timeout', '1500', 'q'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.stdout.resume();
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal).toBeNull();
    expect(code).toBe(124);
    expect(stderr).toMatch(/timed out/);
    expect(cancels()).toHaveLength(1);
  }, 60_000);
});
