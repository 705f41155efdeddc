/**
 * The `webhooks:` section of whenflow.yaml: named endpoints (`POST /hooks/<name>`) that start a task
 * with the request's JSON body as its data.
 *
 * ```yaml
 * webhooks:
 *   orders:
 *     secret: ${ORDERS_HOOK_SECRET}   # required, at least 16 characters
 *     auth: hmac                      # token (default) | hmac
 *     taskName: order from shop       # default: the hook's name
 *     tags: [shop]
 *     maxBytes: 1048576               # default 1 MiB
 * ```
 *
 * The section arrives as written (after `${…}` substitution, see src/workspace/config.ts) and is
 * validated here. Like the rest of the configuration, parsing never throws: every problem comes back
 * at once, located by a dot path such as `webhooks.orders.secret`. Messages never contain a secret.
 */
import { z } from 'zod';
import { isJsonObject, type JsonValue } from '../model/json';
import { formatConfigPath } from '../workspace/config';

/** `token`: header `X-Whenflow-Token: <secret>`. `hmac`: header `X-Whenflow-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. */
export const WEBHOOK_AUTH_MODES = ['token', 'hmac'] as const;
export type WebhookAuth = (typeof WEBHOOK_AUTH_MODES)[number];

export const WEBHOOK_NAME = /^[A-Za-z0-9_-]+$/;
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
  })
  .strict()
  .superRefine((hook, ctx) => {
    if ((hook.auth ?? 'token') === 'token' && !HEADER_SAFE.test(hook.secret)) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'with auth "token" the secret is sent as a header value: use printable ASCII characters only, without spaces at either end',
      });
    }
  });

const ALLOWED_KEYS = Object.keys(webhookSchema.shape);

function toDefinition(name: string, hook: z.output<typeof webhookSchema>): WebhookDefinition {
  return {
    name,
    secret: hook.secret,
    auth: hook.auth ?? 'token',
    taskName: hook.taskName ?? name,
    tags: hook.tags ?? [],
    maxBytes: hook.maxBytes ?? WEBHOOK_DEFAULT_MAX_BYTES,
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
        path: formatConfigPath(['webhooks', name]),
        message: `"${name}" is not a usable webhook name (it is the URL path /hooks/<name>): use letters, digits, "_" and "-"`,
      });
    }
    if (value !== null && !isJsonObject(value)) {
      problems.push({ path: formatConfigPath(['webhooks', name]), message: `must be a mapping with some of the keys ${ALLOWED_KEYS.join(', ')}` });
      continue;
    }
    const parsed = webhookSchema.safeParse(value ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = ['webhooks', name, ...issue.path.filter((s): s is string | number => typeof s !== 'symbol')];
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) {
            problems.push({ path: formatConfigPath([...path, key]), message: `unknown key "${key}" (allowed: ${ALLOWED_KEYS.join(', ')})` });
          }
        } else {
          problems.push({ path: formatConfigPath(path), message: issue.message });
        }
      }
      continue;
    }
    if (ok) hooks.set(name, toDefinition(name, parsed.data));
  }
  return { hooks, problems };
}
