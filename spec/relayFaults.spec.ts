import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { lastValueFrom, tap } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { fromServerSentEvents } from '../src/sources/fromServerSentEvents';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { readEvents } from './support/readEvents';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { startRelayProcess, type RelayProcess } from './support/startRelayProcess';

// The relay's faults, with relay instances as child processes sharing one real
// redis-server: each test breaks something and checks the client's exact text
// and how many times the provider was asked. REDIS_CLIENT=redis|redis4|redis6|ioredis|ioredis6 picks
// the relay processes' client (default node-redis). Figures (times) are printed,
// never asserted.

jest.setTimeout(120_000);
const describeWithRedis = redisServerAvailable('relay fault spec') ? describe : describe.skip;

/** One answer, slow enough to break in the middle: tokenSize 2 at 40 ms. */
const SLOW: MockScenario = { tokenSize: 2, paceMs: 40 };
const FAST: MockScenario = { tokenSize: 4, paceMs: 5 };
const ANSWER = expectedOutput(SLOW).content[0]!;

const pause = (ms: number) => new Promise((wait) => setTimeout(wait, ms));
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(20);
  }
}

/** What a browser-like client saw: its text, its connections, the restart events, how long from a mark to the end. */
interface ClientRun {
  content: string;
  connections: number;
  restarts: number;
  events: number;
}

/**
 * The documented client pipeline against relay instances: `urls(n)` is the
 * instance of the n-th connection; `onEvent(count)` runs after each event
 * (to break something mid-answer).
 */
function readAnswer(
  urls: (connection: number) => string,
  streamId: string,
  onEvent: (count: number) => void = () => undefined,
  body: object = { model: 'mock-model', messages: [{ role: 'user', content: 'Hello' }] },
  /** Awaited before connection `n` (from 0) is made. */
  beforeConnection: (connection: number) => Promise<void> = async () => undefined,
): Promise<ClientRun> {
  let connections = 0;
  let restarts = 0;
  let events = 0;
  const gatedFetch = async (input: string | URL | Request, init?: RequestInit) => {
    await beforeConnection(connections - 1);
    return fetch(input, init);
  };
  const source = fromServerSentEvents({ url: () => `${urls(connections++)}/chat/${streamId}`, body, fetch: gatedFetch });
  return lastValueFrom(
    source.pipe(
      tap((event) => {
        events++;
        if (event.event === 'restart') restarts++;
        onEvent(events);
      }),
      parseRelayedChunks(),
      untilDone(),
      retryWithBackoff({ initialDelay: 100, maxDelay: 1_000, maxRetries: 40, jitter: 'none', shouldRetry: () => true }),
      accumulateContent(),
    ),
  ).then((snapshot) => ({ content: snapshot.content, connections, restarts, events }));
}

describe('the routes docs/backend.md shows', () => {
  it('are the routes of the fault suite\'s relay process, statement for statement', () => {
    const squash = (text: string) => text.replace(/\s+/g, ' ');
    const docs = squash(readFileSync(join(ROOT, 'docs', 'backend.md'), 'utf8'));
    const tested = squash(readFileSync(join(ROOT, 'spec', 'support', 'relayProcess.mjs'), 'utf8'));
    const statements = [
      "const id = decodeURIComponent(request.url?.split('?')[0]?.split('/').pop() ?? '');",
      'if (!isRelayStreamId(id)) return void response.writeHead(400).end();',
      "const lastEventId = request.headers['last-event-id'];",
      "if (request.method === 'POST') {",
      'if (!started && !(await relay.has(id, { owner }))) return void response.writeHead(409).end();',
      '} else if (!(await relay.has(id, { owner }))) {',
      'return void response.writeHead(204).end();',
      "relay.frames(id, typeof lastEventId === 'string' ? lastEventId : undefined, { owner })",
      'if (response.headersSent) return void response.destroy();',
      "if (error instanceof RelayBusyError) return void response.writeHead(503, { 'retry-after': '1' }).end();",
      'response.writeHead(error instanceof SyntaxError ? 400 : 500).end();',
      'server.close();',
      'await relay.close({ drainMs:',
      'process.exit(0);',
    ];
    expect(statements.filter((statement) => !docs.includes(squash(statement)))).toEqual([]);
    expect(statements.filter((statement) => !tested.includes(squash(statement)))).toEqual([]);
    expect(tested).toMatch(/const started = await relay\.start\(id, \(resume\) => providerStream\(chat, resume\), \{ owner, resumePoint \}\);/);
    expect(docs).toContain('const started = await relay.start(id, answer, { owner });');
  });
});

