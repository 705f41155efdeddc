import type { CircuitBoard } from '../../src/connectors/circuit';
import type { ConnectorLimits } from '../../src/connectors/limits';
import { connectorStatuses, serveTelemetry, type TelemetryServer, type WorkerMetrics } from '../../src/observability';
import { openWorkspace } from '../../src/workspace/workspace';
import { replayTasks, startHarness, type TestHarness } from './temporal';

export interface ObservedWorker extends Pick<TestHarness, 'client'> {
  /** The worker's `/metrics` and `/status` endpoint, as `whenflow worker --metrics-port` serves it. */
  endpoint: TelemetryServer;
  /** Stops the endpoint and the worker after replaying `taskIds`; returns how many replayed. */
  close(taskIds: string[], suite: string): Promise<number>;
}

/**
 * A harness worker with its circuit board, connector limits and metrics at hand, and the telemetry
 * endpoint a `whenflow worker` serves.
 */
export async function startObservedWorker(options: {
  workspace: string;
  taskQueue: string;
  circuits: CircuitBoard;
  connectorLimits?: ConnectorLimits;
  metrics: WorkerMetrics;
}): Promise<ObservedWorker> {
  const { workspace, taskQueue, circuits, connectorLimits, metrics } = options;
  const harness = await startHarness(workspace, { taskQueue, circuits, metrics, ...(connectorLimits ? { connectorLimits } : {}) });
  const endpoint = await serveTelemetry({
    port: 0,
    host: '127.0.0.1',
    metrics,
    status: async () => ({
      worker: { workspace, taskQueue, pid: process.pid, startedAt: new Date().toISOString() },
      connectors: connectorStatuses(circuits, await openWorkspace(workspace), connectorLimits),
    }),
  });
  return {
    client: harness.client,
    endpoint,
    async close(taskIds, suite) {
      await endpoint.close();
      const replayed = await replayTasks(harness.client, taskIds, suite);
      await harness.close();
      return replayed;
    },
  };
}
