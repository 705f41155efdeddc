import { existsSync, mkdirSync, readdirSync, watch } from 'node:fs';
import { join, resolve } from 'node:path';
import pc from 'picocolors';
import { CircuitBoard, type CircuitTransition } from '../../connectors/circuit';
import { ConnectorLimits } from '../../connectors/limits';
import {
  connectorStatuses,
  createTracing,
  serveTelemetry,
  tracingDisabled,
  tracingFromEnvironment,
  WorkerMetrics,
  type WorkerStatus,
  type WorkerTracing,
} from '../../observability';
import { describeCatalogConflict } from '../../observability/catalog-peers';
import { watchCatalogPeers } from '../../observability/catalog-watch';
import { PortInUseError } from '../../temporal/dev-server';
import { startDevServer, type TemporalSession } from '../../temporal/server';
import { createTaskWorker } from '../../worker';
import { describeProblems } from '../../model/problems';
import { DEFAULT_METRICS_HOST, loadWorkspaceConfig, workspaceTaskQueue } from '../../workspace/config';
import { ensureLocalStashKey, readLocalStashKey } from '../../workspace/local-key';
import { openWorkspace, type Workspace } from '../../workspace/workspace';
import { connectForCommands, DEV_SERVER_ADDRESS } from '../connect';
import { UsageError } from '../errors';
import { readWorkspace } from '../input';
import { interrupted } from '../signals';
import type { Io } from './task';
import { serveWebhooks } from './webhook';

/** Worker flags that override `observability:` in whenflow.yaml. */
export interface ObservabilityFlags {
  metricsPort?: number;
  metricsHost?: string;
}

/** Worker flags: observability, and the most activities (steps, deferred calls) run at once. */
export interface WorkerFlags extends ObservabilityFlags {
  maxConcurrentSteps?: number;
}

function checkFlags(flags: ObservabilityFlags): void {
  if (flags.metricsPort !== undefined && flags.metricsPort > 65_535)
    throw new UsageError(`--metrics-port must be a port number (1–65535); got ${flags.metricsPort}`);
}

/** One line per circuit transition, on the worker's output. */
export function describeTransition(t: CircuitTransition): string {
  const at = new Date(t.at).toISOString();
  const last = t.lastFailure ? ` (last: ${t.lastFailure})` : '';
  if (t.to === 'open') {
    const again = t.from === 'half-open' ? 'the probe call failed; ' : '';
    return pc.red(
      `${at} circuit ${t.connector}: open — ${again}${t.failures} consecutive failures${last}; calls fail fast until ${new Date(t.until ?? t.at).toISOString()}`,
    );
  }
  if (t.to === 'half-open') return pc.yellow(`${at} circuit ${t.connector}: half-open — cooldown over, letting one probe call through`);
  return pc.green(`${at} circuit ${t.connector}: closed — the probe call succeeded, calls flow again`);
}

/**
 * Runs a worker for `workspace` on `session` until interrupted, with its circuit transitions on the
 * output and, when configured, the `/metrics` + `/status` endpoint and tracing.
 */
