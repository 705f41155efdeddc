/** Workers of one task queue that serve different step catalogs say so; workers with the same catalog do not. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { whenflow } from '../support/cli';

const suiteServer = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });
const root = join(import.meta.dirname, '..', '..');
const scratch: string[] = [];
const running: ChildProcess[] = [];

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A workspace folder named `name:` in whenflow.yaml (so its queue is whenflow-<name>), with these step files. */
function workspace(name: string, steps: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'whenflow-peers-'));
  scratch.push(dir);
  mkdirSync(join(dir, 'steps'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'whenflow.yaml'), `name: ${name}\n`);
  for (const [file, text] of Object.entries(steps)) writeFileSync(join(dir, 'steps', file), text);
  return dir;
}

const greet =
  'export const condition = { name: String, greeting: null };\nexport const content = async () => { data.greeting = `hello ${data.name}`; };\n';
const shout =
  'export const condition = { greeting: String, shouted: null };\nexport const content = async () => { data.shouted = data.greeting.toUpperCase(); };\n';

/** `whenflow worker` in its own process on the suite's Temporal service; `output` is what it printed. */
function startWorker(dir: string): { output: () => string; stop: () => Promise<void> } {
  const child = spawn(process.execPath, [join(root, 'bin', 'whenflow.mjs'), 'worker', '-w', dir], {
    env: { ...process.env, NO_COLOR: '1', TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output: () => output,
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}

async function eventually(check: () => boolean, what: string, output: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the worker printed:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('workers with different step catalogs on one task queue', () => {
  it('the second worker warns, naming the queue, the other worker and both catalogs', async () => {
    const name = `peers-${randomBytes(4).toString('hex')}`;
    const firstDir = workspace(name, { 'greet.mjs': greet });
    const first = startWorker(firstDir);
    await eventually(() => first.output().includes('Ctrl-C to stop'), 'the first worker to start', first.output);
    // The second worker looks on start, then every 30 s: whichever look sees the first worker warns.
    const second = startWorker(workspace(name, { 'greet.mjs': greet, 'shout.mjs': shout }));
    try {
      await eventually(() => second.output().includes('warning: task queue'), 'the warning', second.output);
      const line = second
        .output()
        .split('\n')
        .find((l) => l.includes('warning: task queue'))!;
      const catalogs = [...line.matchAll(/catalog ([0-9a-f]{16})/g)].map((m) => m[1]);
      expect(line).toContain(`task queue whenflow-${name} is also polled by `);
      expect(line).toMatch(/polled by \d+@\S+ whenflow-catalog:[0-9a-f]{16} with step catalog/);
      expect(catalogs).toHaveLength(2);
      expect(catalogs[0]).not.toBe(catalogs[1]);

      // Starting a task on that queue says so too.
      const started = await whenflow(['task', 'new', 'greeting', '-w', firstDir, '-d', '{"name":"ada"}'], suiteServer());
      expect(started.code).toBe(0);
      expect(started.stderr).toContain(`warning: task queue whenflow-${name} is polled by workers with different step catalogs: `);
      for (const catalog of catalogs) expect(started.stderr).toContain(`catalog ${catalog} (`);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  }, 240_000);

  it('workers of the same workspace see each other and do not warn', async () => {
    const name = `peers-${randomBytes(4).toString('hex')}`;
    const dir = workspace(name, { 'greet.mjs': greet });
    const first = startWorker(dir);
    try {
      await eventually(() => first.output().includes('Ctrl-C to stop'), 'the first worker to start', first.output);
      const second = startWorker(dir);
      try {
        await eventually(() => second.output().includes('other worker on task queue'), 'the second worker to see the first', second.output);
        expect(second.output()).toContain(`1 other worker on task queue whenflow-${name} with the same step catalog`);
        expect(second.output()).not.toContain('warning');
      } finally {
        await second.stop();
      }
      expect(first.output()).not.toContain('warning');
      const started = await whenflow(['task', 'new', 'greeting', '-w', dir, '-d', '{"name":"ada"}'], suiteServer());
      expect(started.code).toBe(0);
      expect(started.stderr).not.toContain('warning');
    } finally {
      await first.stop();
    }
  }, 240_000);
});
