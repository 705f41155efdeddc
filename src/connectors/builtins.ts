import { z } from 'zod';
import { formatJsonPath, type JsonObject, type JsonValue } from '../model/json';
import { ConnectorError, type Connector, type ConnectorContext, type ConnectorMethod } from './types';
import { WhenflowError, brandError } from '../model/errors';

/** Validates a built-in method's arguments; the first bad field is named in the error. */
export function parseArgs<S extends z.ZodType>(schema: S, connector: string, method: string, args: unknown): z.output<S> {
  const parsed = schema.safeParse(args ?? {});
  if (parsed.success) return parsed.data;
  const described = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => formatJsonPath([...issue.path, k]));
      return { field: keys.join(', '), text: `unknown argument${keys.length === 1 ? '' : 's'} ${keys.map((k) => `\`${k}\``).join(', ')}` };
    }
    const field = formatJsonPath(issue.path);
    return { field, text: field ? `bad argument \`${field}\`: ${issue.message}` : issue.message };
  });
  throw new ConnectorError(connector, method, described.map((d) => d.text).join('; '), described[0]?.field || undefined);
}

// ---------------------------------------------------------------------------------------------------
// fetch

/** A non-2xx response to a call with `throwOnError: true`. Add `HttpError` to a retry policy's non-retryable types to fail fast. */
export class HttpError extends WhenflowError {
  static {
    brandError(HttpError, 'HttpError');
  }

  readonly status: number;
  readonly url: string;
  readonly method: string;
  /** The start of the response body (at most 500 characters), for the message and the error record. */
  readonly bodyExcerpt: string;

  constructor(method: string, url: string, status: number, statusText: string, body: string) {
    const bodyExcerpt = body.length > 500 ? `${body.slice(0, 500)}…` : body;
    super(`${method} ${url} → ${status}${statusText ? ` ${statusText}` : ''}${bodyExcerpt ? `: ${bodyExcerpt.slice(0, 200)}` : ''}`);
    this.status = status;
    this.url = url;
    this.method = method;
    this.bodyExcerpt = bodyExcerpt;
  }
}

/** The request did not complete within `timeoutMs` (headers and body). */
export class HttpTimeoutError extends WhenflowError {
  static {
    brandError(HttpTimeoutError, 'HttpTimeoutError');
  }

  readonly url: string;
  readonly timeoutMs: number;

  constructor(method: string, url: string, timeoutMs: number) {
    super(`${method} ${url} timed out after ${timeoutMs} ms`);
    this.url = url;
    this.timeoutMs = timeoutMs;
  }
}

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Node timers overflow (and fire at once) beyond this. */
const MAX_TIMER_MS = 2_147_483_647;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const common = {
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  headers: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive().max(MAX_TIMER_MS).default(DEFAULT_FETCH_TIMEOUT_MS),
  responseType: z.enum(['json', 'text', 'auto']).default('auto'),
  throwOnError: z.boolean().default(false),
};
const payload = {
  /** Raw request body, sent as is. */
  body: z.string().optional(),
  /** Any JSON value: sent as JSON with `content-type: application/json` (unless a content-type header is given). */
  json: z.json().optional(),
};
const method = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(METHODS))
  .default('GET');

const requestSchema = z.object({ ...common, ...payload, method }).strict();
const getSchema = z.object(common).strict();
const postSchema = z.object({ ...common, ...payload }).strict();

type RequestArgs = z.output<typeof requestSchema>;

/**
 * The hosted product's form, `connectors.fetch({ url, options })`, with `options` as in `fetch`'s RequestInit
 * (method, headers, body): a workspace moved over keeps its step files as they are.
 */
const fetchFormSchema = z
  .object({
    url: common.url,
    options: z
      .object({
        method,
        headers: z.record(z.string(), z.string()).optional(),
        body: z.string().optional(),
      })
      .strict()
      .default({ method: 'GET' }),
    timeoutMs: common.timeoutMs,
    responseType: common.responseType,
    throwOnError: common.throwOnError,
  })
  .strict();

export interface FetchResult {
  status: number;
  /** The reason phrase, e.g. `Not Found` (empty when the server sent none). */
  statusText: string;
  ok: boolean;
  /** Response headers, names lower-case. */
  headers: Record<string, string>;
  /** Parsed JSON, text, or null for an empty JSON response. */
  body: JsonValue;
}

const isJsonType = (contentType: string | null) =>
  !!contentType && /^application\/(?:[\w.-]+\+)?json\b|\+json\b/i.test(contentType.split(';')[0]!.trim());

