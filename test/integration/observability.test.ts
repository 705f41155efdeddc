import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTask, waitForTask } from '../../src/client';
import { createTracing } from '../../src/observability';
import { installRuntime } from '../../src/temporal/sdk-logging';
import { createTaskWorker, workflowBundle } from '../../src/worker';

/**
 * Metrics from a real `whenflow worker --metrics-port` process, scraped over HTTP; spans from a worker
 * with tracing on, caught by OpenTelemetry's in-memory exporter. The workspace is the circuit one: its
 * `inventory` connector calls a local HTTP server of this test.
 */
const workspace = join(import.meta.dirname, '..', 'workspaces', 'circuit');
const bin = join(import.meta.dirname, '..', '..', 'bin', 'whenflow.mjs');

/** Answers stock requests; the first `failFirst` requests get a 503. */
class Inventory {
  received = 0;
  failFirst = 0;
  url = '';
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.received += 1;
      const sku = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname.replace(/^\/stock\//, ''));
      const failing = this.received <= this.failFirst;
      res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(failing ? { error: 'down' } : { sku, count: 3 }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/** The value of one series in Prometheus text, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const inventory = new Inventory();
let connection: Connection;
let client: Client;

beforeAll(async () => {
  installRuntime();
  await inventory.start();
  process.env.WHENFLOW_CIRCUIT_INVENTORY_URL = inventory.url;
  connection = await Connection.connect({ address: inject('temporalAddress') });
  client = new Client({ connection, namespace: inject('temporalNamespace') });
});

afterAll(async () => {
  await connection?.close();
  await inventory.stop();
});

describe('metrics: whenflow worker --metrics-port', () => {
  let child: ChildProcess | undefined;
  let output = '';

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('serves step durations and failures, connector calls and circuit state; prints circuit transitions; connector status reads it', async () => {
    const port = await freePort();
    const taskQueue = `metrics-${process.pid}`;
    const env = {
      ...process.env,
      NO_COLOR: '1',
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      WHENFLOW_CIRCUIT_INVENTORY_URL: inventory.url,
    };
    child = spawn(process.execPath, [bin, 'worker', '-w', workspace, '--task-queue', taskQueue, '--metrics-port', String(port)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const metricsUrl = `http://127.0.0.1:${port}`;
    await until(
      () => (output.includes(`${metricsUrl}/metrics`) ? true : undefined),
      `the worker announced its metrics endpoint:\n${output}`,
    );

    // Three failures open the inventory circuit (3 / 2 s in whenflow.yaml); the step's retries wait it out.
    inventory.received = 0;
    inventory.failFirst = 3;
    const handle = await startTask(client, { name: 'metrics', data: { item: { sku: 'M-1', via: 'step' } }, taskQueue });
    const done = await waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
    expect(done.state).toBe('done');
    expect(inventory.received).toBe(4);

    const response = await fetch(`${metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const checkAttempts = done.trace.find((e) => e.step === 'check_stock')!.attempt;
    // Each attempt of check_stock is one observation: all but the last failed.
    expect(sample(text, 'whenflow_step_duration_seconds_count{step="check_stock",outcome="ok"}')).toBe(1);
    expect(sample(text, 'whenflow_step_duration_seconds_count{step="check_stock",outcome="failed"}')).toBe(checkAttempts - 1);
    expect(sample(text, 'whenflow_step_duration_seconds_count{step="done",outcome="ok"}')).toBe(1);
    expect(sample(text, 'whenflow_step_duration_seconds_sum{step="done",outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(text, 'whenflow_step_duration_seconds_bucket{le="+Inf",step="done",outcome="ok"}')).toBe(1);
    expect(sample(text, 'whenflow_step_failures_total{step="check_stock",type="Error"}')).toBe(3);
    expect(sample(text, 'whenflow_step_failures_total{step="check_stock",type="CircuitOpenError"}')).toBe(checkAttempts - 4);
    expect(sample(text, 'whenflow_connector_calls_total{connector="inventory",method="stock",result="failed"}')).toBe(3);
    expect(sample(text, 'whenflow_connector_calls_total{connector="inventory",method="stock",result="ok"}')).toBe(1);
    expect(sample(text, 'whenflow_connector_failures_total{connector="inventory",method="stock",type="Error"}')).toBe(3);
    expect(sample(text, 'whenflow_circuit_state{connector="inventory"}')).toBe(0);
    expect(sample(text, 'whenflow_circuit_consecutive_failures{connector="inventory"}')).toBe(0);

    // The worker's own output tells the circuit's story.
    expect(output).toMatch(/circuit inventory: open — 3 consecutive failures \(last: inventory answered 503\); calls fail fast until \S+Z/);
    expect(output).toMatch(/circuit inventory: half-open — cooldown over, letting one probe call through/);
    expect(output).toMatch(/circuit inventory: closed — the probe call succeeded/);

    // `whenflow connector status` (a separate process) reads the worker's /status.
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'connector', 'status', '--worker', metricsUrl, '-w', workspace], {
      env,
    });
    expect(stdout).toMatch(/│ inventory\s+│ closed\s+│ 0\/3\s+│ —\s+│ 2 s\s+│/);
    expect(stdout).toMatch(/│ fetch\s+│ off\s+│/);
    expect((await fetch(`${metricsUrl}/nope`)).status).toBe(404);
  });
});

/** A worker on the workspace whose spans are caught in memory, on the given task queue. */
async function startTracedWorker(taskQueue: string) {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing({ spanProcessor: new SimpleSpanProcessor(exporter), serviceName: 'whenflow-test' });
  const nativeConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await createTaskWorker({
    connection: nativeConnection,
    namespace: inject('temporalNamespace'),
    workspace,
    taskQueue,
    tracing,
  });
  const running = worker.run();
  const stop = async () => {
    worker.shutdown();
    await running;
    await nativeConnection.close();
  };
  return { exporter, tracing, stop };
}

describe('tracing', () => {
  it('exports spans for the task, its subtask, their steps and connector calls, linked in one trace', async () => {
    const taskQueue = `tracing-${process.pid}`;
    const { exporter, tracing, stop } = await startTracedWorker(taskQueue);
    try {
      inventory.failFirst = 0;
      const handle = await startTask(client, { name: 'traced', data: { item: { sku: 'T-1', via: 'subtask' } }, taskQueue });
      const done = await waitForTask(client, handle.workflowId, { timeoutMs: 60_000 });
      expect(done.state).toBe('done');
      expect(done.result).toEqual({ sku: 'T-1', count: 3 });
      const childId = `${handle.workflowId}.1`;
      // Workflow spans leave the sandbox through a sink once the workflow has completed.
      const spans = await until(() => {
        const finished = exporter.getFinishedSpans();
        return finished.filter((s) => s.name === 'RunWorkflow:taskWorkflow').length === 2 ? finished : undefined;
      }, 'both workflow spans were exported');
      const named = (name: string): ReadableSpan => {
        const found = spans.find((s) => s.name === name);
        if (!found) throw new Error(`no span "${name}" among: ${spans.map((s) => s.name).join(', ')}`);
        return found;
      };
      const byId = (id: string | undefined) => spans.find((s) => s.spanContext().spanId === id);
      const task = spans.find((s) => s.name === 'RunWorkflow:taskWorkflow' && s.parentSpanId === undefined)!;
      const startChild = named('StartChildWorkflow:taskWorkflow');
      const child = spans.find((s) => s.name === 'RunWorkflow:taskWorkflow' && s.parentSpanId !== undefined)!;
      expect(startChild.parentSpanId).toBe(task.spanContext().spanId);
      expect(child.parentSpanId).toBe(startChild.spanContext().spanId);

      // The child's step: its span under Temporal's activity spans, under its cycle's span, under the child task's span.
      const step = named('step check_stock');
      const call = named('connector inventory.stock');
      const activity = byId(step.parentSpanId);
      expect(activity?.name).toBe('RunActivity:runStep');
      const scheduled = byId(activity?.parentSpanId);
      expect(scheduled?.name).toBe('StartActivity:runStep');
      const childCycle = byId(scheduled?.parentSpanId);
      expect(childCycle?.name).toBe('whenflow.cycle');
      expect(childCycle?.parentSpanId).toBe(child.spanContext().spanId);
      expect(call.parentSpanId).toBe(step.spanContext().spanId);

      // Task → cycle → step: every cycle is a span under its task, every step attempt under its cycle.
      const cyclesOf = (taskSpan: ReadableSpan) =>
        spans.filter((s) => s.name === 'whenflow.cycle' && s.parentSpanId === taskSpan.spanContext().spanId);
      const cycleOf = (stepName: string) => byId(byId(byId(named(`step ${stepName}`).parentSpanId)?.parentSpanId)?.parentSpanId);
      // (Temporal's sink adds the workflow info to the attributes of every span from the workflow.)
      expect(cyclesOf(task).map((s) => s.attributes)).toMatchObject([
        { 'whenflow.task_id': handle.workflowId, 'whenflow.cycle': 1, 'whenflow.steps': ['split'] },
        { 'whenflow.task_id': handle.workflowId, 'whenflow.cycle': 2, 'whenflow.steps': ['joined'] },
      ]);
      expect(cyclesOf(child).map((s) => s.attributes)).toMatchObject([
        { 'whenflow.task_id': childId, 'whenflow.cycle': 1, 'whenflow.steps': ['check_stock'] },
        { 'whenflow.task_id': childId, 'whenflow.cycle': 2, 'whenflow.steps': ['done'] },
      ]);
      for (const cycle of [...cyclesOf(task), ...cyclesOf(child)]) expect(cycle.attributes).not.toHaveProperty('whenflow.sequence_index');
      expect(cycleOf('split')).toBe(cyclesOf(task)[0]);
      expect(cycleOf('joined')).toBe(cyclesOf(task)[1]);
      expect(cycleOf('check_stock')).toBe(cyclesOf(child)[0]);
      expect(cycleOf('done')).toBe(cyclesOf(child)[1]);
      for (const cycle of [...cyclesOf(task), ...cyclesOf(child)]) expect(cycle.status.code).not.toBe(SpanStatusCode.ERROR);
      for (const span of spans) expect(span.spanContext().traceId).toBe(task.spanContext().traceId);

      expect(step.attributes).toMatchObject({
        'whenflow.task_id': childId,
        'whenflow.step': 'check_stock',
        'whenflow.cycle': 1,
        'whenflow.attempt': 1,
      });
      expect(named('step done').attributes).toMatchObject({ 'whenflow.task_id': childId, 'whenflow.cycle': 2 });
      expect(named('step split').attributes).toMatchObject({ 'whenflow.task_id': handle.workflowId, 'whenflow.cycle': 1 });
      expect(named('step joined').attributes).toMatchObject({ 'whenflow.task_id': handle.workflowId, 'whenflow.cycle': 2 });
      expect(call.attributes).toMatchObject({
        'whenflow.connector': 'inventory',
        'whenflow.method': 'stock',
        'whenflow.task_id': childId,
        'whenflow.step': 'check_stock',
      });
      expect(task.resource.attributes['service.name']).toBe('whenflow-test');
    } finally {
      await stop();
      await tracing.shutdown();
    }
  });

  it('cycle spans carry the sequence position; a step that fails for good marks its cycle as an error; both histories replay', async () => {
    const taskQueue = `tracing-cycles-${process.pid}`;
    const { exporter, tracing, stop } = await startTracedWorker(taskQueue);
    const cyclesOf = (taskId: string) =>
      exporter.getFinishedSpans().filter((s) => s.name === 'whenflow.cycle' && s.attributes['whenflow.task_id'] === taskId);
    let failingId: string | undefined;
    try {
      inventory.failFirst = 0;
      const sequenced = await startTask(client, {
        name: 'sequenced',
        data: { item: { sku: 'S-1', via: 'step' } },
        sequence: ['check_stock', 'done'],
        taskQueue,
      });
      expect((await waitForTask(client, sequenced.workflowId, { timeoutMs: 60_000 })).state).toBe('done');
      const sequenceCycles = await until(
        () => (cyclesOf(sequenced.workflowId).length === 2 ? cyclesOf(sequenced.workflowId) : undefined),
        'both cycles of the sequence were exported',
      );
      expect(sequenceCycles.map((s) => s.attributes)).toMatchObject([
        {
          'whenflow.task_id': sequenced.workflowId,
          'whenflow.cycle': 1,
          'whenflow.steps': ['check_stock'],
          'whenflow.sequence_index': 1,
          'whenflow.sequence_length': 2,
        },
        {
          'whenflow.task_id': sequenced.workflowId,
          'whenflow.cycle': 2,
          'whenflow.steps': ['done'],
          'whenflow.sequence_index': 2,
          'whenflow.sequence_length': 2,
        },
      ]);

      // The inventory never answers: check_stock runs out of attempts and the task goes to error.
      inventory.received = 0;
      inventory.failFirst = Number.POSITIVE_INFINITY;
      const failing = await startTask(client, { name: 'failing', data: { item: { sku: 'F-1', via: 'step' } }, taskQueue });
      failingId = failing.workflowId;
      const failed = await waitForTask(client, failing.workflowId, { timeoutMs: 60_000 });
      expect(failed.state).toBe('error');
      const [failedCycle] = await until(
        () => (cyclesOf(failing.workflowId).length === 1 ? cyclesOf(failing.workflowId) : undefined),
        'the failed cycle was exported',
      );
      expect(failedCycle!.attributes).toMatchObject({
        'whenflow.task_id': failing.workflowId,
        'whenflow.cycle': 1,
        'whenflow.steps': ['check_stock'],
        'whenflow.failed_step': 'check_stock',
      });
      expect(failedCycle!.status.code).toBe(SpanStatusCode.ERROR);
      expect(failedCycle!.status.message).toContain('step check_stock failed: ');
      // Each attempt's activity span is a child of the failed cycle's span.
      const attempts = exporter
        .getFinishedSpans()
        .filter((s) => s.name === 'StartActivity:runStep' && s.parentSpanId === failedCycle!.spanContext().spanId);
      expect(attempts).toHaveLength(1);
      const runs = exporter
        .getFinishedSpans()
        .filter((s) => s.name === 'RunActivity:runStep' && s.parentSpanId === attempts[0]!.spanContext().spanId);
      expect(runs).toHaveLength(failed.error!.attempts);

      // Histories recorded with cycle spans replay with the traced bundle (spans are not commands).
      const sinks = { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
      for (const taskId of [sequenced.workflowId, failing.workflowId]) {
        const history = await client.workflow.getHandle(taskId).fetchHistory();
        await Worker.runReplayHistory({ workflowBundle: await workflowBundle({ tracing: true }), sinks }, history, taskId);
      }
    } finally {
      inventory.failFirst = 0;
      if (failingId) await client.workflow.getHandle(failingId).terminate('test over');
      await stop();
      await tracing.shutdown();
    }
  });

  it('recorded histories replay with the tracing interceptors in the workflow bundle', async () => {
    const dir = join(import.meta.dirname, '..', 'histories');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json'));
    const histories = files.map((file) => ({
      workflowId: basename(file, '.json'),
      history: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    // The sink as a traced worker has it (a replay never calls it, but the workflow code refers to it).
    const tracing = createTracing({ spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()) });
    const sinks = { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle({ tracing: true }), sinks },
      histories as never,
    )) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
