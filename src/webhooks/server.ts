/**
 * The webhook receiver: `POST /hooks/<name>` with a JSON object body starts a task whose data is the
 * body plus `$via` (where the task came from).
 *
 * Order of checks, each answered with JSON `{ error }`:
 *   path (404) → hook name (404) → method (405) → credentials (401) → Content-Type (415)
 *   → declared and streamed size (413), body within `bodyTimeout` (408) → HMAC of the raw body (401)
 *   → UTF-8 and JSON (400) → a JSON object, at most `maxDepth` deep, without `__proto__`,
 *   `constructor` or `prototype` keys (400) → start (202; 400 for bad task input; 502 when starting fails).
 * Headers must arrive within `headersTimeout`; at most `maxConnections` connections are open at once.
 * Nothing is parsed before the caller is authenticated. A token is checked before the body is read;
 * an HMAC signature covers the raw body, so its header is checked first for form and the body is
 * read (never more than `maxBytes`) and verified before it is parsed.
 *
 * This module knows nothing about Temporal: `start` is the boundary (the CLI passes one that calls
 * `startTask`).
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isJsonObject, type JsonObject, type JsonValue } from '../model/json';
import { WEBHOOK_DEFAULT_MAX_BYTES, WEBHOOK_SERVER_DEFAULTS, type WebhookDefinition, type WebhookServerLimits } from './config';
import { checkJsonShape } from './json-shape';

export const TOKEN_HEADER = 'X-Whenflow-Token';
export const SIGNATURE_HEADER = 'X-Whenflow-Signature';
export const GITHUB_SIGNATURE_HEADER = 'X-Hub-Signature-256';

export interface WebhookTask {
  name: string;
  tags: string[];
  data: JsonObject;
  /**
   * For a hook with an idempotency key: the task ID the delivery maps to. `start` must return the task
   * that already has this ID, if any, instead of starting another (startTask's `ifExists: 'return-existing'`).
   */
  taskId?: string;
}

export interface WebhookServerOptions {
  hooks: Map<string, WebhookDefinition>;
  /** Starts the task; an error with `issues` (TaskInputError) is the caller's fault (400), any other is ours (502). */
  start: (task: WebhookTask) => Promise<{ taskId: string }>;
  /** Default 127.0.0.1: webhooks reach a local tool through a tunnel or proxy, not an open port. */
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Nesting, timeouts and connections (whenflow.yaml `webhookServer:`); each defaults to WEBHOOK_SERVER_DEFAULTS. */
  limits?: Partial<WebhookServerLimits>;
  /** Clock for `$via.received`. */
  now?: () => Date;
  /** One line per request answered (method, path, status, why); never secrets or bodies. Default: stderr. */
  log?: (line: string) => void;
}

export interface WebhookServer {
  /** e.g. `http://127.0.0.1:43117`; hooks are at `${url}/hooks/<name>`. */
  url: string;
  port: number;
  /** Stops accepting connections and resolves when open ones are done (forced after a short grace period). */
  close(): Promise<void>;
}

/** What `$via` holds for a task a webhook started. */
export interface WebhookVia {
  id: string;
  name: string;
  type: 'webhook';
  /** When the request arrived, in epoch milliseconds. */
  received: number;
  /** The same moment as an ISO 8601 string. */
  receivedAt: string;
  /** The delivery's idempotency key, for a hook that has one. */
  deliveryId?: string;
}

const CLOSE_GRACE_MS = 2000;

/** Anything a handler may answer with; thrown to stop handling. */
class Reply {
  constructor(
    readonly status: number,
    readonly body: JsonObject,
    readonly why: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {}
}

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { hooks, start } = options;
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? (() => new Date());
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const limits: WebhookServerLimits = { ...WEBHOOK_SERVER_DEFAULTS, ...options.limits };

