import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import { CircuitBoard } from '../../src/connectors/circuit';
import { chainGuards, circuitGuard, concurrencyGuard } from '../../src/connectors/guard';
import { ConnectorLimits } from '../../src/connectors/limits';
import { ConnectorRegistry } from '../../src/connectors/registry';
import type { GuardedCall } from '../../src/connectors/types';
import { connectorStatuses, WorkerMetrics } from '../../src/observability';
import { defaultWorkspaceConfig } from '../../src/workspace/config';

/** A call the test settles by hand, recording when it was sent. */
class Calls {
  readonly sent: string[] = [];
  inFlight = 0;
  most = 0;
  private readonly open = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();

  send(name: string): () => Promise<string> {
    return () => {
      this.sent.push(name);
      this.inFlight += 1;
      this.most = Math.max(this.most, this.inFlight);
      return new Promise<string>((resolve, reject) => this.open.set(name, { resolve, reject })).finally(() => {
        this.inFlight -= 1;
      });
    };
  }

  answer(name: string): void {
    this.take(name).resolve(name);
  }

  fail(name: string): void {
    this.take(name).reject(new Error(`${name} failed`));
  }

  private take(name: string) {
    const call = this.open.get(name);
    if (!call) throw new Error(`${name} was not sent`);
    this.open.delete(name);
    return call;
  }
}

/** Lets queued microtasks and promise chains run. */
const settle = () => sleep(5);
const never = new AbortController().signal;

describe('ConnectorLimits', () => {
  it('keeps at most `limit` calls in flight and sends the waiting ones in FIFO order', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    const results = ['a', 'b', 'c', 'd', 'e'].map((name) => limits.run('crm', 2, never, calls.send(name)));
    await settle();
    expect(calls.sent).toEqual(['a', 'b']);
    expect(limits.report()).toEqual([{ connector: 'crm', limit: 2, inFlight: 2, waiting: 3 }]);
    calls.answer('b');
    await settle();
    expect(calls.sent).toEqual(['a', 'b', 'c']);
    calls.answer('a');
    await settle();
    calls.answer('c');
    await settle();
    calls.answer('d');
    await settle();
    calls.answer('e');
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(calls.sent).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(calls.most).toBe(2);
    await settle();
    expect(limits.report()).toEqual([{ connector: 'crm', limit: 2, inFlight: 0, waiting: 0 }]);
  });

  it('limits each connector on its own; a connector without a limit is not queued', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    void limits.run('crm', 1, never, calls.send('crm-1'));
    void limits.run('crm', 1, never, calls.send('crm-2'));
    void limits.run('erp', 1, never, calls.send('erp-1'));
    void limits.run('fetch', undefined, never, calls.send('fetch-1'));
    void limits.run('fetch', undefined, never, calls.send('fetch-2'));
    await settle();
    expect(calls.sent).toEqual(['crm-1', 'erp-1', 'fetch-1', 'fetch-2']);
    expect(limits.report().map((r) => r.connector)).toEqual(['crm', 'erp']);
  });

  it('a call that throws gives its slot back', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    const first = limits.run('crm', 1, never, calls.send('a'));
    const second = limits.run('crm', 1, never, calls.send('b'));
    await settle();
    calls.fail('a');
    await expect(first).rejects.toThrow('a failed');
    await settle();
    expect(calls.sent).toEqual(['a', 'b']);
    calls.answer('b');
    await expect(second).resolves.toBe('b');
    // A send that throws before returning a promise frees its slot too.
    await expect(
      limits.run('crm', 1, never, () => {
        throw new Error('bad arguments');
      }),
    ).rejects.toThrow('bad arguments');
    await expect(limits.run('crm', 1, never, async () => 'after')).resolves.toBe('after');
  });

  it('a waiting call whose caller gives up leaves the queue, rejects with the abort reason and is never sent', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    const first = limits.run('crm', 1, never, calls.send('a'));
    const step = new AbortController();
    const waiting = limits.run('crm', 1, step.signal, calls.send('b'));
    const third = limits.run('crm', 1, never, calls.send('c'));
    await settle();
    expect(limits.report()[0]).toMatchObject({ inFlight: 1, waiting: 2 });
    const reason = new Error('the step was cancelled');
    step.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limits.report()[0]).toMatchObject({ inFlight: 1, waiting: 1 });
    calls.answer('a');
    await settle();
    calls.answer('c');
    await expect(first).resolves.toBe('a');
    await expect(third).resolves.toBe('c');
    expect(calls.sent).toEqual(['a', 'c']);
  });

  it('a call already cancelled is rejected without being sent, even with a free slot', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    const step = new AbortController();
    step.abort(new Error('stopped'));
    await expect(limits.run('crm', 3, step.signal, calls.send('a'))).rejects.toThrow('stopped');
    expect(calls.sent).toEqual([]);
  });

  it('a sent call keeps its slot until it settles, even when its caller gives up', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    const step = new AbortController();
    // The connector ignores the signal: its request is still at the service.
    const first = limits.run('crm', 1, step.signal, calls.send('a'));
    const second = limits.run('crm', 1, never, calls.send('b'));
    await settle();
    step.abort(new Error('timed out'));
    await settle();
    expect(calls.sent).toEqual(['a']);
    expect(limits.report()[0]).toMatchObject({ inFlight: 1, waiting: 1 });
    calls.answer('a');
    await expect(first).resolves.toBe('a');
    await settle();
    calls.answer('b');
    await expect(second).resolves.toBe('b');
    expect(calls.most).toBe(1);
  });

  it('a changed limit applies from the next call; a removed one lets the waiting calls go', async () => {
    const limits = new ConnectorLimits();
    const calls = new Calls();
    void limits.run('crm', 1, never, calls.send('a'));
    void limits.run('crm', 1, never, calls.send('b'));
    void limits.run('crm', 1, never, calls.send('c'));
    void limits.run('crm', 1, never, calls.send('d'));
    await settle();
    expect(calls.sent).toEqual(['a']);
    void limits.run('crm', 2, never, calls.send('e'));
    await settle();
    expect(calls.sent).toEqual(['a', 'b']);
    expect(limits.report()).toEqual([{ connector: 'crm', limit: 2, inFlight: 2, waiting: 3 }]);
    void limits.run('crm', undefined, never, calls.send('f'));
    await settle();
    expect(calls.sent).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // Calls sent under the old limit are still shown until they settle.
    expect(limits.report()).toEqual([{ connector: 'crm', limit: null, inFlight: 5, waiting: 0 }]);
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) calls.answer(name);
    await settle();
    expect(limits.report()).toEqual([]);
  });
});

