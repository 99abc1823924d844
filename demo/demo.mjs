// npm run demo: the library surviving a bad network, on the embedded mock server.
// Scene 1: one answer through a mid-character drop, a 429 and a stall.
// Scene 2: the same drop survived twice, by restart (Chat Completions) and by
// resume (the Responses API in background mode), side by side.
// No key and no network needed. Exits 0 when every final text matches what the
// server sent, 1 otherwise.
import { lastValueFrom, tap } from 'rxjs';
import { accumulateContent, fromChatCompletion, fromResponses, retryWithBackoff, streamStartOf, untilDone } from 'rxjs-llm-stream';
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

process.stdout.write(`${dim('Scene 1: one answer through a mid-character drop, a 429 and a stall.')}\n`);
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

// Scene 2: the same drop, survived by restarting and by resuming.
const race = {
  text:
    'A restart asks the model for the whole answer again: every token is generated twice and the reader watches the text start over. ' +
    'A resume asks for what came after the last event: nothing is generated twice. 🚀',
  tokenSize: 3,
  paceMs: 15,
};
const raceTokens = Math.ceil(Array.from(race.text).length / race.tokenSize);
/** The drop comes after three quarters of the answer's tokens, inside the next event. */
const tokensBeforeDrop = Math.floor(raceTokens * 0.75);
const drop = (eventsBeforeText) => ({ fault: { kind: 'drop', afterChunks: eventsBeforeText + tokensBeforeDrop, atByte: 'midCharacter' } });

/**
 * Streams one answer through a drop and prints it live: a fresh start after a
 * drop (the source marks it `resumed: false`) shows the text starting over,
 * a resume (`resumed: true`) shows it going on. Resolves the figures.
 */
async function survive(title, source, server) {
  process.stdout.write(`\n${title}\n`);
  const started = performance.now();
  let printed = '';
  let attempts = 0;
  const snapshot = await lastValueFrom(
    source.pipe(
      tap((event) => {
        const start = streamStartOf(event);
        if (start === undefined || ++attempts === 1) return;
        if (start.resumed && process.stdout.isTTY) {
          // A terminal shows the line so far again, then the rest after it.
          process.stdout.write(`${yellow('⏵ resumed after the last event received; the text goes on:')}\n${dim(printed)}`);
        } else if (start.resumed) {
          // A log: the text so far is above already; print only where it goes on, so it does not read like a restart.
          process.stdout.write(`${yellow(`⏵ resumed after the last event received; the text goes on after "…${printed.slice(-20)}":`)}\n`);
        } else {
          process.stdout.write(`${yellow('↺ started over: the model generates the answer again from its first token:')}\n`);
          printed = '';
        }
      }),
      untilDone(),
      accumulateContent(),
      tap((snapshot) => {
        process.stdout.write(snapshot.content.slice(printed.length));
        printed = snapshot.content;
      }),
      retryWithBackoff({
        initialDelay: 200,
        jitter: 'none',
        maxRetries: 3,
        onRetry: ({ delay, error }) => process.stdout.write(`\n${yellow(`⚡ the connection dropped (${error.name}); trying again in ${Math.round(delay)} ms`)}\n`),
      }),
    ),
  );
  process.stdout.write('\n');
  return {
    requests: server.requests.map((request) => `${request.method}${request.method === 'GET' ? ` ?${request.path.split('?')[1]}` : ''}`),
    generated: server.generatedTokens,
    seconds: (performance.now() - started) / 1000,
    exact: snapshot.content === race.text,
  };
}

if (process.exitCode !== 1) {
  const chatServer = await startMockChatServer({ scenario: race, script: [drop(1), {}] });
  // Responses events before the first text delta: created, in_progress, output_item.added, content_part.added.
  const responsesServer = await startMockChatServer({ scenario: race, script: [drop(4), {}] });
  try {
    process.stdout.write(`\n${dim(`Scene 2: the same drop, after ${tokensBeforeDrop} of the answer's ${raceTokens} tokens, survived twice.`)}\n`);
    const restart = await survive(
      'Restart (Chat Completions, fromChatCompletion):',
      fromChatCompletion({ baseURL: `${chatServer.url}/v1`, body: { model: 'mock-model', messages: [{ role: 'user', content: 'Restart or resume?' }] } }),
      chatServer,
    );
    const resume = await survive(
      'Resume (Responses API with background: true, fromResponses):',
      fromResponses({ baseURL: `${responsesServer.url}/v1`, body: { model: 'mock-model', input: 'Restart or resume?', background: true, store: true } }),
      responsesServer,
    );
    const rows = [
      ['', 'restart (Chat Completions)', 'resume (Responses, background)'],
      ['requests', `${restart.requests.length}: ${restart.requests.join(', ')}`, `${resume.requests.length}: ${resume.requests.join(', ')}`],
      ['tokens generated', String(restart.generated), String(resume.generated)],
      ["one answer's tokens", String(raceTokens), String(raceTokens)],
      ['time to the full answer', `${restart.seconds.toFixed(2)} s`, `${resume.seconds.toFixed(2)} s`],
      ['text exact', restart.exact ? 'yes' : 'NO', resume.exact ? 'yes' : 'NO'],
    ];
    const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column].length)) + 3);
    process.stdout.write('\n');
    for (const [name, left, right] of rows) process.stdout.write(`${name.padEnd(widths[0])}${left.padEnd(widths[1])}${right}\n`);
    const exact = restart.exact && resume.exact;
    process.stdout.write(
      exact
        ? `${green(`✔ both texts exact; the restart generated ${restart.generated - raceTokens} tokens twice, the resume none`)}\n`
        : `${red('✘ a text does NOT match what the server sent')}\n`,
    );
    if (!exact) process.exitCode = 1;
  } catch (error) {
    process.stdout.write(`\n${red(`✘ scene 2 failed: ${error.name}: ${error.message}`)}\n`);
    process.exitCode = 1;
  } finally {
    await Promise.all([chatServer.close(), responsesServer.close()]);
  }
}
