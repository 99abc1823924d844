// The installed package's smoke test, for the oldest Node the package promises
// (engines: >=18). Copied into a consumer folder where the packed tarball is
// installed, then run there with that Node: ESM import, CJS require and the
// mock server of rxjs-llm-stream/testing, through a drop mid-character and a
// 429, to the exact text. Prints one line per check; exits 1 on a failure.
import { createRequire } from 'node:module';
import { lastValueFrom } from 'rxjs';
import * as esm from 'rxjs-llm-stream';
import { expectedOutput, startMockChatServer } from 'rxjs-llm-stream/testing';

const cjs = createRequire(import.meta.url)('rxjs-llm-stream');
let failures = 0;
const check = (label, ok) => {
  console.log(`${ok ? '✔' : '✘'} ${label}`);
  if (!ok) failures++;
};

const scenario = { text: 'Exact text on an old Node: é 中文 🚀', tokenSize: 3 };
const server = await startMockChatServer({
  apiKey: 'sk-smoke',
  scenario,
  script: [{ fault: { kind: 'drop', afterChunks: 3, atByte: 'midCharacter' } }, { fault: { kind: 'status', status: 429, retryAfterMs: 20 } }, {}],
});
try {
  for (const [name, lib] of [['ESM', esm], ['CJS', cjs]]) {
    const before = server.requests.length;
    const snapshot = await lastValueFrom(
      lib
        .fromChatCompletion({ baseURL: `${server.url}/v1`, apiKey: 'sk-smoke', body: { model: 'm', messages: [] } })
        .pipe(lib.untilDone(), lib.accumulateContent(), lib.retryWithBackoff({ initialDelay: 10, maxDelay: 50 })),
    );
    check(`${name}: the exact text after a drop and a 429`, snapshot.content === expectedOutput(scenario).content[0]);
    check(`${name}: ${server.requests.length - before} requests`, server.requests.length - before === (name === 'ESM' ? 3 : 1));
  }
  check('the ESM and CJS copies share DONE', esm.DONE === cjs.DONE);
  check('the guards recognise the other copy\'s errors', esm.isHttpError(new cjs.HttpError(401, 'x')) && cjs.isHttpError(new esm.HttpError(401, 'x')));
} finally {
  await server.close();
}
console.log(`${failures === 0 ? 'smoke test passed' : `smoke test failed (${failures})`} on Node ${process.versions.node}`);
process.exitCode = failures === 0 ? 0 : 1;
