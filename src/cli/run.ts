import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { checkSequence, startTask, watchTask } from '../client';
import type { TaskSnapshot } from '../model/task';
import { openSession } from '../temporal/server';
import { createTaskWorker } from '../worker';
import { workspaceTaskSettings } from '../workspace/config';
import { UsageError } from './errors';
import { readTaskData, readWorkspace } from './input';
import { formatEvent, formatFinal, toRunJson } from './output';

export interface RunOptions {
  workspace: string;
  /** Task data as inline JSON (`-d`), or the file holding it (`-f`). */
  data?: string;
  file?: string;
  jsonOutput: boolean;
  concurrency?: number;
  onConflict?: 'rerun' | 'error';
  maxStepRuns?: number;
  maxDataBytes?: number;
  name?: string;
  /** Step names to run in this order, their conditions being guards. */
  sequence?: string[];
  thenCycle?: boolean;
}

/**
 * `whenflow run`: one task, start to settled, then everything shut down. Uses TEMPORAL_ADDRESS when set,
 * else an embedded dev server. Returns the task's final snapshot.
 */
export async function runOnce(options: RunOptions, io: { out: (s: string) => void; progress: (s: string) => void }): Promise<TaskSnapshot> {
  // The server starts while the input is read: it is most of the time a run spends outside its task.
  const opening = openSession(options.jsonOutput ? io.progress : (line) => io.progress(line));
  opening.catch(() => undefined); // reported below, after any input problem
  // Every input problem is reported at once, before the server's own failure if any.
  const [workspace, data] = await Promise.allSettled([readWorkspace(options.workspace), readTaskData(options)]);
  const problems = [workspace, data].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (problems.length > 0) {
    void opening.then((session) => session.close()).catch(() => undefined);
    if (problems.every((p) => p instanceof UsageError)) throw new UsageError(problems.map((p) => (p as Error).message).join('\n'));
    throw problems[0];
  }
  const taskData = (data as PromiseFulfilledResult<Awaited<ReturnType<typeof readTaskData>>>).value;
  const ws = (workspace as PromiseFulfilledResult<Awaited<ReturnType<typeof readWorkspace>>>).value;
  const knownSteps = ws.catalog.steps.map((step) => step.name);
  if (options.sequence) {
    try {
      checkSequence(options.sequence, knownSteps);
    } catch (error) {
      void opening.then((session) => session.close()).catch(() => undefined);
      throw error;
    }
  }

  const session = await opening;
  try {
    // A private task queue: this run's worker must not take tasks of other workspaces on a shared server.
    const taskQueue = `whenflow-run-${randomUUID()}`;
    const worker = await createTaskWorker({ connection: session.nativeConnection, namespace: session.namespace, workspace: resolve(options.workspace), taskQueue, catalogVersion: ws.catalog.version });
    const final = await worker.runUntil(async () => {
      const handle = await startTask(session.client, {
        name: options.name ?? 'task',
        data: taskData,
        taskQueue,
        ...workspaceTaskSettings(ws.config),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.onConflict ? { onConflict: options.onConflict } : {}),
        ...(options.maxStepRuns ? { maxStepRuns: options.maxStepRuns } : {}),
        ...(options.maxDataBytes ? { maxDataBytes: options.maxDataBytes } : {}),
        ...(options.sequence ? { sequence: options.sequence, thenCycle: options.thenCycle ?? false, knownSteps } : {}),
      });
      io.progress(`task ${handle.workflowId} started on ${session.address} (${ws.catalog.steps.length} steps in ${ws.dir})`);
      return watchTask(session.client, handle.workflowId, (event) => {
        const line = formatEvent(event);
        if (line !== null) io.progress(line);
      });
    });
    io.out(options.jsonOutput ? JSON.stringify(toRunJson(final)) : formatFinal(final));
    return final;
  } finally {
    await session.close();
  }
}
