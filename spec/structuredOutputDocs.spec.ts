import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';

const root = join(__dirname, '..');
const markdown = readFileSync(join(root, 'docs', 'structured-output.md'), 'utf8');
// The whole-module examples (they import what they use); the shorter blocks with a preamble are
// compiled by spec/docs.spec.ts.
const examples = [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!).filter((source) => /^import /m.test(source));

/** The previous program, so a second check reuses the library's and zod's parsed files. */
let previous: ts.Program | undefined;

/** Type-checks each example as its own module, with `rxjs-llm-stream` resolved to src/index.ts; returns the messages. */
function typeCheck(sources: string[]): string[] {
  const files = new Map(sources.map((source, i) => [join(root, 'spec', `docs-example-${i}.ts`), source]));
  const options: ts.CompilerOptions = {
    ...ts.convertCompilerOptionsFromJson(JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')).compilerOptions, root).options,
    noEmit: true,
    noUnusedLocals: false,
    baseUrl: root,
    paths: { 'rxjs-llm-stream': ['src/index.ts'] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    files.has(name) ? ts.createSourceFile(name, files.get(name)!, language) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const program = ts.createProgram([...files.keys()], options, host, previous);
  previous = program;
  return [...files.keys()].flatMap((name) =>
    ts.getPreEmitDiagnostics(program, program.getSourceFile(name)).map((d) => `${name.slice(root.length)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`),
  );
}

describe('docs/structured-output.md', () => {
  it('has an example for each provider and one for retrying a mismatch', () => {
    expect(examples).toHaveLength(2);
    for (const source of ['fromChatCompletion', 'fromAnthropicMessages', 'fromGeminiContent', "tool_choice: { type: 'tool'", 'responseSchema', "type: 'json_schema'"]) {
      expect(examples[0]).toContain(source);
    }
  });

  it('has examples that type-check against the library and zod', () => {
    expect(typeCheck(examples)).toEqual([]);
  }, 180_000);

  it('would report a wrong example (the check is not vacuous)', () => {
    const wrong = examples[0]!.replace('parseJsonAsItStreams({ schema: Forecast })', 'parseJsonAsItStreams({ schema: Forecast, answerFrom: 42 })');
    expect(typeCheck([wrong]).length).toBeGreaterThan(0);
  }, 180_000);
});