async function serveWorker(
  session: TemporalSession,
  ws: Workspace,
  taskQueue: string,
  flags: WorkerFlags,
  io: Io,
  until: Promise<string>,
): Promise<void> {
  const circuits = new CircuitBoard();
  circuits.onTransition((transition) => io.err(describeTransition(transition)));
  const connectorLimits = new ConnectorLimits();
  const configured = ws.config.observability;
  const metricsPort = flags.metricsPort ?? configured.metrics?.port;
  const metrics = metricsPort !== undefined ? new WorkerMetrics(circuits, { limits: connectorLimits }) : undefined;
  const tracingConfig = configured.tracing;
  let tracing: WorkerTracing | undefined;
  if (tracingConfig && !tracingDisabled())
    tracing = createTracing({ endpoint: tracingConfig.endpoint, serviceName: tracingConfig.serviceName });
  else if (tracingFromEnvironment()) tracing = createTracing({});
  const startedAt = new Date().toISOString();
  const status = async (): Promise<WorkerStatus> => ({
    worker: { workspace: ws.dir, taskQueue, pid: process.pid, startedAt },
    // Read again: the connectors and their circuit settings as the worker uses them now.
    connectors: connectorStatuses(circuits, await openWorkspace(ws.dir), connectorLimits),
  });
  const endpoint =
    metrics && metricsPort !== undefined
      ? await serveTelemetry({
          port: metricsPort,
          host: flags.metricsHost ?? configured.metrics?.host ?? DEFAULT_METRICS_HOST,
          metrics,
          status,
        })
      : null;
  try {
    if (endpoint) io.err(`  metrics    ${endpoint.url}/metrics   circuits: whenflow connector status --worker ${endpoint.url}`);
    if (tracing) io.err(`  tracing    spans to ${tracingConfig?.endpoint ?? 'the OTEL_EXPORTER_OTLP_* endpoint'}`);
    if (flags.maxConcurrentSteps !== undefined)
      io.err(`  steps      at most ${flags.maxConcurrentSteps} at once (step executions and deferred connector calls)`);
    const worker = await createTaskWorker({
      connection: session.nativeConnection,
      namespace: session.namespace,
      workspace: ws.dir,
      taskQueue,
      circuits,
      connectorLimits,
      ...(flags.maxConcurrentSteps !== undefined ? { maxConcurrentSteps: flags.maxConcurrentSteps } : {}),
      ...(metrics ? { metrics } : {}),
      ...(tracing ? { tracing } : {}),
      catalogVersion: ws.catalog.version,
    });
    const running = worker.run();
    // Another catalog on this queue runs tasks by other rules: say so on start and while serving.
    const peers = watchCatalogPeers({
      client: session.client,
      namespace: session.namespace,
      taskQueue,
      identity: worker.options.identity,
      catalogVersion: ws.catalog.version,
      onConflict: (conflict) => io.err(pc.yellow(describeCatalogConflict(conflict, `this worker (${worker.options.identity})`))),
      onError: (error) => io.err(pc.dim(`could not list the workers of task queue ${taskQueue}: ${(error as Error).message}`)),
    });
    void peers.check().then((found) => {
      const same = found?.sameCatalog.length ?? 0;
      if (same > 0) {
        io.err(
          `  peers      ${same} other worker${same === 1 ? '' : 's'} on task queue ${taskQueue} with the same step catalog (${ws.catalog.version})`,
        );
      }
    });
    try {
      const signal = await Promise.race([until, running.then(() => 'stopped')]);
      if (signal !== 'stopped') {
        io.err(pc.dim(`${signal}: stopping the worker…`));
        worker.shutdown();
        await running;
      }
    } finally {
      peers.stop();
    }
  } finally {
    await endpoint?.close();
    await tracing?.shutdown();
  }
}

/** Task data files the workspace keeps as examples (samples/*.json), for the hint `dev` prints. */
function sampleFiles(dir: string): string[] {
  const folder = join(dir, 'samples');
  return existsSync(folder)
    ? readdirSync(folder)
        .filter((file) => file.endsWith('.json'))
        .sort()
        .map((file) => `samples/${file}`)
    : [];
}

/** `whenflow worker`: a worker for an existing Temporal service (TEMPORAL_* variables, else localhost:7233). */
export async function workerCommand(opts: { workspace: string; taskQueue?: string } & WorkerFlags, io: Io): Promise<void> {
  checkFlags(opts);
  // A broken step file is disabled, not fatal: the worker serves the other steps, and says which files to fix.
  const ws = await readWorkspace(opts.workspace, {
    tolerateBrokenSteps: (problems) =>
      io.err(pc.red(describeProblems(problems, `${opts.workspace}: disabled until fixed (tasks reload with \`whenflow task reload\`)`))),
  });
  const session = await connectForCommands();
  const taskQueue = opts.taskQueue ?? workspaceTaskQueue(ws.config, ws.dir);
  try {
    io.err(
      `whenflow worker: ${ws.catalog.steps.length} steps from ${ws.dir}, task queue ${taskQueue}, Temporal ${session.address} (namespace ${session.namespace}); Ctrl-C to stop`,
    );
    await serveWorker(session, ws, taskQueue, opts, io, interrupted());
  } finally {
    await session.close();
  }
}