describe('concurrencyGuard around the circuit breaker', () => {
  const call = (signal: AbortSignal): GuardedCall => ({
    connector: 'crm',
    method: 'find',
    source: 'connectors/crm.mjs',
    context: { taskId: 't', step: 's', attempt: 1, idempotencyKey: 'k', signal, options: {} },
  });

  it('a call waiting for a slot is not seen by the circuit; one the open circuit rejects frees its slot at once', async () => {
    const limits = new ConnectorLimits();
    const board = new CircuitBoard();
    const guard = chainGuards(
      concurrencyGuard(limits, () => 1),
      circuitGuard(board, () => ({ failures: 1, cooldownMs: 60_000 })),
    );
    const calls = new Calls();
    const first = guard.run(call(never), calls.send('a'));
    const step = new AbortController();
    const waiting = guard.run(call(step.signal), calls.send('b'));
    const third = guard.run(call(never), calls.send('c'));
    await settle();
    step.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    // The cancelled waiting call said nothing about the connector; the failure of the sent one opens it.
    calls.fail('a');
    await expect(first).rejects.toThrow('a failed');
    expect(board.report()[0]).toMatchObject({ status: 'open', consecutiveFailures: 1 });
    await expect(third).rejects.toMatchObject({ name: 'CircuitOpenError' });
    expect(calls.sent).toEqual(['a']);
    await settle();
    expect(limits.report()[0]).toMatchObject({ inFlight: 0, waiting: 0 });
  });
});

const { load } = scratchWorkspaces('limits-config');

describe('whenflow.yaml: connectors.<name>.maxConcurrent', () => {
  it('a whole number ≥ 1; absent when not written', async () => {
    const { config, problems } = await load(
      ['connectors:', '  crm:', '    maxConcurrent: 4', '  fetch:', '    maxConcurrent: 1', '  plain:', '    options: {}'].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(config.connectors.crm?.maxConcurrent).toBe(4);
    expect(config.connectors.fetch?.maxConcurrent).toBe(1);
    expect(config.connectors.plain).not.toHaveProperty('maxConcurrent');
  });

  it('bad values are problems naming the file and the path', async () => {
    const { problems } = await load(
      [
        'connectors:',
        '  a:',
        '    maxConcurrent: 0',
        '  b:',
        '    maxConcurrent: 1.5',
        '  c:',
        '    maxConcurrent: "2"',
        '  d:',
        '    maxConcurrency: 2',
      ].join('\n'),
    );
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(problems.every((p) => p.file === 'whenflow.yaml')).toBe(true);
    expect(Object.keys(byPath).sort()).toEqual([
      'connectors.a.maxConcurrent',
      'connectors.b.maxConcurrent',
      'connectors.c.maxConcurrent',
      'connectors.d.maxConcurrency',
    ]);
    expect(byPath['connectors.a.maxConcurrent']).toMatch(/>=1/);
    expect(byPath['connectors.b.maxConcurrent']).toMatch(/int/);
    expect(byPath['connectors.c.maxConcurrent']).toMatch(/expected number/);
    expect(byPath['connectors.d.maxConcurrency']).toMatch(/^unknown key "maxConcurrency" \(allowed: .*maxConcurrent/);
  });
});

describe('status and metrics of the limits', () => {
  it('connector status shows the limit as configured now, calls in flight and waiting', async () => {
    const registry = new ConnectorRegistry([
      ...new ConnectorRegistry().names().map((name) => new ConnectorRegistry().get(name)!),
      { name: 'crm', source: 'connectors/crm.mjs', methods: {} },
    ]);
    const config = defaultWorkspaceConfig();
    config.connectors.crm = { options: {}, maxConcurrent: 1 };
    const limits = new ConnectorLimits();
    const calls = new Calls();
    void limits.run('crm', 1, never, calls.send('a'));
    void limits.run('crm', 1, never, calls.send('b'));
    await settle();
    const statuses = connectorStatuses(new CircuitBoard(), { connectors: registry, config }, limits);
    expect(statuses.map((s) => [s.connector, s.maxConcurrent, s.inFlight, s.waiting])).toEqual([
      ['crm', 1, 1, 1],
      ['fetch', null, 0, 0],
      ['utils', null, 0, 0],
    ]);

    const metrics = new WorkerMetrics(undefined, { processMetrics: false, limits });
    const { body } = await metrics.text();
    expect(body).toContain('whenflow_connector_calls_in_flight{connector="crm"} 1\n');
    expect(body).toContain('whenflow_connector_calls_waiting{connector="crm"} 1\n');
    calls.answer('a');
    await settle();
    calls.answer('b');
    await settle();
    expect((await metrics.text()).body).toContain('whenflow_connector_calls_in_flight{connector="crm"} 0\n');
  });
});
