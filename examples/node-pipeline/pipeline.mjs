// A backend batch job: answer a list of prompts with bounded concurrency, each
// through the full rxjs-llm-stream pipeline, against the embedded mock server
// injecting random (seeded) faults. Writes one NDJSON record per prompt as it
// finishes, then a summary line.
//
//   npm run build
//   node examples/node-pipeline/pipeline.mjs [--prompts 24] [--concurrency 4] [--seed 7]
//        [--fault-rate 0.5] [--unrecoverable 0] [--idle-timeout 400] [--input prompts.json] [--out results.ndjson]
//
// --input: a JSON array of { "prompt": string, "answer"?: string }; the mock
//   server answers each prompt with its "answer" (default: a generated one).
// --out:   write the result records to this file; stdout then only gets the summary.
// --unrecoverable K: K prompts (picked by the seed) always get a 400, which is
//   not retryable, so they end as "failed".
// Exit code: 0 when every prompt was answered, 1 when some failed, 2 on a usage error.
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { defer, finalize, from, last, lastValueFrom, map, mergeMap, tap } from 'rxjs';
import { accumulateContent, fromChatCompletion, untilDone, withStreamStatus } from 'rxjs-llm-stream';
import { startMockChatServer } from 'rxjs-llm-stream/testing';

const USAGE = 'usage: node examples/node-pipeline/pipeline.mjs [--prompts N] [--concurrency N] [--seed N] [--fault-rate 0..1] [--unrecoverable N] [--idle-timeout MS] [--input FILE] [--out FILE]';

/** Parses a non-negative integer option, or exits with the usage line. */
function integer(value, name, min) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) usageError(`--${name} must be an integer >= ${min}`);
  return number;
}

function usageError(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      prompts: { type: 'string', default: '24' },
      concurrency: { type: 'string', default: '4' },
      seed: { type: 'string', default: '7' },
      'fault-rate': { type: 'string', default: '0.5' },
      unrecoverable: { type: 'string', default: '0' },
      'idle-timeout': { type: 'string', default: '400' },
      input: { type: 'string' },
      out: { type: 'string' },
    },
  }).values;
} catch (error) {
  usageError(error.message);
}
const concurrency = integer(args.concurrency, 'concurrency', 1);
const seed = integer(args.seed, 'seed', 0);
const faultRate = Number(args['fault-rate']);
if (!(faultRate >= 0 && faultRate <= 1)) usageError('--fault-rate must be between 0 and 1');
const unrecoverableCount = integer(args.unrecoverable, 'unrecoverable', 0);
// How long a silent stream waits before it is retried: what recovers a stalled one.
const idleTimeout = integer(args['idle-timeout'], 'idle-timeout', 1);

// ---------------------------------------------------------------- seeded randomness

