/**
 * Workspace configuration: `whenflow.yaml` (or `whenflow.yml`) at the workspace root.
 *
 * Optional: without a file every setting has its default. Loading never throws for bad content;
 * every problem found (YAML syntax, unset environment variables, unknown keys, bad values) comes
 * back at once, located by a dot path, with the defaults as the configuration.
 *
 * `${NAME}` and `${NAME:-fallback}` in string values are replaced from the environment before
 * validation, so a substituted value is always a string (`concurrency: ${N}` is a problem, not a
 * coerced number). `$${` writes a literal `${`. Problem messages never show the stash key.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { LOCAL_STASH_KEY_FILE, readLocalStashKey } from './local-key';
import { z } from 'zod';
import { formatJsonPath, type JsonObject, type JsonPathSegment, type JsonValue } from '../model/json';
import {
  DEFAULT_CONNECTOR_POLICY,
  DEFAULT_MAX_HEAP_MB,
  DEFAULT_STEP_RETRY,
  DEFAULT_STEP_TIMEOUT_MS,
  DEFAULT_TASK_LIMITS,
} from '../model/defaults';
import type { StepRetryPolicy } from '../model/task';
import { durationMs, maxHeapMbSchema, resolveStepOptions, retryOptionsSchema } from '../steps/options';
import { DEFAULT_CIRCUIT, type CircuitSettings } from '../connectors/circuit';
import { KEY_ID_PATTERN } from '../model/sealed';
import type { StashKey, StashKeys } from '../runtime/stash';

/** Looked for in this order; the first is the one to write. */
export const CONFIG_FILE_NAMES = ['whenflow.yaml', 'whenflow.yml'] as const;

export interface ConnectorConfig {
  /** Present only when the file sets `retry`; resolved over DEFAULT_CONNECTOR_POLICY's. */
  retry?: StepRetryPolicy;
  timeoutMs?: number;
  options: JsonObject;
  /** `circuit:` as written: settings (over DEFAULT_CIRCUIT), `false` to turn it off; absent: the connector's default. */
  circuit?: CircuitSettings | false;
  /** `maxConcurrent:`: most calls to this connector in flight at once on one worker; absent: no limit. */
  maxConcurrent?: number;
}

/** `observability:`: both off unless configured here, by environment or by worker flags. */
export interface ObservabilityConfig {
  /** Port (on `host`) of the worker's `/metrics` and `/status` endpoint. */
  metrics: { port: number; host: string } | null;
  /** OTLP/HTTP traces endpoint, e.g. http://localhost:4318/v1/traces. */
  tracing: { endpoint: string; serviceName: string } | null;
}

export interface WorkspaceConfig {
  /** `name:`, the workspace's name (its task queue is named after it), or null to name it after its folder. */
  name: string | null;
  defaults: {
    retry: StepRetryPolicy;
    timeoutMs: number;
    concurrency: number;
    onConflict: 'rerun' | 'error';
    maxStepRuns: number;
    maxSubtasks: number;
    maxDataBytes: number;
    maxHeapMb: number;
    local?: boolean | undefined;
  };
  /** AES-256 key that seals `data.$stash` (32 bytes): `secrets.key`, or the first of `secrets.keys`; null when neither is set. */
  stashKey: Buffer | null;
  /** `secrets.keys`: every key with its id, the first seals, any opens; null when only `stashKey` is given. */
  stashKeys: StashKey[] | null;
  /** `secrets.config`: the names of `config:` values that are secrets (masked like `$stash` values). */
  secretConfig: string[];
  /** `config:`: what steps read with `task.config(KEY)`. */
  values: Record<string, JsonValue>;
  connectors: Record<string, ConnectorConfig>;
  observability: ObservabilityConfig;
  /** Validated elsewhere; kept as written (after `${…}` substitution). */
  webhooks: JsonValue | null;
  /** `webhookServer:`, the receiver's limits; validated in src/webhooks/config.ts, kept as written. */
  webhookServer: JsonValue | null;
  /** `blobs:`, validated elsewhere (src/blobs/config.ts); kept as written. */
  blobs: JsonValue | null;
  /** Absolute path of the file read, or null when the workspace has none. */
  file: string | null;
}

