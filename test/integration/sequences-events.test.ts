import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { getTask, startTask, stopTask, taskEvents, TaskInputError, waitForTask } from '../../src/client';
import type { TaskEvent } from '../../src/model/events';
import { createTaskWorker } from '../../src/worker';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'sequence');
let harness: TestHarness;

beforeAll(async () => {
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    const replayed = await replayTasks(harness.client, harness.taskIds, 'sequences-events');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
});

async function allEvents(taskId: string, after = 0): Promise<TaskEvent[]> {
  const events: TaskEvent[] = [];
  for await (const event of taskEvents(harness.client, taskId, { after })) events.push(event);
  return events;
}

const ofType = <T extends TaskEvent['type']>(events: TaskEvent[], type: T) =>
  events.filter((e): e is Extract<TaskEvent, { type: T }> => e.type === type);

/** A local HTTP server steps report to; it resolves waiters when a given report arrives. */
async function reportServer(): Promise<{ url: string; seen: string[]; when(path: string): Promise<void>; close(): Promise<void> }> {
  const seen: string[] = [];
  const waiters: { path: string; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.url ?? '');
    for (const waiter of waiters.filter((w) => w.path === req.url)) waiter.resolve();
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    when: (path) => (seen.includes(path) ? Promise.resolve() : new Promise((resolve) => waiters.push({ path, resolve }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('sequences', () => {
  it('runs the listed steps in order, skips a step whose condition does not match, and ends done', async () => {
    const task = await harness.runTask({ name: 'listed', data: { log: [] }, sequence: ['stamp_b', 'only_vip', 'stamp_a', 'stamp_b'] });
    expect(task.state).toBe('done');
    // stamp_b is listed twice and runs twice; only_vip is skipped (not a VIP); wrap_up, unlisted, never runs.
    expect(task.data).toEqual({ log: ['b', 'a', 'b'] });
    const events = await allEvents(task.taskId);
    expect(ofType(events, 'step-skipped')).toEqual([expect.objectContaining({ step: 'only_vip', position: { index: 2, of: 4 } })]);
    expect(ofType(events, 'step-finished').map((e) => `${e.position?.index}/${e.position?.of} ${e.step}`)).toEqual([
      '1/4 stamp_b',
      '3/4 stamp_a',
      '4/4 stamp_b',
    ]);
  });

  it('runs a guarded step when its condition matches', async () => {
    const task = await harness.runTask({ name: 'vip', data: { log: [], customer: { vip: true } }, sequence: ['only_vip', 'stamp_a'] });
    expect(task.data.log).toEqual(['vip', 'a']);
  });

  it('goes on with the condition cycle after the list when asked to', async () => {
    const task = await harness.runTask({ name: 'then cycle', data: { log: [] }, sequence: ['stamp_a'], thenCycle: true });
    // Then the cycle chooses: wrap_up (more specific than stamp_b, which it defers) completes the task.
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ log: ['a'] });
    expect(task.data.wrapped).toBe(true);
    expect(task.trace.map((entry) => entry.step)).toEqual(['stamp_a', 'wrap_up']);
  });

  it('stops at the first step that fails for good, and a resume goes on from that step', async () => {
    const task = await harness.runTask({ name: 'refused', data: { log: [], refuse: true }, sequence: ['stamp_a', 'refuse', 'stamp_b'] });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'refuse', message: 'refused on purpose' });
    expect(task.data.log).toEqual(['a']);
    const failed = ofType(await allEvents(task.taskId), 'step-failed');
    expect(failed).toEqual([expect.objectContaining({ step: 'refuse', position: { index: 2, of: 3 }, message: 'refused on purpose' })]);
  });

  it('refuses unknown step names before anything starts, naming all of them', async () => {
    const known = ['stamp_a', 'stamp_b'];
    await expect(
      startTask(harness.client, {
        data: { log: [] },
        taskQueue: harness.taskQueue,
        sequence: ['stamp_a', 'nope', 'gone', 'nope'],
        knownSteps: known,
      }),
    ).rejects.toThrow(/sequence: unknown steps: nope, gone/);
    await expect(startTask(harness.client, { data: { log: [] }, taskQueue: harness.taskQueue, thenCycle: true })).rejects.toBeInstanceOf(
      TaskInputError,
    );
  });

  it('without the names at hand, the task itself refuses them before running any step', async () => {
    const task = await harness.runTask({ name: 'unknown', data: { log: [] }, sequence: ['stamp_a', 'nope', 'gone'] });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({
      reason: 'sequence-invalid',
      message: 'the sequence names steps the workspace does not have: nope, gone',
    });
    expect(task.stepRuns).toBe(0);
  });
});

