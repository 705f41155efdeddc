/**
 * The `webhooks:` section of whenflow.yaml: named endpoints (`POST /hooks/<name>`) that start a task
 * with the request's JSON body as its data.
 *
 * ```yaml
 * webhooks:
 *   orders:
 *     secret: ${ORDERS_HOOK_SECRET}   # required, at least 16 characters
 *     auth: hmac                      # token (default) | hmac | github | stripe
 *     taskName: order from shop       # default: the hook's name
 *     tags: [shop]
 *     maxBytes: 1048576               # default 1 MiB
 *     idempotencyKey: { header: X-GitHub-Delivery }   # or { path: id }: redeliveries return the first task
 *     tolerance: 5m                   # stripe: how old a signed timestamp may be (default 5 minutes)
 *     signatureHeader: Stripe-Signature   # stripe: the header carrying t=…,v1=… (default Stripe-Signature)
 * ```
 *
 * The section arrives as written (after `${…}` substitution, see src/workspace/config.ts) and is
 * validated here. Like the rest of the configuration, parsing never throws: every problem comes back
 * at once, located by a dot path such as `webhooks.orders.secret`. Messages never contain a secret.
 */
import ms from 'ms';
import { z } from 'zod';
import { isJsonObject, type JsonValue } from '../model/json';
import { formatJsonPath } from '../model/json';

/**
 * `token`: header `X-Whenflow-Token: <secret>`. `hmac`: header `X-Whenflow-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
 * `github`: GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. `stripe`: Stripe's timestamped
 * scheme, `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, refused outside `tolerance`.
 */
export const WEBHOOK_AUTH_MODES = ['token', 'hmac', 'github', 'stripe'] as const;
export type WebhookAuth = (typeof WEBHOOK_AUTH_MODES)[number];

/** Any printable name (spaces included); it is URL-encoded in the path: `POST /hooks/aloma%20ui%20feedback`. */
export const WEBHOOK_NAME = /^[^\x00-\x1f\x7f]+$/;
export const WEBHOOK_DEFAULT_TOLERANCE_MS = 5 * 60_000;
export const STRIPE_SIGNATURE_HEADER = 'Stripe-Signature';
export const WEBHOOK_MIN_SECRET_LENGTH = 16;
export const WEBHOOK_DEFAULT_MAX_BYTES = 1024 * 1024;

export interface WebhookDefinition {
  /** The key under `webhooks:`; the endpoint is `POST /hooks/<name>`. */
  name: string;
  secret: string;
  auth: WebhookAuth;
  /** Name of the tasks this hook starts (default: the hook's name). */
  taskName: string;
  tags: string[];
  /** Largest accepted request body, in bytes. */
  maxBytes: number;
  /** Where a delivery's idempotency key is: a header, or a dot path in the JSON body; null: every request starts a task. */
  idempotencyKey: { header: string } | { path: string } | null;
  /** `stripe`: the oldest (or furthest in the future) signed timestamp accepted, in milliseconds. */
  toleranceMs: number;
  /** `stripe`: the header carrying `t=…,v1=…`. */
  signatureHeader: string;
}

export interface WebhookProblem {
  /** Dot path inside whenflow.yaml, e.g. `webhooks.orders.secret`. */
  path: string;
  message: string;
}

const SECRET_HELP = 'make one with `openssl rand -hex 32` and keep it out of the file, e.g. `secret: ${ORDERS_HOOK_SECRET}`';

