import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whenflow } from '../support/cli';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-init-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('whenflow init', () => {
  it('writes a workspace whose step list and check pass, into a folder that may hold other files', async () => {
    const dir = join(scratch, 'fresh');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.md'), 'kept\n');
    const init = await whenflow(['init', dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('Created a whenflow workspace');
    expect((await readdir(dir)).sort()).toEqual([
      '.gitignore',
      'notes.md',
      'samples',
      'scenarios',
      'steps',
      'tsconfig.json',
      'whenflow.yaml',
    ]);
    const check = await whenflow(['workspace', 'check', '-w', dir, '--json']);
    expect(check.code, check.stderr).toBe(0);
    const steps = await whenflow(['step', 'validate', '-w', dir, '-f', join(dir, 'samples', 'hello.json'), '--json']);
    expect(steps.code, steps.stderr).toBe(0);
    expect(steps.stdout).toContain('"greet"');
  });

  it('refuses, naming the file, when one of its files exists, and writes nothing', async () => {
    const dir = join(scratch, 'taken');
    await mkdir(dir);
    await writeFile(join(dir, 'tsconfig.json'), '{ "mine": true }\n');
    const init = await whenflow(['init', dir]);
    expect(init.code).toBe(2);
    expect(init.stderr).toContain(`${join(dir, 'tsconfig.json')} exists already; nothing was written`);
    expect(await readFile(join(dir, 'tsconfig.json'), 'utf8')).toBe('{ "mine": true }\n');
    expect(existsSync(join(dir, 'steps'))).toBe(false);
    expect(existsSync(join(dir, 'whenflow.yaml'))).toBe(false);
  });
});
