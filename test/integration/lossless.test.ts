/**
 * The lossless rules on a real Temporal server: no write, connector call, subtask or run is lost or hung.
 * Each test stands for one way work used to be lost; each fails under the earlier rules.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, resumeTask, startTask, updateTask, waitForTask } from '../../src/client';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'lossless');
let harness: TestHarness;

/** A real local service the steps' connector calls: it records every request it finished. */
const service = {
  finished: [] as { path: string; body: Record<string, unknown> }[],
  checkFails: true,
  url: '',
  server: null as Server | null,
  waiters: [] as { what: string; resolve: () => void }[],
};

async function startService(): Promise<void> {
  service.server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as Record<string, unknown>;
      const answer = (status: number, value: unknown) => {
        if (status === 200) service.finished.push({ path: req.url ?? '', body });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        for (const waiter of service.waiters.filter((w) => w.what === body.what)) waiter.resolve();
      };
      if (req.url === '/slow') setTimeout(() => answer(200, { slow: true }), 800);
      else if (req.url === '/broken') answer(500, { error: 'broken' });
      else if (req.url === '/check') answer(service.checkFails ? 500 : 200, { checked: true });
      else if (req.url === '/quote') setTimeout(() => answer(200, { price: 42 }), 300);
      else answer(200, { ok: true });
    });
  });
  await new Promise<void>((resolve) => service.server!.listen(0, '127.0.0.1', resolve));
  service.url = `http://127.0.0.1:${(service.server.address() as AddressInfo).port}`;
}

const requestSeen = (what: string) => new Promise<void>((resolve) => service.waiters.push({ what, resolve }));

beforeAll(async () => {
  await startService();
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    const replayed = await replayTasks(harness.client, harness.taskIds, 'lossless');
    expect(replayed).toBe(harness.taskIds.length);
    await harness.close();
  }
  service.server?.closeAllConnections();
  service.server?.close();
});

describe('1: steps that match in the same cycle', () => {
  it('run one after another in rank order by default, each seeing the changes of the one before', async () => {
    const task = await harness.runTask({ name: 'history', data: { history: [] } });
    expect(task.state).toBe('attention');
    expect(task.data.history).toEqual(['first', 'second']);
    expect(task.data.sawBefore).toEqual(['first']);
    expect(task.trace.map((t) => `${t.cycle}:${t.step}`)).toEqual(['1:history_first', '2:history_second']);
    expect(task.conflicts).toEqual([]);
  });

  it('in parallel, a step that read what an earlier one wrote is not merged, is recorded, and runs again', async () => {
    const task = await harness.runTask({ name: 'history-parallel', data: { history: [] }, concurrency: 2 });
    expect(task.data.history).toEqual(['first', 'second']);
    expect(task.data.sawBefore).toEqual(['first']);
    // Both ran in cycle 1; the second's changes were held, and it ran again in cycle 2.
    expect(task.trace.map((t) => `${t.cycle}:${t.step}`)).toEqual(['1:history_first', '2:history_second']);
    expect(task.conflicts).toEqual([{ cycle: 1, paths: ['/history'], kept: 'history_first', dropped: 'history_second', outcome: 'rerun' }]);
  });

  it('in parallel with onConflict: error, the task fails naming both steps and the paths', async () => {
    const task = await harness.runTask({ name: 'history-strict', data: { history: [] }, concurrency: 2, onConflict: 'error' });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'history_second', reason: 'conflict' });
    expect(task.error!.message).toContain('"history_first"');
    expect(task.error!.message).toContain('/history');
    expect(task.data.history).toEqual(['first']);
    expect(task.conflicts[0]).toMatchObject({ kept: 'history_first', dropped: 'history_second', outcome: 'error' });
  });
});

describe('2: connector calls without await', () => {
  it('a slow call is finished before the step ends', async () => {
    const before = service.finished.filter((r) => r.path === '/slow').length;
    const task = await harness.runTask({ name: 'slow', data: { notify: { api: service.url, mode: 'slow' } } });
    expect(task.state).toBe('done');
    expect(service.finished.filter((r) => r.path === '/slow').length).toBe(before + 1);
    expect(task.trace[0]!.durationMs).toBeGreaterThanOrEqual(700);
  });

  it('a failing call fails the step, naming connector, method and message', async () => {
    const task = await harness.runTask({ name: 'broken', data: { notify: { api: service.url, mode: 'broken' } } });
    expect(task.state).toBe('error');
    expect(task.error!.message).toBe('connectors.svc.broken() was not awaited and failed: service answered 500 on /broken');
    expect(task.error!.attempts).toBe(2);
  });

  it('storing the call itself names the path and asks about await', async () => {
    const task = await harness.runTask({ name: 'stored', data: { notify: { api: service.url, mode: 'stored' } } });
    expect(task.state).toBe('error');
    expect(task.error!.message).toContain('wrote a Promise (missing await?) at data.receipt');
    expect(task.error!.attempts).toBe(1);
  });
});

