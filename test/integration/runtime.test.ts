import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, startTask, stopTask, updateTask, waitForTask } from '../../src/client';
import { isSealed } from '../../src/model/sealed';
import type { TaskSnapshot, TaskState } from '../../src/model/task';
import { replayTasks, startHarness, type TestHarness } from '../support/temporal';

const workspace = join(import.meta.dirname, '..', 'workspaces', 'runtime');
const stashKey = randomBytes(32);
process.env.WHENFLOW_TEST_STASH_KEY = stashKey.toString('base64');

/** A real local API the steps and connectors talk to; it records what it was sent. */
class LocalApi {
  private server!: Server;
  url = '';
  readonly seen: { path: string; headers: IncomingMessage['headers'] }[] = [];
  flakyFailuresLeft = 2;
  inFlight = 0;
  maxInFlight = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.seen.push({ path: url.pathname + url.search, headers: req.headers });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/flaky':
        if (this.flakyFailuresLeft-- > 0) return json(503, { error: 'try later' });
        return json(200, { ok: true });
      case '/work':
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        await new Promise((resolve) => setTimeout(resolve, 150));
        this.inFlight -= 1;
        return json(200, { n: Number(url.searchParams.get('n')) });
      case '/crm/find':
        return json(200, { id: `contact-${url.searchParams.get('email')}`, email: url.searchParams.get('email') });
      case '/broken':
        return json(500, { error: 'always broken' });
      case '/session':
        return json(200, { session: 'sess-9f8e7d6c5b4a' });
      default:
        return json(404, { error: 'no such path' });
    }
  }
}

const api = new LocalApi();
let harness: TestHarness;

beforeAll(async () => {
  await api.start();
  harness = await startHarness(workspace);
});

afterAll(async () => {
  if (harness) {
    expect(await replayTasks(harness.client, harness.taskIds, 'runtime')).toBe(harness.taskIds.length);
    await harness.close();
  }
  await api.stop();
});

/** Starts a task without waiting for it to settle (for tasks that wait on the outside world). */
async function start(data: Record<string, unknown>, extra: { name?: string; maxSubtasks?: number } = {}): Promise<string> {
  const handle = await startTask(harness.client, {
    name: extra.name ?? 'runtime',
    data: data as never,
    taskQueue: harness.taskQueue,
    stashKey,
    ...(extra.maxSubtasks ? { maxSubtasks: extra.maxSubtasks } : {}),
  });
  harness.taskIds.push(handle.workflowId);
  return handle.workflowId;
}

