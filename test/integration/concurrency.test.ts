import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectorStatus } from '../../src/cli/commands/connector';
import { startTask, waitForTask } from '../../src/client';
import { CircuitBoard } from '../../src/connectors/circuit';
import { ConnectorLimits } from '../../src/connectors/limits';
import { WorkerMetrics, workerStatusSchema, type TelemetryServer } from '../../src/observability';
import type { JsonObject } from '../../src/model/json';
import { whenflow } from '../support/cli';
import { startObservedWorker, type ObservedWorker } from '../support/observed-worker';
import { spawnWorkerProcess, type WorkerProcess } from '../support/worker-process';

/**
 * Concurrency limits against a real local service: `busy` (maxConcurrent: 2 in
 * test/workspaces/concurrency/whenflow.yaml) and `slow` (no limit), both answered by this server,
 * which records how many requests it held at once.
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'concurrency');

type Path = 'busy' | 'slow';

interface Request {
  path: Path;
  task: string;
  start: number;
  end: number | null;
}

class CountingServer {
  url = '';
  readonly requests: Request[] = [];
  readonly inFlight: Record<Path, number> = { busy: 0, slow: 0 };
  readonly most: Record<Path, number> = { busy: 0, slow: 0 };
  private server: Server | null = null;
  /** `/busy` requests wait here until the test opens the gate. */
  private gateOpen = false;
  private readonly held: (() => void)[] = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  openGate(): void {
    this.gateOpen = true;
    for (const release of this.held.splice(0)) release();
  }

  reset(path: Path): void {
    this.most[path] = this.inFlight[path];
    this.requests.splice(0, this.requests.length, ...this.requests.filter((r) => r.path !== path));
  }

  of(path: Path): Request[] {
    return this.requests.filter((r) => r.path === path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.slice(1);
    if (path !== 'busy' && path !== 'slow') {
      res.writeHead(404).end();
      return;
    }
    const request: Request = { path, task: url.searchParams.get('task') ?? '', start: Date.now(), end: null };
    this.requests.push(request);
    this.inFlight[path] += 1;
    this.most[path] = Math.max(this.most[path], this.inFlight[path]);
    const answer = () => {
      this.inFlight[path] -= 1;
      request.end = Date.now();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path }));
    };
    if (path === 'slow') setTimeout(answer, Number(url.searchParams.get('ms') ?? 0));
    else if (this.gateOpen) setTimeout(answer, 30);
    else this.held.push(answer);
  }
}

