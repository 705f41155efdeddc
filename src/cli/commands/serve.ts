import { mkdirSync, watch } from 'node:fs';
import { join } from 'node:path';
import pc from 'picocolors';
import { startDevServer, type TemporalSession } from '../../temporal/server';
import { createTaskWorker, DEFAULT_TASK_QUEUE } from '../../worker';
import { describeProblems } from '../../model/problems';
import { openWorkspace } from '../../workspace/workspace';
import { connectForCommands, DEV_SERVER_ADDRESS } from '../connect';
import { readWorkspace } from '../input';
import { interrupted } from '../signals';
import type { Io } from './task';
import { serveWebhooks } from './webhook';

/** Runs a worker for `workspace` on `session` until interrupted. */
async function serveWorker(session: TemporalSession, workspace: string, taskQueue: string, io: Io, until: Promise<string>): Promise<void> {
  const worker = await createTaskWorker({ connection: session.nativeConnection, namespace: session.namespace, workspace, taskQueue });
  const running = worker.run();
  const signal = await Promise.race([until, running.then(() => 'stopped')]);
  if (signal !== 'stopped') {
    io.err(pc.dim(`${signal}: stopping the worker…`));
    worker.shutdown();
    await running;
  }
}

/** `whenflow worker`: a worker for an existing Temporal service (TEMPORAL_* variables, else localhost:7233). */
export async function workerCommand(opts: { workspace: string; taskQueue?: string }, io: Io): Promise<void> {
  const ws = await readWorkspace(opts.workspace);
  const session = await connectForCommands();
  const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  try {
    io.err(`whenflow worker: ${ws.catalog.steps.length} steps from ${ws.dir}, task queue ${taskQueue}, Temporal ${session.address} (namespace ${session.namespace}); Ctrl-C to stop`);
    await serveWorker(session, ws.dir, taskQueue, io, interrupted());
  } finally {
    await session.close();
  }
}

/**
 * `whenflow dev`: a persistent local Temporal dev server (database under the workspace, Web UI), a
 * worker on the workspace, and a watch on steps/ that reports problems as files change. Every new task
 * loads the steps as they are on disk then.
 */
export async function devCommand(opts: { workspace: string; port: number; uiPort: number; webhookPort: number }, io: Io): Promise<void> {
  const ws = await readWorkspace(opts.workspace);
  const stateDir = join(ws.dir, '.whenflow');
  mkdirSync(stateDir, { recursive: true });
  const session = await startDevServer({ dbFilename: join(stateDir, 'dev.db'), port: opts.port, ui: true, uiPort: opts.uiPort, log: io.err });
  const until = interrupted();
  const watcher = watchSteps(ws.dir, io);
  try {
    io.err(
      [
        pc.bold('whenflow dev'),
        `  Temporal   ${session.address}${opts.port === 7233 ? '' : `  (task commands: TEMPORAL_ADDRESS=${session.address})`}`,
        `  Web UI     http://localhost:${opts.uiPort}`,
        `  workspace  ${ws.dir} (${ws.catalog.steps.length} steps), task queue ${DEFAULT_TASK_QUEUE}`,
        `  data       ${join(stateDir, 'dev.db')} (kept between runs)`,
        `  try        whenflow task new demo -f samples/order.json --wait`,
        pc.dim('  Ctrl-C stops everything'),
      ].join('\n'),
    );
    const webhooks = ws.webhooks.size > 0 ? await serveWebhooks(ws, session, { port: opts.webhookPort, taskQueue: DEFAULT_TASK_QUEUE }, io) : null;
    try {
      await serveWorker(session, ws.dir, DEFAULT_TASK_QUEUE, io, until);
    } finally {
      await webhooks?.close();
    }
  } finally {
    watcher.close();
    await session.close();
  }
}

function watchSteps(workspace: string, io: Io): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const ws = await openWorkspace(workspace);
    if (ws.problems.length > 0) io.err(pc.yellow(`steps changed: ${describeProblems(ws.problems, 'the workspace')}`));
    else io.err(pc.green(`steps changed: ${ws.catalog.steps.length} steps (catalog ${ws.catalog.version}); new tasks use them, running tasks pick them up with: whenflow task reload <id>`));
  };
  const watcher = watch(join(workspace, 'steps'), () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), 200);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}

export { DEV_SERVER_ADDRESS };
