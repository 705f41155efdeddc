import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getTask, listTasks, resumeTask, startTask, TaskInputError, taskEvents, updateTask, waitForTask } from '../../src/client';
import type { JsonObject } from '../../src/model/json';
import type { TaskSnapshot } from '../../src/model/task';
import { updateDataUpdate } from '../../src/workflows/api';
import { whenflow } from '../support/cli';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

/**
 * R4 of fault injection: bad input at every entry point ends in a clear error that names what was
 * wrong and where (step, file, JSON path), loses no task (it waits in `error` and a resume after the
 * fix finishes it) and never takes the worker down (a healthy task started afterwards completes).
 *
 * Covered elsewhere, exactly as required here, and not repeated: a deferred connector call that fails
 * for good (runtime.test.ts "connectors"), an update that is not an object sent through the client
 * (runtime.test.ts "update and stop"), webhook bodies that are not JSON or not objects (webhooks tests).
 */
const source = join(import.meta.dirname, '..', 'workspaces', 'bad-input');
// A private copy: steps are fixed (rewritten) during the test.
const workspace = mkdtempSync(join(tmpdir(), 'whenflow-bad-input-'));
cpSync(source, workspace, { recursive: true });
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    expect(await replayTasks(harness.client, harness.taskIds, 'bad-input')).toBe(harness.taskIds.length);
    await harness.close();
  }
  rmSync(workspace, { recursive: true, force: true });
});

/** The worker is still serving: a healthy task started now completes. */
async function expectWorkerServing(): Promise<void> {
  const healthy = await harness.runTask({ name: 'healthy', data: { healthy: true } }, 30_000);
  expect(healthy).toMatchObject({ state: 'done', result: 'healthy' });
}

/** Replaces a step's content, keeping its condition (the task's recorded catalog still has it). */
function fixStep(name: string): void {
  const file = join(workspace, 'steps', `${name}.mjs`);
  const condition = readFileSync(file, 'utf8').match(/^export const condition = .*$/m)![0];
  writeFileSync(file, `${condition}\nexport const content = async () => {\n  data.fixed = step.name;\n  task.complete('fixed');\n};\n`);
}

async function resumeToDone(task: TaskSnapshot): Promise<TaskSnapshot> {
  await resumeTask(harness.client, task.taskId);
  const done = await waitForTask(harness.client, task.taskId, { timeoutMs: 30_000 });
  expect(done).toMatchObject({ state: 'done', result: 'fixed', error: null });
  return done;
}