describe('3: ending a task never abandons work', () => {
  it('task.complete() after a deferred call: the call is made and its result lands first', async () => {
    const task = await harness.runTask({ name: 'quote', data: { finishWith: { api: service.url, kind: 'call' } } });
    expect(task.state).toBe('done');
    expect(task.result).toBe('asked');
    expect(task.data.quote).toEqual({ price: 42 });
  });

  it('task.complete() after task.subtask(): the subtask is started (and runs to its end)', async () => {
    const task = await harness.runTask({ name: 'spawn', data: { finishWith: { kind: 'subtask' } } });
    expect(task.state).toBe('done');
    expect(task.result).toBe('spawned');
    const child = await waitForTask(harness.client, `${task.taskId}.1`, { timeoutMs: 30_000 });
    expect(child).toMatchObject({ state: 'done', result: { sideJob: 1 } });
  });
});

describe('4: a waited-for subtask that fails', () => {
  it('puts the parent in error naming it; resuming the parent resumes the subtask, and the parent goes on', async () => {
    service.checkFails = true;
    const parent = await harness.runTask({ name: 'parent', data: { parent: { api: service.url } } }, 30_000);
    expect(parent.state).toBe('error');
    const childId = `${parent.taskId}.1`;
    expect(parent.error).toMatchObject({ reason: 'subtask-failed', subtaskId: childId, step: 'fragile' });
    expect(parent.error!.message).toBe(
      `subtask ${childId}, which this task waits for, is in error: step "fragile" failed: service answered 500 on /check`,
    );
    expect((await getTask(harness.client, childId)).state).toBe('error');

    service.checkFails = false;
    await resumeTask(harness.client, parent.taskId);
    const resumed = await waitForTask(harness.client, parent.taskId, { timeoutMs: 30_000 });
    expect(resumed.state).toBe('done');
    expect(resumed.result).toEqual({ child: 'done' });
    expect(resumed.data.child).toMatchObject({ taskId: childId, state: 'done', result: { checked: true } });
  });
});

describe('5: a run settles only when nothing can happen without outside help', () => {
  it('waits for a pending deadline instead of returning at attention', async () => {
    const task = await harness.runTask({ name: 'deadline', data: { expiry: { ms: 2000 } } }, 30_000);
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ expired: true });
    expect(task.settled).toBe(true);
  });
});

describe('6: programming errors are not retried', () => {
  it('a ReferenceError fails the step at its first attempt: its side effect happened once', async () => {
    const before = service.finished.filter((r) => r.body.what === 'side effect before the typo').length;
    const task = await harness.runTask({ name: 'typo', data: { typo: { api: service.url } } });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'typo', attempts: 1 });
    expect(task.error!.message).toBe('dta is not defined');
    expect(task.error!.stack).toContain('ReferenceError');
    expect(service.finished.filter((r) => r.body.what === 'side effect before the typo').length).toBe(before + 1);
  });
});

describe('7: an array of object patterns', () => {
  it('matches when every element matches, and not when one does not', async () => {
    const all = await harness.runTask({
      name: 'lines',
      data: {
        lines: [
          { sku: 'a', price: 2 },
          { sku: 'b', price: 3 },
        ],
      },
    });
    expect(all.data.total).toBe(5);
    const some = await harness.runTask({ name: 'lines-missing', data: { lines: [{ sku: 'a', price: 2 }, { sku: 'b' }] } });
    expect(some.state).toBe('attention');
    expect(some.data.total).toBeUndefined();
    const none = await harness.runTask({ name: 'lines-empty', data: { lines: [] } });
    expect(none.data.total).toBeUndefined();
  });
});

describe('8: an update racing a running step', () => {
  it('is taken in after the step, and where it replaces what the step wrote a conflict is recorded', async () => {
    const started = requestSeen('race started');
    const handle = await startTask(harness.client, {
      name: 'race',
      data: { race: { status: 'new', api: service.url } },
      taskQueue: harness.taskQueue,
    });
    harness.taskIds.push(handle.workflowId);
    await started;
    await updateTask(harness.client, handle.workflowId, { race: { status: 'from update' } });
    const task = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 30_000 });
    expect(task.data.race).toEqual({ status: 'from update', stepDone: true, api: service.url });
    expect(task.conflicts).toEqual([{ cycle: 1, paths: ['/race/status'], kept: 'update', dropped: 'slow_status', outcome: 'overwritten' }]);
  });
});
