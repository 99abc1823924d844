// Bundles a page script given as source text for the browser, in memory, with
// esbuild: its imports of rxjs and rxjs-llm-stream resolve from `root` (the
// package's own "exports", so `npm run build` first).
import { build } from 'esbuild';

/** Returns the bundled script's bytes, ready to serve as /main.js. */
export async function bundlePageScript(source, root) {
  const bundle = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
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