/** A small seeded PRNG (mulberry32): the same seed gives the same faults. */
function prng(state) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: a stable 32-bit hash to seed one PRNG per (prompt, attempt). */
function hash(text) {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

const pick = (random, items) => items[Math.floor(random() * items.length)];
const between = (random, min, max) => min + Math.floor(random() * (max - min + 1));

// ---------------------------------------------------------------- the work list

const WORDS = ['stream', 'retry', 'socket', 'café', '中文', 'emoji 🚀', 'backoff', 'proxy', 'naïve', 'Größe', 'ключ', 'τέλος', '🙂👍'];

async function loadWork() {
  if (args.input) {
    const list = JSON.parse(await readFile(args.input, 'utf8'));
    if (!Array.isArray(list) || list.some((item) => typeof item?.prompt !== 'string')) usageError('--input must hold a JSON array of { "prompt": string, "answer"?: string }');
    return list.map((item, index) => ({ index, prompt: item.prompt, answer: item.answer ?? generatedAnswer(item.prompt) }));
  }
  const count = integer(args.prompts, 'prompts', 1);
  return Array.from({ length: count }, (_, index) => {
    const prompt = `Prompt ${index + 1}: explain ${WORDS[index % WORDS.length]} in one paragraph.`;
    return { index, prompt, answer: generatedAnswer(prompt) };
  });
}

/** A deterministic answer of 70 to 250 characters, with multi-byte characters, for one prompt. */
function generatedAnswer(prompt) {
  const random = prng(hash(`${seed}:answer:${prompt}`));
  const words = Array.from({ length: between(random, 8, 30) }, () => pick(random, WORDS));
  return `About "${prompt}": ${words.join(' ')}.`;
}

const work = await loadWork();
const unrecoverable = new Set(
  work
    .map((item) => ({ item, order: prng(hash(`${seed}:unrecoverable:${item.index}`))() }))
    .sort((a, b) => a.order - b.order)
    .slice(0, unrecoverableCount)
    .map(({ item }) => item.index),
);

// ---------------------------------------------------------------- the mock server's script

const MAX_FAULTY_ATTEMPTS = 3; // attempt 4 of a prompt is always clean, so maxRetries 6 is enough
const attemptsSeen = new Map();
const faultsInjected = {};

/** One fault, or none, for this attempt of this prompt: a pure function of (seed, prompt index, attempt). */
function faultFor(index, attempt, chunkCount) {
  if (unrecoverable.has(index)) return { kind: 'status', status: 400, message: 'This prompt is not allowed (a scripted, permanent failure).' };
  const random = prng(hash(`${seed}:fault:${index}:${attempt}`));
  if (attempt > MAX_FAULTY_ATTEMPTS || random() >= faultRate) return undefined;
  const afterChunks = between(random, 0, chunkCount);
  switch (pick(random, ['drop', 'dropMidCharacter', 'status', 'stall', 'error', 'holdOpen'])) {
    case 'drop': // before [DONE] (chunk chunkCount + 1), cut it within its first 6 bytes so it never arrives whole
      return { kind: 'drop', afterChunks, atByte: between(random, 0, afterChunks === chunkCount ? 5 : 40) };
    case 'dropMidCharacter':
      return { kind: 'drop', afterChunks: Math.max(0, afterChunks - 1), atByte: 'midCharacter' };
    case 'status': {
      const status = pick(random, [429, 500, 502, 503]);
      return status === 429 ? { kind: 'status', status, retryAfterMs: between(random, 10, 80) } : { kind: 'status', status };
    }
    case 'stall':
      return { kind: 'stall', afterChunks };
    case 'error':
      return { kind: 'error', afterChunks, errorType: 'server_error', message: 'The model is overloaded (scripted).' };
    default:
      return { kind: 'holdOpen' }; // not a failure: the client must finish at [DONE] without waiting for the socket to close
  }
}

/** How each request is answered: the prompt's scripted answer, delivered with seeded framing and faults. */
function script(_arrival, request) {
  // The client tags each request with its prompt's index (the same on every attempt).
  const index = Number(request.headers['x-prompt-index']);
  const item = work[index];
  const messages = request.body?.messages ?? [];
  const text = item && messages[messages.length - 1]?.content === item.prompt ? item.answer : 'Unknown prompt.';
  const attempt = (attemptsSeen.get(index) ?? 0) + 1;
  attemptsSeen.set(index, attempt);
  const random = prng(hash(`${seed}:framing:${index}:${attempt}`));
  const tokenSize = between(random, 2, 8);
  const chunkCount = Math.ceil(Array.from(text).length / tokenSize) + 3; // role chunk, content, finish, usage; [DONE] follows
  const fault = faultFor(index, attempt, chunkCount);
  if (fault) faultsInjected[fault.kind] = (faultsInjected[fault.kind] ?? 0) + 1;
  return {
    text,
    tokenSize,
    paceMs: between(random, 0, 3),
    lineEnding: pick(random, ['\n', '\r\n', '\r']),
    keepAliveEvery: pick(random, [0, 0, 3]),
    dribble: pick(random, [0, 0, 0, 32, 97]), // 32 and 97 bytes per write cut lines and characters anywhere
    fault,
  };
}

// ---------------------------------------------------------------- the pipeline

const server = await startMockChatServer({ script, apiKey: 'sk-example-not-a-real-key' });
const jitter = prng(seed);
let inFlight = 0;

/** One prompt, through the whole pipeline, to one final record (never an error). */
function answer({ index, prompt }) {
  const started = performance.now();
  inFlight++;
  summary.maxInFlight = Math.max(summary.maxInFlight, inFlight);
  return defer(() =>
    fromChatCompletion({
      baseURL: `${server.url}/v1`,
      apiKey: 'sk-example-not-a-real-key',
      headers: { 'x-prompt-index': String(index) },
      body: { model: 'mock-model', messages: [{ role: 'user', content: prompt }], stream_options: { include_usage: true } },
      idleTimeout,
    }),
  ).pipe(
    untilDone(),
    accumulateContent(),
    withStreamStatus({
      retry: { initialDelay: 20, maxDelay: 200, maxRetries: 6, random: jitter },
      errorsAsState: true,
    }),
    last(),
    map((state) => ({
      index,
      prompt,
      status: state.status,
      content: state.snapshot?.content ?? '',
      finishReason: state.snapshot?.finishReason ?? null,
      usage: state.snapshot?.usage,
      attempts: state.attempt,
      retries: state.attempt - 1,
      ...(state.error ? { error: { name: state.error.name, message: state.error.message, status: state.error.status } } : {}),
      ms: Math.round(performance.now() - started),
    })),
    finalize(() => inFlight--),
  );
}

/** The most requests the server saw open at one time (a close can reach it a little after the next request). */
function peakOpenRequests(requests) {
  const edges = requests.flatMap((r) => [
    [r.startedAt, 1],
    [r.endedAt ?? Infinity, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // a close at the same millisecond counts before an open
  let open = 0;
  let peak = 0;
  for (const [, change] of edges) peak = Math.max(peak, (open += change));
  return peak;
}

const results = args.out ? createWriteStream(args.out) : process.stdout;
const started = performance.now();
const summary = { prompts: work.length, ok: 0, failed: 0, retries: 0, requests: 0, concurrency, maxInFlight: 0, peakOpenRequests: 0, seed, faultRate, faultsInjected, ms: 0 };
try {
  await lastValueFrom(
    from(work).pipe(
      mergeMap(answer, concurrency),
      tap((record) => {
        summary[record.status === 'done' ? 'ok' : 'failed']++;
        summary.retries += record.retries;
        results.write(`${JSON.stringify(record)}\n`);
      }),
    ),
    { defaultValue: undefined },
  );
} finally {
  await server.close();
  if (args.out) await new Promise((resolve, reject) => results.end((error) => (error ? reject(error) : resolve())));
}
summary.requests = server.requests.length;
summary.peakOpenRequests = peakOpenRequests(server.requests);
summary.ms = Math.round(performance.now() - started);
process.stdout.write(`${JSON.stringify({ summary })}\n`);
process.exitCode = summary.failed > 0 ? 1 : 0;