describeWithRedis('relay faults (child relay processes, real redis-server)', () => {
  let redis: RedisServer;
  let provider: MockChatServer;
  let processes: RelayProcess[] = [];
  let prefix = 0;
  const generations = () => provider.requests.filter((request) => request.path === '/v1/chat/completions' || request.path === '/v1/responses').length;

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedisServer();
    provider = await startMockChatServer({ script: (_index, request) => (JSON.stringify(request.body ?? '').includes('quick') ? FAST : SLOW) });
  }, 60_000);
  afterEach(async () => {
    for (const relay of processes) relay.child.kill('SIGKILL');
    await Promise.all(processes.map((relay) => relay.exited));
    processes = [];
  });
  afterAll(async () => {
    await provider?.close();
    await redis?.stop();
  });

  async function relayProcess(env: Record<string, string> = {}): Promise<RelayProcess> {
    const relay = await startRelayProcess({ REDIS_URL: redis.url, PROVIDER_URL: `${provider.url}/v1`, KEY_PREFIX: `faults-${++prefix}:`, ...env });
    processes.push(relay);
    return relay;
  }
  /** Instances of one test share a key prefix. */
  async function instances(count: number, env: Record<string, string> = {}): Promise<RelayProcess[]> {
    const keyPrefix = `faults-${++prefix}:`;
    const started: RelayProcess[] = [];
    for (let n = 0; n < count; n++) started.push(await relayProcess({ KEY_PREFIX: keyPrefix, ...env }));
    return started;
  }

  it('redis-server SIGKILLed mid-answer and restarted on the same port: the relay process lives, the client ends with the exact text', async () => {
    const [a] = await instances(1, { LEASE_MS: '3000', HEARTBEAT: '500' });
    const before = generations();
    let killedAt = 0;
    const killing: Array<Promise<void>> = [];
    const run = await readAnswer(
      () => a!.url,
      'redis-restart',
      (count) => {
        if (count !== 8 || killedAt) return;
        killedAt = performance.now();
        killing.push(
          (async () => {
            await redis.kill();
            await pause(1_000);
            redis = await startRedisServer({ port: redis.port });
          })(),
        );
      },
    );
    await Promise.all(killing);
    const seconds = (performance.now() - killedAt) / 1000;
    process.stdout.write(`redis restart: exact text after ${seconds.toFixed(1)} s, ${run.connections} connections, ${run.restarts} restart events, ${generations() - before} generations\n`);
    expect(run.content).toBe(ANSWER);
    expect(a!.child.exitCode).toBeNull();
    expect(a!.child.signalCode).toBeNull();
    // The log died with the unsaved Redis: at most one new answer, announced by a restart event.
    expect(generations() - before).toBeLessThanOrEqual(2);
    expect(run.restarts).toBe(generations() - before - 1);
    // The process still serves.
    const after = await readAnswer(() => a!.url, 'after-restart', undefined, { model: 'mock-model', messages: [{ role: 'user', content: 'quick' }] });
    expect(after.content).toBe(expectedOutput(FAST).content[0]);
  });

  it('the owner SIGKILLed mid-answer: readers on B end without a terminal event within leaseMs + one heartbeat, B takes over with a restart; exact text, two generations', async () => {
    const [a, b] = await instances(2, { LEASE_MS: '1500', HEARTBEAT: '500' });
    const before = generations();
    let killedAt = 0;
    // A second reader on B, following the same stream, to see its response end without a terminal event.
    let follower: Promise<Awaited<ReturnType<typeof readEvents>>> | undefined;
    let followerEndedAt = 0;
    const followerOpened = () => b!.activities().some((activity) => activity.type === 'readerOpened' && activity.streamId === 'owner-killed');
    const run = await readAnswer(
      (connection) => (connection === 0 ? a!.url : b!.url),
      'owner-killed',
      (count) => {
        if (count === 3 && !follower) follower = readEvents(`${b!.url}/chat/owner-killed`, {}).finally(() => (followerEndedAt = performance.now()));
        // Kill only once the follower reads the first generation on B (a slow machine may take a while to connect it).
        if (count < 8 || killedAt || !followerOpened()) return;
        killedAt = performance.now();
        a!.child.kill('SIGKILL');
      },
      undefined,
      // The client's reconnects (which take over on B) wait for the follower's end: otherwise, on a starved machine,
      // a takeover can come before the follower's reader notices the lapse, and it then reads the new generation.
      async (connection) => {
        if (connection > 0) await follower;
      },
    );
    const followed = await follower!;
    const seconds = (performance.now() - killedAt) / 1000;
    process.stdout.write(
      `owner killed: a reader on B ended ${((followerEndedAt - killedAt) / 1000).toFixed(1)} s after the SIGKILL (lease 1.5 s + heartbeat 0.5 s); exact text after ${seconds.toFixed(1)} s, ${run.connections} connections, ${run.restarts} restart events\n`,
    );
    expect(run.content).toBe(ANSWER);
    expect(generations() - before).toBe(2);
    // One restart (B's new answer); two when the client's last event was shown by A before Redis stored it: its id names
    // no entry after the takeover, so the client gets the log again from its start (after a restart), then B's restart.
    expect(run.restarts).toBeGreaterThanOrEqual(1);
    expect(run.restarts).toBeLessThanOrEqual(2);
    // The follower's response ended with no terminal event (no done, error or cancelled).
    expect(followed.events.filter((event) => ['done', 'error', 'cancelled'].includes(event.event ?? ''))).toEqual([]);
    expect(b!.activities()).toContainEqual(expect.objectContaining({ type: 'readerClosed', reason: 'ownerGone', streamId: 'owner-killed' }));
    expect(b!.activities()).toContainEqual({ type: 'started', streamId: 'owner-killed', takeover: true, resumed: false });
  });

  it('A shows events before Redis stores them (writes paused), then is SIGKILLed: the client, resuming on B after B took over and finished, gets the log again from its start; exact text', async () => {
    const [a, b] = await instances(2, { LEASE_MS: '1500', HEARTBEAT: '500' });
    const before = generations();
    let pausedAt = 0;
    let killedAt = 0;
    let takenOver: Promise<ClientRun> | undefined;
    // On a connection opened beforehand: spawning redis-cli at the fifth event took long enough, on a loaded machine,
    // for A to store every event it showed before the pause landed.
    const pauser = createClient({ url: redis.url });
    pauser.on('error', () => undefined);
    await pauser.connect();
    const pauseWrites = (ms: number) => pauser.sendCommand(['CLIENT', 'PAUSE', String(ms), 'WRITE']).catch(() => undefined);
    let run: ClientRun;
    let other: ClientRun;
    try {
      run = await readAnswer(
        (connection) => (connection === 0 ? a!.url : b!.url),
        'shown-not-stored',
        (count) => {
          if (count === 5 && !pausedAt) {
            pausedAt = count;
            // Every write waits (appends, renewals, and lease expiry too) while A's reader keeps receiving from memory.
            void pauseWrites(6_000);
          }
          if (count < 9 || killedAt) return;
          killedAt = count;
          a!.child.kill('SIGKILL');
          // Another client on B: it waits out A's lease, takes the stream over, and reads B's whole answer.
          takenOver = readAnswer(() => b!.url, 'shown-not-stored');
        },
        undefined,
        // This client comes back only once B's answer is stored to its end, numbered past the events A showed.
        async (connection) => {
          if (connection > 0) await takenOver;
        },
      );
      other = await takenOver!;
    } finally {
      pauser.destroy();
    }
    process.stdout.write(`shown, not stored: exact text after ${run.connections} connections, ${run.restarts} restart events; the taking-over client ${other.restarts} restart(s)\n`);
    expect(other.content).toBe(ANSWER);
    expect(run.content).toBe(ANSWER);
    expect(generations() - before).toBe(2);
    // A's answer until it died, then the log again from its start (a restart: the client's last id names no entry), then B's restart.
    expect(run.restarts).toBe(2);
  });

  it('the owner SIGKILLed mid-answer on a Responses background stream: B resumes the same response, nothing generated twice', async () => {
    const [a, b] = await instances(2, { LEASE_MS: '1500', HEARTBEAT: '500', PROVIDER: 'responses' });
    const requestsBefore = generations();
    const tokensBefore = provider.generatedTokens;
    let killed = false;
    const run = await readAnswer(
      (connection) => (connection === 0 ? a!.url : b!.url),
      'responses-killed',
      (count) => {
        if (count !== 10 || killed) return;
        killed = true;
        a!.child.kill('SIGKILL');
      },
    );
    const tokens = provider.generatedTokens - tokensBefore;
    // One clean answer, for the number of tokens it takes.
    const cleanBefore = provider.generatedTokens;
    const clean = await readAnswer(() => b!.url, 'responses-clean');
    const cleanTokens = provider.generatedTokens - cleanBefore;
    process.stdout.write(`responses takeover: ${tokens} tokens generated against ${cleanTokens} for a clean answer; ${run.restarts} restart events; requests ${provider.requests.slice(requestsBefore).map((request) => `${request.method} ${request.path.split('?')[0]}`).join(', ')}\n`);
    expect(run.content).toBe(ANSWER);
    expect(clean.content).toBe(ANSWER);
    expect(tokens).toBe(cleanTokens);
    // B picked the response up where the log said (a GET of the stored response), never a second POST for this stream.
    const posts = provider.requests.slice(requestsBefore).filter((request) => request.method === 'POST' && request.path === '/v1/responses');
    expect(posts).toHaveLength(2); // this stream's and the clean one's
    expect(provider.requests.slice(requestsBefore).some((request) => request.method === 'GET' && request.path.startsWith('/v1/responses/'))).toBe(true);
  });

  it('close() hands over at once: A closes mid-answer (SIGTERM) and the client finishes through B, without waiting for the 60 s lease', async () => {
    const [a, b] = await instances(2, { LEASE_MS: '60000', HEARTBEAT: '500' });
    const before = generations();
    let closedAt = 0;
    const run = await readAnswer(
      (connection) => (connection === 0 ? a!.url : b!.url),
      'handed-over',
      (count) => {
        if (count !== 8 || closedAt) return;
        closedAt = performance.now();
        a!.child.kill('SIGTERM');
      },
    );
    const seconds = (performance.now() - closedAt) / 1000;
    process.stdout.write(`close(): exact text through B ${seconds.toFixed(1)} s after SIGTERM (lease 60 s)\n`);
    expect(await a!.exited).toBe(0);
    expect(a!.output()).toContain('closed');
    expect(a!.activities()).toContainEqual({ type: 'handedOver', streamId: 'handed-over' });
    expect(b!.activities()).toContainEqual(expect.objectContaining({ type: 'started', streamId: 'handed-over', takeover: true }));
    expect(run.content).toBe(ANSWER);
    expect(run.restarts).toBe(1);
    expect(generations() - before).toBe(2);
  });

  it('a stream that runs longer than ttl keeps its log: exact text, replayable after its end, one generation', async () => {
    const [a, b] = await instances(2, { TTL: '1000', TTL_AFTER_END: '30000' });
    const before = generations();
    const startedAt = performance.now();
    const run = await readAnswer(() => a!.url, 'longer-than-ttl');
    const seconds = (performance.now() - startedAt) / 1000;
    expect(seconds).toBeGreaterThan(1); // the premise: the answer outlived the ttl
    expect(run.content).toBe(ANSWER);
    expect(run.restarts).toBe(0);
    const replay = await readAnswer(() => b!.url, 'longer-than-ttl');
    expect(replay.content).toBe(ANSWER);
    expect(generations() - before).toBe(1);
  });

  it('a stale Last-Event-ID (from an expired log of the same id) gets a restart and the current log from its start', async () => {
    const [a, b] = await instances(2, { TTL_AFTER_END: '500' });
    const quick = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'quick' }] });
    const first = await readEvents(`${a!.url}/chat/stale`, { method: 'POST', body: quick });
    const staleId = first.events.at(-2)!.id!;
    // Wait for the ended log to expire, then the id is started again (a new log).
    let status = 200;
    for (let round = 0; round < 100 && status !== 204; round++) {
      await pause(100);
      status = (await fetch(`${b!.url}/chat/stale`)).status;
    }
    expect(status).toBe(204);
    const again = await readEvents(`${a!.url}/chat/stale`, { method: 'POST', body: quick });
    expect(again.events.at(-1)).toMatchObject({ event: 'done' });
    const resumed = await readEvents(`${b!.url}/chat/stale`, { headers: { 'last-event-id': staleId } });
    expect(resumed.events[0]!.event).toBe('restart');
    expect(resumed.events.map((event) => event.data)).toEqual(again.events.map((event) => event.data));
    expect(resumed.events[0]!.id!.split('-')[0]).not.toBe(staleId.split('-')[0]);
  });

  it('100 readers of one live stream, 50 on each instance: every one gets the exact text; one generation', async () => {
    const [a, b] = await instances(2, { HEARTBEAT: '500' });
    const before = generations();
    const owner = readAnswer(() => a!.url, 'hundred');
    await eventually(() => generations() > before, 30_000, 'the stream to start');
    await pause(200);
    const results = await Promise.all(Array.from({ length: 100 }, (_, n) => readEvents(`${(n % 2 === 0 ? a : b)!.url}/chat/hundred`, {}).then(({ events }) => events)));
    expect((await owner).content).toBe(ANSWER);
    for (const events of results) {
      expect(events.at(-1)).toMatchObject({ event: 'done' });
      const content = events
        .filter((event) => event.event === undefined)
        .map((event) => (JSON.parse(event.data) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
        .join('');
      expect(content).toBe(ANSWER);
    }
    expect(generations() - before).toBe(1);
  });

  it('20 connections that never read a finished 8 MB stream cost the relay less than 40 MB of heap', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--expose-gc', join(ROOT, 'spec', 'support', 'relayHeapScript.mjs'), '20'], { cwd: ROOT, timeout: 110_000 });
    expect(stderr).toBe('');
    const figures = JSON.parse(stdout.trim().split('\n').at(-1)!) as { growth: number; opened: number; dropped: number; streamBytes: number };
    process.stdout.write(`20 never-reading readers of an ${(figures.streamBytes / 1e6).toFixed(0)} MB stream: heap +${(figures.growth / 1e6).toFixed(1)} MB\n`);
    expect(figures.opened).toBe(20);
    expect(figures.growth).toBeLessThan(40 * 1024 * 1024);
  });
});
