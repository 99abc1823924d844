// npm run demo: the library surviving a bad network, on the embedded mock server.
// No key and no network needed. Exits 0 when the final text matches what the
// server sent, 1 otherwise.
import { lastValueFrom, tap } from 'rxjs';
import { accumulateContent, fromChatCompletion, retryWithBackoff, untilDone } from 'rxjs-llm-stream';
import { expectedOutput, startMockChatServer } from 'rxjs-llm-stream/testing';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const dim = (text) => paint('2', text);
const yellow = (text) => paint('33', text);
const green = (text) => paint('32', text);
const red = (text) => paint('31', text);

const scenario = {
  text:
    'Streams break in real life: a proxy cuts the socket in the middle of a character like é or 中文 or 🚀, ' +
    'a rate limiter answers 429 with Retry-After, a backend stalls without closing. ' +
    'This answer survived all three and arrived exactly once.',
  tokenSize: 3,
  paceMs: 12,
};

// The first token holding a multi-byte character is chunk k + 2 (chunk 1 is the role chunk).
const tokens = scenario.text.match(/.{1,3}/gsu);
const firstWide = tokens.findIndex((token) => /[^\x00-\x7f]/u.test(token));

const faults = [
  { fault: { kind: 'drop', afterChunks: firstWide + 1, atByte: 'midCharacter' }, what: 'the socket drops mid-chunk (inside a multi-byte character)' },
  { fault: { kind: 'status', status: 429, retryAfter: 1, message: 'Rate limit reached, retry after 1 s.' }, what: 'the server answers 429 with Retry-After: 1' },
  { fault: { kind: 'stall', afterChunks: 20 }, what: 'the body stalls with the socket open (idle timeout 800 ms)' },
  { what: 'a clean stream' },
];

const server = await startMockChatServer({
  scenario,
  script: faults.map(({ fault }) => (fault ? { fault } : {})),
});

const started = performance.now();
let chunks = 0;
let retries = 0;
let printed = '';
let currentId;

process.stdout.write(`${dim(`mock server on ${server.url}; the script for each request:`)}\n`);
faults.forEach(({ what }, i) => process.stdout.write(dim(`  request ${i + 1}: ${what}\n`)));
process.stdout.write('\n');

// Prints only what is new in each snapshot; a new completion id means the
// stream restarted, so the live line starts again instead of repeating text.
function render(snapshot) {
  if (snapshot.id !== currentId) {
    if (currentId !== undefined) process.stdout.write(`\n${yellow('↻ restarted from the beginning of a new completion')}\n`);
    currentId = snapshot.id;
    printed = '';
  }
  process.stdout.write(snapshot.content.slice(printed.length));
  printed = snapshot.content;
}

try {
  const snapshot = await lastValueFrom(
    fromChatCompletion({
      baseURL: `${server.url}/v1`,
      body: { model: 'mock-model', messages: [{ role: 'user', content: 'Tell me about real networks.' }] },
      idleTimeout: 800,
    }).pipe(
      tap(() => chunks++),
      untilDone(),
      accumulateContent(),
      tap(render),
      retryWithBackoff({
        initialDelay: 200,
        maxRetries: 5,
        onRetry: ({ attempt, delay, error }) => {
          retries++;
          const cause = `${error.name}: ${error.message}`;
          process.stdout.write(`\n${yellow(`⚠ retry ${attempt} in ${Math.round(delay)} ms`)} ${dim(`(${cause})`)}\n`);
        },
      }),
    ),
  );
  const expected = expectedOutput(scenario).content[0];
  const elapsed = ((performance.now() - started) / 1000).toFixed(2);
  const matches = snapshot.content === expected;
  process.stdout.write('\n\n');
  process.stdout.write(`characters: ${Array.from(snapshot.content).length}\n`);
  process.stdout.write(`chunks received: ${chunks} over ${server.requests.length} requests\n`);
  process.stdout.write(`retries: ${retries}\n`);
  process.stdout.write(`elapsed: ${elapsed} s\n`);
  process.stdout.write(
    matches
      ? `${green('✔ text matches what the server sent: nothing lost, nothing duplicated')}\n`
      : `${red('✘ text does NOT match what the server sent')}\n`,
  );
  process.exitCode = matches ? 0 : 1;
} catch (error) {
  process.stdout.write(`\n${red(`✘ failed: ${error.name}: ${error.message}`)}\n`);
  process.exitCode = 1;
} finally {
  await server.close();
}
