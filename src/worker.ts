import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  bundleWorkflowCode,
  Worker,
  type ActivityInterceptorsFactory,
  type NativeConnection,
  type WorkflowBundleOption,
  type WorkflowBundleWithSourceMap,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type TaskActivities } from './activities';
import { DEFAULT_STEP_THREADS } from './isolation/pool';
import type { CircuitBoard } from './connectors/circuit';
import type { ConnectorLimits } from './connectors/limits';
import { workerIdentity } from './observability/catalog-peers';
import { openWorkspace } from './workspace/workspace';
// Telemetry modules (OpenTelemetry, Prometheus) load only for a worker that is observed: a plain worker starts without them.
import type { WorkerMetrics, WorkerTracing } from './observability';

import { DEFAULT_TASK_QUEUE } from './model/defaults';

export { DEFAULT_TASK_QUEUE };

const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
const tracingInterceptorsPath = fileURLToPath(new URL('./workflows/tracing-interceptors.ts', import.meta.url));
const bundles: { plain?: Promise<WorkflowBundleOption>; traced?: Promise<WorkflowBundleOption> } = {};

/**
 * The installed package ships the workflow code bundled at build time (scripts/build.mjs writes it next
 * to the compiled worker), so a worker starts without webpack. Run from the sources, there is no such
 * file and the code is bundled when the first worker starts.
 */
function prebuiltBundle(tracing: boolean): WorkflowBundleOption | undefined {
  const codePath = fileURLToPath(new URL(tracing ? './workflow-bundle-traced.js' : './workflow-bundle.js', import.meta.url));
  return existsSync(codePath) ? { codePath } : undefined;
}

/**
 * The workflow code, bundled once per process (and per tracing on/off) and shared by every worker it
 * starts. Tracing adds Temporal's OpenTelemetry workflow interceptors and cycle spans, which issue no
 * commands of their own: a task's history replays the same with tracing on or off.
 */
export function workflowBundle(options: { tracing?: boolean } = {}): Promise<WorkflowBundleOption> {
  const tracing = options.tracing === true;
  const key = tracing ? 'traced' : 'plain';
  bundles[key] ??= Promise.resolve(prebuiltBundle(tracing) ?? bundleFromSources(tracing));
  return bundles[key];
}

/** Bundles the workflow code with webpack (the build uses this too, to write the shipped bundles). */
export function bundleFromSources(tracing: boolean): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    // Evaluated once per worker instead of once per task: the workflow's modules keep no task's state
    // at module level (docs/how-a-task-runs.md, "Workflow code"). scripts/build.mjs bundles the same way.
    preloadModules: [workflowsPath],
    ...(tracing ? { workflowInterceptorModules: [tracingInterceptorsPath] } : {}),
    logger: quietBundlerLogger,
  });
}

/** The bundler's logger: only errors, on stderr. */
export const quietBundlerLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error: (message: string) => process.stderr.write(`${message}\n`),
  log() {},
};

export interface TaskWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  workspace: string;
  taskQueue?: string;
  /** Circuit breakers of this worker's connectors; pass one to read its state (default: a board of its own). */
  circuits?: CircuitBoard;
  /** Per-connector concurrency limits (`maxConcurrent`); pass one to read its state (default: its own). */
  connectorLimits?: ConnectorLimits;
  /**
   * Most activities this worker runs at once, and its number of step threads: step executions and deferred
   * connector calls (Temporal's `maxConcurrentActivityTaskExecutions`; default 16). Others wait in the task queue.
   */
  maxConcurrentSteps?: number;
  /** Prometheus metrics of steps and connector calls. */
  metrics?: WorkerMetrics;
  /** OpenTelemetry spans for tasks (workflows), steps (activities) and connector calls. */
  tracing?: WorkerTracing;
  /**
   * The fingerprint of the step catalog this worker serves, carried in its Temporal identity so that
   * workers of one queue can see they serve different catalogs (default: the workspace's, read now).
   * `null`: the worker has a task queue of its own, so no peer compares catalogs with it; it starts
   * without waiting for the workspace to be read.
   */
  catalogVersion?: string | null;
}

