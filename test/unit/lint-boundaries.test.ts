import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

/**
 * The import boundaries of biome.json, run by the real Biome on probe files laid out like the repository:
 * workflow, cycle, condition and model code run inside Temporal's deterministic workflow sandbox.
 */
const root = join(import.meta.dirname, '..', '..');
const biome = join(root, 'node_modules', '.bin', 'biome');

const reportSchema = z.object({
  diagnostics: z.array(
    z.object({
      category: z.string(),
      message: z.string(),
      location: z.object({ path: z.string(), start: z.object({ line: z.number() }).optional() }),
    }),
  ),
});

const probe = [
  "import type { TaskActivities } from '../activities';",
  "import { activities } from '../activities';",
  "import { readFileSync } from 'node:fs';",
  "import { createHash } from 'crypto';",
  "import { diffData } from '../runtime/diff';",
  "import { isJsonObject } from '../model/json';",
  'export type Activities = TaskActivities;',
  'export const used = [activities, readFileSync, createHash, diffData, isJsonObject];',
  '',
].join('\n');

let workspace: string;
let findings: Array<{ file: string; line: number; category: string; message: string }>;

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'whenflow-lint-'));
  // The repository's configuration and plugin, without the git integration (the copy is no repository).
  const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8')) as Record<string, unknown>;
  delete config.$schema;
  delete config.vcs;
  writeFileSync(join(workspace, 'biome.json'), JSON.stringify(config));
  cpSync(join(root, 'scripts', 'lint'), join(workspace, 'scripts', 'lint'), { recursive: true });
  for (const folder of ['workflows', 'cycle', 'conditions', 'model', 'runtime']) {
    mkdirSync(join(workspace, 'src', folder), { recursive: true });
    writeFileSync(join(workspace, 'src', folder, 'probe.ts'), probe);
  }
  const result = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=none', 'src'], { cwd: workspace, encoding: 'utf8' });
  findings = reportSchema.parse(JSON.parse(result.stdout)).diagnostics.map((d) => ({
    file: d.location.path.replace(/\\/g, '/'),
    line: d.location.start?.line ?? 0,
    category: d.category,
    message: d.message,
  }));
});

afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** The probe's lines that broke a boundary rule in `folder`. */
function boundaryLines(folder: string): number[] {
  const boundary = new Set(['plugin', 'lint/correctness/noNodejsModules', 'lint/style/noRestrictedImports']);
  return findings
    .filter((f) => f.file === `src/${folder}/probe.ts` && boundary.has(f.category))
    .map((f) => f.line)
    .sort((a, b) => a - b);
}

describe('import boundaries', () => {
  it('workflow code may import activity types, but no activity module, Node module or src/runtime', () => {
    expect(boundaryLines('workflows')).toEqual([2, 3, 4, 5]);
    const activityImport = findings.find((f) => f.file === 'src/workflows/probe.ts' && f.line === 2);
    expect(activityImport?.message).toContain('import type');
  });

  it('cycle, condition and model code may not import src/activities at all, nor Node modules or src/runtime', () => {
    expect(boundaryLines('cycle')).toEqual([1, 2, 3, 4, 5]);
    expect(boundaryLines('conditions')).toEqual([1, 2, 3, 4, 5]);
    expect(boundaryLines('model')).toEqual([1, 2, 3, 4, 5]);
  });

  it('other code is free to use Node and the runtime', () => {
    expect(boundaryLines('runtime')).toEqual([]);
  });
});
