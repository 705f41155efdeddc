import { describe, expect, it } from 'vitest';
import { ConnectorRegistry, createConnectorsProxy } from '../../src/connectors';
import type { JsonObject } from '../../src/model/json';
import { executeStep, type StepContent } from '../../src/runtime/execute';
import { minimalPointers, trackReads } from '../../src/runtime/read-tracking';
import { isFinalError } from '../../src/model/errors';
import { DataValueError } from '../../src/runtime/to-json';

// The step globals, as step content sees them.
// biome-ignore lint/suspicious/noExplicitAny: step content sees task data as schemaless JSON
declare let data: any;
declare const connectors: { mail: { send(args: JsonObject): Promise<{ sent: number }>; fail(args: JsonObject): Promise<void> } };
declare const task: { complete(result?: unknown): void };
declare const step: { fail(message: string): never };

const noFailure = (): Error => {
  throw new Error('the step did not fail');
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A workspace connector module as a worker loads it, with a log of what it was asked and what it finished. */
function mailConnector(delayMs = 30) {
  const finished: number[] = [];
  let calls = 0;
  const connector = {
    name: 'mail',
    source: 'connectors/mail.mjs',
    methods: {
      send: async () => {
        const n = ++calls;
        await sleep(delayMs);
        finished.push(n);
        return { sent: n };
      },
      fail: async () => {
        await sleep(delayMs);
        throw new Error('mail server said 550');
      },
    },
  };
  return { connector, finished };
}

function run(content: StepContent, input: JsonObject = {}, options: { trackReads?: boolean; delayMs?: number } = {}) {
  const mail = mailConnector(options.delayMs);
  const registry = new ConnectorRegistry([mail.connector]);
  const outcome = executeStep({
    step: 'notify',
    taskId: 'task-1',
    attempt: 1,
    data: input,
    content,
    trackReads: options.trackReads ?? false,
    connectors: (defer, calls) =>
      createConnectorsProxy(
        registry,
        (callIndex) => ({
          taskId: 'task-1',
          step: 'notify',
          attempt: 1,
          idempotencyKey: `k${callIndex}`,
          signal: new AbortController().signal,
          options: {},
        }),
        defer,
        calls,
      ),
  });
  return { outcome, finished: mail.finished };
}

describe('connector calls a step starts are tracked', () => {
  it('a call without await is finished before the step ends', async () => {
    const { outcome, finished } = run(async () => {
      void connectors.mail.send({ to: 'a' });
      void connectors.mail.send({ to: 'b' });
      task.complete();
    });
    await outcome;
    expect(finished).toEqual([1, 2]);
  });

  it('a failing call without await fails the step, naming connector and method', async () => {
    const { outcome } = run(async () => {
      void connectors.mail.fail({ to: 'a' });
      task.complete();
    });
    await expect(outcome).rejects.toThrow('connectors.mail.fail() was not awaited and failed: mail server said 550');
  });

  it('a failure the content awaited and caught does not fail the step', async () => {
    const { outcome } = run(async () => {
      try {
        await connectors.mail.fail({ to: 'a' });
      } catch {
        data.mailFailed = true;
      }
    });
    expect((await outcome).patch).toEqual([{ op: 'add', path: '/mailFailed', value: true }]);
  });

  it('a failure handled with .catch() does not fail the step', async () => {
    const { outcome } = run(async () => {
      void connectors.mail.fail({ to: 'a' }).catch(() => undefined);
    });
    await expect(outcome).resolves.toMatchObject({ patch: [] });
  });

  it('storing a call result without await names the path and asks about await', async () => {
    const { outcome } = run(async () => {
      data.receipt = connectors.mail.send({ to: 'a' });
    });
    const error = await outcome.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataValueError);
    expect((error as Error).message).toContain('wrote a Promise (missing await?) at data.receipt');
  });

  it('task.complete() with a Promise names it too', async () => {
    const { outcome } = run(async () => {
      task.complete(connectors.mail.send({ to: 'a' }));
    });
    await expect(outcome).rejects.toThrow('missing await?');
  });
});

describe('final errors', () => {
  it('ReferenceError, SyntaxError and step.fail() are final; other errors are not', async () => {
    const reference = await run(async () => {
      // @ts-expect-error a misspelt global, as content may have
      dta.x = 1;
    }).outcome.then(noFailure, (e: Error) => e);
    expect(reference.name).toBe('ReferenceError');
    expect(isFinalError(reference)).toBe(true);
    const failed = await run(async () => {
      step.fail('the order is unusable');
    }).outcome.then(noFailure, (e: Error) => e);
    expect(failed.message).toBe('the order is unusable');
    expect(isFinalError(failed)).toBe(true);
    expect(isFinalError(Object.assign(new Error('marked'), { final: true }))).toBe(true);
    const syntax = new SyntaxError('Unexpected token');
    expect(isFinalError(syntax)).toBe(true);
    expect(isFinalError(new TypeError('fetch failed'))).toBe(false);
    expect(isFinalError(new Error('timeout'))).toBe(false);
  });
});

describe('reads of a step in a parallel batch', () => {
  it('records primitives, missing keys, arrays, listed objects and assignments, not objects passed through', async () => {
    const { outcome } = run(
      async () => {
        data.total = data.order.lines.length + (data.order.discount ?? 0);
        if (!data.flags) data.flags = {};
        data.keys = Object.keys(data.customer).length;
      },
      { order: { id: 1, lines: [1, 2], discount: 1 }, customer: { a: 1, b: 2 } },
      { trackReads: true },
    );
    const { reads, patch } = await outcome;
    // Assigned keys count as read: an assignment that changes nothing still depends on the value.
    expect(reads).toEqual(['/customer', '/flags', '/keys', '/order/discount', '/order/lines', '/total']);
    expect(patch.map((op) => op.path).sort()).toEqual(['/flags', '/keys', '/total']);
  });

  it('is off unless asked for', async () => {
    const { outcome } = run(
      async () => {
        data.x = data.y;
      },
      { y: 1 },
    );
    expect((await outcome).reads).toBeUndefined();
  });

  it('pointers inside another one are left out, and escaped keys stay exact', () => {
    expect(minimalPointers(['/a/b', '/a', '/a-b/c', '/c~1d', '/a/b/c'])).toEqual(['/a', '/a-b/c', '/c~1d']);
    const tracker = trackReads({ 'c/d': 1, 'e~f': { g: 2 } });
    void (tracker.data['c/d'] as number);
    void (tracker.data['e~f'] as JsonObject).g;
    expect(tracker.reads()).toEqual(['/c~1d', '/e~0f/g']);
    tracker.stop();
    void tracker.data.other;
    expect(tracker.reads()).toEqual(['/c~1d', '/e~0f/g']);
  });
});
