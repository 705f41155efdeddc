import { z } from 'zod';
import { circuitSettingsFor, type CircuitBoard } from '../connectors/circuit';
import type { ConnectorLimits } from '../connectors/limits';
import type { ConnectorRegistry } from '../connectors/registry';
import type { WorkspaceConfig } from '../workspace/config';

const isoTime = z.iso.datetime();

/** `GET /status` of a worker: what `whenflow connector status` shows. */
export const workerStatusSchema = z.object({
  worker: z.object({
    workspace: z.string(),
    taskQueue: z.string(),
    pid: z.number().int(),
    startedAt: isoTime,
  }),
  connectors: z.array(
    z.object({
      connector: z.string(),
      source: z.string(),
      /** `off`: this connector has no circuit breaker. */
      circuit: z.enum(['closed', 'open', 'half-open', 'off']),
      consecutiveFailures: z.number().int().nonnegative(),
      /** When an open circuit lets its probe call through. */
      openUntil: isoTime.nullable(),
      failureThreshold: z.number().int().positive().nullable(),
      cooldownMs: z.number().nonnegative().nullable(),
      lastFailure: z.string().nullable(),
      /** `maxConcurrent` as configured now; null: no limit. */
      maxConcurrent: z.number().int().positive().nullable(),
      /** Calls sent and not settled, counted while the connector has a limit. */
      inFlight: z.number().int().nonnegative(),
      /** Calls waiting for a slot. */
      waiting: z.number().int().nonnegative(),
    }),
  ),
});
export type WorkerStatus = z.infer<typeof workerStatusSchema>;
export type ConnectorStatus = WorkerStatus['connectors'][number];

/**
 * Every connector of the workspace as configured now, with the circuit state and the calls in flight the
 * worker keeps for it (a connector not called yet is closed with no failures); connectors only the
 * worker knows (removed from the workspace since) are listed too.
 */
export function connectorStatuses(
  board: CircuitBoard,
  workspace: { connectors: ConnectorRegistry; config: WorkspaceConfig },
  limits?: ConnectorLimits,
): ConnectorStatus[] {
  const reports = new Map(board.report().map((r) => [r.connector, r]));
  const calls = new Map((limits?.report() ?? []).map((r) => [r.connector, r]));
  const names = [...new Set([...workspace.connectors.names(), ...reports.keys(), ...calls.keys()])].sort();
  return names.map((name) => {
    const source = workspace.connectors.get(name)?.source ?? 'removed';
    const settings = circuitSettingsFor(workspace.config.connectors[name]?.circuit, source === 'builtin');
    const report = reports.get(name);
    return {
      connector: name,
      source,
      circuit: settings ? (report?.status ?? 'closed') : 'off',
      consecutiveFailures: report?.consecutiveFailures ?? 0,
      openUntil: report?.openUntil != null ? new Date(report.openUntil).toISOString() : null,
      failureThreshold: settings?.failures ?? null,
      cooldownMs: settings?.cooldownMs ?? null,
      lastFailure: report?.lastFailure ?? null,
      maxConcurrent: workspace.config.connectors[name]?.maxConcurrent ?? null,
      inFlight: calls.get(name)?.inFlight ?? 0,
      waiting: calls.get(name)?.waiting ?? 0,
    };
  });
}
