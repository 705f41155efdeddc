/**
 * What the task workflow accepts from its activities. An activity runs the workspace's code, loads its
 * files, talks to services: the workflow checks the shape of every result before it acts on it, so a
 * wrong shape becomes a task `error` with a message instead of an exception in workflow code (which
 * would fail every workflow task and leave the task stuck). Values inside the data (patch values, call
 * results) arrive through Temporal's JSON payload converter and are JSON by construction; their shape
 * is the task's own business. Deterministic: used inside the workflow sandbox.
 */
// zod's mini build: the workflow's modules are evaluated again for every task in a worker's sandbox, and the
// mini schemas cost a fraction of the classic ones to build (no methods bound per schema); same checks.
import { z } from 'zod/mini';
import { en } from 'zod/v4/locales';
import { formatJsonPath, type JsonValue } from './json';
import { TASK_STATES, type LoadedCatalog, type StepOutcome, type TaskState } from './task';

// The mini build loads no messages of its own: the problems it reports name what was expected in English.
z.config(en());
// zod asks once, on first use, whether it may generate code, and keeps the answer on an object of its own,
// which the sandbox freezes once this module is evaluated: the question is asked now.
void z.core.util.allowsEval.value;

/**
 * The schemas, built on first use rather than when the module is evaluated: a worker's workflow sandbox
 * evaluates this module once, shares it between tasks and freezes what it exports, while zod completes a
 * schema's parts on its first use, which must find them writable. Checks are pure: sharing them is safe.
 */
function buildSchemas() {
  const jsonValue = z.custom<JsonValue>(
    (value) => value !== undefined && typeof value !== 'function' && typeof value !== 'symbol' && typeof value !== 'bigint',
    'a JSON value',
  );
  const jsonObject = z.record(z.string(), jsonValue);
  const count = z.int().check(z.nonnegative());

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
    secrets: z.optional(z.string()),
  });
  const subtaskRequest = z.object({ name: z.string(), data: jsonObject, into: z.nullable(z.string()), waitFor: z.boolean() });

  const stepCommand = z.discriminatedUnion('type', [
    z.object({ type: z.literal('complete'), result: z.optional(jsonValue) }),
    z.object({ type: z.literal('ignore') }),
    z.object({ type: z.literal('redo') }),
    z.object({ type: z.literal('park'), ms: z.number().check(z.nonnegative()) }),
    z.object({ type: z.literal('name'), name: z.string() }),
    z.object({ type: z.literal('tags'), tags: z.array(z.string()) }),
    z.object({ type: z.literal('timeout'), ms: z.number().check(z.nonnegative()) }),
    z.object({ type: z.literal('completeOnExpire'), result: z.optional(jsonValue) }),
    z.object({ type: z.literal('subtask'), request: subtaskRequest }),
    z.object({ type: z.literal('call'), call: deferredCall }),
  ]);

  const stepLog = z.object({
    level: z.enum(['log', 'info', 'warn', 'error', 'debug', 'audit', 'visual']),
    message: z.string(),
    visual: z.optional(jsonObject),
  });

  const stepOutcomeFields = {
    patch: z.array(dataOperation),
    commands: z.array(stepCommand),
    logs: z.array(stepLog),
    logsDropped: count,
    durationMs: z.number().check(z.nonnegative()),
    attempt: z.int().check(z.positive()),
  };

  const stepRanAhead = z.looseObject({ ...stepOutcomeFields, step: z.string().check(z.minLength(1)) });
  const stepOutcome = z.looseObject({
    ...stepOutcomeFields,
    reads: z.optional(z.array(z.string())),
    ahead: z.optional(z.array(stepRanAhead)),
  });

  const retryPolicy = z.looseObject({
    initialIntervalMs: z.number().check(z.nonnegative()),
    backoffCoefficient: z.number().check(z.positive()),
    maximumIntervalMs: z.optional(z.number().check(z.nonnegative())),
    maximumAttempts: count,
    nonRetryableErrorTypes: z.array(z.string()),
  });

  const catalogStep = z.looseObject({
    name: z.string().check(z.minLength(1)),
    file: z.string(),
    condition: z.looseObject({ query: jsonObject, specificity: count, constraints: z.array(z.string()) }),
    priority: z.number(),
    timeoutMs: z.number().check(z.positive()),
    retry: retryPolicy,
    local: z.optional(z.boolean()),
  });

  const catalog = z.looseObject({
    version: z.string(),
    steps: z.array(catalogStep),
    connectors: z.record(z.string(), z.looseObject({ retry: retryPolicy, timeoutMs: z.number().check(z.positive()) })),
    broken: z.optional(z.array(z.looseObject({ file: z.string(), path: z.optional(z.string()), message: z.string() }))),
    ahead: z.optional(z.array(stepRanAhead)),
  });

  /** A subtask's final snapshot, as far as its parent reads it. */
  const subtaskEnd = z.looseObject({ state: z.enum(TASK_STATES), result: z.optional(z.nullable(jsonValue)) });
  return { stepOutcome, catalog, subtaskEnd };
}

let built: ReturnType<typeof buildSchemas> | undefined;

export function activityResultSchemas(): ReturnType<typeof buildSchemas> {
  built ??= buildSchemas();
  return built;
}

/** `steps[2].condition.query: expected object, received string` — the first few problems, one line. */
function describeIssues(error: z.core.$ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = formatJsonPath(issue.path);
    return `${path || '(the result)'}: ${issue.message}`;
  });
  const more = error.issues.length > 3 ? ` (and ${error.issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

/** The result as `T`, or why it is not one (never throws: a result can be anything, even too deep to walk). */
function check<T>(schema: z.ZodMiniType, value: unknown): { ok: true; value: T } | { ok: false; problem: string } {
  try {
    const parsed = schema.safeParse(value);
    // The value itself, not zod's copy: what the workflow acts on stays exactly what history recorded.
    return parsed.success ? { ok: true, value: value as T } : { ok: false, problem: describeIssues(parsed.error) };
  } catch (error) {
    return { ok: false, problem: error instanceof Error ? error.message : String(error) };
  }
}

export const checkStepOutcome = (value: unknown) => check<StepOutcome>(activityResultSchemas().stepOutcome, value);
export const checkCatalog = (value: unknown) => check<LoadedCatalog>(activityResultSchemas().catalog, value);
export const checkSubtaskEnd = (value: unknown) =>
  check<{ state: TaskState; result?: JsonValue | null }>(activityResultSchemas().subtaskEnd, value);
