import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTask } from '../../src/client';
import type { TaskSnapshot } from '../../src/model/task';
import { stashPlace, unsealValue } from '../../src/runtime/stash';
import { provisionTemporalBinary } from '../../src/temporal/binary';
import { freePort, spawnDevServer, type SpawnedDevServer } from '../../src/temporal/dev-server';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { createTaskWorker } from '../../src/worker';
import { historyText } from '../support/history';
import { executionKey, ProbeServer } from '../support/probe-server';
import { rng } from '../support/random';
import { replayMany } from '../support/replay';

/**
 * R2 of fault injection: the Temporal server itself goes away (stopped, then started again on the same
 * port with the same database) while tasks run; the worker and the client reconnect and every task
 * completes, each step's data effect applied once.
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'faults');
const stashKey = randomBytes(32);
process.env.WHENFLOW_FAULTS_STASH_KEY = stashKey.toString('base64');

const TASKS = 30;
const RESTARTS = 2;
const seed = Number(process.env.WHENFLOW_FAULT_SEED) || Math.floor(Math.random() * 2 ** 31);
const random = rng(seed);
console.log(`server restart seed ${seed} (repeat with WHENFLOW_FAULT_SEED=${seed})`);

const probe = new ProbeServer();
const dbDir = mkdtempSync(join(tmpdir(), 'whenflow-faults-db-'));
const dbFilename = join(dbDir, 'temporal.db');
let binary: string;
let port: number;
let server: SpawnedDevServer;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const taskIds: string[] = [];

async function startServer(): Promise<SpawnedDevServer> {
  return spawnDevServer({ binary, dbFilename, port });
}

beforeAll(async () => {
  // While the server is away every poll and completion is retried with a warning; only errors matter here.
  installRuntime('ERROR');
  await probe.start();
  process.env.WHENFLOW_FAULTS_PROBE_URL = probe.url;
  const found = await provisionTemporalBinary();
  if (!found) throw new Error('the server restart test needs a local Temporal CLI (see docs/server.md)');
  binary = found;
  // A fixed port: the restarted server must be where the worker and the client look for it.
  port = await freePort();
  server = await startServer();
  connection = await Connection.connect({ address: server.address });
  nativeConnection = await NativeConnection.connect({ address: server.address });
  client = new Client({ connection, namespace: 'default' });
  worker = await createTaskWorker({ connection: nativeConnection, namespace: 'default', workspace, taskQueue: 'faults-server' });
  running = worker.run();
});

afterAll(async () => {
  try {
    if (worker) {
      const fixtures = taskIds.slice(0, 2).flatMap((id) => [id, `${id}.1`]);
      expect(await replayMany(client, taskIds, 'faults-server', fixtures)).toBe(taskIds.length);
      worker.shutdown();
      await running;
    }
    await nativeConnection?.close();
    await connection?.close();
  } finally {
    await server?.stop();
    await probe.stop();
    rmSync(dbDir, { recursive: true, force: true });
  }
});

describe('R2: the Temporal dev server stops and starts again (persistent database) mid-run', () => {
  it('the worker and the client reconnect, and every task completes with each data effect once', async () => {
    const inputs = Array.from({ length: TASKS }, (_, i) => {
      const loops = 1 + Math.floor(random() * 4);
      const token = `tok-${seed}-${i}-${randomBytes(6).toString('hex')}`;
      return { loops, token, data: { job: { id: i, n: loops, stage: 'new' }, count: 0, log: [], $stash: { token } } };
    });
    const ids = await Promise.all(
      inputs.map(
        async (input, i) =>
          (await startTask(client, { name: `restart ${i}`, data: input.data, taskQueue: 'faults-server', stashKey })).workflowId,
      ),
    );
    taskIds.push(...ids, ...ids.map((id) => `${id}.1`));

    const beginsAtRestart: number[] = [];
    for (let restart = 1; restart <= RESTARTS; restart++) {
      // A random point of the run: after some more step executions began.
      const begun = probe.marks.filter((m) => m.phase === 'begin').length + 10 + Math.floor(random() * 40);
      await probe.until(
        () => probe.marks.filter((m) => m.phase === 'begin').length >= begun,
        120_000,
        `${begun} step executions before restart ${restart}`,
      );
      beginsAtRestart.push(probe.marks.length);
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, 1000 + Math.floor(random() * 2000)));
      server = await startServer();
    }

    const settled = (await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()))) as TaskSnapshot[];
    settled.forEach((task, i) => {
      const { loops, token } = inputs[i]!;
      expect(task.state).toBe('done');
      expect(task.data.count).toBe(5 + loops);
      expect(task.data.log).toEqual([
        'begin',
        ...Array.from({ length: loops }, (_, l) => `loop ${l}`),
        'fork',
        `rest after child ${loops * 10}`,
        'seal',
        'finish',
      ]);
      expect(task.result).toEqual({ count: 5 + loops, child: loops * 10 });
      expect(unsealValue((task.data.$stash as { derived: string }).derived, stashKey, stashPlace('derived'))).toBe(`${token}-derived`);
    });
    // Every step execution's content ran; the ones caught by the outage may have run twice.
    const ours = new Set(taskIds);
    const executions = new Set(probe.marks.filter((m) => m.phase === 'begin' && ours.has(m.taskId)).map(executionKey));
    expect(executions.size).toBe(settled.reduce((sum, task) => sum + task.stepRuns, 0) + TASKS);

    console.log(
      `R2 seed ${seed}: ${RESTARTS} restarts, after ${beginsAtRestart.join(' and ')} of ${probe.marks.length} probe marks; ${executions.size} step executions`,
    );

    // R5 on these histories too.
    const secrets = inputs.flatMap((input) => [input.token, `${input.token}-derived`]);
    for (const taskId of taskIds) {
      const { raw, decoded } = await historyText(client, taskId);
      expect(
        secrets.filter((secret) => raw.includes(secret) || decoded.includes(secret)),
        taskId,
      ).toEqual([]);
    }
  }, 300_000);
});
