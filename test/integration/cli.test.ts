import { describe, expect, inject, it } from 'vitest';
import type { TraceEntry } from '../../src/model/task';
import { whenflow } from '../support/cli';

const suiteServer = () => ({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace') });

describe('whenflow run --json (the documented contract)', () => {
  it('prints exactly one JSON object with the contract fields; progress goes to stderr', async () => {
    const { code, stdout, stderr } = await whenflow(['run', '--workspace', '.', '-f', 'samples/order.json', '--json'], suiteServer());
    expect(stderr).toContain('receive_order');
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['conflicts', 'data', 'error', 'result', 'state', 'taskId', 'trace']);
    expect(out.state).toBe('done');
    expect(out.error).toBeNull();
    expect(out.result).toEqual({ orderId: 'A-1001', shipping: 'express', arrivesInDays: 1, price: 10 });
    const trace = out.trace as TraceEntry[];
    expect(trace.map((t) => `${t.cycle}:${t.step}`)).toEqual([
      '1:receive_order',
      '2:charge_payment',
      '3:pick_items',
      '4:fulfil_order',
      '5:ship_express',
      '6:notify_customer',
      '7:notify_customer',
      '8:complete_order',
    ]);
    // The sample shows the runtime's patterns: subtasks (picked items), a deferred call (quote), park + redo (notify).
    const data = out.data as {
      order: { picked: Record<string, { state: string; result: { sku: string } }>; quote: { method: string }; notifyAttempts: number };
    };
    expect(Object.values(data.order.picked).map((p) => `${p.state}:${p.result.sku}`)).toEqual(['done:BOOK-42', 'done:MUG-7']);
    expect(data.order.quote.method).toBe('express');
    expect(data.order.notifyAttempts).toBe(1);
    for (const entry of trace) {
      expect(Object.keys(entry).sort()).toEqual(['attempt', 'changed', 'cycle', 'durationMs', 'logs', 'startedAt', 'step']);
      expect(Number.isNaN(Date.parse(entry.startedAt))).toBe(false);
      expect(entry.attempt).toBe(1);
    }
    expect(trace[0]!.changed).toEqual(['/order/receivedAt', '/order/status']);
    expect(trace[0]!.logs).toEqual([{ level: 'log', message: 'received order A-1001 with 2 item(s)' }]);
    expect(out.conflicts).toEqual([]);
  });

  it('reports a failed step in the error field and exits 1', async () => {
    const { code, stdout } = await whenflow(
      ['run', '-w', 'test/workspaces/cycle', '-d', '{"boom":{"fail":true}}', '--json'],
      suiteServer(),
    );
    expect(code).toBe(1);
    const out = JSON.parse(stdout) as { state: string; error: unknown };
    expect(out.state).toBe('error');
    expect(out.error).toEqual({ step: 'boom', message: 'payment gateway said no', attempts: 2 });
  });

  it('takes the branch for a standard customer; with --concurrency 2 the payment and the picking run in one batch', async () => {
    const { code, stdout } = await whenflow(
      ['run', '-w', '.', '-f', 'samples/order-standard.json', '--json', '--concurrency', '2'],
      suiteServer(),
    );
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { trace: { step: string; cycle: number }[]; result: unknown; conflicts: unknown[] };
    // They read and write different parts of the order: both are merged, nothing runs again.
    expect(out.trace.map((t) => `${t.cycle}:${t.step}`)).toEqual([
      '1:receive_order',
      '2:charge_payment',
      '2:pick_items',
      '3:fulfil_order',
      '4:ship_standard',
      '5:notify_customer',
      '6:notify_customer',
      '7:complete_order',
    ]);
    expect(out.conflicts).toEqual([]);
    expect(out.result).toEqual({ orderId: 'A-1002', shipping: 'standard', arrivesInDays: 4, price: 4.5 });
  });
});

describe('whenflow run output for people', () => {
  it('shows progress per step, then the final state and data', async () => {
    const { code, stdout } = await whenflow(['run', '--workspace', '.', '-f', 'samples/order.json'], suiteServer());
    expect(code).toBe(0);
    expect(stdout).toMatch(/cycle +1 +receive_order/);
    expect(stdout).toMatch(/cycle +2 +charge_payment/);
    expect(stdout).toMatch(/state +done/);
    expect(stdout).toContain('"transactionId": "tx-A-1001"');
  });
});

describe('whenflow run with its own embedded dev server', () => {
  it('starts and stops a server itself, and keeps the server output off stdout', async () => {
    const { code, stdout, stderr } = await whenflow(['run', '--workspace', '.', '-f', 'samples/order.json', '--json'], {
      TEMPORAL_ADDRESS: undefined,
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/task task-[\w-]+ started on 127\.0\.0\.1:\d+/);
    expect((JSON.parse(stdout) as { state: string }).state).toBe('done');
  });
});

describe('whenflow run on bad input', () => {
  it('exits 2 for a missing workspace', async () => {
    const { code, stderr } = await whenflow(['run', '-w', 'no/such/dir', '-d', '{}']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/workspace .*no\/such\/dir is not a directory/);
  });

  it('exits 2 for invalid JSON, naming where it came from', async () => {
    const { code, stderr } = await whenflow(['run', '-w', '.', '-d', '{"order": ']);
    expect(code).toBe(2);
    expect(stderr).toContain('the task data from -d/--data is not valid JSON');
  });

  it('exits 2 for data that is not an object', async () => {
    const { code, stderr } = await whenflow(['run', '-w', '.', '-d', '[1,2]']);
    expect(code).toBe(2);
    expect(stderr).toContain('must be a JSON object, got an array');
  });

  it('exits 2 for a missing data file, naming the flag', async () => {
    const { code, stderr } = await whenflow(['run', '-w', '.', '-f', 'nope.json']);
    expect(code).toBe(2);
    expect(stderr).toContain('cannot read the task data file given with -f/--file nope.json: ENOENT');
  });

  it('exits 2 for a file given as inline data, saying which flag takes a file', async () => {
    const { code, stderr } = await whenflow(['run', '-w', '.', '--data', 'samples/order.json']);
    expect(code).toBe(2);
    expect(stderr).toContain(
      '-d/--data takes the task data as inline JSON; samples/order.json is a file: give it with -f/--file samples/order.json',
    );
  });

  it('exits 2 listing every problem of every invalid step file, not just the first', async () => {
    const { code, stderr } = await whenflow(['run', '-w', 'test/workspaces/broken', '-d', '{}']);
    expect(code).toBe(2);
    expect(stderr).toContain('7 problems in workspace');
    for (const expected of [
      'steps/no_content.mjs',
      'steps/bad_condition.mjs (condition.order.total)',
      'steps/bad_condition.mjs (condition.tags.$foo)',
      'steps/bad_options.mjs (options.priority)',
      'steps/bad_options.mjs (options.retry.maximumAttempts)',
      'steps/reads_data.mjs',
      'steps/syntax_error.mjs',
    ]) {
      expect(stderr).toContain(expected);
    }
  });

  it('exits 2 for an unknown option or a missing required one', async () => {
    expect((await whenflow(['run', '-w', '.', '-d', '{}', '--bogus'])).code).toBe(2);
    const noData = await whenflow(['run']);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain('the task data is required: -d/--data JSON, or -f/--file FILE');
  });

  it('exits 1 when the Temporal service cannot be reached', async () => {
    const { code, stderr } = await whenflow(['run', '-w', '.', '-d', '{"order":{}}'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr).toContain('whenflow: cannot reach Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS)');
  });
});
