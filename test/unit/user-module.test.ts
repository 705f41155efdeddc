import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnectors } from '../../src/connectors';
import { loadLibraries } from '../../src/steps/libraries';
import { loadStepFiles } from '../../src/steps/step-files';
import { describeLoadFailure } from '../../src/workspace/user-module';

let workspace: string;

/** The same broken source as a step, a connector and a library, in .ts and .mjs. */
const BROKEN = 'export const a = 1;\nexport const b = {;\n';
const THROWS = "export const a = 1;\nthrow new Error('not configured');\n";

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'whenflow-user-module-'));
  for (const folder of ['steps', 'connectors', 'libraries']) {
    await mkdir(join(workspace, folder));
    await writeFile(join(workspace, folder, 'broken_ts.ts'), BROKEN);
    await writeFile(join(workspace, folder, 'broken_mjs.mjs'), BROKEN);
    await writeFile(join(workspace, folder, 'throws.mjs'), THROWS);
  }
});

afterAll(async () => {
  await rm(workspace, { recursive: true, force: true });
});

describe('one loader for step files, connectors and libraries', () => {
  it('a syntax error reads the same for every kind of module and extension: what, line, column and the line', async () => {
    const steps = (await loadStepFiles(workspace)).problems;
    const connectors = (await loadConnectors(workspace)).problems;
    const libraries = (await loadLibraries(workspace)).problems;
    const syntaxMessages = [...steps, ...connectors, ...libraries].filter((p) => p.file.includes('broken_')).map((p) => p.message);
    expect(syntaxMessages).toHaveLength(6);
    expect(new Set(syntaxMessages)).toEqual(
      new Set(['cannot load: syntax error: Expected identifier but found ";" at line 2, column 19 — export const b = {;']),
    );
  });

  it('an error thrown while loading keeps its own message; a library also says where it was thrown', async () => {
    const steps = (await loadStepFiles(workspace)).problems;
    const connectors = (await loadConnectors(workspace)).problems;
    const libraries = (await loadLibraries(workspace)).problems;
    const thrown = (problems: { file: string; message: string }[]) => problems.find((p) => p.file.endsWith('throws.mjs'))?.message;
    expect(thrown(steps)).toBe('cannot load: not configured');
    expect(thrown(connectors)).toBe('cannot load: not configured');
    expect(thrown(libraries)).toBe("cannot load: not configured at line 2, column 7 — throw new Error('not configured');");
  });

  it('describeLoadFailure leaves out what is not known', () => {
    expect(describeLoadFailure({ reason: 'Cannot find module "x"', syntax: false })).toBe('cannot load: Cannot find module "x"');
    expect(describeLoadFailure({ reason: 'Unexpected end of file', syntax: true, line: 4 })).toBe(
      'cannot load: syntax error: Unexpected end of file at line 4',
    );
  });
});