describe('R4: task data from outside', () => {
  const cliEnv = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });

  it.each([
    ['malformed JSON', '{"order": {"id": 1', 'the task data from -d/--data is not valid JSON'],
    ['an array', '[1, 2]', 'must be a JSON object, got an array'],
    ['a string', '"order"', 'must be a JSON object'],
  ])('`task new` refuses %s with exit 2 and starts nothing', async (_what, data, message) => {
    const name = `refused-${Math.random().toString(36).slice(2)}`;
    const { code, stderr } = await whenflow(['task', 'new', name, '-d', data, '--task-queue', harness.taskQueue], cliEnv());
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(await listTasks(harness.client, { name })).toEqual([]);
  });

  it('the client refuses data that is not a JSON object, or holds a non-JSON value, naming the path', async () => {
    const start = (data: unknown) => startTask(harness.client, { data: data as never, taskQueue: harness.taskQueue });
    await expect(start([1, 2])).rejects.toThrow(TaskInputError);
    await expect(start([1, 2])).rejects.toThrow(/^invalid task: data: /);
    // zod names the object holding the bad value.
    await expect(start({ order: { total: Number.NaN } })).rejects.toThrow(/^invalid task: data\.order: /);
    await expect(start({ order: { at: () => 1 } })).rejects.toThrow(/^invalid task: data\.order: /);
  });

  it('data over maxDataBytes is refused before a task starts, naming size, limit and largest keys (client, `task new`)', async () => {
    const name = `too-large-${Math.random().toString(36).slice(2)}`;
    const start = (data: JsonObject, maxDataBytes?: number) =>
      startTask(harness.client, { name, data, taskQueue: harness.taskQueue, ...(maxDataBytes ? { maxDataBytes } : {}) });
    // The default limit: 1.5 MiB.
    await expect(start({ blob: 'x'.repeat(2_000_000), id: 7 })).rejects.toThrow(
      'invalid task: data: is 2,000,018 bytes (1.9 MiB) as JSON, over the limit of 1,572,864 bytes (1.5 MiB) set by maxDataBytes (a task option; whenflow.yaml defaults.maxDataBytes); largest keys: data.blob 1.9 MiB, data.id 6 bytes',
    );
    // A limit of the caller's: measured in UTF-8 bytes, not characters.
    const refused = await start({ note: 'é'.repeat(600), attachments: ['a'.repeat(300)] }, 1000).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TaskInputError);
    expect((refused as TaskInputError).issues).toEqual([
      {
        path: 'data',
        message: expect.stringMatching(
          /^is 1,530 bytes \(1\.5 KiB\) as JSON, over the limit of 1000 bytes .*; largest keys: data\.note 1\.2 KiB, data\.attachments 318 bytes$/,
        ),
      },
    ]);
    const fits = await start({ healthy: true, note: 'é'.repeat(400) }, 1000);
    harness.taskIds.push(fits.workflowId);
    expect(await waitForTask(harness.client, fits.workflowId, { timeoutMs: 30_000 })).toMatchObject({ state: 'done', result: 'healthy' });
    const file = join(workspace, 'too-large.json');
    writeFileSync(file, JSON.stringify({ blob: 'x'.repeat(2_000_000) }));
    const { code, stderr } = await whenflow(['task', 'new', `${name}-cli`, '-f', file, '--task-queue', harness.taskQueue], cliEnv());
    unlinkSync(file);
    expect(code).toBe(2);
    expect(stderr).toContain(
      'invalid task: data: is 2,000,011 bytes (1.9 MiB) as JSON, over the limit of 1,572,864 bytes (1.5 MiB) set by maxDataBytes',
    );
    expect(await listTasks(harness.client, { name: `${name}-cli` })).toEqual([]);
  });

  it('`whenflow run --max-data-bytes N` applies the limit to its task', async () => {
    const data = JSON.stringify({ note: 'x'.repeat(200) });
    const refused = await whenflow(['run', '-w', workspace, '-d', data, '--max-data-bytes', '100'], cliEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('invalid task: data: is 211 bytes as JSON, over the limit of 100 bytes set by maxDataBytes');
    const bad = await whenflow(['run', '-w', workspace, '-d', data, '--max-data-bytes', '0'], cliEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-data-bytes');
  });

  it('`task new -w` applies the workspace’s defaults: defaults.maxDataBytes refuses, defaults.maxStepRuns reaches the task', async () => {
    const limited = mkdtempSync(join(tmpdir(), 'whenflow-defaults-'));
    try {
      writeFileSync(join(limited, 'whenflow.yaml'), 'defaults:\n  maxDataBytes: 100\n  maxStepRuns: 7\n');
      const name = `defaults-${Math.random().toString(36).slice(2)}`;
      const refused = await whenflow(
        ['task', 'new', name, '-w', limited, '-d', JSON.stringify({ note: 'x'.repeat(200) }), '--task-queue', harness.taskQueue],
        cliEnv(),
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('invalid task: data: is 211 bytes as JSON, over the limit of 100 bytes set by maxDataBytes');
      expect(await listTasks(harness.client, { name })).toEqual([]);
      const started = await whenflow(
        ['task', 'new', name, '-w', limited, '-d', '{"bad":"redo","n":0}', '--task-queue', harness.taskQueue, '--json'],
        cliEnv(),
      );
      expect(started.code).toBe(0);
      const { taskId } = JSON.parse(started.stdout) as { taskId: string };
      harness.taskIds.push(taskId);
      const failed = await waitForTask(harness.client, taskId, { timeoutMs: 30_000 });
      expect(failed).toMatchObject({ state: 'error', stepRuns: 7, error: { reason: 'max-step-runs' } });
    } finally {
      rmSync(limited, { recursive: true, force: true });
    }
  });

  it('an update that would make the data exceed maxDataBytes is refused by the task, naming the size; the task goes on unharmed', async () => {
    const { workflowId } = await startTask(harness.client, {
      name: 'update too large',
      data: { waiting: true },
      maxDataBytes: 2000,
      taskQueue: harness.taskQueue,
    });
    harness.taskIds.push(workflowId);
    expect((await waitForTask(harness.client, workflowId, { timeoutMs: 30_000 })).state).toBe('attention');
    const refused = await updateTask(harness.client, workflowId, { blob: 'x'.repeat(1500), more: 'y'.repeat(600) }).catch(
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe(
      'the update would make the task data 2,136 bytes (2.1 KiB) as JSON, over the limit of 2,000 bytes (2.0 KiB) set by maxDataBytes ' +
        '(a task option; whenflow.yaml defaults.maxDataBytes); largest keys: data.blob 1.5 KiB, data.more 609 bytes, data.waiting 14 bytes; the task keeps its data',
    );
    // The CLI says the task refused, exit 2.
    const { code, stderr } = await whenflow(['task', 'update', workflowId, '-d', JSON.stringify({ blob: 'x'.repeat(2500) })], cliEnv());
    expect(code).toBe(2);
    expect(stderr).toContain(
      'the task refused: the update would make the task data 2,526 bytes (2.5 KiB) as JSON, over the limit of 2,000 bytes (2.0 KiB)',
    );
    const unharmed = await getTask(harness.client, workflowId);
    expect(unharmed).toMatchObject({ state: 'attention', data: { waiting: true } });
    // Within the limit, updates still go through.
    await updateTask(harness.client, workflowId, { waiting: null, healthy: true, blob: 'x'.repeat(1500) });
    expect(await waitForTask(harness.client, workflowId, { timeoutMs: 30_000 })).toMatchObject({ state: 'done', result: 'healthy' });
  });

  it('a raw update that is not an object is refused by the task itself; the task goes on unharmed', async () => {
    const { workflowId } = await startTask(harness.client, { name: 'raw update', data: { waiting: true }, taskQueue: harness.taskQueue });
    harness.taskIds.push(workflowId);
    expect((await waitForTask(harness.client, workflowId, { timeoutMs: 30_000 })).state).toBe('attention');
    // Past the client's own validation, straight to Temporal: the workflow's update validator answers.
    const handle = harness.client.workflow.getHandle(workflowId);
    const refused = await handle.executeUpdate(updateDataUpdate, { args: [[1, 2] as never] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toContain('an update must be a JSON object');
    await updateTask(harness.client, workflowId, { waiting: null, healthy: true });
    expect(await waitForTask(harness.client, workflowId, { timeoutMs: 30_000 })).toMatchObject({ state: 'done', result: 'healthy' });
  });
});

describe('R4: step content that goes wrong', () => {
  it.each([
    ['writes_function', { bad: 'function' }, 'step "writes_function" wrote a function at data.customer.format; step data must be JSON', 1],
    ['writes_bigint', { bad: 'bigint' }, 'step "writes_bigint" wrote a BigInt (12345678901234567890n) at data.ledger.entries[0].amount', 1],
    [
      'writes_cycle',
      { bad: 'cycle' },
      'step "writes_cycle" wrote a circular reference (back to data.tree) at data.tree.children[0].parent',
      1,
    ],
    ['throws', { bad: 'throw' }, 'the ledger is locked', 2],
    // The step's thread is stopped just before Temporal's timeout; on a busy machine Temporal's own timeout may come first.
    ['hangs', { bad: 'hang' }, /step( "hangs")? timed out after 300 ms/, 2],
    ['unknown_connector', { bad: 'connector' }, 'connectors.ledgr.post: no connector named "ledgr" (known connectors: fetch, utils)', 1],
    ['unknown_method', { bad: 'method' }, 'connectors.fetch.fetchAll: connector "fetch" has no method "fetchAll"', 1],
    ['deferred_unknown', { bad: 'deferred' }, 'connectors.mailer.send: no connector named "mailer"', 1],
    // whenflow's own limit (the default maxDataBytes), far below the server's payload limit; not retried.
    [
      'writes_too_much',
      { bad: 'too much' },
      'step "writes_too_much" would make the task data 3,000,040 bytes (2.9 MiB) as JSON, over the limit of 1,572,864 bytes (1.5 MiB) set by maxDataBytes ' +
        '(a task option; whenflow.yaml defaults.maxDataBytes); largest keys: data.blob 2.9 MiB, data.bad 16 bytes, data.keep 11 bytes; nothing the step wrote was kept',
      1,
    ],
  ])(
    '%s: error naming the step (and path), worker keeps serving, resume after the fix finishes the task',
    async (step, data, message, attempts) => {
      const failed = await harness.runTask({ name: step, data: { ...data, keep: 'me' } }, 30_000);
      expect(failed.state).toBe('error');
      expect(failed.error).toMatchObject({ step, attempts, reason: 'step-failed' });
      if (typeof message === 'string') expect(failed.error!.message).toContain(message);
      else expect(failed.error!.message).toMatch(message);
      // Nothing of the failed step reached the data.
      expect(failed.data).toEqual({ ...data, keep: 'me' });
      await expectWorkerServing();
      fixStep(step);
      const done = await resumeToDone(failed);
      expect(done.data).toEqual({ ...data, keep: 'me', fixed: step });
    },
  );

  it('a deferred call with bad arguments fails once, not retried (a final ConnectorError), though its connector policy names no error type', async () => {
    const task = await harness.runTask({ name: 'deferred args', data: { bad: 'deferred args' } }, 30_000);
    expect(task).toMatchObject({ state: 'error', error: { step: 'deferred_bad_args', reason: 'connector-failed' } });
    expect(task.error!.message).toContain('connectors.utils.sleep');
    const history = await harness.client.workflow.getHandle(task.taskId).fetchHistory();
    const started = (history.events ?? []).flatMap((event) =>
      event.activityTaskStartedEventAttributes ? [event.activityTaskStartedEventAttributes] : [],
    );
    const failed = (history.events ?? []).flatMap((event) =>
      event.activityTaskFailedEventAttributes ? [event.activityTaskFailedEventAttributes] : [],
    );
    // The step's activity, then the call's: each ran one attempt.
    expect(started.map((attributes) => attributes.attempt)).toEqual([1, 1]);
    expect(failed.map((attributes) => attributes.failure?.applicationFailureInfo)).toMatchObject([
      { type: 'ConnectorError', nonRetryable: true },
    ]);
    await expectWorkerServing();
  });

  it('a failing connector call the step forgot to await fails the step, not the worker', async () => {
    const task = await harness.runTask({ name: 'forgets await', data: { bad: 'unawaited' } }, 30_000);
    // The step waits for the call, and its failure is the step's: nothing the step wrote is kept.
    expect(task).toMatchObject({ state: 'error', data: { bad: 'unawaited' } });
    expect(task.error!.message).toMatch(/^connectors\.\w+\.\w+\(\) was not awaited and failed: /);
    await expectWorkerServing();
  });

  it('throws: the error keeps the stack, which names the step file', async () => {
    writeFileSync(
      join(workspace, 'steps', 'throws_again.mjs'),
      `export const condition = { bad: 'throw again' };\nexport const content = async () => {\n  throw new TypeError('no ledger');\n};\n`,
    );
    const failed = await harness.runTask({ name: 'throws again', data: { bad: 'throw again' } }, 30_000);
    expect(failed.error).toMatchObject({ step: 'throws_again', message: 'no ledger', reason: 'step-failed' });
    expect(failed.error!.stack).toContain('throws_again.mjs');
  });

  it('an endless step.redo() stops at maxStepRuns; a resume after the fix finishes the task', async () => {
    const failed = await harness.runTask({ name: 'redo forever', data: { bad: 'redo', n: 0 }, maxStepRuns: 12 }, 30_000);
    expect(failed).toMatchObject({ state: 'error', stepRuns: 12, data: { bad: 'redo', n: 12 } });
    expect(failed.error).toMatchObject({ step: 'redo_forever', reason: 'max-step-runs' });
    expect(failed.error!.message).toContain('more than 12 step executions in one task (maxStepRuns)');
    await expectWorkerServing();
    fixStep('redo_forever');
    const done = await resumeToDone(failed);
    expect(done.stepRuns).toBe(13);
  });
});

describe('R4: step files that cannot be used', () => {
  const broken: Record<string, string> = {
    'syntax_error.mjs': `export const condition = { broken: true };\nexport const content = async () => {\n  data.x = ;\n};\n`,
    'no_content.mjs': `export const condition = { broken: true };\n`,
    'bad_condition.mjs': `export const condition = { broken: true, order: { total: (t) => t > 5 } };\nexport const content = async () => {};\n`,
    'bad_options.mjs': `export const condition = { broken: true };\nexport const options = { timeout: 'soon', retry: { maximumAttempts: 0 } };\nexport const content = async () => {};\n`,
  };

  it('disables only the broken files: a task runs its other steps, and its events list every problem with file and key path', async () => {
    for (const [file, text] of Object.entries(broken)) writeFileSync(join(workspace, 'steps', file), text);
    const task = await harness.runTask({ name: 'broken steps', data: { healthy: true } }, 30_000);
    for (const file of Object.keys(broken)) unlinkSync(join(workspace, 'steps', file));
    expect(task).toMatchObject({ state: 'done', result: 'healthy', error: null });
    const events = [];
    for await (const event of taskEvents(harness.client, task.taskId)) events.push(event);
    const disabled = events.find((event) => event.type === 'steps-disabled');
    const message = JSON.stringify(disabled);
    expect(message).toMatch(/steps\/syntax_error\.mjs.*cannot load: .*line 3/);
    expect(message).toMatch(/steps\/no_content\.mjs.*content/);
    expect(message).toMatch(/steps\/bad_condition\.mjs","path":"condition\.order\.total","message":"a function/);
    expect(message).toContain('"file":"steps/bad_options.mjs","path":"options.timeout"');
    expect(message).toContain('"file":"steps/bad_options.mjs","path":"options.retry.maximumAttempts"');
    await expectWorkerServing();
  });
});
