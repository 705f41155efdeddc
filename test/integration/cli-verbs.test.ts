import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getTask } from '../../src/client';
import { whenflow } from '../support/cli';
import { startHarness, type TestHarness } from '../support/temporal';

const root = join(import.meta.dirname, '..', '..');
let harness: TestHarness;
let env: Record<string, string>;
/** Runs whenflow against the suite's server, with the harness's worker on its task queue. */
const cli = (args: string[]) => whenflow(args, env);

beforeAll(async () => {
  harness = await startHarness(root);
  env = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') };
});

afterAll(async () => {
  await harness?.close();
});

const ANSI = /\u001b\[/;

describe('whenflow task', () => {
  it('task new --wait --json runs a task to the end and prints the run contract', async () => {
    const { code, stdout, stderr } = await cli([
      'task',
      'new',
      'cli order',
      '-f',
      'samples/order.json',
      '--wait',
      '--json',
      '--task-queue',
      harness.taskQueue,
      '-t',
      'cli',
    ]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/cycle +1 +receive_order/);
    const out = JSON.parse(stdout) as { state: string; result: { orderId: string } };
    expect(out.state).toBe('done');
    expect(out.result.orderId).toBe('A-1001');
  });

  it('new, show, list, log, update, stop and clone act on one task', async () => {
    const created = await cli(['task', 'new', 'cli idle', '-d', '{"keep":1}', '--task-queue', harness.taskQueue, '-t', 'verbs', '--json']);
    expect(created.code).toBe(0);
    const { taskId } = JSON.parse(created.stdout) as { taskId: string };
    // No step matches: it settles in attention.
    for (let i = 0; i < 100 && (await getTask(harness.client, taskId)).state !== 'attention'; i++)
      await new Promise((r) => setTimeout(r, 100));

    const shown = JSON.parse((await cli(['task', 'show', taskId, '--json'])).stdout) as {
      state: string;
      data: unknown;
      name: string;
      tags: string[];
    };
    expect(shown).toMatchObject({ state: 'attention', name: 'cli idle', tags: ['verbs'], data: { keep: 1 } });

    const human = await cli(['task', 'show', taskId]);
    expect(human.stdout).toMatch(/state +attention/);
    expect(human.stdout).not.toMatch(ANSI);

    let listed: { taskId: string; state: string }[] = [];
    for (let i = 0; i < 50 && !listed.some((t) => t.taskId === taskId && t.state === 'attention'); i++) {
      listed = JSON.parse((await cli(['task', 'list', '--tag', 'verbs', '--state', 'attention', '--json'])).stdout) as typeof listed;
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed.map((t) => t.taskId)).toContain(taskId);
    expect((await cli(['task', 'list', '--state', 'sleeping'])).code).toBe(2);

    // New data (the sample order) wakes it; --follow streams the steps until the task settles.
    const updated = await cli(['task', 'update', taskId, '-f', 'samples/order.json']);
    expect(updated.code).toBe(0);
    const follow = await cli(['task', 'log', taskId, '--follow']);
    expect(follow.stdout).toMatch(/cycle +1 +receive_order/);
    // (The sample mailer is busy once per recipient and worker, so notify_customer may run once or twice.)
    expect(follow.stdout).toMatch(/cycle +\d+ +complete_order/);
    expect(follow.stdout).toMatch(/subtask [\w-]+\.1 \(pick .+\) started by pick_items/);
    expect(follow.stdout).toContain('task is done');

    const log = await cli(['task', 'log', taskId, '--changes', '--logs', '--step', 'receive_order']);
    expect(log.stdout).toMatch(/cycle 1 +receive_order/);
    expect(log.stdout).toContain('changed /order/status');
    expect(log.stdout).toContain('log: received order A-1001 with 2 item(s)');
    expect(log.stdout).not.toContain('charge_payment');
    const logJson = (await cli(['task', 'log', taskId, '--json'])).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { step: string });
    expect(logJson.map((e) => e.step).slice(0, 5)).toEqual([
      'receive_order',
      'charge_payment',
      'pick_items',
      'fulfil_order',
      'ship_express',
    ]);
    expect(logJson.at(-1)?.step).toBe('complete_order');

    const again = await cli(['task', 'stop', taskId]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`task ${taskId} has already ended (done)`);

    const cloned = await cli(['task', 'clone', taskId, '--task-queue', harness.taskQueue, '--json']);
    const { taskId: cloneId } = JSON.parse(cloned.stdout) as { taskId: string };
    expect(cloneId).not.toBe(taskId);
    let clone = await getTask(harness.client, cloneId);
    for (let i = 0; i < 100 && clone.state !== 'attention'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      clone = await getTask(harness.client, cloneId);
    }
    expect(clone).toMatchObject({ name: 'cli idle', tags: ['verbs'], data: { keep: 1 } });
    expect((await cli(['task', 'stop', cloneId])).code).toBe(0);
    expect((await getTask(harness.client, cloneId)).state).toBe('stopped');
  });

  it('answers bad requests with exit 2 and a clear message', async () => {
    const unknown = await cli(['task', 'show', 'no-such-task']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no such task: no-such-task');
    const created = JSON.parse(
      (await cli(['task', 'new', 'refuse', '-d', '{"keep":true}', '--task-queue', harness.taskQueue, '--json'])).stdout,
    ) as { taskId: string };
    for (let i = 0; i < 100 && (await getTask(harness.client, created.taskId)).state !== 'attention'; i++)
      await new Promise((r) => setTimeout(r, 100));
    const badUpdate = await cli(['task', 'update', created.taskId, '-d', '[1]']);
    expect(badUpdate.code).toBe(2);
    expect(badUpdate.stderr).toContain('must be a JSON object');
    // A task in attention may be resumed or reloaded (it matches again and settles in attention again).
    expect(JSON.parse((await cli(['task', 'resume', created.taskId, '--json'])).stdout)).toEqual({ taskId: created.taskId, resumed: true });
    expect(JSON.parse((await cli(['task', 'reload', created.taskId, '--json'])).stdout)).toEqual({
      taskId: created.taskId,
      reloaded: true,
    });
    expect(JSON.parse((await cli(['task', 'stop', created.taskId, '--json'])).stdout)).toEqual({
      taskId: created.taskId,
      state: 'stopped',
    });
    const late = await cli(['task', 'resume', created.taskId]);
    expect(late.code).toBe(2);
    expect(late.stderr).toContain('has already ended (stopped)');
  });
});

describe('whenflow step and workspace', () => {
  it('step list and show describe the catalog', async () => {
    const list = JSON.parse((await cli(['step', 'list', '--json'])).stdout) as { name: string; specificity: number }[];
    expect(list.map((s) => s.name)).toContain('ship_express');
    const show = JSON.parse((await cli(['step', 'show', 'complete_order', '--json'])).stdout) as { timeoutMs: number; file: string };
    expect(show).toMatchObject({ timeoutMs: 10_000, file: 'steps/complete_order.ts' });
    const missing = await cli(['step', 'show', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no step "nope"');
  });

  it('step validate ranks the matching steps and explains the first failing constraint of the others', async () => {
    const data = JSON.stringify({ order: { id: 'x', status: 'open', items: [{ sku: 'A' }], payment: { method: 'card', amount: 5 } } });
    const verdicts = JSON.parse((await cli(['step', 'validate', '-d', data, '--json'])).stdout) as {
      step: string;
      matches: boolean;
      rank: number | null;
      runsNow: boolean;
      mismatch: { path: string; expected: string; actual: unknown } | null;
    }[];
    const byName = Object.fromEntries(verdicts.map((v) => [v.step, v]));
    expect(byName.charge_payment).toMatchObject({ matches: true, rank: 1, runsNow: true });
    expect(byName.pick_items).toMatchObject({ matches: true, rank: 2, runsNow: true });
    expect(byName.receive_order).toMatchObject({ matches: false, mismatch: { path: 'order.status', expected: '"new"', actual: 'open' } });
    // Nothing found: `actual` is left out of the JSON.
    expect(byName.fulfil_order!.mismatch).toEqual({ path: 'order.payment.charged', expected: 'true' });
  });

  it('workspace check: 0 when clean, 2 listing every problem', async () => {
    const ok = await cli(['workspace', 'check']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok +9 steps, connectors: fetch, mailer, shipping, utils/);
    const broken = await cli(['workspace', 'check', '-w', 'test/workspaces/broken']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('7 problems in workspace');
  });

  it('--help shows examples and exit codes', async () => {
    const help = await cli(['task', 'new', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    const top = await cli(['--help']);
    expect(top.stdout).toContain('Exit codes:');
    expect(top.stdout).toMatch(/task +Start, inspect and steer tasks/);
  });
});

describe('whenflow test', () => {
  it('runs the repository scenarios: exit 0 and a line per scenario', async () => {
    const { code, stdout } = await cli(['test', '-w', '.']);
    expect(code).toBe(0);
    expect(stdout).toContain('✓ a premium order ships express and completes');
    expect(stdout).toContain('✓ a standard order ships standard');
    expect(stdout).toMatch(/2 passed, 0 failed/);
  });

  it('exit 1 with what differed when a scenario fails; exit 2 for an invalid scenario file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-scenarios-'));
    writeFileSync(
      join(dir, 'wrong.yaml'),
      `name: wrong price\ndataFile: ${join(root, 'samples', 'order.json')}\nvalidateFinalState:\n  result.price: 99\n`,
    );
    const failed = await cli(['test', dir, '-w', '.']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('✗ wrong price');
    expect(failed.stdout).toMatch(/expected: 99\s+actual: +10/);
    writeFileSync(join(dir, 'broken.yaml'), 'name: [unclosed\n');
    expect((await cli(['test', dir, '-w', '.'])).code).toBe(2);
  });
});