/** What whenflow adds to a worker that serves one workspace's tasks (see whenflowWorkerOptions). */
export interface WhenflowWorkerParts {
  /** Whenflow's workflow, prebundled. A worker that runs workflows of its own bundles `whenflow/workflows` with them instead (docs/embedding.md). */
  workflowBundle: WorkflowBundleOption;
  /** The activities bound to the workspace: spread them next to your own. */
  activities: TaskActivities;
  interceptors?: { activity: ActivityInterceptorsFactory[] };
  sinks?: WorkerOptions['sinks'];
  /** Names the worker's step catalog, so that workers of one queue notice when they serve different catalogs. */
  identity: string;
}

export type WhenflowWorkerOptionsInput = Omit<TaskWorkerOptions, 'connection' | 'namespace' | 'taskQueue'>;

/**
 * The parts of `Worker.create` options that make a worker run whenflow tasks of one workspace, for a
 * team that creates its Temporal workers itself:
 *
 *   const whenflow = await whenflowWorkerOptions({ workspace: './automations' });
 *   await Worker.create({ connection, taskQueue: 'orders', ...whenflow });
 */
export async function whenflowWorkerOptions(options: WhenflowWorkerOptionsInput): Promise<WhenflowWorkerParts> {
  const { metrics, tracing, maxConcurrentSteps } = options;
  const observed = metrics !== undefined || tracing !== undefined;
  const activityInterceptors: ActivityInterceptorsFactory[] = [];
  const temporalTracing = tracing ? await import('@temporalio/interceptors-opentelemetry') : undefined;
  if (tracing && temporalTracing) {
    const { OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } = temporalTracing;
    // Outermost, so that step and connector spans are children of Temporal's activity span.
    activityInterceptors.push((ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }));
  }
  const telemetry = observed ? await import('./observability/activity-telemetry') : undefined;
  if (telemetry) activityInterceptors.push(telemetry.stepTelemetryInterceptor({ metrics, tracing }));
  const catalogVersion =
    options.catalogVersion === undefined ? (await openWorkspace(options.workspace)).catalog.version : options.catalogVersion;
  return {
    // Workers of one queue see each other's catalogs through their identities (observability/catalog-peers).
    identity: workerIdentity(catalogVersion),
    workflowBundle: await workflowBundle({ tracing: tracing !== undefined }),
    activities: createActivities(options.workspace, {
      ...(options.circuits ? { circuits: options.circuits } : {}),
      ...(options.connectorLimits ? { limits: options.connectorLimits } : {}),
      ...(telemetry ? { connectorGuard: telemetry.connectorTelemetryGuard({ metrics, tracing }) } : {}),
      // One step thread per step that may run at once.
      ...(maxConcurrentSteps !== undefined ? { stepThreads: maxConcurrentSteps } : {}),
    }),
    ...(activityInterceptors.length > 0 ? { interceptors: { activity: activityInterceptors } } : {}),
    // Workflow spans are made in the sandbox and leave it through this sink.
    ...(tracing && temporalTracing
      ? { sinks: { exporter: temporalTracing.makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } }
      : {}),
  };
}

/**
 * A worker's activity slots for `maxConcurrentSteps` step threads (default 16): as many step activities, and
 * as many local steps, at once as there are threads. A step the worker took must not wait for a thread
 * inside the worker, where the wait would count toward its timeout; further steps wait in the task queue
 * (or for another worker) instead. Spread it next to `whenflowWorkerOptions` in a worker of your own.
 */
export function stepSlotOptions(
  maxConcurrentSteps: number = DEFAULT_STEP_THREADS,
): Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentLocalActivityExecutions'> {
  return { maxConcurrentActivityTaskExecutions: maxConcurrentSteps, maxConcurrentLocalActivityExecutions: maxConcurrentSteps };
}

/** Composition root: the task workflow plus the activities bound to one workspace's steps. */
export async function createTaskWorker(options: TaskWorkerOptions): Promise<Worker> {
  const { maxConcurrentSteps } = options;
  if (maxConcurrentSteps !== undefined && !(Number.isInteger(maxConcurrentSteps) && maxConcurrentSteps >= 1)) {
    throw new RangeError(`createTaskWorker: maxConcurrentSteps must be a whole number ≥ 1; got ${maxConcurrentSteps}`);
  }
  const { connection, namespace, taskQueue, ...parts } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue: taskQueue ?? DEFAULT_TASK_QUEUE,
    ...(await whenflowWorkerOptions(parts)),
    ...stepSlotOptions(maxConcurrentSteps),
  });
}