async function request(args: RequestArgs, context: ConnectorContext, label: string): Promise<FetchResult> {
  const hasJson = args.json !== undefined;
  if (hasJson && args.body !== undefined) throw new ConnectorError('fetch', label, 'give either `body` or `json`, not both', 'json');
  if ((hasJson || args.body !== undefined) && (args.method === 'GET' || args.method === 'HEAD')) {
    throw new ConnectorError('fetch', label, `a ${args.method} request cannot have a body`, hasJson ? 'json' : 'body');
  }
  const headers = new Headers(args.headers ?? {});
  let body = args.body;
  if (hasJson) {
    body = JSON.stringify(args.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  // Cancellation of the step and our own timeout both abort the request, headers and body alike.
  context.signal.throwIfAborted();
  const timeout = AbortSignal.timeout(args.timeoutMs);
  const signal = AbortSignal.any([context.signal, timeout]);
  let response: Response;
  let text: string;
  try {
    response = await fetch(args.url, { method: args.method, headers, body, signal });
    text = await response.text();
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason ?? error;
    if (timeout.aborted) throw new HttpTimeoutError(args.method, args.url, args.timeoutMs);
    // undici says only "fetch failed"; the cause says why (refused, DNS, TLS…).
    const cause = (error as { cause?: unknown }).cause;
    const why = cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(`${args.method} ${args.url} failed: ${why}`, { cause: error });
  }
  if (args.throwOnError && !response.ok) throw new HttpError(args.method, args.url, response.status, response.statusText, text);
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    headers: Object.fromEntries(response.headers),
    body: decodeBody(text, args.responseType, response.headers.get('content-type'), `${args.method} ${args.url}`),
  };
}

function decodeBody(text: string, responseType: RequestArgs['responseType'], contentType: string | null, what: string): JsonValue {
  if (responseType === 'text') return text;
  const wantsJson = responseType === 'json' || isJsonType(contentType);
  if (!wantsJson) return text;
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    // 'auto' trusts the content-type only as far as the body parses; 'json' insists.
    if (responseType === 'auto') return text;
    throw new Error(`${what}: response is not JSON (${(error as Error).message}): ${text.slice(0, 200)}`);
  }
}

const fetchConnector: Connector = {
  name: 'fetch',
  source: 'builtin',
  callable: 'fetch',
  methods: {
    /** `connectors.fetch({ url, options })`: the connector called as a function runs this. */
    fetch: async (args, context) => {
      const { url, options, ...rest } = parseArgs(fetchFormSchema, 'fetch', 'fetch', args);
      return request(
        {
          ...rest,
          url,
          method: options.method,
          ...(options.headers ? { headers: options.headers } : {}),
          ...(options.body !== undefined ? { body: options.body } : {}),
        },
        context,
        'fetch',
      );
    },
    request: async (args, context) => request(parseArgs(requestSchema, 'fetch', 'request', args), context, 'request'),
    get: async (args, context) => request({ ...parseArgs(getSchema, 'fetch', 'get', args), method: 'GET' }, context, 'get'),
    post: async (args, context) => request({ ...parseArgs(postSchema, 'fetch', 'post', args), method: 'POST' }, context, 'post'),
  },
};

// ---------------------------------------------------------------------------------------------------
// utils

const duration = z.number().finite().nonnegative().max(MAX_TIMER_MS);
/** `{ ms }`, or `{ milliseconds }` as hosted workspaces write it. */
const sleepSchema = z
  .object({ ms: duration.optional(), milliseconds: duration.optional() })
  .strict()
  .refine((a) => (a.ms === undefined) !== (a.milliseconds === undefined), {
    message: 'give the time to wait once: { ms } or { milliseconds }',
    path: ['ms'],
  });
const nowSchema = z.object({}).strict();

const sleep: ConnectorMethod = async (args, context) => {
  const parsed = parseArgs(sleepSchema, 'utils', 'sleep', args);
  const ms = parsed.ms ?? parsed.milliseconds ?? 0;
  const { signal } = context;
  return new Promise<null>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(null);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
};

const utilsConnector: Connector = {
  name: 'utils',
  source: 'builtin',
  methods: {
    /** Waits `ms` (or `milliseconds`) milliseconds, resolves to null; rejects with the signal's reason when aborted. */
    sleep,
    /** The current time as an ISO string. */
    now: async (args: JsonObject) => {
      parseArgs(nowSchema, 'utils', 'now', args);
      return new Date().toISOString();
    },
  },
};

export const BUILTIN_CONNECTORS: readonly Connector[] = [fetchConnector, utilsConnector];
export const BUILTIN_NAMES: readonly string[] = BUILTIN_CONNECTORS.map((c) => c.name);
