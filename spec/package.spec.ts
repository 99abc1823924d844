/**
 * The published package, as a consumer gets it: pack the built tarball,
 * install it into a fresh folder, then `import` it, `require` it and
 * type-check against it under `strict`. Needs `npm run build` first (the
 * `pretest` script does it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

/** A consumer script: a loopback server sends two chunks and [DONE]; the pipeline must give "Hi there". */
const consumer = (load: string) => `
${load}
const http = require('node:http');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (content) => 'data: ' + JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) + '\\n\\n';
  res.end(chunk('Hi') + chunk(' there') + 'data: [DONE]\\n\\n');
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  let content = '';
  lib.fromChatCompletion({ baseURL: 'http://127.0.0.1:' + port + '/v1', body: { model: 'm', messages: [] } })
    .pipe(lib.untilDone(), lib.accumulateContent(), lib.retryWithBackoff({ maxRetries: 0 }))
    .subscribe({
      next: (snapshot) => { content = snapshot.content; },
      complete: () => { server.close(); process.stdout.write(JSON.stringify({ content, done: typeof lib.DONE, name: new lib.HttpError(500, 'x').name })); },
      error: (error) => { server.close(); process.stdout.write('error ' + error.name); process.exitCode = 1; },
    });
});
`;

const typed = `
import { fromChatCompletion, untilDone, accumulateContent, retryWithBackoff, isRetryable, DONE, HttpError,
  type ChatCompletionSnapshot, type ChatCompletionEvent } from 'rxjs-llm-stream';
import type { Observable } from 'rxjs';
const events: Observable<ChatCompletionEvent> = fromChatCompletion({ apiKey: 'k', body: { model: 'm', messages: [] }, idleTimeout: 1000 });
const answer: Observable<ChatCompletionSnapshot> = events.pipe(untilDone(), accumulateContent(), retryWithBackoff({ jitter: 'equal' }));
const done: typeof DONE = DONE;
const retry: boolean = isRetryable(new HttpError(503, 'x'));
export { answer, done, retry };
`;

