import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTask, startTask, taskEvents, waitForTask } from '../../src/client';
import type { TaskEvent } from '../../src/model/events';
import { createTracing, type WorkerTracing } from '../../src/observability';
import { isSealed, sealedType } from '../../src/runtime/stash';
import { historyText } from '../support/history';
import { scratchWorkspaces } from '../support/scratch-workspaces';
import { startHarness, type TestHarness } from '../support/temporal';

/**
 * Secrets never leave in plaintext: a step that throws with a `$stash` value in its message, the
 * built-in fetch failing on a URL that carries one, a numeric secret in a deferred call's arguments, a
 * 3-character secret, and a `config:` value marked secret. None of them may appear in the task's
 * history, its snapshot (`task show --json` reads getTask), its event stream, the worker's log lines
 * or its spans. The workspace has two keys: the task is started with the old one (as a task parked
 * before a rotation), the worker seals with the new one.
 */
const NEW_KEY = randomBytes(32);
const OLD_KEY = randomBytes(32);
const API_KEY = 'sk-leak-5f1e9d2c7b';
const PIN = 918_273_645;
const CODE = 'q7z';
const CONFIG_TOKEN = 'cfg-token-6a0b8c';

/** An HTTP server that answers with the URL it was asked for (a service echoing a secret back). */
class Echo {
  url = '';
  private server: Server | null = null;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ asked: req.url }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A port on 127.0.0.1 that nothing listens on: fetch fails with ECONNREFUSED. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const { workspace } = scratchWorkspaces('secrets-leak');
const echo = new Echo();
const exporter = new InMemorySpanExporter();
let tracing: WorkerTracing;
let harness: TestHarness;
let closedUrl = '';
const stderrLines: string[] = [];
const writeStderr = process.stderr.write.bind(process.stderr);

const STEPS: Record<string, string> = {
  // Logs, a visual and a deferred call carrying the secrets (the numeric one as an argument).
  'steps/shows.mjs': `
export const condition = { kind: String, shown: null };
export const content = async () => {
  const { apiKey, pin, code } = data.$stash;
  console.log('token', task.config('API_TOKEN'), 'key', apiKey, 'pin', pin, 'code', code);
  task.visualize({ type: 'table', name: 'creds', data: [{ apiKey, pin, code, token: task.config('API_TOKEN') }] });
  audit.log('used ' + apiKey);
  await connectors.fetch.get({ url: data.echo + '/?code=' + code + '&key=' + apiKey, timeoutMs: pin, into: 'reply' });
  data.shown = true;
};
`,
  'steps/throws.mjs': `
export const condition = { kind: 'throw', shown: true, reply: { $exists: true } };
export const content = async () => {
  throw new Error('the API refused key ' + data.$stash.apiKey + ' (code ' + data.$stash.code + ', pin ' + data.$stash.pin + ', token ' + task.config('API_TOKEN') + ')');
};
`,
  'steps/fetches.mjs': `
export const condition = { kind: 'fetch', shown: true, reply: { $exists: true } };
export const content = async () => {
  await connectors.fetch({ url: data.closed + '/v1/items?key=' + data.$stash.apiKey + '&code=' + data.$stash.code });
};
`,
  // The same failure in a deferred call: its own activity, which has only the secrets the step sealed for it.
  'steps/defers.mjs': `
export const condition = { kind: 'defer', shown: true, reply: { $exists: true } };
export const content = async () => {
  await connectors.fetch.get({ url: data.closed + '/v2/items?key=' + data.$stash.apiKey + '&code=' + data.$stash.code, into: 'items' });
};
`,
};

beforeAll(async () => {
  await echo.start();
  closedUrl = `http://127.0.0.1:${await closedPort()}`;
  const dir = await workspace({
    'whenflow.yaml': [
      'defaults:',
      '  retry: { maximumAttempts: 1 }',
      'secrets:',
      '  keys:',
      `    - { id: new, key: "${NEW_KEY.toString('base64')}" }`,
      `    - { id: old, key: "${OLD_KEY.toString('base64')}" }`,
      '  config: [API_TOKEN]',
      'connectors:',
      '  fetch: { retry: { maximumAttempts: 1 } }',
      'config:',
      `  API_TOKEN: ${CONFIG_TOKEN}`,
      '  CHANNEL: "#ops"',
      '',
    ].join('\n'),
    ...STEPS,
  });
  tracing = createTracing({ spanProcessor: new SimpleSpanProcessor(exporter), serviceName: 'whenflow-secrets' });
  // The worker runs in this process: its log lines (failed attempts, the SDK's own) go to this stderr.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderrLines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return (writeStderr as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  harness = await startHarness(dir, { tracing });
});

afterAll(async () => {
  await harness?.close();
  process.stderr.write = writeStderr;
  await tracing?.shutdown();
  await echo.stop();
});

async function runSecretTask(kind: 'throw' | 'fetch' | 'defer'): Promise<string> {
  const handle = await startTask(harness.client, {
    name: `secrets ${kind}`,
    data: { kind, echo: echo.url, closed: closedUrl, $stash: { apiKey: API_KEY, pin: PIN, code: CODE } },
    taskQueue: harness.taskQueue,
    // Sealed with the old key, as a task parked before the rotation: the worker opens it with its second key.
    stashKey: [{ id: 'old', key: OLD_KEY }],
  });
  const done = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 60_000 });
  expect(done.state).toBe('error');
  return handle.workflowId;
}

