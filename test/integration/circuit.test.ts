import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorStatus } from '../../src/cli/commands/connector';
import { startTask, waitForTask } from '../../src/client';
import { CircuitBoard, type CircuitTransition } from '../../src/connectors/circuit';
import { WorkerMetrics, workerStatusSchema, type TelemetryServer } from '../../src/observability';
import { startObservedWorker, type ObservedWorker } from '../support/observed-worker';

/**
 * A real local inventory service that fails its first requests on purpose, and a real worker whose
 * `inventory` connector has a circuit of 3 failures / 2 s (test/workspaces/circuit/whenflow.yaml).
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'circuit');
const FAILING_REQUESTS = 4;

interface Received {
  at: number;
  task: string;
  status: number;
}

class InventoryServer {
  readonly received: Received[] = [];
  url = '';
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const status = this.received.length < FAILING_REQUESTS ? 503 : 200;
      this.received.push({ at: Date.now(), task: url.searchParams.get('task') ?? '', status });
      const sku = decodeURIComponent(url.pathname.replace(/^\/stock\//, ''));
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? JSON.stringify({ sku, count: 7 }) : JSON.stringify({ error: 'inventory is down' }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

const inventory = new InventoryServer();
const circuits = new CircuitBoard();
const transitions: CircuitTransition[] = [];
circuits.onTransition((t) => transitions.push(t));
const metrics = new WorkerMetrics(circuits, { processMetrics: false });
const taskQueue = `circuit-${process.pid}`;
let observed: ObservedWorker;
let client: Client;
let endpoint: TelemetryServer;
const taskIds: string[] = [];

beforeAll(async () => {
  await inventory.start();
  process.env.WHENFLOW_CIRCUIT_INVENTORY_URL = inventory.url;
  observed = await startObservedWorker({ workspace, taskQueue, circuits, metrics });
  ({ client, endpoint } = observed);
});

afterAll(async () => {
  if (observed) expect(await observed.close(taskIds, 'circuit')).toBe(taskIds.length);
  await inventory.stop();
});

/** `whenflow connector status --worker <url> --json`, parsed. */
async function statusCommand() {
  const lines: string[] = [];
  await connectorStatus({ worker: endpoint.url, workspace, json: true }, { out: (l) => lines.push(l), err: () => {} });
  return workerStatusSchema.parse(JSON.parse(lines.join('\n')));
}

describe('circuit breaker on a failing local service', () => {
  it('opens after 3 failures across tasks, fails fast while open, probes after the cooldown, reopens, then closes', async () => {
    const a = await startTask(client, { name: 'circuit step call', data: { item: { sku: 'A-1', via: 'step' } }, taskQueue });
    taskIds.push(a.workflowId);
    await until(() => transitions.some((t) => t.to === 'open'), 'the circuit opened');
    expect(inventory.received.map((r) => r.status)).toEqual([503, 503, 503]);

    // Visible from outside the worker while open.
    const open = (await statusCommand()).connectors.find((c) => c.connector === 'inventory');
    expect(open).toMatchObject({
      circuit: 'open',
      consecutiveFailures: 3,
      failureThreshold: 3,
      cooldownMs: 2000,
      lastFailure: 'inventory answered 503',
    });
    expect(Date.parse(open!.openUntil!)).toBe(transitions[0]!.until);
    expect((await statusCommand()).connectors.find((c) => c.connector === 'fetch')?.circuit).toBe('off');

    // A second task, calling deferred, meets the open circuit too: the state is the worker's, not the task's.
    const b = await startTask(client, { name: 'circuit deferred call', data: { item: { sku: 'B-2', via: 'deferred' } }, taskQueue });
    taskIds.push(b.workflowId);
    const [doneA, doneB] = await Promise.all([
      waitForTask(client, a.workflowId, { timeoutMs: 60_000 }),
      waitForTask(client, b.workflowId, { timeoutMs: 60_000 }),
    ]);
    expect(doneA.state).toBe('done');
    expect(doneA.result).toEqual({ sku: 'A-1', count: 7 });
    expect(doneB.state).toBe('done');
    expect(doneB.result).toEqual({ sku: 'B-2', count: 7 });

    // 3 failures, a failed probe, a successful probe, and the other task's call once closed: nothing else got through.
    expect(inventory.received.map((r) => r.status)).toEqual([503, 503, 503, 503, 200, 200]);
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
    expect(transitions[2]).toMatchObject({ failures: 4, lastFailure: 'inventory answered 503' });
    // No request reached the service while the circuit was open.
    for (const opened of transitions.filter((t) => t.to === 'open')) {
      expect(inventory.received.filter((r) => r.at > opened.at && r.at < opened.until!)).toEqual([]);
      expect(opened.until! - opened.at).toBe(2000);
    }

    // Task A's step failed three times at the service, then fast at least once, before its retries got through.
    const checked = doneA.trace.find((entry) => entry.step === 'check_stock');
    expect(checked?.attempt).toBeGreaterThanOrEqual(5);
    const { body } = await metrics.text();
    const rejected = Number(
      /whenflow_connector_calls_total\{connector="inventory",method="stock",result="rejected"\} (\d+)/.exec(body)?.[1],
    );
    expect(rejected).toBeGreaterThanOrEqual(2);
    expect(body).toMatch(/whenflow_connector_calls_total\{connector="inventory",method="stock",result="failed"\} 4\n/);
    expect(body).toMatch(/whenflow_connector_calls_total\{connector="inventory",method="stock",result="ok"\} 2\n/);
    expect(body).toMatch(/whenflow_circuit_state\{connector="inventory"\} 0\n/);

    const closed = (await statusCommand()).connectors.find((c) => c.connector === 'inventory');
    expect(closed).toMatchObject({ circuit: 'closed', consecutiveFailures: 0, openUntil: null, lastFailure: null });
  });
});
