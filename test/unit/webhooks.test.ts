import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TaskInputError } from '../../src/client';
import type { JsonObject, JsonValue } from '../../src/model/json';
import { parseWebhooks, WEBHOOK_DEFAULT_MAX_BYTES, type WebhookDefinition } from '../../src/webhooks/config';
import { startWebhookServer, type WebhookServer, type WebhookTask } from '../../src/webhooks/server';
import { loadWorkspaceConfig } from '../../src/workspace/config';

const TOKEN_SECRET = 'token-secret-0123456789';
const HMAC_SECRET = 'hmac-secret-abcdefghijk';
const TINY_LIMIT = 64;
const RECEIVED = new Date('2031-02-03T04:05:06.789Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------------
// Configuration

describe('parseWebhooks', () => {
  it('applies the defaults and keeps what is written', () => {
    const { hooks, problems } = parseWebhooks({
      plain: { secret: TOKEN_SECRET },
      orders: { secret: HMAC_SECRET, auth: 'hmac', taskName: 'order from shop', tags: ['shop', 'eu'], maxBytes: 2048 },
    });
    expect(problems).toEqual([]);
    expect(hooks.get('plain')).toEqual({
      name: 'plain',
      secret: TOKEN_SECRET,
      auth: 'token',
      taskName: 'plain',
      tags: [],
      maxBytes: 1024 * 1024,
      idempotencyKey: null,
      toleranceMs: 300_000,
      signatureHeader: 'Stripe-Signature',
    });
    expect(hooks.get('orders')).toEqual({
      name: 'orders',
      secret: HMAC_SECRET,
      auth: 'hmac',
      taskName: 'order from shop',
      tags: ['shop', 'eu'],
      maxBytes: 2048,
      idempotencyKey: null,
      toleranceMs: 300_000,
      signatureHeader: 'Stripe-Signature',
    });
    expect([...hooks.keys()]).toEqual(['plain', 'orders']);
  });

  it('treats no section, an empty section and empty values (YAML null) as absent', () => {
    expect(parseWebhooks(null)).toEqual({ hooks: new Map(), problems: [] });
    expect(parseWebhooks({})).toEqual({ hooks: new Map(), problems: [] });
    const { hooks, problems } = parseWebhooks({ a: { secret: TOKEN_SECRET, auth: null, taskName: null, tags: null, maxBytes: null } });
    expect(problems).toEqual([]);
    expect(hooks.get('a')).toMatchObject({ auth: 'token', taskName: 'a', tags: [], maxBytes: WEBHOOK_DEFAULT_MAX_BYTES });
  });

  it('requires a secret', () => {
    for (const value of [{ auth: 'token' }, null, { secret: null }] as JsonValue[]) {
      const { hooks, problems } = parseWebhooks({ orders: value });
      expect(hooks.size).toBe(0);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.path).toBe('webhooks.orders.secret');
      expect(problems[0]!.message).toMatch(/^is required/);
    }
  });

  it('requires at least 16 characters of secret, and never repeats it', () => {
    const short = 'fifteen-chars-x';
    expect(short).toHaveLength(15);
    const { hooks, problems } = parseWebhooks({ orders: { secret: short } });
    expect(hooks.size).toBe(0);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('webhooks.orders.secret');
    expect(problems[0]!.message).toMatch(/at least 16 characters/);
    expect(problems[0]!.message).not.toContain(short);
    expect(parseWebhooks({ orders: { secret: `${short}y` } }).problems).toEqual([]);
    // biome-ignore lint/correctness/noPrecisionLoss: any number is refused; this one only has to be long
    expect(parseWebhooks({ orders: { secret: 12345678901234567890 } }).problems).toEqual([
      { path: 'webhooks.orders.secret', message: 'must be a string' },
    ]);
  });

  it('refuses a token secret that cannot travel as a header value, but allows it for hmac', () => {
    const odd = ' spaced secret 0123456789 ';
    const token = parseWebhooks({ orders: { secret: odd } });
    expect(token.problems.map((p) => p.path)).toEqual(['webhooks.orders.secret']);
    expect(token.problems[0]!.message).not.toContain(odd.trim());
    expect(parseWebhooks({ orders: { secret: odd, auth: 'hmac' } }).problems).toEqual([]);
  });

  it('accepts only "token", "hmac", "github" and "stripe" as auth', () => {
    const { hooks, problems } = parseWebhooks({ orders: { secret: TOKEN_SECRET, auth: 'basic' } });
    expect(hooks.size).toBe(0);
    expect(problems).toEqual([{ path: 'webhooks.orders.auth', message: 'must be "token" or "hmac" or "github" or "stripe"' }]);
  });

  it('accepts any printable name (spaces too), refuses control characters, and keeps the good hooks', () => {
    const { hooks, problems } = parseWebhooks({
      'aloma ui feedback': { secret: TOKEN_SECRET },
      'a/b': { secret: TOKEN_SECRET },
      'bad\nname': { secret: TOKEN_SECRET },
    });
    expect(problems.map((p) => p.path)).toEqual(['webhooks["bad\\nname"]']);
    expect(problems[0]!.message).toMatch(/printable characters/);
    expect([...hooks.keys()]).toEqual(['aloma ui feedback', 'a/b']);
  });

  it('reads idempotency keys, the stripe tolerance and signature header, and refuses them where they do not apply', () => {
    const { hooks, problems } = parseWebhooks({
      gh: { secret: HMAC_SECRET, auth: 'github', idempotencyKey: { header: 'X-GitHub-Delivery' } },
      pay: { secret: HMAC_SECRET, auth: 'stripe', idempotencyKey: { path: 'id' }, tolerance: '2m', signatureHeader: 'Acme-Signature' },
    });
    expect(problems).toEqual([]);
    expect(hooks.get('gh')).toMatchObject({ auth: 'github', idempotencyKey: { header: 'X-GitHub-Delivery' } });
    expect(hooks.get('pay')).toMatchObject({
      auth: 'stripe',
      idempotencyKey: { path: 'id' },
      toleranceMs: 120_000,
      signatureHeader: 'Acme-Signature',
    });
    expect(parseWebhooks({ x: { secret: HMAC_SECRET, idempotencyKey: { cookie: 'x' } } }).problems.map((p) => p.path)).toEqual([
      'webhooks.x.idempotencyKey',
    ]);
    expect(parseWebhooks({ x: { secret: HMAC_SECRET, auth: 'github', tolerance: '2m' } }).problems).toEqual([
      { path: 'webhooks.x.tolerance', message: 'applies to auth "stripe" only' },
    ]);
    expect(parseWebhooks({ x: { secret: HMAC_SECRET, auth: 'stripe', tolerance: 'soon' } }).problems.map((p) => p.path)).toEqual([
      'webhooks.x.tolerance',
    ]);
  });

  it('reports every unknown key with the allowed ones', () => {
    const { hooks, problems } = parseWebhooks({ orders: { secret: TOKEN_SECRET, token: 'x', path: '/x' } });
    expect(hooks.size).toBe(0);
    expect(problems).toEqual([
      {
        path: 'webhooks.orders.token',
        message: 'unknown key "token" (allowed: secret, auth, taskName, tags, maxBytes, idempotencyKey, tolerance, signatureHeader)',
      },
      {
        path: 'webhooks.orders.path',
        message: 'unknown key "path" (allowed: secret, auth, taskName, tags, maxBytes, idempotencyKey, tolerance, signatureHeader)',
      },
    ]);
  });

  it('reports bad values of the optional keys, each at its path', () => {
    const { problems } = parseWebhooks({ orders: { secret: TOKEN_SECRET, taskName: '', tags: ['ok', ''], maxBytes: 0 } });
    expect(problems.map((p) => p.path)).toEqual(['webhooks.orders.taskName', 'webhooks.orders.tags[1]', 'webhooks.orders.maxBytes']);
    const substituted = parseWebhooks({ orders: { secret: TOKEN_SECRET, maxBytes: '4096' } }).problems;
    expect(substituted).toHaveLength(1);
    expect(substituted[0]!.message).toMatch(/always a string/);
  });

  it('reports a section or a hook that is not a mapping', () => {
    expect(parseWebhooks(['orders']).problems).toEqual([
      { path: 'webhooks', message: 'must be a mapping of webhook names to their settings, not a list' },
    ]);
    expect(parseWebhooks({ orders: 'secret' }).problems.map((p) => p.path)).toEqual(['webhooks.orders']);
  });

  it('reads the section of a real whenflow.yaml, with the secret from the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whenflow-webhooks-'));
    try {
      await mkdir(join(dir, 'steps'));
      await writeFile(
        join(dir, 'whenflow.yaml'),
        [
          'webhooks:',
          '  orders:',
          '    secret: ${ORDERS_HOOK_SECRET}',
          '    auth: hmac',
          '    taskName: "order from shop"',
          '    tags: [shop]',
          '',
        ].join('\n'),
      );
      const loaded = await loadWorkspaceConfig(dir, { ORDERS_HOOK_SECRET: HMAC_SECRET });
      expect(loaded.problems).toEqual([]);
      const { hooks, problems } = parseWebhooks(loaded.config.webhooks);
      expect(problems).toEqual([]);
      expect(hooks.get('orders')).toEqual({
        name: 'orders',
        secret: HMAC_SECRET,
        auth: 'hmac',
        taskName: 'order from shop',
        tags: ['shop'],
        maxBytes: WEBHOOK_DEFAULT_MAX_BYTES,
        idempotencyKey: null,
        toleranceMs: 300_000,
        signatureHeader: 'Stripe-Signature',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// The server, over real HTTP

type Start = (task: WebhookTask) => Promise<{ taskId: string }>;

let server: WebhookServer;
let calls: WebhookTask[];
let logLines: string[];
let startImpl: Start;
let counter = 0;
const recordingStart: Start = async () => ({ taskId: `task-${++counter}` });

function hooksFor(): Map<string, WebhookDefinition> {
  const { hooks, problems } = parseWebhooks({
    orders: { secret: TOKEN_SECRET, taskName: 'order from shop', tags: ['shop'] },
    signed: { secret: HMAC_SECRET, auth: 'hmac' },
    tiny: { secret: TOKEN_SECRET, maxBytes: TINY_LIMIT },
  });
  expect(problems).toEqual([]);
  return hooks;
}

beforeAll(async () => {
  server = await startWebhookServer({
    hooks: hooksFor(),
    start: (task) => {
      calls.push(structuredClone(task));
      return startImpl(task);
    },
    port: 0,
    now: () => RECEIVED,
    log: (line) => logLines.push(line),
  });
});

afterAll(async () => {
  await server?.close();
});

beforeEach(() => {
  calls = [];
  logLines = [];
  startImpl = recordingStart;
});

const json = { 'content-type': 'application/json' };
const token = (secret = TOKEN_SECRET) => ({ 'x-whenflow-token': secret });
const sign = (body: string | Buffer, secret = HMAC_SECRET) => ({
  'x-whenflow-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
});

async function post(path: string, body: RequestInit['body'], headers: Record<string, string>, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers, ...init });
  const text = await response.text();
  expect(response.headers.get('content-type')).toBe('application/json');
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as JsonObject & { error?: string } };
}

describe('the webhook server', () => {
  it('listens on 127.0.0.1 and a free port by default', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('starts a task from a token-authenticated JSON object, with $via, and answers 202', async () => {
    const order = { order: { id: 17, items: ['tea'] }, note: 'ünïcode' };
    const res = await post('/hooks/orders', JSON.stringify(order), { ...json, ...token() });
    expect(res.status).toBe(202);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(res.body).toEqual({ taskId: `task-${counter}`, via: { id: expect.stringMatching(UUID) } });
    const viaId = (res.body.via as { id: string }).id;
    expect(call.name).toBe('order from shop');
    expect(call.tags).toEqual(['shop']);
    expect(call.data).toEqual({
      ...order,
      $via: { id: viaId, name: 'orders', type: 'webhook', received: RECEIVED.getTime(), receivedAt: RECEIVED.toISOString() },
    });
    expect(logLines.some((l) => l.includes('202') && l.includes(viaId))).toBe(true);
  });

  it('gives every request its own $via id', async () => {
    const a = await post('/hooks/orders', '{}', { ...json, ...token() });
    const b = await post('/hooks/orders', '{}', { ...json, ...token() });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect((a.body.via as { id: string }).id).not.toBe((b.body.via as { id: string }).id);
    expect(a.body.taskId).not.toBe(b.body.taskId);
  });

  it('replaces a $via sent in the body (provenance belongs to the engine)', async () => {
    const res = await post('/hooks/orders', JSON.stringify({ x: 1, $via: { type: 'email', name: 'forged', extra: true } }), {
      ...json,
      ...token(),
    });
    expect(res.status).toBe(202);
    expect(calls[0]!.data).toEqual({
      x: 1,
      $via: {
        id: (res.body.via as { id: string }).id,
        name: 'orders',
        type: 'webhook',
        received: RECEIVED.getTime(),
        receivedAt: RECEIVED.toISOString(),
      },
    });
  });

  it('accepts an HMAC-signed body; the task name defaults to the hook name', async () => {
    const body = JSON.stringify({ payment: { status: 'paid' } });
    const res = await post('/hooks/signed', body, { ...json, ...sign(body) });
    expect(res.status).toBe(202);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.name).toBe('signed');
    expect(calls[0]!.tags).toEqual([]);
    expect(calls[0]!.data).toMatchObject({ payment: { status: 'paid' }, $via: { name: 'signed', type: 'webhook' } });
    // Upper-case hex is the same signature.
    const upper = {
      'x-whenflow-signature': sign(body)['x-whenflow-signature'].replace(/=(.*)$/, (_, hex: string) => `=${hex.toUpperCase()}`),
    };
    expect((await post('/hooks/signed', body, { ...json, ...upper })).status).toBe(202);
  });

  it('refuses a missing or wrong token with 401 naming the header, never echoing the secret', async () => {
    const missing = await post('/hooks/orders', '{"a":1}', json);
    const wrong = await post('/hooks/orders', '{"a":1}', { ...json, ...token('not-the-secret-at-all') });
    const longer = await post('/hooks/orders', '{"a":1}', { ...json, ...token(`${TOKEN_SECRET}x`) });
    const prefix = await post('/hooks/orders', '{"a":1}', { ...json, ...token(TOKEN_SECRET.slice(0, -1)) });
    for (const res of [missing, wrong, longer, prefix]) {
      expect(res.status).toBe(401);
      expect(res.body.error).toContain('X-Whenflow-Token');
      expect(JSON.stringify(res.body)).not.toContain(TOKEN_SECRET.slice(0, 8));
    }
    expect(missing.body.error).toMatch(/^missing X-Whenflow-Token header/);
    expect(wrong.body.error).toBe("X-Whenflow-Token does not match this webhook's secret");
    expect(calls).toEqual([]);
    expect(logLines.join('\n')).not.toContain(TOKEN_SECRET);
  });

  it('checks the token before looking at the body', async () => {
    const res = await post('/hooks/orders', '{not json', { ...json, ...token('wrong-wrong-wrong-wrong') });
    expect(res.status).toBe(401);
    const unsupported = await post('/hooks/orders', 'hello', { 'content-type': 'text/plain' });
    expect(unsupported.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('refuses a wrong, missing or malformed HMAC signature with 401', async () => {
    const body = JSON.stringify({ amount: 100 });
    const tampered = JSON.stringify({ amount: 1000 });
    const wrongBody = await post('/hooks/signed', tampered, { ...json, ...sign(body) });
    const wrongKey = await post('/hooks/signed', body, { ...json, ...sign(body, 'another-secret-0123456789') });
    const missing = await post('/hooks/signed', body, json);
    const tokenInstead = await post('/hooks/signed', body, { ...json, ...token(HMAC_SECRET) });
    const malformed = await post('/hooks/signed', body, { ...json, 'x-whenflow-signature': 'sha1=abcdef' });
    for (const res of [wrongBody, wrongKey, missing, tokenInstead, malformed]) {
      expect(res.status).toBe(401);
      expect(res.body.error).toContain('X-Whenflow-Signature');
      expect(res.body.error).toContain('sha256=');
      expect(JSON.stringify(res.body)).not.toContain(HMAC_SECRET.slice(0, 8));
    }
    expect(wrongBody.body.error).toMatch(/^X-Whenflow-Signature does not match the request body/);
    expect(malformed.body.error).toMatch(/^malformed X-Whenflow-Signature/);
    expect(calls).toEqual([]);
  });

  it('verifies the signature before parsing the body', async () => {
    const res = await post('/hooks/signed', '{not json', { ...json, ...sign('{"other":1}') });
    expect(res.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('takes a body of exactly maxBytes and refuses one byte more with 413 (declared Content-Length)', async () => {
    const fits = JSON.stringify({ pad: 'x'.repeat(TINY_LIMIT - 10) });
    expect(Buffer.byteLength(fits)).toBe(TINY_LIMIT);
    expect((await post('/hooks/tiny', fits, { ...json, ...token() })).status).toBe(202);
    const over = JSON.stringify({ pad: 'x'.repeat(TINY_LIMIT - 9) });
    const res = await post('/hooks/tiny', over, { ...json, ...token() });
    expect(res.status).toBe(413);
    expect(res.body.error).toContain(`${TINY_LIMIT} bytes`);
    expect(res.headers.get('connection')).toBe('close');
    expect(calls).toHaveLength(1);
  });

  it('refuses a declared body over the default 1 MiB limit', async () => {
    const big = Buffer.alloc(WEBHOOK_DEFAULT_MAX_BYTES + 1, 0x20);
    const res = await post('/hooks/orders', big, { ...json, ...token() });
    expect(res.status).toBe(413);
    expect(calls).toEqual([]);
    // The server is still there for the next caller.
    expect((await post('/hooks/orders', '{}', { ...json, ...token() })).status).toBe(202);
  });

  it('answers 413 on the declared Content-Length alone, without waiting for the body', async () => {
    // fetch cannot send fewer bytes than it declares; node:http can. Only 2 of 2,000,000 bytes ever arrive.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${server.url}/hooks/orders`,
        { method: 'POST', headers: { ...json, ...token(), 'content-length': '2000000' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{}');
    });
    expect(status).toBe(413);
    expect(calls).toEqual([]);
  });

  it('stops reading a streamed (chunked) body as soon as it passes maxBytes', async () => {
    let pulled = 0;
    // Never ends: only a server that stops reading at the limit can answer.
    const endless = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        pulled += 16;
        controller.enqueue(new TextEncoder().encode(pulled === 16 ? '{"pad":"xxxxxxx' : 'xxxxxxxxxxxxxxxx'));
      },
    });
    const res = await post('/hooks/tiny', endless, { ...json, ...token() }, { duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.body.error).toContain(`${TINY_LIMIT} bytes`);
    expect(calls).toEqual([]);
    expect(pulled).toBeLessThan(64 * 1024);
  });

  it('takes a streamed (chunked) body under the limit', async () => {
    const parts = ['{"stream', 'ed":', 'true}'];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift();
        if (part === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(part));
      },
    });
    const res = await post('/hooks/tiny', stream, { ...json, ...token() }, { duplex: 'half' } as RequestInit);
    expect(res.status).toBe(202);
    expect(calls[0]!.data.streamed).toBe(true);
  });

  it('answers bad JSON with 400 and the parser message', async () => {
    const text = '{"a": 1,}';
    let parserMessage = '';
    try {
      JSON.parse(text);
    } catch (error) {
      parserMessage = (error as Error).message;
    }
    expect(parserMessage).not.toBe('');
    const res = await post('/hooks/orders', text, { ...json, ...token() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(`request body is not valid JSON: ${parserMessage}`);
    const empty = await post('/hooks/orders', '', { ...json, ...token() });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatch(/^request body is not valid JSON: /);
    expect(calls).toEqual([]);
  });

  it('answers bytes that are not UTF-8 with 400', async () => {
    const res = await post('/hooks/orders', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), { ...json, ...token() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('request body is not valid UTF-8');
    expect(calls).toEqual([]);
  });

  it.each([
    ['[1,2]', 'an array'],
    ['null', 'null'],
    ['"text"', 'a string'],
    ['42', 'a number'],
  ])('answers the JSON %s with 400 naming its type', async (body, kind) => {
    const res = await post('/hooks/orders', body, { ...json, ...token() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(`request body must be a JSON object, not ${kind}`);
    expect(calls).toEqual([]);
  });

  it('answers a body that is not declared JSON with 415', async () => {
    for (const headers of [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'application/json; charset=iso-8859-1' },
    ]) {
      const res = await post('/hooks/orders', '{"a":1}', { ...headers, ...token() });
      expect(res.status).toBe(415);
      expect(res.body.error).toMatch(/JSON/);
    }
    // fetch sends a Blob without a type with no Content-Type at all.
    const missing = await post('/hooks/orders', new Blob(['{"a":1}']), token());
    expect(missing.status).toBe(415);
    expect(missing.body.error).toMatch(/^missing Content-Type/);
    expect(calls).toEqual([]);
    const vendor = await post('/hooks/orders', '{"a":1}', {
      'content-type': 'Application/Vnd.Shop.Order+JSON; charset="UTF-8"',
      ...token(),
    });
    expect(vendor.status).toBe(202);
  });

  it('answers an unknown hook with 404 and the known names', async () => {
    const res = await post('/hooks/nope', '{}', { ...json, ...token() });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'unknown webhook "nope"', known: ['orders', 'signed', 'tiny'] });
    expect(calls).toEqual([]);
  });

  it('answers other paths with 404', async () => {
    for (const path of ['/', '/hooks', '/hooks/', '/hooks/orders/extra', '/orders']) {
      const res = await post(path, '{}', { ...json, ...token() });
      expect(res.status, path).toBe(404);
      expect(res.body.known).toBeUndefined();
    }
    expect(calls).toEqual([]);
  });

  it('answers other methods on a hook with 405 and Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(`${server.url}/hooks/orders`, { method, headers: token() });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(((await response.json()) as { error: string }).error).toContain(method);
    }
    expect(calls).toEqual([]);
  });

  it('answers 502 when the task cannot be started, logs why, and keeps serving', async () => {
    startImpl = async () => {
      throw new Error('connection refused by temporal:7233');
    };
    const res = await post('/hooks/orders', '{"a":1}', { ...json, ...token() });
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'could not start the task: connection refused by temporal:7233' });
    expect(logLines.some((l) => l.includes('502') && l.includes('connection refused by temporal:7233'))).toBe(true);
    expect(calls).toHaveLength(1);

    startImpl = recordingStart;
    const next = await post('/hooks/orders', '{"a":2}', { ...json, ...token() });
    expect(next.status).toBe(202);
    expect(calls).toHaveLength(2);
  });

  it('answers 400 when the task input is refused (TaskInputError)', async () => {
    startImpl = async () => {
      throw new TaskInputError([{ path: 'data.$stash', message: 'no stash key is configured' }]);
    };
    const res = await post('/hooks/orders', '{"$stash":{"card":"4111"}}', { ...json, ...token() });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid task: data.$stash: no stash key is configured',
      issues: [{ path: 'data.$stash', message: 'no stash key is configured' }],
    });
  });

  it('closes and stops answering', async () => {
    const other = await startWebhookServer({ hooks: hooksFor(), start: recordingStart, log: () => {} });
    const warm = await fetch(`${other.url}/hooks/orders`, { method: 'POST', body: '{}', headers: { ...json, ...token() } });
    expect(warm.status).toBe(202);
    await warm.text();
    await other.close();
    await expect(fetch(`${other.url}/hooks/orders`, { method: 'POST', body: '{}', headers: { ...json, ...token() } })).rejects.toThrow();
  });
});
