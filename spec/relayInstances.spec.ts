import type { ChildProcess } from 'node:child_process';
import { from, lastValueFrom, type OperatorFunction } from 'rxjs';
import { accumulateContent } from '../src/operators/accumulateContent';
import { parseRelayedChunks } from '../src/operators/parseRelayedChunks';
import { retryWithBackoff } from '../src/operators/retryWithBackoff';
import { untilDone } from '../src/operators/untilDone';
import { fromServerSentEvents, type ServerSentEvent } from '../src/sources/fromServerSentEvents';
import { expectedOutput, startMockChatServer, type MockChatServer, type MockScenario } from '../src/testing';
import type { ChatCompletionChunk, ChatCompletionSnapshot } from '../src/types';
import { ensureBuilt } from './support/ensureBuilt';
import { readEvents } from './support/readEvents';
import { redisServerAvailable, startRedisServer, type RedisServer } from './support/redisServer';
import { startRelayProcess } from './support/startRelayProcess';

const describeWithRedis = redisServerAvailable('two-instance relay spec') ? describe : describe.skip;

describeWithRedis('two relay instances sharing one redis-server', () => {
  let redis: RedisServer;
  let provider: MockChatServer;
  const relays: ChildProcess[] = [];
  const scenario: MockScenario = { tokenSize: 4, paceMs: 15 };
  // Long enough that the provider is still streaming when the relay gives up on it.
  const slowScenario: MockScenario = { tokenSize: 1, paceMs: 50 };

  beforeAll(async () => {
    ensureBuilt();
    redis = await startRedisServer();
    provider = await startMockChatServer({
      script: (_index, request) => (JSON.stringify(request.body).includes('Take your time') ? slowScenario : scenario),
    });
  }, 60_000);
  afterAll(async () => {
    for (const child of relays) child.kill('SIGTERM');
    await provider?.close();
    await redis?.stop();
  });

  it('a client cut off on instance A resumes on instance B with Last-Event-ID: exact text, one generation', async () => {
    const env = { REDIS_URL: redis.url, PROVIDER_URL: `${provider.url}/v1`, KEY_PREFIX: 'two-instances:' };
    const a = await startRelayProcess(env);
    const b = await startRelayProcess(env);
    relays.push(a.child, b.child);
    const body = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'Hello' }] });

    const { events: onA } = await readEvents(`${a.url}/chat/answer-1`, { method: 'POST', body }, 10);
    expect(onA).toHaveLength(10);
    const { events: onB } = await readEvents(`${b.url}/chat/answer-1`, { headers: { 'last-event-id': onA.at(-1)!.id! } });
    expect(onB.at(-1)).toMatchObject({ event: 'done', data: '[DONE]' });

    const chunks = [...onA, ...onB].filter((event) => event.event === undefined).map((event) => JSON.parse(event.data) as ChatCompletionChunk);
    const snapshot = await lastValueFrom(from(chunks).pipe(accumulateContent()));
    expect(snapshot.content).toBe(expectedOutput(scenario).content[0]);
    expect(provider.requests.filter((request) => request.path === '/v1/chat/completions')).toHaveLength(1);
  }, 60_000);

  const pipeOrders: Array<[string, OperatorFunction<ServerSentEvent, ChatCompletionSnapshot>]> = [
    ['retryWithBackoff before accumulateContent', (events) => events.pipe(parseRelayedChunks(), untilDone(), retryWithBackoff({ initialDelay: 10, jitter: 'none' }), accumulateContent())],
    ['retryWithBackoff after accumulateContent', (events) => events.pipe(parseRelayedChunks(), untilDone(), accumulateContent(), retryWithBackoff({ initialDelay: 10, jitter: 'none' }))],
  ];

  it.each(pipeOrders)('the client pipeline (fromServerSentEvents, %s) cut on A resumes on B: exact text, one generation', async (_order, client) => {
    const env = { REDIS_URL: redis.url, PROVIDER_URL: `${provider.url}/v1`, KEY_PREFIX: 'client-pipeline:' };
    const a = await startRelayProcess({ ...env, CUT_AFTER: '6' });
    const b = await startRelayProcess(env);
    relays.push(a.child, b.child);
    const streamId = `answer-${pipeOrders.findIndex(([order]) => order === _order) + 10}`;
    const generationsBefore = provider.requests.filter((request) => request.path === '/v1/chat/completions').length;
    let connections = 0;
    const events = fromServerSentEvents({
      url: () => `${connections++ === 0 ? a.url : b.url}/chat/${streamId}`,
      body: { model: 'mock-model', messages: [{ role: 'user', content: 'Hello' }] },
    });
    const snapshot = await lastValueFrom(events.pipe(client));

    expect(snapshot.content).toBe(expectedOutput(scenario).content[0]);
    expect(provider.requests.filter((request) => request.path === '/v1/chat/completions')).toHaveLength(generationsBefore + 1);
    expect(a.requests()).toEqual([`POST /chat/${streamId} -`]);
    // B was asked for the rest: after the sixth event of the stream (ids are the store's).
    expect(b.requests()).toHaveLength(1);
    expect(b.requests()[0]).toMatch(new RegExp(`^POST /chat/${streamId} \\S+$`));
    expect(b.requests()[0]).not.toMatch(/ -$/);
  }, 60_000);

  it('aborts the provider request when the client is gone and nobody resumes within abandonAfter', async () => {
    const env = { REDIS_URL: redis.url, PROVIDER_URL: `${provider.url}/v1`, KEY_PREFIX: 'abandoned:', ABANDON_AFTER: '600' };
    const a = await startRelayProcess(env);
    relays.push(a.child);
    const slow = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'Take your time' }] });
    const before = provider.requests.length;
    await readEvents(`${a.url}/chat/answer-2`, { method: 'POST', body: slow }, 2);
    const request = provider.requests[before]!;
    const deadline = Date.now() + 30_000;
    while (request.endedAt === undefined && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 50));
    expect(request.closedByClient).toBe(true);
  }, 60_000);
});