async function until(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

const service = new CountingServer();
const circuits = new CircuitBoard();
const connectorLimits = new ConnectorLimits();
const metrics = new WorkerMetrics(circuits, { processMetrics: false, limits: connectorLimits });
const taskQueue = `concurrency-${process.pid}`;
let observed: ObservedWorker;
let client: Client;
let endpoint: TelemetryServer;
let cliWorker: WorkerProcess | null = null;
const taskIds: string[] = [];

beforeAll(async () => {
  await service.start();
  process.env.WHENFLOW_CONCURRENCY_URL = service.url;
  observed = await startObservedWorker({ workspace, taskQueue, circuits, connectorLimits, metrics });
  ({ client, endpoint } = observed);
});

afterAll(async () => {
  await cliWorker?.kill('SIGTERM');
  if (observed) expect(await observed.close(taskIds, 'concurrency')).toBe(taskIds.length);
  await service.stop();
});

async function start(name: string, data: JsonObject, queue = taskQueue): Promise<string> {
  const handle = await startTask(client, { name, data, taskQueue: queue });
  taskIds.push(handle.workflowId);
  return handle.workflowId;
}

/** `whenflow connector status --worker <url>`: the JSON document and the table. */
async function statusCommand() {
  const json: string[] = [];
  await connectorStatus({ worker: endpoint.url, workspace, json: true }, { out: (l) => json.push(l), err: () => {} });
  const table: string[] = [];
  await connectorStatus({ worker: endpoint.url, workspace, json: false }, { out: (l) => table.push(l), err: () => {} });
  // Colours are on where the environment asks for them (CI=true does): compare the text.
  return { status: workerStatusSchema.parse(JSON.parse(json.join('\n'))), table: stripVTControlCharacters(table.join('\n')) };
}

describe('per-connector limit (connectors.busy.maxConcurrent: 2)', () => {
  it('calls from several tasks, in steps and deferred, never exceed 2 at the service; the others wait and all complete', async () => {
    const inSteps = await Promise.all([1, 2, 3].map((i) => start(`busy ${i}`, { job: { calls: 3, via: 'step' } })));
    const deferred = await start('busy deferred', { job: { via: 'deferred' } });
    const calls = 3 * 3 + 1;

    // The service holds every request: 2 reach it, the other 8 wait on the worker.
    await until(
      () => connectorLimits.report().some((r) => r.connector === 'busy' && r.waiting === calls - 2),
      `${calls - 2} calls wait for a slot`,
    );
    expect(service.inFlight.busy).toBe(2);
    const { status, table } = await statusCommand();
    expect(status.connectors.find((c) => c.connector === 'busy')).toMatchObject({
      maxConcurrent: 2,
      inFlight: 2,
      waiting: calls - 2,
      circuit: 'closed',
    });
    expect(status.connectors.find((c) => c.connector === 'slow')).toMatchObject({ maxConcurrent: null, inFlight: 0, waiting: 0 });
    expect(table).toMatch(/│ in flight │ waiting │/);
    expect(table).toMatch(/│ busy +│.*│ 2\/2 +│ 8 +│/);
    const { body } = await metrics.text();
    expect(body).toContain('whenflow_connector_calls_in_flight{connector="busy"} 2\n');
    expect(body).toContain(`whenflow_connector_calls_waiting{connector="busy"} ${calls - 2}\n`);
    // Still 2 a moment later: waiting calls stay waiting (their steps heartbeat meanwhile).
    await sleep(300);
    expect(service.of('busy')).toHaveLength(2);

    service.openGate();
    const done = await Promise.all([...inSteps, deferred].map((id) => waitForTask(client, id, { timeoutMs: 60_000 })));
    expect(done.map((t) => t.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(done.map((t) => t.result)).toEqual([{ answered: 3 }, { answered: 3 }, { answered: 3 }, { answered: 1 }]);
    expect(service.of('busy')).toHaveLength(calls);
    expect(service.most.busy).toBe(2);
    // Each call reached the service once: none was sent while waiting, none retried.
    expect(done.flatMap((t) => t.trace).every((entry) => entry.attempt === 1)).toBe(true);
    await until(() => connectorLimits.report().every((r) => r.inFlight === 0 && r.waiting === 0), 'every slot is free');
  });
});

describe('worker-wide limit (whenflow worker --max-concurrent-steps)', () => {
  it('without it, two steps that hold for 300 ms overlap', async () => {
    service.reset('slow');
    const ids = await Promise.all([1, 2].map((i) => start(`hold ${i}`, { hold: { ms: 300 } })));
    const done = await Promise.all(ids.map((id) => waitForTask(client, id, { timeoutMs: 60_000 })));
    expect(done.map((t) => t.state)).toEqual(['done', 'done']);
    expect(service.most.slow).toBe(2);
  });

  it('with --max-concurrent-steps 1, they run one after the other and all three complete', async () => {
    service.reset('slow');
    const queue = `concurrency-cli-${process.pid}`;
    cliWorker = spawnWorkerProcess({
      workspace,
      taskQueue: queue,
      address: inject('temporalAddress'),
      namespace: inject('temporalNamespace'),
      env: { WHENFLOW_CONCURRENCY_URL: service.url },
      args: ['--max-concurrent-steps', '1'],
    });
    const ids = await Promise.all([1, 2, 3].map((i) => start(`hold one at a time ${i}`, { hold: { ms: 300 } }, queue)));
    const done = await Promise.all(ids.map((id) => waitForTask(client, id, { timeoutMs: 60_000 })));
    expect(done.map((t) => t.state)).toEqual(['done', 'done', 'done']);
    expect(cliWorker.output()).toContain('at most 1 at once');
    const held = service.of('slow').sort((a, b) => a.start - b.start);
    expect(held).toHaveLength(3);
    expect(service.most.slow).toBe(1);
    for (let i = 1; i < held.length; i++) expect(held[i]!.start).toBeGreaterThanOrEqual(held[i - 1]!.end!);
  });

  it('a bad value is a usage error naming the flag', async () => {
    for (const command of ['worker', 'dev']) {
      const result = await whenflow([command, '-w', workspace, '--max-concurrent-steps', '0']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--max-concurrent-steps must be a whole number ≥ 1, got "0"');
    }
    const fraction = await whenflow(['worker', '-w', workspace, '--max-concurrent-steps', '1.5']);
    expect(fraction.code).toBe(2);
    expect(fraction.stderr).toContain('--max-concurrent-steps must be a whole number ≥ 1, got "1.5"');
  });
});
