import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/model/json';
import { createTestEnvironment, runScenarios, type ScenarioResult } from '../../src/testing';

const WORKSPACE = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SAMPLE = join(WORKSPACE, 'samples', 'order.json');
const sampleOrder = (): JsonObject => JSON.parse(readFileSync(SAMPLE, 'utf8')) as JsonObject;

const PREMIUM_STEPS = [
  'receive_order',
  'charge_payment',
  'pick_items',
  'fulfil_order',
  'ship_express',
  'notify_customer',
  'notify_customer',
  'complete_order',
];
const RECEIPT = { orderId: 'A-1001', shipping: 'express', arrivesInDays: 1, price: 10 };

/** Resolves true when something accepts TCP connections at host:port. */
function listening(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((done) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
  });
}

describe('runScenarios on the sample workspace', () => {
  let dir: string;
  const savedAddress = process.env.TEMPORAL_ADDRESS;
  beforeAll(async () => {
    // This suite is about runScenarios starting (and stopping) a dev server of its own.
    delete process.env.TEMPORAL_ADDRESS;
    dir = await mkdtemp(join(tmpdir(), 'whenflow-scenarios-it-'));
    // The sample mailer is busy the first time it sees an address (per process), hence two notify_customer runs.
    await writeFile(
      join(dir, 'premium.yaml'),
      [
        'name: premium order ships express',
        `dataFile: ${JSON.stringify(relative(dir, SAMPLE))}`,
        `expectedSteps: [${PREMIUM_STEPS.join(', ')}]`,
        'validateFinalState:',
        '  order.quote.method: express',
        '  order.shipping.method: String',
        '  result.price: 10',
        'timeoutMs: 60000',
      ].join('\n'),
    );
    const data = sampleOrder();
    (data.customer as JsonObject).email = 'wrong-on-purpose@example.com';
    await writeFile(
      join(dir, 'wrong.json'),
      JSON.stringify({
        name: 'wrong on purpose',
        data,
        expectedSteps: { set: ['receive_order', 'ship_express', 'complete_order'] },
        expectedState: 'ignored',
        validateFinalState: { 'order.quote.method': 'express', 'result.price': 99, 'order.status': 'fulfilled' },
      }),
    );
  });
  afterAll(async () => {
    if (savedAddress !== undefined) process.env.TEMPORAL_ADDRESS = savedAddress;
    await rm(dir, { recursive: true, force: true });
  });

  it('runs both scenarios: one passes, the other fails with exactly the expected failures; the server is gone afterwards', {
    timeout: 170_000,
  }, async () => {
    const lines: string[] = [];
    const { results, problems } = await runScenarios({ workspace: WORKSPACE, dir, log: (line) => lines.push(line) });
    expect(problems).toEqual([]);
    const byName = new Map<string, ScenarioResult>(results.map((r) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual(['premium order ships express', 'wrong on purpose']);
    expect(byName.get('premium order ships express')).toEqual({
      name: 'premium order ships express',
      file: 'premium.yaml',
      passed: true,
      failures: [],
    });
    expect(byName.get('wrong on purpose')).toEqual({
      name: 'wrong on purpose',
      file: 'wrong.json',
      passed: false,
      failures: [
        { what: 'state', expected: 'ignored', actual: 'done' },
        { what: 'result.price', expected: '99', actual: '10' },
      ],
    });
    // The dev server runScenarios started has been stopped.
    const address = lines.map((line) => /^running 2 scenarios on (\S+) /.exec(line)?.[1]).find((a) => a !== undefined);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await listening(address as string)).toBe(false);
  });

  it('a task that does not settle within timeoutMs fails the scenario, and the run still ends', { timeout: 170_000 }, async () => {
    const slow = await mkdtemp(join(tmpdir(), 'whenflow-scenarios-slow-'));
    try {
      const data = sampleOrder();
      (data.customer as JsonObject).email = 'slow@example.com';
      await writeFile(join(slow, 'slow.json'), JSON.stringify({ name: 'too slow', data, timeoutMs: 1 }));
      const { results, problems } = await runScenarios({ workspace: WORKSPACE, dir: slow });
      expect(problems).toEqual([]);
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ name: 'too slow', file: 'slow.json', passed: false });
      expect(results[0]?.failures).toHaveLength(1);
      expect(results[0]?.failures[0]).toMatchObject({ what: 'state', expected: 'done' });
      expect(results[0]?.failures[0]?.actual).toMatch(/^not settled within 1 ms: still (running|waiting) \(/);
    } finally {
      await rm(slow, { recursive: true, force: true });
    }
  });

  it('runs only the scenarios the filter picks, and returns problems without running anything', { timeout: 170_000 }, async () => {
    const filtered = await runScenarios({ workspace: WORKSPACE, dir, filter: 'nothing-matches-this' });
    expect(filtered).toEqual({
      results: [],
      problems: [{ file: dir, path: '', message: 'no scenario matches the filter "nothing-matches-this"' }],
    });
    const broken = await mkdtemp(join(tmpdir(), 'whenflow-scenarios-broken-'));
    try {
      await writeFile(join(broken, 'bad.yaml'), 'name: bad\n');
      const lines: string[] = [];
      const outcome = await runScenarios({ workspace: WORKSPACE, dir: broken, log: (line) => lines.push(line) });
      expect(outcome.results).toEqual([]);
      expect(outcome.problems).toEqual([
        {
          file: 'bad.yaml',
          path: 'data',
          message: 'missing: give the task data as `data:` (an object) or `dataFile:` (a JSON or YAML file, relative to this file)',
        },
      ]);
      expect(lines).toEqual([]); // no server was started
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});

describe('createTestEnvironment on the sample workspace', () => {
  let env: Awaited<ReturnType<typeof createTestEnvironment>>;
  beforeAll(async () => {
    env = await createTestEnvironment({ workspace: WORKSPACE });
  });
  afterAll(async () => {
    await env?.close();
  });

  it('runTask runs the premium order to done with its receipt', async () => {
    const data = sampleOrder();
    (data.customer as JsonObject).email = 'test-environment@example.com';
    const snapshot = await env.runTask(data, { name: 'premium order' });
    expect(snapshot.state).toBe('done');
    expect(snapshot.name).toBe('premium order');
    expect(snapshot.result).toEqual(RECEIPT);
    expect(snapshot.trace.map((entry) => entry.step)).toEqual(PREMIUM_STEPS);
  });

  it('runTask returns settled tasks that are not done (attention), and the client sees them', async () => {
    const snapshot = await env.runTask({ unrelated: true }, { timeoutMs: 30_000 });
    expect(snapshot.state).toBe('attention');
    expect(snapshot.trace).toEqual([]);
    const described = await env.client.workflow.getHandle(snapshot.taskId).describe();
    expect(described.status.name).toBe('RUNNING');
  });
});