  const server = createServer(
    {
      // Node answers 408 and closes a connection whose headers (or whole request) are late; it looks every
      // `connectionsCheckingInterval`, 30 s by default, which would let a short timeout run far over.
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    (req, res) => {
      // A client that goes away mid-body makes the request emit 'error'; it is handled where the body is read.
      req.on('error', () => {});
      res.on('error', () => {});
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const label = `${req.method ?? '?'} ${path}`;
      handle(req, path)
        .then((reply) => send(req, res, reply, label))
        .catch((error: unknown) => {
          if (error instanceof Reply) return send(req, res, error, label);
          log(`${label} → 500 (${errorMessage(error)})`);
          if (!res.headersSent)
            send(req, res, new Reply(500, { error: 'internal error in the webhook receiver' }, 'internal error'), label, { quiet: true });
        });
    },
  );
  // Connections past the cap are closed on arrival, before a byte is read.
  server.maxConnections = limits.maxConnections;
  server.on('drop', (data?: { remoteAddress?: string }) =>
    log(`connection from ${data?.remoteAddress ?? '?'} closed: ${limits.maxConnections} connections are open (maxConnections)`),
  );

  function send(req: IncomingMessage, res: ServerResponse, reply: Reply, label: string, opts: { quiet?: boolean } = {}): void {
    if (!opts.quiet) log(`${label} → ${reply.status} (${reply.why})`);
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(reply.body);
    // An answer given before the body was read: a body too large to drain ends the connection instead.
    const declared = declaredLength(req);
    const closing = !req.complete && declared !== null && declared > WEBHOOK_DEFAULT_MAX_BYTES ? { connection: 'close' } : {};
    res.writeHead(reply.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      ...closing,
      ...reply.headers,
    });
    res.end(text);
    if (!req.complete && !('connection' in reply.headers) && !('connection' in closing)) discardBody(req, WEBHOOK_DEFAULT_MAX_BYTES);
  }

  async function handle(req: IncomingMessage, path: string): Promise<Reply> {
    const match = /^\/hooks\/([^/]+)$/.exec(path);
    if (!match) throw new Reply(404, { error: `nothing at ${path}: webhooks are POST /hooks/<name>` }, 'no such path');
    // Names may hold spaces and other printable characters, URL-encoded in the path.
    let name: string;
    try {
      name = decodeURIComponent(match[1]!);
    } catch {
      throw new Reply(404, { error: `nothing at ${path}: the hook name is not valid URL encoding` }, 'bad URL encoding');
    }
    const hook = hooks.get(name);
    // Listing the configured names is deliberate: the receiver is a local tool (127.0.0.1 by default) and
    // the names are not secrets (the URL path already shows them); it turns a typo into a one-look fix.
    if (!hook) throw new Reply(404, { error: `unknown webhook "${name}"`, known: [...hooks.keys()].sort() }, 'unknown webhook');
    if (req.method !== 'POST') {
      throw new Reply(405, { error: `webhook "${name}" accepts POST only, not ${req.method ?? '?'}` }, 'method not allowed', {
        allow: 'POST',
      });
    }

    const declared = declaredLength(req);
    let signature: Signature | null = null;
    if (hook.auth === 'token') checkToken(req, hook);
    else signature = readSignature(req, hook);

    const contentType = checkContentType(req.headers['content-type']);
    if (contentType) throw new Reply(415, { error: contentType }, 'not JSON');

    const tooLarge = new Reply(
      413,
      { error: `request body is larger than this webhook's limit of ${hook.maxBytes} bytes` },
      'body too large',
      {
        connection: 'close',
      },
    );
    if (declared !== null && declared > hook.maxBytes) throw tooLarge;
    const read = await readBody(req, hook.maxBytes, limits.bodyTimeoutMs);
    if (read === 'too large') throw tooLarge;
    if (read === 'too slow') {
      throw new Reply(
        408,
        { error: `the request body did not arrive within ${seconds(limits.bodyTimeoutMs)} (bodyTimeout)` },
        'body too slow',
        { connection: 'close' },
      );
    }
    if (read === 'aborted') throw new Reply(400, { error: 'the request ended before its body' }, 'client went away');

    if (signature) checkSignature(read, signature, hook, now());

    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(read);
    } catch {
      throw new Reply(400, { error: 'request body is not valid UTF-8' }, 'not UTF-8');
    }
    let body: JsonValue;
    try {
      body = JSON.parse(text) as JsonValue;
    } catch (error) {
      throw new Reply(400, { error: `request body is not valid JSON: ${errorMessage(error)}` }, 'bad JSON');
    }
    if (!isJsonObject(body)) {
      throw new Reply(400, { error: `request body must be a JSON object, not ${jsonKind(body)}` }, 'not an object');
    }
    const shape = checkJsonShape(body, limits.maxDepth);
    if (shape?.kind === 'too-deep') {
      throw new Reply(
        400,
        { error: `request body nests deeper than ${shape.maxDepth} levels at ${shape.path} (maxDepth)`, path: shape.path },
        'nested too deep',
      );
    }
    if (shape?.kind === 'forbidden-key') {
      throw new Reply(
        400,
        {
          error: `request body has the key "${shape.key}" at ${shape.path}: __proto__, constructor and prototype are not allowed as keys`,
          path: shape.path,
        },
        'forbidden key',
      );
    }

