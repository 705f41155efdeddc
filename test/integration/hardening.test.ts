/**
 * No input can take a worker down: a condition's regular expression on hostile data answers at once
 * (linear-time engine), and `task stop` ends a task even when its workflow cannot take the request.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, startTask, stopTask, waitForTask } from '../../src/client';
import { whenflow } from '../support/cli';
import { startHarness, type TestHarness } from '../support/temporal';

const workspace = mkdtempSync(join(tmpdir(), 'whenflow-hardening-'));
mkdirSync(join(workspace, 'steps'));
writeFileSync(join(workspace, 'package.json'), '{ "type": "module" }\n');
// Exponential for a backtracking engine on 32 letters and a `!`.
writeFileSync(
  join(workspace, 'steps', 'valid_sku.mjs'),
  "export const condition = { sku: /^([A-Z0-9]+-?)+$/ };\nexport const content = async () => {\n  task.complete('valid sku');\n};\n",
);
writeFileSync(
  join(workspace, 'steps', 'big_number.mjs'),
  "export const condition = { nums: { $elemMatch: { $gt: 100 } } };\nexport const content = async () => {\n  task.complete('big number');\n};\n",
);
writeFileSync(
  join(workspace, 'steps', 'healthy.mjs'),
  "export const condition = { healthy: true };\nexport const content = async () => {\n  task.complete('healthy');\n};\n",
);
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  await harness?.close();
  rmSync(workspace, { recursive: true, force: true });
});

describe('a catastrophic pattern in a condition', () => {
  it('the hostile task settles, a healthy task beside it completes, and the worker keeps serving', async () => {
    const [hostile, healthy] = await Promise.all([
      harness.runTask({ name: 'hostile sku', data: { sku: `${'A'.repeat(32)}!` } }, 60_000),
      harness.runTask({ name: 'healthy', data: { healthy: true } }, 60_000),
    ]);
    // No step matches the near-miss: the task waits for new data, as any task nothing matches.
    expect(hostile.state).toBe('attention');
    expect(healthy).toMatchObject({ state: 'done', result: 'healthy' });
    const matching = await harness.runTask({ name: 'good sku', data: { sku: 'AB-12-CD' } }, 30_000);
    expect(matching).toMatchObject({ state: 'done', result: 'valid sku' });
  });
});

describe('step validate on hostile data', () => {
  it('answers at once that the catastrophic pattern does not match, naming the path', async () => {
    const result = await whenflow([
      'step',
      'validate',
      'valid_sku',
      '-w',
      workspace,
      '-d',
      JSON.stringify({ sku: `${'A'.repeat(32)}!` }),
      '--json',
    ]);
    expect(result.code).toBe(0);
    const [verdict] = JSON.parse(result.stdout) as { step: string; matches: boolean; mismatch: { path: string } }[];
    expect(verdict).toMatchObject({ step: 'valid_sku', matches: false, mismatch: { path: 'sku' } });
  });
});

describe('the work of one recognize phase', () => {
  it('data that needs more work than the bound puts the task in error with a message; the worker serves on', async () => {
    const nums = Array.from({ length: 20_000 }, (_, i) => i % 50);
    const over = await harness.runTask({ name: 'too much work', data: { nums }, maxRecognizeWork: 5_000 }, 60_000);
    expect(over.state).toBe('error');
    expect(over.error).toMatchObject({ reason: 'work-limit', step: '' });
    expect(over.error?.message).toContain('more than 5,000 units of work');
    const within = await harness.runTask({ name: 'enough room', data: { nums: [...nums, 101] } }, 60_000);
    expect(within).toMatchObject({ state: 'done', result: 'big number' });
  });
});

describe('task stop', () => {
  it('terminates a task whose workflow tasks keep failing, which cannot take the stop request', async () => {
    // Started past the client's checks with an input the workflow cannot read: every workflow task fails.
    const handle = await harness.client.workflow.start('taskWorkflow', {
      taskQueue: harness.taskQueue,
      workflowId: `task-unreadable-${Date.now()}`,
      args: [{ name: 'unreadable' }],
    });
    const how = await stopTask(harness.client, handle.workflowId, { deliveryTimeoutMs: 3000 });
    expect(how).toBe('terminated');
    const description = await handle.describe();
    expect(description.status.name).toBe('TERMINATED');
    expect(await getTask(harness.client, handle.workflowId)).toMatchObject({
      taskId: handle.workflowId,
      name: 'unreadable',
      state: 'stopped',
      settled: true,
    });
    // The worker serves on.
    expect(await harness.runTask({ name: 'healthy after', data: { healthy: true } }, 30_000)).toMatchObject({ state: 'done' });
  });

  it('stops a task in attention the ordinary way', async () => {
    const handle = await startTask(harness.client, { name: 'waiting', data: { nothing: 'matches' }, taskQueue: harness.taskQueue });
    expect((await waitForTask(harness.client, handle.workflowId, { timeoutMs: 30_000 })).state).toBe('attention');
    expect(await stopTask(harness.client, handle.workflowId)).toBe('stopped');
    expect((await waitForTask(harness.client, handle.workflowId, { timeoutMs: 30_000 })).state).toBe('stopped');
  });
});
