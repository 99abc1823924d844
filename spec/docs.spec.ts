/**
 * The documentation keeps its promises:
 *
 * - every ```ts block of README.md and docs/*.md compiles under `strict` and
 *   `exactOptionalPropertyTypes` against the package's own src (the package
 *   names map to src through `paths`). Placeholders a block uses are declared
 *   in an HTML comment right before it: `<!-- preamble: declare const x: T; -->`.
 *   A block that is not meant to compile says so right before it:
 *   `<!-- not-compiled: why -->`;
 * - every sample output marked `<!-- sample-output: node SCRIPT ARGS -->`
 *   is what the script prints today (`…` or `...` stands for any text; port
 *   numbers, jittered delays, times and the server's peak of open requests
 *   vary from run to run and are not compared);
 * - every relative link points at a file that exists;
 * - the TypeDoc reference builds without warnings (`npm run docs`).
 *
 * New pages in docs/ are picked up by themselves.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';
import { ensureBuilt, ROOT } from './support/ensureBuilt';
import { runScript } from './support/runScript';

interface Block {
  file: string;
  line: number;
  heading: string;
  lang: string;
  code: string;
  /** The HTML comments right before the block (only blank lines between), in order. */
  markers: string[];
}

/** README.md and every Markdown page under docs/ (the generated docs/api aside). */
function documentationFiles(): string[] {
  const pages: string[] = [];
  const walk = (directory: string) => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory() && path !== join(ROOT, 'docs', 'api')) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) pages.push(path);
    }
  };
  if (existsSync(join(ROOT, 'docs'))) walk(join(ROOT, 'docs'));
  return [join(ROOT, 'README.md'), ...pages.sort()];
}