/** A secret sent as a header value must survive as one: HTTP trims surrounding spaces and forbids control characters. */
const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** YAML `key:` with nothing after it is null: the same as leaving the key out, as elsewhere in whenflow.yaml. */
export const webhookSchema = z
  .object({
    secret: z
      .string({ error: (issue) => (issue.input == null ? `is required; ${SECRET_HELP}` : 'must be a string') })
      .min(WEBHOOK_MIN_SECRET_LENGTH, `must be at least ${WEBHOOK_MIN_SECRET_LENGTH} characters; ${SECRET_HELP}`),
    auth: z.enum(WEBHOOK_AUTH_MODES, { error: `must be ${WEBHOOK_AUTH_MODES.map((m) => `"${m}"`).join(' or ')}` }).nullish(),
    taskName: z.string().min(1, 'must not be empty').nullish(),
    tags: z.array(z.string().min(1, 'a tag must not be empty')).nullish(),
    maxBytes: z
      .number({
        error: (issue) =>
          typeof issue.input === 'string' && /^\s*\d+\s*$/.test(issue.input)
            ? 'must be a number (a value from ${…} is always a string; write the number in whenflow.yaml itself)'
            : 'must be a number of bytes',
      })
      .int('must be a whole number of bytes')
      .min(1, 'must be at least 1')
      .nullish(),
    idempotencyKey: z
      .union(
        [
          z.object({ header: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name') }).strict(),
          z.object({ path: z.string().regex(/^[^.]+(\.[^.]+)*$/, 'must be a dot path in the JSON body, e.g. id or event.id') }).strict(),
        ],
        {
          error: 'must be { header: <name> } (e.g. X-GitHub-Delivery, Idempotency-Key) or { path: <dot path in the body> } (e.g. id)',
        },
      )
      .nullish(),
    tolerance: z
      .union(
        [
          z.number().int().positive(),
          z.string().transform((text, ctx) => {
            const value = ms(text as ms.StringValue);
            if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
              ctx.addIssue({ code: 'custom', message: 'must be a duration: milliseconds, or a string such as "5m"' });
              return z.NEVER;
            }
            return value;
          }),
        ],
        { error: 'must be a duration: milliseconds, or a string such as "5m"' },
      )
      .nullish(),
    signatureHeader: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be a header name')
      .nullish(),
  })
  .strict()
  .superRefine((hook, ctx) => {
    if ((hook.auth ?? 'token') === 'token' && !HEADER_SAFE.test(hook.secret)) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message:
          'with auth "token" the secret is sent as a header value: use printable ASCII characters only, without spaces at either end',
      });
    }
    if (hook.auth !== 'stripe') {
      for (const key of ['tolerance', 'signatureHeader'] as const) {
        if (hook[key] != null) ctx.addIssue({ code: 'custom', path: [key], message: 'applies to auth "stripe" only' });
      }
    }
  });

const ALLOWED_KEYS = Object.keys(webhookSchema.shape);

/**
 * The `webhookServer:` section: limits of the receiver itself, for every hook.
 *
 * ```yaml
 * webhookServer:
 *   maxDepth: 64            # deepest nesting of objects and arrays in a body (default 64)
 *   headersTimeout: 10s     # a request's headers must arrive within this (default 10 s)
 *   bodyTimeout: 30s        # its body within this, once the headers are in (default 30 s)
 *   maxConnections: 256     # open connections at once; more are closed on arrival (default 256)
 * ```
 */
export interface WebhookServerLimits {
  maxDepth: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConnections: number;
}

export const WEBHOOK_SERVER_DEFAULTS: WebhookServerLimits = {
  maxDepth: 64,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  maxConnections: 256,
};

const duration = z.union(
  [
    z.number().int().positive(),
    z.string().transform((text, ctx) => {
      const value = ms(text as ms.StringValue);
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration: milliseconds, or a string such as "10s"' });
        return z.NEVER;
      }
      return value;
    }),
  ],
  { error: 'must be a duration: milliseconds, or a string such as "10s"' },
);

const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const webhookServerSchema = z
  .object({
    maxDepth: wholeNumber(1, 1000).nullish(),
    headersTimeout: duration.nullish(),
    bodyTimeout: duration.nullish(),
    maxConnections: wholeNumber(1, 100_000).nullish(),
  })
  .strict();

