import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneTask, reloadTask, resumeTask, waitForTask } from '../../src/client';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'cycle');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  // Every history this file produced must replay against the current workflow code.
  if (harness) {
    const replayed = await replayTasks(harness.client, harness.taskIds, 'cycle');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
});

const stepsOf = (trace: { step: string; cycle: number }[]) => trace.map((t) => `${t.cycle}:${t.step}`);

describe('the recognize–act cycle on a real Temporal server', () => {
  it('runs a sequence, one step per cycle, and completes with a result', async () => {
    const task = await harness.runTask({ name: 'sequence', data: { seq: { stage: 'a' } } });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ stages: 3 });
    expect(stepsOf(task.trace)).toEqual(['1:seq_a', '2:seq_b', '3:seq_c']);
    expect(task.data).toEqual({ seq: { stage: 'c' } });
    expect(task.trace[0]!.changed).toEqual(['/seq/stage']);
  });

  it('with concurrency 2 runs independent steps in the same cycle, concurrently, and merges disjoint writes', async () => {
    const task = await harness.runTask({ name: 'pair', data: { pair: { go: true } }, concurrency: 2 });
    expect(task.state).toBe('done');
    expect(task.result).toBe('L+R');
    expect(stepsOf(task.trace)).toEqual(['1:pair_left', '1:pair_right', '2:pair_join']);
    expect(task.conflicts).toEqual([]);
    const [left, right] = task.trace;
    expect(left!.startedAt).toBe(right!.startedAt);
    // Each step slept 200 ms and recorded when it ran: run concurrently, each started before the other ended.
    const { leftSpan, rightSpan } = task.data.pair as { leftSpan: [number, number]; rightSpan: [number, number] };
    expect(leftSpan[0]).toBeLessThan(rightSpan[1]);
    expect(rightSpan[0]).toBeLessThan(leftSpan[1]);
  });

  it('by default runs the same steps one per cycle, in rank order', async () => {
    const task = await harness.runTask({ name: 'pair-serial', data: { pair: { go: true } } });
    expect(task.state).toBe('done');
    expect(stepsOf(task.trace)).toEqual(['1:pair_left', '2:pair_right', '3:pair_join']);
    const { leftSpan, rightSpan } = task.data.pair as { leftSpan: [number, number]; rightSpan: [number, number] };
    expect(rightSpan[0]).toBeGreaterThanOrEqual(leftSpan[1]);
  });

  it('by default two steps writing the same key both run, the lower-ranked one last, and nothing is dropped', async () => {
    const task = await harness.runTask({ name: 'clash-serial', data: { clash: { go: true, mode: 'race' } } });
    expect(task.state).toBe('attention');
    expect(task.data.clash).toEqual({ go: true, mode: 'race', winner: 'low', lowRan: true });
    expect(task.conflicts).toEqual([]);
    expect(stepsOf(task.trace)).toEqual(['1:clash_high', '2:clash_low']);
  });

  it('in parallel, holds the lower-ranked step that wrote what the higher-ranked one wrote, records it, and runs it again', async () => {
    const task = await harness.runTask({ name: 'clash', data: { clash: { go: true, mode: 'race' } }, concurrency: 2 });
    expect(task.state).toBe('attention');
    // The same outcome as running them one after another in rank order.
    expect(task.data.clash).toEqual({ go: true, mode: 'race', winner: 'low', lowRan: true });
    expect(task.conflicts).toEqual([{ cycle: 1, paths: ['/clash/winner'], kept: 'clash_high', dropped: 'clash_low', outcome: 'rerun' }]);
    expect(stepsOf(task.trace)).toEqual(['1:clash_high', '2:clash_low']);
    expect(task.trace[1]!.changed).toEqual(['/clash/lowRan', '/clash/winner']);
  });

  it('defers subsumed steps: the 4-field, 2-field and 1-field conditions run in that order, one per cycle', async () => {
    const task = await harness.runTask({ name: 'specificity', data: { spec: { a: 1, b: 2, c: 3, d: 4, order: [] } } });
    expect(task.state).toBe('attention');
    expect(stepsOf(task.trace)).toEqual(['1:spec_four', '2:spec_two', '3:spec_one']);
    expect((task.data.spec as { order: string[] }).order).toEqual(['four', 'two', 'one']);
  });

  it('runs a step again after step.redo() until it stops asking', async () => {
    const task = await harness.runTask({ name: 'redo', data: { loop: { n: 0, until: 5 } } });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ n: 5 });
    expect(task.trace.map((t) => t.step)).toEqual(Array(5).fill('loop_count'));
    expect(task.stepRuns).toBe(5);
  });

  it('continues as new when its history grows long, carrying data, eligibility and the trace forward', async () => {
    const task = await harness.runTask({ name: 'long', data: { loop: { n: 0, until: 40 } }, historyLimit: 60 });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ n: 40 });
    expect(task.stepRuns).toBe(40);
    expect(task.trace.map((t) => t.cycle)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const runs: string[] = [];
    for await (const execution of harness.client.workflow.list({ query: `WorkflowId = "${task.taskId}"` }))
      runs.push(execution.status.name);
    expect(runs.filter((status) => status === 'CONTINUED_AS_NEW').length).toBeGreaterThanOrEqual(3);
    // Cloning still starts from the task's initial data (its first run's input).
    const clone = await cloneTask(harness.client, task.taskId, { taskQueue: harness.taskQueue });
    harness.taskIds.push(clone);
    expect((await waitForTask(harness.client, clone, { timeoutMs: 60_000 })).result).toEqual({ n: 40 });
  });

  it('stops a runaway redo loop at maxStepRuns with a clear error', async () => {
    const task = await harness.runTask({ name: 'runaway', data: { runaway: { count: 0 } }, maxStepRuns: 12 });
    expect(task.state).toBe('error');
    expect(task.stepRuns).toBe(12);
    expect(task.data.runaway).toEqual({ count: 12 });
    expect(task.error).toMatchObject({ step: 'runaway', reason: 'max-step-runs' });
    expect(task.error!.message).toContain('maxStepRuns');
  });

  it('retries a throwing step with backoff, then moves the task to error with message, stack and attempts', async () => {
    const task = await harness.runTask({ name: 'boom', data: { boom: { fail: true }, keep: 'me' } });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'boom', message: 'payment gateway said no', attempts: 2, reason: 'step-failed' });
    expect(task.error!.stack).toContain('boom.mjs');
    expect(task.data).toEqual({ boom: { fail: true }, keep: 'me' });
  });

  it('moves to attention when no step matches and nothing is pending', async () => {
    const task = await harness.runTask({ name: 'nothing', data: { nothing: 'matches' } });
    expect(task.state).toBe('attention');
    expect(task.trace).toEqual([]);
  });

  it('is done when the data becomes {}', async () => {
    const task = await harness.runTask({ name: 'clear', data: { clear: true, other: 1 } });
    expect(task.state).toBe('done');
    expect(task.data).toEqual({});
  });

  it('is ignored when a step calls task.ignore()', async () => {
    const task = await harness.runTask({ name: 'spam', data: { spam: true } });
    expect(task.state).toBe('ignored');
  });
});

