import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getTask, startTask } from '../../src/client';
import type { JsonObject } from '../../src/model/json';
import type { TaskSnapshot } from '../../src/model/task';
import { stashPlace, unsealValue } from '../../src/runtime/stash';
import { historyText } from '../support/history';
import { executionKey, ProbeServer, type Mark } from '../support/probe-server';
import { rng } from '../support/random';
import { replayMany } from '../support/replay';
import { startHarness, type TestHarness } from '../support/temporal';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process';

/**
 * R1 and R5 of fault injection: 100 tasks in flight while the worker process is killed with SIGKILL
 * again and again. Every task must end exactly as in a fault-free run, each step's data effect applied
 * once, though step content demonstrably ran more than once; and no history holds a secret in plaintext.
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'faults');
const stashKey = randomBytes(32);
process.env.WHENFLOW_FAULTS_STASH_KEY = stashKey.toString('base64');

const TASKS = 100;
const KILLS = 10;
const seed = Number(process.env.WHENFLOW_FAULT_SEED) || Math.floor(Math.random() * 2 ** 31);
const random = rng(seed);
console.log(`fault injection seed ${seed} (repeat with WHENFLOW_FAULT_SEED=${seed})`);

interface FaultInput {
  data: JsonObject;
  token: string;
  loops: number;
}

const inputs: FaultInput[] = Array.from({ length: TASKS }, (_, i) => {
  const loops = 1 + Math.floor(random() * 4);
  const token = `tok-${seed}-${i}-${randomBytes(6).toString('hex')}`;
  return { loops, token, data: { job: { id: i, n: loops, stage: 'new' }, count: 0, log: [], $stash: { token } } };
});

/** What each task does, step by step: one count and one log entry per step execution. */
function expectedLog(loops: number): string[] {
  return ['begin', ...Array.from({ length: loops }, (_, i) => `loop ${i}`), 'fork', `rest after child ${loops * 10}`, 'seal', 'finish'];
}

const probe = new ProbeServer();
let harness: TestHarness;
const workers: WorkerProcess[] = [];
/** Parent and child task IDs of the run with faults, for replay and the secrets check. */
const faultyTaskIds: string[] = [];

beforeAll(async () => {
  await probe.start();
  process.env.WHENFLOW_FAULTS_PROBE_URL = probe.url;
  harness = await startHarness(workspace);
});

afterAll(async () => {
  for (const worker of workers) await worker.kill('SIGKILL');
  if (harness) {
    // Two tasks with their subtasks are kept as fixtures when histories are recorded.
    const fixtures = faultyTaskIds.slice(0, 2).flatMap((id) => [id, `${id}.1`]);
    expect(await replayMany(harness.client, faultyTaskIds, 'faults', fixtures)).toBe(faultyTaskIds.length);
    await harness.close();
  }
  await probe.stop();
});

/** Waits for every task's workflow to complete (each `done` task completes it); names the stragglers. */
async function settleAll(client: Client, taskIds: string[], timeoutMs: number): Promise<TaskSnapshot[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const results = Promise.all(taskIds.map((id) => client.workflow.getHandle(id).result() as Promise<TaskSnapshot>));
  const outcome = await Promise.race([results, timeout]);
  clearTimeout(timer);
  if (outcome !== 'timeout') return outcome;
  const states = await Promise.all(
    taskIds.map(async (id) => `${id}: ${(await getTask(client, id).catch((e: Error) => ({ state: e.message }))).state}`),
  );
  throw new Error(`not every task completed within ${timeoutMs} ms:\n${states.filter((s) => !s.endsWith(': done')).join('\n')}`);
}

async function startAll(taskQueue: string): Promise<string[]> {
  return Promise.all(
    inputs.map(
      async (input, i) => (await startTask(harness.client, { name: `faults ${i}`, data: input.data, taskQueue, stashKey })).workflowId,
    ),
  );
}

/** The task data with secrets set aside and the task's own ID replaced, to compare runs. */
function comparable(task: TaskSnapshot): unknown {
  const { $stash: _secrets, ...rest } = task.data;
  return JSON.parse(JSON.stringify(rest).replaceAll(task.taskId, '<task>'));
}

/** A worker process on the suite's server, raced against its own death so that a crash is reported with its output. */
function startWorker(taskQueue: string): WorkerProcess {
  const worker = spawnWorkerProcess({ workspace, taskQueue, address: inject('temporalAddress'), namespace: inject('temporalNamespace') });
  workers.push(worker);
  return worker;
}

async function untilWhileAlive(worker: WorkerProcess, predicate: () => boolean, what: string): Promise<void> {
  const died = worker.exited.then(({ code, signal }) => {
    throw new Error(`worker ${worker.pid} exited (${signal ?? code}) before ${what}:\n${worker.output()}`);
  });
  await Promise.race([probe.until(predicate, 120_000, what), died]);
}

