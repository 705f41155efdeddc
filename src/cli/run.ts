// Static imports stay light: the dev server's process is spawned before the Temporal SDK and the engine load.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { LogLevel } from '@temporalio/worker';
import type { TaskSnapshot } from '../model/task';
import { findTemporalBinary } from '../temporal/binary';
import { openSession } from '../temporal/server';
import { UsageError } from './errors';
import { phase } from './timings';

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
  /** Level of the Temporal SDK's own log (default: warnings). */
  logLevel?: LogLevel;
}

/** The modules a run needs besides the server and the input, loaded while the server starts. */
async function loadEngine() {
  const [client, worker, config, output] = await Promise.all([
    import('../client'),
    import('../worker'),
    import('../workspace/config'),
    import('./output'),
  ]);
  return { ...client, ...worker, ...config, ...output };
}

function temporalBinaryAtHand(): boolean {
  try {
    return findTemporalBinary() !== null;
  } catch {
    return false; // a wrong WHENFLOW_TEMPORAL_BIN: the session reports it
  }
}

/**
 * `whenflow run`: one task, start to settled, then everything shut down. Uses TEMPORAL_ADDRESS when set,
 * else an embedded dev server. Returns the task's final snapshot.
 *
 * The server is most of the time a run spends outside its task: its process is spawned first, and the
 * Temporal runtime, the engine's modules, the workspace and the task data load while it starts.
 */
export async function runOnce(options: RunOptions, io: { out: (s: string) => void; progress: (s: string) => void }): Promise<TaskSnapshot> {
  phase('run: started');
  let spawned!: () => void;
  const serverSpawned = new Promise<void>((done) => {
    spawned = done;
  });
  // The input is asked for first: reading the step files runs partly off the main thread (tsx's module
  // hooks thread, esbuild's service), beside the main thread's loading of the SDK.
  const input = serverSpawned.then(() => import('./input'));
  const reading = [input.then((m) => m.readWorkspace(options.workspace)), input.then((m) => m.readTaskData(options))] as const;
  // The runtime must be installed before the first native connection; the session waits for it.
  const runtimeInstalled = serverSpawned.then(async () => {
    (await import('../temporal/sdk-logging')).installRuntime(options.logLevel);
    phase('run: Temporal runtime installed');
  });
  const opening = openSession(io.progress, {
    whileStarting: () => {
      phase('run: server spawned');
      spawned();
      return runtimeInstalled;
    },
  });
  // Failed before a process was spawned, or no Temporal CLI to spawn at once (it is built first, or the
  // SDK downloads its own): nothing waits for the spawn, and input problems are still reported first.
  opening.catch(() => spawned());
  if (!temporalBinaryAtHand()) spawned();
  opening.catch(() => undefined); // reported below, after any input problem
  const loading = serverSpawned.then(loadEngine);
  void loading.then(
    () => phase('run: engine loaded'),
    () => undefined,
  );
  // A private task queue: this run's worker must not take tasks of other workspaces on a shared server.
  const taskQueue = `whenflow-run-${randomUUID()}`;
  // The worker is made while the workspace is still being read: most of its making is its workflow thread
  // loading the workflow bundle, beside the main thread. Alone on its queue, it names no catalog.
  const makingWorker = Promise.all([opening, loading]).then(([session, engine]) =>
    engine.createTaskWorker({
      connection: session.nativeConnection,
      namespace: session.namespace,
      workspace: resolve(options.workspace),
      taskQueue,
      catalogVersion: null,
    }),
  );
  makingWorker.catch(() => undefined); // awaited below when the input is good
  // A worker made but not run holds the connection open: it is run for no time before the session closes.
  const closeUnused = () =>
    void makingWorker
      .then((worker) => worker.runUntil(Promise.resolve()))
      .catch(() => undefined)
      .then(() => opening)
      .then((session) => session.close())
      .catch(() => undefined);
  // Every input problem is reported at once, before the server's own failure if any.
  const [workspace, data] = await Promise.allSettled(reading);
  phase('run: workspace and task data read');
  const problems = [workspace, data].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (problems.length > 0) {
    closeUnused();
    if (problems.every((p) => p instanceof UsageError)) throw new UsageError(problems.map((p) => (p as Error).message).join('\n'));
    throw problems[0];
  }
  const engine = await loading;
  const taskData = (data as PromiseFulfilledResult<Awaited<(typeof reading)[1]>>).value;
  const ws = (workspace as PromiseFulfilledResult<Awaited<(typeof reading)[0]>>).value;
  const knownSteps = ws.catalog.steps.map((step) => step.name);
  if (options.sequence) {
    try {
      engine.checkSequence(options.sequence, knownSteps);
    } catch (error) {
      closeUnused();
      throw error;
    }
  }

  const session = await opening;
  phase('run: server connected');
  try {
    const worker = await makingWorker;
    phase('run: worker created');
    const final = await worker.runUntil(async () => {
      const handle = await engine.startTask(session.client, {
        name: options.name ?? 'task',
        data: taskData,
        taskQueue,
        ...engine.workspaceTaskSettings(ws.config),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.onConflict ? { onConflict: options.onConflict } : {}),
        ...(options.maxStepRuns ? { maxStepRuns: options.maxStepRuns } : {}),
        ...(options.maxDataBytes ? { maxDataBytes: options.maxDataBytes } : {}),
        ...(options.sequence ? { sequence: options.sequence, thenCycle: options.thenCycle ?? false, knownSteps } : {}),
      });
      phase('run: task started');
      io.progress(`task ${handle.workflowId} started on ${session.address} (${ws.catalog.steps.length} steps in ${ws.dir})`);
      const settled = await engine.watchTask(session.client, handle.workflowId, (event) => {
        const line = engine.formatEvent(event);
        if (line !== null) io.progress(line);
      });
      phase('run: task settled');
      return settled;
    });
    phase('run: worker stopped');
    io.out(options.jsonOutput ? JSON.stringify(engine.toRunJson(final)) : engine.formatFinal(final));
    return final;
  } finally {
    await session.close();
    phase('run: server stopped');
  }
}
