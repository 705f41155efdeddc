import type { Client } from '@temporalio/client';
import { getTask, listTasks } from '../../../src/client';
import type { TaskSnapshot } from '../../../src/model/task';
import { spawnWorkerProcess, type WorkerProcess } from '../../support/worker-process';
import type { TemporalCluster } from './temporal-cluster';

/** What every check gets: the running cluster, a client over mutual TLS, and a place for its figures. */
export interface CheckContext {
  cluster: TemporalCluster;
  client: Client;
  /** Unique per run: task names and tags carry it so visibility queries see only this run's tasks. */
  runId: string;
  log: (line: string) => void;
  figure: (name: string, value: string) => void;
  /** A `whenflow worker` process connected through the TEMPORAL_* variables (mutual TLS). */
  startWorker(options: { workspace: string; taskQueue: string; env?: Record<string, string>; args?: string[] }): WorkerProcess;
  /** Every task ID the checks started (parents; subtasks are found from the histories). */
  taskIds: string[];
}

export function workerStarter(cluster: TemporalCluster, started: WorkerProcess[]): CheckContext['startWorker'] {
  return ({ workspace, taskQueue, env, args }) => {
    const worker = spawnWorkerProcess({
      workspace,
      taskQueue,
      address: cluster.address,
      namespace: cluster.namespace,
      env: { ...cluster.clientEnv, ...env },
      ...(args ? { args } : {}),
    });
    started.push(worker);
    return worker;
  };
}

/**
 * Waits for each task's workflow to complete; names the tasks that did not, with their states. A task
 * of `runTag` in error or attention (which would never complete) fails the wait at once, with its error.
 */
export async function settleAll(client: Client, taskIds: string[], timeoutMs: number, runTag?: string): Promise<TaskSnapshot[]> {
  let timer: NodeJS.Timeout | undefined;
  let watcher: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const stuck = new Promise<never>((_, reject) => {
    if (!runTag) return;
    const ours = new Set(taskIds);
    const look = async () => {
      for (const state of ['error', 'attention'] as const) {
        const found = (await listTasks(client, { state, tag: runTag }).catch(() => [])).filter((task) => ours.has(task.taskId));
        if (found.length > 0) {
          const first = await getTask(client, found[0]!.taskId);
          reject(
            new Error(
              `${found.length} task(s) in ${state}, e.g. ${first.taskId}: ${JSON.stringify(first.error ?? first.data).slice(0, 600)}`,
            ),
          );
          return;
        }
      }
      watcher = setTimeout(() => void look(), 5000);
    };
    watcher = setTimeout(() => void look(), 5000);
  });
  const results = Promise.all(taskIds.map((id) => client.workflow.getHandle(id).result() as Promise<TaskSnapshot>));
  const outcome = await Promise.race([results, timeout, stuck]).finally(() => {
    clearTimeout(timer);
    clearTimeout(watcher);
  });
  if (outcome !== 'timeout') return outcome;
  const states = await Promise.all(
    taskIds.map(async (id) => `${id}: ${(await getTask(client, id).catch((e: Error) => ({ state: e.message }))).state}`),
  );
  throw new Error(
    `not every task completed within ${timeoutMs} ms:\n${states
      .filter((s) => !s.endsWith(': done'))
      .slice(0, 20)
      .join('\n')}`,
  );
}

export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
