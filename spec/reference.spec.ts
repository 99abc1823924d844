import { join } from 'node:path';
import ts from 'typescript';

/**
 * The API reference (TypeDoc, `npm run docs`) has four named entry points,
 * and every value they export (function, class, constant; the error classes
 * and guards too) carries an `@example` in its TSDoc.
 */
const ROOT = join(__dirname, '..');
const ENTRY_POINTS: Record<string, string> = {
  'rxjs-llm-stream': 'src/index.ts',
  'rxjs-llm-stream/server': 'src/server/index.ts',
  'rxjs-llm-stream/testing': 'src/testing/index.ts',
  'rxjs-llm-stream/angular': 'src/angular/index.ts',
};

const program = ts.createProgram(
  Object.values(ENTRY_POINTS).map((path) => join(ROOT, path)),
  { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], strict: true, noEmit: true, types: ['node'] },
);
const checker = program.getTypeChecker();

function exportsOf(path: string): ts.Symbol[] {
  const file = program.getSourceFile(join(ROOT, path))!;
  return checker.getExportsOfModule(checker.getSymbolAtLocation(file)!);
}

const isValue = (symbol: ts.Symbol) => (symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Variable)) !== 0;
const resolved = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

describe('the API reference', () => {
  it.each(Object.entries(ENTRY_POINTS))('%s names itself with @module and shows an @example', (name, path) => {
    const text = program.getSourceFile(join(ROOT, path))!.getFullText();
    const head = /^\/\*\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
    expect(head).toContain(`@module ${name}\n`);
    expect(head).toContain('@example');
  });

  it.each(Object.entries(ENTRY_POINTS))('every value %s exports has an @example', (_name, path) => {
    const values = exportsOf(path).map(resolved).filter(isValue);
    expect(values.length).toBeGreaterThan(0);
    const withoutExample = values.filter((symbol) => !symbol.getJsDocTags(checker).some((tag) => tag.name === 'example')).map((symbol) => symbol.getName());
    expect(withoutExample).toEqual([]);
  });

  it('exports no internals: StandardSchemaV1 and HTTP_EVENT_TYPE stay inside', () => {
    const names = Object.values(ENTRY_POINTS).flatMap((path) => exportsOf(path).map((symbol) => symbol.getName()));
    expect(names).not.toContain('StandardSchemaV1');
    expect(names).not.toContain('HTTP_EVENT_TYPE');
    expect(names).toContain('fromHttpClient');
  });
});
