import ms from 'ms';
import { z } from 'zod';
import type { StepRetryPolicy } from '../model/task';

/** A duration as users write it: milliseconds, or a string such as "30s", "2m", "1.5h". */
export const durationMs = z.union([z.number().nonnegative().finite(), z.string().min(1)]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const parsed = ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use milliseconds or e.g. "30s", "2m")` });
    return z.NEVER;
  }
  return parsed;
});

export const DEFAULT_RETRY: StepRetryPolicy = {
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maximumAttempts: 3,
  nonRetryableErrorTypes: [],
};
/** Temporal rejects zero intervals and timeouts when it schedules the activity; catch them at load. */
const positiveDurationMs = durationMs.refine((ms) => ms > 0, 'must be longer than 0');

export const retryOptionsSchema = z
  .object({
    initialInterval: positiveDurationMs.optional(),
    backoffCoefficient: z.number().min(1).optional(),
    maximumInterval: positiveDurationMs.optional(),
    maximumAttempts: z.number().int().min(1).optional(),
    nonRetryableErrorTypes: z.array(z.string()).optional(),
  })
  .strict()
  .superRefine((retry, ctx) => {
    const initial = retry.initialInterval ?? DEFAULT_RETRY.initialIntervalMs;
    if (retry.maximumInterval !== undefined && retry.maximumInterval < initial) {
      ctx.addIssue({
        code: 'custom',
        path: ['maximumInterval'],
        message: `must be at least the initial interval (${initial} ms${retry.initialInterval === undefined ? ', the default' : ''})`,
      });
    }
  });

/**
 * Step content runs in a worker thread whose old-generation heap is limited to this many MiB. The thread's
 * own engine code needs some of it, hence the floor.
 */
export const MIN_HEAP_MB = 64;
export const DEFAULT_MAX_HEAP_MB = 512;
export const maxHeapMbSchema = z.number().int('must be a whole number of MiB').min(MIN_HEAP_MB, `must be at least ${MIN_HEAP_MB} (MiB)`).max(65_536);

export const stepOptionsSchema = z
  .object({
    /** Higher runs first when several steps match in one cycle. */
    priority: z.number().finite().optional(),
    /** Longest one attempt of the step may run. */
    timeout: positiveDurationMs.optional(),
    retry: retryOptionsSchema.optional(),
    /** Heap limit of the thread that runs the step's content, in MiB (whenflow.yaml `defaults.maxHeapMb` otherwise). */
    maxHeapMb: maxHeapMbSchema.optional(),
    /**
     * Run the step as a Temporal local activity (inside the workflow task, no activity task of its own):
     * `true` or `false`; by default a step is local when its timeout is at most LOCAL_STEP_MAX_TIMEOUT_MS.
     */
    local: z.boolean().optional(),
  })
  .strict();

export type StepOptionsInput = z.input<typeof stepOptionsSchema>;
export type StepOptions = z.output<typeof stepOptionsSchema>;

export const DEFAULT_STEP_TIMEOUT_MS = 60_000;

/**
 * Steps whose timeout is at most this run as local activities unless they say otherwise. While a local
 * step runs, its task answers no query and takes no signal (they wait for the workflow task, which the
 * worker extends every few seconds); a bound this short keeps that wait short.
 */
export const LOCAL_STEP_MAX_TIMEOUT_MS = 10_000;
/** ...and whose attempts and waits between them, at worst, take at most this: long-retrying steps stay regular. */
export const LOCAL_STEP_MAX_RETRYING_MS = 60_000;

/** The longest a step's execution can take over all its attempts: every attempt timing out, every backoff waited. */
export function worstCaseMs(timeoutMs: number, retry: StepRetryPolicy): number {
  let total = timeoutMs * retry.maximumAttempts;
  let wait = retry.initialIntervalMs;
  for (let attempt = 1; attempt < retry.maximumAttempts && total <= Number.MAX_SAFE_INTEGER; attempt++) {
    total += Math.min(wait, retry.maximumIntervalMs ?? Infinity);
    wait *= retry.backoffCoefficient;
  }
  return total;
}

/** The default when neither the step nor the workspace says: local for a step that is short, however it retries. */
export function isShortStep(timeoutMs: number, retry: StepRetryPolicy): boolean {
  return timeoutMs <= LOCAL_STEP_MAX_TIMEOUT_MS && worstCaseMs(timeoutMs, retry) <= LOCAL_STEP_MAX_RETRYING_MS;
}

export interface ResolvedStepOptions {
  priority: number;
  timeoutMs: number;
  retry: StepRetryPolicy;
  /** Whether the step may run as a local activity (docs/how-a-task-runs.md, "Local steps"). */
  local: boolean;
}

export function resolveStepOptions(options: StepOptions, defaults: { retry: StepRetryPolicy; timeoutMs: number; local?: boolean | undefined }): ResolvedStepOptions {
  const retry = options.retry ?? {};
  const maximumIntervalMs = retry.maximumInterval ?? defaults.retry.maximumIntervalMs;
  const timeoutMs = options.timeout ?? defaults.timeoutMs;
  const resolvedRetry: StepRetryPolicy = {
    initialIntervalMs: retry.initialInterval ?? defaults.retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient ?? defaults.retry.backoffCoefficient,
    ...(maximumIntervalMs === undefined ? {} : { maximumIntervalMs }),
    maximumAttempts: retry.maximumAttempts ?? defaults.retry.maximumAttempts,
    nonRetryableErrorTypes: retry.nonRetryableErrorTypes ?? defaults.retry.nonRetryableErrorTypes,
  };
  return {
    priority: options.priority ?? 0,
    timeoutMs,
    retry: resolvedRetry,
    local: options.local ?? defaults.local ?? isShortStep(timeoutMs, resolvedRetry),
  };
}