describe('search attributes', () => {
  it('lists tasks by state, name and tag through Temporal visibility', async () => {
    const failed = await harness.runTask({ name: 'listed-by-state', tags: ['billing', 'eu'], data: { boom: { fail: true } } });
    const done = await harness.runTask({ name: 'listed-by-state', tags: ['billing'], data: { seq: { stage: 'c' } } });
    const find = async (query: string) => {
      const ids: string[] = [];
      for await (const execution of harness.client.workflow.list({ query })) ids.push(execution.workflowId);
      return ids.sort();
    };
    // Visibility is eventually consistent: poll briefly until both tasks are indexed in their final state.
    const byName = `WhenflowName = "listed-by-state"`;
    for (let i = 0; i < 50 && (await find(`${byName} AND WhenflowState IN ("error", "done")`)).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await find(`${byName} AND WhenflowState = "error"`)).toEqual([failed.taskId]);
    expect(await find(`${byName} AND WhenflowState = "done"`)).toEqual([done.taskId]);
    expect(await find(`${byName} AND WhenflowTags = "eu"`)).toEqual([failed.taskId]);
    expect(await find(`${byName} AND WhenflowTags = "billing"`)).toEqual([failed.taskId, done.taskId].sort());
  });

  it('are upserted only when they change: the values a task was started with are not written again', async () => {
    const task = await harness.runTask({ name: 'upserts', tags: ['eu'], data: { seq: { stage: 'a' } } });
    expect(task.state).toBe('done');
    const history = await harness.client.workflow.getHandle(task.taskId).fetchHistory();
    const upserted = (history.events ?? []).flatMap((event) => {
      const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
      const state = fields.WhenflowState?.data;
      return state ? [JSON.parse(Buffer.from(state).toString('utf8')) as string] : [];
    });
    // Started as running (by the client), three steps, done: one upsert.
    expect(upserted).toEqual(['done']);
  });
});

describe('reload', () => {
  it('a task in attention picks up a step added after it started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-reload-'));
    cpSync(workspace, dir, { recursive: true });
    const reloading = await startHarness(dir);
    try {
      const stuck = await reloading.runTask({ name: 'reload', data: { brandNew: true } });
      expect(stuck.state).toBe('attention');
      writeFileSync(
        join(dir, 'steps', 'brand_new.mjs'),
        `export const condition = { brandNew: true };\nexport const content = async () => { task.complete('new step ran'); };\n`,
      );
      await reloadTask(reloading.client, stuck.taskId);
      const done = await waitForTask(reloading.client, stuck.taskId, { timeoutMs: 30_000 });
      expect(done.state).toBe('done');
      expect(done.result).toBe('new step ran');
      expect(done.catalogVersion).not.toBe(stuck.catalogVersion);
    } finally {
      await reloading.close();
    }
  });
});

describe('resume', () => {
  it('runs the fixed step file again after a failure and finishes the task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'whenflow-resume-'));
    cpSync(workspace, dir, { recursive: true });
    const resumable = await startHarness(dir);
    try {
      const failed = await resumable.runTask({ name: 'resume', data: { boom: { fail: true } } });
      expect(failed.state).toBe('error');
      writeFileSync(
        join(dir, 'steps', 'boom.mjs'),
        `export const condition = { boom: { fail: true } };
export const content = async () => { data.boom.fail = false; task.complete('fixed'); };
`,
      );
      // A broken file elsewhere in the workspace does not concern this step.
      writeFileSync(join(dir, 'steps', 'zz_broken.mjs'), 'export const condition = {\n');
      await resumeTask(resumable.client, failed.taskId);
      const done = await waitForTask(resumable.client, failed.taskId, { timeoutMs: 30_000 });
      expect(done.error).toBeNull();
      expect(done.state).toBe('done');
      expect(done.result).toBe('fixed');
      expect(done.data).toEqual({ boom: { fail: false } });
      expect(done.trace.map((t) => t.step)).toEqual(['boom']);
      expect(done.error).toBeNull();
    } finally {
      await resumable.close();
    }
  });
});
