import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/temporal/dev-server';
import { whenflow } from '../support/cli';

const root = join(import.meta.dirname, '..', '..');

/** A workspace with no whenflow.yaml: no secrets.key. Its step keeps a secret in `data.$stash`. */
let workspace: string;

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'whenflow-dev-secrets-'));
  mkdirSync(join(workspace, 'steps'));
  writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(workspace, 'steps', 'sign_in.mjs'),
    [
      'export const condition = { user: { name: String }, signedIn: null };',
      'export const content = async () => {',
      '  data.$stash.sessionToken = `token-for-${data.user.name}`;',
      '  data.signedIn = true;',
      '  task.complete({ user: data.user.name, tags: data.user.tags, tokenLength: data.$stash.sessionToken.length });',
      '};',
      '',
    ].join('\n'),
  );
  // Task data in YAML, as hosted workspaces keep their example tasks.
  writeFileSync(join(workspace, 'task.yaml'), '# an example task\nuser:\n  name: ada\n  tags: [admin, ops]\n');
});

afterAll(() => {
  rmSync(workspace, { recursive: true, force: true });
});

function startDev(port: number, uiPort: number): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'whenflow.mjs'), 'dev', '-w', workspace, '--port', String(port), '--ui-port', String(uiPort)],
    {
      env: { ...process.env, NO_COLOR: '1', TEMPORAL_ADDRESS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function eventually(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('whenflow dev without secrets.key', () => {
  it('creates a local stash key on first start (mode 600, git-ignored), says so, and keeps it on the next start', async () => {
    const keyFile = join(workspace, '.whenflow', 'stash.key');
    const [port, uiPort] = [await freePort(), await freePort()];
    const env = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
    const first = startDev(port, uiPort);
    let key: string;
    try {
      await eventually(() => first.output().includes('Ctrl-C stops everything'), 'the dev banner');
      expect(first.output()).toMatch(/secrets {4}.*\.whenflow\/stash\.key \(created now/);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(workspace, '.whenflow', '.gitignore'), 'utf8')).toBe('*\n');
      key = readFileSync(keyFile, 'utf8');
      expect(Buffer.from(key.trim(), 'base64')).toHaveLength(32);

      // A task whose step writes data.$stash, started from YAML data: the key seals the secret.
      const run = await whenflow(['task', 'new', 'sign in', '-w', workspace, '-f', join(workspace, 'task.yaml'), '--wait', '--json'], env);
      expect(run.code).toBe(0);
      const task = JSON.parse(run.stdout) as { state: string; result: unknown; data: { $stash: Record<string, string> } };
      expect(task.state).toBe('done');
      expect(task.result).toEqual({ user: 'ada', tags: ['admin', 'ops'], tokenLength: 'token-for-ada'.length });
      expect(JSON.stringify(task.data.$stash)).not.toContain('token-for-ada');
      first.child.kill('SIGINT');
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill('SIGKILL');
    }

    const second = startDev(port, uiPort);
    try {
      await eventually(() => second.output().includes('Ctrl-C stops everything'), 'the dev banner (second start)');
      expect(second.output()).not.toContain('created now');
      expect(readFileSync(keyFile, 'utf8')).toBe(key);
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }
  }, 180_000);
});

describe('YAML task data', () => {
  it('whenflow run -f task.yaml runs the task; a YAML mistake names the line and column', async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') };
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-yaml-data-'));
    try {
      mkdirSync(join(dir, 'steps'));
      writeFileSync(
        join(dir, 'steps', 'greet.mjs'),
        'export const condition = { user: { name: String } };\nexport const content = async () => { task.complete({ user: data.user.name, tags: data.user.tags }); };\n',
      );
      const run = await whenflow(['run', '-w', dir, '-f', join(workspace, 'task.yaml'), '--json'], env);
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as { state: string; result: unknown }).result).toEqual({ user: 'ada', tags: ['admin', 'ops'] });

      writeFileSync(join(dir, 'bad.yml'), 'user:\n  name: ada\n  tags: [admin\n');
      const bad = await whenflow(['run', '-w', dir, '-f', join(dir, 'bad.yml')], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/task data from .*bad\.yml is not valid YAML at line \d+, column \d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