    const deliveryId = idempotencyKeyOf(req, body, hook);
    const received = now();
    const via: WebhookVia = {
      id: randomUUID(),
      name: hook.name,
      type: 'webhook',
      received: received.getTime(),
      receivedAt: received.toISOString(),
      ...(deliveryId !== null ? { deliveryId } : {}),
    };
    // `$via` is provenance and the engine owns it: a body's own `$via` is replaced, never merged, so a caller
    // cannot make a task look as if it came from somewhere else (steps may match on `$via`).
    const data: JsonObject = { ...body, $via: { ...via } };

    let taskId: string;
    try {
      ({ taskId } = await start({
        name: hook.taskName,
        tags: [...hook.tags],
        data,
        ...(deliveryId !== null ? { taskId: deliveryTaskId(hook.name, deliveryId) } : {}),
      }));
    } catch (error) {
      if (isTaskInputError(error)) {
        const issues = error.issues.map((issue) => ({ path: String(issue.path ?? ''), message: String(issue.message ?? '') }));
        throw new Reply(400, { error: error.message, issues }, 'invalid task input');
      }
      throw new Reply(
        502,
        { error: `could not start the task: ${errorMessage(error)}` },
        `could not start the task: ${errorMessage(error)}`,
      );
    }
    return new Reply(202, { taskId, via: { id: via.id } }, `started ${taskId}, via ${via.id}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Credentials

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Compares through SHA-256 so both sides have the same length: timingSafeEqual needs that, and comparing
 * the raw values would reveal the secret's length through the early length check.
 */
function sameSecret(given: string, secret: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(secret));
}

function checkToken(req: IncomingMessage, hook: WebhookDefinition): void {
  const given = header(req, TOKEN_HEADER);
  if (given === undefined || given === '') {
    throw new Reply(401, { error: `missing ${TOKEN_HEADER} header: this webhook expects "${TOKEN_HEADER}: <its secret>"` }, 'no token');
  }
  if (!sameSecret(given, hook.secret)) {
    throw new Reply(401, { error: `${TOKEN_HEADER} does not match this webhook's secret` }, 'wrong token');
  }
}

const SIGNATURE_FORM = /^sha256=([0-9a-fA-F]{64})$/;

/** A signature header read and checked for form before the body is read; verified against the body after. */
type Signature =
  | { scheme: 'hmac' | 'github'; header: string; digest: Buffer }
  | { scheme: 'stripe'; header: string; timestamp: string; digests: Buffer[] };

function signatureHelp(hook: WebhookDefinition): string {
  switch (hook.auth) {
    case 'github':
      return `"${GITHUB_SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw request body, keyed with the webhook's secret>" (GitHub's scheme)`;
    case 'stripe':
      return `"${hook.signatureHeader}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw request body>", keyed with the webhook's secret>" (Stripe's scheme)`;
    default:
      return `"${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the raw request body, keyed with the webhook's secret>"`;
  }
}

function readSignature(req: IncomingMessage, hook: WebhookDefinition): Signature {
  const name = hook.auth === 'github' ? GITHUB_SIGNATURE_HEADER : hook.auth === 'stripe' ? hook.signatureHeader : SIGNATURE_HEADER;
  const given = header(req, name);
  if (given === undefined || given === '') {
    throw new Reply(401, { error: `missing ${name} header: this webhook expects ${signatureHelp(hook)}` }, 'no signature');
  }
  const malformed = () =>
    new Reply(401, { error: `malformed ${name} header: this webhook expects ${signatureHelp(hook)}` }, 'malformed signature');
  if (hook.auth === 'stripe') {
    // `t=1492774577,v1=5257a8…,v0=6ffbb5…`: one timestamp, one or more v1 signatures (several while a secret is rolled); other schemes are ignored.
    let timestamp: string | undefined;
    const digests: Buffer[] = [];
    for (const part of given.split(',')) {
      const [key = '', value = ''] = part.trim().split('=', 2);
      if (key === 't') timestamp = value;
      else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) digests.push(Buffer.from(value, 'hex'));
    }
    if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp) || digests.length === 0) throw malformed();
    return { scheme: 'stripe', header: name, timestamp, digests };
  }
  const hex = SIGNATURE_FORM.exec(given.trim())?.[1];
  if (!hex) throw malformed();
  return { scheme: hook.auth === 'github' ? 'github' : 'hmac', header: name, digest: Buffer.from(hex, 'hex') };
}