export interface ConfigProblem {
  /** The config file, relative to the workspace (e.g. `whenflow.yaml`), as step problems name step files. */
  file: string;
  /** Dot path inside the file, e.g. `defaults.retry.maximumAttempts`; empty for the file as a whole. */
  path: string;
  message: string;
}

/** The keys that seal and open `data.$stash`: all of `secrets.keys`, or the one key; null without any. */
export function stashKeysOf(config: Pick<WorkspaceConfig, 'stashKey' | 'stashKeys'>): StashKeys | null {
  return config.stashKeys ?? config.stashKey;
}

/** The texts of the `config:` values listed under `secrets.config`, for masking. */
export function secretConfigValues(config: Pick<WorkspaceConfig, 'values' | 'secretConfig'>): JsonValue[] {
  return config.secretConfig.filter((name) => Object.hasOwn(config.values, name)).map((name) => config.values[name] as JsonValue);
}

/**
 * What a workspace's configuration gives every task started for it: its stash key and its `defaults`
 * task limits. Spread into `startTask` by every entry point that has the workspace at hand.
 */
export function workspaceTaskSettings(config: WorkspaceConfig): {
  stashKey: StashKeys | null;
  concurrency: number;
  onConflict: 'rerun' | 'error';
  maxStepRuns: number;
  maxSubtasks: number;
  maxDataBytes: number;
} {
  const { concurrency, onConflict, maxStepRuns, maxSubtasks, maxDataBytes } = config.defaults;
  return { stashKey: stashKeysOf(config), concurrency, onConflict, maxStepRuns, maxSubtasks, maxDataBytes };
}

/**
 * The task queue of a workspace's tasks and workers: named after `name:` in whenflow.yaml, else after the
 * workspace's folder. Two workspaces served on one Temporal server never take each other's tasks.
 */
export function workspaceTaskQueue(config: WorkspaceConfig, dir: string): string {
  const folder =
    basename(resolve(dir))
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'workspace';
  return `whenflow-${config.name ?? folder}`;
}