/** Validates the raw `webhookServer:` section; a bad setting is a problem (and its default is used meanwhile). */
export function parseWebhookServerLimits(raw: JsonValue | null): { limits: WebhookServerLimits; problems: WebhookProblem[] } {
  if (raw === null) return { limits: { ...WEBHOOK_SERVER_DEFAULTS }, problems: [] };
  const parsed = webhookServerSchema.safeParse(raw);
  if (!parsed.success) {
    const allowed = Object.keys(webhookServerSchema.shape).join(', ');
    const problems = parsed.error.issues.flatMap((issue) => {
      const path = ['webhookServer', ...issue.path.filter((s): s is string | number => typeof s !== 'symbol')];
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({ path: formatJsonPath([...path, key]), message: `unknown key "${key}" (allowed: ${allowed})` }));
      if (issue.code === 'invalid_type' && path.length === 1)
        return [{ path: 'webhookServer', message: `must be a mapping with some of the keys ${allowed}` }];
      return [{ path: formatJsonPath(path), message: issue.message }];
    });
    return { limits: { ...WEBHOOK_SERVER_DEFAULTS }, problems };
  }
  const d = WEBHOOK_SERVER_DEFAULTS;
  return {
    limits: {
      maxDepth: parsed.data.maxDepth ?? d.maxDepth,
      headersTimeoutMs: parsed.data.headersTimeout ?? d.headersTimeoutMs,
      bodyTimeoutMs: parsed.data.bodyTimeout ?? d.bodyTimeoutMs,
      maxConnections: parsed.data.maxConnections ?? d.maxConnections,
    },
    problems: [],
  };
}

function toDefinition(name: string, hook: z.output<typeof webhookSchema>): WebhookDefinition {
  return {
    name,
    secret: hook.secret,
    auth: hook.auth ?? 'token',
    taskName: hook.taskName ?? name,
    tags: hook.tags ?? [],
    maxBytes: hook.maxBytes ?? WEBHOOK_DEFAULT_MAX_BYTES,
    idempotencyKey: hook.idempotencyKey ?? null,
    toleranceMs: hook.tolerance ?? WEBHOOK_DEFAULT_TOLERANCE_MS,
    signatureHeader: hook.signatureHeader ?? STRIPE_SIGNATURE_HEADER,
  };
}

/**
 * Validates the raw `webhooks:` section (`WorkspaceConfig.webhooks`). `hooks` holds every webhook
 * that has no problem, keyed by name; a webhook with any problem is left out (never served with a
 * guessed setting). Callers decide whether any problem stops the whole server.
 */
export function parseWebhooks(raw: JsonValue | null): { hooks: Map<string, WebhookDefinition>; problems: WebhookProblem[] } {
  const hooks = new Map<string, WebhookDefinition>();
  const problems: WebhookProblem[] = [];
  if (raw === null) return { hooks, problems };
  if (!isJsonObject(raw)) {
    const kind = Array.isArray(raw) ? 'a list' : `a ${typeof raw}`;
    problems.push({ path: 'webhooks', message: `must be a mapping of webhook names to their settings, not ${kind}` });
    return { hooks, problems };
  }
  for (const [name, value] of Object.entries(raw)) {
    let ok = true;
    if (!WEBHOOK_NAME.test(name)) {
      ok = false;
      problems.push({
        path: formatJsonPath(['webhooks', name]),
        message: `"${name}" is not a usable webhook name (it is the URL path /hooks/<name>): use printable characters, no control characters`,
      });
    }
    if (value !== null && !isJsonObject(value)) {
      problems.push({
        path: formatJsonPath(['webhooks', name]),
        message: `must be a mapping with some of the keys ${ALLOWED_KEYS.join(', ')}`,
      });
      continue;
    }
    const parsed = webhookSchema.safeParse(value ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = ['webhooks', name, ...issue.path.filter((s): s is string | number => typeof s !== 'symbol')];
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) {
            problems.push({ path: formatJsonPath([...path, key]), message: `unknown key "${key}" (allowed: ${ALLOWED_KEYS.join(', ')})` });
          }
        } else {
          problems.push({ path: formatJsonPath(path), message: issue.message });
        }
      }
      continue;
    }
    if (ok) hooks.set(name, toDefinition(name, parsed.data));
  }
  return { hooks, problems };
}