/** Everything about a task that leaves the worker: history (raw and decoded), snapshot, events, spans, log lines. */
async function everythingAbout(taskId: string): Promise<Record<string, string>> {
  const history = await historyText(harness.client, taskId);
  const events: TaskEvent[] = [];
  for await (const event of taskEvents(harness.client, taskId)) events.push(event);
  const spans = exporter
    .getFinishedSpans()
    .map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status }));
  return {
    history: history.raw,
    'history payloads': history.decoded,
    'task snapshot': JSON.stringify(await getTask(harness.client, taskId)),
    'event stream': JSON.stringify(events),
    spans: JSON.stringify(spans),
    'worker stderr': stderrLines.join(''),
  };
}

function expectNoSecrets(where: Record<string, string>): void {
  for (const [place, text] of Object.entries(where)) {
    expect(text, `${place} holds the API key`).not.toContain(API_KEY);
    expect(text, `${place} holds the config token`).not.toContain(CONFIG_TOKEN);
    expect(text, `${place} holds the numeric secret`).not.toMatch(new RegExp(`(?<![0-9])${PIN}(?![0-9])`));
    expect(text, `${place} holds the 3-character secret`).not.toMatch(new RegExp(`(?<![A-Za-z0-9_])${CODE}(?![A-Za-z0-9_])`));
  }
}

describe('secrets never leave in plaintext', () => {
  it('a step that throws with the key in its message: history, snapshot, events, log lines and spans hold it masked', async () => {
    const taskId = await runSecretTask('throw');
    const task = await getTask(harness.client, taskId);
    expect(task.error?.step).toBe('throws');
    expect(task.error?.message).toBe('the API refused key ‹secret› (code ‹secret›, pin ‹secret›, token ‹secret›)');
    // The step before it logged, visualized and deferred a call with every secret: all masked or sealed.
    const shows = task.trace.find((entry) => entry.step === 'shows')!;
    expect(shows.logs.map((log) => log.message)).toEqual([
      'token ‹secret› key ‹secret› pin ‹secret› code ‹secret›',
      'table creds',
      'used ‹secret›',
    ]);
    expect(shows.logs[1]!.visual).toEqual({
      type: 'table',
      name: 'creds',
      data: [{ apiKey: '‹secret›', pin: '‹secret›', code: '‹secret›', token: '‹secret›' }],
    });
    // The echoed URL came back into the data masked; the numeric timeout went into history sealed.
    expect((task.data.reply as { body: { asked: string } }).body.asked).toBe('/?code=‹secret›&key=‹secret›');
    const stash = task.data.$stash as Record<string, unknown>;
    expect(Object.values(stash).every(isSealed)).toBe(true);
    expect(sealedType(stash.pin)).toBe('number');
    const where = await everythingAbout(taskId);
    expect(where['history payloads']).toContain('whenflow:sealed:v2:number:new:');
    expect(where['worker stderr']).toContain(`task ${taskId} step throws attempt 1 failed`);
    expect(where.spans).toContain('the API refused key ‹secret›');
    expectNoSecrets(where);
  });

  it('the built-in fetch failing on a URL that carries the key: history, snapshot, events, log lines and spans hold it masked', async () => {
    const taskId = await runSecretTask('fetch');
    const task = await getTask(harness.client, taskId);
    expect(task.error?.step).toBe('fetches');
    expect(task.error?.message).toContain(`GET ${closedUrl}/v1/items?key=‹secret›&code=‹secret› failed`);
    const where = await everythingAbout(taskId);
    expect(where.spans).toContain('connector fetch.fetch');
    expect(where.spans).toContain('/v1/items?key=‹secret›&code=‹secret›');
    expect(where['worker stderr']).toContain(`task ${taskId} step fetches attempt 1 failed`);
    expectNoSecrets(where);
  });

  it('a deferred fetch failing on a URL that carries the key: its failure is masked everywhere too', async () => {
    const taskId = await runSecretTask('defer');
    const task = await getTask(harness.client, taskId);
    expect(task.error?.message).toContain(`GET ${closedUrl}/v2/items?key=‹secret›&code=‹secret› failed`);
    const where = await everythingAbout(taskId);
    expect(where['worker stderr']).toContain(`task ${taskId} connectors.fetch.get (into items, from step defers) attempt 1 failed`);
    expectNoSecrets(where);
  });

  it('a sealed value copied from one task into another under another key name does not open there', async () => {
    const source = await runSecretTask('throw');
    const sealed = ((await getTask(harness.client, source)).data.$stash as Record<string, string>).apiKey!;
    const handle = await startTask(harness.client, {
      name: 'copied secret',
      data: { kind: 'copy', $stash: { stolen: sealed } },
      taskQueue: harness.taskQueue,
    });
    const task = await waitForTask(harness.client, handle.workflowId, { timeoutMs: 60_000 });
    expect(task.state).toBe('error');
    expect(task.error?.message).toContain('data.$stash.stolen: cannot decrypt sealed value');
    expect(task.error?.message).toContain('sealed for another place');
    expectNoSecrets(await everythingAbout(handle.workflowId));
  });
});
