import { describe, expect, it } from 'vitest';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import { CircuitBoard, DEFAULT_CIRCUIT } from '../../src/connectors/circuit';
import { ConnectorRegistry } from '../../src/connectors/registry';
import { cycleOf, connectorStatuses, serveTelemetry, WorkerMetrics, workerStatusSchema } from '../../src/observability';
import { defaultWorkspaceConfig } from '../../src/workspace/config';
import { describeTransition } from '../../src/cli/commands/serve';

const { load } = scratchWorkspaces('circuit-config');

describe('whenflow.yaml: connectors.<name>.circuit', () => {
  it('settings over the defaults, true for the defaults, false for none, absent when not written', async () => {
    const { config, problems } = await load(
      [
        'connectors:',
        '  crm:',
        '    circuit: { failures: 2, cooldown: 1.5s }',
        '  erp:',
        '    circuit: { cooldown: 5000 }',
        '  fetch:',
        '    circuit: true',
        '  legacy:',
        '    circuit: false',
        '  legacy2:',
        '    circuit: { enabled: false, failures: 2 }',
        '  plain:',
        '    options: {}',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(config.connectors.crm?.circuit).toEqual({ failures: 2, cooldownMs: 1500 });
    expect(config.connectors.erp?.circuit).toEqual({ failures: DEFAULT_CIRCUIT.failures, cooldownMs: 5000 });
    expect(config.connectors.fetch?.circuit).toEqual(DEFAULT_CIRCUIT);
    expect(config.connectors.legacy?.circuit).toBe(false);
    expect(config.connectors.legacy2?.circuit).toBe(false);
    expect(config.connectors.plain).not.toHaveProperty('circuit');
  });

  it('bad circuit settings are problems naming the file and the path', async () => {
    const { problems } = await load(
      [
        'connectors:',
        '  crm:',
        '    circuit: { failures: 0, cooldown: soon }',
        '  erp:',
        '    circuit: { threshold: 3 }',
        '  old:',
        '    circuit: off',
      ].join('\n'),
    );
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(problems.every((p) => p.file === 'whenflow.yaml')).toBe(true);
    expect(Object.keys(byPath).sort()).toEqual([
      'connectors.crm.circuit.cooldown',
      'connectors.crm.circuit.failures',
      'connectors.erp.circuit.threshold',
      'connectors.old.circuit',
    ]);
    expect(byPath['connectors.crm.circuit.failures']).toMatch(/>=1/);
    expect(byPath['connectors.crm.circuit.cooldown']).toBe('"soon" is not a duration (use milliseconds or e.g. "30s", "2m")');
    expect(byPath['connectors.erp.circuit.threshold']).toBe('unknown key "threshold" (allowed: enabled, failures, cooldown)');
    expect(byPath['connectors.old.circuit']).toBe('must be true, false, or settings such as { failures: 5, cooldown: 30s }');
  });
});

describe('whenflow.yaml: observability', () => {
  it('is off unless configured; metrics listen on 127.0.0.1 unless told otherwise', async () => {
    expect(defaultWorkspaceConfig().observability).toEqual({ metrics: null, tracing: null });
    const { config, problems } = await load(
      'observability:\n  metrics: { port: 9464 }\n  tracing: { endpoint: http://localhost:4318/v1/traces }\n',
    );
    expect(problems).toEqual([]);
    expect(config.observability).toEqual({
      metrics: { port: 9464, host: '127.0.0.1' },
      tracing: { endpoint: 'http://localhost:4318/v1/traces', serviceName: 'whenflow' },
    });
  });

  it('bad values are problems with their path', async () => {
    const { problems } = await load(
      'observability:\n  metrics: { port: 70000, hots: x }\n  tracing: { endpoint: localhost }\n  logs: {}\n',
    );
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual([
      'observability.logs',
      'observability.metrics.hots',
      'observability.metrics.port',
      'observability.tracing.endpoint',
    ]);
    expect(byPath['observability.logs']).toBe('unknown key "logs" (allowed: metrics, tracing)');
    expect(byPath['observability.metrics.hots']).toBe('unknown key "hots" (allowed: port, host)');
    expect(byPath['observability.tracing.endpoint']).toContain('http(s) URL');
  });
});

describe('worker status and metrics', () => {
  const registry = new ConnectorRegistry([
    ...new ConnectorRegistry().names().map((name) => new ConnectorRegistry().get(name)!),
    { name: 'crm', source: 'connectors/crm.mjs', methods: { find: async () => null } },
  ]);

  it('lists every connector: closed before its first call, off without a circuit, with the board state otherwise', () => {
    const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
    const board = new CircuitBoard(() => clock.now);
    const config = defaultWorkspaceConfig();
    config.connectors.crm = { options: {}, circuit: { failures: 1, cooldownMs: 10_000 } };
    expect(connectorStatuses(board, { connectors: registry, config }).map((c) => [c.connector, c.circuit])).toEqual([
      ['crm', 'closed'],
      ['fetch', 'off'],
      ['utils', 'off'],
    ]);
    const ticket = board.admit('crm', 'find', { failures: 1, cooldownMs: 10_000 });
    if (ticket instanceof Error) throw ticket;
    board.settle(ticket, 'failure', 'crm answered 503');
    const [crm] = connectorStatuses(board, { connectors: registry, config });
    expect(crm).toEqual({
      connector: 'crm',
      source: 'connectors/crm.mjs',
      circuit: 'open',
      consecutiveFailures: 1,
      openUntil: '2026-01-01T00:00:10.000Z',
      failureThreshold: 1,
      cooldownMs: 10_000,
      lastFailure: 'crm answered 503',
      maxConcurrent: null,
      inFlight: 0,
      waiting: 0,
    });
    expect(workerStatusSchema.shape.connectors.element.parse(crm)).toEqual(crm);
  });

  it('serves /metrics and /status over HTTP, 404 elsewhere, 405 for other methods', async () => {
    const board = new CircuitBoard();
    const metrics = new WorkerMetrics(board, { processMetrics: false });
    metrics.stepAttempt('greet', 0.02);
    metrics.stepAttempt('greet', 0.5, Object.assign(new Error('x'), { type: 'HttpError' }));
    metrics.connectorCall('crm', 'find', 'rejected', null);
    const status = { worker: { workspace: '/ws', taskQueue: 'q', pid: 1, startedAt: '2026-01-01T00:00:00.000Z' }, connectors: [] };
    const server = await serveTelemetry({ port: 0, host: '127.0.0.1', metrics, status: async () => status });
    try {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain('whenflow_step_duration_seconds_count{step="greet",outcome="ok"} 1\n');
      expect(text).toContain('whenflow_step_duration_seconds_count{step="greet",outcome="failed"} 1\n');
      expect(text).toContain('whenflow_step_failures_total{step="greet",type="HttpError"} 1\n');
      expect(text).toContain('whenflow_connector_calls_total{connector="crm",method="find",result="rejected"} 1\n');
      expect(text).not.toContain('whenflow_connector_call_duration_seconds_count');
      expect(await (await fetch(`${server.url}/status`)).json()).toEqual(status);
      expect((await fetch(`${server.url}/other`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });

  it('a busy port is a clear error', async () => {
    const metrics = new WorkerMetrics(undefined, { processMetrics: false });
    const first = await serveTelemetry({
      port: 0,
      host: '127.0.0.1',
      metrics,
      status: async () => ({ worker: { workspace: '', taskQueue: '', pid: 1, startedAt: '2026-01-01T00:00:00.000Z' }, connectors: [] }),
    });
    const port = Number(new URL(first.url).port);
    try {
      await expect(serveTelemetry({ port, host: '127.0.0.1', metrics, status: async () => ({}) as never })).rejects.toThrow(
        `cannot serve metrics on 127.0.0.1:${port}: the port is in use`,
      );
    } finally {
      await first.close();
    }
  });

  it('the cycle of a step execution comes from its execution ID', () => {
    expect(cycleOf({ taskId: 'task-1', step: 'greet', executionId: 'task-1:3:greet' })).toBe(3);
    expect(cycleOf({ taskId: 'a:b', step: 'c:d', executionId: 'a:b:12:c:d' })).toBe(12);
    expect(cycleOf({ taskId: 'task-1', step: 'greet', executionId: 'task-1:retry:3' })).toBeNull();
  });

  it('transitions read as one line each', () => {
    const base = { connector: 'crm', failures: 5, lastFailure: 'down', at: Date.parse('2026-01-01T00:00:00Z') };
    const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain(describeTransition({ ...base, from: 'closed', to: 'open', until: Date.parse('2026-01-01T00:00:30Z') }))).toBe(
      '2026-01-01T00:00:00.000Z circuit crm: open — 5 consecutive failures (last: down); calls fail fast until 2026-01-01T00:00:30.000Z',
    );
    expect(plain(describeTransition({ ...base, from: 'half-open', to: 'open', until: Date.parse('2026-01-01T00:00:30Z') }))).toContain(
      'open — the probe call failed; 5 consecutive failures',
    );
    expect(plain(describeTransition({ ...base, from: 'open', to: 'half-open', until: null }))).toContain(
      'half-open — cooldown over, letting one probe call through',
    );
    expect(plain(describeTransition({ ...base, from: 'half-open', to: 'closed', until: null }))).toContain(
      'closed — the probe call succeeded',
    );
  });
});
