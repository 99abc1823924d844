import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A documentation block marked `<!-- file: PATH -->` shows a file of the
 * repository (an example app that CI builds and runs): it must be that file,
 * byte for byte, so the page can never show code that was not tested.
 */
const ROOT = join(__dirname, '..');
const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

interface FileBlock {
  page: string;
  path: string;
  code: string;
}

function fileBlocks(page: string): FileBlock[] {
  const text = readFileSync(join(ROOT, page), 'utf8');
  const found: FileBlock[] = [];
  for (const match of text.matchAll(/<!-- file: (\S+) -->\n(?:<!--[\s\S]*?-->\n)*```\w*\n([\s\S]*?)\n```/g)) {
    found.push({ page, path: match[1]!, code: match[2]! });
  }
  return found;
}

const blocks = pages.flatMap(fileBlocks);

describe('documentation blocks that show a file', () => {
  it('docs/nestjs.md shows the NestJS example’s module, controller and main.ts', () => {
    expect(blocks.filter((block) => block.page === 'docs/nestjs.md').map((block) => block.path)).toEqual([
      'examples/nestjs-relay/src/relay.module.ts',
      'examples/nestjs-relay/src/chat.controller.ts',
      'examples/nestjs-relay/src/main.ts',
    ]);
  });

  it.each(blocks.map((block) => [`${block.page}: ${block.path}`, block] as const))('%s is the file, byte for byte', (_, block) => {
    expect(block.code).toBe(readFileSync(join(ROOT, block.path), 'utf8').replace(/\n$/, ''));
  });

  it('every file marker is followed by a code block', () => {
    const markers = pages.flatMap((page) => [...readFileSync(join(ROOT, page), 'utf8').matchAll(/<!-- file: (\S+) -->/g)].map((match) => `${page}: ${match[1]}`));
    expect(markers).toEqual(blocks.map((block) => `${block.page}: ${block.path}`));
  });
});