/** The fenced code blocks of a Markdown file, with the comments that precede each. */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, '');
    const fence = /^(\s*)(```+)\s*([\w-]*)/.exec(line);
    if (!fence) continue;
    const [, indent, ticks, lang] = fence;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(ticks!)) end++;
    const code = lines
      .slice(i + 1, end)
      .map((text) => (text.startsWith(indent!) ? text.slice(indent!.length) : text))
      .join('\n');
    blocks.push({ file, line: i + 1, heading, lang: lang!.toLowerCase(), code, markers: commentsBefore(lines, i) });
    i = end;
  }
  return blocks;
}

/** The HTML comments that end right above line `index`, nearest last. */
function commentsBefore(lines: string[], index: number): string[] {
  const found: string[] = [];
  let i = index - 1;
  while (i >= 0) {
    if (lines[i]!.trim() === '') {
      i--;
      continue;
    }
    if (!lines[i]!.trim().endsWith('-->')) break;
    let start = i;
    while (start >= 0 && !lines[start]!.includes('<!--')) start--;
    if (start < 0) break;
    found.unshift(lines.slice(start, i + 1).join('\n').trim());
    i = start - 1;
  }
  return found;
}

const marker = (block: Block, kind: string) => {
  const prefix = new RegExp(`^<!--\\s*${kind}:\\s*`);
  const found = block.markers.find((comment) => prefix.test(comment));
  return found === undefined ? undefined : found.replace(prefix, '').replace(/\s*-->$/, '');
};

const where = (block: Block) => `${relative(ROOT, block.file)}:${block.line} (${block.heading})`;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

/** The anchors of a Markdown file's headings. */
const anchorsOf = (file: string) =>
  new Set([...readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)].map(([, title]) => slug(title!)));

const files = documentationFiles();
const blocks = files.flatMap(blocksOf);
const tsBlocks = blocks.filter((block) => ['ts', 'typescript'].includes(block.lang));
const compiled = tsBlocks.filter((block) => marker(block, 'not-compiled') === undefined);

/**
 * Just enough of Angular's public API, with its real signatures, for the
 * Angular snippets to type-check without installing Angular here.
 */
const ANGULAR_STUBS = `
declare module '@angular/core' {
  export class InjectionToken<T> {
    constructor(description: string, options?: { providedIn?: 'root'; factory: () => T });
    protected readonly __type?: T;
  }
  export type ProviderToken<T> = (abstract new (...args: any[]) => T) | InjectionToken<T>;
  export function inject<T>(token: ProviderToken<T>): T;
  export function Injectable(options?: { providedIn?: 'root' | 'platform' | 'any' | null }): ClassDecorator;
  export enum ChangeDetectionStrategy { OnPush = 0, Default = 1 }
  export function Component(options: { selector?: string; template?: string; styles?: string | string[]; imports?: unknown[]; standalone?: boolean; changeDetection?: ChangeDetectionStrategy }): ClassDecorator;
  export interface Signal<T> { (): T }
  export interface WritableSignal<T> extends Signal<T> { set(value: T): void; update(updateFn: (value: T) => T): void }
  export function signal<T>(initialValue: T): WritableSignal<T>;
  export function computed<T>(computation: () => T): Signal<T>;
  export interface EnvironmentProviders { readonly ɵbrand: 'EnvironmentProviders' }
  export function provideZonelessChangeDetection(): EnvironmentProviders;
  export class DestroyRef { onDestroy(callback: () => void): () => void }
}
declare module '@angular/core/rxjs-interop' {
  import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
  import type { Signal } from '@angular/core';
  export function toSignal<T>(source: Observable<T>): Signal<T | undefined>;
  export function toSignal<T, const U extends T | null | undefined>(source: Observable<T>, options: { initialValue: U }): Signal<T | U>;
  export function takeUntilDestroyed<T>(): MonoTypeOperatorFunction<T>;
}
declare module '@angular/common/http' {
  import type { Observable } from 'rxjs';
  import type { EnvironmentProviders } from '@angular/core';
  export class HttpHeaders {
    keys(): string[];
    get(name: string): string | null;
    getAll(name: string): string[] | null;
    set(name: string, value: string): HttpHeaders;
  }
  export type HttpEvent<T> =
    | { type: 0 }
    | { type: 1; loaded: number; total?: number }
    | { type: 2; status: number; statusText: string; headers: HttpHeaders; url: string | null }
    | { type: 3; loaded: number; total?: number; partialText?: string }
    | { type: 4; status: number; statusText: string; headers: HttpHeaders; body: T | null }
    | { type: 5 };
  export class HttpRequest<T> {
    readonly url: string;
    readonly method: string;
    readonly body: T | null;
    readonly headers: HttpHeaders;
    clone(update: { setHeaders?: { [name: string]: string | string[] }; url?: string }): HttpRequest<T>;
  }
  export type HttpHandlerFn = (request: HttpRequest<unknown>) => Observable<HttpEvent<unknown>>;
  export type HttpInterceptorFn = (request: HttpRequest<unknown>, next: HttpHandlerFn) => Observable<HttpEvent<unknown>>;
  export class HttpClient {
    request(
      method: string,
      url: string,
      options: { body?: any; headers?: HttpHeaders | Record<string, string | string[]>; observe: 'events'; reportProgress?: boolean; responseType: 'text'; withCredentials?: boolean },
    ): Observable<HttpEvent<string>>;
    post<T>(url: string, body: unknown): Observable<T>;
  }
  export interface HttpFeature { readonly ɵkind: number }
  export function provideHttpClient(...features: HttpFeature[]): EnvironmentProviders;
  export function withFetch(): HttpFeature;
  export function withInterceptors(interceptorFns: HttpInterceptorFn[]): HttpFeature;
}
declare module '@angular/platform-browser' {
  export function bootstrapApplication(rootComponent: abstract new (...args: any[]) => unknown, options?: { providers: unknown[] }): Promise<unknown>;
}
`;

const SNIPPETS = join(ROOT, '.doc-snippets');
const snippetPath = (index: number) => join(SNIPPETS, `block${index}.ts`);
const snippetSource = (block: Block) => `${marker(block, 'preamble') ?? ''}\n${block.code}\nexport {};\n`;

/** Type-checks every compiled block in one program; returns the messages per block. */
function typeCheck(): string[][] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    experimentalDecorators: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node', 'jest'],
    baseUrl: ROOT,
    paths: {
      'rxjs-llm-stream': ['src/index.ts'],
      'rxjs-llm-stream/testing': ['src/testing/index.ts'],
      'rxjs-llm-stream/angular': ['src/angular/index.ts'],
      'rxjs-llm-stream/server': ['src/server/index.ts'],
      'rxjs-llm-stream/telemetry': ['src/telemetry/index.ts'],
    },
  };
  const stubs = join(SNIPPETS, 'angular-stubs.d.ts');
  const virtual = new Map<string, string>([[stubs, ANGULAR_STUBS]]);
  compiled.forEach((block, index) => virtual.set(snippetPath(index), snippetSource(block)));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) => {
    const text = virtual.get(resolve(name));
    return text === undefined ? getSourceFile(name, languageVersion, ...rest) : ts.createSourceFile(name, text, languageVersion, true);
  };
  host.fileExists = (name) => virtual.has(resolve(name)) || fileExists(name);
  host.readFile = (name) => virtual.get(resolve(name)) ?? readFile(name);
  const program = ts.createProgram([...virtual.keys()], options, host);
  return compiled.map((_, index) => {
    const file = program.getSourceFile(snippetPath(index))!;
    const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
    const preambleLines = (marker(compiled[index]!, 'preamble') ?? '').split('\n').length;
    return diagnostics.map((diagnostic) => {
      const line = diagnostic.start === undefined ? 0 : file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 - preambleLines;
      return `block line ${line}: TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
  });
}

