import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { freePort, portInUse } from '../../src/temporal/dev-server';
import { waitForTask } from '../../src/client';
import { whenflow } from '../support/cli';
import { startHarness } from '../support/temporal';

const root = join(import.meta.dirname, '..', '..');

/** A long-running `whenflow` command as a user runs it, in its own process; `output` collects what it prints. */
function startCommand(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(root, 'bin', 'whenflow.mjs'), ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const startDev = (workspace: string, port: number, uiPort: number) =>
  startCommand(['dev', '-w', workspace, '--port', String(port), '--ui-port', String(uiPort)], { TEMPORAL_ADDRESS: '' });

async function eventually(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('whenflow dev', () => {
  it('serves the workspace, reports step problems as files change, stops on Ctrl-C and keeps its data', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'whenflow-dev-'));
    cpSync(join(root, 'steps'), join(workspace, 'steps'), { recursive: true });
    cpSync(join(root, 'connectors'), join(workspace, 'connectors'), { recursive: true });
    cpSync(join(root, 'samples'), join(workspace, 'samples'), { recursive: true });
    writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
    const [port, uiPort] = [await freePort(), await freePort()];
    const env = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };

    const first = startDev(workspace, port, uiPort);
    try {
      await eventually(() => first.output().includes('Ctrl-C stops everything'), 'the dev banner');
      expect(first.output()).toContain(`Web UI     http://localhost:${uiPort}`);
      const run = await whenflow(
        ['task', 'new', 'dev order', '-w', workspace, '-f', join(workspace, 'samples', 'order.json'), '--wait', '--json'],
        env,
      );
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as { state: string }).state).toBe('done');

      writeFileSync(
        join(workspace, 'steps', 'broken.mjs'),
        'export const condition = { a: () => 1 };\nexport const content = async () => {};\n',
      );
      await eventually(() => first.output().includes('steps/broken.mjs (condition.a)'), 'the problem report', 10_000);

      first.child.kill('SIGINT');
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill('SIGKILL');
    }
    rmSync(join(workspace, 'steps', 'broken.mjs'));
    // The server is gone with it.
    expect((await whenflow(['task', 'list'], env)).code).toBe(1);

    const second = startDev(workspace, port, uiPort);
    try {
      await eventually(() => second.output().includes('Ctrl-C stops everything'), 'the dev banner (second start)');
      const listed = await whenflow(['task', 'list', '--name', 'dev order', '--json'], env);
      expect((JSON.parse(listed.stdout) as { state: string }[]).map((t) => t.state)).toEqual(['done']);
      second.child.kill('SIGINT');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }
  }, 180_000);
});

/** Processes whose command line names `needle` as one argument (read from /proc). */
function processesWithArgument(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(needle)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

describe('whenflow dev owns its ports and its server', () => {
  it('refuses a port something already serves, naming it, and exits non-zero', async () => {
    const occupant = createHttpServer((_req, res) => res.end('not temporal'));
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    const port = (occupant.address() as { port: number }).port;
    const workspace = mkdtempSync(join(tmpdir(), 'whenflow-dev-port-'));
    cpSync(join(root, 'steps'), join(workspace, 'steps'), { recursive: true });
    try {
      const dev = startDev(workspace, port, await freePort());
      const code = await dev.exited;
      expect(code).not.toBe(0);
      expect(dev.output()).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(dev.output()).toContain('--port');
    } finally {
      occupant.close();
      rmSync(workspace, { recursive: true, force: true });
    }
  }, 60_000);

  it('kill -9 of dev leaves no Temporal server behind on its port', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'whenflow-dev-kill-'));
    cpSync(join(root, 'steps'), join(workspace, 'steps'), { recursive: true });
    writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
    const [port, uiPort] = [await freePort(), await freePort()];
    const dev = startDev(workspace, port, uiPort);
    try {
      await eventually(() => dev.output().includes('Ctrl-C stops everything'), 'the dev banner');
      expect(await portInUse(port)).toBe(true);
      expect(processesWithArgument(String(port)).length).toBeGreaterThan(0);
      dev.child.kill('SIGKILL');
      await dev.exited;
      let free = false;
      for (let i = 0; i < 300 && !free; i++) {
        free = !(await portInUse(port)) && processesWithArgument(String(port)).length === 0;
        if (!free) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(processesWithArgument(String(port))).toEqual([]);
      expect(await portInUse(port)).toBe(false);
    } finally {
      dev.child.kill('SIGKILL');
      for (const pid of processesWithArgument(String(port))) process.kill(pid, 'SIGKILL');
      rmSync(workspace, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('whenflow worker', () => {
  it('serves an existing Temporal service named by TEMPORAL_ADDRESS until Ctrl-C', async () => {
    const env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') };
    const taskQueue = `worker-${Date.now()}`;
    const worker = startCommand(['worker', '-w', root, '--task-queue', taskQueue], env);
    try {
      await eventually(() => worker.output().includes('Ctrl-C to stop'), 'the worker banner');
      expect(worker.output()).toContain(`task queue ${taskQueue}, Temporal ${env.TEMPORAL_ADDRESS}`);
      const run = await whenflow(
        ['task', 'new', 'via worker', '-f', 'samples/order-standard.json', '--task-queue', taskQueue, '--wait', '--json'],
        env,
      );
      expect(run.code).toBe(0);
      expect((JSON.parse(run.stdout) as { result: { shipping: string } }).result.shipping).toBe('standard');
      worker.child.kill('SIGINT');
      expect(await worker.exited).toBe(0);
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 120_000);
});

describe('whenflow webhook', () => {
  it('starts a task for each authenticated POST and answers bad requests with 4xx', async () => {
    const workspace = join(root, 'test', 'workspaces', 'runtime');
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      WHENFLOW_TEST_STASH_KEY: randomBytes(32).toString('base64'),
    };
    Object.assign(process.env, { WHENFLOW_TEST_STASH_KEY: env.WHENFLOW_TEST_STASH_KEY });
    const harness = await startHarness(workspace);
    const port = await freePort();
    const receiver = startCommand(['webhook', '-w', workspace, '--port', String(port), '--task-queue', harness.taskQueue], env);
    try {
      await eventually(() => receiver.output().includes('Ctrl-C to stop'), 'the webhook banner');
      const url = `http://127.0.0.1:${port}/hooks/approvals`;
      const accepted = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-whenflow-token': 'test-hook-secret-0123456789' },
        body: JSON.stringify({ approval: { approved: true } }),
      });
      expect(accepted.status).toBe(202);
      const { taskId } = (await accepted.json()) as { taskId: string };
      const task = await waitForTask(harness.client, taskId, { timeoutMs: 30_000 });
      expect(task).toMatchObject({ state: 'done', result: 'approved', name: 'approval from webhook', tags: ['hook'] });
      expect(task.data.$via).toMatchObject({ type: 'webhook', name: 'approvals' });

      const denied = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-whenflow-token': 'wrong' },
        body: '{}',
      });
      expect(denied.status).toBe(401);
      const broken = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-whenflow-token': 'test-hook-secret-0123456789' },
        body: '{"a":',
      });
      expect(broken.status).toBe(400);
      expect(((await broken.json()) as { error: string }).error).toContain('not valid JSON');
      receiver.child.kill('SIGINT');
      expect(await receiver.exited).toBe(0);
    } finally {
      receiver.child.kill('SIGKILL');
      await harness.close();
    }
  }, 120_000);
});
