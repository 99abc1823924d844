/**
 * Leaving out `untilDone()` is a compile error that names the missing
 * operator: the snippet below is compiled with the TypeScript API against the
 * package's src, and the message text must say `untilDone`. The same pipeline
 * with `untilDone()` must compile, so the check cannot pass by refusing both.
 */
import { join } from 'node:path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..');

/** The diagnostics of one virtual file next to the specs, compiled strictly. */
function diagnosticsOf(code: string): string[] {
  const fileName = join(ROOT, 'spec', '__missingUntilDone.snippet.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = ((exists) => (name: string) => name === fileName || exists(name))(host.fileExists.bind(host));
  host.readFile = (name) => (name === fileName ? code : readFile(name));
  host.getSourceFile = (name, language, onError, create) =>
    name === fileName ? ts.createSourceFile(name, code, language, true) : getSourceFile(name, language, onError, create);
  const program = ts.createProgram([fileName], options, host);
  const source = program.getSourceFile(fileName);
  return ts
    .getPreEmitDiagnostics(program, source)
    .filter((diagnostic) => diagnostic.file?.fileName === fileName)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

const pipeline = (operators: string) => `
import { fromChatCompletion, untilDone, accumulateContent } from '../src/index.js';
void untilDone;
export const text = fromChatCompletion({ body: { model: 'm', messages: [{ role: 'user', content: 'Hi' }] } })
  .pipe(${operators});
`;

describe('a pipeline without untilDone()', () => {
  it('fails to compile with a message that names untilDone', () => {
    const messages = diagnosticsOf(pipeline('accumulateContent()'));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('UseUntilDoneBeforeAccumulateContent');
    expect(messages[0]).toMatch(/untilDone/i);
  }, 180_000);

  it('compiles once untilDone() comes first', () => {
    expect(diagnosticsOf(pipeline('untilDone(), accumulateContent()'))).toEqual([]);
  }, 180_000);
});