describe('the documentation', () => {
  it('is README.md and every Markdown page under docs/', () => {
    const names = files.map((file) => relative(ROOT, file));
    expect(names[0]).toBe('README.md');
    const docs = existsSync(join(ROOT, 'docs')) ? readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')) : [];
    expect(names.filter((name) => dirname(name) === 'docs').sort()).toEqual(docs.map((name) => `docs/${name}`).sort());
  });

  it('has TypeScript blocks to check, and marks few as not compiled, each with a reason', () => {
    expect(compiled.length).toBeGreaterThan(10);
    const skipped = tsBlocks.filter((block) => marker(block, 'not-compiled') !== undefined);
    expect(skipped.filter((block) => marker(block, 'not-compiled')!.trim().length < 10).map(where)).toEqual([]);
    // A block that shows a file of an example app (`<!-- file: ... -->`) is compiled by that app's own build and checked
    // equal to the file by spec/docsFiles.spec.ts: it does not count against the few.
    expect(skipped.filter((block) => marker(block, 'file') === undefined).length).toBeLessThanOrEqual(3);
  });

  describe('every ```ts block compiles under strict and exactOptionalPropertyTypes', () => {
    let results: string[][];
    beforeAll(() => {
      results = typeCheck();
    }, 120_000);

    it.each(compiled.map((block, index) => [where(block), index] as const))('%s', (_name, index) => {
      expect(results[index]).toEqual([]);
    });
  });

  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [path, anchor] = decodeURIComponent(target!).split('#') as [string, string | undefined];
        if (path.startsWith('docs/api') || path.startsWith('api/')) continue; // generated by `npm run docs`
        const resolved = path === '' ? file : resolve(dirname(file), path);
        if (!existsSync(resolved)) broken.push(`${relative(ROOT, file)}: ${target}`);
        else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${relative(ROOT, file)}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('has a table of contents that links to the README\'s sections', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const contents = readme.slice(readme.indexOf('## Contents'), readme.indexOf('\n## ', readme.indexOf('## Contents') + 1));
    const links = [...contents.matchAll(/\]\(#([^)]+)\)/g)].map(([, anchor]) => anchor!);
    expect(links.length).toBeGreaterThan(8);
    const sections = [...readme.replace(/```[\s\S]*?```/g, '').matchAll(/^## (.+)$/gm)].map(([, title]) => slug(title!)).filter((name) => name !== 'contents');
    expect(sections.filter((section) => !links.includes(section))).toEqual([]);
  });

  describe('sample outputs are what the scripts print', () => {
    const samples = blocks.filter((block) => marker(block, 'sample-output') !== undefined || marker(block, 'sample-output any-order') !== undefined);
    beforeAll(() => ensureBuilt(), 120_000);

    /** Volatile figures (ports, jittered delays, times) become placeholders on both sides. */
    const normalize = (text: string) =>
      text
        .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
        .replace(/retry (\d+) in \d+ ms \((?!HttpError)/g, 'retry $1 in N ms (')
        .replace(/elapsed: [\d.]+ s/g, 'elapsed: N s')
        .replace(/"ms":\d+/g, '"ms":N')
        .replace(/"peakOpenRequests":\d+/g, '"peakOpenRequests":N');
    const pattern = (line: string) =>
      new RegExp(`^${normalize(line).split(/…|\.\.\./).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'u');

    it('there is at least the demo', () => {
      expect(samples.map((block) => marker(block, 'sample-output') ?? marker(block, 'sample-output any-order'))).toContain('node demo/demo.mjs');
    });

    it.each(samples.map((block) => [where(block), block] as const))('%s', async (_name, block) => {
      const anyOrder = marker(block, 'sample-output') === undefined;
      const [script, ...args] = (marker(block, 'sample-output') ?? marker(block, 'sample-output any-order'))!.split(/\s+/).slice(1);
      const { code, stdout, stderr } = await runScript(join(ROOT, script!), args, { env: { ...process.env, NO_COLOR: '1' }, limitMs: 60_000 });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const actual = normalize(stdout).replace(/\n+$/, '').split('\n');
      const expected = block.code.replace(/\n+$/, '').split('\n');
      if (anyOrder) {
        // Each sample line matches some output line; a line of only "…" stands for lines left out.
        const unmatched = expected.filter((line) => line.trim() !== '…' && !actual.some((output) => pattern(line).test(output)));
        expect({ unmatched, printed: unmatched.length === 0 ? [] : actual }).toEqual({ unmatched: [], printed: [] });
      } else {
        expect(actual.length).toBe(expected.length);
        const mismatched = expected.map((line, i) => (pattern(line).test(actual[i]!) ? null : { sample: line, printed: actual[i] })).filter(Boolean);
        expect(mismatched).toEqual([]);
      }
    }, 70_000);
  });

  it('builds the TypeDoc reference without a warning (npm run docs, validation only)', () => {
    const typedoc = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const output = execFileSync(process.execPath, [typedoc, '--emit', 'none'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    expect(output).not.toMatch(/\[warning\]|\[error\]/);
  }, 200_000);
});
