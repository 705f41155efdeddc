import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The README and docs/ link to each other by file and heading; moving a section must not leave a link
 * behind, and no link may leave the repository.
 */
const root = join(import.meta.dirname, '..', '..');
const markdownFiles = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(root, 'examples'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => `examples/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (heading) anchors.add(slug(heading[1]!));
  }
  return anchors;
}

function linksOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^(https?:|mailto:)/.test(target));
}

describe('links of the README and docs/', () => {
  for (const file of markdownFiles) {
    it(`${file}: every relative link names a file of the repository, and a heading of it`, () => {
      const broken: string[] = [];
      for (const target of linksOf(join(root, file))) {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? join(root, file) : resolve(dirname(join(root, file)), path);
        if (relative(root, resolved).startsWith('..')) broken.push(`${target} (outside the repository)`);
        else if (!existsSync(resolved)) broken.push(`${target} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${target} (no such heading)`);
      }
      expect(broken).toEqual([]);
    });
  }
});

/** Every file under `dir` whose name ends with one of `extensions`. */
function filesUnder(dir: string, extensions: string[]): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => extensions.some((ext) => f.endsWith(ext)))
    .map((f) => join(dir, f));
}

describe('source comments that cite docs/semantics.md', () => {
  // `docs/semantics.md "Parallel batches"`: the quoted name begins a heading of the page.
  const headings = [...anchorsOf(join(root, 'docs', 'semantics.md'))];
  for (const file of filesUnder('src', ['.ts', '.mjs'])) {
    const cited = [...readFileSync(join(root, file), 'utf8').matchAll(/docs\/semantics\.md,? "([^"]+)"/g)].map((m) => m[1]!);
    if (cited.length === 0) continue;
    it(`${file}: every section it names is a heading of docs/semantics.md`, () => {
      expect(cited.filter((name) => !headings.some((anchor) => anchor.startsWith(slug(name))))).toEqual([]);
    });
  }
});
