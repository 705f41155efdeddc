import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../src/activities';
import { fileStamp, RECENT_CHANGE_MS, workspaceFingerprint } from '../../src/steps/file-stamps';
import { currentStep } from '../../src/steps/library';

let scratch: string;
let counter = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-stamps-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

afterEach(() => {
  vi.useRealTimers();
});

const stepText = (value: string) => `export const condition = { a: 1 };\nexport const content = async () => { data.b = '${value}'; };\n`;

async function workspace(files: Record<string, string>): Promise<string> {
  const dir = join(scratch, `ws${counter++}`);
  await mkdir(join(dir, 'steps'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'steps', name), text);
  return dir;
}

/** Lets the clock run past the window in which fresh stamps are not trusted, without waiting. */
function later(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + RECENT_CHANGE_MS + 1000);
}

describe('file stamps', () => {
  it('are not trusted right after a change, and are stable afterwards', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const file = join(dir, 'steps', 'a.mjs');
    expect(await fileStamp(file)).toBeNull();
    const inAWhile = Date.now() + RECENT_CHANGE_MS + 1000;
    const stamp = await fileStamp(file, inAWhile);
    expect(stamp).toMatch(/^\d+:\d+:\d+:\d+$/);
    expect(await fileStamp(file, inAWhile)).toBe(stamp);
    expect(await fileStamp(join(dir, 'steps', 'nothing.mjs'), inAWhile)).toBe('missing');
  });

  it('differ after an edit that keeps the size', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const file = join(dir, 'steps', 'a.mjs');
    const inAWhile = Date.now() + RECENT_CHANGE_MS + 1000;
    const before = await fileStamp(file, inAWhile);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeFile(file, stepText('y'));
    expect(await fileStamp(file, inAWhile + 100)).not.toBe(before);
  });

  it('make a workspace fingerprint that changes with any step, connector or config file', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const at = () => Date.now() + RECENT_CHANGE_MS + 1000;
    const first = await workspaceFingerprint(dir, at());
    expect(first).not.toBeNull();
    expect(await workspaceFingerprint(dir, at())).toBe(first);
    expect(await workspaceFingerprint(dir)).toBeNull(); // just written: not to be trusted yet

    await writeFile(join(dir, 'steps', 'b.mjs'), stepText('z'));
    const withB = await workspaceFingerprint(dir, at());
    expect(withB).not.toBe(first);
    await writeFile(join(dir, 'whenflow.yaml'), 'config: { A: 1 }\n');
    const withConfig = await workspaceFingerprint(dir, at());
    expect(withConfig).not.toBe(withB);
    await mkdir(join(dir, 'connectors'));
    await writeFile(join(dir, 'connectors', 'crm.mjs'), 'export async function get() { return 1; }\n');
    const withConnector = await workspaceFingerprint(dir, at());
    expect(withConnector).not.toBe(withConfig);
    await unlink(join(dir, 'steps', 'b.mjs'));
    expect(await workspaceFingerprint(dir, at())).not.toBe(withConnector);
  });
});

describe('reading steps and catalogs again only when files changed', () => {
  it('currentStep reuses a step whose file is unchanged and loads an edited one', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const first = await currentStep(dir, 'a', 'steps/a.mjs');
    later();
    const again = await currentStep(dir, 'a', 'steps/a.mjs');
    expect(again.content).toBe(first.content);
    expect(await currentStep(dir, 'a', 'steps/a.mjs')).toBe(again);

    await writeFile(join(dir, 'steps', 'a.mjs'), stepText('y'));
    const edited = await currentStep(dir, 'a', 'steps/a.mjs');
    expect(edited.content).not.toBe(first.content);
    expect(edited.content.toString()).toContain("'y'");
  });

  it('currentStep reports a step file that was removed', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    await currentStep(dir, 'a', 'steps/a.mjs');
    later();
    await currentStep(dir, 'a', 'steps/a.mjs');
    await unlink(join(dir, 'steps', 'a.mjs'));
    await expect(currentStep(dir, 'a', 'steps/a.mjs')).rejects.toThrow('step file steps/a.mjs of step "a" no longer exists');
  });

  it('loadCatalog reuses the catalog while no file changed and sees edits and new steps at once', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const activities = createActivities(dir);
    const first = await activities.loadCatalog();
    expect(first.steps.map((s) => s.name)).toEqual(['a']);
    later();
    const second = await activities.loadCatalog();
    expect(second.version).toBe(first.version);
    expect(await activities.loadCatalog()).toBe(second); // the same reading, not read again

    await writeFile(join(dir, 'steps', 'a.mjs'), stepText('y'));
    const edited = await activities.loadCatalog();
    expect(edited.version).not.toBe(first.version);

    await writeFile(join(dir, 'steps', 'b.mjs'), stepText('z'));
    const added = await activities.loadCatalog();
    expect(added.steps.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('loadCatalog reports a step file broken after a cached reading', async () => {
    const dir = await workspace({ 'a.mjs': stepText('x') });
    const activities = createActivities(dir);
    await activities.loadCatalog();
    later();
    await activities.loadCatalog();
    await writeFile(join(dir, 'steps', 'a.mjs'), 'export const condition = { a: 1 };\n');
    // A broken step file disables that step only: the reading lists it as broken, with the reason.
    const broken = await activities.loadCatalog();
    expect(broken.steps).toEqual([]);
    expect(broken.broken).toEqual([{ file: 'steps/a.mjs', message: expect.stringMatching(/content/) }]);
  });
});