export function defaultWorkspaceConfig(): WorkspaceConfig {
  return {
    defaults: {
      retry: { ...DEFAULT_STEP_RETRY, nonRetryableErrorTypes: [...DEFAULT_STEP_RETRY.nonRetryableErrorTypes] },
      timeoutMs: DEFAULT_STEP_TIMEOUT_MS,
      concurrency: DEFAULT_TASK_LIMITS.concurrency,
      onConflict: DEFAULT_TASK_LIMITS.onConflict,
      maxStepRuns: DEFAULT_TASK_LIMITS.maxStepRuns,
      maxSubtasks: DEFAULT_TASK_LIMITS.maxSubtasks,
      maxDataBytes: DEFAULT_TASK_LIMITS.maxDataBytes,
      maxHeapMb: DEFAULT_MAX_HEAP_MB,
    },
    stashKey: null,
    stashKeys: null,
    secretConfig: [],
    values: {},
    connectors: {},
    observability: { metrics: null, tracing: null },
    webhooks: null,
    webhookServer: null,
    name: null,
    blobs: null,
    file: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Stash key

const STASH_KEY_BYTES = 32;
export const STASH_KEY_HELP =
  'a valid key is base64 (standard or URL-safe) of exactly 32 random bytes, 44 characters such as "q3J…0Q=" ' +
  "(make one with `openssl rand -base64 32` or `node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"`)";

/**
 * Decodes a stash key: base64 or base64url of exactly 32 bytes, padding optional, surrounding
 * whitespace ignored. The error never contains the key.
 */
export function parseStashKey(text: string): { key: Buffer } | { error: string } {
  const trimmed = text.trim();
  const body = trimmed.replace(/=+$/, '');
  const padding = trimmed.length - body.length;
  const standard = /^[A-Za-z0-9+/]*$/.test(body);
  const urlSafe = /^[A-Za-z0-9_-]*$/.test(body);
  if ((!standard && !urlSafe) || padding > 2 || body.length % 4 === 1) {
    return { error: `the stash key is not base64; ${STASH_KEY_HELP}` };
  }
  const key = Buffer.from(body, urlSafe ? 'base64url' : 'base64');
  // Canonical form only: unused trailing bits must be zero, or two texts would be the same key.
  const canonical = key.toString(urlSafe ? 'base64url' : 'base64').replace(/=+$/, '');
  if (canonical !== body) return { error: `the stash key is not canonical base64; ${STASH_KEY_HELP}` };
  if (key.length !== STASH_KEY_BYTES) {
    return { error: `the stash key decodes to ${key.length} bytes, not ${STASH_KEY_BYTES}; ${STASH_KEY_HELP}` };
  }
  return { key };
}

// ---------------------------------------------------------------------------------------------
// Paths

type Segment = JsonPathSegment;

function startsWith(path: readonly Segment[], prefix: readonly Segment[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === path[i]);
}

// ---------------------------------------------------------------------------------------------
// ${NAME} substitution

interface Substitution {
  value: unknown;
  /** Where a variable without fallback is unset, and which. */
  missing: { path: Segment[]; name: string }[];
  malformed: Segment[][];
  /** Paths whose string was produced by substitution (for a hint when a number was expected). */
  substituted: Segment[][];
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

function substitute(value: unknown, env: NodeJS.ProcessEnv): Substitution {
  const result: Substitution = { value: undefined, missing: [], malformed: [], substituted: [] };
  const walk = (v: unknown, path: Segment[]): unknown => {
    if (typeof v === 'string') {
      let changed = false;
      let bad = false;
      const out = v.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$${') return '${';
        if (name === undefined) {
          bad = true;
          return match;
        }
        changed = true;
        const found = env[name];
        if (fallback !== undefined) return found === undefined || found === '' ? fallback : found;
        if (found === undefined) {
          result.missing.push({ path, name });
          return '';
        }
        return found;
      });
      if (bad) result.malformed.push(path);
      if (changed) result.substituted.push(path);
      return out;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (typeof v === 'object' && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...path, k])]));
    }
    return v;
  };
  result.value = walk(value, []);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Schema

/** Free-form values must be JSON: YAML's `.inf` / `.nan` are not. */
function checkJson(value: unknown, path: Segment[], ctx: z.RefinementCtx): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      ctx.addIssue({ code: 'custom', path, message: `${String(value)} is not a JSON number (use a finite number)` });
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) checkJson(item, [...path, i], ctx);
    return;
  }
  if (typeof value === 'object') {
    for (const [k, item] of Object.entries(value)) checkJson(item, [...path, k], ctx);
    return;
  }
  ctx.addIssue({ code: 'custom', path, message: `${typeof value} is not a JSON value` });
}

const jsonValue = z
  .unknown()
  .superRefine((v, ctx) => checkJson(v, [], ctx))
  .transform((v) => v as JsonValue);
const jsonObject = z
  .record(z.string(), z.unknown())
  .superRefine((v, ctx) => checkJson(v, [], ctx))
  .transform((v) => v as JsonObject);

/** Temporal rejects zero timeouts when it schedules an activity. */
const positiveDuration = durationMs.refine((ms) => ms > 0, 'must be longer than 0');
const atLeastOne = z.number().int().min(1);

const stashKeySchema = z.string().transform((text, ctx): Buffer | null => {
  if (text.trim() === '') return null; // `key: ${WHENFLOW_STASH_KEY:-}`: no key, secrets unavailable
  const parsed = parseStashKey(text);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }
  return parsed.key;
});

const defaultsSchema = z
  .object({
    retry: retryOptionsSchema.nullish(),
    timeout: positiveDuration.nullish(),
    concurrency: atLeastOne.nullish(),
    onConflict: z.enum(['rerun', 'error']).nullish(),
    maxStepRuns: atLeastOne.nullish(),
    maxSubtasks: atLeastOne.nullish(),
    maxDataBytes: atLeastOne.nullish(),
    maxHeapMb: maxHeapMbSchema.nullish(),
    local: z.boolean().nullish(),
  })
  .strict();

const keyIdSchema = z.string().regex(KEY_ID_PATTERN, 'must be 1 to 64 letters, digits, "_" or "-" (it is written into every sealed value)');
const keyringSchema = z
  .array(z.object({ id: keyIdSchema, key: stashKeySchema }).strict(), { error: 'must be a list of { id, key }, the key that seals first' })
  .min(1, 'must list at least one { id, key }')
  .superRefine((keys, ctx) => {
    const seen = new Set<string>();
    keys.forEach(({ id }, i) => {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `id "${id}" is given twice` });
      seen.add(id);
    });
  });
const secretsSchema = z
  .object({
    key: stashKeySchema.nullish(),
    keys: keyringSchema.nullish(),
    config: z.array(z.string().min(1), { error: 'must be a list of names under config:, e.g. [API_TOKEN]' }).nullish(),
  })
  .strict()
  .superRefine((secrets, ctx) => {
    if (secrets.key != null && secrets.keys != null)
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'give either key (one key) or keys (several, with ids), not both' });
  });

const circuitSettingsSchema = z
  .object(
    {
      enabled: z.boolean().nullish(),
      failures: atLeastOne.nullish(),
      cooldown: positiveDuration.nullish(),
    },
    { error: 'must be true, false, or settings such as { failures: 5, cooldown: 30s }' },
  )
  .strict();
/**
 * `true`: the defaults; `false`: no circuit breaker for this connector. Read as settings, not as a union,
 * so that a bad setting is reported at its own path.
 */
const circuitSchema = z.preprocess((value) => (value === true ? {} : value === false ? { enabled: false } : value), circuitSettingsSchema);

const connectorSchema = z
  .object({
    retry: retryOptionsSchema.nullish(),
    timeout: positiveDuration.nullish(),
    options: jsonObject.nullish(),
    circuit: circuitSchema.nullish(),
    maxConcurrent: atLeastOne.nullish(),
  })
  .strict();

export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const DEFAULT_SERVICE_NAME = 'whenflow';

const metricsSchema = z
  .object({
    port: z.number().int().min(1).max(65_535),
    host: z.string().min(1).nullish(),
  })
  .strict();
const tracingSchema = z
  .object({
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://localhost:4318/v1/traces' }),
    serviceName: z.string().min(1).nullish(),
  })
  .strict();
const observabilitySchema = z
  .object({
    metrics: metricsSchema.nullish(),
    tracing: tracingSchema.nullish(),
  })
  .strict();

/** A section written as `defaults:` with nothing under it is YAML null: the same as leaving it out. */
const fileSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be letters, digits, ".", "_" or "-" (at most 100), starting with a letter or digit')
      .nullish(),
    defaults: defaultsSchema.nullish(),
    secrets: secretsSchema.nullish(),
    config: z.record(z.string(), jsonValue).nullish(),
    connectors: z.record(z.string(), connectorSchema.nullish()).nullish(),
    webhooks: jsonValue.optional(),
    webhookServer: jsonValue.optional(),
    blobs: jsonValue.optional(),
    observability: observabilitySchema.nullish(),
  })
  .strict();

type ConfigFile = z.output<typeof fileSchema>;

const DURATION_KEYS = new Set(['timeout', 'initialInterval', 'maximumInterval', 'cooldown']);

/** The keys allowed where an unknown key was found, for the message. */
function allowedKeys(path: readonly Segment[]): string[] {
  const shapeKeys = (o: { shape: object }) => Object.keys(o.shape);
  if (path.length === 0) return shapeKeys(fileSchema);
  if (path.length === 1 && path[0] === 'defaults') return shapeKeys(defaultsSchema);
  if (path.length === 1 && path[0] === 'secrets') return ['key', 'keys', 'config'];
  if (path.length === 3 && path[0] === 'secrets' && path[1] === 'keys') return ['id', 'key'];
  if (path.length === 2 && path[0] === 'connectors') return shapeKeys(connectorSchema);
  if (path.length === 3 && path[0] === 'connectors' && path[2] === 'circuit') return shapeKeys(circuitSettingsSchema);
  if (path.length === 1 && path[0] === 'observability') return shapeKeys(observabilitySchema);
  if (path.length === 2 && path[0] === 'observability' && path[1] === 'metrics') return shapeKeys(metricsSchema);
  if (path.length === 2 && path[0] === 'observability' && path[1] === 'tracing') return shapeKeys(tracingSchema);
  if (path[path.length - 1] === 'retry') return shapeKeys(retryOptionsSchema);
  return [];
}

function issueProblems(issue: z.core.$ZodIssue, substituted: Segment[][]): { path: Segment[]; message: string }[] {
  const path = issue.path.filter((s): s is Segment => typeof s !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(path);
    const hint = allowed.length ? ` (allowed: ${allowed.join(', ')})` : '';
    return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"${hint}` }));
  }
  let message = issue.message;
  const last = path[path.length - 1];
  if (issue.code === 'invalid_union' && typeof last === 'string' && DURATION_KEYS.has(last)) {
    message = 'must be a duration: milliseconds, or a string such as "30s", "2m", "1.5h"';
  }
  if (
    issue.code === 'invalid_type' &&
    issue.expected === 'number' &&
    substituted.some((p) => p.length === path.length && startsWith(path, p))
  ) {
    message += ' (a value from ${…} is always a string; write the number in whenflow.yaml itself)';
  }
  return [{ path, message }];
}