function checkSignature(body: Buffer, signature: Signature, hook: WebhookDefinition, now: Date): void {
  const wrong = () =>
    new Reply(
      401,
      { error: `${signature.header} does not match the request body: this webhook expects ${signatureHelp(hook)}` },
      'wrong signature',
    );
  if (signature.scheme !== 'stripe') {
    const expected = createHmac('sha256', hook.secret).update(body).digest();
    if (!timingSafeEqual(expected, signature.digest)) throw wrong();
    return;
  }
  const expected = createHmac('sha256', hook.secret).update(`${signature.timestamp}.`, 'utf8').update(body).digest();
  if (!signature.digests.some((digest) => timingSafeEqual(expected, digest))) throw wrong();
  // Checked after the signature (which covers the timestamp), so the answer tells nothing to a caller without the secret.
  const ageMs = now.getTime() - Number(signature.timestamp) * 1000;
  if (Math.abs(ageMs) > hook.toleranceMs) {
    throw new Reply(
      401,
      {
        error: `${signature.header} timestamp is ${Math.round(Math.abs(ageMs) / 1000)} s ${ageMs >= 0 ? 'old' : 'in the future'}, outside this webhook's tolerance of ${Math.round(hook.toleranceMs / 1000)} s: a replayed delivery, or a clock far off`,
      },
      'timestamp outside tolerance',
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Idempotency

/** The delivery's idempotency key (a header, or a value at a dot path of the body), or null for a hook without one. */
function idempotencyKeyOf(req: IncomingMessage, body: JsonObject, hook: WebhookDefinition): string | null {
  const where = hook.idempotencyKey;
  if (!where) return null;
  if ('header' in where) {
    const value = header(req, where.header)?.trim();
    if (!value)
      throw new Reply(
        400,
        { error: `missing ${where.header} header: this webhook takes its idempotency key from it` },
        'no idempotency key',
      );
    return value;
  }
  let value: JsonValue | undefined = body;
  for (const key of where.path.split('.')) value = isJsonObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
  if ((typeof value !== 'string' || value === '') && typeof value !== 'number') {
    throw new Reply(
      400,
      { error: `the body has no idempotency key at ${where.path} (a string or number): this webhook takes it from there` },
      'no idempotency key',
    );
  }
  return String(value);
}

/** The task ID a delivery maps to: the same hook and key give the same ID, so a redelivery finds the first task. */
export function deliveryTaskId(hook: string, key: string): string {
  const slug =
    hook
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'hook';
  return `task-${slug}-${createHash('sha256').update(`${hook}\0${key}`).digest('hex').slice(0, 32)}`;
}

// ---------------------------------------------------------------------------------------------
// Body

/** null for a chunked body (no Content-Length). Node has already refused malformed values with 400. */
function declaredLength(req: IncomingMessage): number | null {
  const value = req.headers['content-length'];
  return value === undefined ? null : Number(value);
}

/** `undefined` when the Content-Type is JSON (`application/json` or `application/<…>+json`, UTF-8); otherwise why not. */
function checkContentType(value: string | undefined): string | undefined {
  const expect = 'send Content-Type: application/json';
  if (!value) return `missing Content-Type: ${expect}`;
  const [media = '', ...params] = value.split(';');
  const type = media.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[^\s/]+\+json$/.test(type))
    return `Content-Type ${type || '(empty)'} is not JSON: ${expect}`;
  for (const param of params) {
    const [key = '', raw = ''] = param.split('=');
    const charset = raw
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (key.trim().toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'utf8') {
      return `charset ${charset} is not supported: JSON is UTF-8`;
    }
  }
  return undefined;
}

/**
 * Reads the whole body, but stops at the first chunk that takes it past `limit`: the rest is never
 * buffered, and the 413 answer (with `Connection: close`) ends the connection. A body still arriving
 * after `timeoutMs` is given up on the same way (408), so a slow sender cannot hold the receiver.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer | 'too large' | 'too slow' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.pause();
      finish('too slow');
    }, timeoutMs);
    const finish = (result: Buffer | 'too large' | 'too slow' | 'aborted') => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish('too large');
      } else chunks.push(chunk);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onAbort = () => finish('aborted');
    const onClose = () => {
      if (!req.complete) finish('aborted');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/**
 * After an answer given before the body was read (401, 404, 405, 415): let a small body drain so the
 * connection can carry the next request, but end the connection rather than read an unbounded one.
 */
function discardBody(req: IncomingMessage, limit: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit) req.socket.destroy();
  });
  req.resume();
}

// ---------------------------------------------------------------------------------------------
// Helpers

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function jsonKind(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function isTaskInputError(error: unknown): error is Error & { issues: { path?: unknown; message?: unknown }[] } {
  return error instanceof Error && Array.isArray((error as { issues?: unknown }).issues);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
