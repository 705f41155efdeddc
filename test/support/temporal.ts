import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { startTask, waitForTask, type StartTaskOptions } from '../../src/client';
import type { TaskSnapshot } from '../../src/model/task';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { createTaskWorker, workflowBundle, type TaskWorkerOptions } from '../../src/worker';

export interface TestHarness {
  client: Client;
  taskQueue: string;
  /** Starts a task on this harness's worker and waits until it settles. */
  runTask(options: Omit<StartTaskOptions, 'taskQueue'>, waitMs?: number): Promise<TaskSnapshot>;
  /** Every task this harness ran, for replay. */
  taskIds: string[];
  close(): Promise<void>;
}

/** Worker settings a test may choose; the connection, namespace and workspace come from the harness. */
export type HarnessWorkerOptions = Omit<TaskWorkerOptions, 'connection' | 'namespace' | 'workspace'>;

/** A worker on `workspace` connected to the suite's dev server, on a task queue of its own unless given one. */
export async function startHarness(workspace: string, workerOptions: HarnessWorkerOptions = {}): Promise<TestHarness> {
  installRuntime();
  const address = inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  const taskQueue = workerOptions.taskQueue ?? `test-${randomUUID()}`;
  const worker = await createTaskWorker({ ...workerOptions, connection: nativeConnection, namespace, workspace, taskQueue });
  const running = worker.run();
  const taskIds: string[] = [];
  return {
    client,
    taskQueue,
    taskIds,
    async runTask(options, waitMs = 60_000) {
      const handle = await startTask(client, { ...options, taskQueue });
      taskIds.push(handle.workflowId);
      return waitForTask(client, handle.workflowId, { timeoutMs: waitMs });
    },
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/**
 * Replays the recorded histories of the given tasks against the current workflow code; throws on any
 * nondeterminism. With WHENFLOW_RECORD_HISTORIES=1 the histories are also kept in test/histories as fixtures.
 */
export async function replayTasks(client: Client, taskIds: string[], label: string): Promise<number> {
  const histories = await Promise.all(
    taskIds.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })),
  );
  if (process.env.WHENFLOW_RECORD_HISTORIES === '1') {
    // Named by workflow ID: a replay needs it (subtask IDs are derived from it).
    const dir = join(import.meta.dirname, '..', 'histories', label);
    mkdirSync(dir, { recursive: true });
    for (const { workflowId, history } of histories) writeFileSync(join(dir, `${workflowId}.json`), historyToJSON(history));
  }
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`);
    replayed += 1;
  }
  return replayed;
}
