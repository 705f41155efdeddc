import { fileURLToPath } from 'node:url';
import { makeWorkflowExporter, OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, Worker, type ActivityInterceptorsFactory, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import type { CircuitBoard } from './connectors/circuit';
import type { ConnectorLimits } from './connectors/limits';
import { workerIdentity } from './observability/catalog-peers';
import { openWorkspace } from './workspace/workspace';
import { connectorTelemetryGuard, stepTelemetryInterceptor, type WorkerMetrics, type WorkerTracing } from './observability';

export const DEFAULT_TASK_QUEUE = 'whenflow';

const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));
const tracingInterceptorsPath = fileURLToPath(new URL('./workflows/tracing-interceptors.ts', import.meta.url));
const bundles: { plain?: Promise<WorkflowBundleWithSourceMap>; traced?: Promise<WorkflowBundleWithSourceMap> } = {};

/**
 * The workflow code is bundled once per process (and per tracing on/off) and shared by every worker it
 * starts. Tracing adds Temporal's OpenTelemetry workflow interceptors and cycle spans, which issue no
 * commands of their own: a task's history replays the same with tracing on or off.
 */
export function workflowBundle(options: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  if (options.tracing) {
    bundles.traced ??= bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [tracingInterceptorsPath], logger: quietBundlerLogger });
    return bundles.traced;
  }
  bundles.plain ??= bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
  return bundles.plain;
}

const quietBundlerLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: (message: string) => process.stderr.write(`${message}\n`), log() {} };

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
   * Most activities this worker runs at once: step executions and deferred connector calls (Temporal's
   * `maxConcurrentActivityTaskExecutions`; default: the SDK's, 100). Others wait in the task queue.
   */
  maxConcurrentSteps?: number;
  /** Prometheus metrics of steps and connector calls. */
  metrics?: WorkerMetrics;
  /** OpenTelemetry spans for tasks (workflows), steps (activities) and connector calls. */
  tracing?: WorkerTracing;
  /**
   * The fingerprint of the step catalog this worker serves, carried in its Temporal identity so that
   * workers of one queue can see they serve different catalogs (default: the workspace's, read now).
   */
  catalogVersion?: string;
}

/** Composition root: the task workflow plus the activities bound to one workspace's steps. */
export async function createTaskWorker(options: TaskWorkerOptions): Promise<Worker> {
  const { metrics, tracing, maxConcurrentSteps } = options;
  if (maxConcurrentSteps !== undefined && !(Number.isInteger(maxConcurrentSteps) && maxConcurrentSteps >= 1)) {
    throw new RangeError(`createTaskWorker: maxConcurrentSteps must be a whole number ≥ 1; got ${maxConcurrentSteps}`);
  }
  const observed = metrics !== undefined || tracing !== undefined;
  const activityInterceptors: ActivityInterceptorsFactory[] = [];
  if (tracing) {
    // Outermost, so that step and connector spans are children of Temporal's activity span.
    activityInterceptors.push((ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }));
  }
  if (observed) activityInterceptors.push(stepTelemetryInterceptor({ metrics, tracing }));
  const catalogVersion = options.catalogVersion ?? (await openWorkspace(options.workspace)).catalog.version;
  return Worker.create({
    identity: workerIdentity(catalogVersion),
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    workflowBundle: await workflowBundle({ tracing: tracing !== undefined }),
    activities: createActivities(options.workspace, {
      ...(options.circuits ? { circuits: options.circuits } : {}),
      ...(options.connectorLimits ? { limits: options.connectorLimits } : {}),
      ...(observed ? { connectorGuard: connectorTelemetryGuard({ metrics, tracing }) } : {}),
      // One step thread per step that may run at once.
      ...(maxConcurrentSteps !== undefined ? { stepThreads: maxConcurrentSteps } : {}),
    }),
    ...(maxConcurrentSteps !== undefined ? { maxConcurrentActivityTaskExecutions: maxConcurrentSteps } : {}),
    ...(activityInterceptors.length > 0 ? { interceptors: { activity: activityInterceptors } } : {}),
    // Workflow spans are made in the sandbox and leave it through this sink.
    ...(tracing ? { sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } } : {}),
  });
}
