/**
 * What the task workflow accepts from its activities. An activity runs the workspace's code, loads its
 * files, talks to services: the workflow checks the shape of every result before it acts on it, so a
 * wrong shape becomes a task `error` with a message instead of an exception in workflow code (which
 * would fail every workflow task and leave the task stuck). Values inside the data (patch values, call
 * results) arrive through Temporal's JSON payload converter and are JSON by construction; their shape
 * is the task's own business. Deterministic: used inside the workflow sandbox.
 */
import { z } from 'zod';
import { formatJsonPath, type JsonValue } from './json';
import { TASK_STATES, type Catalog, type StepOutcome, type TaskState } from './task';

const jsonValue = z.custom<JsonValue>(
  (value) => value !== undefined && typeof value !== 'function' && typeof value !== 'symbol' && typeof value !== 'bigint',
  'a JSON value',
);
const jsonObject = z.record(z.string(), jsonValue);
const count = z.number().int().nonnegative();

const dataOperation = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), path: z.string(), value: jsonValue }),
  z.object({ op: z.literal('remove'), path: z.string() }),
  z.object({ op: z.literal('replace'), path: z.string(), value: jsonValue }),
]);

const deferredCall = z.object({
  connector: z.string(),
  method: z.string(),
  args: jsonObject,
  into: z.string(),
  secrets: z.string().optional(),
});
const subtaskRequest = z.object({ name: z.string(), data: jsonObject, into: z.string().nullable(), waitFor: z.boolean() });

const stepCommand = z.discriminatedUnion('type', [
  z.object({ type: z.literal('complete'), result: jsonValue.optional() }),
  z.object({ type: z.literal('ignore') }),
  z.object({ type: z.literal('redo') }),
  z.object({ type: z.literal('park'), ms: z.number().nonnegative() }),
  z.object({ type: z.literal('name'), name: z.string() }),
  z.object({ type: z.literal('tags'), tags: z.array(z.string()) }),
  z.object({ type: z.literal('timeout'), ms: z.number().nonnegative() }),
  z.object({ type: z.literal('completeOnExpire'), result: jsonValue.optional() }),
  z.object({ type: z.literal('subtask'), request: subtaskRequest }),
  z.object({ type: z.literal('call'), call: deferredCall }),
]);

const stepLog = z.object({
  level: z.enum(['log', 'info', 'warn', 'error', 'debug', 'audit', 'visual']),
  message: z.string(),
  visual: jsonObject.optional(),
});

export const stepOutcomeSchema = z.looseObject({
  patch: z.array(dataOperation),
  commands: z.array(stepCommand),
  logs: z.array(stepLog),
  logsDropped: count,
  durationMs: z.number().nonnegative(),
  attempt: z.number().int().positive(),
  reads: z.array(z.string()).optional(),
});

const retryPolicy = z.looseObject({
  initialIntervalMs: z.number().nonnegative(),
  backoffCoefficient: z.number().positive(),
  maximumIntervalMs: z.number().nonnegative().optional(),
  maximumAttempts: count,
  nonRetryableErrorTypes: z.array(z.string()),
});

const catalogStep = z.looseObject({
  name: z.string().min(1),
  file: z.string(),
  condition: z.looseObject({ query: jsonObject, specificity: count, constraints: z.array(z.string()) }),
  priority: z.number(),
  timeoutMs: z.number().positive(),
  retry: retryPolicy,
  local: z.boolean().optional(),
});

export const catalogSchema = z.looseObject({
  version: z.string(),
  steps: z.array(catalogStep),
  connectors: z.record(z.string(), z.looseObject({ retry: retryPolicy, timeoutMs: z.number().positive() })),
  broken: z.array(z.looseObject({ file: z.string(), path: z.string().optional(), message: z.string() })).optional(),
});

/** `steps[2].condition.query: expected object, received string` — the first few problems, one line. */
function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = formatJsonPath(issue.path);
    return `${path || '(the result)'}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

/** The result as `T`, or why it is not one (never throws: a result can be anything, even too deep to walk). */
function check<T>(schema: z.ZodType, value: unknown): { ok: true; value: T } | { ok: false; problem: string } {
  try {
    const parsed = schema.safeParse(value);
    // The value itself, not zod's copy: what the workflow acts on stays exactly what history recorded.
    return parsed.success ? { ok: true, value: value as T } : { ok: false, problem: describeIssues(parsed.error) };
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

export const checkStepOutcome = (value: unknown) => check<StepOutcome>(stepOutcomeSchema, value);
export const checkCatalog = (value: unknown) => check<Catalog>(catalogSchema, value);

/** A subtask's final snapshot, as far as its parent reads it. */
const subtaskEndSchema = z.looseObject({ state: z.enum(TASK_STATES), result: jsonValue.nullable().optional() });
export const checkSubtaskEnd = (value: unknown) => check<{ state: TaskState; result?: JsonValue | null }>(subtaskEndSchema, value);