describe('the event stream', () => {
  it('numbers every event from 1 and tells the story of the task', async () => {
    const task = await harness.runTask({ name: 'story', data: { log: [] }, sequence: ['stamp_a'], thenCycle: true });
    const events = await allEvents(task.taskId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toMatchObject({ type: 'task-started', name: 'story', sequence: ['stamp_a'] });
    expect(events.at(-1)).toMatchObject({ type: 'task-ended', state: 'done' });
    const types = events.map((e) => e.type);
    expect(types).toContain('cycle-began');
    expect(types).toContain('step-started');
    expect(ofType(events, 'state-changed').at(-1)).toMatchObject({ from: 'running', to: 'done' });
    // A cursor reads only what came after it.
    expect((await allEvents(task.taskId, 3)).map((e) => e.seq)).toEqual(events.slice(3).map((e) => e.seq));
  });

  it('stays readable from any cursor across continue-as-new runs and a worker restart', async () => {
    const address = inject('temporalAddress');
    const namespace = inject('temporalNamespace');
    const taskQueue = `${harness.taskQueue}-restart`;
    const startWorker = async () => {
      const connection = await NativeConnection.connect({ address });
      const worker = await createTaskWorker({ connection, namespace, workspace, taskQueue });
      const running = worker.run();
      return async () => {
        worker.shutdown();
        await running;
        await connection.close();
      };
    };
    let stopWorker = await startWorker();
    const upto = 30;
    // A small history limit and event window: the task continues as new many times.
    const handle = await startTask(harness.client, {
      name: 'long',
      data: { loop: { n: 0, upto } },
      taskQueue,
      historyLimit: 60,
      eventsKept: 20,
    });
    harness.taskIds.push(handle.workflowId);
    const seenBeforeRestart: TaskEvent[] = [];
    for await (const event of taskEvents(harness.client, handle.workflowId, { follow: true })) {
      seenBeforeRestart.push(event);
      if (ofType(seenBeforeRestart, 'step-finished').length >= 10) break;
    }
    await stopWorker();
    stopWorker = await startWorker();
    try {
      const final = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 120_000 });
      expect(final).toMatchObject({ state: 'done', result: { n: upto } });
      const description = await handle.describe();
      expect(description.runId).not.toBe(description.raw.workflowExecutionInfo?.firstRunId);

      const events = await allEvents(handle.workflowId);
      // Every event from 1 on, without gaps or repeats, though the last run holds only a small window.
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(ofType(events, 'step-finished')).toHaveLength(upto);
      expect(events.slice(0, seenBeforeRestart.length)).toEqual(seenBeforeRestart);
      expect(ofType(events, 'task-ended')).toHaveLength(1);
      // A cursor in the middle reads on from there.
      const middle = Math.floor(events.length / 2);
      expect((await allEvents(handle.workflowId, middle)).map((e) => e.seq)).toEqual(events.slice(middle).map((e) => e.seq));
    } finally {
      await stopWorker();
    }
  });
});

describe('cancellation', () => {
  it('a stop cancels the running step: its content sees step.signal abort, and its changes do not land', async () => {
    const reports = await reportServer();
    try {
      const handle = await startTask(harness.client, {
        name: 'slow',
        data: { slow: { report: reports.url } },
        taskQueue: harness.taskQueue,
      });
      harness.taskIds.push(handle.workflowId);
      await reports.when('/started');
      await stopTask(harness.client, handle.workflowId);
      await reports.when('/aborted');
      const final = await getTask(harness.client, handle.workflowId);
      expect(final.state).toBe('stopped');
      expect(final.data).toEqual({ slow: { report: reports.url } });
      expect(final.stepRuns).toBe(0);
    } finally {
      await reports.close();
    }
  });

  it('a step that ignores the signal does not hold the stop up', async () => {
    const reports = await reportServer();
    try {
      const handle = await startTask(harness.client, {
        name: 'stubborn',
        data: { stubborn: { report: reports.url } },
        taskQueue: harness.taskQueue,
      });
      harness.taskIds.push(handle.workflowId);
      await reports.when('/started');
      await stopTask(harness.client, handle.workflowId);
      // The workflow ends while the step's content is still sleeping: the result is the stopped task.
      const final = await handle.result();
      expect(final.state).toBe('stopped');
      expect(final.data).toEqual({ stubborn: { report: reports.url } });
      const events = await allEvents(handle.workflowId);
      expect(ofType(events, 'step-finished')).toEqual([]);
      expect(ofType(events, 'step-failed')).toEqual([]);
      expect(events.at(-1)).toMatchObject({ type: 'task-ended', state: 'stopped' });
    } finally {
      await reports.close();
    }
  });

  it('new data revives a sequence stopped at a failed step: the step is guarded again, the rest runs', async () => {
    const task = await harness.runTask({ name: 'resume', data: { log: [], refuse: true }, sequence: ['stamp_a', 'refuse', 'stamp_b'] });
    expect(task.state).toBe('error');
    // Fix the cause in the data: with `refuse` gone, the guard skips the failed step and the rest runs.
    await harness.client.workflow.getHandle(task.taskId).executeUpdate('whenflow.update', { args: [{ refuse: null }] });
    const after = await waitForTask(harness.client, task.taskId, { timeoutMs: 30_000 });
    expect(after.state).toBe('done');
    expect(after.data.log).toEqual(['a', 'b']);
  });
});