/**
 * `whenflow dev`: a persistent local Temporal dev server (database under the workspace, Web UI), a
 * worker on the workspace, and a watch on steps/ that reports problems as files change. Every new task
 * loads the steps as they are on disk then.
 */
export async function devCommand(
  opts: { workspace: string; port: number; uiPort: number; webhookPort: number } & WorkerFlags,
  io: Io,
): Promise<void> {
  checkFlags(opts);
  const localKey = await devStashKey(opts.workspace);
  // A broken step file is disabled, not fatal: the worker serves the other steps, and says which files to fix.
  const ws = await readWorkspace(opts.workspace, {
    tolerateBrokenSteps: (problems) =>
      io.err(pc.red(describeProblems(problems, `${opts.workspace}: disabled until fixed (tasks reload with \`whenflow task reload\`)`))),
  });
  const stateDir = join(ws.dir, '.whenflow');
  mkdirSync(stateDir, { recursive: true });
  const session = await startDevServer({
    dbFilename: join(stateDir, 'dev.db'),
    port: opts.port,
    ui: true,
    uiPort: opts.uiPort,
    log: io.err,
  }).catch((error: unknown) => {
    throw error instanceof PortInUseError ? new UsageError(error.message) : error;
  });
  const until = interrupted();
  const watcher = watchSteps(ws.dir, io);
  const taskQueue = workspaceTaskQueue(ws.config, ws.dir);
  const sample = sampleFiles(ws.dir)[0];
  try {
    io.err(
      [
        pc.bold('whenflow dev'),
        `  Temporal   ${session.address}${opts.port === 7233 ? '' : `  (task commands: TEMPORAL_ADDRESS=${session.address})`}`,
        `  Web UI     http://localhost:${opts.uiPort}`,
        `  workspace  ${ws.dir} (${ws.catalog.steps.length} steps), task queue ${taskQueue}`,
        `  data       ${join(stateDir, 'dev.db')} (kept between runs)`,
        ...(localKey
          ? [
              `  secrets    ${localKey.path}${localKey.created ? ' (created now: a stash key for data.$stash on this machine, owner-only, never committed; secrets.key in whenflow.yaml takes precedence)' : ''}`,
            ]
          : []),
        sample
          ? `  try        whenflow task new demo -f ${sample} --wait`
          : `  try        whenflow task new demo -d '{"hello":"world"}' --wait`,
        pc.dim('  Ctrl-C stops everything'),
      ].join('\n'),
    );
    const webhooks = ws.webhooks.size > 0 ? await serveWebhooks(ws, session, { port: opts.webhookPort, taskQueue }, io) : null;
    try {
      await serveWorker(session, ws, taskQueue, opts, io, until);
    } finally {
      await webhooks?.close();
    }
  } finally {
    watcher.close();
    await session.close();
  }
}

/**
 * Without `secrets.key`, the workspace's local stash key (made on first start), so `data.$stash` works in
 * dev without configuration. Null when whenflow.yaml sets a key (or has problems, which readWorkspace reports).
 */
async function devStashKey(workspace: string): Promise<{ path: string; created: boolean } | null> {
  const { config, problems } = await loadWorkspaceConfig(workspace);
  if (problems.length > 0) return null;
  const local = await readLocalStashKey(resolve(workspace));
  if (config.stashKey !== null && local === null) return null;
  return ensureLocalStashKey(resolve(workspace));
}

function watchSteps(workspace: string, io: Io): { close(): void } {
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const ws = await openWorkspace(workspace);
    if (ws.problems.length > 0) io.err(pc.yellow(`steps changed: ${describeProblems(ws.problems, 'the workspace')}`));
    else
      io.err(
        pc.green(
          `steps changed: ${ws.catalog.steps.length} steps (catalog ${ws.catalog.version}); new tasks use them, running tasks pick them up with: whenflow task reload <id>`,
        ),
      );
  };
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void check(), 200);
  };
  // Libraries are part of what a step runs: their problems are reported as they are saved too.
  const watchers = ['steps', 'libraries']
    .filter((dir) => existsSync(join(workspace, dir)))
    .map((dir) => watch(join(workspace, dir), changed));
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}

export { DEV_SERVER_ADDRESS };