// ---------------------------------------------------------------------------------------------
// Loading

function yamlProblems(
  file: string,
  errors: readonly { message: string; linePos?: readonly { line: number; col: number }[] }[],
): ConfigProblem[] {
  return errors.map((error) => {
    const first = error.message.split('\n')[0] ?? error.message;
    const reason = first.replace(/ at line \d+, column \d+:?$/, '');
    const at = error.linePos?.[0];
    return { file, path: '', message: `YAML syntax error${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${reason}` };
  });
}

async function readIfPresent(path: string): Promise<{ text: string } | { absent: true } | { error: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { absent: true };
    return { error: code === 'EISDIR' ? 'is a folder, not a file' : `cannot be read: ${(error as Error).message}` };
  }
}

function resolveConfig(parsed: ConfigFile, file: string, problemFile: string, problems: ConfigProblem[]): WorkspaceConfig {
  const config = defaultWorkspaceConfig();
  config.file = file;
  const d = parsed.defaults ?? {};
  config.defaults = {
    retry: resolveStepOptions({ retry: d.retry ?? undefined }, { retry: DEFAULT_STEP_RETRY, timeoutMs: DEFAULT_STEP_TIMEOUT_MS }).retry,
    timeoutMs: d.timeout ?? DEFAULT_STEP_TIMEOUT_MS,
    concurrency: d.concurrency ?? config.defaults.concurrency,
    onConflict: d.onConflict ?? config.defaults.onConflict,
    maxStepRuns: d.maxStepRuns ?? config.defaults.maxStepRuns,
    maxSubtasks: d.maxSubtasks ?? config.defaults.maxSubtasks,
    maxDataBytes: d.maxDataBytes ?? config.defaults.maxDataBytes,
    maxHeapMb: d.maxHeapMb ?? config.defaults.maxHeapMb,
    ...(d.local != null ? { local: d.local } : {}),
  };
  config.name = parsed.name ?? null;
  const ring = (parsed.secrets?.keys ?? []).filter((k): k is StashKey => k.key !== null);
  config.stashKey = ring.length > 0 ? ring[0]!.key : (parsed.secrets?.key ?? null);
  config.stashKeys = ring.length > 0 ? ring : null;
  config.values = parsed.config ?? {};
  config.secretConfig = parsed.secrets?.config ?? [];
  config.secretConfig.forEach((name, i) => {
    if (!Object.hasOwn(config.values, name)) {
      const known = Object.keys(config.values);
      problems.push({
        file: problemFile,
        path: formatJsonPath(['secrets', 'config', i]),
        message: `"${name}" is not a value under config:${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      });
    }
  });
  config.webhooks = parsed.webhooks ?? null;
  config.webhookServer = parsed.webhookServer ?? null;
  config.blobs = parsed.blobs ?? null;
  for (const [name, connector] of Object.entries(parsed.connectors ?? {})) {
    const resolved: ConnectorConfig = { options: connector?.options ?? {} };
    if (connector?.retry) {
      resolved.retry = resolveStepOptions(
        { retry: connector.retry },
        { retry: DEFAULT_CONNECTOR_POLICY.retry, timeoutMs: DEFAULT_STEP_TIMEOUT_MS },
      ).retry;
      const max = resolved.retry.maximumIntervalMs;
      if (max !== undefined && max < resolved.retry.initialIntervalMs) {
        problems.push({
          file: problemFile,
          path: formatJsonPath(['connectors', name, 'retry', 'initialInterval']),
          message: `is longer than the default maximum interval for connectors (${max} ms); set maximumInterval as well`,
        });
      }
    }
    if (connector?.timeout != null) resolved.timeoutMs = connector.timeout;
    const circuit = connector?.circuit;
    if (circuit?.enabled === false) resolved.circuit = false;
    else if (circuit)
      resolved.circuit = {
        failures: circuit.failures ?? DEFAULT_CIRCUIT.failures,
        cooldownMs: circuit.cooldown ?? DEFAULT_CIRCUIT.cooldownMs,
      };
    if (connector?.maxConcurrent != null) resolved.maxConcurrent = connector.maxConcurrent;
    config.connectors[name] = resolved;
  }
  const observability = parsed.observability ?? {};
  config.observability = {
    metrics: observability.metrics ? { port: observability.metrics.port, host: observability.metrics.host ?? DEFAULT_METRICS_HOST } : null,
    tracing: observability.tracing
      ? { endpoint: observability.tracing.endpoint, serviceName: observability.tracing.serviceName ?? DEFAULT_SERVICE_NAME }
      : null,
  };
  return config;
}

/**
 * Reads `whenflow.yaml` (or `whenflow.yml`) of a workspace. Never throws for bad content: with any
 * problem, the configuration returned is the defaults (callers should refuse to run).
 */
export async function loadWorkspaceConfig(
  workspace: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ config: WorkspaceConfig; problems: ConfigProblem[] }> {
  const loaded = await loadConfigFile(resolve(workspace), env);
  if (loaded.problems.length > 0 || loaded.config.stashKey !== null) return loaded;
  // No secrets.key: the machine's own key (made by `whenflow dev`), when there is one.
  const local = await readLocalStashKey(resolve(workspace));
  if (local === null) return loaded;
  const parsed = parseStashKey(local);
  if ('error' in parsed)
    return {
      config: loaded.config,
      problems: [
        { file: LOCAL_STASH_KEY_FILE, path: '', message: `${parsed.error}; delete the file and \`whenflow dev\` makes a new one` },
      ],
    };
  return { config: { ...loaded.config, stashKey: parsed.key }, problems: [] };
}

async function loadConfigFile(root: string, env: NodeJS.ProcessEnv): Promise<{ config: WorkspaceConfig; problems: ConfigProblem[] }> {
  const problems: ConfigProblem[] = [];
  let chosen: { name: string; path: string; text: string } | undefined;
  for (const name of CONFIG_FILE_NAMES) {
    const path = join(root, name);
    const read = await readIfPresent(path);
    if ('absent' in read) continue;
    if ('error' in read) {
      problems.push({ file: name, path: '', message: `${name} ${read.error}` });
      continue;
    }
    if (chosen) {
      problems.push({ file: name, path: '', message: `both ${chosen.name} and ${name} exist; keep only ${chosen.name}` });
      continue;
    }
    chosen = { name, path, text: read.text };
  }
  const defaults = (): WorkspaceConfig => ({ ...defaultWorkspaceConfig(), file: chosen?.path ?? null });
  if (!chosen) return { config: defaults(), problems };

  const file = chosen.name;
  const doc = parseDocument(chosen.text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) return { config: defaults(), problems: [...problems, ...yamlProblems(file, doc.errors)] };

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { config: defaults(), problems: [...problems, { file, path: '', message: `cannot read YAML: ${(error as Error).message}` }] };
  }
  if (raw === null || raw === undefined) return { config: defaults(), problems };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    const allowed = allowedKeys([]).join(', ');
    return {
      config: defaults(),
      problems: [...problems, { file, path: '', message: `must be a mapping with some of the keys ${allowed}` }],
    };
  }

  const sub = substitute(raw, env);
  for (const { path, name } of sub.missing) {
    problems.push({
      file,
      path: formatJsonPath(path),
      message: `environment variable ${name} is not set; set it, or give a fallback: \${${name}:-fallback}`,
    });
  }
  for (const path of sub.malformed) {
    problems.push({
      file,
      path: formatJsonPath(path),
      message: '"${" must start ${NAME} or ${NAME:-fallback} (NAME: letters, digits, _); write $${ for a literal "${"',
    });
  }
  const unusable = [...sub.missing.map((m) => m.path), ...sub.malformed];

  const parsed = fileSchema.safeParse(sub.value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const p of issueProblems(issue, sub.substituted)) {
        // A value already reported for its ${…} would only be reported again, less clearly.
        if (unusable.some((u) => startsWith(p.path, u))) continue;
        problems.push({ file, path: formatJsonPath(p.path), message: p.message });
      }
    }
  }
  if (!parsed.success || problems.length > 0) return { config: defaults(), problems };
  const config = resolveConfig(parsed.data, chosen.path, file, problems);
  return problems.length > 0 ? { config: defaults(), problems } : { config, problems };
}