describe('the packed package', () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(join(root, 'dist', 'esm', 'index.js')) || !existsSync(join(root, 'dist', 'cjs', 'index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (`npm test` does it in pretest).');
    }
    dir = mkdtempSync(join(tmpdir(), 'rxjs-llm-stream-consumer-'));
    run(npm, ['pack', '--ignore-scripts', '--pack-destination', dir], root);
    const tarball = readdirSync(dir).find((name) => name.endsWith('.tgz'))!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const rxjs = require(join(root, 'node_modules', 'rxjs', 'package.json')).version as string;
    run(npm, ['install', `./${tarball}`, `rxjs@${rxjs}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], dir);
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships only dist, src (the source maps’ sources), the docs pages, the README, the changelog and package.json, with eventsource-parser as its one dependency; redis, ioredis and @opentelemetry/api optional peers', () => {
    const manifest = require(join(dir, 'node_modules', 'rxjs-llm-stream', 'package.json'));
    expect(Object.keys(manifest.dependencies)).toEqual(['eventsource-parser']);
    // rxjs, and redis or ioredis only for redisRelayStore (optional: nothing installs or imports them otherwise);
    // their ranges are the majors CI runs the store against (spec/support/redisClients.ts).
    // @opentelemetry/api only for rxjs-llm-stream/telemetry (optional too).
    expect(manifest.peerDependencies).toEqual({
      rxjs: expect.stringMatching(/^\^7\.8/),
      redis: '^4.7.1 || ^5.12.1 || ^6.4.0',
      ioredis: '^5.11.1 || ^6.1.0',
      '@opentelemetry/api': expect.stringMatching(/^\^1\./),
    });
    expect(manifest.peerDependenciesMeta).toEqual({ redis: { optional: true }, ioredis: { optional: true }, '@opentelemetry/api': { optional: true } });
    expect(manifest.sideEffects).toBe(false);
    const installed = join(dir, 'node_modules', 'rxjs-llm-stream');
    const files = readdirSync(installed).sort();
    expect(files.filter((name) => !['dist', 'src', 'docs', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(name))).toEqual([]);
    expect(readdirSync(join(installed, 'docs')).filter((name) => !name.endsWith('.md'))).toEqual([]);
  });

  it('has no install-time script (npm 11 warns about them): it builds on prepack', () => {
    const { scripts } = require(join(dir, 'node_modules', 'rxjs-llm-stream', 'package.json'));
    expect(Object.keys(scripts).filter((name) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(name))).toEqual([]);
    expect(scripts.prepack).toMatch(/build/);
  });

  it('promises Node 18+ to users and asks Node 20+ of contributors', () => {
    const manifest = require(join(dir, 'node_modules', 'rxjs-llm-stream', 'package.json'));
    expect(manifest.engines).toEqual({ node: '>=18' });
    expect(manifest.devEngines.runtime).toMatchObject({ name: 'node', version: '>=20' });
  });

  it('ships source maps whose sources are the shipped src/ files (once, not inlined), and no declaration maps', () => {
    const maps: string[] = [];
    const walk = (folder: string) => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.map')) maps.push(path);
      }
    };
    walk(join(dir, 'node_modules', 'rxjs-llm-stream', 'dist'));
    expect(maps.filter((path) => path.endsWith('.d.ts.map'))).toEqual([]);
    expect(maps.length).toBeGreaterThan(20);
    const withoutSources = maps.filter((path) => {
      const map = JSON.parse(readFileSync(path, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      const missing = map.sources.filter((source, i) => {
        const content = map.sourcesContent?.[i];
        return (typeof content !== 'string' || content === '') && !existsSync(resolve(dirname(path), source));
      });
      return missing.length > 0;
    });
    expect(withoutSources.map((path) => relative(dir, path))).toEqual([]);
    const inlined = maps.filter((path) => (JSON.parse(readFileSync(path, 'utf8')) as { sourcesContent?: unknown }).sourcesContent !== undefined);
    expect(inlined.map((path) => relative(dir, path))).toEqual([]);
  });

  it('has a README whose relative links point at files in the package', () => {
    const installed = join(dir, 'node_modules', 'rxjs-llm-stream');
    const readme = readFileSync(join(installed, 'README.md'), 'utf8').replace(/```[\s\S]*?```/g, '');
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target!).filter((target) => !/^[a-z]+:|^#/i.test(target));
    expect(targets.length).toBeGreaterThan(3);
    expect(targets.filter((target) => !existsSync(join(installed, decodeURIComponent(target.split('#')[0]!))))).toEqual([]);
  });

  it('can be imported as ESM and streams through the whole pipeline', () => {
    writeFileSync(join(dir, 'esm.mjs'), consumer(`import * as lib from 'rxjs-llm-stream';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);`));
    expect(JSON.parse(run(process.execPath, ['esm.mjs'], dir))).toEqual({ content: 'Hi there', done: 'symbol', name: 'HttpError' });
  });

  it('can be required as CommonJS and streams through the whole pipeline', () => {
    writeFileSync(join(dir, 'cjs.cjs'), consumer(`const lib = require('rxjs-llm-stream');`));
    expect(JSON.parse(run(process.execPath, ['cjs.cjs'], dir))).toEqual({ content: 'Hi there', done: 'symbol', name: 'HttpError' });
  });

  it('streams without @opentelemetry/api installed (an optional peer); only rxjs-llm-stream/telemetry needs it, and says so', () => {
    expect(existsSync(join(dir, 'node_modules', '@opentelemetry', 'api'))).toBe(false);
    const probe = (specifier: string, load: 'import' | 'require') =>
      load === 'import'
        ? `import(${JSON.stringify(specifier)}).then(() => 'loaded', (error) => String(error.message)).then((text) => process.stdout.write(text));`
        : `try { require(${JSON.stringify(specifier)}); process.stdout.write('loaded'); } catch (error) { process.stdout.write(String(error.message)); }`;
    for (const load of ['import', 'require'] as const) {
      const file = join(dir, `probe-${load}.${load === 'import' ? 'mjs' : 'cjs'}`);
      for (const entry of ['rxjs-llm-stream', 'rxjs-llm-stream/server', 'rxjs-llm-stream/testing']) {
        writeFileSync(file, probe(entry, load));
        expect([entry, load, run(process.execPath, [file], dir)]).toEqual([entry, load, 'loaded']);
      }
      writeFileSync(file, probe('rxjs-llm-stream/telemetry', load));
      expect(run(process.execPath, [file], dir)).toMatch(/@opentelemetry\/api/);
    }
  });

  it('shares DONE between its ESM and CJS copies', () => {
    writeFileSync(
      join(dir, 'both.mjs'),
      `import { DONE } from 'rxjs-llm-stream';\nimport { createRequire } from 'node:module';\nconst cjs = createRequire(import.meta.url)('rxjs-llm-stream');\nprocess.stdout.write(String(DONE === cjs.DONE));`,
    );
    expect(run(process.execPath, ['both.mjs'], dir)).toBe('true');
  });

  it("hands the ESM fold's appended text to the CJS partial JSON parser: it slices fragments, never the whole string", () => {
    // 2,000 fragments of a 200 KB document. Without the shared mark, the
    // parser slices each new fragment out of the whole string: strings up to
    // 200 KB long, about 2,000 × 100 KB in all.
    writeFileSync(
      join(dir, 'mark.mjs'),
      `import { Subject } from 'rxjs';
import { accumulateContent } from 'rxjs-llm-stream';
import { createRequire } from 'node:module';
const { parseJsonAsItStreams } = createRequire(import.meta.url)('rxjs-llm-stream');
let code = '';
for (let i = 0; code.length < 200000; i++) code += 'const value' + i + ' = "text ' + i + '";\\n';
const document = JSON.stringify({ code });
const chunks = new Subject();
let last;
chunks.pipe(accumulateContent(), parseJsonAsItStreams()).subscribe((value) => (last = value.partial));
const slice = String.prototype.slice;
let longest = 0;
String.prototype.slice = function (...bounds) {
  longest = Math.max(longest, this.length);
  return slice.apply(this, bounds);
};
for (let k = 0; k < 2000; k++) {
  const content = slice.call(document, Math.floor((k * document.length) / 2000), Math.floor(((k + 1) * document.length) / 2000));
  chunks.next({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
}
String.prototype.slice = slice;
process.stdout.write(JSON.stringify({ longest, same: JSON.stringify(last) === document }));`,
    );
    const { longest, same } = JSON.parse(run(process.execPath, ['mark.mjs'], dir)) as { longest: number; same: boolean };
    expect(same).toBe(true);
    expect(longest).toBeLessThan(1_000);
  });

  it('works across the rxjs copies: CJS operators between ESM rxjs sources and operators stop a synchronous source at DONE or at take(1)', () => {
    // untilDone and accumulateContent subscribe through a linked subscriber of
    // their own rxjs copy; the other copy must call it directly and close it
    // when its consumer leaves, or a synchronous source runs on past the end.
    writeFileSync(
      join(dir, 'copies.mjs'),
      `import { config, from, take } from 'rxjs';
import { createRequire } from 'node:module';
const lib = createRequire(import.meta.url)('rxjs-llm-stream');
const cjsConfig = createRequire(import.meta.url)('rxjs').config;
const stopped = [];
config.onStoppedNotification = cjsConfig.onStoppedNotification = (notification) => stopped.push(notification.kind);
const chunk = (content) => ({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
function* recording(values, read) {
  for (const value of values) {
    read.push(value);
    yield value;
  }
}
const read = [];
const seen = [];
from(recording([chunk('a'), chunk('b'), lib.DONE, chunk('c')], read))
  .pipe(lib.untilDone(), lib.accumulateContent())
  .subscribe({ next: (snapshot) => seen.push(snapshot.content), complete: () => seen.push('|') });
const readTaken = [];
const taken = [];
from(recording([chunk('a'), chunk('b'), chunk('c'), lib.DONE], readTaken))
  .pipe(lib.untilDone(), lib.accumulateContent(), take(1))
  .subscribe({ next: (snapshot) => taken.push(snapshot.content), complete: () => taken.push('|') });
process.stdout.write(JSON.stringify({ seen, read: read.length, taken, readTaken: readTaken.length, stopped }));`,
    );
    expect(JSON.parse(run(process.execPath, ['copies.mjs'], dir))).toEqual({ seen: ['a', 'ab', '|'], read: 3, taken: ['a', '|'], readTaken: 1, stopped: [] });
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
    ['commonjs', { module: 'commonjs', moduleResolution: 'node10' }],
  ])('type-checks a consumer under strict with %s resolution', (_name, compilerOptions) => {
    writeFileSync(join(dir, 'consumer.ts'), typed);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], types: [] }, files: ['consumer.ts'] }),
    );
    expect(() => run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir)).not.toThrow();
  });

  /** Every entry point, as an app on an older template (Nest, Angular or Jest with `moduleResolution: node10`) imports them. */
  const typedSubpaths = `
import { fromChatCompletion, isHttpError } from 'rxjs-llm-stream';
import { createRelay, RELAY, toServerSentEvents, type Relay } from 'rxjs-llm-stream/server';
import { startMockChatServer, type MockChatServerOptions } from 'rxjs-llm-stream/testing';
import { fromHttpClient, type HttpClientLike } from 'rxjs-llm-stream/angular';
const relay: Relay = createRelay();
const token: symbol = RELAY;
const options: MockChatServerOptions = { basePaths: ['/v1'] };
declare const http: HttpClientLike;
export { relay, token, options, fromChatCompletion, isHttpError, toServerSentEvents, startMockChatServer, fromHttpClient, http };
`;

  it.each([
    ['node10 + commonjs (older Nest, Angular and Jest templates)', { module: 'commonjs', moduleResolution: 'node10' }],
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('resolves the types of all four entry points with %s resolution (typesVersions for node10)', (_name, compilerOptions) => {
    writeFileSync(join(dir, 'subpaths.ts'), typedSubpaths);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      // The server and testing entry points are for Node: their types need @types/node (taken from this repository's install).
      JSON.stringify({
        compilerOptions: { ...compilerOptions, strict: true, noEmit: true, target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
        files: ['subpaths.ts'],
      }),
    );
    expect(() => run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir)).not.toThrow();
  });

  it('needs lib ES2022 (ErrorOptions), as the README says: with ES2021 the error classes do not type-check', () => {
    writeFileSync(join(dir, 'lib.ts'), `import { HttpError } from 'rxjs-llm-stream';\nexport const error = new HttpError(500, 'x');\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'commonjs', moduleResolution: 'node10', strict: true, noEmit: true, target: 'es2021', lib: ['es2021', 'dom'], types: [] }, files: ['lib.ts'] }),
    );
    let output = '';
    try {
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toMatch(/ErrorOptions/);
  });

  it('unpacks to at most 4.2 MB (the budget; sources are shipped once, never inlined into the maps)', () => {
    const [packed] = JSON.parse(run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], root)) as Array<{ unpackedSize: number; files: Array<{ path: string; size: number }> }>;
    const sizeOf = (test: (path: string) => boolean) => packed!.files.filter((file) => test(file.path)).reduce((sum, file) => sum + file.size, 0);
    process.stdout.write(
      `unpacked ${packed!.unpackedSize} bytes: maps ${sizeOf((path) => path.endsWith('.map'))}, src ${sizeOf((path) => path.startsWith('src/'))}, js ${sizeOf((path) => path.endsWith('.js'))}, d.ts ${sizeOf((path) => path.endsWith('.d.ts'))}\n`,
    );
    expect(packed!.unpackedSize).toBeLessThanOrEqual(4_200_000); // 3.45 MB with wave 3 (relay, Redis clients, Durable Streams reading, telemetry), 3.88 MB with the Durable Streams server (durableLogResponse and its memory and Redis stores: 0.32 MB) and the store reconnect reports, 4.00 MB with the Redis store's entries shown before they are stored and its remote windows; inlined sources would add about 1.3 MB
  });

  it('fails the type-check of a consumer that misuses the API', () => {
    writeFileSync(join(dir, 'wrong.ts'), `import { retryWithBackoff } from 'rxjs-llm-stream';\nretryWithBackoff({ jitter: 'sometimes' });\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: [] }, files: ['wrong.ts'] }),
    );
    let output = '';
    try {
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toMatch(/wrong\.ts.*'"sometimes"'/);
  });
});
