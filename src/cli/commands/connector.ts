import pc from 'picocolors';
import { workerStatusSchema, type ConnectorStatus, type WorkerStatus } from '../../observability';
import { DEFAULT_METRICS_HOST, loadWorkspaceConfig } from '../../workspace/config';
import { UsageError } from '../errors';
import { table } from '../table';
import type { Io } from './task';
import { formatJsonPath } from '../../model/json';

/** The port `connector status` tries when neither --worker nor whenflow.yaml names one. */
export const DEFAULT_METRICS_PORT = 9464;
const STATUS_TIMEOUT_MS = 5000;

/** The worker endpoint to ask: --worker, else `observability.metrics` of the workspace, else 127.0.0.1:9464. */
async function workerUrl(opts: { worker?: string; workspace: string }): Promise<string> {
  if (opts.worker !== undefined) {
    const url = /^https?:\/\//.test(opts.worker) ? opts.worker : `http://${opts.worker}`;
    if (!URL.canParse(url))
      throw new UsageError(
        `--worker must be the worker's metrics address, e.g. http://127.0.0.1:${DEFAULT_METRICS_PORT}; got "${opts.worker}"`,
      );
    return url.replace(/\/+$/, '');
  }
  const { config } = await loadWorkspaceConfig(opts.workspace);
  const metrics = config.observability.metrics;
  const host = metrics ? (metrics.host === '0.0.0.0' || metrics.host === '::' ? DEFAULT_METRICS_HOST : metrics.host) : DEFAULT_METRICS_HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${metrics?.port ?? DEFAULT_METRICS_PORT}`;
}

/** Reads a worker's `/status`, validated: a wrong port must not be shown as an empty list. */
export async function fetchWorkerStatus(base: string): Promise<WorkerStatus> {
  const url = `${base}/status`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const why = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(
      `no worker status at ${url} (${why}); start the worker with --metrics-port ${new URL(base).port || DEFAULT_METRICS_PORT} (or observability.metrics.port in whenflow.yaml) and pass its address with --worker`,
    );
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} did not answer JSON; is it a whenflow worker's metrics port?`);
  }
  const parsed = workerStatusSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${url} answered an unexpected document (${issue ? `${formatJsonPath(issue.path) || 'root'}: ${issue.message}` : 'invalid'}); is it a whenflow worker of the same version?`,
    );
  }
  return parsed.data;
}

const colored = (status: ConnectorStatus['circuit']) =>
  status === 'open' ? pc.red(status) : status === 'half-open' ? pc.yellow(status) : status === 'closed' ? pc.green(status) : pc.dim(status);

/** Calls in flight against the limit; only connectors with a limit (or calls still out under a removed one) count them. */
function callsInFlight(c: ConnectorStatus): string {
  if (c.maxConcurrent !== null) return `${c.inFlight}/${c.maxConcurrent}`;
  return c.inFlight > 0 ? String(c.inFlight) : '—';
}

/** `whenflow connector status`: each connector's circuit and calls in flight, as one running worker sees them. */
export async function connectorStatus(opts: { worker?: string; workspace: string; json: boolean }, io: Io): Promise<void> {
  const status = await fetchWorkerStatus(await workerUrl(opts));
  if (opts.json) {
    io.out(JSON.stringify(status));
    return;
  }
  io.out(
    `worker ${status.worker.pid} on ${status.worker.workspace}, task queue ${status.worker.taskQueue}, since ${status.worker.startedAt}`,
  );
  const rows = status.connectors.map((c) => [
    c.connector,
    colored(c.circuit),
    c.circuit === 'off' ? '—' : `${c.consecutiveFailures}/${c.failureThreshold}`,
    c.openUntil ?? '—',
    c.cooldownMs !== null ? `${c.cooldownMs / 1000} s` : '—',
    callsInFlight(c),
    c.maxConcurrent !== null || c.waiting > 0 ? String(c.waiting) : '—',
    c.lastFailure ?? '',
  ]);
  io.out(table(['connector', 'circuit', 'failures', 'open until', 'cooldown', 'in flight', 'waiting', 'last failure'], rows));
}
