import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutsideStepError, runInStepScope } from '../../src/runtime/globals';
import {
  BUILTIN_CONNECTORS,
  ConnectorError,
  ConnectorRegistry,
  createConnectorsProxy,
  HttpError,
  HttpTimeoutError,
  loadConnectors,
  type Connector,
  type ConnectorContext,
  type DeferredConnectorCall,
} from '../../src/connectors';

// ---------------------------------------------------------------------------------------------------
// Real local HTTP servers

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  requests: Recorded[];
  close: () => Promise<void>;
}

/** A server on 127.0.0.1 with an OS-chosen port that records every request. `handler` undefined: never answers. */
async function startServer(handler?: (req: Recorded, res: ServerResponse) => void): Promise<TestServer> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      handler?.(recorded, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}

function context(overrides: Partial<ConnectorContext> = {}): ConnectorContext {
  return { taskId: 't-1', step: 's', attempt: 1, idempotencyKey: 'key-1', signal: new AbortController().signal, options: {}, ...overrides };
}

const builtins = new ConnectorRegistry();

let api: TestServer;
let silent: TestServer;

beforeAll(async () => {
  api = await startServer((req, res) => {
    if (req.url === '/json') return send(res, 200, 'application/json; charset=utf-8', JSON.stringify({ hello: 'world', n: 1 }));
    if (req.url === '/echo')
      return send(
        res,
        200,
        'application/json',
        JSON.stringify({ method: req.method, contentType: req.headers['content-type'] ?? null, received: req.body }),
      );
    if (req.url === '/text') return send(res, 200, 'text/plain', '{"looks":"like json"}');
    if (req.url === '/bad-json') return send(res, 200, 'application/json', 'not json at all');
    if (req.url === '/missing') return send(res, 404, 'application/json', JSON.stringify({ error: 'no such thing' }));
    return send(res, 500, 'text/plain', 'unexpected path');
  });
  silent = await startServer(); // accepts connections, never answers
});

afterAll(async () => {
  await api.close();
  await silent.close();
});

// ---------------------------------------------------------------------------------------------------

