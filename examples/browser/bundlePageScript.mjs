// Bundles a page script for the browser, in memory, with esbuild: given as
// source text (JavaScript) or as a file (`{ entry }`, TypeScript too), its
// imports of rxjs and rxjs-llm-stream resolve from `root` (the package's own
// "exports", so `npm run build` first).
import { build } from 'esbuild';

/** Returns the bundled script's bytes, ready to serve as /main.js. `script`: source text, or `{ entry: path }`. */
export async function bundlePageScript(script, root) {
  const input = typeof script === 'string' ? { stdin: { contents: script, resolveDir: root, loader: 'js' } } : { entryPoints: [script.entry] };
  const bundle = await build({
    ...input,
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return bundle.outputFiles[0].contents;
}
