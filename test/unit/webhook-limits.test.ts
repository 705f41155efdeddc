/** The webhook receiver's limits, against the real receiver over HTTP on 127.0.0.1. */
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookServerLimits, parseWebhooks, WEBHOOK_SERVER_DEFAULTS } from '../../src/webhooks/config';
import { startWebhookServer, type WebhookServer, type WebhookTask } from '../../src/webhooks/server';
import { loadWorkspaceConfig } from '../../src/workspace/config';

const SECRET = 'limits-secret-0123456789';
const started: WebhookTask[] = [];
let server: WebhookServer;

beforeAll(async () => {
  const { hooks } = parseWebhooks({ orders: { secret: SECRET } });
  server = await startWebhookServer({
    hooks,
    start: async (task) => {
      started.push(task);
      return { taskId: `task-${started.length}` };
    },
    limits: { maxDepth: 64, headersTimeoutMs: 400, bodyTimeoutMs: 600, maxConnections: 3 },
    log: () => {},
  });
});

afterAll(() => server?.close());

const post = (body: string) =>
  fetch(`${server.url}/hooks/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-whenflow-token': SECRET },
    body,
  });

/** A raw connection; resolves with everything the server sent once it closes the connection. */
function rawConnection(): Promise<{ socket: Socket; closed: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    const closed = new Promise<string>((done) => socket.on('close', () => done(Buffer.concat(chunks).toString('utf8'))));
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('webhook body shape', () => {
  it('a body nested 1,300 levels deep is refused with 400, naming the limit and where', async () => {
    const deep = `{"a":${'['.repeat(1300)}${']'.repeat(1300)}}`;
    const response = await post(deep);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; path: string };
    expect(body.error).toContain('deeper than 64 levels');
    expect(body.path).toBe(`a${'[0]'.repeat(63)}`);
    expect(started).toHaveLength(0);
  });

  it.each([
    ['{"__proto__":{"admin":true}}', '__proto__', '__proto__'],
    ['{"order":{"items":[{"sku":"a"},{"constructor":{"prototype":1}}]}}', 'constructor', 'order.items[1].constructor'],
    ['{"a":{"prototype":null}}', 'prototype', 'a.prototype'],
  ])('%s is refused with 400 naming the key %s at %s', async (text, key, path) => {
    const response = await post(text);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; path: string };
    expect(body.error).toContain(`"${key}"`);
    expect(body.path).toBe(path);
    expect(body.error).toContain(path);
    expect(started).toHaveLength(0);
  });

  it('a body within the limits starts its task', async () => {
    const response = await post(JSON.stringify({ order: { items: [{ sku: 'a', proto: 1 }] } }));
    expect(response.status).toBe(202);
    expect(started.at(-1)?.data.order).toEqual({ items: [{ sku: 'a', proto: 1 }] });
  });
});

describe('slow requests and connections', () => {
  it('a body that stops arriving is answered 408 and the connection closed', async () => {
    const { socket, closed } = await rawConnection();
    socket.write(
      `POST /hooks/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Whenflow-Token: ${SECRET}\r\nContent-Length: 100\r\n\r\n{"a":`,
    );
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('bodyTimeout');
  });

  it('headers that stop arriving end the connection', async () => {
    const { socket, closed } = await rawConnection();
    socket.write('POST /hooks/orders HTTP/1.1\r\nHost: x\r\n');
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 |^$/);
  });

  it('connections past maxConnections are closed on arrival; the receiver serves again once they go', async () => {
    const held = await Promise.all([rawConnection(), rawConnection(), rawConnection()]);
    for (const { socket } of held) socket.write('POST /hooks/orders HTTP/1.1\r\n');
    const extra = await rawConnection();
    expect(await extra.closed).toBe('');
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    const response = await post('{"after":true}');
    expect(response.status).toBe(202);
  });
});

describe('webhookServer: in whenflow.yaml', () => {
  it('has sound defaults and reads durations and numbers', () => {
    expect(parseWebhookServerLimits(null)).toEqual({ limits: WEBHOOK_SERVER_DEFAULTS, problems: [] });
    expect(parseWebhookServerLimits({ maxDepth: 10, headersTimeout: '5s', bodyTimeout: 20000, maxConnections: 8 }).limits).toEqual({
      maxDepth: 10,
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 20000,
      maxConnections: 8,
    });
  });

  it('reports bad settings at their path', async () => {
    const { problems } = parseWebhookServerLimits({ maxDepth: 0, bodyTimeout: 'soon', maxConns: 3 });
    expect(problems.map((p) => p.path).sort()).toEqual(['webhookServer.bodyTimeout', 'webhookServer.maxConns', 'webhookServer.maxDepth']);
    const dir = await mkdtemp(join(tmpdir(), 'whenflow-webhook-limits-'));
    try {
      await writeFile(join(dir, 'whenflow.yaml'), 'webhookServer:\n  maxConnections: 4\n');
      const { config, problems: fileProblems } = await loadWorkspaceConfig(dir);
      expect(fileProblems).toEqual([]);
      expect(parseWebhookServerLimits(config.webhookServer).limits.maxConnections).toBe(4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