describe('fetch connector (real HTTP)', () => {
  it('GET JSON: parsed body, status, lower-case headers, request headers sent', async () => {
    const before = api.requests.length;
    const result = await builtins.call('fetch', 'get', { url: `${api.url}/json`, headers: { 'X-Trace': 'abc' } }, context());
    expect(result).toMatchObject({ status: 200, ok: true, body: { hello: 'world', n: 1 } });
    expect((result as { headers: Record<string, string> }).headers['content-type']).toBe('application/json; charset=utf-8');
    const seen = api.requests[before]!;
    expect(seen.method).toBe('GET');
    expect(seen.headers['x-trace']).toBe('abc');
  });

  it('POST JSON: body is sent as JSON with content-type; request() takes any method, case-insensitively', async () => {
    const posted = (await builtins.call('fetch', 'post', { url: `${api.url}/echo`, json: { a: 1, b: [true, null] } }, context())) as {
      body: unknown;
    };
    expect(posted.body).toEqual({ method: 'POST', contentType: 'application/json', received: '{"a":1,"b":[true,null]}' });

    const put = (await builtins.call(
      'fetch',
      'request',
      { url: `${api.url}/echo`, method: 'put', body: 'raw', headers: { 'content-type': 'text/csv' } },
      context(),
    )) as { body: unknown };
    expect(put.body).toEqual({ method: 'PUT', contentType: 'text/csv', received: 'raw' });

    // An explicit content-type wins over the json default.
    const custom = (await builtins.call(
      'fetch',
      'post',
      { url: `${api.url}/echo`, json: [1], headers: { 'Content-Type': 'application/vnd.x+json' } },
      context(),
    )) as { body: unknown };
    expect(custom.body).toMatchObject({ contentType: 'application/vnd.x+json', received: '[1]' });
  });

  it('text responses: auto keeps text; responseType json parses it; text keeps JSON as text; json insists on JSON', async () => {
    const auto = (await builtins.call('fetch', 'get', { url: `${api.url}/text` }, context())) as { body: unknown };
    expect(auto.body).toBe('{"looks":"like json"}');
    const asJson = (await builtins.call('fetch', 'get', { url: `${api.url}/text`, responseType: 'json' }, context())) as { body: unknown };
    expect(asJson.body).toEqual({ looks: 'like json' });
    const asText = (await builtins.call('fetch', 'get', { url: `${api.url}/json`, responseType: 'text' }, context())) as { body: unknown };
    expect(asText.body).toBe('{"hello":"world","n":1}');
    // auto: a JSON content-type whose body does not parse comes back as text; json: an error naming the URL.
    const lenient = (await builtins.call('fetch', 'get', { url: `${api.url}/bad-json` }, context())) as { body: unknown };
    expect(lenient.body).toBe('not json at all');
    await expect(builtins.call('fetch', 'get', { url: `${api.url}/bad-json`, responseType: 'json' }, context())).rejects.toThrow(
      `GET ${api.url}/bad-json: response is not JSON`,
    );
  });

  it('non-2xx is returned with ok=false; throwOnError turns it into an HttpError', async () => {
    const result = await builtins.call('fetch', 'get', { url: `${api.url}/missing` }, context());
    expect(result).toMatchObject({ status: 404, ok: false, body: { error: 'no such thing' } });

    const error = await builtins
      .call('fetch', 'get', { url: `${api.url}/missing`, throwOnError: true }, context())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    const http = error as HttpError;
    expect(http.name).toBe('HttpError');
    expect(http.status).toBe(404);
    expect(http.bodyExcerpt).toBe('{"error":"no such thing"}');
    expect(http.message).toBe(`GET ${api.url}/missing → 404 Not Found: {"error":"no such thing"}`);
  });

  it('a server that never answers: times out after timeoutMs with the URL and the timeout in the message', async () => {
    const started = performance.now();
    const error = await builtins.call('fetch', 'get', { url: `${silent.url}/hang`, timeoutMs: 200 }, context()).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(HttpTimeoutError);
    expect((error as Error).message).toBe(`GET ${silent.url}/hang timed out after 200 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2000);
    expect(silent.requests.some((r) => r.url === '/hang')).toBe(true);
  });

  it('the context signal aborts a request in flight, rejecting with the signal reason; an aborted signal sends nothing', async () => {
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => controller.abort(reason), 50);
    const started = performance.now();
    // Default timeout is 30 s: only the abort can end this within the test timeout.
    await expect(builtins.call('fetch', 'get', { url: `${silent.url}/abort` }, context({ signal: controller.signal }))).rejects.toBe(
      reason,
    );
    expect(performance.now() - started).toBeLessThan(2000);

    const before = silent.requests.length + api.requests.length;
    await expect(builtins.call('fetch', 'get', { url: `${api.url}/json` }, context({ signal: controller.signal }))).rejects.toBe(reason);
    await new Promise((r) => setTimeout(r, 20));
    expect(silent.requests.length + api.requests.length).toBe(before);
  });

  it('a refused connection names the URL and the cause', async () => {
    const gone = await startServer();
    await gone.close();
    await expect(builtins.call('fetch', 'get', { url: `${gone.url}/x`, timeoutMs: 2000 }, context())).rejects.toThrow(
      new RegExp(`^GET ${gone.url}/x failed: .*ECONNREFUSED`),
    );
  });

  it('bad arguments: ConnectorError naming connector, method and field; nothing is sent', async () => {
    const before = api.requests.length;
    const cases: [method: string, args: unknown, field: string, text: string][] = [
      ['get', {}, 'url', 'bad argument `url`'],
      ['get', { url: 'ftp://example.com/x' }, 'url', 'must be an http(s) URL'],
      ['request', { url: `${api.url}/json`, timeoutMs: -5 }, 'timeoutMs', 'bad argument `timeoutMs`'],
      ['request', { url: `${api.url}/json`, method: 'FETCH' }, 'method', 'bad argument `method`'],
      ['get', { url: `${api.url}/json`, header: { a: 'b' } }, 'header', 'unknown argument `header`'],
      ['post', { url: `${api.url}/echo`, json: {}, body: 'x' }, 'json', 'either `body` or `json`'],
      ['request', { url: `${api.url}/echo`, json: { a: 1 } }, 'json', 'a GET request cannot have a body'],
      ['get', { url: `${api.url}/json`, responseType: 'xml' }, 'responseType', 'bad argument `responseType`'],
    ];
    for (const [method, args, field, text] of cases) {
      const error = await builtins.call('fetch', method, args, context()).catch((e: unknown) => e);
      expect(error, `${method} ${JSON.stringify(args)}`).toBeInstanceOf(ConnectorError);
      const ce = error as ConnectorError;
      expect([ce.name, ce.connector, ce.method, ce.field]).toEqual(['ConnectorError', 'fetch', method, field]);
      expect(ce.message).toContain(`connectors.fetch.${method}: `);
      expect(ce.message).toContain(text);
    }
    expect(api.requests.length).toBe(before);
  });
});

describe('utils connector', () => {
  it('sleep waits, resolves to null, and is aborted by the signal with its reason', async () => {
    let started = performance.now();
    await expect(builtins.call('utils', 'sleep', { ms: 60 }, context())).resolves.toBeNull();
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);

    const controller = new AbortController();
    const reason = new Error('stop sleeping');
    setTimeout(() => controller.abort(reason), 30);
    started = performance.now();
    await expect(builtins.call('utils', 'sleep', { ms: 10_000 }, context({ signal: controller.signal }))).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);

    await expect(builtins.call('utils', 'sleep', { ms: 10 }, context({ signal: controller.signal }))).rejects.toBe(reason);
    await expect(builtins.call('utils', 'sleep', { ms: 2 ** 31 }, context())).rejects.toMatchObject({ field: 'ms' });
    await expect(builtins.call('utils', 'sleep', { ms: -1 }, context())).rejects.toMatchObject({
      name: 'ConnectorError',
      connector: 'utils',
      method: 'sleep',
      field: 'ms',
    });
  });

  it('now returns the current time as an ISO string; args may be omitted', async () => {
    const before = Date.now();
    const now = await builtins.call('utils', 'now', undefined, context());
    expect(typeof now).toBe('string');
    expect(new Date(now as string).toISOString()).toBe(now);
    expect(Date.parse(now as string)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(now as string)).toBeLessThanOrEqual(Date.now() + 1);
    await expect(builtins.call('utils', 'now', { tz: 'UTC' }, context())).rejects.toMatchObject({ field: 'tz' });
  });
});

// ---------------------------------------------------------------------------------------------------

const echo: Connector = {
  name: 'echo',
  source: 'test',
  methods: {
    say: async (args, ctx) => ({ args, key: ctx.idempotencyKey }),
    mutate: async (args) => {
      (args as { list: number[] }).list.push(99);
      return args;
    },
  },
};

describe('ConnectorRegistry.call', () => {
  const peek: Connector = { name: 'peek', source: 'test', methods: { data: async () => (globalThis as { data?: unknown }).data } };
  const registry = new ConnectorRegistry([...BUILTIN_CONNECTORS, echo]);

  it('runs methods outside the step scope: a connector cannot read the step globals (same as when deferred)', async () => {
    const withPeek = new ConnectorRegistry([peek]);
    const scope = { data: { secret: 1 }, task: {}, step: {}, connectors: {}, audit: {}, lib: {}, console };
    const seen = await runInStepScope(scope, async () => {
      expect((globalThis as { data?: unknown }).data).toEqual({ secret: 1 }); // the step itself can
      return withPeek.call('peek', 'data', {}, context()).catch((e: unknown) => e);
    });
    expect(seen).toBeInstanceOf(OutsideStepError);
  });

  it('unknown connector lists the known ones; unknown method lists that connector’s methods', async () => {
    await expect(registry.call('crm', 'create', {}, context())).rejects.toThrow(
      'connectors.crm.create: no connector named "crm" (known connectors: echo, fetch, utils)',
    );
    await expect(registry.call('echo', 'shout', {}, context())).rejects.toThrow(
      'connectors.echo.shout: connector "echo" has no method "shout" (its methods: mutate, say)',
    );
    // Inherited Object properties are not methods.
    await expect(registry.call('echo', 'toString', {}, context())).rejects.toBeInstanceOf(ConnectorError);
  });

  it('args: undefined → {}, a JSON copy (Dates → ISO, undefined dropped); non-objects and non-JSON values are ConnectorErrors', async () => {
    await expect(registry.call('echo', 'say', undefined, context({ idempotencyKey: 'k9' }))).resolves.toEqual({ args: {}, key: 'k9' });
    const at = new Date('2024-05-01T10:00:00Z');
    await expect(registry.call('echo', 'say', { at, gone: undefined, nested: [1, { x: 'y' }] }, context())).resolves.toEqual({
      args: { at: '2024-05-01T10:00:00.000Z', nested: [1, { x: 'y' }] },
      key: 'key-1',
    });
    const list = [1];
    await registry.call('echo', 'mutate', { list }, context());
    expect(list).toEqual([1]); // the connector got a copy

    await expect(registry.call('echo', 'say', 'hello', context())).rejects.toThrow('arguments must be one object');
    await expect(registry.call('echo', 'say', [1], context())).rejects.toThrow('not an array');
    await expect(registry.call('echo', 'say', { cb: () => 1 }, context())).rejects.toMatchObject({ name: 'ConnectorError', field: 'cb' });
    await expect(registry.call('echo', 'say', { a: { n: Number.NaN } }, context())).rejects.toThrow('args.a.n is NaN');
    await expect(registry.call('echo', 'say', { m: new Map() }, context())).rejects.toThrow('an instance of Map');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(registry.call('echo', 'say', cyclic, context())).rejects.toThrow('args.self is a circular reference');
  });
});

// ---------------------------------------------------------------------------------------------------
// Workspace connectors

let scratch: string;
let crmServer: TestServer;
let crmIds = 0;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'whenflow-connectors-'));
  crmServer = await startServer((req, res) =>
    send(res, 201, 'application/json', JSON.stringify({ id: ++crmIds, name: (JSON.parse(req.body) as { name: string }).name })),
  );
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  await crmServer.close();
});

let wsCounter = 0;
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = join(scratch, `ws${wsCounter++}`);
  await mkdir(join(dir, 'connectors', 'lib'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'connectors', name), text);
  return dir;
}

const CRM_MJS = `// A CRM connector: calls a real HTTP API with the idempotency key.
export const retry = { maximumAttempts: 2 };
export const timeout = '10s';
export const VERSION = 3;

export async function create(args, context) {
  const res = await fetch(args.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': context.idempotencyKey, 'x-task': context.taskId },
    body: JSON.stringify({ name: args.name }),
    signal: context.signal,
  });
  return { status: res.status, contact: await res.json() };
}
`;

const MATH_TS = `interface Pair { a: number; b: number }
let calls: number = 0;
export async function add(args: Pair): Promise<number> { return args.a + args.b; }
export function double(args: { n: number }): number { return args.n * 2; }
export async function count(): Promise<number> { return ++calls; }
`;

const BROKEN_TS = `export async function ok() { return 1; }
// the next line does not parse
export async function bad( { return 2; }
`;

describe('loadConnectors', () => {
  let ws: string;
  let loaded: Awaited<ReturnType<typeof loadConnectors>>;

  beforeAll(async () => {
    ws = await workspace({
      'crm.mjs': CRM_MJS,
      'math.ts': MATH_TS,
      'empty.mjs': 'export const answer = 42;\nexport default { create() {} };\n',
      'broken.ts': BROKEN_TS,
      'oops.mjs': 'export async function fine() {}\nexport const x = {;\n',
      'fetch.mjs': 'export async function get() { return "mine"; }\n',
      'notes.txt': 'not a connector',
      'lib/helper.mjs': 'export async function help() {}\n',
    });
    loaded = await loadConnectors(ws);
  });

  it('loads built-ins plus the good .mjs and .ts files, with sources; subfolders and other files are skipped', () => {
    expect(loaded.registry.names()).toEqual(['crm', 'fetch', 'math', 'utils']);
    expect(loaded.registry.get('crm')?.source).toBe(join('connectors', 'crm.mjs'));
    expect(loaded.registry.get('math')?.source).toBe(join('connectors', 'math.ts'));
    expect(loaded.registry.get('fetch')?.source).toBe('builtin');
    expect(Object.keys(loaded.registry.get('crm')!.methods)).toEqual(['create']); // not retry, timeout, VERSION
    expect(Object.keys(loaded.registry.get('math')!.methods).sort()).toEqual(['add', 'count', 'double']);
  });

  it('reports the bad files, one problem each', () => {
    const byName = Object.fromEntries(loaded.problems.map((p) => [p.connector, p]));
    expect(Object.keys(byName).sort()).toEqual(['broken', 'empty', 'fetch', 'oops']);
    expect(loaded.problems).toHaveLength(4);
    expect(byName.empty).toMatchObject({ file: join('connectors', 'empty.mjs') });
    expect(byName.empty!.message).toMatch(/^exports no functions; .*\(a default export is not used: export each method by name\)$/);
    expect(byName.broken!.file).toBe(join('connectors', 'broken.ts'));
    expect(byName.broken!.message).toBe(
      'cannot load: syntax error: Expected "}" but found "2" at line 3, column 37 — export async function bad( { return 2; }',
    );
    expect(byName.oops!.message).toMatch(/^cannot load: syntax error: .* at line 2, column 19 — export const x = \{;$/);
    expect(byName.fetch!.message).toBe('"fetch" is a built-in connector; rename the file (the connector\'s name is its file name)');
    // The built-in is untouched by the clashing file.
    expect(loaded.registry.get('fetch')?.methods).toBe(BUILTIN_CONNECTORS.find((c) => c.name === 'fetch')!.methods);
  });

  it('returns raw retry/timeout exports as policies, only for connectors that have them', () => {
    expect(loaded.policies).toEqual({ crm: { retry: { maximumAttempts: 2 }, timeout: '10s' } });
    expect(loaded.registry.policies).toBe(loaded.policies);
  });

  it('TypeScript and sync functions are callable (every method returns a promise)', async () => {
    await expect(loaded.registry.call('math', 'add', { a: 2, b: 3 }, context())).resolves.toBe(5);
    const doubled = loaded.registry.get('math')!.methods.double!({ n: 4 }, context());
    expect(doubled).toBeInstanceOf(Promise);
    await expect(doubled).resolves.toBe(8);
  });

  it('a workspace connector calls a real HTTP API and sends context.idempotencyKey, stable per call across retries', async () => {
    const before = crmServer.requests.length;
    const direct = await loaded.registry.call(
      'crm',
      'create',
      { url: `${crmServer.url}/contacts`, name: 'Ada' },
      context({ idempotencyKey: 'exec-7:0', taskId: 'order-1' }),
    );
    expect(direct).toEqual({ status: 201, contact: { id: crmIds, name: 'Ada' } });
    expect(crmServer.requests[before]).toMatchObject({ method: 'POST', url: '/contacts', body: '{"name":"Ada"}' });
    expect(crmServer.requests[before]!.headers['idempotency-key']).toBe('exec-7:0');
    expect(crmServer.requests[before]!.headers['x-task']).toBe('order-1');

    // Through the proxy: keys derive from a stable execution id + call index, so a retried attempt repeats them.
    const attempt = async (n: number) => {
      const connectors = createConnectorsProxy(
        loaded.registry,
        (i) => context({ attempt: n, idempotencyKey: `exec-8:${i}` }),
        () => {},
      );
      await connectors.crm!.create!({ url: `${crmServer.url}/contacts`, name: 'first' });
      await connectors.crm!.create!({ url: `${crmServer.url}/contacts`, name: 'second' });
    };
    const mark = crmServer.requests.length;
    await attempt(1);
    await attempt(2);
    const keys = crmServer.requests.slice(mark).map((r) => `${r.headers['idempotency-key']}/${JSON.parse(r.body).name}`);
    expect(keys).toEqual(['exec-8:0/first', 'exec-8:1/second', 'exec-8:0/first', 'exec-8:1/second']);
  });

  it('without a connectors folder: built-ins only, no problems', async () => {
    const bare = join(scratch, 'bare');
    await mkdir(bare, { recursive: true });
    const result = await loadConnectors(bare);
    expect(result.registry.names()).toEqual(['fetch', 'utils']);
    expect(result.problems).toEqual([]);
    expect(result.policies).toEqual({});
  });

  it('re-imports a file only when its content changed', async () => {
    const dir = await workspace({
      'ver.mjs': 'let n = 0;\nexport async function version() { return 1; }\nexport async function tick() { return ++n; }\n',
    });
    const first = await loadConnectors(dir);
    await expect(first.registry.call('ver', 'version', {}, context())).resolves.toBe(1);
    await expect(first.registry.call('ver', 'tick', {}, context())).resolves.toBe(1);

    // Unchanged: the same module (its state carries on) and the same connector object.
    const again = await loadConnectors(dir);
    expect(again.registry.get('ver')).toBe(first.registry.get('ver'));
    await expect(again.registry.call('ver', 'tick', {}, context())).resolves.toBe(2);

    await writeFile(
      join(dir, 'connectors', 'ver.mjs'),
      'let n = 100;\nexport async function version() { return 2; }\nexport async function tick() { return ++n; }\n',
    );
    const edited = await loadConnectors(dir);
    expect(edited.registry.get('ver')).not.toBe(first.registry.get('ver'));
    await expect(edited.registry.call('ver', 'version', {}, context())).resolves.toBe(2);
    await expect(edited.registry.call('ver', 'tick', {}, context())).resolves.toBe(101);
  });

  it('a file that gets fixed loads on the next load', async () => {
    const dir = await workspace({ 'late.ts': 'export const x = 1;\n' });
    expect((await loadConnectors(dir)).problems.map((p) => p.connector)).toEqual(['late']);
    await writeFile(join(dir, 'connectors', 'late.ts'), 'export async function go(): Promise<string> { return "went"; }\n');
    const fixed = await loadConnectors(dir);
    expect(fixed.problems).toEqual([]);
    await expect(fixed.registry.call('late', 'go', {}, context())).resolves.toBe('went');
  });
});

// ---------------------------------------------------------------------------------------------------

/** What a call throws synchronously (a deferred call with a mistake throws at the call). */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('createConnectorsProxy', () => {
  const registry = new ConnectorRegistry([...BUILTIN_CONNECTORS, echo]);

  function setup() {
    const deferred: DeferredConnectorCall[] = [];
    const indexes: number[] = [];
    const connectors = createConnectorsProxy(
      registry,
      (i) => {
        indexes.push(i);
        return context({ idempotencyKey: `exec:${i}` });
      },
      (call) => deferred.push(call),
    );
    return { connectors, deferred, indexes };
  }

  it('direct calls run now with a context per call', async () => {
    const { connectors, indexes, deferred } = setup();
    await expect(connectors.echo!.say!({ a: 1 })).resolves.toEqual({ args: { a: 1 }, key: 'exec:0' });
    await expect(connectors.echo!.say!()).resolves.toEqual({ args: {}, key: 'exec:1' });
    expect(typeof (await connectors.utils!.now!())).toBe('string');
    expect(indexes).toEqual([0, 1, 2]);
    expect(deferred).toEqual([]);
  });

  it('with `into` the call is deferred: not made, `into` stripped, resolves to undefined; indexes still count it', async () => {
    const { connectors, deferred, indexes } = setup();
    let called = false;
    const spyRegistry = new ConnectorRegistry([
      {
        name: 'crm',
        source: 'test',
        methods: {
          create: async () => {
            called = true;
            return 'made';
          },
        },
      },
    ]);
    const captured: DeferredConnectorCall[] = [];
    const crmProxy = createConnectorsProxy(
      spyRegistry,
      () => context(),
      (c) => captured.push(c),
    );
    await expect(crmProxy.crm!.create!({ name: 'Ada', tags: ['x'], into: 'crm.contact' })).resolves.toBeUndefined();
    expect(called).toBe(false);
    expect(captured).toEqual([{ connector: 'crm', method: 'create', args: { name: 'Ada', tags: ['x'] }, into: 'crm.contact' }]);

    await connectors.echo!.say!({ n: 1 });
    await connectors.echo!.say!({ n: 2, into: 'items.0.result' });
    await connectors.echo!.say!({ n: 3, into: undefined }); // undefined `into` is a direct call
    expect(deferred).toEqual([{ connector: 'echo', method: 'say', args: { n: 2 }, into: 'items.0.result' }]);
    expect(indexes).toEqual([0, 2]);
  });

  it('unknown connectors and methods fail when called, not when read, naming what exists', async () => {
    const { connectors, deferred } = setup();
    const crm = connectors.crm; // reading is harmless
    expect(crm).toBeDefined();
    await expect(crm!.create!({})).rejects.toThrow(
      'connectors.crm.create: no connector named "crm" (known connectors: echo, fetch, utils)',
    );
    await expect(connectors.echo!.shout!({})).rejects.toThrow('connector "echo" has no method "shout" (its methods: mutate, say)');
    // Deferred calls are checked too, before anything is recorded: they throw at the call, awaited or not.
    expect(() => connectors.crm!.create!({ into: 'a.b' })).toThrow(ConnectorError);
    expect(deferred).toEqual([]);
  });

  it('a failing direct call nobody awaits is no unhandled rejection (it would end a worker process)', async () => {
    const { connectors } = setup();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      void connectors.echo!.shout!({});
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
    // Awaited, the same mistake still fails.
    await expect(connectors.echo!.shout!({})).rejects.toBeInstanceOf(ConnectorError);
  });

  it('a bad `into` is a ConnectorError on field into, and nothing is deferred', async () => {
    const { connectors, deferred } = setup();
    for (const into of ['', 'a..b', '.a', 'a.', 5, null, ['a'], '__proto__.x']) {
      const error = thrownBy(() => connectors.echo!.say!({ into }));
      expect(error, JSON.stringify(into)).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).field).toBe('into');
      expect((error as ConnectorError).message).toContain('connectors.echo.say: `into`');
    }
    // Deferred args must be JSON as well (they are recorded in history).
    expect(thrownBy(() => connectors.echo!.say!({ into: 'x', cb: () => 1 }))).toMatchObject({ field: 'cb' });
    expect(deferred).toEqual([]);
  });

  it('is not thenable and lists the registry’s connectors and methods', async () => {
    const { connectors } = setup();
    expect((connectors as Record<string, unknown>).then).toBeUndefined();
    expect((connectors.echo as Record<string, unknown>).then).toBeUndefined();
    expect(await Promise.resolve(connectors)).toBe(connectors);
    expect(Object.keys(connectors)).toEqual(['echo', 'fetch', 'utils']);
    expect(Object.keys(connectors.echo!)).toEqual(['say', 'mutate']);
    expect('echo' in connectors).toBe(true);
    expect('crm' in connectors).toBe(false);
    expect(connectors.echo!.say).toBe(connectors.echo!.say);
  });
});
