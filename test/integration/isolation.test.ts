import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getTask, startTask, stopTask, waitForTask } from '../../src/client';
import type { JsonObject } from '../../src/model/json';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process';

/**
 * Step content runs in step threads: a step that spins, exhausts its heap or poisons built-ins fails or
 * stays on its own, next to a healthy task on the same worker. The worker is a separate process, as in
 * production: a step that blocked or crashed it could not take the test process down with it.
 */
const { workspace } = scratchWorkspaces('isolation');

const twoQuickAttempts = `retry: { maximumAttempts: 2, initialInterval: '100ms' }`;
const files: Record<string, string> = {
  // Five short cycles, so that it runs while the bad steps spin and grow.
  'steps/healthy.mjs': `
    export const condition = { kind: 'healthy', count: { $lt: 5 } };
    export const content = async () => {
      await connectors.utils.sleep({ milliseconds: 300 });
      data.count += 1;
      if (data.count === 5) task.complete({ count: data.count });
      else step.redo();
    };`,
  'steps/spin.mjs': `
    export const condition = { kind: 'spin' };
    export const options = { timeout: '2s', ${twoQuickAttempts} };
    export const content = async () => {
      while (true) {}
    };`,
  'steps/hog.mjs': `
    export const condition = { kind: 'hog' };
    export const options = { maxHeapMb: 96, ${twoQuickAttempts} };
    export const content = async () => {
      const kept = [];
      for (let i = 0; ; i++) kept.push({ i, text: 'grow ' + i, more: new Array(64).fill(i) });
    };`,
  'steps/poison.mjs': `
    export const condition = { kind: 'poison', poisoned: null };
    export const content = async () => {
      Object.prototype.toJSON = function () { return 'poisoned'; };
      Array.prototype.includes = () => true;
      globalThis.lastSecret = data.secret;
      data.poisoned = true;
    };`,
  // Looks for what the poisoning step left, then waits: a task that must still answer a stop.
  'steps/victim.mjs': `
    export const condition = { kind: 'victim', looked: null };
    export const content = async () => {
      data.looked = {
        toJSON: typeof Object.prototype.toJSON,
        includes: [1].includes(2),
        lastSecret: typeof globalThis.lastSecret,
      };
      task.park('1h');
    };`,
};

let worker: WorkerProcess;
let client: Client;
let connection: Connection;
const taskQueue = `isolation-${process.pid}`;

beforeAll(async () => {
  const dir = await workspace(files);
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
  worker = spawnWorkerProcess({ workspace: dir, taskQueue, address: inject('temporalAddress'), namespace: inject('temporalNamespace') });
});

afterAll(async () => {
  // A worker blocked by a step (as before step threads) never gets to handle SIGTERM.
  if (worker) {
    const stopped = await Promise.race([
      worker.kill('SIGTERM').then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 15_000)),
    ]);
    if (!stopped) await worker.kill('SIGKILL');
  }
  await connection?.close();
});

async function start(name: string, data: JsonObject): Promise<string> {
  return (await startTask(client, { name, data, taskQueue })).workflowId;
}

/** A task that parks is not settled: read it until its step has run (or give up after 30 s). */
async function parkedTask(taskId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const task = await getTask(client, taskId);
    if (task.state !== 'running' || Date.now() > deadline) return task;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('step content runs isolated from the worker', () => {
  it('a busy loop and a heap-exhausting step fail their attempts with a clear message; a healthy task next to them completes', async () => {
    const spin = await start('spins', { kind: 'spin' });
    const hog = await start('hogs', { kind: 'hog' });
    const healthy = await start('healthy', { kind: 'healthy', count: 0 });

    const done = await waitForTask(client, healthy, { timeoutMs: 60_000 });
    expect(done.state).toBe('done');
    expect(done.result).toEqual({ count: 5 });

    const spun = await waitForTask(client, spin, { timeoutMs: 60_000 });
    expect(spun.state).toBe('error');
    expect(spun.error?.step).toBe('spin');
    // Stopped by the worker (which names the step) or, on a slow machine, by Temporal's own timer first.
    expect(spun.error?.message).toMatch(/^step ("spin" )?timed out after 2000 ms/);
    expect(spun.error?.attempts).toBe(2);

    const hogged = await waitForTask(client, hog, { timeoutMs: 60_000 });
    expect(hogged.state).toBe('error');
    expect(hogged.error?.step).toBe('hog');
    expect(hogged.error?.message).toContain('step "hog" ran out of memory: it needed more than its heap limit of 96 MiB and was stopped');
    expect(hogged.error?.attempts).toBe(2);

    // The worker process lived through all of it, and still runs tasks.
    expect(worker.output()).not.toMatch(/FATAL ERROR|heap out of memory/i);
    const after = await waitForTask(client, await start('healthy after', { kind: 'healthy', count: 3 }), { timeoutMs: 60_000 });
    expect(after.state).toBe('done');
  });

  it("a step that poisons built-ins and globals leaves another task's steps untouched, and that task can be stopped", async () => {
    const poisoner = await start('poisons', { kind: 'poison', secret: 'of the poisoner' });
    const poisoned = await waitForTask(client, poisoner, { timeoutMs: 60_000 });
    // Its own execution is the one that sees the poisoned built-ins: its data no longer turns into JSON.
    expect(poisoned.state).toBe('error');
    expect(poisoned.error?.message).toBe('step "poison" set data to an instance of Object; data must be a JSON object');

    const victim = await start('victim', { kind: 'victim' });
    const parked = await parkedTask(victim);
    expect(parked.error).toBeNull();
    expect(parked.state).toBe('waiting');
    expect(parked.data.looked).toEqual({ toJSON: 'undefined', includes: false, lastSecret: 'undefined' });

    await stopTask(client, victim);
    const stopped = await waitForTask(client, victim, { timeoutMs: 30_000 });
    expect(stopped.state).toBe('stopped');

    // Tasks started after the poisoning run as before.
    const later = await waitForTask(client, await start('healthy later', { kind: 'healthy', count: 4 }), { timeoutMs: 60_000 });
    expect(later.state).toBe('done');
    expect(later.result).toEqual({ count: 5 });
  });
});