describe('R1: the worker process is killed with SIGKILL while 100 tasks are in flight', () => {
  let faultFree: Map<number, TaskSnapshot>;

  it('a fault-free run gives the reference data', async () => {
    const ids = await startAll(harness.taskQueue);
    const settled = await settleAll(harness.client, ids, 240_000);
    faultFree = new Map(settled.map((task, i) => [i, task]));
    for (const [i, task] of faultFree) {
      const { loops } = inputs[i]!;
      expect(task.state).toBe('done');
      expect(task.data.count).toBe(5 + loops);
      expect(task.data.log).toEqual(expectedLog(loops));
      expect(task.result).toEqual({ count: 5 + loops, child: loops * 10 });
    }
  }, 300_000);

  it('every task completes with the fault-free data; each data effect applied once though content ran again', async () => {
    const taskQueue = `${harness.taskQueue}-faulty`;
    let worker = startWorker(taskQueue);
    const ids = await startAll(taskQueue);
    faultyTaskIds.push(...ids, ...ids.map((id) => `${id}.1`));

    const kills: { pid: number; signal: NodeJS.Signals | null; interrupted: Mark[] }[] = [];
    for (let k = 1; k <= KILLS; k++) {
      // A random point of the work: after some steps began in this process, a random moment later, while content runs.
      const begun = 1 + Math.floor(random() * 25);
      const pause = Math.floor(random() * 400);
      await untilWhileAlive(worker, () => probe.begunBy(worker.pid) >= begun, `worker ${k} began ${begun} steps`);
      await sleep(pause);
      await untilWhileAlive(worker, () => probe.unfinishedBy(worker.pid).length > 0, `worker ${k} ran a step`);
      const { signal } = await worker.kill('SIGKILL');
      kills.push({ pid: worker.pid, signal, interrupted: probe.unfinishedBy(worker.pid) });
      worker = startWorker(taskQueue);
    }
    const settled = await settleAll(harness.client, ids, 240_000);
    await worker.kill('SIGTERM');

    expect(kills.map((kill) => kill.signal)).toEqual(Array(KILLS).fill('SIGKILL'));
    settled.forEach((task, i) => {
      const reference = faultFree.get(i)!;
      expect(task.state).toBe('done');
      expect(comparable(task)).toEqual(comparable(reference));
      expect(task.result).toEqual(reference.result);
      expect(task.stepRuns).toBe(reference.stepRuns);
      expect(task.trace.map((t) => `${t.cycle}:${t.step}`)).toEqual(reference.trace.map((t) => `${t.cycle}:${t.step}`));
      // Exactly once: one count and one log entry per step, however often the content ran.
      expect(task.data.count).toBe(5 + inputs[i]!.loops);
      expect(task.data.log).toEqual(expectedLog(inputs[i]!.loops));
      // The secret came through intact and sealed; the step's derived secret too.
      const stash = task.data.$stash as { token: string; derived: string };
      expect(unsealValue(stash.token, stashKey, stashPlace('token'))).toBe(inputs[i]!.token);
      expect(unsealValue(stash.derived, stashKey, stashPlace('derived'))).toBe(`${inputs[i]!.token}-derived`);
    });
    const children = await Promise.all(ids.map((id) => getTask(harness.client, `${id}.1`)));
    for (const child of children)
      expect({ state: child.state, count: child.data.count, log: child.data.log }).toEqual({ state: 'done', count: 1, log: ['child'] });

    // At least once: every step execution of every task (and child) began, some more than once.
    const ours = new Set(faultyTaskIds);
    const begins = probe.marks.filter((mark) => mark.phase === 'begin' && ours.has(mark.taskId));
    const executions = new Map<string, Mark[]>();
    for (const mark of begins) executions.set(executionKey(mark), [...(executions.get(executionKey(mark)) ?? []), mark]);
    const stepRuns = [...settled, ...children].reduce((sum, task) => sum + task.stepRuns, 0);
    expect(executions.size).toBe(stepRuns);
    // Content cut off by a kill never finished, so its activity never completed: it ran again in a later process.
    const interrupted = kills.flatMap((kill) => kill.interrupted.map((mark) => ({ mark, killed: kill.pid })));
    expect(interrupted.length).toBeGreaterThanOrEqual(KILLS);
    for (const { mark, killed } of interrupted) {
      const again = executions.get(executionKey(mark))!.filter((other) => other.pid !== killed);
      expect(again.length, `${executionKey(mark)} ran again after worker ${killed} was killed`).toBeGreaterThan(0);
    }
    expect(begins.length).toBeGreaterThan(executions.size);
    console.log(
      `R1 seed ${seed}: ${KILLS} kills, ${stepRuns} step executions, content ran ${begins.length} times ` +
        `(${interrupted.length} executions cut off by a kill), ${new Set(begins.map((m) => m.pid)).size} worker processes`,
    );
  }, 480_000);
});

describe('R5: secrets stay sealed in the histories of the fault tests', () => {
  it('no history of the tasks run with faults holds a secret in plaintext', async () => {
    expect(faultyTaskIds).toHaveLength(2 * TASKS);
    const secrets = inputs.flatMap((input) => [input.token, `${input.token}-derived`]);
    let sealedSeen = 0;
    for (const taskId of faultyTaskIds) {
      const { raw, decoded } = await historyText(harness.client, taskId);
      const leaked = secrets.filter((secret) => raw.includes(secret) || decoded.includes(secret));
      expect(leaked, `plaintext secrets in the history of ${taskId}`).toEqual([]);
      if (decoded.includes('whenflow:sealed:v2:string:default:')) sealedSeen += 1;
    }
    // Every parent carries its secrets sealed (children have none).
    expect(sealedSeen).toBe(TASKS);
  }, 120_000);
});
