// Packs the built package once and checks it with publint and
// @arethetypeswrong/cli (types resolve for ESM, CJS and bundlers).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'rxjs-llm-stream-pack-'));
const run = (command, args) => execFileSync(command, args, { stdio: 'inherit' });
try {
  run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir]);
  const tarball = join(dir, readdirSync(dir).find((name) => name.endsWith('.tgz')));
  run('npx', ['--no-install', 'publint', '--strict', tarball]);
  run('npx', ['--no-install', 'attw', tarball]); // the strict profile: node10 too (typesVersions), node16 from CJS and ESM, bundler
} finally {
  rmSync(dir, { recursive: true, force: true });
}
