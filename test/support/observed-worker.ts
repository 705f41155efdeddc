import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import type { CircuitBoard } from '../../src/connectors/circuit';
import type { ConnectorLimits } from '../../src/connectors/limits';
import { connectorStatuses, serveTelemetry, type TelemetryServer, type WorkerMetrics } from '../../src/observability';
import { installRuntime } from '../../src/temporal/runtime';
import { createTaskWorker } from '../../src/worker';
import { openWorkspace } from '../../src/workspace/workspace';
import { replayTasks } from './temporal';

export interface ObservedWorker {
  client: Client;
  /** The worker's `/metrics` and `/status` endpoint, as `whenflow worker --metrics-port` serves it. */
  endpoint: TelemetryServer;
  /** Stops the endpoint and the worker after replaying `taskIds`; returns how many replayed. */
  close(taskIds: string[], suite: string): Promise<number>;
}

/**
 * A worker in this process on the suite's dev server, with its circuit board, connector limits and
 * metrics at hand, and the telemetry endpoint a `whenflow worker` serves.
 */
export async function startObservedWorker(options: {
  workspace: string;
  taskQueue: string;
  circuits: CircuitBoard;
  connectorLimits?: ConnectorLimits;
  metrics: WorkerMetrics;
}): Promise<ObservedWorker> {
  const { workspace, taskQueue, circuits, connectorLimits, metrics } = options;
  installRuntime();
  const address = inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  const client = new Client({ connection, namespace });
  const worker = await createTaskWorker({ connection: nativeConnection, namespace, workspace, taskQueue, circuits, metrics, ...(connectorLimits ? { connectorLimits } : {}) });
  const running = worker.run();
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
    client,
    endpoint,
    async close(taskIds, suite) {
      await endpoint.close();
      const replayed = await replayTasks(client, taskIds, suite);
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      return replayed;
    },
  };
}