async function until(taskId: string, state: TaskState, timeoutMs = 20_000): Promise<TaskSnapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const snapshot = await getTask(harness.client, taskId);
    if (snapshot.state === state) return snapshot;
    if (Date.now() > deadline) throw new Error(`task ${taskId} is ${snapshot.state}, not ${state}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('task.park', () => {
  it('park(ms) + step.redo() retries with a durable delay until the call succeeds', async () => {
    api.flakyFailuresLeft = 2;
    const started = Date.now();
    const task = await harness.runTask({ name: 'park-retry', data: { flaky: { url: `${api.url}/flaky` } } });
    expect(task.state).toBe('attention');
    expect(task.data.flaky).toMatchObject({ done: true, attempts: 2 });
    expect(task.trace.map((t) => t.step)).toEqual(['retry_with_park', 'retry_with_park', 'retry_with_park']);
    // Two parks of 200 ms each lie between the three runs.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('a parked task is waiting, and new data from outside wakes it early', async () => {
    const taskId = await start({ approval: { item: 'laptop' } });
    const parked = await until(taskId, 'waiting');
    expect(parked.data.approval).toEqual({ item: 'laptop', asked: true });
    await updateTask(harness.client, taskId, { approval: { approved: true } });
    const done = await waitForTask(harness.client, taskId, { timeoutMs: 10_000 });
    expect(done.state).toBe('done');
    expect(done.result).toBe('approved');
  });
});

describe('update and stop', () => {
  it('an update merges data (JSON Merge Patch) into a task in attention and starts a new cycle', async () => {
    const taskId = await start({ idle: true, remove: 'me' });
    await until(taskId, 'attention');
    await updateTask(harness.client, taskId, { remove: null, approval: { approved: true } });
    const done = await waitForTask(harness.client, taskId, { timeoutMs: 10_000 });
    expect(done.state).toBe('done');
    expect(done.data).toEqual({ idle: 'waiting for more', approval: { approved: true } });
  });

  it('stop ends a task that is not terminal; further updates are rejected', async () => {
    const taskId = await start({ idle: true });
    await until(taskId, 'attention');
    await stopTask(harness.client, taskId);
    expect((await getTask(harness.client, taskId)).state).toBe('stopped');
    await expect(updateTask(harness.client, taskId, { more: 1 })).rejects.toThrow();
  });

  it('rejects an update that is not a JSON object, naming what is wrong', async () => {
    const taskId = await start({ idle: true });
    await until(taskId, 'attention');
    await expect(updateTask(harness.client, taskId, [1, 2] as never)).rejects.toThrow(/patch/);
    await stopTask(harness.client, taskId);
  });
});

describe('task.subtask', () => {
  it('runs a batch of subtasks with a bounded fan-out and writes each outcome at `into`', async () => {
    api.maxInFlight = 0;
    const items = [1, 2, 3, 4, 5, 6, 7];
    const task = await harness.runTask({ name: 'batch', data: { batch: { items, api: api.url } }, maxSubtasks: 3 });
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ count: 7, states: ['done'], sum: 56 });
    const results = (task.data.batch as { results: Record<string, { taskId: string; state: string; result: number }> }).results;
    expect(results['6']).toEqual({ taskId: `${task.taskId}.7`, state: 'done', result: 14 });
    expect(api.maxInFlight).toBe(3);
    const child = await getTask(harness.client, results['0']!.taskId);
    expect(child.name).toBe('item 1');
    expect(child.data).toEqual({ child: { n: 1, api: api.url, fail: false } });
  });

  it('starts 500 subtasks from one step', async () => {
    const items = Array.from({ length: 500 }, (_, i) => i);
    const task = await harness.runTask({ name: 'wide batch', data: { batch: { items } } }, 120_000);
    expect(task.state).toBe('done');
    expect(task.result).toEqual({ count: 500, states: ['done'], sum: 2 * ((499 * 500) / 2) });
  }, 150_000);

  it('a subtask in error puts the parent that waits for it in error; once the subtask is stopped, the parent goes on', async () => {
    const taskId = await start({ batch: { items: [1, 2], failOn: 2 } });
    const failedChild = `${taskId}.2`;
    const parent = await until(taskId, 'error');
    const child = await getTask(harness.client, failedChild);
    expect(child.state).toBe('error');
    // Two attempts: the workspace default (whenflow.yaml defaults.retry), not the built-in three.
    expect(child.error).toMatchObject({ step: 'child_work', message: 'item 2 cannot be processed', attempts: 2 });
    expect(parent.trace.map((t) => t.step)).toEqual(['fan_out']);
    expect(parent.error).toMatchObject({ reason: 'subtask-failed', subtaskId: failedChild, step: 'child_work' });
    await stopTask(harness.client, failedChild);
    // The parent is still in `error` until the child's end reaches it; wait for it to finish.
    const done = await until(taskId, 'done');
    expect(done.result).toEqual({ count: 2, states: ['done', 'stopped'], sum: 2 });
  });
});

describe('stopping a parent', () => {
  it('stops its running subtasks too', async () => {
    const taskId = await start({ batch: { items: [1, 2], failOn: 2 } });
    const child = `${taskId}.2`;
    await until(taskId, 'error');
    expect((await getTask(harness.client, child)).state).toBe('error');
    await stopTask(harness.client, taskId);
    expect((await getTask(harness.client, taskId)).state).toBe('stopped');
    expect((await until(child, 'stopped', 10_000)).state).toBe('stopped');
  });
});

describe('task name, tags, id, audit and visualize', () => {
  it('sets name and tags (visible to Temporal visibility) and keeps audit lines and visuals with the step', async () => {
    const task = await harness.runTask({ name: 'before', data: { rename: 'after' } });
    expect(task.name).toBe('after');
    expect(task.tags).toEqual(['renamed', 'before']);
    expect(task.data).toEqual({ renamedFrom: 'before', taskId: task.taskId });
    expect(task.trace[0]!.logs).toEqual([
      { level: 'audit', message: 'renamed from before' },
      { level: 'visual', message: 'table totals', visual: { type: 'table', name: 'totals', data: { rows: [[1, 2]] } } },
    ]);
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const execution of harness.client.workflow.list({
        query: `WhenflowName = "after" AND WhenflowTags = "renamed" AND WorkflowId = "${task.taskId}"`,
      })) {
        found.push(execution.workflowId);
      }
      if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(found).toEqual([task.taskId]);
  });
});

describe('task.timeout', () => {
  it('expires a task at its deadline (a run waits for the deadline rather than returning at attention)', async () => {
    const task = await harness.runTask({ name: 'deadline', data: { deadline: { ms: 300 } } });
    expect(task.state).toBe('expired');
    expect(task.result).toBeNull();
  });

  it('completes it with the completeOnExpire result instead', async () => {
    const taskId = await start({ deadline: { ms: 300, result: { late: true } } });
    const done = await until(taskId, 'done', 10_000);
    expect(done.result).toEqual({ late: true });
  });
});

describe('task.config', () => {
  it('reads values from whenflow.yaml, with ${ENV} substitution', async () => {
    const task = await harness.runTask({ name: 'config', data: { needsConfig: true } });
    expect(task.data).toEqual({ needsConfig: false, channel: '#ops', region: 'eu-west' });
  });
});

describe('connectors', () => {
  it('a deferred call (into) runs as its own activity; its result triggers the next step', async () => {
    const before = api.seen.length;
    const task = await harness.runTask({ name: 'lookup', data: { lookup: { email: 'ada@example.com', api: api.url } } });
    expect(task.state).toBe('done');
    expect(task.result).toBe('contact-ada@example.com');
    expect(task.trace.map((t) => t.step)).toEqual(['lookup', 'lookup_done']);
    expect(task.trace[0]!.changed).toEqual(['/lookup/requested']);
    const call = api.seen.slice(before).find((s) => s.path.startsWith('/crm/find'));
    expect(call?.headers['idempotency-key']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a deferred call that fails for good puts the task in error naming connector, method and step', async () => {
    const task = await harness.runTask({ name: 'doomed', data: { doomed: { url: `${api.url}/broken` } } });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'doomed', reason: 'connector-failed', attempts: 2 });
    expect(task.error!.message).toContain('fetch.request');
    expect(task.error!.message).toContain('500');
  });
});

describe('step timeout', () => {
  it('cancels a hanging step at its timeout; each timeout counts as a failed attempt', async () => {
    const task = await harness.runTask({ name: 'hang', data: { hang: true } });
    expect(task.state).toBe('error');
    expect(task.error).toMatchObject({ step: 'hang', attempts: 2, reason: 'step-failed' });
    expect(task.error!.message).toContain('timed out after 300 ms');
  });
});

describe('secrets in data.$stash', () => {
  it('steps read and write them, conditions type-match them, and no plaintext reaches history or queries', async () => {
    const apiKey = 'key-0123456789abcdef';
    const before = api.seen.length;
    const task = await harness.runTask({
      name: 'secret',
      data: { $stash: { apiKey }, secretCall: { url: `${api.url}/session` } },
      stashKey,
    });
    expect(task.state).toBe('done');
    expect(task.result).toBe('session of length 17');
    // The API got the plaintext key from the step.
    expect(api.seen.slice(before).find((s) => s.path === '/session')?.headers.authorization).toBe(`Bearer ${apiKey}`);
    // The workflow (and so every query) holds sealed values only.
    const stash = task.data.$stash as Record<string, unknown>;
    expect(isSealed(stash.apiKey)).toBe(true);
    expect(isSealed(stash.session)).toBe(true);
    expect(task.trace[0]!.logs[0]!.message).toBe('calling with key ‹secret›');
    const raw = historyToJSON(await harness.client.workflow.getHandle(task.taskId).fetchHistory());
    const decoded = [...raw.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)]
      .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
      .join('\n');
    for (const secret of [apiKey, 'sess-9f8e7d6c5b4a']) {
      expect(raw).not.toContain(secret);
      expect(decoded).not.toContain(secret);
    }
    expect(decoded).toContain('whenflow:sealed:v2:string:default:');
  });

  it('refuses to start a task with secrets when no stash key is given', async () => {
    await expect(startTask(harness.client, { data: { $stash: { apiKey: 'x' } }, taskQueue: harness.taskQueue })).rejects.toThrow(
      /data\.\$stash.*secrets\.key/s,
    );
  });
});
