import ms from 'ms';
import { z } from 'zod';
import { DEFAULT_STEP_RETRY } from '../model/defaults';
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
    const initial = retry.initialInterval ?? DEFAULT_STEP_RETRY.initialIntervalMs;
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
export const maxHeapMbSchema = z
  .number()
  .int('must be a whole number of MiB')
  .min(MIN_HEAP_MB, `must be at least ${MIN_HEAP_MB} (MiB)`)
  .max(65_536);

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
     * `true` or `false`; whenflow.yaml `defaults.local` otherwise, and regular by default (docs/how-a-task-runs.md).
     */
    local: z.boolean().optional(),
  })
  .strict();

export type StepOptionsInput = z.input<typeof stepOptionsSchema>;
export type StepOptions = z.output<typeof stepOptionsSchema>;

export interface ResolvedStepOptions {
  priority: number;
  timeoutMs: number;
  retry: StepRetryPolicy;
  /** Whether the step may run as a local activity (docs/how-a-task-runs.md, "Local steps"). */
  local: boolean;
}

export function resolveStepOptions(
  options: StepOptions,
  defaults: { retry: StepRetryPolicy; timeoutMs: number; local?: boolean | undefined },
): ResolvedStepOptions {
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
    local: options.local ?? defaults.local ?? false,
  };
}
